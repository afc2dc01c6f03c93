"""The maths of grad-trace: spectral norms, Jacobian products, the fitted rate and verdict.

Pure numpy on arrays; nothing here knows about layers or models. Products of step
Jacobians are rescaled as they go and returned as log10 norms, so nothing under- or
overflows (10**x may be beyond float range where x is not).
"""

from __future__ import annotations

import math
import os

import numpy as np

from nncli.layers.recurrent import largest_singular_value

VANISHING_BELOW = 0.95
EXPLODING_ABOVE = 1.05
MIN_FIT_STEPS = 5        # a rate fitted on fewer steps is too short to judge
HEATMAP_MAX = 64
PARALLEL_FROM = 64       # matrices per thread before spectral_norm uses threads


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def spectral_norm(m: np.ndarray) -> np.ndarray:
    """Largest singular value of each (.., A, B) matrix. Big stacks are split over the CPUs
    (LAPACK releases the GIL): hundreds of 64x64 SVDs are most of a trace's time."""
    m = np.asarray(m)
    flat = m.reshape(-1, *m.shape[-2:])
    workers = min(_cpus(), 4, len(flat) // PARALLEL_FROM)
    if workers < 2 or m.shape[-1] < 16:
        return largest_singular_value(m)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers) as pool:
        parts = list(pool.map(largest_singular_value, np.array_split(flat, workers)))
    return np.concatenate(parts).reshape(m.shape[:-2])


def log10(v: np.ndarray) -> np.ndarray:
    """log10 with log10(0) = -inf and no warning."""
    with np.errstate(divide="ignore"):
        return np.log10(v)


def log10_mean(logs: np.ndarray, axis: int = 0) -> np.ndarray:
    """log10 of the mean of 10**logs, computed without under/overflow."""
    top = np.max(logs, axis=axis, keepdims=True)
    safe = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(invalid="ignore"):
        out = safe + log10(np.mean(10.0 ** (logs - safe), axis=axis, keepdims=True))
    out = np.where(np.isneginf(top), -np.inf, out)
    return np.squeeze(out, axis=axis)


def _renorm(p: np.ndarray, logscale: np.ndarray) -> None:
    """Divide each matrix of p by its largest |entry| (in place), keeping log10 of it."""
    m = np.abs(p).max(axis=(-2, -1))
    m = np.where(m > 0, m, 1.0)
    p /= m[..., None, None]
    logscale += np.log10(m)


def product_row_log10(jac: np.ndarray) -> np.ndarray:
    """log10 ‖∂z_T/∂z_k‖ for k = 1..T, per sample: jac (N, T, D, D) -> (N, T).

    ∂z_T/∂z_T = I and ∂z_T/∂z_{k-1} = (∂z_T/∂z_k) J_k with J_k = ∂z_k/∂z_{k-1}.
    """
    n, steps, d, _ = jac.shape
    p = np.broadcast_to(np.eye(d), (n, d, d)).copy()
    logscale = np.zeros(n)
    mats, scales = np.empty_like(jac), np.empty((n, steps))
    for k in range(steps - 1, -1, -1):
        mats[:, k], scales[:, k] = p, logscale
        if k:
            p = p @ jac[:, k]
            _renorm(p, logscale)
    return log10(spectral_norm(mats)) + scales


def grid(steps: int, limit: int = HEATMAP_MAX) -> list[int]:
    """0-based steps to sample: all if steps <= limit, else evenly spaced with 0 and T-1."""
    if steps <= limit:
        return list(range(steps))
    return sorted({int(round(v)) for v in np.linspace(0, steps - 1, limit)})


def heatmap_log10(jac: np.ndarray, rows: list[int], cols: list[int]) -> np.ndarray:
    """log10 ‖∂z_t/∂z_k‖ for t in rows, k in cols (0-based), per sample: (N, R, K); NaN for
    k > t. Forward accumulation: ∂z_t/∂z_k = J_t ∂z_{t-1}/∂z_k, ∂z_k/∂z_k = I."""
    n, steps, d, _ = jac.shape
    out = np.full((n, len(rows), len(cols)), np.nan)
    q = np.zeros((n, len(cols), d, d))
    qlog = np.zeros((n, len(cols)))
    col_pos = {k: j for j, k in enumerate(cols)}
    row_pos = {t: i for i, t in enumerate(rows)}
    active = 0                                   # cols[:active] have started (k <= t)
    for t in range(steps):
        if active:
            q[:, :active] = jac[:, t, None] @ q[:, :active]
            _renorm(q[:, :active], qlog[:, :active])
        if t in col_pos:
            j = col_pos[t]
            q[:, j] = np.eye(d)
            qlog[:, j] = 0.0
            active = j + 1
        if t in row_pos and active:
            out[:, row_pos[t], :active] = log10(spectral_norm(q[:, :active])) + qlog[:, :active]
    return out


def fit_rate(log10_values: np.ndarray, distance: np.ndarray) -> float | None:
    """Least-squares rate r per step back: ln v ≈ a + d ln r. None with fewer than 2 steps;
    0 if every value except the one at d = 0 is exactly zero."""
    if len(distance) < 2:
        return None
    ok = np.isfinite(log10_values)
    if ok.sum() < 2:
        return 0.0
    slope = np.polyfit(distance[ok], log10_values[ok] * math.log(10), 1)[0]
    return float(math.exp(min(slope, 700.0)))


def verdict(rate: float | None, steps: int | None = None) -> str:
    """vanishing / stable / exploding from the rate; n/a without one; too-short when the
    rate was fitted on fewer than MIN_FIT_STEPS steps (two points always fit a line)."""
    if rate is None:
        return "n/a"
    if steps is not None and steps < MIN_FIT_STEPS:
        return "too-short"
    if rate < VANISHING_BELOW:
        return "vanishing"
    return "exploding" if rate > EXPLODING_ABOVE else "stable"
