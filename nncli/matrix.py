"""The maths behind `nncli conv`, `nncli pool` and `nncli softmax` on one matrix or tensor.

Shapes and the memory budget are checked first (one `InputError` naming INPUT or KERNEL),
then the kernels of nncli.ops do the work, the same functions the conv, pool and softmax
layers use. `explain_cell` and `size_formula` write out how one number came about, for the
tables and for --json alike. Pure: nothing here prints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from nncli import budget, ops
from nncli.errors import InputError
from nncli.formatting import format_number, plural, shape_str

EXPLAIN_TERMS_SHOWN = 64      # terms written out in an explanation (--json has them all)


# --------------------------------------------------------------------------- conv

@dataclass
class Conv:
    x: np.ndarray             # INPUT as given: (H, W) or (C, H, W)
    w: np.ndarray             # KERNEL as given: (kh, kw), (C, kh, kw) or (F, C, kh, kw)
    x4: np.ndarray            # INPUT as (1, C, H, W)
    w4: np.ndarray            # KERNEL as (F, C, kh, kw)
    y: np.ndarray             # (Ho, Wo), or (F, Ho, Wo) for a 4-D kernel
    stride: int
    padding: int

    @property
    def padded(self) -> np.ndarray:
        """INPUT with its rings of zeros, in INPUT's own rank (what the window slides over)."""
        h, w = self.x.shape[-2:]
        p = self.padding
        return ops.pad2d(self.x.reshape(1, -1, h, w), p).reshape(*self.x.shape[:-2],
                                                                 h + 2 * p, w + 2 * p)


def convolve(x: np.ndarray, w: np.ndarray, stride: int, padding: int) -> Conv:
    """Validate shapes and convolve (cross-correlation, no flip)."""
    x4 = x.reshape(1, *x.shape) if x.ndim == 3 else x.reshape(1, 1, *x.shape)
    w4 = {2: lambda: w.reshape(1, 1, *w.shape), 3: lambda: w.reshape(1, *w.shape),
          4: lambda: w}[w.ndim]()
    c, h, wd = x4.shape[1:]
    f, wc, kh, kw = w4.shape
    if wc != c:
        raise InputError(f"KERNEL: the kernel has {plural(wc, 'channel')} but INPUT has "
                         f"{c}; expected a kernel of shape ({c}, kh, kw) or (F, {c}, kh, kw)")
    hp, wp = h + 2 * padding, wd + 2 * padding
    if kh > hp or kw > wp:
        need = max(math.ceil((kh - h) / 2), math.ceil((kw - wd) / 2))
        raise InputError(f"KERNEL: {kh}x{kw} kernel is larger than the padded {hp}x{wp} "
                         f"input; use a smaller kernel or --padding {need}")
    ho, wo = ops.out_size(h, kh, stride, padding), ops.out_size(wd, kw, stride, padding)
    work = 8 * (c * hp * wp + c * ho * wo * kh * kw + 2 * f * ho * wo)
    budget.check_budget(work, "INPUT", f"convolving the {shape_str(x.shape)} input (padded "
                        f"{hp}x{wp}, output {f}x{ho}x{wo})", "use a smaller input or --padding")
    if x4.dtype.kind == "i" and w4.dtype.kind == "i":
        bound = int(np.abs(x4).max()) * int(np.abs(w4).max()) * c * kh * kw
        if bound >= 2**62:
            x4, w4 = x4.astype(np.float64), w4.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        y = ops.conv2d(x4, w4, None, stride, padding)[0]
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise InputError("INPUT: the result overflows a 64-bit float (values too large); "
                         "scale INPUT or KERNEL down")
    return Conv(x, w, x4, w4, y if w.ndim == 4 else y[0], stride, padding)


def explain_cell(conv: Conv, cell: tuple[int, ...]) -> dict[str, Any]:
    """The sum of products behind one output cell (ROW, COL, or F, ROW, COL for F maps).

    Terms are ordered by kernel weight, largest first, row-major (channel, row, col) among
    equal weights; for the notes' example this gives 1(1) + 1(1) + 0(-1) + 0(-1) = 2.
    Patch cells are in padded-input coordinates minus `padding` (so -1 is padding).
    """
    f, i, j = cell if conv.y.ndim == 3 else (0, *cell)
    _, _, kh, kw = conv.w4.shape
    r0, c0 = i * conv.stride, j * conv.stride
    patch = ops.pad2d(conv.x4, conv.padding)[0][:, r0:r0 + kh, c0:c0 + kw]
    wf = conv.w4[f]
    order = np.argsort(-wf.reshape(-1), kind="stable")
    idx = [tuple(int(v) for v in np.unravel_index(k, wf.shape)) for k in order]
    terms = [(patch[ix].item(), wf[ix].item(), ix) for ix in idx]
    value = conv.y[cell].item()
    p = conv.padding
    return {"cell": [f, i, j], "rows": [r0 - p, r0 - p + kh - 1],
            "cols": [c0 - p, c0 - p + kw - 1], "terms": terms, "value": value,
            "expression": explain_expression(terms, value)}


def explain_expression(terms: list, value: float) -> str:
    """'1(1) + 1(1) + 0(-1) + 0(-1) = 2' for [(input value, weight, index), ...]."""
    shown = [f"{format_number(a)}({format_number(b)})" for a, b, _ in terms]
    if len(shown) > EXPLAIN_TERMS_SHOWN:
        rest = len(shown) - EXPLAIN_TERMS_SHOWN
        shown = shown[:EXPLAIN_TERMS_SHOWN] + [f"… ({rest} more terms, see --json)"]
    return " + ".join(shown) + f" = {format_number(value)}"


def size_formula(n: int, k: int, stride: int, padding: int | None) -> str:
    """'floor((5 + 2*1 - 2) / 1) + 1 = 6': one axis's output size, worked out."""
    pad = f" + 2*{padding}" if padding is not None else ""
    return f"floor(({n}{pad} - {k}) / {stride}) + 1 = {ops.out_size(n, k, stride, padding or 0)}"


# --------------------------------------------------------------------------- pool

def pool(x: np.ndarray, size: int, stride: int, mode: str
         ) -> tuple[np.ndarray, np.ndarray | None]:
    """(output, winners): k x k windows of a (H, W) or (C, H, W) input, max or avg.

    winners (max only): the input cell (row, col) each window's maximum came from, shaped
    like the output plus a last axis of 2 (the first maximum in row-major order on ties)."""
    h, wd = x.shape[-2:]
    if size > h or size > wd:
        raise InputError(f"INPUT: {size}x{size} window (--size {size}) is larger than the "
                         f"{h}x{wd} input; use --size {min(h, wd)} or smaller")
    ho, wo = ops.out_size(h, size, stride), ops.out_size(wd, size, stride)
    c = x.shape[0] if x.ndim == 3 else 1
    budget.check_budget(8 * c * ho * wo * (size * size + 2), "INPUT",
                        f"pooling the {shape_str(x.shape)} input", "use a smaller input")
    with np.errstate(over="ignore", invalid="ignore"):
        y4, winner = ops.pool2d(x.reshape(1, c, h, wd), size, stride, mode)
    if y4.dtype.kind == "f" and not np.isfinite(y4).all():
        raise InputError("INPUT: the average overflows a 64-bit float (values too large); "
                         "scale INPUT down")
    y = y4[0] if x.ndim == 3 else y4[0, 0]
    if winner is None:
        return y, None
    rows = np.arange(ho)[:, None] * stride + winner[0] // size     # (C, Ho, Wo)
    cols = np.arange(wo)[None, :] * stride + winner[0] % size
    pairs = np.stack([rows, cols], axis=-1)                          # (C, Ho, Wo, 2)
    return y, (pairs if x.ndim == 3 else pairs[0])


# --------------------------------------------------------------------------- softmax

def softmax(z: np.ndarray, temperature: float
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(scores, exp((z - max) / T), P) with one softmax per row; a single row or column
    of scores is read as one vector."""
    if z.ndim == 2 and 1 in z.shape:
        z = z.reshape(-1)
    zf = z.astype(np.float64)
    p = ops.softmax(zf, axis=-1, temperature=temperature)
    return z, ops.exp_shifted(zf, axis=-1, temperature=temperature), p
