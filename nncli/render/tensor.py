"""Rich renderables for tensors: heatmap tables, a stats line, horizontal bars. No maths here.

The heatmap uses a diverging scale (blue < 0 < red, white at 0) and stays readable without
colour (NO_COLOR, pipes, screen readers): the numbers carry their own sign, cells with
|v| >= half the largest |v| are bold, zeros are dim, highlighted cells are [bracketed] and
underlined, marked cells carry a trailing `*`. Large tensors are cut with "…" rows and
columns; the stats line always covers every value.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence

import numpy as np
from rich import box
from rich.color import Color
from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.style import Style
from rich.table import Table
from rich.text import Text

# One spelling of numbers and shapes for tables, messages and JSON; re-exported for render.
from nncli.formatting import (  # noqa: F401
    format_float,
    format_number,
    number_formatter,
    plural,
    shape_str,
)

ELLIPSIS = "…"
# ColorBrewer RdBu: light -> strong for each sign.
_NEG = ((209, 229, 240), (103, 169, 207), (33, 102, 172))
_POS = ((253, 219, 199), (239, 138, 98), (178, 24, 43))
FULL_HINT = "--full shows all"     # the cut note of commands that have --full


def shows(out: Console) -> str:
    """What `out` draws beyond the characters: "colour" (a colour terminal), "styles" (a
    terminal with NO_COLOR: bold and dim, no colours) or "plain" (a pipe, a dumb terminal).
    Notes that explain a style name only what this says is shown."""
    if out.color_system is None:
        return "plain"
    return "styles" if out.no_color else "colour"


def legend(out: Console) -> str:
    """The heatmap's key naming only what `out` shows: the blue/red scale in colour, bold
    and dim where styles are drawn, and otherwise that the numbers carry their sign."""
    mode = shows(out)
    if mode == "plain":
        return "plain text: the numbers carry their sign"
    scale = "colour: blue < 0 < red (white = 0)" if mode == "colour" else \
        "no colour: the numbers carry their sign"
    return f"{scale}; bold: |v| >= max|v|/2; dim: 0"


def stats_line(array: np.ndarray) -> str:
    """'shape 4x4 · min -1 · max 2 · mean 0.125 · std 1.111' over every value."""
    a = np.asarray(array)
    if a.size == 0:
        return f"shape {shape_str(a.shape)} · empty"
    fmt = number_formatter(a)
    af = a.astype(np.float64, copy=False)
    return (f"shape {shape_str(a.shape)} · min {fmt(a.min())} · max {fmt(a.max())} · "
            f"mean {format_number(af.mean())} · std {format_number(af.std())}")


# --------------------------------------------------------------------------- bars

_EIGHTHS = " ▏▎▍▌▋▊▉█"


def bar(fraction: float, width: int = 20) -> str:
    """A horizontal bar of `width` characters filled to `fraction` (clamped to 0..1)."""
    if not math.isfinite(fraction):
        fraction = 0.0
    fraction = min(max(fraction, 0.0), 1.0)
    eighths = round(fraction * width * 8)
    full, part = divmod(eighths, 8)
    text = "█" * full + (_EIGHTHS[part] if part else "")
    return text.ljust(width)


# --------------------------------------------------------------------------- tables

def titled(table: Table) -> Group:
    """`table` with its title above it and its caption below it as lines as wide as the
    console: rich wraps them to the table's own width, which splits words when the table
    is narrow ("chann / el 0")."""
    title, caption = table.title, table.caption
    table.title = table.caption = None
    parts: list = []
    if title:
        parts.append(Text(title, style="table.title") if isinstance(title, str) else title)
    parts.append(table)
    if caption:
        parts.append(Text(caption, style="table.caption") if isinstance(caption, str)
                     else caption)
    return Group(*parts)


def flowed(pieces: Sequence[Text | str], width: int, sep: str = " · ",
           indent: int = 0) -> Text:
    """`pieces` joined by `sep` on lines of at most `width` cells, for printing with
    soft_wrap=True. Lines break only between pieces, so a piece ('40 batches of 32', a path,
    a '[runs / run]' pair) is never split: one wider than `width` stands alone on its line.
    A break takes the separator's place; lines after the first start with `indent` spaces."""
    out, used = Text(), 0
    for i, piece in enumerate(pieces):
        piece = Text(piece) if isinstance(piece, str) else piece
        if i and used + len(sep) + piece.cell_len <= width:
            out.append(sep)
            used += len(sep)
        elif i:
            out.append("\n" + " " * indent)
            used = indent
        out.append_text(piece)
        used += piece.cell_len
    return out


def param_axes(ndim: int) -> tuple[str, ...]:
    """The names of a parameter's leading axes: a conv weight's filter and input channel,
    a gated cell's stacked gates."""
    return {4: ("filter", "channel"), 3: ("gate",)}.get(ndim, ())


# --------------------------------------------------------------------------- colour

def _lerp(a: tuple[int, ...], b: tuple[int, ...], t: float) -> tuple[int, int, int]:
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b, strict=True))  # type: ignore


def cell_style(value: float, scale: float) -> Style:
    """Diverging style for `value` given the largest |value| `scale`."""
    if value == 0 or scale == 0 or not math.isfinite(value):
        return Style(dim=True)
    t = min(abs(value) / scale, 1.0)
    stops = _POS if value > 0 else _NEG
    rgb = _lerp(stops[0], stops[1], t * 2) if t <= 0.5 else _lerp(stops[1], stops[2],
                                                                   (t - 0.5) * 2)
    luminance = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    fg = Color.from_rgb(0, 0, 0) if luminance > 140 else Color.from_rgb(255, 255, 255)
    return Style(color=fg, bgcolor=Color.from_rgb(*rgb), bold=t >= 0.5)


# --------------------------------------------------------------------------- heatmap

def _pick(n: int, limit: int, focus: tuple[int, int] | None = None) -> list[int | None]:
    """Indices to show along an axis of length n, at most `limit` slots; None = '…'.

    Without `focus`: the head and the tail. With focus (lo, hi): the first and last index
    and a window around lo..hi, so a highlighted cell is never in the cut-out middle."""
    if n <= limit:
        return list(range(n))
    limit = max(limit, 3)
    if focus is None:
        head = limit - 1 - (limit - 1) // 2
        tail = (limit - 1) // 2
        return [*range(head), None, *range(n - tail, n)]
    lo, hi = max(0, focus[0]), min(n - 1, focus[1])
    room = max(limit - 4, hi - lo + 1)              # first, …, the window, …, last
    start = max(0, min(lo - (room - (hi - lo + 1)) // 2, n - room))
    out: list[int | None] = []
    for i in sorted({0, n - 1, *range(start, start + room)}):
        if out and i != out[-1] + 1:
            out.append(None)
        out.append(i)
    return out


def _blocks(n: int, per_block: int) -> list[list[int | None]]:
    """Every index of an axis of length n, in blocks of at most `per_block` (--full)."""
    per_block = max(per_block, 1)
    return [list(range(i, min(i + per_block, n))) for i in range(0, n, per_block)]


class _Mask:
    """Membership test for a boolean array of the tensor's shape (cheap for big tensors)."""

    def __init__(self, mask: np.ndarray) -> None:
        self.mask = mask

    def __contains__(self, index: tuple[int, ...]) -> bool:
        return bool(self.mask[index])

    def __bool__(self) -> bool:
        return bool(self.mask.any())


def _cells(cells, shape: tuple[int, ...]):
    if isinstance(cells, np.ndarray) and cells.dtype == bool:
        if cells.shape != shape:
            raise ValueError(f"mask shape {cells.shape} does not match the array {shape}")
        return _Mask(cells)
    return {tuple(int(i) for i in ix) for ix in cells}


class Heatmap:
    """A rich renderable showing a 1-D, 2-D, 3-D or 4-D array as heatmap table(s).

    array: (W,), (H, W), or (..., H, W) -> one table per leading index (labelled with
    `axis_names`, e.g. ("channel",) or ("filter", "channel"); at most `max_maps`).
    highlight / mark: sets of full index tuples, or boolean arrays of the array's shape,
    shown as [v] / v*.
    origin: label of the first row/column per axis (e.g. (-1, -1) for a padded input).
    scale: the |v| that gets the strongest colour (default: max |v| of `array`).
    Rows/columns beyond max_rows/max_cols (or the console width) are cut with "…", keeping
    the highlighted cells in view, and a note says what was cut (`hint`: how to see all,
    e.g. "--full shows every value"). full=True cuts nothing: every map and row, the
    columns in blocks as wide as the console. Built lazily, so cuts can use the width.
    """

    def __init__(self, array: np.ndarray, title: str | None = None, *,
                 highlight: Collection[tuple[int, ...]] | np.ndarray = (),
                 mark: Collection[tuple[int, ...]] | np.ndarray = (),
                 max_rows: int = 16, max_cols: int = 16, max_maps: int = 8,
                 axis_names: Sequence[str] = (), origin: Sequence[int] = (),
                 caption: str | None = None, stats: bool = True,
                 scale: float | None = None, full: bool = False,
                 hint: str | None = None) -> None:
        self.array = np.asarray(array)
        if self.array.ndim == 0:
            self.array = self.array.reshape(1)
        self.title = title
        self.highlight = _cells(highlight, self.array.shape)
        self.mark = _cells(mark, self.array.shape)
        self.max_rows, self.max_cols, self.max_maps = max_rows, max_cols, max_maps
        self.axis_names = tuple(axis_names)
        self.origin = tuple(origin)
        self.caption = caption
        self.stats = stats
        self.full, self.hint = full, hint
        a = self.array
        finite = np.abs(a[np.isfinite(a)]) if a.dtype.kind == "f" else np.abs(a)
        self.scale = float(scale) if scale is not None else (
            float(finite.max()) if finite.size else 0.0)
        self.fmt = number_formatter(a)

    # -- pieces
    def _label(self, lead: tuple[int, ...]) -> str:
        parts = []
        for axis, i in enumerate(lead):
            name = self.axis_names[axis] if axis < len(self.axis_names) else f"axis {axis}"
            parts.append(f"{name} {i}")
        return ", ".join(parts)

    def _cell(self, index: tuple[int, ...]) -> Text:
        v = self.array[index]
        s = self.fmt(v)
        style = cell_style(float(v), self.scale)
        if index in self.highlight:
            s = f"[{s}]"
            style = style + Style(underline=True, bold=True)
        if index in self.mark:
            s = f"{s}*"
            style = style + Style(bold=True)
        return Text(s, style=style, justify="right")

    def _cell_width(self) -> int:
        a = self.array
        sample = a.reshape(-1)
        if sample.size > 4096:
            sample = np.concatenate([sample[:2048], sample[-2048:],
                                     np.array([a.min(), a.max()], dtype=a.dtype)])
        width = max(len(self.fmt(v)) for v in sample)
        return width + (2 if self.highlight else 0) + (1 if self.mark else 0)

    def _focus(self, axis: int) -> tuple[int, int] | None:
        """The range of the highlighted cells along `axis` (-2 rows, -1 columns)."""
        hl = self.highlight
        if isinstance(hl, _Mask):
            where = np.argwhere(hl.mask)
            picked = where[:, axis] if len(where) else []
        else:
            picked = [index[axis] for index in hl]
        return (int(min(picked)), int(max(picked))) if len(picked) else None

    def _cut_note(self, hidden_maps: int, row_ix: list, col_ix: list) -> Text | None:
        """'… 8 more maps not shown; 16 of 40 rows, 6 of 10 columns shown (stats cover
        all; --full shows all)'."""
        a = self.array
        pieces, shown = [], []
        if hidden_maps:
            pieces.append(f"{hidden_maps} more maps not shown")
        rows = sum(i is not None for i in row_ix)
        if a.ndim >= 2 and rows < a.shape[-2]:
            shown.append(f"{rows} of {a.shape[-2]} rows")
        cols = sum(i is not None for i in col_ix)
        if cols < a.shape[-1]:
            shown.append(f"{cols} of {a.shape[-1]} {'columns' if a.ndim >= 2 else 'values'}")
        if shown:
            pieces.append(", ".join(shown) + " shown")
        if not pieces:
            return None
        hint = f"; {self.hint}" if self.hint else ""
        return Text(f"{ELLIPSIS} {'; '.join(pieces)} (stats cover all{hint})", style="dim")

    def _table(self, lead: tuple[int, ...], row_ix: list, col_ix: list,
               title: str | None) -> Table:
        a = self.array
        two_d = a.ndim >= 2
        r0 = self.origin[-2] if two_d and len(self.origin) >= 2 else 0
        c0 = self.origin[-1] if self.origin else 0
        table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1),
                      show_edge=False, title_justify="left", header_style="dim")
        # the label goes above as a full-width line (see `titled`)
        if two_d:
            table.add_column("", style="dim", justify="right")
        for j in col_ix:
            table.add_column(ELLIPSIS if j is None else str(j + c0), justify="right")
        for i in row_ix:
            if i is None:
                table.add_row(*([ELLIPSIS] * (len(col_ix) + 1)))
                continue
            cells: list[Text | str] = [str(i + r0)] if two_d else []
            for j in col_ix:
                if j is None:
                    cells.append(ELLIPSIS)
                else:
                    index = (*lead, i, j) if two_d else (j,)
                    cells.append(self._cell(index))
            table.add_row(*cells)
        return table

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        a = self.array
        h = a.shape[-2] if a.ndim >= 2 else 1
        two_d = a.ndim >= 2
        # A SIMPLE_HEAD table without edge padding: the row labels, then 3 characters
        # (padding, rule, padding) before each column as wide as its cells or its label.
        r0 = self.origin[-2] if two_d and len(self.origin) >= 2 else 0
        c0 = self.origin[-1] if self.origin else 0
        label_w = max(len(str(r0)), len(str(h - 1 + r0)), 1) if two_d else -3
        cell_w = max(self._cell_width(), len(str(c0)), len(str(a.shape[-1] - 1 + c0)))
        fit = max(3, (options.max_width - label_w) // (cell_w + 3))
        if self.full:
            row_ix: list[int | None] = list(range(h)) if two_d else [0]
            col_blocks = _blocks(a.shape[-1], fit)
        else:
            row_ix = _pick(h, self.max_rows, self._focus(-2)) if two_d else [0]
            col_blocks = [_pick(a.shape[-1], min(self.max_cols, fit), self._focus(-1))]
        leads = [()] if a.ndim <= 2 else [tuple(int(i) for i in lead)
                                          for lead in np.ndindex(*a.shape[:-2])]
        shown = leads if self.full or len(leads) <= self.max_maps else leads[:self.max_maps]
        parts: list = []
        if self.title:
            parts.append(Text(self.title, style="bold"))
        for lead in shown:
            for k, col_ix in enumerate(col_blocks):
                label = self._label(lead) if lead and k == 0 else None
                parts.append(titled(self._table(lead, row_ix, col_ix, label)))
        note = None if self.full else self._cut_note(len(leads) - len(shown), row_ix,
                                                     col_blocks[0])
        if note is not None:
            parts.append(note)
        if self.stats:
            parts.append(Text(stats_line(a), style="dim"))
        if self.caption:
            parts.append(Text(self.caption, style="dim"))
        yield Group(*parts)


# The name commands use: heatmap(array, title, ...) builds a Heatmap.
heatmap = Heatmap


def console(stderr: bool = False) -> Console:
    """The Console commands print to (honours NO_COLOR, width of the terminal or pipe).
    While a command runs with --save, standard output's console is the one recording it
    (nncli.render.recording)."""
    from nncli.render import recording

    recorder = None if stderr else recording.console()
    return recorder if recorder is not None else Console(stderr=stderr, highlight=False)
