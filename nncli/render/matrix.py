"""The views of `nncli conv`, `nncli pool` and `nncli softmax`: INPUT, KERNEL and OUTPUT as
heatmaps, the output-size formula, the explained cell, and the softmax table with bars.
The numbers come from nncli.matrix; this module only draws them."""

from __future__ import annotations

import numpy as np
from rich import box
from rich.table import Table
from rich.text import Text

from nncli.matrix import Conv, size_formula
from nncli.render import tensor as render

SOFTMAX_ROWS = 20        # rows of a matrix of scores shown (--json has them all)


def _pad_span(n: int, p: int) -> str:
    """Labels of the padding rows of an axis of length n: '-1 and 5' or '-2..-1 and 5..6'."""
    if p == 1:
        return f"-1 and {n}"
    return f"{-p}..-1 and {n}..{n + p - 1}"


def show_conv(conv: Conv, info: dict | None, full: bool = False) -> None:
    """INPUT (padded, the explained patch highlighted and kept in view), KERNEL, OUTPUT, the
    size formula and the explanation of one cell (`info` from nncli.matrix.explain_cell);
    every value with `full`."""
    x, w, y, stride, padding = conv.x, conv.w, conv.y, conv.stride, conv.padding
    out = render.console()
    cut = {"full": full, "hint": render.FULL_HINT}
    h, wd = x.shape[-2:]
    kh, kw = w.shape[-2:]
    highlight: set[tuple[int, ...]] = set()
    if info is not None:
        f = info["cell"][0]
        for _a, _b, (c, u, v) in info["terms"]:
            highlight.add((c, info["rows"][0] + padding + u, info["cols"][0] + padding + v)
                          if x.ndim == 3 else (info["rows"][0] + padding + u,
                                               info["cols"][0] + padding + v))
    shown_x = x
    title = f"INPUT ({render.shape_str(x.shape)})"
    if padding:
        shown_x = conv.padded
        title += (f", zero-padded by {padding} -> {render.shape_str(shown_x.shape[-2:])}; "
                  + (f"rows and cols {_pad_span(h, padding)} are padding" if h == wd else
                     f"rows {_pad_span(h, padding)}, cols {_pad_span(wd, padding)} are padding"))
    out.print(render.heatmap(shown_x, title, highlight=highlight, axis_names=("channel",),
                             origin=(-padding, -padding), **cut))
    out.print()
    k_names = ("filter", "channel") if w.ndim == 4 else ("channel",)
    out.print(render.heatmap(w, f"KERNEL ({render.shape_str(w.shape)})",
                             axis_names=k_names, **cut))
    out.print()
    cell_hl = {tuple(info["cell"][-y.ndim:])} if info is not None else set()
    out.print(render.heatmap(y, f"OUTPUT ({render.shape_str(y.shape)}), stride {stride}, "
                                f"padding {padding}", highlight=cell_hl,
                             axis_names=("filter",), **cut))
    out.print(Text("output size per axis = floor((n + 2*padding - k) / stride) + 1"))
    out.print(Text(f"  rows: {size_formula(h, kh, stride, padding)}; "
                   f"cols: {size_formula(wd, kw, stride, padding)}"))
    if info is not None:
        rows, cols = info["rows"], info["cols"]
        where = f"output{list(info['cell'][-y.ndim:])}"
        chans = f", all {x.shape[0]} channels" if x.ndim == 3 else ""
        fil = f" filter {f}" if y.ndim == 3 else ""
        out.print()
        out.print(Text(f"explain {where}: INPUT rows {rows[0]}..{rows[1]}, cols "
                       f"{cols[0]}..{cols[1]}{chans} (highlighted) times KERNEL{fil}"))
        out.print(Text("terms are value(weight), grouped by kernel weight, largest first:",
                       style="dim"))
        out.print(Text(info["expression"]), soft_wrap=True)
        if (rows[0] < 0 or cols[0] < 0 or rows[1] >= h or cols[1] >= wd):
            out.print(Text("(cells outside the input are zero padding)", style="dim"))


def show_pool(x: np.ndarray, y: np.ndarray, winners: np.ndarray | None, size: int,
              stride: int, mode: str, full: bool = False) -> None:
    """INPUT with each window's winner marked *, OUTPUT, and the size formula (every value
    with `full`)."""
    out = render.console()
    cut = {"full": full, "hint": render.FULL_HINT}
    h, wd = x.shape[-2:]
    marks = np.zeros(x.shape, dtype=bool)
    if winners is not None:
        w3 = winners.reshape(-1, *winners.shape[-3:])                  # (C, Ho, Wo, 2)
        ch = np.broadcast_to(np.arange(len(w3))[:, None, None], w3.shape[:-1])
        marks.reshape(-1, h, wd)[ch, w3[..., 0], w3[..., 1]] = True
    note = ("v* = the input cell that won its window (first maximum in row-major order)"
            if mode == "max" else "each output cell is the mean of its window")
    out.print(render.heatmap(x, f"INPUT ({render.shape_str(x.shape)})", mark=marks,
                             axis_names=("channel",), caption=note, **cut))
    out.print()
    out.print(render.heatmap(y, f"OUTPUT ({render.shape_str(y.shape)}), {mode} pool "
                                f"{size}x{size}, stride {stride}", axis_names=("channel",),
                             **cut))
    out.print(Text("output size per axis = floor((n - size) / stride) + 1"))
    out.print(Text(f"  rows: {size_formula(h, size, stride, None)}; "
                   f"cols: {size_formula(wd, size, stride, None)}"))


def show_softmax(z: np.ndarray, e: np.ndarray, p: np.ndarray, temperature: float) -> None:
    """One table per row of scores: z, the shifted exponentials, P with a bar (max bold)."""
    out = render.console()
    rows = z.reshape(1, -1) if z.ndim == 1 else z
    es, ps = e.reshape(rows.shape), p.reshape(rows.shape)
    t = render.format_number(temperature)
    shift = "exp(z - max)" if temperature == 1 else f"exp((z - max) / {t})"
    fmt_z = render.number_formatter(z)
    for n, (zr, er, pr) in enumerate(zip(rows, es, ps, strict=True)):
        if n == SOFTMAX_ROWS:
            out.print(Text(f"… {len(rows) - SOFTMAX_ROWS} more rows (use --json for all)",
                           style="dim"))
            break
        title = f"row {n}: " if z.ndim == 2 else ""
        table = Table(title=f"{title}softmax of {render.plural(len(zr), 'value')}, T = {t}",
                      box=box.SIMPLE_HEAD,
                      title_justify="left", show_edge=False, pad_edge=False)
        for name in ("j", "z", shift, "P(y = j)"):
            table.add_column(name, justify="right")
        table.add_column("")
        best = int(np.argmax(pr))
        for j in range(len(zr)):
            style = "bold" if j == best else ""
            table.add_row(str(j), fmt_z(zr[j]), render.format_float(er[j]),
                          render.format_float(pr[j]), render.bar(float(pr[j]), 20),
                          style=style)
        out.print(render.titled(table))
        out.print(Text(f"max z = {fmt_z(zr.max())} (subtracted first); sum of exp = "
                       f"{render.format_float(er.sum())}; sum of P = "
                       f"{render.format_float(pr.sum())}", style="dim"))
