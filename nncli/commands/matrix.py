"""`nncli conv`, `nncli pool`, `nncli softmax`: the kernels of ops.py applied to a matrix.

Each command validates its options, reads its inputs (nncli.io), calls one function in
nncli.ops and renders the result (nncli.render) or prints plain JSON with --json.
numpy and rich are imported inside the functions so `nncli --help` stays fast.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import typer

from nncli.app import app
from nncli.commands.options import json_option
from nncli.errors import InputError

if TYPE_CHECKING:
    import numpy as np

# Negative numbers ("-1 1; 1 -1") must reach the arguments instead of being read as options.
_SETTINGS = {"ignore_unknown_options": True}
MATRIX_HELP = ('Inline "1 0; 0 1" (rows split by ;, values by spaces or commas) or JSON '
               "[[1,0],[0,1]], a file (.txt .csv .tsv .npy .npz[:key] .json), or - for stdin.")
JSON = json_option(extra="It is valid input for the next command.")
EXPLAIN_TERMS_SHOWN = 64


# --------------------------------------------------------------------------- option checks

def check_int(option: str, value: int, minimum: int) -> int:
    if value < minimum:
        raise InputError(f"{option}: expected an integer >= {minimum}, got {value}")
    return value


def _read(source: str, name: str, ndims: tuple[int, ...], what: str) -> np.ndarray:
    from nncli import io

    return io.read_array(source, name, ndims=ndims, what=what)


def _size_formula(n: int, k: int, s: int, p: int | None) -> str:
    pad = f" + 2*{p}" if p is not None else ""
    out = (n + 2 * (p or 0) - k) // s + 1
    return f"floor(({n}{pad} - {k}) / {s}) + 1 = {out}"


def _pad_span(n: int, p: int) -> str:
    """Labels of the padding rows of an axis of length n: '-1 and 5' or '-2..-1 and 5..6'."""
    if p == 1:
        return f"-1 and {n}"
    return f"{-p}..-1 and {n}..{n + p - 1}"


def _emit_json(payload: dict[str, Any]) -> None:
    """Print payload as JSON, refusing first if its arrays would not fit the memory budget."""
    from nncli import budget, output

    values = sum(getattr(v, "size", 0) for v in payload.values())
    budget.check_budget(values * 64, "--json", f"printing {values} values as JSON",
                    "drop --json for a summary, or use a smaller input")
    output.write_json(payload)


# --------------------------------------------------------------------------- conv (core)

def parse_cell(option: str, text: str, shape: tuple[int, ...]) -> tuple[int, ...]:
    """'0,0' -> (0, 0) checked against an output `shape` (2-D: ROW,COL; 3-D: F,ROW,COL)."""
    want = "ROW,COL (like 0,0)" if len(shape) == 2 else "F,ROW,COL (like 0,0,0)"
    parts = [p.strip() for p in text.replace(" ", ",").split(",") if p.strip()]
    try:
        cell = tuple(int(p) for p in parts)
    except ValueError:
        raise InputError(f"{option}: expected {want}, got '{text}'") from None
    if len(cell) != len(shape):
        extra = (f"; the output has {shape[0]} maps, so give the map first"
                 if len(shape) == 3 else "")
        raise InputError(f"{option}: expected {want}, got '{text}'{extra}")
    if any(not 0 <= c < n for c, n in zip(cell, shape, strict=True)):
        ranges = ", ".join(f"{n} 0..{m - 1}" for n, m in
                           zip(("F", "ROW", "COL")[-len(shape):], shape, strict=True))
        raise InputError(f"{option}: cell {cell} is outside the {'x'.join(map(str, shape))} "
                         f"output; {ranges}")
    return cell


def conv_compute(x: np.ndarray, w: np.ndarray, stride: int, padding: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate shapes and convolve. x: (H, W) or (C, H, W); w: (kh, kw), (C, kh, kw) or
    (F, C, kh, kw). Returns (x4 (1, C, H, W), w4 (F, C, kh, kw), y) with y (Ho, Wo) or,
    for a 4-D kernel, (F, Ho, Wo)."""
    import numpy as np

    from nncli import budget, ops
    from nncli.formatting import plural, shape_str

    x4 = x.reshape(1, *x.shape) if x.ndim == 3 else x.reshape(1, 1, *x.shape)
    w4 = {2: lambda: w.reshape(1, 1, *w.shape), 3: lambda: w.reshape(1, *w.shape),
          4: lambda: w}[w.ndim]()
    c, h, wd = x4.shape[1:]
    f, wc, kh, kw = w4.shape
    if wc != c:
        raise InputError(f"KERNEL: the kernel has {plural(wc, 'channel')} but INPUT has "
                         f"{c}; expected a kernel of shape ({c}, kh, kw) or (F, {c}, kh, kw)")
    hp, wp = h + 2 * padding, wd + 2 * padding
    if kh > hp or kw > wp:
        need = max(math.ceil((kh - h) / 2), math.ceil((kw - wd) / 2))
        raise InputError(f"KERNEL: {kh}x{kw} kernel is larger than the padded {hp}x{wp} "
                         f"input; use a smaller kernel or --padding {need}")
    ho, wo = ops.out_size(h, kh, stride, padding), ops.out_size(wd, kw, stride, padding)
    work = 8 * (c * hp * wp + c * ho * wo * kh * kw + 2 * f * ho * wo)
    budget.check_budget(work, "INPUT", f"convolving the {shape_str(x.shape)} input (padded "
                    f"{hp}x{wp}, output {f}x{ho}x{wo})", "use a smaller input or --padding")
    if x4.dtype.kind == "i" and w4.dtype.kind == "i":
        bound = int(np.abs(x4).max()) * int(np.abs(w4).max()) * c * kh * kw
        if bound >= 2**62:
            x4, w4 = x4.astype(np.float64), w4.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        y = ops.conv2d(x4, w4, None, stride, padding)[0]
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise InputError("INPUT: the result overflows a 64-bit float (values too large); "
                         "scale INPUT or KERNEL down")
    return x4, w4, (y if w.ndim == 4 else y[0])


def explain_cell(x4: np.ndarray, w4: np.ndarray, cell: tuple[int, ...], stride: int,
                 padding: int) -> dict[str, Any]:
    """The sum of products behind one output cell (f, i, j).

    Terms are ordered by kernel weight, largest first, row-major (channel, row, col) among
    equal weights; for the notes' example this gives 1(1) + 1(1) + 0(-1) + 0(-1) = 2.
    Patch cells are in padded-input coordinates minus `padding` (so -1 is padding).
    """
    import numpy as np

    from nncli import ops

    f, i, j = cell
    _, _, kh, kw = w4.shape
    r0, c0 = i * stride, j * stride
    xp = ops.pad2d(x4, padding)[0]
    patch = xp[:, r0:r0 + kh, c0:c0 + kw]
    wf = w4[f]
    order = np.argsort(-wf.reshape(-1), kind="stable")
    idx = [tuple(int(v) for v in np.unravel_index(k, wf.shape)) for k in order]
    terms = [(patch[ix].item(), wf[ix].item(), ix) for ix in idx]
    return {"cell": list(cell), "rows": [r0 - padding, r0 - padding + kh - 1],
            "cols": [c0 - padding, c0 - padding + kw - 1], "terms": terms}


def explain_expression(terms: list, value: float) -> str:
    """'1(1) + 1(1) + 0(-1) + 0(-1) = 2' for [(input value, weight, index), ...]."""
    from nncli.render.tensor import format_number

    shown = [f"{format_number(a)}({format_number(b)})" for a, b, _ in terms]
    if len(shown) > EXPLAIN_TERMS_SHOWN:
        rest = len(shown) - EXPLAIN_TERMS_SHOWN
        shown = shown[:EXPLAIN_TERMS_SHOWN] + [f"… ({rest} more terms, see --json)"]
    return " + ".join(shown) + f" = {format_number(value)}"


# --------------------------------------------------------------------------- conv (command)

@app.command(context_settings=_SETTINGS)
def conv(
    source: str = typer.Argument(..., metavar="INPUT", help=MATRIX_HELP + " 2-D (H, W) or "
                                 "3-D (C, H, W)."),
    kernel: str = typer.Argument(..., metavar="KERNEL", help="Same forms: (kh, kw), "
                                 "(C, kh, kw) summed over channels, or (F, C, kh, kw) for F "
                                 "output maps."),
    stride: int = typer.Option(1, "--stride", help="Step between windows (>= 1)."),
    padding: int = typer.Option(0, "--padding", help="Rings of zeros around INPUT (>= 0)."),
    explain: str | None = typer.Option(None, "--explain", metavar="ROW,COL",
                                       help="Show the sum of products for one output cell "
                                       "(F,ROW,COL for a 4-D kernel)."),
    as_json: bool = JSON,
) -> None:
    """Convolve INPUT with KERNEL (cross-correlation, no flip) and show every step.

    Each output cell is the sum of the element-wise product of KERNEL with one patch of
    INPUT. Output size per axis: [bold]floor((n + 2*padding - k) / stride) + 1[/].

    [bold]Examples[/]

      nncli conv "1 0 0 0 1; 0 1 0 0 1; 0 0 1 0 0; 0 1 1 1 0; 0 0 0 0 1" "1 -1; -1 1"

      nncli conv configs/seed_conv_A.txt configs/seed_conv_K.txt --explain 0,0

      nncli conv image.npy "1 0 -1; 2 0 -2; 1 0 -1" --padding 1 --stride 2

      nncli conv A.txt K.txt --json | nncli pool - --size 2 --stride 2
    """
    check_int("--stride", stride, 1)
    check_int("--padding", padding, 0)
    if source == "-" and kernel == "-":
        raise InputError("KERNEL: only one of INPUT and KERNEL can be - (standard input)")
    x = _read(source, "INPUT", (2, 3), "a 2-D matrix (H, W) or a 3-D tensor (C, H, W)")
    w = _read(kernel, "KERNEL", (2, 3, 4), "a 2-D (kh, kw), 3-D (C, kh, kw) or 4-D "
              "(F, C, kh, kw) kernel")
    x4, w4, y = conv_compute(x, w, stride, padding)
    cell = parse_cell("--explain", explain, y.shape) if explain is not None else None
    info = None
    if cell is not None:
        full = cell if y.ndim == 3 else (0, *cell)
        info = explain_cell(x4, w4, full, stride, padding)
        info["value"] = y[cell].item()
        info["expression"] = explain_expression(info["terms"], info["value"])
    if as_json:
        payload: dict[str, Any] = {
            "schema": "nncli.conv/1", "shape": list(y.shape), "output": y,
            "input_shape": list(x.shape), "kernel_shape": list(w.shape),
            "stride": stride, "padding": padding}
        if info is not None:
            payload["explain"] = {
                "cell": list(cell), "rows": info["rows"], "cols": info["cols"],
                "terms": [[a, b] for a, b, _ in info["terms"]], "value": info["value"],
                "expression": info["expression"]}
        _emit_json(payload)
        return
    _render_conv(x, w, y, stride, padding, info)


def _render_conv(x, w, y, stride: int, padding: int, info: dict | None) -> None:
    from rich.text import Text

    from nncli import ops
    from nncli.render import tensor as render

    out = render.console()
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
        shown_x = ops.pad2d(x.reshape(1, -1, h, wd), padding).reshape(
            *x.shape[:-2], h + 2 * padding, wd + 2 * padding)
        title += (f", zero-padded by {padding} -> {render.shape_str(shown_x.shape[-2:])}; "
                  + (f"rows and cols {_pad_span(h, padding)} are padding" if h == wd else
                     f"rows {_pad_span(h, padding)}, cols {_pad_span(wd, padding)} are padding"))
    out.print(render.heatmap(shown_x, title, highlight=highlight, axis_names=("channel",),
                             origin=(-padding, -padding)))
    out.print()
    k_names = ("filter", "channel") if w.ndim == 4 else ("channel",)
    out.print(render.heatmap(w, f"KERNEL ({render.shape_str(w.shape)})",
                             axis_names=k_names))
    out.print()
    cell_hl = {tuple(info["cell"][-y.ndim:])} if info is not None else set()
    out.print(render.heatmap(y, f"OUTPUT ({render.shape_str(y.shape)}), stride {stride}, "
                                f"padding {padding}", highlight=cell_hl,
                             axis_names=("filter",)))
    out.print(Text("output size per axis = floor((n + 2*padding - k) / stride) + 1"))
    out.print(Text(f"  rows: {_size_formula(h, kh, stride, padding)}; "
                   f"cols: {_size_formula(wd, kw, stride, padding)}"))
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


# --------------------------------------------------------------------------- pool

@app.command(context_settings=_SETTINGS)
def pool(
    source: str = typer.Argument(..., metavar="INPUT", help=MATRIX_HELP + " 2-D (H, W) or "
                                 "3-D (C, H, W)."),
    size: int = typer.Option(2, "--size", help="Window side k (k x k windows, >= 1)."),
    stride: int | None = typer.Option(None, "--stride", help="Step between windows "
                                      "(default: the window size)."),
    mode: str = typer.Option("max", "--mode", help="max or avg."),
    as_json: bool = JSON,
) -> None:
    """Pool INPUT with k x k windows (max or average) and mark each window's winner.

    Max pooling keeps the largest value of each window (the first one, in row-major order,
    if there is a tie); the winning input cells are marked with *. No padding.
    Output size per axis: [bold]floor((n - size) / stride) + 1[/].

    [bold]Examples[/]

      nncli pool "2 -1 0 0; -1 2 -1 -1; 1 -1 1 -1; -1 0 0 2" --size 2 --stride 2

      nncli conv configs/seed_conv_A.txt configs/seed_conv_K.txt --json | nncli pool -

      nncli pool image.npy --size 3 --stride 2 --mode avg --json
    """
    import numpy as np

    from nncli import budget, ops
    from nncli.formatting import shape_str

    check_int("--size", size, 1)
    stride = size if stride is None else check_int("--stride", stride, 1)
    if mode not in ("max", "avg"):
        raise InputError(f"--mode: expected max or avg, got '{mode}'")
    x = _read(source, "INPUT", (2, 3), "a 2-D matrix (H, W) or a 3-D tensor (C, H, W)")
    h, wd = x.shape[-2:]
    if size > h or size > wd:
        raise InputError(f"INPUT: {size}x{size} window (--size {size}) is larger than the "
                         f"{h}x{wd} input; use --size {min(h, wd)} or smaller")
    ho, wo = ops.out_size(h, size, stride), ops.out_size(wd, size, stride)
    c = x.shape[0] if x.ndim == 3 else 1
    budget.check_budget(8 * c * ho * wo * (size * size + 2), "INPUT",
                    f"pooling the {shape_str(x.shape)} input", "use a smaller input")
    with np.errstate(over="ignore", invalid="ignore"):
        y4, winner = ops.pool2d(x.reshape(1, c, h, wd), size, stride, mode)
    if y4.dtype.kind == "f" and not np.isfinite(y4).all():
        raise InputError("INPUT: the average overflows a 64-bit float (values too large); "
                         "scale INPUT down")
    y = y4[0] if x.ndim == 3 else y4[0, 0]
    winners = None
    if winner is not None:
        rows = np.arange(ho)[:, None] * stride + winner[0] // size     # (C, Ho, Wo)
        cols = np.arange(wo)[None, :] * stride + winner[0] % size
        pairs = np.stack([rows, cols], axis=-1)                          # (C, Ho, Wo, 2)
        winners = pairs if x.ndim == 3 else pairs[0]
    if as_json:
        payload: dict[str, Any] = {
            "schema": "nncli.pool/1", "shape": list(y.shape), "output": y, "mode": mode,
            "size": size, "stride": stride, "input_shape": list(x.shape)}
        if winners is not None:
            payload["winners"] = winners
        _emit_json(payload)
        return
    _render_pool(x, y, winners, size, stride, mode)


def _render_pool(x, y, winners, size: int, stride: int, mode: str) -> None:
    import numpy as np
    from rich.text import Text

    from nncli.render import tensor as render

    out = render.console()
    h, wd = x.shape[-2:]
    marks = np.zeros(x.shape, dtype=bool)
    if winners is not None:
        w3 = winners.reshape(-1, *winners.shape[-3:])                  # (C, Ho, Wo, 2)
        ch = np.broadcast_to(np.arange(len(w3))[:, None, None], w3.shape[:-1])
        marks.reshape(-1, h, wd)[ch, w3[..., 0], w3[..., 1]] = True
    note = ("v* = the input cell that won its window (first maximum in row-major order)"
            if mode == "max" else "each output cell is the mean of its window")
    out.print(render.heatmap(x, f"INPUT ({render.shape_str(x.shape)})", mark=marks,
                             axis_names=("channel",), caption=note))
    out.print()
    out.print(render.heatmap(y, f"OUTPUT ({render.shape_str(y.shape)}), {mode} pool "
                                f"{size}x{size}, stride {stride}", axis_names=("channel",)))
    out.print(Text("output size per axis = floor((n - size) / stride) + 1"))
    out.print(Text(f"  rows: {_size_formula(h, size, stride, None)}; "
                   f"cols: {_size_formula(wd, size, stride, None)}"))


# --------------------------------------------------------------------------- softmax

@app.command(context_settings=_SETTINGS)
def softmax(
    values: list[str] = typer.Argument(..., metavar="VALUES", help="Scores z: inline "
                                       '"1 2 3" (or several arguments), JSON, a file or -. '
                                       "A matrix gets one softmax per row."),
    temperature: float = typer.Option(1.0, "--temperature", help="T > 0: P = softmax(z / T)."
                                      " Large T flattens, small T sharpens."),
    as_json: bool = JSON,
) -> None:
    """Turn scores into probabilities: P(y = j) = exp(z_j / T) / sum_i exp(z_i / T).

    Computed stably: max(z) is subtracted first, so 1000 1001 1002 works.

    [bold]Examples[/]

      nncli softmax 1 2 3

      nncli softmax "1000 1001 1002"

      nncli softmax -1 0 1 --temperature 0.5

      nncli softmax logits.npy --json
    """
    import numpy as np

    from nncli import ops

    if not math.isfinite(temperature) or temperature <= 0:
        raise InputError(f"--temperature: expected a number > 0, got {temperature}")
    for v in values:
        if v.startswith("--"):
            raise InputError(f"VALUES: unknown option '{v}'; see nncli softmax --help")
    if len(values) > 1 and "-" in values:
        raise InputError("VALUES: '-' (standard input) must be the only value")
    source = values[0] if len(values) == 1 else " ".join(values)
    z = _read(source, "VALUES", (1, 2), "a vector of scores or a matrix (one row per case)")
    if z.ndim == 2 and 1 in z.shape:
        z = z.reshape(-1)
    zf = z.astype(np.float64)
    p = ops.softmax(zf, axis=-1, temperature=temperature)
    e = np.exp((zf - zf.max(axis=-1, keepdims=True)) / temperature)
    if as_json:
        _emit_json({"schema": "nncli.softmax/1", "shape": list(p.shape), "output": p,
                    "values": z, "exp_shifted": e, "temperature": temperature})
        return
    _render_softmax(z, e, p, temperature)


def _render_softmax(z, e, p, temperature: float) -> None:
    import numpy as np
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from nncli.render import tensor as render

    out = render.console()
    rows = z.reshape(1, -1) if z.ndim == 1 else z
    es, ps = e.reshape(rows.shape), p.reshape(rows.shape)
    t = render.format_number(temperature)
    shift = "exp(z - max)" if temperature == 1 else f"exp((z - max) / {t})"
    fmt_z = render.number_formatter(z)
    limit = 20
    for n, (zr, er, pr) in enumerate(zip(rows, es, ps, strict=True)):
        if n == limit:
            out.print(Text(f"… {len(rows) - limit} more rows (use --json for all)",
                           style="dim"))
            break
        title = f"row {n}: " if z.ndim == 2 else ""
        table = Table(title=f"{title}softmax of {len(zr)} values, T = {t}", box=box.SIMPLE_HEAD,
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
        out.print(table)
        out.print(Text(f"max z = {fmt_z(zr.max())} (subtracted first); sum of exp = "
                       f"{render.format_float(er.sum())}; sum of P = "
                       f"{render.format_float(pr.sum())}", style="dim"))
