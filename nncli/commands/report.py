"""`nncli report RUN_DIR`: a run as one self-contained HTML page (curves, the confusion
matrix, filters, grad-trace, completions, the epochs and the config).

Parses options, checks the output file first, calls nncli.report for the numbers and
nncli.render.report for the page, and writes it atomically. matplotlib (the `report`
extra) is imported only here, by the chart module.
"""

from __future__ import annotations

from pathlib import Path

import typer

from nncli.app import app
from nncli.commands.options import out_option

REPORT_FILE = "report.html"


@app.command("report")
def report_cmd(
    run_dir: Path = typer.Argument(..., metavar="RUN_DIR", show_default=False,
                                   help="A run folder made by 'nncli train' (finished, "
                                   "stopped or still running)."),
    out: Path | None = out_option(f"The HTML file to write. Default: RUN_DIR/{REPORT_FILE}.",
                                  metavar="FILE"),
    force: bool = typer.Option(False, "--force", help="Overwrite FILE if it exists."),
) -> None:
    """Write a run's report: one HTML page to open in any browser, offline.

    The page holds the loss and accuracy (or perplexity) curves of train and
    val with the best epoch marked, each layer's gradient norm and the
    learning rate per epoch, and from the best weights on the run's own data:
    the confusion matrix of a classifier, the first conv layer's filters as
    images, the grad-trace of a recurrent model on a test sample and greedy
    completions of a text model; then every epoch's numbers and the resolved
    config. Everything is inside the file (no fonts, scripts or pictures are
    fetched), so it can be mailed or handed in, and it reads on a phone.
    Charts need matplotlib: pip install "nncli[report]".

    [bold]Examples[/]

      nncli report runs/mlp

      nncli report runs/cnn -o cnn-report.html --force
    """
    import time

    from nncli import report as core
    from nncli.output import atomic_write
    from nncli.render.recording import check_target
    from nncli.render.report import page
    from nncli.render.tensor import console
    from nncli.runs import read_run

    started = time.perf_counter()
    run = read_run(run_dir, "RUN_DIR")
    target = out if out is not None else run_dir / REPORT_FILE
    check_target(target, force, "--out", (".html", ".htm"), name="report")
    html, titles = page(core.gather(run))
    atomic_write(target, html, name="--out")
    seconds = time.perf_counter() - started
    console().print(f"wrote {target} ({len(html.encode()) / 1024:,.0f} KB, {len(titles)} "
                    f"charts) in {seconds:.1f} s; open it in a browser", markup=False,
                    highlight=False, soft_wrap=True)
