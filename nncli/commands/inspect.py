"""`nncli weights` (a model's parameters as heatmaps with statistics) and `nncli data` (one
sample of a dataset: a digit, a sequence, a text window).

Each parses its options, loads through the core (nncli.loading, nncli.samples) and hands
the result to nncli.render.inspect, or prints plain JSON with --json. numpy and rich are
imported inside the functions so `nncli --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import typer

from nncli.app import app
from nncli.commands.options import JSON, SET, WEIGHTS, config_argument, draws
from nncli.errors import InputError

SPLIT_HELP = "Which split: test, val or train."


@app.command("weights")
@draws
def weights_cmd(
    config: Path = config_argument(extra="Without --weights a spec shows its seeded "
                                   "initial weights."),
    weights: Path | None = WEIGHTS,
    overrides: list[str] = SET,
    layer: int | None = typer.Option(None, "--layer", metavar="I", show_default=False,
                                     help="Only layers[I] (default: every layer with "
                                     "parameters)."),
    as_json: bool = JSON,
) -> None:
    """Show a model's parameters as heatmaps, with their statistics.

    First a table of every parameter (shape, min, max, mean, std, L2 norm),
    then each one drawn: a conv weight as one map per filter and input
    channel, a dense weight as its outputs x inputs matrix, a bias as a row.
    In colour, blue is negative and red positive; with NO_COLOR or in a pipe the
    numbers carry their sign, and a note under the maps names the marks shown.

    [bold]Examples[/]

      nncli weights runs/cnn --layer 0

      nncli weights configs/digits_cnn.yaml --json
    """
    from nncli.loading import load

    loaded = load(config, weights, overrides=overrides)
    model = loaded.model
    with_params = [(i, lay) for i, lay in enumerate(model.layers) if lay.params]
    if layer is not None:
        chosen = [(i, lay) for i, lay in with_params if i == layer]
        if not chosen:
            have = ", ".join(f"{i} ({lay.kind})" for i, lay in with_params) or "none"
            what = (f"layers[{layer}] is {model.layers[layer].kind}, which has no parameters"
                    if 0 <= layer < len(model.layers) else f"there is no layers[{layer}]")
            raise InputError(f"--layer: {what}; layers with parameters: {have}")
        with_params = chosen
    if as_json:
        from nncli import budget, inspection, output

        values = sum(w.size for _, lay in with_params for w in lay.params.values())
        budget.check_budget(values * 64, "--json", f"printing {values} values as JSON",
                            "pick one layer with --layer")
        output.write_json({
            "schema": "nncli.weights/1", "model": loaded.spec.name,
            "weights": None if loaded.weights is None else str(loaded.weights),
            "epoch": loaded.epoch,
            "layers": [{"index": i, "kind": lay.kind,
                        "params": {key: {**inspection.tensor_record(w), "values": w}
                                   for key, w in lay.params.items()}}
                       for i, lay in with_params]})
        return
    from nncli.render.inspect import show_weights

    show_weights(loaded.source, with_params)


@app.command("data")
@draws
def data_cmd(
    source: str = typer.Argument(..., metavar="NAME_OR_CONFIG", show_default=False,
                                 help="A built-in dataset's name (digits, bars, sine, "
                                 "adding, sonnets, agreement) with its default options, or "
                                 "a spec, run folder or built-in config: its data: "
                                 "section and seed."),
    sample: int = typer.Option(0, "--sample", metavar="I", help="Which sample of the split "
                               "(0 is the first)."),
    split: str = typer.Option("test", "--split", help=SPLIT_HELP),
    overrides: list[str] = SET,
    as_json: bool = JSON,
) -> None:
    """Show one sample of a dataset: a digit, a sequence or a text window.

    An image is drawn as a heatmap (a digit: 8x8), a sequence as steps x
    features, a text window as its text; then the label or target. The
    indices are those 'nncli eval --errors' lists and 'nncli predict
    --sample' takes.

    [bold]Examples[/]

      nncli data digits --sample 5

      nncli data configs/chars_rnn.yaml --sample 2 --split val

      nncli data sine --sample 0 --json
    """
    from nncli import samples
    from nncli.datasets import load_dataset

    samples.check_split(split)
    data = None if Path(source).exists() else samples.load_named(source)
    if data is not None and overrides:
        raise InputError(f"--set: a dataset name takes its default options; put them in a "
                         f"spec's data: section instead of {overrides[0]!r}")
    config = None
    if data is None:
        from nncli import resources
        from nncli.inspection import load_summary_spec

        if not Path(source).exists() and resources.builtin_config(source) is None:
            from nncli.datasets import registry
            from nncli.options import suggest

            names = list(registry.named())
            raise InputError(f"NAME_OR_CONFIG: '{source}' is neither a dataset nor a spec, "
                             f"run folder or built-in config{suggest(source, names)}; "
                             f"datasets: {', '.join(names)} (configs: nncli examples)")

        spec = load_summary_spec(Path(source), overrides, "NAME_OR_CONFIG")
        if "data" not in spec.raw:
            raise InputError(f"NAME_OR_CONFIG: the spec {source} has no data: section; name "
                             f"a dataset instead (digits, sine, ...)")
        data = load_dataset(spec.raw["data"], spec.base_dir, spec.seed, spec)
        config = source if Path(source).is_dir() else None
    chosen = samples.sample(data, split, sample)
    if as_json:
        from nncli.output import write_json

        write_json({"schema": "nncli.data/1", **chosen.to_dict()})
        return
    from nncli.render.inspect import show_sample

    show_sample(chosen, run_dir=config)
