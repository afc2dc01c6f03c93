"""Pure, vectorised kernels shared by the layers and by `nncli conv` / `nncli pool`.

Every function takes and returns numpy arrays and never prints. Images are (N, C, H, W);
convolution is cross-correlation (no kernel flip), as in the course notes and PyTorch.
The only Python loops are over the kh*kw kernel offsets when gradients are scattered back.
"""

from __future__ import annotations

import numpy as np

from nncli import kernels


def out_size(n: int, k: int, stride: int, padding: int = 0) -> int:
    """Output length along one axis: floor((n + 2*padding - k) / stride) + 1."""
    return (n + 2 * padding - k) // stride + 1


def pad2d(x: np.ndarray, padding: int) -> np.ndarray:
    """Zero-pad the last two axes of x (..., H, W) by `padding` on every side (zeros and
    one slice copy: np.pad's general machinery costs more than the copy on small images)."""
    if padding == 0:
        return x
    *lead, h, w = x.shape
    out = np.zeros((*lead, h + 2 * padding, w + 2 * padding), dtype=x.dtype)
    out[..., padding:padding + h, padding:padding + w] = x
    return out


def im2col(x: np.ndarray, kh: int, kw: int, stride: int, padding: int
           ) -> tuple[np.ndarray, int, int]:
    """Every window as a column: x (N, C, H, W) -> cols (C*kh*kw, N*Ho*Wo), Ho, Wo.

    Compiled where it can be (nncli.kernels, the same values); in numpy, built by one
    strided slice copy per kernel offset (u, v), each with whole output rows as its inner
    loop (copying a transposed 6-D window view instead runs kw-long loops).
    """
    n, c = x.shape[:2]
    ho, wo = (out_size(d, k, stride, padding) for d, k in zip(x.shape[2:], (kh, kw),
                                                              strict=True))
    compiled = kernels.im2col(x, kh, kw, stride, padding, ho, wo)
    if compiled is not None:
        return compiled, ho, wo
    xp = pad2d(x.transpose(1, 0, 2, 3), padding)                # (C, N, Hp, Wp)
    cols = np.empty((c, kh, kw, n, ho, wo), dtype=x.dtype)
    for u in range(kh):
        for v in range(kw):
            cols[:, u, v] = xp[:, :, u:u + stride * ho:stride, v:v + stride * wo:stride]
    return cols.reshape(c * kh * kw, n * ho * wo), ho, wo


def conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None,
           stride: int = 1, padding: int = 0, return_cols: bool = False):
    """Cross-correlation y[n, f, i, j] = sum_{c,u,v} w[f, c, u, v] x_p[n, c, s*i+u, s*j+v] + b[f].

    x: (N, C, H, W), w: (F, C, kh, kw), b: (F,) or None -> y: (N, F, Ho, Wo),
    where x_p is x zero-padded by `padding` and s is the stride. One matrix multiply,
    (F, C*kh*kw) @ cols; with return_cols, also cols for conv2d_backward to reuse.
    """
    f, _, kh, kw = w.shape
    dtype = np.result_type(x, w)
    cols, ho, wo = im2col(x.astype(dtype, copy=False), kh, kw, stride, padding)
    y = w.reshape(f, -1).astype(dtype, copy=False) @ cols       # (F, N*Ho*Wo)
    if b is not None:
        y += b[:, None]
    y = np.ascontiguousarray(y.reshape(f, x.shape[0], ho, wo).transpose(1, 0, 2, 3))
    return (y, cols) if return_cols else y


def conv2d_backward(dy: np.ndarray, x: np.ndarray, w: np.ndarray, stride: int = 1,
                    padding: int = 0, cols: np.ndarray | None = None,
                    input_grad: bool = True
                    ) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """Gradients of sum(y * dy) for y = conv2d(x, w, b, stride, padding).

    dy: (N, F, Ho, Wo) -> dx: (N, C, H, W), dw: (F, C, kh, kw), db: (F,).
    cols: forward's im2col of x, if kept (saves building it again).
    input_grad False: dx is not computed (None), for a network's first layer in training.
    """
    f, c, kh, kw = w.shape
    n, _, h, wd = x.shape
    ho, wo = dy.shape[2:]
    if cols is None:
        cols = im2col(x, kh, kw, stride, padding)[0]
    dy2 = dy.transpose(1, 0, 2, 3).reshape(f, -1)                # (F, N*Ho*Wo)
    dw = (cols @ dy2.T).T.reshape(w.shape)        # this order: ~1.5x faster sgemm here
    db = dy2.sum(axis=1)
    if not input_grad:
        return None, dw, db
    # dx_p[n, c, s*i+u, s*j+v] += sum_f w[f, c, u, v] dy[n, f, i, j], one offset (u, v) at a time.
    dcols = (w.reshape(f, -1).T @ dy2).reshape(c, kh, kw, n, ho, wo)
    dxp = np.zeros((c, n, h + 2 * padding, wd + 2 * padding), dtype=dcols.dtype)
    for u in range(kh):
        for v in range(kw):
            dxp[:, :, u:u + stride * ho:stride, v:v + stride * wo:stride] += dcols[:, u, v]
    dx = dxp[:, :, padding:padding + h, padding:padding + wd].transpose(1, 0, 2, 3)
    return np.ascontiguousarray(dx), dw, db


def _pool_slices(x: np.ndarray, size: int, stride: int, ho: int, wo: int):
    """The size*size strided views x[:, :, u::s, v::s] (Ho x Wo each), k = u*size + v."""
    for k in range(size * size):
        u, v = divmod(k, size)
        yield k, x[:, :, u:u + stride * ho:stride, v:v + stride * wo:stride]


def pool2d(x: np.ndarray, size: int, stride: int, mode: str = "max"
           ) -> tuple[np.ndarray, np.ndarray | None]:
    """Max or average pooling over size x size windows, no padding.

    x: (N, C, H, W) -> y: (N, C, Ho, Wo), and for max pooling `winner` (N, C, Ho, Wo):
    the flat offset u*size+v inside each window of its first maximum (None for avg).
    Works offset by offset on whole strided slices; masks are blended arithmetically
    (numpy's masked copyto / where are ~10x slower than a multiply by a bool array).
    """
    ho, wo = out_size(x.shape[2], size, stride), out_size(x.shape[3], size, stride)
    compiled = kernels.max_pool(x, size, stride, ho, wo) if mode == "max" else None
    if compiled is not None:
        return compiled
    slices = _pool_slices(x, size, stride, ho, wo)
    y = next(slices)[1].copy()
    if mode == "avg":
        for _, part in slices:
            y += part
        return y / (size * size), None
    winner = np.zeros(y.shape, dtype=np.uint8 if size * size <= 256 else np.int64)
    better = np.empty(y.shape, dtype=bool)
    for k, part in slices:
        np.greater(part, y, out=better)          # strict: ties keep the first max
        np.maximum(y, part, out=y)
        winner *= ~better
        winner += better * winner.dtype.type(k)
    return y, winner


def pool2d_backward(dy: np.ndarray, x_shape: tuple[int, ...], size: int, stride: int,
                    mode: str = "max", winner: np.ndarray | None = None) -> np.ndarray:
    """Gradient of sum(y * dy) for y = pool2d(x, ...): dy (N, C, Ho, Wo) -> dx of x_shape.

    Max sends each window's gradient to its one winning cell; avg shares it equally.
    """
    if mode == "max":
        compiled = kernels.max_pool_backward(dy, winner, x_shape, size, stride)
        if compiled is not None:
            return compiled
    ho, wo = dy.shape[2:]
    dx = np.zeros(x_shape, dtype=dy.dtype)
    share = dy / (size * size)
    hit = np.empty(dy.shape, dtype=bool)
    for k, target in _pool_slices(dx, size, stride, ho, wo):
        if mode == "avg":
            target += share
            continue
        np.equal(winner, k, out=hit)
        if stride >= size:                       # windows never overlap: plain assignment
            np.multiply(dy, hit, out=target)
        else:
            target += dy * hit
    return dx


def column_sums(a: np.ndarray) -> np.ndarray:
    """a (..., K) summed over every axis but the last: (K,), e.g. a bias gradient. A product
    with a vector of ones, so BLAS adds: 4-6x faster than a.sum(axis=0) on the (N T, K)
    gradients of a training step."""
    flat = a.reshape(-1, a.shape[-1])
    return np.ones(len(flat), dtype=flat.dtype) @ flat


def row_sums(a: np.ndarray) -> np.ndarray:
    """a (..., K) summed over its last axis: (...). A product with a vector of ones: 6x
    faster than a.sum(axis=-1) when rows are short (a softmax over 62 characters)."""
    return a @ np.ones(a.shape[-1], dtype=a.dtype)


def exp_shifted(z: np.ndarray, axis: int = -1, temperature: float = 1.0) -> np.ndarray:
    """exp((z_j - max z) / T): softmax's numerators, each in (0, 1], the largest exactly 1.
    In z's float type (float32 stays float32); other input as float64."""
    z = np.asarray(z)
    if z.dtype.kind != "f":
        z = z.astype(np.float64)
    # Shift before dividing: z / T itself can overflow (z = 1e308, T = 0.5 gave nan).
    with np.errstate(over="ignore"):                   # -huge / small T -> -inf -> exp 0
        return np.exp((z - z.max(axis=axis, keepdims=True)) / temperature)


def softmax(z: np.ndarray, axis: int = -1, temperature: float = 1.0) -> np.ndarray:
    """P_j = exp(z_j / T) / sum_i exp(z_i / T), computed stably (max subtracted first)."""
    e = exp_shifted(z, axis, temperature)
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """log P_j = z_j - max(z) - log sum_i exp(z_i - max(z)), stable for large z."""
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
