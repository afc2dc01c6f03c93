"""Model inspection commands: init, summary, forward, backward, gradcheck.

Each collects options, calls the core (spec, model, gradcheck) and renders; numpy and rich
are imported inside the functions so `nncli --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import typer

from nncli.app import app, warning_line
from nncli.commands.options import (
    CONFIG,
    JSON,
    SET,
    TARGET,
    WEIGHTS,
    input_option,
    out_option,
    target_option,
)

INPUT = input_option(extra="One sample gets its batch axis added.")


def load_model(config: Path, weights: Path | None, overrides: list[str] = ()):
    """(spec, model): CONFIG a spec or a run folder, --weights over the seeded init,
    --set overrides applied to the spec."""
    from nncli.loading import load

    loaded = load(config, weights, overrides=overrides)
    return loaded.spec, loaded.model


def _norm(a) -> float:
    import numpy as np

    return float(np.sqrt(np.vdot(a, a)))


def _tensor_record(a) -> dict:
    import numpy as np

    a = np.asarray(a)
    return {"shape": list(a.shape), "min": float(a.min()), "max": float(a.max()),
            "mean": float(a.mean()), "std": float(a.std()), "l2": _norm(a)}


# ---- init ------------------------------------------------------------------------------
@app.command("init")
def init_cmd(
    config: Path = CONFIG,
    overrides: list[str] = SET,
    out: Path = out_option("Where to write the weights (.npz).", required=True,
                           metavar="FILE"),
    force: bool = typer.Option(False, "--force", help="Overwrite OUT if it exists."),
) -> None:
    """Write the spec's seeded initial weights to an .npz file.

    Keys are `<layer index>.<param>` with PyTorch's names and shapes, so they map onto the
    equivalent torch modules. Example:

        nncli init configs/digits_cnn.yaml -o w0.npz
    """
    from nncli.checkpoint import save_weights
    from nncli.errors import InputError

    spec, model = load_model(config, None, overrides)
    if out.exists() and not force:
        raise InputError(f"--out: '{out}' already exists; pass --force to overwrite it")
    save_weights(out, model.named_params(), spec.vocab.arrays() if spec.vocab else None)
    typer.echo(f"wrote {model.num_params()} parameters in {len(model.named_params())} "
               f"arrays to {out}", err=True)


# ---- summary ---------------------------------------------------------------------------
@app.command("summary")
def summary_cmd(config: Path = CONFIG, overrides: list[str] = SET,
                as_json: bool = JSON) -> None:
    """A table of the layers: options, output shape, parameter count, memory.

    If a layer's shape is impossible, the rows up to it are shown and then the error.

        nncli summary configs/digits_cnn.yaml
    """
    import math

    from nncli.model import ShapeError, iter_shapes
    from nncli.output import write_json
    from nncli.spec import load_spec

    spec = load_spec(config, overrides=overrides)
    shapes, failure = [], None
    try:
        shapes.extend(iter_shapes(spec.layers, spec.input_shape))
    except ShapeError as err:
        failure = spec.shape_error(err)
    if failure is None:
        spec.build()                      # checks fixed params' shapes and the memory budget
    rows = [{"index": i, "type": layer.kind, "options": layer.describe(),
             "output_shape": list(shape),
             "params": sum(math.prod(s) for s in layer.param_shapes(shape_in).values()),
             "trainable": bool(layer.param_shapes(shape_in))}
            for i, (layer, shape, shape_in) in enumerate(
                zip(spec.layers, shapes, [spec.input_shape, *shapes], strict=False))]
    total = sum(r["params"] for r in rows)
    act_bytes = sum(math.prod(r["output_shape"]) for r in rows) * 8
    if as_json and failure is None:
        write_json({"schema": "nncli.summary/1", "name": spec.name,
                    "input_shape": list(spec.input_shape), "layers": rows,
                    "total_params": total, "activation_bytes_per_sample": act_bytes,
                    "loss": spec.loss, "reduction": spec.reduction})
    elif not as_json:
        _print_summary(spec, rows, total, act_bytes, complete=failure is None)
    if failure is not None:
        raise failure
    from nncli.validate import training_problem

    problem = training_problem(spec)      # data: and train:, as `train` and `check` see them
    if problem:
        warning_line(f"{problem} ('nncli train' would stop here; 'nncli check' says so too)")


def _print_summary(spec, rows, total, act_bytes, complete: bool) -> None:
    from rich.table import Table

    from nncli.budget import human_bytes
    from nncli.render.tensor import console

    table = Table(title=f"{spec.name}  (input {tuple(spec.input_shape)}, loss {spec.loss}, "
                  f"{spec.reduction})", title_justify="left")
    for col, justify in (("#", "right"), ("layer", "left"), ("options", "left"),
                         ("output shape", "left"), ("params", "right"),
                         ("trainable", "center")):
        table.add_column(col, justify=justify)
    for r in rows:
        table.add_row(str(r["index"]), r["type"], r["options"], str(tuple(r["output_shape"])),
                      f"{r['params']:,}", "yes" if r["trainable"] else "-")
    if complete:
        table.add_section()
        table.add_row("", "total", "", "", f"{total:,}", "")
    out = console()
    out.print(table)
    if complete:
        out.print(f"activations per sample: {human_bytes(act_bytes)} (float64); "
                  f"parameters: {human_bytes(total * 8)}")


# ---- forward ---------------------------------------------------------------------------
@app.command("forward")
def forward_cmd(
    config: Path = CONFIG,
    input_: str = INPUT,
    weights: Path | None = WEIGHTS,
    overrides: list[str] = SET,
    layer: int | None = typer.Option(None, "--layer", "-l", help="Show only this layer's "
                                     "output (0-based index, as in `nncli summary`)."),
    as_json: bool = JSON,
) -> None:
    """Run the input through the network and show every layer's output.

    Each output is shown as a heatmap (truncated when large) with statistics over all of it.

        nncli forward configs/seed_conv.yaml --input configs/seed_conv_A.txt
        nncli forward configs/seed_rnn.yaml --input "1; 2" --json
    """
    from nncli.io import read_array
    from nncli.output import write_json

    _, model = load_model(config, weights, overrides)
    x = model.batch(read_array(input_, "--input"), "--input")
    _check_layer(layer, model)
    outputs = model.forward(x).outputs
    picked = range(len(outputs)) if layer is None else [layer]
    if as_json:
        write_json({"schema": "nncli.forward/1", "input_shape": list(x.shape),
                    "layers": [{"index": i, "type": model.layers[i].kind,
                                **_tensor_record(outputs[i]), "output": outputs[i]}
                               for i in picked]})
        return
    from nncli.render.tensor import console, heatmap

    out = console()
    out.print(heatmap(_squeeze(x), f"input {tuple(x.shape)}", axis_names=_axes(x)))
    for i in picked:
        y = outputs[i]
        out.print(heatmap(_squeeze(y), f"[{i}] {model.layers[i].kind} -> {tuple(y.shape)}",
                          axis_names=_axes(y)))


def _check_layer(layer: int | None, model) -> None:
    from nncli.errors import InputError

    if layer is not None and not 0 <= layer < len(model.layers):
        raise InputError(f"--layer: expected 0..{len(model.layers) - 1} (see nncli summary), "
                         f"got {layer}")


def _squeeze(a):
    """Drop a batch axis of 1 for display (the JSON keeps it)."""
    return a[0] if a.ndim > 1 and a.shape[0] == 1 else a


def _axes(a) -> tuple[str, ...]:
    lead = a.ndim - 2 - (1 if a.ndim > 1 and a.shape[0] == 1 else 0)
    return ("sample", "channel")[-lead:] if lead > 0 else ()


# ---- backward --------------------------------------------------------------------------
@app.command("backward")
def backward_cmd(
    config: Path = CONFIG,
    input_: str = INPUT,
    target: str = TARGET,
    weights: Path | None = WEIGHTS,
    overrides: list[str] = SET,
    as_json: bool = JSON,
) -> None:
    """The loss, every parameter's gradient and the gradient norms, layer by layer.

    The scalar RNN of the notes (docs/course-examples.md example 4):

        nncli backward configs/seed_rnn.yaml --input "1; 2" --target "0.5; -0.25"
    """
    from nncli.io import read_array
    from nncli.output import write_json

    _, model = load_model(config, weights, overrides)
    x = model.batch(read_array(input_, "--input"), "--input")
    y = model.targets(read_array(target, "--target"), "--target")
    if len(y) != len(x):
        from nncli.errors import InputError

        raise InputError(f"--target: {len(y)} targets for {len(x)} input samples")
    result = model.inspect(x, y)
    params, grads = model.named_params(), model.named_grads()
    records = {name: {**_tensor_record(grads[name]),
                      "max_abs": float(abs(grads[name]).max()),
                      "param_l2": _norm(params[name]),
                      "rel_norm": _norm(grads[name]) / max(_norm(params[name]), 1e-300),
                      "grad": grads[name]}
               for name in params}
    arriving = [{"index": i, "type": model.layers[i].kind, "l2": _norm(g)}
                for i, g in enumerate(result.output_grads)]
    if as_json:
        write_json({"schema": "nncli.backward/1", "loss": result.loss,
                    "loss_name": model.loss_name, "reduction": model.reduction,
                    "params": records, "output_grad_norms": arriving,
                    "input_grad_norm": _norm(result.input_grad)})
        return
    _print_backward(model, result, records, arriving)


def _print_backward(model, result, records, arriving) -> None:
    from rich.table import Table

    from nncli.render.tensor import console, format_number, heatmap

    out = console()
    out.print(f"[bold]loss[/] ({model.loss_name}, {model.reduction}) = "
              f"{format_number(result.loss, 10)}")
    for name, rec in records.items():
        if rec["grad"].size <= 4:        # a few numbers: show them to 10 digits, as in notes
            values = ", ".join(format_number(v, 10) for v in rec["grad"].ravel())
            out.print(f"d loss / d {name} {tuple(rec['shape'])} = {values}")
        else:
            out.print(heatmap(rec["grad"], f"d loss / d {name}  {tuple(rec['shape'])}"))
    table = Table(title="gradient norms", title_justify="left")
    for col in ("parameter", "L2", "max |g|", "|g| / |param|"):
        table.add_column(col, justify="left" if col == "parameter" else "right")
    for name, rec in records.items():
        table.add_row(name, format_number(rec["l2"], 6), format_number(rec["max_abs"], 6),
                      format_number(rec["rel_norm"], 4))
    out.print(table)
    flow = Table(title="gradient norm at each layer's output", title_justify="left",
                 min_width=40)
    for col in ("#", "layer", "L2"):
        flow.add_column(col, justify="left" if col == "layer" else "right")
    for row in arriving:
        flow.add_row(str(row["index"]), row["type"], format_number(row["l2"], 6))
    flow.add_row("", "input", format_number(_norm(result.input_grad), 6))
    out.print(flow)


# ---- gradcheck -------------------------------------------------------------------------
@app.command("gradcheck")
def gradcheck_cmd(
    config: Path = CONFIG,
    weights: Path | None = WEIGHTS,
    overrides: list[str] = SET,
    # Defaults equal nncli.gradcheck.EPS / TOL (not imported here: keeps --help fast).
    eps: float = typer.Option(1e-5, "--eps", help="Finite-difference step."),
    tol: float = typer.Option(1e-7, "--tol", help="Largest relative error that passes."),
    input_: str | None = input_option(required=False, extra="Default: a seeded random "
                                      "batch of 2."),
    target: str | None = target_option(required=False, extra="Default: seeded random "
                                       "targets."),
    max_entries: int | None = typer.Option(None, "--max-entries", help="Check a seeded "
                                           "sample of at most this many entries per tensor."),
    as_json: bool = JSON,
) -> None:
    """Check backward against centred finite differences, in float64.

    One row per parameter (and the input) with the largest relative error; exit code 1 if
    any is above --tol.

        nncli gradcheck configs/digits_cnn.yaml --max-entries 50
    """
    import numpy as np

    from nncli.errors import InputError, RunFailed
    from nncli.gradcheck import gradcheck
    from nncli.io import read_array
    from nncli.output import write_json

    for option, value in (("--eps", eps), ("--tol", tol)):
        if not 0 < value < float("inf"):
            raise InputError(f"{option}: expected a finite number > 0, got {value}")
    if max_entries is not None and max_entries < 1:
        raise InputError(f"--max-entries: expected an integer >= 1, got {max_entries}")
    spec, model = load_model(config, weights, overrides)
    rng = np.random.default_rng(spec.seed)
    if input_ is None:
        vocab = getattr(model.layers[0], "vocab", None)     # an embedding reads token ids
        x = (rng.integers(0, vocab, size=(2, *model.input_shape)).astype(np.float64)
             if vocab is not None else rng.normal(size=(2, *model.input_shape)))
    else:
        x = model.batch(read_array(input_, "--input"), "--input")
    if target is None:
        out_shape = model.shapes[model._loss_end() - 1]
        if model.loss_name == "cross_entropy":
            y = rng.integers(0, out_shape[-1], size=(len(x), *out_shape[:-1]))
        else:
            y = rng.normal(size=(len(x), *out_shape))
    else:
        y = read_array(target, "--target")
    y = model.targets(y, "--target")
    results = gradcheck(model, x, y, eps=eps, tol=tol, max_entries=max_entries, rng=rng)
    passed = all(r.passed for r in results)
    if as_json:
        write_json({"schema": "nncli.gradcheck/1", "eps": eps, "tol": tol, "passed": passed,
                    "results": [{"name": r.name, "shape": list(r.shape),
                                 "max_rel_error": r.max_rel_error,
                                 "max_abs_error": r.max_abs_error, "checked": r.checked,
                                 "passed": r.passed} for r in results]})
    else:
        _print_gradcheck(results, eps, tol)
    if not passed:
        failed = ", ".join(r.name for r in results if not r.passed)
        raise RunFailed(f"gradient check failed for {failed} (relative error above {tol:g})")


def _print_gradcheck(results, eps, tol) -> None:
    from rich.table import Table

    from nncli.render.tensor import console, format_float

    table = Table(title=f"gradient check (centred differences, eps {eps:g}, tol {tol:g})",
                  title_justify="left")
    for col in ("gradient", "shape", "checked", "max rel error", "max abs error", ""):
        table.add_column(col, justify="left" if col in ("gradient", "shape") else "right")
    for r in results:
        verdict = "[green]pass[/]" if r.passed else "[bold red]FAIL[/]"
        table.add_row(r.name, str(tuple(r.shape)), str(r.checked),
                      format_float(r.max_rel_error, 3), format_float(r.max_abs_error, 3),
                      verdict)
    console().print(table)
