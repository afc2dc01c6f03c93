"""What every optimizer shares around its step: global-norm clipping of the gradients
before it, and the learning-rate schedule that gives it its lr each epoch."""

from __future__ import annotations

import math

import numpy as np


def global_norm(grads: dict[str, np.ndarray]) -> float:
    """sqrt of the sum of squares of every gradient entry."""
    return math.sqrt(sum(float(np.vdot(g, g)) for g in grads.values()))


def clip_by_global_norm(grads: dict[str, np.ndarray], max_norm: float,
                        norm: float | None = None) -> float:
    """Scale all gradients in place so their global norm is at most max_norm; return the
    norm before clipping (as torch.nn.utils.clip_grad_norm_ does). `norm`: the global norm
    if the caller has it already."""
    norm = global_norm(grads) if norm is None else norm
    if norm > max_norm:
        scale = max_norm / (norm + 1e-12)
        for g in grads.values():
            g *= scale
    return norm


def scheduled_lr(base: float, epoch: int, schedule: str, horizon: int, step_size: int = 10,
                 gamma: float = 0.1, min_lr: float = 0.0) -> float:
    """Learning rate for 0-based `epoch`.

    constant: base. step: base * gamma ** (epoch // step_size).
    cosine: min_lr + (base - min_lr) * (1 + cos(pi * epoch / horizon)) / 2, held at min_lr
    after the horizon (the spec's epochs), so stopping early and resuming changes nothing.
    """
    if schedule == "step":
        return base * gamma ** (epoch // step_size)
    if schedule == "cosine":
        frac = min(epoch / max(horizon, 1), 1.0)
        return min_lr + (base - min_lr) * 0.5 * (1.0 + math.cos(math.pi * frac))
    return base
