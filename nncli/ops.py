"""Pure, vectorised kernels shared by the layers and by `nncli conv` / `nncli pool`.

Every function takes and returns numpy arrays and never prints. Images are (N, C, H, W);
convolution is cross-correlation (no kernel flip), as in the course notes and PyTorch.
The only Python loops are over the kh*kw kernel offsets when gradients are scattered back.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def out_size(n: int, k: int, stride: int, padding: int = 0) -> int:
    """Output length along one axis: floor((n + 2*padding - k) / stride) + 1."""
    return (n + 2 * padding - k) // stride + 1


def pad2d(x: np.ndarray, padding: int) -> np.ndarray:
    """Zero-pad the last two axes of x (N, C, H, W) by `padding` on every side."""
    if padding == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))


def windows(x: np.ndarray, kh: int, kw: int, stride: int) -> np.ndarray:
    """Strided view of every kh x kw window: x (N, C, H, W) -> (N, C, Ho, Wo, kh, kw).

    A view, not a copy: the matrix multiply that consumes it does the one copy needed.
    """
    return sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]


def conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None,
           stride: int = 1, padding: int = 0) -> np.ndarray:
    """Cross-correlation y[n, f, i, j] = sum_{c,u,v} w[f, c, u, v] x_p[n, c, s*i+u, s*j+v] + b[f].

    x: (N, C, H, W), w: (F, C, kh, kw), b: (F,) or None -> y: (N, F, Ho, Wo),
    where x_p is x zero-padded by `padding` and s is the stride.
    """
    kh, kw = w.shape[2:]
    win = windows(pad2d(x, padding), kh, kw, stride)           # (N, C, Ho, Wo, kh, kw)
    y = np.tensordot(win, w, axes=([1, 4, 5], [1, 2, 3]))      # (N, Ho, Wo, F)
    if b is not None:
        y += b
    return y.transpose(0, 3, 1, 2)


def conv2d_backward(dy: np.ndarray, x: np.ndarray, w: np.ndarray, stride: int = 1,
                    padding: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of sum(y * dy) for y = conv2d(x, w, b, stride, padding).

    dy: (N, F, Ho, Wo) -> dx: (N, C, H, W), dw: (F, C, kh, kw), db: (F,).
    """
    kh, kw = w.shape[2:]
    xp = pad2d(x, padding)
    ho, wo = dy.shape[2:]
    dw = np.tensordot(dy, windows(xp, kh, kw, stride), axes=([0, 2, 3], [0, 2, 3]))
    db = dy.sum(axis=(0, 2, 3))
    # dx_p[n, c, s*i+u, s*j+v] += sum_f dy[n, f, i, j] w[f, c, u, v], one offset (u, v) at a time.
    dcols = np.tensordot(dy, w, axes=([1], [0]))                # (N, Ho, Wo, C, kh, kw)
    dxp = np.zeros_like(xp, dtype=np.result_type(dy, w))
    for u in range(kh):
        for v in range(kw):
            dxp[:, :, u:u + stride * ho:stride, v:v + stride * wo:stride] += (
                dcols[:, :, :, :, u, v].transpose(0, 3, 1, 2))
    dx = dxp[:, :, padding:padding + x.shape[2], padding:padding + x.shape[3]]
    return dx, dw, db


def pool2d(x: np.ndarray, size: int, stride: int, mode: str = "max"
           ) -> tuple[np.ndarray, np.ndarray | None]:
    """Max or average pooling over size x size windows, no padding.

    x: (N, C, H, W) -> y: (N, C, Ho, Wo), and for max pooling `winner` (N, C, Ho, Wo):
    the flat offset u*size+v inside each window of its first maximum (None for avg).
    """
    win = windows(x, size, size, stride)
    flat = win.reshape(*win.shape[:4], size * size)
    if mode == "avg":
        return flat.mean(axis=-1), None
    winner = flat.argmax(axis=-1)                              # first max: ties never double-count
    return np.take_along_axis(flat, winner[..., None], axis=-1)[..., 0], winner


def pool2d_backward(dy: np.ndarray, x_shape: tuple[int, ...], size: int, stride: int,
                    mode: str = "max", winner: np.ndarray | None = None) -> np.ndarray:
    """Gradient of sum(y * dy) for y = pool2d(x, ...): dy (N, C, Ho, Wo) -> dx of x_shape.

    Max sends each window's gradient to its one winning cell; avg shares it equally.
    """
    ho, wo = dy.shape[2:]
    dx = np.zeros(x_shape, dtype=dy.dtype)
    share = dy / (size * size)
    for u in range(size):
        for v in range(size):
            part = share if mode == "avg" else np.where(winner == u * size + v, dy, 0.0)
            dx[:, :, u:u + stride * ho:stride, v:v + stride * wo:stride] += part
    return dx


def softmax(z: np.ndarray, axis: int = -1, temperature: float = 1.0) -> np.ndarray:
    """P_j = exp(z_j / T) / sum_i exp(z_i / T), computed stably (max subtracted first)."""
    z = np.asarray(z, dtype=np.float64)
    # Shift before dividing: z / T itself can overflow (z = 1e308, T = 0.5 gave nan).
    with np.errstate(over="ignore"):                   # -huge / small T -> -inf -> exp 0
        e = np.exp((z - z.max(axis=axis, keepdims=True)) / temperature)
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """log P_j = z_j - max(z) - log sum_i exp(z_i - max(z)), stable for large z."""
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
