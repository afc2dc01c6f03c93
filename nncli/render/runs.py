"""The views of `nncli runs` (a row per run folder) and `nncli compare` (the runs' config
differences and their curves overlaid). The numbers come from nncli.runs; the curves are
drawn by nncli.render.chart, the chart `nncli train` ends with."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from nncli.render import tensor as render
from nncli.render.chart import MARKS, line_chart, series
from nncli.runs import FINISHED, Run, differences, iso_time, show_value

MAX_CURVES = len(MARKS)        # runs compare can tell apart in one chart


def best_text(run: Run) -> str:
    """The best epoch's val metric and the epoch: 'acc 94.4% @3', 'ppl 12.3 @5',
    'loss 0.1875 @2' ('—': no epoch done)."""
    m = run.best
    if m is None:
        return "—"
    if m.get("val_accuracy") is not None:
        value = f"acc {100 * m['val_accuracy']:.1f}%"
    elif m.get("val_perplexity") is not None:
        value = f"ppl {render.format_float(m['val_perplexity'], 4)}"
    elif m.get("val_loss") is not None:
        value = f"loss {render.format_float(m['val_loss'], 4)}"
    else:
        value = f"train loss {render.format_float(m['train_loss'], 4)}"
    return f"{value} @{m['epoch']}"


def status_text(run: Run) -> Text:
    """finished (green), or resumable (yellow), with 'mid-epoch' if stopped inside one."""
    if run.status == FINISHED:
        return Text(FINISHED, style="green")
    return Text("resumable" + (" mid-epoch" if run.batch else ""), style="yellow")


def runs_table(runs: Sequence[Run], diffs: dict[str, list] | None) -> Table:
    """A row per run: name, start, epochs done of train.epochs, the best val metric @ its
    epoch, finished or resumable, and the config values that differ (if `diffs`)."""
    # At 80 columns the date, the metric and the status wrap; the run's name and the
    # differences share the rest.
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("run", overflow="fold", style="bold", ratio=1)
    table.add_column("started", max_width=10)
    table.add_column("epochs", justify="right", no_wrap=True)
    table.add_column("best val @epoch", justify="right", max_width=10)
    table.add_column("status", max_width=9)
    if diffs is not None:
        table.add_column("differs", overflow="fold", ratio=2)
    for i, run in enumerate(runs):
        row: list = [run.name, iso_time(run.started).replace("T", " ")[:16],
                     f"{run.epoch}/{run.epochs}", best_text(run), status_text(run)]
        if diffs is not None:
            row.append("\n".join(f"{path}={show_value(values[i])}"
                                  for path, values in diffs.items()) or "—")
        table.add_row(*row)
    return table


def _notes(out: Console, runs: Sequence[Run]) -> None:
    for run in runs:
        for note in run.notes:
            out.print(Text(f"note: {run.name}: {note}", style="dim"))


def show_runs(root: Path, runs: list[Run], skipped: list[tuple[Path, str]]) -> None:
    out = render.console()
    counted = render.plural(len(runs), "run")
    if skipped:
        counted += f", {render.plural(len(skipped), 'other folder')} skipped"
    out.print(Text.assemble(("runs in ", "bold"), (str(root), "bold"), f" ({counted})"))
    if runs:
        diffs = differences([r.config for r in runs]) if len(runs) > 1 else None
        out.print(runs_table(runs, diffs))
        if diffs == {}:
            out.print(Text("the runs' configs are the same", style="dim"))
    _notes(out, runs)
    for folder, reason in skipped:
        out.print(Text(f"note: skipped {folder.name}/: not a run folder ({reason})",
                       style="dim"))
    if runs:
        first = runs[-1].path
        out.print(Text(f"see one: nncli report {first} · side by side: nncli compare RUN RUN",
                       style="dim"), soft_wrap=True)


def show_compare(runs: list[Run]) -> None:
    out = render.console()
    out.print(runs_table(runs, None))
    _notes(out, runs)
    out.print()
    diffs = differences([r.config for r in runs])
    if diffs:
        table = Table(title="config differences", title_justify="left", box=box.SIMPLE_HEAD,
                      show_edge=False, pad_edge=False)
        table.add_column("path (--set)", overflow="fold", style="bold")
        for run in runs:
            table.add_column(run.name, overflow="fold")
        for path, values in diffs.items():
            table.add_row(path, *(show_value(v) for v in values))
        out.print(table)
    else:
        out.print(Text("the configs are the same (the runs differ only in how far they "
                       "trained)", style="dim"))
    for title, key in (("val loss per epoch", "val_loss"),
                       ("val accuracy per epoch", "val_accuracy"),
                       ("val perplexity per epoch", "val_perplexity")):
        chart = curves(runs, key, title)
        if chart is not None:
            out.print()
            out.print(chart)


def curves(runs: Sequence[Run], key: str, title: str) -> Text | None:
    """Every run's `key` per epoch overlaid (train loss stands in for a run without val
    data, named so in the legend); None if no run has the values."""
    epochs = sorted({m["epoch"] for r in runs for m in r.history})
    names, values = [], []
    for run in runs:
        by_epoch = {m["epoch"]: m for m in run.history}
        use, label = key, run.name
        if key == "val_loss" and not any(m.get(key) is not None for m in run.history):
            use, label = "train_loss", f"{run.name} (train)"
        names.append(label)
        values.append([by_epoch.get(e, {}).get(use) for e in epochs])
    if not epochs or all(v is None for ys in values for v in ys):
        return None
    if key == "val_accuracy":
        values = [[None if v is None else 100 * v for v in ys] for ys in values]
        title += " (%)"
    return line_chart(title, series(names, values), epochs)
