"""grad-trace core: how the gradient flows back through time in a recurrent layer.

Nothing here prints, and no cell is named: the layer is read only through the recurrent-
cell contract (nncli/layers/recurrent.py), so every recurrent layer of the registry works.
`trace(model, x, target)` runs one forward/backward pass of the model (the engine's own
`Model.inspect` / `Model.backward_from`, no second implementation) and reads what the cell
kept: its state gradients, its per-step Jacobians and parameter contributions, its bound
and its extra series. The result is a `Trace` of plain floats (`to_dict()` is JSON).

Conventions (steps are numbered t = 1..T as in the notes, states start at 0):

- The cell's states (one, like s_t, or several, like an lstm's h_t and c_t) together make
  the joint state z_t; with one state z_t is that state. ‖∂z_T/∂z_k‖ chains the step
  Jacobians J_t = ∂z_t/∂z_{t-1}; each state's own Jacobian is a diagonal block of J_t.
- Norms of vectors are Euclidean, norms of matrices spectral (largest singular value).
  With a batch (N > 1) every per-sample norm is averaged over the batch.
- The heatmap ‖∂z_t/∂z_k‖ (loss at every step) is exact on a grid of at most HEATMAP_MAX
  steps per axis, evenly spaced, always including steps 1 and T.
- Bound: the cell's own, ‖J_t‖ <= β for every input, so ‖∂z_t/∂z_k‖ <= β^(t-k); for the
  tanh rnn β is λ1(U) (Pascanu, Mikolov & Bengio 2013).
- Verdict: least-squares fit of ln‖·‖ against the distance d = T - t, rate r = e^slope per
  step back. With the loss at the last step the fit is on ‖∂L/∂h_t‖ (the state the layer
  outputs); with a loss at every step it is on ‖∂z_T/∂z_k‖. r < VANISHING_BELOW:
  vanishing; r > EXPLODING_ABOVE: exploding; else stable; too-short below MIN_FIT_STEPS.
- Built-in model (`builtin_model`): [cell (H hidden, bias, all steps), dense(1) on every
  step], mse (sum), the cell seeded by its `init_builtin` (rnn, gru-lite: W Glorot, U a
  random orthogonal matrix), the dense head from its own seeded stream, so cells built
  with one seed share what they have in common. `layer.rescale(λ)` sets the bound's λ1.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from nncli.errors import InputError, RunFailed, check_int
from nncli.layers import Activation, Dense, Recurrent, Softmax
from nncli.losses import LOSSES
from nncli.model import Model
from nncli.trace_data import generate, loss_input_shape
from nncli.trace_math import (
    EXPLODING_ABOVE,
    HEATMAP_MAX,
    MIN_FIT_STEPS,
    VANISHING_BELOW,
    fit_rate,
    grid,
    heatmap_log10,
    log10,
    log10_mean,
    product_row_log10,
    spectral_norm,
    verdict,
)

__all__ = ["HEATMAP_MAX", "Trace", "builtin_model", "cells", "fit_rate", "generate", "trace",
           "verdict"]

LOSS_AT = ("last", "every")
SUM_RTOL = 1e-8          # per-step contributions must sum to the engine's gradient
VALUES_UP_TO = 64        # `grads` in the result carries full values up to this size
BOUND_SLACK = 1e-9       # log10 slack when checking the measured norms against the bound


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
    grad_norm: list[float]              # ‖∂L/∂h_t‖, h the state the layer outputs
    output_grad_norm: list[float]       # ‖the part arriving from the layer's output at t‖
    step_jacobian_norm: list[float]     # ‖∂z_t/∂z_{t-1}‖ (z: all states)
    jacobian_product_log10: list[float]  # log10 ‖∂z_T/∂z_t‖
    bound: dict
    fit: dict
    params: dict[str, ParamTrace]
    sum_check: dict
    grads: dict
    gates: dict | None = None           # the cell's first series (kept from version /1)
    heatmap: dict | None = None
    chain: list[dict] | None = None
    notes: list[str] = field(default_factory=list)
    states: dict = field(default_factory=dict)   # name -> symbol, grad_norm, jacobian norm
    series: dict = field(default_factory=dict)   # name -> label, mean, min, max per step

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


# --------------------------------------------------------------------------- cells

def cells() -> list[str]:
    """The recurrent layers of the registry: the cells grad-trace can build and trace."""
    from nncli.layers import registry

    return registry.recurrent_kinds()


def check_cell(option: str, cell: str) -> str:
    from nncli.options import suggest

    known = cells()
    if cell not in known:
        raise InputError(f"{option}: expected one of {', '.join(known)}, got '{cell}'"
                         f"{suggest(cell, known)}")
    return cell


def cell_options() -> dict[str, list[str]]:
    """Every cell-specific grad-trace option -> the cells that have it."""
    from nncli.layers import registry

    table: dict[str, list[str]] = {}
    for kind in cells():
        for name in registry.get(kind).trace_options:
            table.setdefault(name, []).append(kind)
    return table


def apply_cell_options(layer: Recurrent, options: dict, subject: str) -> None:
    """Set the given (non-None) cell options on `layer`; an option of other cells only is
    an error naming them and `subject` (e.g. "this model's recurrent layer is rnn")."""
    table = cell_options()
    for name, value in options.items():
        if value is None:
            continue
        if name not in layer.trace_options:
            owners = " and ".join(table.get(name, [])) or "no cell"
            raise InputError(f"--{name} is an option of {owners} only; {subject}")
        layer.set_trace_option(name, value)


def builtin_model(cell: str, steps: int, hidden: int, input_size: int = 1, seed: int = 0,
                  options: dict | None = None) -> Model:
    """[cell (all steps), dense(1) per step], mse sum; see the module docstring for init.
    `options`: the cell's own grad-trace options (gru-lite's gate)."""
    from nncli.layers import registry

    check_cell("--cell", cell)
    check_int("--steps", steps, 1)
    check_int("--hidden", hidden, 1)
    check_int("--input-size", input_size, 1)
    check_int("--seed", seed, 0)
    rec = registry.build(cell, {"hidden": hidden})
    apply_cell_options(rec, options or {}, f"the built-in cell is {cell}")
    head = registry.build("dense", {"units": 1})
    model = Model([rec, head], (steps, input_size), "mse", "sum", f"built-in {cell}", seed)
    from nncli.budget import check_budget

    check_budget(model.param_bytes() + 8 * 4 * hidden * hidden, "--hidden", f"a built-in "
                 f"{cell} of {hidden:,} hidden units", "use a smaller --hidden")
    rec.init_builtin((steps, input_size), seed)
    head.init_params((steps, hidden), np.random.default_rng([seed, 2]))
    model.zero_grad()
    return model


def recurrent_index(model: Model, index: int | None = None, where: str = "model") -> int:
    """The layer to trace: `index`, or the first recurrent layer."""
    found = [i for i, layer in enumerate(model.layers) if isinstance(layer, Recurrent)]
    kinds = ", ".join(layer.kind for layer in model.layers)
    if not found:
        names = cells()
        raise InputError(f"{where}: no {', '.join(names[:-1])} or {names[-1]} layer to trace "
                         f"(layers: {kinds}); grad-trace needs a recurrent model, or drop "
                         f"CONFIG for the built-in one")
    if index is None:
        return found[0]
    if index not in found:
        what = (f"is {model.layers[index].kind}" if 0 <= index < len(model.layers)
                else "does not exist")
        raise InputError(f"--layer: layers[{index}] {what}; recurrent layers: "
                         f"{', '.join(map(str, found))}")
    return index


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


# --------------------------------------------------------------------------- trace

def trace(model: Model, x: np.ndarray, target: np.ndarray, *, layer: int | None = None,
          loss_at: str | None = None, label: str = "", info: dict | None = None,
          where: str = "model", size_option: str = "--input") -> Trace:
    """Trace the gradient through time in layers[layer] (default: the first recurrent one).

    x: one sequence (T, I) or a batch (N, T, I); target: what the model's loss compares
    with (with the loss at the last step of a per-step model, the last step's target alone
    is enough). loss_at: "last", "every", or None for the model's own loss. size_option:
    the option to blame when the Jacobians would not fit in memory.
    """
    idx = recurrent_index(model, layer, where)
    rec = model.layers[idx]
    mode, sliced = resolve_loss_at(model, idx, loss_at)
    h, names = rec.hidden, rec.state_names
    steps, width = model.input_shape if idx == 0 else model.shapes[idx - 1]
    d = len(names) * h                                     # size of the joint state z_t
    n = len(x) if np.ndim(x) > len(model.input_shape) else 1
    from nncli.budget import check_budget

    # Before the batch's own check (its activations): the Jacobians are the larger part.
    check_budget(3 * n * steps * d * d * 8, size_option, f"the Jacobians of {n} x {steps} "
                 f"steps x {d}x{d}", "trace fewer or shorter sequences at once")
    x = model.batch(x, size_option)      # its memory is the size option's doing too
    target = _targets(model, target, sliced)
    if len(target) != len(x):
        raise InputError(f"--target: {len(target)} samples for {len(x)} input sequences")

    loss, out_grad = _run(model, x, target, idx, sliced)
    if not np.isfinite(loss):
        raise RunFailed(f"the loss is {loss}; the forward pass overflowed")
    local = out_grad if rec.return_sequences else _last_only(out_grad, steps)
    jac = rec.step_jacobians()                             # (N, T, D, D)
    joint_norm = spectral_norm(jac)
    states = _state_traces(rec, jac, joint_norm)
    grad_norm = states[names[0]]["grad_norm"]
    row = log10_mean(product_row_log10(jac))
    dist = np.arange(steps - 1, -1, -1, dtype=float)       # T - t for t = 1..T
    if mode == "last":
        basis, rate = "grad_norm", fit_rate(log10(np.array(grad_norm)), dist)
    else:
        basis, rate = "jacobian_product", fit_rate(row, dist)
    params, sum_check = _param_traces(rec)
    hm = None
    if mode == "every":
        rows = cols = grid(steps)
        hm = {"t": [r + 1 for r in rows], "k": [c + 1 for c in cols],
              "log10": log10_mean(heatmap_log10(jac, rows, cols)).tolist(),
              "exact": len(rows) == steps}
    series = {name: {"label": s.label, "mean": s.values.mean(axis=(0, 2)).tolist(),
                     "min": s.values.min(axis=(0, 2)).tolist(),
                     "max": s.values.max(axis=(0, 2)).tolist()}
              for name, s in rec.trace_series().items()}
    first = next(iter(series.values()), None)
    option_values = {name: (rec.get_trace_option(name) if name in rec.trace_options else None)
                     for name in cell_options()}
    model_info = {"name": model.name, "cell": rec.kind, "layer": idx, "hidden": h,
                  "input_size": width, "steps": steps, "batch": n, **option_values,
                  "states": list(names), "describe": rec.describe(), **(info or {})}
    return Trace(
        label=label or rec.kind, model=model_info, loss_at=mode, loss=loss,
        t=list(range(1, steps + 1)), grad_norm=grad_norm,
        output_grad_norm=np.linalg.norm(local, axis=-1).mean(axis=0).tolist(),
        step_jacobian_norm=joint_norm.mean(axis=0).tolist(),
        jacobian_product_log10=row.tolist(), bound=_bound(rec, row, dist),
        fit={"basis": basis, "rate": rate, "verdict": verdict(rate, steps),
             "change": None if rate is None else rate ** (steps - 1),
             "thresholds": [VANISHING_BELOW, EXPLODING_ABOVE], "min_steps": MIN_FIT_STEPS},
        params=params, sum_check=sum_check, grads=_grads(model),
        gates=None if first is None else {k: first[k] for k in ("mean", "min", "max")},
        heatmap=hm, chain=_chain(rec, local, jac) if d == 1 else None,
        notes=[f"batch of {n}: per-sample norms are averaged"] if n > 1 else [],
        states=states, series=series)


def _state_traces(rec: Recurrent, jac: np.ndarray, joint_norm: np.ndarray) -> dict:
    """Per state: its symbol, ‖∂L/∂state_t‖ and the norm of its own Jacobian (the diagonal
    block of J_t; with one state, J_t itself)."""
    names, h = rec.state_names, rec.hidden
    grads = rec.state_gradients()
    out = {}
    for i, name in enumerate(names):
        block = joint_norm if len(names) == 1 else spectral_norm(
            jac[..., i * h:(i + 1) * h, i * h:(i + 1) * h])
        out[name] = {"symbol": rec.state_symbol(name),
                     "grad_norm": np.linalg.norm(grads[name], axis=-1).mean(axis=0).tolist(),
                     "step_jacobian_norm": block.mean(axis=0).tolist()}
    return out


def _bound(rec: Recurrent, row: np.ndarray, dist: np.ndarray) -> dict:
    """The cell's bound β^(T-t) beside the measured ‖∂z_T/∂z_t‖ (None: the cell has none)."""
    b = rec.bound()
    rate, sigma_max = (None if b.rate is None else float(b.rate)), float(b.sigma_max)
    if rate is None:
        return {"rule": b.rule, "sigma_max": sigma_max, "rate": None,
                "log10": [None] * len(dist), "holds": None}
    bound_log10 = dist * (log10(np.array(rate)) if rate > 0 else -np.inf)
    bound_log10 = np.where(dist == 0, 0.0, bound_log10)
    holds = bool(np.all(row <= bound_log10 + BOUND_SLACK * (1 + np.abs(bound_log10))))
    return {"rule": b.rule, "sigma_max": sigma_max, "rate": rate,
            "log10": bound_log10.tolist(), "holds": holds}


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


def _chain(rec: Recurrent, local: np.ndarray, jac: np.ndarray) -> list[dict]:
    """A cell with one scalar state, sample 0: ∂L/∂s_t = (from the output at t) +
    J_{t+1} ∂L/∂s_{t+1}, each factor worked out by the cell where it can."""
    name = rec.state_names[0]
    states = rec.state_values()[name][0, :, 0]
    grads = rec.state_gradients()[name][0, :, 0]
    steps, rows = len(states), []
    for t in range(steps - 1, -1, -1):
        nxt = t + 1 < steps
        factor = float(jac[0, t + 1, 0, 0]) if nxt else None
        explain = rec.explain_factor(t + 2) if nxt else None
        rows.append({
            "t": t + 1, "state": float(states[t]), "from_output": float(local[0, t, 0]),
            "factor": factor, "carried": factor * float(grads[t + 1]) if nxt else 0.0,
            "grad": float(grads[t]),
            "explain": None if explain is None else {"formula": explain[0],
                                                     "values": explain[1]}})
    return rows
