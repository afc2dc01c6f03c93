"""`nncli conv`, `nncli pool`, `nncli softmax`: the kernels of ops.py applied to a matrix.

Each command checks its options, reads its inputs (nncli.io), calls nncli.matrix and hands
the result to nncli.render.matrix, or prints plain JSON with --json. numpy and rich are
imported inside the functions so `nncli --help` stays fast.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import typer

from nncli.app import app
from nncli.commands.help_format import NEGATIVE_NUMBER
from nncli.commands.options import FULL, draws, json_option
from nncli.errors import InputError, check_int

if TYPE_CHECKING:
    import numpy as np

# Negative numbers ("-1 1; 1 -1") reach the arguments as values wherever they appear (the
# app's parser reads them so, nncli.commands.help_format.NumbersAsValues); softmax also
# takes what click does not know as a value, so VALUES can name an unknown option.
_SETTINGS = {"ignore_unknown_options": True}
MATRIX_HELP = ('Inline "1 0; 0 1" (rows split by ;, values by spaces or commas) or JSON '
               "[[1,0],[0,1]], a file (.txt .csv .tsv .npy .npz[:key] .json), or - for stdin.")
JSON = json_option(extra="It is valid input for the next command.")


def _read(source: str, name: str, ndims: tuple[int, ...], what: str) -> np.ndarray:
    from nncli import io

    return io.read_array(source, name, ndims=ndims, what=what)


def _emit_json(payload: dict[str, Any]) -> None:
    """Print payload as JSON, refusing first if its arrays would not fit the memory budget."""
    from nncli import budget, output

    values = sum(getattr(v, "size", 0) for v in payload.values())
    budget.check_budget(values * 64, "--json", f"printing {values} values as JSON",
                        "drop --json for a summary, or use a smaller input")
    output.write_json(payload)


# --------------------------------------------------------------------------- conv

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


@app.command()
@draws
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
                                       "(F,ROW,COL for a 4-D kernel); a large INPUT shows the "
                                       "rows and columns around it."),
    full: bool = FULL,
    as_json: bool = JSON,
) -> None:
    """Convolve INPUT with KERNEL (cross-correlation, no flip) and show every step.

    Each output cell is the sum of the element-wise product of KERNEL with one patch of
    INPUT. Output size per axis: [bold]floor((n + 2*padding - k) / stride) + 1[/].

    [bold]Examples[/]

      nncli conv "1 0 0 1; 0 1 1 0; 0 1 1 0; 1 0 0 1" "1 -1; -1 1"

      nncli conv configs/seed_conv_A.txt configs/seed_conv_K.txt --explain 0,0

      nncli conv image.npy "1 0 -1; 2 0 -2; 1 0 -1" --padding 1 --stride 2

      nncli conv A.txt K.txt --json | nncli pool - --size 2 --stride 2
    """
    from nncli import matrix
    from nncli.render.matrix import show_conv

    check_int("--stride", stride, 1)
    check_int("--padding", padding, 0)
    if source == "-" and kernel == "-":
        raise InputError("KERNEL: only one of INPUT and KERNEL can be - (standard input)")
    x = _read(source, "INPUT", (2, 3), "a 2-D matrix (H, W) or a 3-D tensor (C, H, W)")
    w = _read(kernel, "KERNEL", (2, 3, 4), "a 2-D (kh, kw), 3-D (C, kh, kw) or 4-D "
              "(F, C, kh, kw) kernel")
    conv = matrix.convolve(x, w, stride, padding)
    cell = parse_cell("--explain", explain, conv.y.shape) if explain is not None else None
    info = matrix.explain_cell(conv, cell) if cell is not None else None
    if as_json:
        y = conv.y
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
    show_conv(conv, info, full)


# --------------------------------------------------------------------------- pool

@app.command()
@draws
def pool(
    source: str = typer.Argument(..., metavar="INPUT", help=MATRIX_HELP + " 2-D (H, W) or "
                                 "3-D (C, H, W)."),
    size: int = typer.Option(2, "--size", help="Window side k (k x k windows, >= 1)."),
    stride: int | None = typer.Option(None, "--stride", help="Step between windows "
                                      "(default: the window size)."),
    mode: str = typer.Option("max", "--mode", help="max or avg."),
    full: bool = FULL,
    as_json: bool = JSON,
) -> None:
    """Pool INPUT with k x k windows (max or average) and mark each window's winner.

    Max pooling keeps the largest value of each window (the first one, in row-major order,
    if there is a tie); the winning input cells are marked with *. No padding.
    Output size per axis: [bold]floor((n - size) / stride) + 1[/].

    [bold]Examples[/]

      nncli pool "2 -1 0 0; -1 2 -1 -1; 1 -1 1 -1; -1 0 0 2" --size 2 --stride 2

      nncli conv A.txt K.txt --json | nncli pool -

      nncli pool image.npy --size 3 --stride 2 --mode avg --json
    """
    from nncli import matrix
    from nncli.render.matrix import show_pool

    check_int("--size", size, 1)
    stride = size if stride is None else check_int("--stride", stride, 1)
    if mode not in ("max", "avg"):
        raise InputError(f"--mode: expected max or avg, got '{mode}'")
    x = _read(source, "INPUT", (2, 3), "a 2-D matrix (H, W) or a 3-D tensor (C, H, W)")
    y, winners = matrix.pool(x, size, stride, mode)
    if as_json:
        payload: dict[str, Any] = {
            "schema": "nncli.pool/1", "shape": list(y.shape), "output": y, "mode": mode,
            "size": size, "stride": stride, "input_shape": list(x.shape)}
        if winners is not None:
            payload["winners"] = winners
        _emit_json(payload)
        return
    show_pool(x, y, winners, size, stride, mode, full)


# --------------------------------------------------------------------------- softmax

@app.command(context_settings=_SETTINGS)
@draws
def softmax(
    values: list[str] = typer.Argument(..., metavar="VALUES", help="Scores z: inline "
                                       '"1 2 3" (or several arguments), JSON, a file or -. '
                                       "A matrix gets one softmax per row."),
    temperature: float = typer.Option(1.0, "--temperature", "-t", help="T > 0: P = "
                                      "softmax(z / T). Large T flattens, small T sharpens."),
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
    from nncli import matrix
    from nncli.render.matrix import show_softmax

    if not math.isfinite(temperature) or temperature <= 0:
        raise InputError(f"--temperature: expected a number > 0, got {temperature}")
    for v in values:
        if v.startswith("-") and v != "-" and not NEGATIVE_NUMBER.match(v):
            raise InputError(f"VALUES: unknown option '{v}'; see nncli softmax --help")
    if len(values) > 1 and "-" in values:
        raise InputError("VALUES: '-' (standard input) must be the only value")
    source = values[0] if len(values) == 1 else " ".join(values)
    z = _read(source, "VALUES", (1, 2), "a vector of scores or a matrix (one row per case)")
    z, e, p = matrix.softmax(z, temperature)
    if as_json:
        _emit_json({"schema": "nncli.softmax/1", "shape": list(p.shape), "output": p,
                    "values": z, "exp_shifted": e, "temperature": temperature})
        return
    show_softmax(z, e, p, temperature)
