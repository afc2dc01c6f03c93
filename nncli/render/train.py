"""Rendering of `nncli train`: the live epoch table and progress bar, the summary and loss
chart at the end (`eval` and `predict` are drawn by nncli.render.evaluate).
No maths beyond formatting; numpy and rich are imported where they are used."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from nncli.formatting import shell_word

if TYPE_CHECKING:
    from rich.console import Console, Group
    from rich.text import Text

    from nncli.train import Trainer

TABLE_ROWS = 20         # epochs shown in the table (the newest); metrics.jsonl has all


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

        from nncli.render.tensor import flowed, plural

        t, s = self.trainer, self.trainer.settings
        what = "resuming" if event.resumed else "training"
        where = (f" from epoch {t.epoch + 1}" + (f", batch {t.batch + 1}" if t.batch else "")
                 if event.resumed else "")
        return flowed([Text.assemble((f"{what} {t.spec.name}", "bold"), where),
                       plural(t.model.num_params(), "parameter"),
                       plural(len(t.data.train.x), "training sample"),
                       f"{plural(event.batches, 'batch')} of {s['batch_size']}", s["optimizer"],
                       s["dtype"], t.engine.describe(), f"until epoch {event.stop_epoch}",
                       f"run folder {event.run_dir}"], self.console.width)

    def _table(self) -> Group:
        from rich import box
        from rich.table import Table

        from nncli.render.tensor import titled

        history = self.trainer.history
        best = (self.trainer.best or {}).get("epoch")
        hidden = max(0, len(history) - TABLE_ROWS)
        shown = history[hidden:]
        fold = (f"{GRAD}all", [metric(_global_norm(m["grad_norms"]), 3) for m in shown])
        columns, folded = fit_columns(self._columns(shown), self.console.width, fold)
        notes = ([f"… {hidden} earlier epochs in metrics.jsonl"] if hidden else []) + \
            ([folded] if folded else [])
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                      caption="\n".join(notes) or None, caption_justify="left")
        for name, _ in columns:
            table.add_column(name, justify="right")
        for row, m in enumerate(shown):
            old = m["epoch"] < self.first_epoch
            table.add_row(*(cells[row] for _, cells in columns),
                          style="dim" if old else ("bold" if m["epoch"] == best else ""))
        return titled(table)

    def _columns(self, shown: list[dict]) -> list[tuple[str, list[str]]]:
        """(header, one cell per epoch) for every column the table can show, the per-layer
        gradient norms last (they go first when the width is short: fit_columns)."""
        from nncli.render import tensor as render

        best = (self.trainer.best or {}).get("epoch")
        ppl = any("train_perplexity" in m for m in shown)      # a text model
        columns = [("epoch", [f"{m['epoch']}{'★' if m['epoch'] == best else ' '}"
                              for m in shown])]
        for split in ("train", "val"):
            columns.append((f"{split}\nloss", [metric(m[f"{split}_loss"]) for m in shown]))
            if self.classify:
                columns.append((f"{split}\nacc", [percent(m.get(f"{split}_accuracy"))
                                                  for m in shown]))
            if ppl:
                columns.append((f"{split}\nppl", [metric(m.get(f"{split}_perplexity"))
                                                  for m in shown]))
        columns.append(("lr", [render.format_float(m["lr"], 3) for m in shown]))
        columns.append(("time\n(s)", [f"{m['seconds']:.2f}" for m in shown]))
        columns += [(f"|grad|\n{n}", [metric(m["grad_norms"].get(n), 3) for m in shown])
                    for n in self.layers]
        return columns

    # ---- after the loop ----------------------------------------------------------------
    def finished(self, resumed: bool) -> None:
        from rich.text import Text


        t, out = self.trainer, self.console
        history = t.history
        run = t.run_dir
        ran = history[self.first_epoch - 1:]
        seconds = sum(m["seconds"] for m in ran)
        wall = time.perf_counter() - self.started
        epochs = (f"epoch {t.epoch}" if self.first_epoch == t.epoch else
                  f"epochs {self.first_epoch}-{t.epoch}")
        out.print(Text.assemble(("done: ", "bold green"), f"{epochs} in {wall:.1f} s "
                                f"(training steps {seconds:.1f} s)"))
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
                ("evaluate", f"nncli eval {shell_word(run)}"),     # a run folder: its best weights
                *_use(t, run),
                ("continue" if t.epoch < spans else "train more",
                 f"nncli train --resume {shell_word(run)}{more}")):
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
        self.err.print(Text(f"resume with: nncli train --resume {shell_word(t.run_dir)}{epochs}"),
                       soft_wrap=True)

    def hard_stop_hint(self) -> None:
        from rich.text import Text

        from nncli import train as core

        t = self.trainer
        if (t.run_dir / core.LAST).is_file():
            self.err.print(Text(f"stopped at once; the last checkpoint is "
                                f"{t.run_dir / core.LAST}; resume with: nncli train "
                                f"--resume {shell_word(t.run_dir)}", style="yellow"),
                           soft_wrap=True)


def _use(trainer: Trainer, run: Path) -> list[tuple[str, str]]:
    """The closing hint's commands that use the model: predict on new input, or for a
    text model complete a prompt (and agreement, for a model of the agreement grammar)."""
    if trainer.spec.vocab is None:
        return [("predict", f"nncli predict {shell_word(run)} --input FILE")]
    data = trainer.spec.raw.get("data")
    name = data.get("name") if isinstance(data, dict) else data
    return [("complete", f"nncli complete {shell_word(run)} --prompt TEXT"),
            *([("agreement", f"nncli agreement {shell_word(run)}")]
              if name == "agreement" else [])]


def show_nothing_to_train(console: Console, trainer: Trainer) -> None:
    """The run has reached its --epochs already: say so and how to train further."""
    console.print(f"nothing to train: '{trainer.run_dir}' has trained {trainer.epoch} of "
                  f"{trainer.stop_epoch} epochs; pass --epochs {trainer.epoch + 1} or more "
                  f"to train further", style="yellow", markup=False, soft_wrap=True)


def _stderr_console() -> Console:
    from nncli.render import tensor as render

    return render.console(stderr=True)


def metric(v: float | None, digits: int = 4) -> str:
    """A metric to `digits` significant figures; — when there is none."""
    from nncli.render import tensor as render

    return "—" if v is None else render.format_float(v, digits)


def percent(v: float | None) -> str:
    """A fraction as a percentage with one decimal; — when there is none."""
    return "—" if v is None else f"{100 * v:.1f}%"


GRAD = "|grad|\n"     # the header of a per-layer gradient norm column


# Left out in this order when even one gradient column does not fit (metrics.jsonl has all).
DROP_ORDER = ("train\nppl", "train\nacc", "time\n(s)", "lr")


def fit_columns(columns: list[tuple[str, list[str]]], width: int,
                fold: tuple[str, list[str]]) -> tuple[list[tuple[str, list[str]]], str | None]:
    """The columns that fit `width` (rich's SIMPLE_HEAD table: 3 characters between
    columns), and a note saying what had to go: the per-layer gradient norms first (folded
    into `fold`, one column of their global L2 norm, else left out), then DROP_ORDER's."""
    grads = [c for c in columns if c[0].startswith(GRAD)]
    kept = [c for c in columns if not c[0].startswith(GRAD)]
    if _width(columns) <= width or not grads:
        return columns, None
    if len(grads) > 1 and _width([*kept, fold]) <= width:
        return [*kept, fold], (f"|grad| all: {len(grads)} layers' gradient norms as one L2 "
                               f"norm; each is in metrics.jsonl")
    gone = ["|grad|"]
    for name in DROP_ORDER:
        if _width(kept) <= width:
            break
        if any(header == name for header, _ in kept):
            kept = [c for c in kept if c[0] != name]
            gone.append(name.replace("\n", " "))
    return kept, f"left out to fit {width} columns: {', '.join(gone)} (see metrics.jsonl)"


def _width(columns: list[tuple[str, list[str]]]) -> int:
    widths = [max(len(line) for text in (name, *cells) for line in text.split("\n"))
              for name, cells in columns]
    return sum(widths) + 3 * (len(widths) - 1)


def _global_norm(norms: dict) -> float | None:
    """sqrt(sum of squares) of the per-layer gradient norms (None when none is known)."""
    import math

    values = [v for v in norms.values() if v is not None]
    return math.sqrt(sum(v * v for v in values)) if values else None


def _summary(m: dict) -> str:
    parts = [f"train loss {metric(m['train_loss'])}"]
    if m.get("val_loss") is not None:
        parts.append(f"val loss {metric(m['val_loss'])}")
    if m.get("val_accuracy") is not None:
        parts.append(f"val acc {percent(m['val_accuracy'])}")
    if m.get("val_perplexity") is not None:
        parts.append(f"val perplexity {metric(m['val_perplexity'])}")
    return " · ".join(parts)


# --------------------------------------------------------------------------- loss chart

def loss_chart(history: list[dict], width: int = 60, height: int = 12) -> Text:
    """Train and val loss per epoch as a unicode chart (nncli.render.chart, the chart
    `nncli compare` overlays runs with): ● train, ◆ val (◉ both at one point), each joined
    by dots. The y axis is logarithmic when the losses span more than a factor of 10."""
    from nncli.render.chart import line_chart, series

    lines = series(("train", "val"), ([m["train_loss"] for m in history],
                                      [m.get("val_loss") for m in history]))
    return line_chart("loss per epoch", lines, [m["epoch"] for m in history], width, height)
