"""Rendering of `nncli train`, `eval` and `predict`: the live epoch table and progress bar,
the summary and loss chart at the end, the confusion matrix, and class probabilities.
No maths beyond formatting; numpy and rich are imported where they are used."""

from __future__ import annotations

import math
import shlex
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from nncli.train import Trainer

TABLE_ROWS = 20         # epochs shown in the table (the newest); metrics.jsonl has all
PREDICT_ROWS = 50       # samples shown by predict (--json has all)
CONFUSION_MAX = 20      # classes up to which eval draws the confusion matrix


def _q(path: Path | str) -> str:
    return shlex.quote(str(path))


class TrainView:
    """Draws a run: live table + progress bar while training, summary and chart after."""

    def __init__(self, trainer: Trainer, console: Console) -> None:
        from rich.live import Live
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.trainer, self.console = trainer, console
        self.err = console if console.stderr else _stderr_console()
        self.layers = [f"{i}.{layer.kind}" for i, layer in enumerate(trainer.model.layers)
                       if layer.params]
        self.classify = trainer.model.loss_name == "cross_entropy"
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(bar_width=20), MofNCompleteColumn(),
            TextColumn("batches · loss {task.fields[loss]} · {task.fields[speed]}"),
            console=console)
        self.task = self.progress.add_task("", total=1, loss="…", speed="")
        self.first_epoch = trainer.epoch + 1      # the first epoch this command trains
        self.current = 0
        self.started = self.epoch_started = time.perf_counter()
        self.epoch_first_batch = 0
        self._new_epoch(trainer.epoch + 1, trainer.batch)
        self.live = Live(self._renderable(), console=console, refresh_per_second=4)

    # ---- live part ---------------------------------------------------------------------
    def __enter__(self) -> TrainView:
        self.live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        from rich.text import Text

        rows = bool(self.trainer.history)
        self.live.update(self._table() if rows else Text(""), refresh=False)
        self.live.__exit__(*exc)
        if rows and not self.console.is_terminal:   # Live ends a terminal's last line only
            self.console.line()

    def _renderable(self):
        from rich.console import Group

        return Group(self._table(), self.progress)

    def handle(self, event) -> None:
        from nncli import train as core

        t = self.trainer
        if isinstance(event, core.Started):
            self.console.print(self._header(event), soft_wrap=True)
        elif isinstance(event, core.BatchDone):
            if event.epoch != self.current:
                self._new_epoch(event.epoch, event.batch - 1)
            elapsed = max(time.perf_counter() - self.epoch_started, 1e-9)
            seen = (event.batch - self.epoch_first_batch) * t.settings["batch_size"]
            stop = "  [yellow]stopping after this batch (Ctrl-C again: at once)[/]" \
                if t.stop_requested else ""
            self.progress.update(self.task, completed=event.batch, loss=f"{event.loss:.4g}",
                                 speed=f"{seen / elapsed:,.0f} samples/s{stop}")
        elif isinstance(event, core.EpochDone):
            self.live.update(self._renderable())

    def _new_epoch(self, epoch: int, done: int) -> None:
        self.current = epoch
        self.epoch_started = time.perf_counter()
        self.epoch_first_batch = done
        self.progress.reset(self.task, total=self.trainer.batches_per_epoch(), completed=done,
                            description=f"epoch {epoch}/{self.trainer.stop_epoch}",
                            loss="…", speed="")

    def _header(self, event) -> Text:
        from rich.text import Text

        t, s = self.trainer, self.trainer.settings
        what = "resuming" if event.resumed else "training"
        where = (f" from epoch {t.epoch + 1}" + (f", batch {t.batch + 1}" if t.batch else "")
                 if event.resumed else "")
        return Text.assemble(
            (f"{what} {t.spec.name}", "bold"), where,
            f" · {t.model.num_params():,} parameters · {len(t.data.train.x):,} training "
            f"samples · {event.batches} batches of {s['batch_size']} · {s['optimizer']} · "
            f"until epoch "
            f"{event.stop_epoch} · run folder {event.run_dir}")

    def _table(self) -> Table:
        from rich import box
        from rich.table import Table

        from nncli.render import tensor as render

        history = self.trainer.history
        best = (self.trainer.best or {}).get("epoch")
        hidden = max(0, len(history) - TABLE_ROWS)
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                      caption=(f"… {hidden} earlier epochs in metrics.jsonl" if hidden
                               else None), caption_justify="left")
        ppl = any("train_perplexity" in m for m in history)      # a text model
        names = ["epoch", "train\nloss"] + (["train\nacc"] if self.classify else []) + \
            (["train\nppl"] if ppl else []) + ["val\nloss"] + \
            (["val\nacc"] if self.classify else []) + (["val\nppl"] if ppl else []) + \
            ["lr", "time\n(s)"] + [f"|grad|\n{n}" for n in self.layers]
        for name in names:
            table.add_column(name, justify="right")
        for m in history[hidden:]:
            mark = "★" if m["epoch"] == best else " "
            row = [f"{m['epoch']}{mark}", _num(m["train_loss"])]
            if self.classify:
                row.append(_pct(m.get("train_accuracy")))
            if ppl:
                row.append(_num(m.get("train_perplexity")))
            row.append(_num(m["val_loss"]))
            if self.classify:
                row.append(_pct(m.get("val_accuracy")))
            if ppl:
                row.append(_num(m.get("val_perplexity")))
            row += [render.format_float(m["lr"], 3), f"{m['seconds']:.2f}"]
            row += [_num(m["grad_norms"].get(n), 3) for n in self.layers]
            old = m["epoch"] < self.first_epoch
            table.add_row(*row, style="dim" if old else ("bold" if m["epoch"] == best else ""))
        return table

    # ---- after the loop ----------------------------------------------------------------
    def finished(self, resumed: bool) -> None:
        from rich.text import Text


        t, out = self.trainer, self.console
        history = t.history
        run = t.run_dir
        ran = history[self.first_epoch - 1:]
        seconds = sum(m["seconds"] for m in ran)
        wall = time.perf_counter() - self.started
        out.print(Text.assemble(("done: ", "bold green"), f"epochs {self.first_epoch}-"
                                f"{t.epoch} in {wall:.1f} s (training steps {seconds:.1f} s)"))
        if history:
            last = history[-1]
            out.print(Text.assemble((f"last epoch {last['epoch']}  ", "bold"), _summary(last)))
            if t.best is not None:
                best = history[t.best["epoch"] - 1]
                out.print(Text.assemble((f"best epoch {best['epoch']}  ", "bold"),
                                        _summary(best), " → best.npz"))
            out.print()
            out.print(loss_chart(history))
        out.print()
        spans = t.settings["epochs"]
        more = "" if t.epoch < spans else f" --epochs {t.epoch + 10}"
        for label, command in (
                ("run folder", str(run)),
                ("evaluate", f"nncli eval {_q(run)}"),     # a run folder: its best weights
                ("predict", f"nncli predict {_q(run)} --input FILE"),
                ("continue" if t.epoch < spans else "train more",
                 f"nncli train --resume {_q(run)}{more}")):
            out.print(Text.assemble((f"{label:<11} ", "bold"), command), soft_wrap=True)

    def interrupted(self, event) -> None:
        from rich.text import Text

        t = self.trainer
        where = (f"after epoch {event.epoch}" if event.batch == 0 else
                 f"in epoch {event.epoch} after batch {event.batch}/"
                 f"{t.batches_per_epoch()}")
        epochs = f" --epochs {t.stop_epoch}" if t.stop_epoch != t.settings["epochs"] else ""
        self.err.print(Text(f"interrupted {where}; saved {event.checkpoint}", style="yellow"),
                       soft_wrap=True)
        self.err.print(Text(f"resume with: nncli train --resume {_q(t.run_dir)}{epochs}"),
                       soft_wrap=True)

    def hard_stop_hint(self) -> None:
        from rich.text import Text

        from nncli import train as core

        t = self.trainer
        if (t.run_dir / core.LAST).is_file():
            self.err.print(Text(f"stopped at once; the last checkpoint is "
                                f"{t.run_dir / core.LAST}; resume with: nncli train "
                                f"--resume {_q(t.run_dir)}", style="yellow"), soft_wrap=True)


def _stderr_console() -> Console:
    from nncli.render import tensor as render

    return render.console(stderr=True)


def _num(v: float | None, digits: int = 4) -> str:
    from nncli.render import tensor as render

    return "—" if v is None else render.format_float(v, digits)


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{100 * v:.1f}%"


def _summary(m: dict) -> str:
    parts = [f"train loss {_num(m['train_loss'])}"]
    if m.get("val_loss") is not None:
        parts.append(f"val loss {_num(m['val_loss'])}")
    if m.get("val_accuracy") is not None:
        parts.append(f"val acc {_pct(m['val_accuracy'])}")
    if m.get("val_perplexity") is not None:
        parts.append(f"val perplexity {_num(m['val_perplexity'])}")
    return " · ".join(parts)


# --------------------------------------------------------------------------- loss chart

MARKS, BOTH = ("●", "◆"), "◉"


def loss_chart(history: list[dict], width: int = 60, height: int = 12) -> Text:
    """Train and val loss per epoch as a unicode chart: ● train, ◆ val (◉ both at one
    point), each joined by dots.
    The y axis is logarithmic when the losses span more than a factor of 10."""
    from rich.text import Text

    series = [("train", "●", "cyan", [m["train_loss"] for m in history]),
              ("val", "◆", "magenta", [m.get("val_loss") for m in history])]
    series = [s for s in series if any(v is not None for v in s[3])]
    values = [v for s in series for v in s[3] if v is not None]
    n = len(history)
    log = min(values) > 0 and max(values) / min(values) > 10
    f = math.log10 if log else (lambda v: v)
    lo, hi = f(min(values)), f(max(values))
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    cols = max(2, min(width, 3 * n)) if n > 1 else 1
    grid: list[list[tuple[str, str] | None]] = [[None] * cols for _ in range(height)]

    def row_of(v: float) -> int:
        return round((f(v) - lo) / (hi - lo) * (height - 1))

    def col_of(epoch_index: int) -> int:
        return round(epoch_index / (n - 1) * (cols - 1)) if n > 1 else 0

    for _name, mark, colour, ys in series:
        for c in range(cols):                       # the line between epochs
            x = c / (cols - 1) * (n - 1) if n > 1 else 0
            i = min(int(x), n - 2) if n > 1 else 0
            a, b = ys[i], ys[min(i + 1, n - 1)]
            if a is None or b is None:
                continue
            frac = x - i
            y = f(a) + (f(b) - f(a)) * frac
            r = round((y - lo) / (hi - lo) * (height - 1))
            if grid[r][c] is None:
                grid[r][c] = ("·", colour)
        for i, v in enumerate(ys):                  # the epochs themselves
            if v is not None:
                r, c = row_of(v), col_of(i)
                cell = grid[r][c]
                both = cell is not None and cell[0] in MARKS and cell[0] != mark
                grid[r][c] = (BOTH, "bold") if both else (mark, colour)
    labels = {height - 1: hi, 0: lo, (height - 1) // 2: lo + (hi - lo) * ((height - 1) // 2)
              / (height - 1)}
    gutter = max(len(_axis(v, log)) for v in labels.values())
    text = Text()
    title = "loss per epoch" + (" (log scale)" if log else "")
    text.append(f"{title}   ", style="bold")
    for name, mark, colour, _ys in series:
        text.append(f"{mark} {name}  ", style=colour)
    if any(cell and cell[0] == BOTH for row in grid for cell in row):
        text.append(f"{BOTH} both", style="bold")
    text.append("\n")
    for r in range(height - 1, -1, -1):
        label = _axis(labels[r], log) if r in labels else ""
        text.append(f"{label:>{gutter}} ┤" if r in labels else f"{'':>{gutter}} │", style="dim")
        for cell in grid[r]:
            if cell is None:
                text.append(" ")
            else:
                text.append(cell[0], style=cell[1])
        text.append("\n")
    text.append(f"{'':>{gutter}} └" + "─" * cols + "\n", style="dim")
    first, last = "1", str(history[-1]["epoch"])
    first = str(history[0]["epoch"])
    axis = first.ljust(max(cols - len(last), len(first) + 1)) + last if n > 1 else first
    text.append(f"{'':>{gutter}}  {axis}  epoch", style="dim")
    return text


def _axis(v: float, log: bool) -> str:
    from nncli.render import tensor as render

    return render.format_float(10 ** v if log else v, 3)




def show_eval(p: dict, source: str) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from nncli.render import tensor as render

    out = render.console()
    out.print(Text(f"{source} · {p['split']} "
                   f"split, {p['samples']:,} samples", style="dim"))
    line = Text.assemble((f"{p['loss_name']} loss ", "bold"), _num(p["loss"]))
    confusion = p.get("confusion")
    if p.get("accuracy") is not None:
        total = sum(map(sum, confusion))
        right = sum(confusion[i][i] for i in range(len(confusion)))
        line.append_text(Text.assemble("   ", ("accuracy ", "bold"),
                                       f"{_pct(p['accuracy'])} ({right}/{total})"))
    if p.get("perplexity") is not None:
        line.append_text(Text.assemble("   ", ("perplexity ", "bold"),
                                       _num(p["perplexity"])))
    out.print(line)
    if not confusion:
        return
    k = len(confusion)
    if k > CONFUSION_MAX:
        out.print(Text(f"({k} classes: the confusion matrix is in --json)", style="dim"))
        return
    out.print(Text("confusion matrix (rows: true class, columns: predicted class)"))
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("true", justify="right", style="bold")
    for j in range(k):
        table.add_column(str(j), justify="right")
    table.add_column("recall", justify="right")
    for i, row in enumerate(confusion):
        cells: list[Any] = [str(i)]
        for j, count in enumerate(row):
            style = "bold green" if i == j else ("bold red" if count else "dim")
            cells.append(Text(str(count) if count else "·", style=style))
        n = sum(row)
        cells.append(_pct(row[i] / n) if n else "—")
        table.add_row(*cells)
    out.print(table)




def show_predict(p: dict, source: str) -> None:
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
