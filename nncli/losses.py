"""Losses: each returns (loss, dL/d(output)) so backward can start from the gradient."""

from __future__ import annotations

import numpy as np

from nncli.errors import InputError
from nncli.ops import row_sums

# A row whose exps sum below this (its max ~46 below the batch's) is shifted by its own max.
FAR_BELOW = 1e-20


def mse(y: np.ndarray, target: np.ndarray, reduction: str = "sum") -> tuple[float, np.ndarray]:
    """sum (or mean) of (y - target)^2 over every element; the notes use the sum."""
    diff = y - np.asarray(target, dtype=y.dtype)        # in y's dtype: float32 stays float32
    scale = 1.0 if reduction == "sum" else 1.0 / diff.size
    return float(scale * np.sum(diff * diff)), 2.0 * scale * diff


def cross_entropy(logits: np.ndarray, labels: np.ndarray, reduction: str = "mean"
                  ) -> tuple[float, np.ndarray]:
    """-log softmax(logits)[label], averaged (or summed) over every labelled position.

    logits: (N, K) or (N, T, K); labels: integers (N,) or (N, T) in [0, K).
    dL/dlogits = softmax(logits) - onehot(labels), scaled like the loss.
    """
    k = logits.shape[-1]
    flat = logits.reshape(-1, k)
    idx = np.asarray(labels).reshape(-1).astype(np.int64)
    rows = np.arange(idx.size)
    scale = 1.0 / idx.size if reduction == "mean" else 1.0
    # One exp for the loss and the gradient: with any shift m per row, log P[label] =
    # z[label] - m - log sum exp(z - m) and P = exp(z - m) / sum. The batch's largest logit
    # is one fast reduction (a max per row of 62 is 10x slower); rows so far below it that
    # their exps nearly vanish take their own max instead, as ops.log_softmax does.
    shift = np.full(len(flat), flat.max() if flat.size else 0.0, dtype=flat.dtype)
    grad = flat - shift[:, None]
    np.exp(grad, out=grad)
    total = row_sums(grad)
    far = np.flatnonzero(total < FAR_BELOW)
    if far.size:
        shift[far] = flat[far].max(axis=-1)
        grad[far] = np.exp(flat[far] - shift[far, None])
        total[far] = row_sums(grad[far])
    loss = -scale * float(np.sum(flat[rows, idx] - shift) - np.sum(np.log(total)))
    grad *= (scale / total)[:, None]
    grad[rows, idx] -= scale
    return loss, grad.reshape(logits.shape)


LOSSES = {"mse": mse, "cross_entropy": cross_entropy}


def check_targets(loss: str, output_shape: tuple[int, ...], target: np.ndarray,
                  what: str = "target") -> np.ndarray:
    """Validate targets against the model's per-sample output shape; return them batched."""
    target = np.asarray(target)
    if loss == "cross_entropy":
        want = output_shape[:-1]
        per_sample = int(np.prod(want))
        if target.size and target.size % per_sample == 0:
            target = target.reshape(-1, *want)             # "3" or "1 0 2": one label per row
        if target.shape[1:] != want:
            raise InputError(f"{what}: expected integer class labels of shape (N, "
                             f"{', '.join(map(str, want))}) but got {target.shape}".replace(
                                 ", )", ")"))
        if not np.all(np.isfinite(target)) or np.any(target != np.round(target)):
            raise InputError(f"{what}: class labels must be whole numbers")
        k = output_shape[-1]
        if target.size and (target.min() < 0 or target.max() >= k):
            raise InputError(f"{what}: labels must be in 0..{k - 1} for a {k}-way output but "
                             f"range over {int(target.min())}..{int(target.max())}")
        return target.astype(np.int64)
    if target.shape == tuple(output_shape):
        target = target[None]
    if target.shape[1:] != tuple(output_shape):
        raise InputError(f"{what}: expected shape (N, {', '.join(map(str, output_shape))}) to "
                         f"match the model output, got {target.shape}".replace(", )", ")"))
    return target.astype(np.float64)
