"""Rendering of `nncli eval` and `nncli predict`: the loss and accuracy on a split with the
confusion matrix, and the predicted classes with their probabilities (or the outputs).
The numbers come from the core (nncli.evaluation.evaluate, nncli.inspection.predict)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nncli.render.train import metric, percent

if TYPE_CHECKING:
    from rich.console import Console

PREDICT_ROWS = 50       # samples shown by predict (--json has all)
CONFUSION_MAX = 20      # classes up to which eval draws the confusion matrix


def show_eval(p: dict, source: str, full: bool = False) -> None:
    """The loss (accuracy, perplexity) on one split, and the confusion matrix of a
    classifier with up to CONFUSION_MAX classes (any number with `full`), its columns in
    blocks as wide as the console."""
    from rich.text import Text

    from nncli.render import tensor as render

    out = render.console()
    out.print(Text(f"{source} · {p['split']} "
                   f"split, {p['samples']:,} samples", style="dim"))
    line = Text.assemble((f"{p['loss_name']} loss ", "bold"), metric(p["loss"]))
    confusion = p.get("confusion")
    if p.get("accuracy") is not None:
        total = sum(map(sum, confusion))
        right = sum(confusion[i][i] for i in range(len(confusion)))
        line.append_text(Text.assemble("   ", ("accuracy ", "bold"),
                                       f"{percent(p['accuracy'])} ({right}/{total})"))
    if p.get("perplexity") is not None:
        line.append_text(Text.assemble("   ", ("perplexity ", "bold"),
                                       metric(p["perplexity"])))
    out.print(line)
    if not confusion:
        return
    k = len(confusion)
    if k > CONFUSION_MAX and not full:
        out.print(Text(f"({k} classes: the confusion matrix is in --json, or drawn with "
                       f"--full)", style="dim"))
        return
    out.print(Text("confusion matrix (rows: true class, columns: predicted class)"))
    for block in _column_blocks(confusion, out.width):
        out.print(_confusion_table(confusion, block, last=block[-1] == k - 1))


def _column_blocks(confusion: list[list[int]], width: int) -> list[list[int]]:
    """The predicted-class columns in blocks that fit `width` with the true/recall columns."""
    k = len(confusion)
    sizes = [max(len(str(j)), *(len(str(row[j])) for row in confusion)) + 3 for j in range(k)]
    room = max(width - len("true") - len("recall") - 6, 1)
    blocks: list[list[int]] = [[]]
    used = 0
    for j, size in enumerate(sizes):
        if blocks[-1] and used + size > room:
            blocks.append([])
            used = 0
        blocks[-1].append(j)
        used += size
    return blocks


def _confusion_table(confusion: list[list[int]], columns: list[int], last: bool):
    """One block of the confusion matrix: the true class, `columns`, recall in the last."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("true", justify="right", style="bold")
    for j in columns:
        table.add_column(str(j), justify="right")
    if last:
        table.add_column("recall", justify="right")
    for i, row in enumerate(confusion):
        cells: list[Any] = [str(i)]
        for j in columns:
            count = row[j]
            style = "bold green" if i == j else ("bold red" if count else "dim")
            cells.append(Text(str(count) if count else "·", style=style))
        if last:
            n = sum(row)
            cells.append(percent(row[i] / n) if n else "—")
        table.add_row(*cells)
    return table


def show_predict(p: dict, source: str) -> None:
    """Each sample's predicted class with its probability (every class's bar for one
    sample), or a regression model's outputs."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from nncli.render import tensor as render

    out = render.console()
    out.print(Text(f"{source} · input {render.shape_str(p['input_shape'])}", style="dim"))
    if "probabilities" not in p:
        y = p["outputs"]
        if y.ndim == 2 and y.shape[1] <= 8:
            table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
            table.add_column("sample", justify="right", style="dim")
            for j in range(y.shape[1]):
                table.add_column(f"output {j}" if y.shape[1] > 1 else "output",
                                 justify="right")
            for i, row in enumerate(y[:PREDICT_ROWS]):
                table.add_row(str(i), *(render.format_float(v, 5) for v in row))
            out.print(table)
            _more(out, len(y))
        else:
            out.print(render.heatmap(y if len(y) > 1 else y[0], "outputs",
                                     axis_names=("sample",)))
        return
    probs, pred = p["probabilities"], p["predicted"]
    if probs.ndim > 2:                      # a label per time step: show the classes
        out.print(render.heatmap(pred if len(pred) > 1 else pred[0], "predicted classes",
                                 axis_names=("sample",)))
        return
    if len(probs) == 1:
        best = int(pred[0])
        out.print(Text.assemble(("predicted class ", "bold"), (str(best), "bold green"),
                                f"  (P = {render.format_float(probs[0, best], 4)})"))
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        for name in ("class", "P"):
            table.add_column(name, justify="right")
        table.add_column("")
        for j, v in enumerate(probs[0]):
            table.add_row(str(j), f"{v:.4f}", render.bar(float(v), 30),
                          style="bold green" if j == best else "")
        out.print(table)
        return
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for name in ("sample", "predicted", "P"):
        table.add_column(name, justify="right")
    table.add_column("")
    for i, (row, c) in enumerate(zip(probs[:PREDICT_ROWS], pred[:PREDICT_ROWS], strict=True)):
        table.add_row(str(i), str(int(c)), f"{row[c]:.4f}", render.bar(float(row[c]), 20))
    out.print(table)
    _more(out, len(probs))


def _more(out: Console, n: int) -> None:
    from rich.text import Text

    if n > PREDICT_ROWS:
        out.print(Text(f"… {n - PREDICT_ROWS} more samples (use --json for all)", style="dim"))
