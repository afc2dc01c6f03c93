"""`nncli grad-trace`: watch the gradient flow back through time in a recurrent layer.

Thin: parse options, build the model(s) and the sequence, call `nncli.trace.trace` for each
run, then render with rich (or print JSON). numpy and rich are imported inside functions.
No cell is named here: the cells and their own options (like `--gate`) come from the
recurrent layers of the registry (nncli.trace.cells, cell_options).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from nncli.app import app
from nncli.commands.options import (
    SET,
    config_argument,
    draws,
    input_option,
    json_option,
    target_option,
    weights_option,
)
from nncli.errors import InputError, check_int

ROWS_SHOWN = 24     # per-step table rows unless --all-steps

if TYPE_CHECKING:
    from nncli.trace import Trace

# --------------------------------------------------------------------------- options

def _floats(option: str, text: str) -> list[float]:
    try:
        values = [float(v) for v in text.replace(" ", ",").split(",") if v.strip()]
    except ValueError:
        raise InputError(f"{option}: expected numbers separated by commas like 0.5,1,2, got "
                         f"'{text}'") from None
    if not values or any(not (v >= 0 and math.isfinite(v)) for v in values):
        raise InputError(f"{option}: expected numbers >= 0 separated by commas like 0.5,1,2, "
                         f"got '{text}'")
    return values


def _cells(text: str) -> list[str]:
    from nncli.trace import cells as known

    cells = [c.strip() for c in text.split(",") if c.strip()]
    for c in cells:
        if c not in known():
            raise InputError(f"--compare: unknown cell '{c}'; expected a comma list of "
                             f"{', '.join(known())} (like rnn,gru-lite)")
    if not cells:
        raise InputError("--compare: expected a comma list of cells like rnn,gru-lite")
    return cells


# --------------------------------------------------------------------------- runs

def _spec_runs(config: Path, opts: dict) -> list[Trace]:
    from nncli import trace as core
    from nncli.loading import load
    from nncli.trace_data import inputs

    for flag in ("cell", "hidden", "input_size", "compare"):
        if opts[flag] is not None:
            name = "--" + flag.replace("_", "-")
            raise InputError(f"{name}: only for the built-in model; CONFIG defines the "
                             f"model (drop {name} or CONFIG)")

    def set_steps(spec) -> None:
        """--steps T: the spec's input [T, F] (or [T] of token ids) gets T steps."""
        if opts["steps"] is None:
            return
        check_int("--steps", opts["steps"], 1)
        if len(spec.input_shape) not in (1, 2):
            raise InputError(f"--steps: the spec's input {list(spec.input_shape)} is not a "
                             f"sequence [T, F]")
        spec.input_shape = (opts["steps"], *spec.input_shape[1:])

    loaded = load(config, opts["weights"], adjust=set_steps, overrides=opts["overrides"])
    spec, model = loaded.spec, loaded.model
    idx = core.recurrent_index(model, opts["layer"], spec.where(("layers",)))
    rec = model.layers[idx]
    core.apply_cell_options(rec, opts["cell_options"],
                            f"this model's recurrent layer is {rec.kind}")
    x, target, what = inputs(model, opts["seed"], source=opts["input"], target=opts["target"],
                             spec=spec, sample=opts["sample"])
    base = {k: v.copy() for k, v in rec.params.items()}
    weights = None if loaded.weights is None else str(loaded.weights)
    runs = []
    for scale in opts["scales"] or [None]:
        rec.params.update({k: v.copy() for k, v in base.items()})
        if scale is not None:
            rec.rescale(scale)
        label = spec.name + ("" if scale is None else f" λ1={scale:g}")
        info = {"source": str(config), "weights": weights, "scale": scale,
                "seed": opts["seed"], **what}
        runs.append(core.trace(model, x, target, layer=idx, loss_at=opts["loss_at"],
                               label=label, info=info, where=spec.where(("layers",)),
                               size_option=_size_option(opts)))
    return runs


def _size_option(opts: dict) -> str:
    """The option that sets the sequence's size, for a memory-budget error."""
    return "--input" if opts["input"] is not None or opts["steps"] is None else "--steps"


def _builtin_runs(opts: dict) -> list[Trace]:
    from nncli import trace as core
    from nncli.trace_data import inputs, read_sequence

    if opts["compare"] and opts["cell"]:
        raise InputError("--cell: give either --cell or --compare, not both")
    cells = _cells(opts["compare"]) if opts["compare"] else [opts["cell"] or "rnn"]
    if opts["layer"] is not None:
        raise InputError("--layer: only with CONFIG (the built-in model has one recurrent "
                         "layer)")
    owners = core.cell_options()
    given = {k: v for k, v in opts["cell_options"].items() if v is not None}
    for name in given:
        if opts["compare"] and not set(owners.get(name, [])) & set(cells):
            raise InputError(f"--{name} is an option of {' and '.join(owners[name])} only; "
                             f"the compared cells are {', '.join(cells)}")
    steps, width, x = opts["steps"], opts["input_size"], None
    if opts["input"] is not None:
        x = read_sequence(opts["input"], "--input", width)
        steps = steps if steps is not None else x.shape[-2]
        width = width if width is not None else x.shape[-1]
    steps = 20 if steps is None else steps
    hidden = 16 if opts["hidden"] is None else opts["hidden"]
    width = 1 if width is None else width
    runs, data = [], None
    for cell in cells:
        # With --compare a cell's own option goes to the cells that have it.
        own = {k: v for k, v in given.items()
               if not opts["compare"] or cell in owners.get(k, [])}
        for scale in opts["scales"] or [None]:
            model = core.builtin_model(cell, steps, hidden, width, opts["seed"], own)
            if opts["weights"]:
                from nncli.checkpoint import load_weights

                model.load_state(load_weights(opts["weights"]), source="--weights")
            if scale is not None:
                model.layers[0].rescale(scale)
            if data is None:
                data = inputs(model, opts["seed"], x=x, target=opts["target"])
            label = cell + "".join(f" {k}={v:g}" for k, v in own.items()) + (
                "" if scale is None else f" λ1={scale:g}")
            info = {"source": "built-in", "weights": opts["weights"], "scale": scale,
                    "seed": opts["seed"], **data[2]}
            runs.append(core.trace(model, data[0], data[1], loss_at=opts["loss_at"] or "last",
                                   label=label, info=info, size_option=_size_option(opts)))
    return runs


# --------------------------------------------------------------------------- command

@app.command("grad-trace")
@draws
def grad_trace(
    config: Path | None = config_argument(required=False, extra="Its model needs a "
                                          "recurrent layer. Without CONFIG: a built-in model "
                                          "(see --cell)."),
    cell: str | None = typer.Option(None, "--cell", help="Built-in model's cell: rnn "
                                    "(default) or another recurrent layer (nncli layers)."),
    steps: int | None = typer.Option(None, "--steps", help="Sequence length T (built-in: "
                                     "default 20; with CONFIG: overrides input [T, F])."),
    hidden: int | None = typer.Option(None, "--hidden", help="Built-in: hidden size H "
                                      "(default 16)."),
    input_size: int | None = typer.Option(None, "--input-size", help="Built-in: features "
                                          "per step (default 1)."),
    scale: str | None = typer.Option(None, "--scale", help="Rescale the recurrent matrix U "
                                     "so its largest singular value λ1 is this; a comma list "
                                     "sweeps (0.5,1,2). The built-in U is orthogonal "
                                     "(λ1 = 1)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the built-in weights and of the "
                             "generated input and target."),
    input_: str | None = input_option(required=False, extra='A sequence (T, F), one step '
                                      'per row like "1; 2", or a batch (N, T, F). Default: '
                                      "generated N(0, 1), or sample --sample of the spec's "
                                      "data: test split."),
    target: str | None = target_option(required=False, extra="Default: generated. With "
                                       "--loss-at last the last step's target alone is "
                                       "enough."),
    sample: int = typer.Option(0, "--sample", help="Which test sequence of the spec's data: "
                               "section to trace."),
    loss_at: str | None = typer.Option(None, "--loss-at", help="last: the loss of the last "
                                       "step only (built-in default); every: the loss at "
                                       "every step (default for a spec whose output is per "
                                       "step)."),
    gate: float | None = typer.Option(None, "--gate", help="Only for a cell with a gate to "
                                      "hold (gru-lite): hold it at this value in [0, 1]; "
                                      "--gate 1 is exactly the simple rnn."),
    compare: str | None = typer.Option(None, "--compare", help="Built-in: trace several "
                                       "cells on the same input, e.g. rnn,gru-lite."),
    layer: int | None = typer.Option(None, "--layer", help="With CONFIG: index of the "
                                     "recurrent layer (default: the first)."),
    weights: str | None = weights_option(),
    overrides: list[str] = SET,
    all_steps: bool = typer.Option(False, "--all-steps", help="Show every step in the "
                                   f"tables (default: at most {ROWS_SHOWN} rows)."),
    as_json: bool = json_option(extra="One run: an object; several: {\"runs\": [...]}."),
) -> None:
    """Trace the gradient back through time in a recurrent layer: why simple RNNs forget.

    Per step t: ‖∂L/∂s_t‖ (log bars), the step factor ‖∂s_t/∂s_t-1‖, the Jacobian
    product ‖∂s_T/∂s_t‖ beside its bound λ1^(T-t) (Pascanu, Mikolov & Bengio 2013), and a
    verdict — vanishing, stable or exploding — from the fitted rate per step back
    (< 0.95 vanishing, > 1.05 exploding; fewer than 5 steps are too short to judge). Per
    parameter: how much of its gradient each step contributes (checked to sum to the
    engine's gradient). A cell with two states (an lstm's h and c) shows both; gated
    cells show their gates per step.

    [bold]Examples[/]

      nncli grad-trace configs/seed_rnn.yaml --input "1; 2" --target "0.5; -0.25"

      nncli grad-trace --cell rnn --steps 50 --hidden 32 --scale 0.5,1,2

      nncli grad-trace --compare rnn,gru-lite --steps 100 --hidden 32

      nncli grad-trace --cell gru-lite --gate 1 --json

      nncli grad-trace runs/adding_rnn

      nncli grad-trace configs/adding_rnn.yaml --weights runs/adding_rnn/best.npz
    """
    opts = {"cell": cell, "steps": steps, "hidden": hidden, "input_size": input_size,
            "seed": seed, "input": input_, "target": target, "sample": sample,
            "loss_at": loss_at, "compare": compare, "layer": layer, "weights": weights,
            "cell_options": {"gate": gate}, "overrides": overrides}
    from nncli import trace as core

    check_int("--seed", seed, 0)
    check_int("--sample", sample, 0)
    if overrides and config is None:
        raise InputError("--set: only with CONFIG (the built-in model has no spec; use "
                         "--cell, --hidden, --input-size)")
    if loss_at is not None and loss_at not in core.LOSS_AT:
        raise InputError(f"--loss-at: expected last or every, got '{loss_at}'")
    if cell is not None:
        core.check_cell("--cell", cell)
    opts["scales"] = _floats("--scale", scale) if scale is not None else None
    runs = _spec_runs(config, opts) if config is not None else _builtin_runs(opts)
    if as_json:
        from nncli import output

        schema = {"schema": "nncli.grad-trace/1"}
        output.write_json({**schema, **runs[0].to_dict()} if len(runs) == 1 else
                          {**schema, "runs": [r.to_dict() for r in runs]})
        return
    from nncli.render.trace import show

    show(runs, None if all_steps else ROWS_SHOWN)
