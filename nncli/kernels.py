"""The kernels of the training loops that numpy computes slowly: compiled C
(nncli/_kernels.c) where nncli was built with a C compiler, numpy otherwise.

The formulas, each called here and nowhere else:
  tanh_(a)                 a = tanh(a) in place (the recurrent cells' states and gates)
  sigmoid_of_negated_(a)   a = 1 / (1 + exp(a)) in place (lstm / gru gates, whose weights
                           carry the minus sign: nncli/layers/gated.py)
  add_rows_at(ids, rows, out)   out[ids[i]] += rows[i] (an embedding's gradient)
  max_pool, max_pool_backward   max pooling and its gradient (ops.pool2d and its backward)
  im2col                   a convolution's windows as columns (ops.im2col)

The compiled tanh, sigmoid and sums take float32 only. float64, the dtype of inspection,
gradcheck and the comparisons with torch, always uses numpy's functions there, so those
results do not depend on the build. In float32 the two differ in the last bits (both within
3 units in the last place of the exact values), so a checkpoint records which computed it
(train.py's `compute`). Max pooling and im2col are exact: they are compiled for both dtypes,
and equal numpy's bit for bit.

Measured on a 2-core x86-64 machine: numpy's float32 tanh takes 11 µs for a (32, 128) state,
the compiled one 4 µs; the per-id sum of a chars batch (2,048 x 128 rows, 62 ids) 440 µs as
a one-hot product, 50 µs compiled; 2x2 max pooling of a digits batch (32, 16, 8, 8) 108 µs
in numpy, 28 µs compiled (its gradient 64 -> 22 µs).

NNCLI_KERNELS=numpy uses numpy even where the compiled kernels are built (e.g. to resume a
run trained without them bit for bit).
"""

from __future__ import annotations

import os

import numpy as np

from nncli.errors import InputError

ENV = "NNCLI_KERNELS"
# The dtypes of the exact kernels (max pooling, im2col), which give numpy's values in both.
EXACT_DTYPES = (np.float32, np.float64)

try:
    from nncli import _kernels as _built
except ImportError:                  # installed without a C compiler: numpy computes them
    _built = None


def _compiled():
    """The compiled module, or None (not built, or NNCLI_KERNELS=numpy)."""
    asked = os.environ.get(ENV, "").strip().lower()
    if asked == "numpy":
        return None
    if asked not in ("", "compiled"):
        raise InputError(f"{ENV}={os.environ[ENV]}: expected 'numpy' (numpy computes every "
                         f"kernel) or 'compiled' (the default); unset it for the default")
    return _built


def name() -> str:
    """'compiled' or 'numpy': what computes the kernels now (an InputError for a bad
    NNCLI_KERNELS: the Trainer asks before it writes anything)."""
    return "compiled" if _compiled() is not None else "numpy"


def describe() -> str:
    """One line for `nncli --version`."""
    try:
        compiled = _compiled()
    except InputError as err:
        return f"kernels: {err}"
    if compiled is not None:
        return "kernels: compiled (float32 tanh, sigmoid, per-id sums; max pooling, im2col)"
    why = (f"{ENV}=numpy" if _built is not None
           else "nncli was installed without a C compiler")
    return f"kernels: numpy ({why})"


def _takes(a: np.ndarray) -> bool:
    """float32 the compiled kernels can write: C-contiguous, or 2-D with contiguous rows
    (one gate's block of a stacked-gate step)."""
    return (a.dtype == np.float32 and a.flags.writeable
            and (a.flags.c_contiguous or (a.ndim == 2 and a.strides[1] == 4)))


def tanh_(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """tanh(a) into `out` (default: a itself, in place)."""
    out = a if out is None else out
    built = _compiled()
    if built is not None and _takes(out) and a.dtype == np.float32:
        if out is not a:
            np.copyto(out, a)
        built.tanh(out)
        return out
    return np.tanh(a, out=out)


def sigmoid_of_negated_(a: np.ndarray) -> np.ndarray:
    """a = -x becomes sigmoid(x) = 1 / (1 + exp(-x)), in place. Call under
    np.errstate(over="ignore") (once around a loop: entering it costs more than a step's
    exp): numpy's exp overflows to inf where x << 0, giving 0 as it should."""
    built = _compiled()
    if built is not None and _takes(a):
        built.sigmoid_of_negated(a)
        return a
    np.exp(a, out=a)
    a += 1.0
    return np.reciprocal(a, out=a)


def add_rows_at(ids: np.ndarray, rows: np.ndarray, out: np.ndarray) -> bool:
    """out[ids[i]] += rows[i] for every row, compiled; False (nothing done) where the
    compiled kernel does not apply (not built, or not float32): the caller then uses numpy.
    ids (M,) must lie in 0..len(out)-1 (the kernel refuses others), rows (M, K), out (V, K)."""
    built = _compiled()
    if built is None or rows.dtype != np.float32 or not _takes(out):
        return False
    built.add_rows_at(np.ascontiguousarray(ids, dtype=np.int64),
                      np.ascontiguousarray(rows), out, out.shape[-1])
    return True


def max_pool(x: np.ndarray, size: int, stride: int, ho: int, wo: int
             ) -> tuple[np.ndarray, np.ndarray] | None:
    """ops.pool2d's max pooling compiled, for x (N, C, H, W) in float32 or float64: (y,
    winner) equal to numpy's bit for bit (a maximum is exact), or None where the compiled
    kernel does not apply (then ops.pool2d computes it)."""
    built = _compiled()
    if (built is None or x.dtype not in EXACT_DTYPES or size > 16
            or min(ho, wo) < 1 or x.size == 0):
        return None
    n, c, h, w = x.shape
    y = np.empty((n, c, ho, wo), dtype=x.dtype)
    winner = np.empty((n, c, ho, wo), dtype=np.uint8)
    built.max_pool(np.ascontiguousarray(x), y, winner, n * c, h, w, ho, wo, size, stride)
    return y, winner


def max_pool_backward(dy: np.ndarray, winner: np.ndarray, x_shape: tuple[int, ...],
                      size: int, stride: int) -> np.ndarray | None:
    """ops.pool2d_backward's max pooling compiled, for windows that do not overlap (stride
    >= size; overlapping ones add in another order): dx, or None where it does not apply."""
    built = _compiled()
    if (built is None or dy.dtype not in EXACT_DTYPES or stride < size
            or winner.dtype != np.uint8 or dy.size == 0):
        return None
    n, c, h, w = x_shape
    dx = np.zeros(x_shape, dtype=dy.dtype)
    built.max_pool_backward(np.ascontiguousarray(dy), np.ascontiguousarray(winner), dx,
                            n * c, h, w, dy.shape[2], dy.shape[3], size, stride)
    return dx


def im2col(x: np.ndarray, kh: int, kw: int, stride: int, padding: int, ho: int, wo: int
           ) -> np.ndarray | None:
    """ops.im2col compiled, for x (N, C, H, W) in float32 or float64: cols (C kh kw, N ho wo)
    equal to numpy's bit for bit (a copy), or None where it does not apply."""
    built = _compiled()
    if built is None or x.dtype not in EXACT_DTYPES or min(ho, wo) < 1:
        return None
    n, c, h, w = x.shape
    cols = np.empty((c * kh * kw, n * ho * wo), dtype=x.dtype)
    built.im2col(np.ascontiguousarray(x), cols, n, c, h, w, kh, kw, stride, padding, ho, wo)
    return cols
