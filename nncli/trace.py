"""grad-trace core: how the gradient flows back through time in an rnn or gru-lite layer.

Nothing here prints. `trace(model, x, target)` runs one forward/backward pass of the model
(the engine's own `Model.inspect` / `Model.backward_from`, no second implementation) and
reads what the recurrent layer kept: `state_grads` (N, T, H) = dL/ds_t,
`step_param_grads()` (per-step parameter contributions) and `step_jacobians()`
(N, T, H, H) = ds_t/ds_{t-1}. The result is a `Trace` of plain floats (`to_dict()` is JSON).

Conventions (steps are numbered t = 1..T as in the notes, s_0 = 0):

- Norms of vectors are Euclidean, norms of matrices spectral (largest singular value).
  With a batch (N > 1) every per-sample norm is averaged over the batch.
- ‖∂s_T/∂s_k‖ chains `step_jacobians` back from T (products are rescaled as they go, so
  nothing under- or overflows; `*_log10` values are exact even where 10**x is not a float).
  The heatmap ‖∂s_t/∂s_k‖ (loss at every step) is exact on a grid of at most
  HEATMAP_MAX steps per axis, evenly spaced, always including steps 1 and T.
- Bound: for rnn (tanh), ‖∂s_t/∂s_k‖ <= λ1^(t-k), λ1 the largest singular value of U
  (Pascanu, Mikolov & Bengio 2013). For gru-lite the per-step Jacobian is
  diag(1-g) + diag(g (1-c²)) U + diag((c - s_{t-1}) g (1-g)) Ug, so with a fixed gate g
  ‖J‖ <= (1-g) + g λ1(U) and with a learned gate ‖J‖ <= max(1, λ1(U)) + λ1(Ug)/2
  (|c - s_{t-1}| < 2, g(1-g) <= 1/4): the bound is β^(t-k) with that β.
- Verdict: least-squares fit of ln‖·‖ against the distance d = T - t, rate r = e^slope per
  step back. With the loss at the last step the fit is on ‖∂L/∂s_t‖; with a loss at every
  step (where each step also gets its own output's gradient) it is on ‖∂s_T/∂s_k‖.
  r < VANISHING_BELOW: vanishing; r > EXPLODING_ABOVE: exploding; else stable.
- Built-in model (`builtin_model`): [rnn or gru-lite (H hidden, bias, all steps),
  dense(1) on every step], mse (sum). W is Glorot (seed), U a random orthogonal matrix
  (seed), so every singular value of U is 1; the dense head has its own seeded stream, so
  rnn and gru-lite built with one seed share W, U and the head. `rescale(layer, λ)` sets
  λ1(U) = λ (U <- U λ / λ1(U)); on the built-in model every singular value becomes λ.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field

import numpy as np

from nncli.errors import InputError, RunFailed
from nncli.layers import RNN, Activation, Dense, GruLite, Recurrent, Softmax
from nncli.losses import LOSSES
from nncli.model import Model

CELLS = ("rnn", "gru-lite")
LOSS_AT = ("last", "every")
VANISHING_BELOW = 0.95
EXPLODING_ABOVE = 1.05
HEATMAP_MAX = 64
SUM_RTOL = 1e-8          # per-step contributions must sum to the engine's gradient
VALUES_UP_TO = 64        # `grads` in the result carries full values up to this size
BOUND_SLACK = 1e-9       # log10 slack when checking the measured norms against the bound
PARALLEL_FROM = 64       # matrices per thread before spectral_norm uses threads


# --------------------------------------------------------------------------- the result

@dataclass
class ParamTrace:
    """One recurrent parameter: its gradient and each step's contribution to it."""

    shape: list[int]
    grad_norm: float
    step_norm: list[float]     # ‖G_t‖ (Frobenius), t = 1..T
    step_share: list[float]    # <G_t, G> / ‖G‖²: sums to 1 over t (0s if G = 0)
    sum_error: float           # max |sum_t G_t - G| against the engine's gradient
    step_value: list[float] | None = None   # G_t itself when the parameter is a scalar


@dataclass
class Trace:
    label: str
    model: dict
    loss_at: str
    loss: float
    t: list[int]
    grad_norm: list[float]              # ‖∂L/∂s_t‖
    output_grad_norm: list[float]       # ‖the part arriving from the layer's output at t‖
    step_jacobian_norm: list[float]     # ‖∂s_t/∂s_{t-1}‖
    jacobian_product_log10: list[float]  # log10 ‖∂s_T/∂s_t‖
    bound: dict
    fit: dict
    params: dict[str, ParamTrace]
    sum_check: dict
    grads: dict
    gates: dict | None = None
    heatmap: dict | None = None
    chain: list[dict] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def jacobian_product_norm(self) -> list[float]:
        return [_pow10(v) for v in self.jacobian_product_log10]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["jacobian_product_norm"] = self.jacobian_product_norm
        return _finite(d)


def _pow10(v: float | None) -> float | None:
    if v is None or v == -math.inf:
        return 0.0
    return 10.0 ** v if v < 308 else math.inf


def _finite(obj):
    """JSON has no inf/NaN: they become null (the *_log10 twins keep the magnitude)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


# --------------------------------------------------------------------------- models

def check_int(option: str, value: int, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InputError(f"{option}: expected an integer >= {minimum}, got {value!r}")
    return value


def check_gate(value: float | None) -> float | None:
    if value is not None and not (0.0 <= value <= 1.0):
        raise InputError(f"--gate: expected a number in [0, 1], got {value:g}")
    return value


def orthogonal(rng: np.random.Generator, n: int) -> np.ndarray:
    """A random orthogonal (n, n) matrix: QR of a Gaussian, signs fixed so it is uniform."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.where(np.diag(r) < 0, -1.0, 1.0)


def builtin_model(cell: str, steps: int, hidden: int, input_size: int = 1, seed: int = 0,
                  gate: float | None = None) -> Model:
    """[cell (all steps), dense(1) per step], mse sum; see the module docstring for init."""
    if cell not in CELLS:
        raise InputError(f"--cell: expected rnn or gru-lite, got '{cell}'")
    check_int("--steps", steps, 1)
    check_int("--hidden", hidden, 1)
    check_int("--input-size", input_size, 1)
    check_int("--seed", seed, 0)
    check_gate(gate)
    if gate is not None and cell != "gru-lite":
        raise InputError("--gate: only a gru-lite cell has a gate; use --cell gru-lite")
    rec = RNN(hidden) if cell == "rnn" else GruLite(hidden, gate=gate)
    head = Dense(1)
    model = Model([rec, head], (steps, input_size), "mse", "sum", f"built-in {cell}", seed)
    from nncli.budget import check_budget

    check_budget(model.param_bytes() + 8 * 4 * hidden * hidden, "--hidden", f"a built-in "
                 f"{cell} of {hidden:,} hidden units", "use a smaller --hidden")
    rec.init_params((steps, input_size), np.random.default_rng(seed))
    rec.params["weight_hh_l0"] = orthogonal(np.random.default_rng([seed, 1]), hidden)
    head.init_params((steps, hidden), np.random.default_rng([seed, 2]))
    model.zero_grad()
    return model


def recurrent_index(model: Model, index: int | None = None, where: str = "model") -> int:
    """The layer to trace: `index`, or the first rnn / gru-lite layer."""
    found = [i for i, layer in enumerate(model.layers) if isinstance(layer, Recurrent)]
    kinds = ", ".join(layer.kind for layer in model.layers)
    if not found:
        raise InputError(f"{where}: no rnn or gru-lite layer to trace (layers: {kinds}); "
                         f"grad-trace needs a recurrent model, or use --cell rnn")
    if index is None:
        return found[0]
    if index not in found:
        what = (f"is {model.layers[index].kind}" if 0 <= index < len(model.layers)
                else "does not exist")
        raise InputError(f"--layer: layers[{index}] {what}; recurrent layers: "
                         f"{', '.join(map(str, found))}")
    return index


def fix_gate(layer: Recurrent, gate: float) -> None:
    """Hold a gru-lite gate at a constant: its gate parameters go away (example 5)."""
    check_gate(gate)
    if not isinstance(layer, GruLite):
        raise InputError(f"--gate: only a gru-lite layer has a gate, this one is {layer.kind}")
    layer.fixed_gate = float(gate)
    for name in ("weight_ig_l0", "weight_hg_l0", "bias_g_l0"):
        layer.params.pop(name, None)
        layer.grads.pop(name, None)


def _top_singular(m: np.ndarray) -> np.ndarray:
    return np.linalg.svd(m, compute_uv=False)[..., 0]


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def spectral_norm(m: np.ndarray) -> np.ndarray:
    """Largest singular value of each (.., H, H) matrix. Big stacks are split over the CPUs
    (LAPACK releases the GIL): hundreds of 64x64 SVDs are most of a trace's time."""
    m = np.asarray(m)
    flat = m.reshape(-1, *m.shape[-2:])
    workers = min(_cpus(), 4, len(flat) // PARALLEL_FROM)
    if workers < 2 or m.shape[-1] < 16:
        return _top_singular(m)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers) as pool:
        parts = list(pool.map(_top_singular, np.array_split(flat, workers)))
    return np.concatenate(parts).reshape(m.shape[:-2])


def rescale(layer: Recurrent, scale: float) -> None:
    """Scale U = weight_hh_l0 so its largest singular value is `scale`."""
    if not (scale >= 0 and math.isfinite(scale)):
        raise InputError(f"--scale: expected numbers >= 0, got {scale:g}")
    u = layer.params["weight_hh_l0"]
    top = float(spectral_norm(u))
    if top == 0:
        if scale > 0:
            raise InputError("--scale: the recurrent matrix is all zeros, nothing to rescale")
        return
    layer.params["weight_hh_l0"] = u * (scale / top)


def loss_input_shape(model: Model) -> tuple[int, ...]:
    return model.shapes[-2] if model.fused_softmax else model.shapes[-1]


def generate(model: Model, seed: int, batch: int = 1, x_given: bool = False
             ) -> tuple[np.ndarray | None, np.ndarray]:
    """A seeded input x ~ N(0, 1) (unless x_given) and target: N(0, 1) values for mse,
    uniform class labels for cross-entropy. Seeded separately from the weights."""
    rng = np.random.default_rng([seed, 3])
    x = None if x_given else rng.standard_normal((batch, *model.input_shape))
    out = loss_input_shape(model)
    if model.loss_name == "cross_entropy":
        return x, rng.integers(0, out[-1], size=(batch, *out[:-1]))
    return x, rng.standard_normal((batch, *out))


# --------------------------------------------------------------------------- the pass

def _per_step_output(model: Model, idx: int) -> bool:
    """True if the model's output has one entry per step (layers above act step-wise)."""
    return model.layers[idx].return_sequences and all(
        isinstance(layer, Dense | Activation | Softmax) for layer in model.layers[idx + 1:])


def resolve_loss_at(model: Model, idx: int, loss_at: str | None) -> tuple[str, bool]:
    """(label, slice): label last/every/model; slice = keep only the last step's loss term."""
    if loss_at is not None and loss_at not in LOSS_AT:
        raise InputError(f"--loss-at: expected last or every, got '{loss_at}'")
    layer = model.layers[idx]
    if _per_step_output(model, idx):
        if loss_at == "last":
            return "last", True
        return "every", False
    own = "last" if not layer.return_sequences else "model"
    if loss_at == "every" or (loss_at == "last" and own != "last"):
        why = "the last step" if own == "last" else "all steps into a non step-wise layer"
        raise InputError(f"--loss-at {loss_at}: the model's output is not per step "
                         f"(layers[{idx}] returns {why}); use return: all with dense layers "
                         f"after it, or drop --loss-at")
    return own, False


def _run(model: Model, x: np.ndarray, target: np.ndarray, idx: int, sliced: bool
         ) -> tuple[float, np.ndarray]:
    """One engine pass; returns (loss, dL/d(output of layers[idx]))."""
    if not sliced:
        p = model.inspect(x, target)
        return float(p.loss), p.output_grads[idx]
    # Loss at the last step of a per-step model: L = loss(y_T, target_T), same reduction.
    model.zero_grad()
    _, _, outputs = model.loss(x, target)
    y = outputs[-1]
    loss, g = LOSSES[model.loss_name](y[:, -1], target[:, -1], model.reduction)
    grad = np.zeros_like(y)
    grad[:, -1] = g
    _, output_grads = model.backward_from(grad, keep=True)
    return float(loss), output_grads[idx]


def _targets(model: Model, target: np.ndarray, sliced: bool) -> np.ndarray:
    """Full targets; with the loss at the last step, targets for that step alone also do."""
    t = np.asarray(target)
    out = loss_input_shape(model)
    full = out[:-1] if model.loss_name == "cross_entropy" else out   # one sample's target
    if t.ndim == 1 and len(full) == 2 and full[-1] == 1 and t.shape != full:
        t = t[:, None]                                                # a column of steps
    if sliced and t.shape != full and t.shape[1:] != full:
        last = full[1:]
        if t.shape == last:
            t = t[None]
        if t.shape[1:] == last:
            expanded = np.zeros((len(t), *full), dtype=t.dtype)
            expanded[:, -1] = t
            t = expanded
    return model.targets(t, "--target")


# --------------------------------------------------------------------------- jacobians

def _log10(v: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log10(v)


def _log10_mean(logs: np.ndarray, axis: int = 0) -> np.ndarray:
    """log10 of the mean of 10**logs, computed without under/overflow."""
    top = np.max(logs, axis=axis, keepdims=True)
    safe = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(invalid="ignore"):
        out = safe + _log10(np.mean(10.0 ** (logs - safe), axis=axis, keepdims=True))
    out = np.where(np.isneginf(top), -np.inf, out)
    return np.squeeze(out, axis=axis)


def _renorm(p: np.ndarray, logscale: np.ndarray) -> None:
    """Divide each matrix of p by its largest |entry| (in place), keeping log10 of it."""
    m = np.abs(p).max(axis=(-2, -1))
    m = np.where(m > 0, m, 1.0)
    p /= m[..., None, None]
    logscale += np.log10(m)


def product_row_log10(jac: np.ndarray) -> np.ndarray:
    """log10 ‖∂s_T/∂s_k‖ for k = 1..T, per sample: jac (N, T, H, H) -> (N, T).

    ∂s_T/∂s_T = I and ∂s_T/∂s_{k-1} = (∂s_T/∂s_k) J_k with J_k = ∂s_k/∂s_{k-1}.
    """
    n, steps, h, _ = jac.shape
    p = np.broadcast_to(np.eye(h), (n, h, h)).copy()
    logscale = np.zeros(n)
    mats, scales = np.empty_like(jac), np.empty((n, steps))
    for k in range(steps - 1, -1, -1):
        mats[:, k], scales[:, k] = p, logscale
        if k:
            p = p @ jac[:, k]
            _renorm(p, logscale)
    return _log10(spectral_norm(mats)) + scales


def grid(steps: int, limit: int = HEATMAP_MAX) -> list[int]:
    """0-based steps to sample: all if steps <= limit, else evenly spaced with 0 and T-1."""
    if steps <= limit:
        return list(range(steps))
    return sorted({int(round(v)) for v in np.linspace(0, steps - 1, limit)})


def heatmap_log10(jac: np.ndarray, rows: list[int], cols: list[int]) -> np.ndarray:
    """log10 ‖∂s_t/∂s_k‖ for t in rows, k in cols (0-based), per sample: (N, R, K); NaN for
    k > t. Forward accumulation: ∂s_t/∂s_k = J_t ∂s_{t-1}/∂s_k, ∂s_k/∂s_k = I."""
    n, steps, h, _ = jac.shape
    out = np.full((n, len(rows), len(cols)), np.nan)
    q = np.zeros((n, len(cols), h, h))
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
            q[:, j] = np.eye(h)
            qlog[:, j] = 0.0
            active = j + 1
        if t in row_pos and active:
            out[:, row_pos[t], :active] = _log10(spectral_norm(q[:, :active])) + qlog[:, :active]
    return out


def bound_rate(layer: Recurrent) -> tuple[float, str, float]:
    """(λ1(U), rule, β): ‖∂s_t/∂s_{t-1}‖ <= β for every input (see the module docstring)."""
    lam = float(spectral_norm(layer.params["weight_hh_l0"]))
    if isinstance(layer, RNN):
        return lam, "pascanu: ‖∂s_t/∂s_k‖ <= λ1^(t-k) (tanh' <= 1)", lam
    if layer.fixed_gate is not None:
        g = layer.fixed_gate
        return lam, f"fixed gate g={g:g}: ‖∂s_t/∂s_k‖ <= ((1-g) + g λ1)^(t-k)", (1 - g) + g * lam
    lam_g = float(spectral_norm(layer.params["weight_hg_l0"]))
    return (lam, "learned gate: ‖∂s_t/∂s_k‖ <= (max(1, λ1) + λ1(Ug)/2)^(t-k)",
            max(1.0, lam) + 0.5 * lam_g)


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


def verdict(rate: float | None) -> str:
    if rate is None:
        return "n/a"
    if rate < VANISHING_BELOW:
        return "vanishing"
    return "exploding" if rate > EXPLODING_ABOVE else "stable"


# --------------------------------------------------------------------------- trace

def trace(model: Model, x: np.ndarray, target: np.ndarray, *, layer: int | None = None,
          loss_at: str | None = None, label: str = "", info: dict | None = None,
          where: str = "model") -> Trace:
    """Trace the gradient through time in layers[layer] (default: the first recurrent one).

    x: one sequence (T, I) or a batch (N, T, I); target: what the model's loss compares
    with (with the loss at the last step of a per-step model, the last step's target alone
    is enough). loss_at: "last", "every", or None for the model's own loss.
    """
    idx = recurrent_index(model, layer, where)
    rec = model.layers[idx]
    mode, sliced = resolve_loss_at(model, idx, loss_at)
    x = model.batch(x, "--input")
    target = _targets(model, target, sliced)
    if len(target) != len(x):
        raise InputError(f"--target: {len(target)} samples for {len(x)} input sequences")
    n, h = x.shape[0], rec.hidden
    steps = (model.input_shape if idx == 0 else model.shapes[idx - 1])[0]
    from nncli.budget import check_budget

    check_budget(3 * n * steps * h * h * 8, "--input", f"the Jacobians of {n} x {steps} "
                 f"steps x {h}x{h}", "trace fewer sequences at once")

    loss, out_grad = _run(model, x, target, idx, sliced)
    if not np.isfinite(loss):
        raise RunFailed(f"the loss is {loss}; the forward pass overflowed")
    state_grads = rec.state_grads                          # (N, T, H): the engine's own
    local = out_grad if rec.return_sequences else _last_only(out_grad, steps)
    jac = rec.step_jacobians()                             # (N, T, H, H)
    grad_norm = np.linalg.norm(state_grads, axis=-1).mean(axis=0)
    row = _log10_mean(product_row_log10(jac))
    lam, rule, beta = bound_rate(rec)
    dist = np.arange(steps - 1, -1, -1, dtype=float)       # T - t for t = 1..T
    bound_log10 = dist * (_log10(np.array(beta)) if beta > 0 else -np.inf)
    bound_log10 = np.where(dist == 0, 0.0, bound_log10)
    measured_ok = bool(np.all(row <= bound_log10 + BOUND_SLACK * (1 + np.abs(bound_log10))))

    if mode == "last":
        basis, rate = "grad_norm", fit_rate(_log10(grad_norm), dist)
    else:
        basis, rate = "jacobian_product", fit_rate(row, dist)

    params, sum_check = _param_traces(rec)
    hm = None
    if mode == "every":
        rows = cols = grid(steps)
        hm = {"t": [r + 1 for r in rows], "k": [c + 1 for c in cols],
              "log10": _log10_mean(heatmap_log10(jac, rows, cols)).tolist(),
              "exact": len(rows) == steps}
    gates = None
    if isinstance(rec, GruLite):
        g = rec.gates
        gates = {"mean": g.mean(axis=(0, 2)).tolist(), "min": g.min(axis=(0, 2)).tolist(),
                 "max": g.max(axis=(0, 2)).tolist()}
    model_info = {"name": model.name, "cell": rec.kind, "layer": idx, "hidden": h,
                  "input_size": model.input_shape[-1], "steps": steps, "batch": n,
                  "gate": getattr(rec, "fixed_gate", None), "describe": rec.describe(),
                  **(info or {})}
    return Trace(
        label=label or rec.kind, model=model_info, loss_at=mode, loss=loss,
        t=list(range(1, steps + 1)), grad_norm=grad_norm.tolist(),
        output_grad_norm=np.linalg.norm(local, axis=-1).mean(axis=0).tolist(),
        step_jacobian_norm=spectral_norm(jac).mean(axis=0).tolist(),
        jacobian_product_log10=row.tolist(),
        bound={"rule": rule, "sigma_max": lam, "rate": beta,
               "log10": bound_log10.tolist(), "holds": measured_ok},
        fit={"basis": basis, "rate": rate, "verdict": verdict(rate),
             "change": None if rate is None else rate ** (steps - 1),
             "thresholds": [VANISHING_BELOW, EXPLODING_ABOVE]},
        params=params, sum_check=sum_check, grads=_grads(model), gates=gates, heatmap=hm,
        chain=_chain(rec, state_grads, local, jac) if h == 1 else None,
        notes=[f"batch of {n}: per-sample norms are averaged"] if n > 1 else [])


def _last_only(out_grad: np.ndarray, steps: int) -> np.ndarray:
    full = np.zeros((out_grad.shape[0], steps, out_grad.shape[-1]))
    full[:, -1] = out_grad
    return full


def _param_traces(rec: Recurrent) -> tuple[dict[str, ParamTrace], dict]:
    """Per-step contributions, checked against the engine's accumulated gradients."""
    out, worst, worst_tol = {}, 0.0, 0.0
    for name, per_step in rec.step_param_grads().items():
        total = rec.grads[name]
        err = float(np.max(np.abs(per_step.sum(axis=0) - total)))
        tol = SUM_RTOL * (1.0 + float(np.max(np.abs(total))))
        if err > tol:
            raise RunFailed(f"the per-step contributions to {name} do not sum to its "
                            f"gradient (max error {err:.3g}); this is a bug in the layer")
        if err >= worst:
            worst, worst_tol = err, tol
        flat = per_step.reshape(per_step.shape[0], -1)
        g = total.reshape(-1)
        gg = float(g @ g)
        out[name] = ParamTrace(
            shape=list(total.shape), grad_norm=math.sqrt(gg),
            step_norm=np.linalg.norm(flat, axis=1).tolist(),
            step_share=(flat @ g / gg).tolist() if gg > 0 else [0.0] * len(flat),
            sum_error=err, step_value=flat[:, 0].tolist() if g.size == 1 else None)
    return out, {"max_abs_error": worst, "tolerance": worst_tol, "ok": True}


def _grads(model: Model) -> dict:
    return {name: {"shape": list(g.shape), "norm": float(np.linalg.norm(g)),
                   "value": g.tolist() if g.size <= VALUES_UP_TO else None}
            for name, g in model.named_grads().items()}


def _chain(rec: Recurrent, state_grads, local, jac) -> list[dict]:
    """Scalar cell, sample 0: ∂L/∂s_t = (from the output at t) + J_{t+1} ∂L/∂s_{t+1}."""
    states = rec.states[0, :, 0]     # the layer's cached states s_1..s_T
    u = float(rec.params["weight_hh_l0"][0, 0])
    steps, rows = len(states), []
    for t in range(steps - 1, -1, -1):
        factor = float(jac[0, t + 1, 0, 0]) if t + 1 < steps else None
        rows.append({
            "t": t + 1, "state": float(states[t]), "from_output": float(local[0, t, 0]),
            "factor": factor,
            "tanh_derivative_next": float(1 - states[t + 1] ** 2) if factor is not None
            else None,
            "carried": factor * float(state_grads[0, t + 1, 0]) if factor is not None else 0.0,
            "grad": float(state_grads[0, t, 0]), "u": u})
    return rows
