"""`nncli runs` (the run folders of an afternoon, a row each) and `nncli compare` (runs
side by side: config differences and curves overlaid).

Each reads run folders through nncli.runs and hands them to nncli.render.runs, or prints
plain JSON with --json. numpy and rich are imported inside the functions so `nncli --help`
stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from nncli.app import app
from nncli.commands.options import JSON, draws
from nncli.errors import InputError

if TYPE_CHECKING:
    from nncli.runs import Run


def _differs(runs: list[Run]) -> list[dict[str, Any]]:
    """Each run's values of the config paths that differ between the runs (a path the
    run's config lacks is left out)."""
    from nncli.runs import MISSING, differences

    diffs = differences([r.config for r in runs]) if len(runs) > 1 else {}
    return [{path: values[i] for path, values in diffs.items() if values[i] is not MISSING}
            for i in range(len(runs))]


@app.command("runs")
@draws
def runs_cmd(
    folder: Path = typer.Argument(Path("runs"), metavar="[DIR]", show_default=False,
                                  help="The folder that holds the run folders (default: "
                                  "runs/, where 'nncli train' puts them)."),
    as_json: bool = JSON,
) -> None:
    """List the run folders in DIR: a row each, with what differs between them.

    A row shows the run's folder, when it started, the config values that differ
    between the runs (as --set paths), epochs done of train.epochs, the best val
    metric (accuracy, perplexity or loss) and its epoch, and whether the run
    finished or can be resumed (nncli train --resume). Folders that are not
    run folders are skipped with a note.

    [bold]Examples[/]

      nncli runs

      nncli runs runs/ --json
    """
    from nncli.runs import scan

    runs, skipped = scan(folder)
    if as_json:
        from nncli.output import write_json

        write_json({"schema": "nncli.runs/1", "folder": str(folder),
                    "runs": [{**r.to_dict(), "differs": d}
                             for r, d in zip(runs, _differs(runs), strict=True)],
                    "skipped": [{"path": str(p), "reason": why} for p, why in skipped]})
        return
    from nncli.render.runs import show_runs

    show_runs(folder, runs, skipped)


@app.command("compare")
@draws
def compare_cmd(
    folders: list[Path] = typer.Argument(..., metavar="RUN RUN...", show_default=False,
                                         help="Two or more run folders made by 'nncli "
                                         "train' (nncli runs lists them)."),
    as_json: bool = JSON,
) -> None:
    """Runs side by side: their config differences and their curves overlaid.

    A table of the runs (epochs, best val metric, status), the config values
    that differ (as --set paths, one column per run), then the val loss and
    val accuracy (or perplexity) of every run per epoch in one chart each.
    --save compare.svg (or .html) keeps the picture.

    [bold]Examples[/]

      nncli compare runs/mlp runs/cnn

      nncli compare runs/mlp runs/cnn --save mlp-vs-cnn.svg
    """
    from nncli.render.runs import MAX_CURVES
    from nncli.runs import read_run

    if len(folders) < 2:
        raise InputError("RUN: give at least two run folders to compare (nncli runs lists "
                         "them); for one run see nncli report RUN")
    if len(folders) > MAX_CURVES:
        raise InputError(f"RUN: at most {MAX_CURVES} runs fit in one chart, got "
                         f"{len(folders)}; compare fewer at a time")
    runs = [read_run(f, "RUN") for f in folders]
    if as_json:
        from nncli.output import write_json

        history_keys = ("epoch", "train_loss", "train_accuracy", "train_perplexity",
                        "val_loss", "val_accuracy", "val_perplexity", "lr")
        write_json({"schema": "nncli.compare/1",
                    "runs": [{**r.to_dict(), "differs": d,
                              "history": [{k: m[k] for k in history_keys if k in m}
                                          for m in r.history]}
                             for r, d in zip(runs, _differs(runs), strict=True)]})
        return
    from nncli.render.runs import show_compare

    show_compare(runs)
