"""`nncli export`: a model to PyTorch (model.py + weights), safetensors or ONNX.

The command collects options, loads the model (a spec or a run folder, --weights), hands
it to nncli.export.files and the result to nncli.render.export. torch, onnx and
onnxruntime are imported only when the export or its --check needs them.
"""

from __future__ import annotations

from pathlib import Path

import typer

from nncli.app import app
from nncli.commands.options import CONFIG, JSON, SET, out_option, weights_option


@app.command("export")
def export_cmd(
    config: Path = CONFIG,
    to: str = typer.Option(..., "--to", metavar="FORMAT", show_default=False,
                           help="torch: a folder with model.py (a torch.nn.Module), "
                           "weights.safetensors and USAGE.md; safetensors: the weights "
                           "alone, the spec in the file's metadata; onnx: an ONNX graph "
                           '(float32; needs pip install "nncli\\[onnx]").'),
    out: Path = out_option("Where to write: a folder for --to torch, a file for "
                           "safetensors (*.safetensors) and onnx.", required=True),
    weights: Path | None = weights_option(),
    overrides: list[str] = SET,
    dtype: str | None = typer.Option(None, "--dtype", metavar="DTYPE", show_default=False,
                                     help="float64 (the default: nncli's weights exactly) "
                                     "or float32. onnx exports are float32."),
    check: bool = typer.Option(False, "--check", help="Run the export in torch "
                               "(onnxruntime for onnx) on a seeded batch, compare it with "
                               "nncli's forward pass and print max |Δ|; exit 1 above 1e-5 "
                               "(float32) or 1e-10 (float64), times the outputs' largest "
                               "magnitude when above 1."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing output files."),
    as_json: bool = JSON,
) -> None:
    """Export a model to PyTorch, safetensors or ONNX; --check runs it there.

    Parameter names stay nncli's (`<layer index>.<torch name>`), so the
    weights load into the generated module unchanged, and nncli reads a
    .safetensors file back with --weights.

    [bold]Examples[/]

      nncli export digits_cnn --to torch -o digits_torch --check

      nncli export seed_rnn --to safetensors -o seed_rnn.safetensors

      nncli export sine_rnn --to onnx -o sine_rnn.onnx --check
    """
    from nncli.errors import RunFailed
    from nncli.export.files import export
    from nncli.loading import load

    loaded = load(config, weights, overrides=overrides)
    done = export(loaded, to, out, dtype=dtype, force=force, check=check)
    if as_json:
        from nncli.output import write_json

        write_json({"schema": "nncli.export/1", "name": loaded.spec.name,
                    "source": loaded.source, **done.record()})
    else:
        from nncli.render.export import print_export
        from nncli.render.tensor import console

        print_export(done, loaded.spec.name, console())
    if done.check is not None and not done.check.passed:
        c = done.check
        if c.max_abs_diff == float("inf"):
            raise RunFailed(f"export check failed: the outputs of {c.runtime} or nncli "
                            f"overflow (inf or nan) on the seeded batch, so they cannot be "
                            f"compared; the files are written")
        raise RunFailed(f"export check failed: max |Δ| {c.max_abs_diff:.3g} between "
                        f"{c.runtime} and nncli is above {c.tolerance:.3g} ({c.dtype}); "
                        f"the files are written")
