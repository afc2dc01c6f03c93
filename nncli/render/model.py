"""The views of the model commands: `summary`'s layer table, `forward`'s heatmaps,
`backward`'s gradients and norms, `gradcheck`'s verdicts. The numbers come from the core
(nncli.inspection, nncli.gradcheck); this module only draws them."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
from rich.table import Table

from nncli.budget import human_bytes
from nncli.inspection import Backward, Summary
from nncli.render.tensor import (
    FULL_HINT,
    console,
    format_float,
    format_number,
    heatmap,
    param_axes,
    titled,
)


def show_summary(s: Summary) -> None:
    """The layer table (rows up to a shape failure), with totals when it is complete."""
    spec, complete = s.spec, s.failure is None
    table = Table(title=f"{spec.name}  (input {tuple(spec.input_shape)}, loss {spec.loss}, "
                  f"{spec.reduction})", title_justify="left")
    for col, justify in (("#", "right"), ("layer", "left"), ("options", "left"),
                         ("output shape", "left"), ("params", "right"),
                         ("trainable", "center")):
        table.add_column(col, justify=justify)
    for r in s.rows:
        table.add_row(str(r["index"]), r["type"], r["options"], str(tuple(r["output_shape"])),
                      f"{r['params']:,}", "yes" if r["trainable"] else "-")
    if complete:
        table.add_section()
        table.add_row("", "total", "", "", f"{s.total_params:,}", "")
    out = console()
    out.print(titled(table))
    if complete:
        # in the dtype training would use, as the memory budget counts them
        size = np.dtype(s.dtype).itemsize
        out.print(f"activations per sample: {human_bytes(s.activation_bytes)} (forward + "
                  f"backward); parameters: {human_bytes(s.total_params * size)}")
        out.print(f"counted in {s.dtype}, {size} bytes a value")


def _squeeze(a: np.ndarray) -> np.ndarray:
    """Drop a batch axis of 1 for display (the JSON keeps it)."""
    return a[0] if a.ndim > 1 and a.shape[0] == 1 else a


def _axes(a: np.ndarray) -> tuple[str, ...]:
    lead = a.ndim - 2 - (1 if a.ndim > 1 and a.shape[0] == 1 else 0)
    return ("sample", "channel")[-lead:] if lead > 0 else ()


def show_forward(x: np.ndarray, outputs: list[np.ndarray], kinds: list[str],
                 picked, full: bool = False) -> None:
    """The input, then each picked layer's output, as heatmaps with statistics (every value
    with `full`)."""
    out = console()
    cut = {"full": full, "hint": FULL_HINT}
    out.print(heatmap(_squeeze(x), f"input {tuple(x.shape)}", axis_names=_axes(x), **cut))
    for i in picked:
        y = outputs[i]
        out.print(heatmap(_squeeze(y), f"[{i}] {kinds[i]} -> {tuple(y.shape)}",
                          axis_names=_axes(y), **cut))


def show_backward(loss_name: str, reduction: str, b: Backward, full: bool = False) -> None:
    """The loss, each parameter's gradient, the gradient norms and their flow back."""
    out = console()
    out.print(f"[bold]loss[/] ({loss_name}, {reduction}) = {format_number(b.loss, 10)}")
    for name, rec in b.records.items():
        if rec["grad"].size <= 4:        # a few numbers: show them to 10 digits, as in notes
            values = ", ".join(format_number(v, 10) for v in rec["grad"].ravel())
            out.print(f"d loss / d {name} {tuple(rec['shape'])} = {values}")
        else:
            out.print(heatmap(rec["grad"], f"d loss / d {name}  {tuple(rec['shape'])}",
                              axis_names=param_axes(rec["grad"].ndim), full=full,
                              hint=FULL_HINT))
    table = Table(title="gradient norms", title_justify="left")
    for col in ("parameter", "L2", "max |g|", "|g| / |param|"):
        table.add_column(col, justify="left" if col == "parameter" else "right")
    for name, rec in b.records.items():
        rel = rec["rel_norm"]
        table.add_row(name, format_number(rec["l2"], 6), format_number(rec["max_abs"], 6),
                      "—" if rel is None else format_number(rel, 4))
    out.print(titled(table))
    flow = Table(title="gradient norm at each layer's output", title_justify="left",
                 min_width=40)
    for col in ("#", "layer", "L2"):
        flow.add_column(col, justify="left" if col == "layer" else "right")
    for row in b.arriving:
        flow.add_row(str(row["index"]), row["type"], format_number(row["l2"], 6))
    flow.add_row("", "input", format_number(b.input_grad_norm, 6))
    out.print(titled(flow))


PROGRESS_AFTER = 1.0    # seconds a check runs before its progress bar appears


@contextmanager
def progress_on_stderr(what: str, after: float | None = None) -> Iterator[Callable]:
    """A progress(done, total) callback for a long loop: once it has run `after` seconds
    (PROGRESS_AFTER), a bar on stderr when that is an interactive terminal, gone at the
    end."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    err = console(stderr=True)
    after = PROGRESS_AFTER if after is None else after
    started, shown = time.perf_counter(), {}

    def progress(done: int, total: int) -> None:
        if not shown:
            if not err.is_interactive or time.perf_counter() - started < after:
                return
            bar = Progress(f"{what}: entries", BarColumn(), MofNCompleteColumn(),
                           TimeRemainingColumn(), console=err, transient=True)
            bar.start()
            shown.update(bar=bar, task=bar.add_task("", total=total))
        shown["bar"].update(shown["task"], completed=done)

    try:
        yield progress
    finally:
        if shown:
            shown["bar"].stop()


def show_gradcheck(results, eps: float, tol: float) -> None:
    """One row per checked tensor: the largest relative and absolute errors, pass or FAIL;
    'checked' says how many of its entries were compared."""
    from rich import box

    from nncli.render.tensor import shape_str

    table = Table(title=f"gradient check (centred differences, eps {eps:g}, tol {tol:g})",
                  title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for col in ("gradient", "shape", "checked", "max rel err", "max abs err", ""):
        table.add_column(col, justify="left" if col in ("gradient", "shape") else "right",
                         no_wrap=True)
    for r in results:
        verdict = "[green]pass[/]" if r.passed else "[bold red]FAIL[/]"
        size = int(np.prod(r.shape))
        checked = f"{r.checked:,}" if r.checked == size else f"{r.checked:,} of {size:,}"
        table.add_row(r.name, shape_str(r.shape), checked,
                      format_float(r.max_rel_error, 3), format_float(r.max_abs_error, 3),
                      verdict)
    out = console()
    out.print(titled(table))
    if not any(r.name == "input" for r in results):
        out.print("no input row: the model reads token ids, which have no gradient",
                  style="dim")
