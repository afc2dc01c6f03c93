"""Model inspection commands: init, summary, forward, backward, gradcheck.

Each parses its options, loads the model (nncli.loading), calls the core (the model,
nncli.inspection, nncli.gradcheck) and hands the result to nncli.render.model, or prints
plain JSON with --json. numpy and rich are imported inside the functions so `nncli --help`
stays fast.
"""

from __future__ import annotations

from pathlib import Path

import typer

from nncli.app import app, warning_line
from nncli.commands.options import (
    CONFIG,
    FULL,
    JSON,
    SET,
    TARGET,
    WEIGHTS,
    draws,
    input_option,
    out_option,
    target_option,
)

INPUT = input_option(extra="One sample gets its batch axis added.")
DTYPE = typer.Option("float64", "--dtype", metavar="float64|float32",
                     help="Float type of the weights, input and every value computed "
                     "(float32: what nncli train uses by default).")


def load_model(config: Path, weights: Path | None, overrides: list[str] = (),
               dtype: str = "float64"):
    """(spec, model): CONFIG a spec or a run folder, --weights over the seeded init,
    --set overrides applied to the spec, the model cast to --dtype."""
    from nncli.loading import load

    if dtype not in ("float64", "float32"):
        from nncli.errors import InputError

        raise InputError(f"--dtype: expected float64 or float32, got '{dtype}'")
    loaded = load(config, weights, overrides=overrides)
    return loaded.spec, loaded.model.astype(dtype)


# ---- init ------------------------------------------------------------------------------
@app.command("init")
def init_cmd(
    config: Path = CONFIG,
    overrides: list[str] = SET,
    out: Path = out_option("Where to write the weights: a new .npz file.", required=True,
                           metavar="FILE"),
    force: bool = typer.Option(False, "--force", help="Overwrite FILE if it exists."),
) -> None:
    """Write the spec's seeded initial weights to an .npz file.

    Keys are `<layer index>.<param>` with PyTorch's names and shapes, so they map onto the
    equivalent torch modules. A run folder gives the initial weights of its config.yaml
    (what its training started from, with the vocabulary of its weights), not the trained
    ones: those are its best.npz and last.npz.

    [bold]Examples[/]

      nncli init configs/digits_cnn.yaml -o w0.npz
    """
    from nncli.checkpoint import save_weights
    from nncli.formatting import plural
    from nncli.render.recording import check_target

    check_target(out, force, "--out", (".npz",), "weights")
    spec, _ = load_model(config, None, overrides)
    model = spec.build()         # seeded, also for a run folder (not its trained weights)
    save_weights(out, model.named_params(), spec.vocab.arrays() if spec.vocab else None)
    typer.echo(f"wrote {plural(model.num_params(), 'parameter')} in "
               f"{plural(len(model.named_params()), 'array')} to {out}", err=True)


# ---- summary ---------------------------------------------------------------------------
@app.command("summary")
@draws
def summary_cmd(config: Path = CONFIG, overrides: list[str] = SET,
                as_json: bool = JSON) -> None:
    """A table of the layers: options, output shape, parameter count, memory.

    If a layer's shape is impossible, the rows up to it are shown and then the error.

    [bold]Examples[/]

      nncli summary configs/digits_cnn.yaml
    """
    from nncli import inspection
    from nncli.output import write_json
    from nncli.render.model import show_summary

    s = inspection.summarize(inspection.load_summary_spec(config, overrides),
                             run_folder=Path(config).is_dir())
    if as_json and s.failure is None:
        spec = s.spec
        write_json({"schema": "nncli.summary/1", "name": spec.name,
                    "input_shape": list(spec.input_shape), "layers": s.rows,
                    "total_params": s.total_params,
                    "activation_bytes_per_sample": s.activation_bytes, "dtype": s.dtype,
                    "loss": spec.loss, "reduction": spec.reduction})
    elif not as_json:
        show_summary(s)
    if s.failure is not None:
        raise s.failure
    from nncli.validate import training_problem

    problem = training_problem(s.spec)      # data: and train:, as `train` and `check` see them
    if problem:
        warning_line(f"{problem} ('nncli train' would stop here; 'nncli check' says so too)")


# ---- forward ---------------------------------------------------------------------------
@app.command("forward")
@draws
def forward_cmd(
    config: Path = CONFIG,
    input_: str = INPUT,
    weights: Path | None = WEIGHTS,
    overrides: list[str] = SET,
    layer: int | None = typer.Option(None, "--layer", "-l", help="Show only this layer's "
                                     "output (0-based index, as in `nncli summary`)."),
    dtype: str = DTYPE,
    full: bool = FULL,
    as_json: bool = JSON,
) -> None:
    """Run the input through the network and show every layer's output.

    Each output is shown as a heatmap with statistics over all of it; a large one is cut
    (a note says what was cut) unless --full.

    [bold]Examples[/]

      nncli forward configs/seed_conv.yaml --input configs/seed_conv_A.txt

      nncli forward configs/seed_rnn.yaml --input "1; 2" --json

      nncli forward seed_conv -x configs/seed_conv_A.txt --dtype float32
    """
    from nncli.inspection import tensor_record
    from nncli.io import read_array
    from nncli.output import write_json
    from nncli.render.model import show_forward

    _, model = load_model(config, weights, overrides, dtype)
    x = model.batch(read_array(input_, "--input"), "--input")
    _check_layer(layer, model)
    outputs = model.forward(x).outputs
    picked = range(len(outputs)) if layer is None else [layer]
    if as_json:
        write_json({"schema": "nncli.forward/1", "input_shape": list(x.shape),
                    "layers": [{"index": i, "type": model.layers[i].kind,
                                **tensor_record(outputs[i]), "output": outputs[i]}
                               for i in picked]})
        return
    show_forward(x, outputs, [m.kind for m in model.layers], picked, full)


def _check_layer(layer: int | None, model) -> None:
    from nncli.errors import InputError

    if layer is not None and not 0 <= layer < len(model.layers):
        raise InputError(f"--layer: expected 0..{len(model.layers) - 1} (see nncli summary), "
                         f"got {layer}")


# ---- backward --------------------------------------------------------------------------
@app.command("backward")
@draws
def backward_cmd(
    config: Path = CONFIG,
    input_: str = INPUT,
    target: str = TARGET,
    weights: Path | None = WEIGHTS,
    overrides: list[str] = SET,
    dtype: str = DTYPE,
    full: bool = FULL,
    as_json: bool = JSON,
) -> None:
    """The loss, every parameter's gradient and the gradient norms, layer by layer.

    The examples run the scalar RNN of the notes (docs/course-examples.md example 4), in
    float64 and then in float32.

    [bold]Examples[/]

      nncli backward configs/seed_rnn.yaml --input "1; 2" --target "0.5; -0.25"

      nncli backward seed_rnn -x "1; 2" -y "0.5; -0.25" --dtype float32
    """
    from nncli import inspection
    from nncli.io import read_array
    from nncli.output import write_json
    from nncli.render.model import show_backward

    _, model = load_model(config, weights, overrides, dtype)
    x = model.batch(read_array(input_, "--input"), "--input")
    y = model.targets(read_array(target, "--target"), "--target")
    if len(y) != len(x):
        from nncli.errors import InputError
        from nncli.formatting import plural

        raise InputError(f"--target: {plural(len(y), 'target')} for "
                         f"{plural(len(x), 'input sample')}")
    b = inspection.backward(model, x, y)
    if as_json:
        write_json({"schema": "nncli.backward/1", "loss": b.loss,
                    "loss_name": model.loss_name, "reduction": model.reduction,
                    "params": b.records, "output_grad_norms": b.arriving,
                    "input_grad_norm": b.input_grad_norm})
        return
    show_backward(model.loss_name, model.reduction, b, full)


# ---- gradcheck -------------------------------------------------------------------------
@app.command("gradcheck")
@draws
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
    # 100 = nncli.gradcheck.SAMPLE (not imported here: keeps --help fast).
    max_entries: int | None = typer.Option(None, "--max-entries", metavar="N",
                                           show_default=False, help="Check a seeded sample "
                                           "of at most N entries per tensor (default 100)."),
    check_all: bool = typer.Option(False, "--all", help="Check every entry of every tensor "
                                   "(slow on big models: each entry is two forward passes)."),
    as_json: bool = JSON,
) -> None:
    """Check backward against centred finite differences, in float64.

    One row per parameter (and the input) with the largest relative error; exit code 1 if
    any is above --tol. Each tensor is checked on a seeded sample of 100 entries unless
    --all; a long check shows its progress on stderr. A model that reads token ids (an
    embedding first) has no input row: ids have no gradient.

    [bold]Examples[/]

      nncli gradcheck configs/digits_cnn.yaml --max-entries 50
    """
    import numpy as np

    from nncli import inspection
    from nncli.errors import InputError, RunFailed
    from nncli.gradcheck import SAMPLE, gradcheck
    from nncli.io import read_array
    from nncli.output import write_json
    from nncli.render.model import progress_on_stderr, show_gradcheck

    for option, value in (("--eps", eps), ("--tol", tol)):
        if not 0 < value < float("inf"):
            raise InputError(f"{option}: expected a finite number > 0, got {value}")
    if max_entries is not None and max_entries < 1:
        raise InputError(f"--max-entries: expected an integer >= 1, got {max_entries}")
    if check_all and max_entries is not None:
        raise InputError("--all: checks every entry, so --max-entries has nothing to cap; "
                         "drop one of them")
    entries = None if check_all else (SAMPLE if max_entries is None else max_entries)
    spec, model = load_model(config, weights, overrides)
    rng = np.random.default_rng(spec.seed)
    x = (inspection.random_batch(model, rng) if input_ is None
         else model.batch(read_array(input_, "--input"), "--input"))
    y = (inspection.random_targets(model, rng, len(x)) if target is None
         else read_array(target, "--target"))
    y = model.targets(y, "--target")
    with progress_on_stderr("gradcheck") as progress:
        results = gradcheck(model, x, y, eps=eps, tol=tol, max_entries=entries, rng=rng,
                            progress=progress)
    passed = all(r.passed for r in results)
    if as_json:
        write_json({"schema": "nncli.gradcheck/1", "eps": eps, "tol": tol, "passed": passed,
                    "results": [{"name": r.name, "shape": list(r.shape),
                                 "max_rel_error": r.max_rel_error,
                                 "max_abs_error": r.max_abs_error, "checked": r.checked,
                                 "passed": r.passed} for r in results]})
    else:
        show_gradcheck(results, eps, tol)
    if not passed:
        failed = ", ".join(r.name for r in results if not r.passed)
        raise RunFailed(f"gradient check failed for {failed} (relative error above {tol:g})")
