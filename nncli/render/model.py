"""The views of the model commands: `summary`'s layer table, `forward`'s heatmaps,
`backward`'s gradients and norms, `gradcheck`'s verdicts. The numbers come from the core
(nncli.inspection, nncli.gradcheck); this module only draws them."""

from __future__ import annotations

import numpy as np
from rich.table import Table

from nncli.budget import human_bytes
from nncli.inspection import Backward, Summary
from nncli.render.tensor import console, format_float, format_number, heatmap


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
    out.print(table)
    if complete:
        out.print(f"activations per sample: {human_bytes(s.activation_bytes)} (float64); "
                  f"parameters: {human_bytes(s.total_params * 8)}")


def _squeeze(a: np.ndarray) -> np.ndarray:
    """Drop a batch axis of 1 for display (the JSON keeps it)."""
    return a[0] if a.ndim > 1 and a.shape[0] == 1 else a


def _axes(a: np.ndarray) -> tuple[str, ...]:
    lead = a.ndim - 2 - (1 if a.ndim > 1 and a.shape[0] == 1 else 0)
    return ("sample", "channel")[-lead:] if lead > 0 else ()


def show_forward(x: np.ndarray, outputs: list[np.ndarray], kinds: list[str],
                 picked) -> None:
    """The input, then each picked layer's output, as heatmaps with statistics."""
    out = console()
    out.print(heatmap(_squeeze(x), f"input {tuple(x.shape)}", axis_names=_axes(x)))
    for i in picked:
        y = outputs[i]
        out.print(heatmap(_squeeze(y), f"[{i}] {kinds[i]} -> {tuple(y.shape)}",
                          axis_names=_axes(y)))


def show_backward(loss_name: str, reduction: str, b: Backward) -> None:
    """The loss, each parameter's gradient, the gradient norms and their flow back."""
    out = console()
    out.print(f"[bold]loss[/] ({loss_name}, {reduction}) = {format_number(b.loss, 10)}")
    for name, rec in b.records.items():
        if rec["grad"].size <= 4:        # a few numbers: show them to 10 digits, as in notes
            values = ", ".join(format_number(v, 10) for v in rec["grad"].ravel())
            out.print(f"d loss / d {name} {tuple(rec['shape'])} = {values}")
        else:
            out.print(heatmap(rec["grad"], f"d loss / d {name}  {tuple(rec['shape'])}"))
    table = Table(title="gradient norms", title_justify="left")
    for col in ("parameter", "L2", "max |g|", "|g| / |param|"):
        table.add_column(col, justify="left" if col == "parameter" else "right")
    for name, rec in b.records.items():
        table.add_row(name, format_number(rec["l2"], 6), format_number(rec["max_abs"], 6),
                      format_number(rec["rel_norm"], 4))
    out.print(table)
    flow = Table(title="gradient norm at each layer's output", title_justify="left",
                 min_width=40)
    for col in ("#", "layer", "L2"):
        flow.add_column(col, justify="left" if col == "layer" else "right")
    for row in b.arriving:
        flow.add_row(str(row["index"]), row["type"], format_number(row["l2"], 6))
    flow.add_row("", "input", format_number(b.input_grad_norm, 6))
    out.print(flow)


def show_gradcheck(results, eps: float, tol: float) -> None:
    """One row per checked tensor: the largest relative and absolute errors, pass or FAIL."""
    table = Table(title=f"gradient check (centred differences, eps {eps:g}, tol {tol:g})",
                  title_justify="left")
    for col in ("gradient", "shape", "checked", "max rel error", "max abs error", ""):
        table.add_column(col, justify="left" if col in ("gradient", "shape") else "right")
    for r in results:
        verdict = "[green]pass[/]" if r.passed else "[bold red]FAIL[/]"
        table.add_row(r.name, str(tuple(r.shape)), str(r.checked),
                      format_float(r.max_rel_error, 3), format_float(r.max_abs_error, 3),
                      verdict)
    console().print(table)
