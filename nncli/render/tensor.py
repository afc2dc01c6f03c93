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
    shape_str,
)

ELLIPSIS = "…"
# ColorBrewer RdBu: light -> strong for each sign.
_NEG = ((209, 229, 240), (103, 169, 207), (33, 102, 172))
_POS = ((253, 219, 199), (239, 138, 98), (178, 24, 43))
LEGEND = ("colour: blue < 0 < red (white = 0); bold: |v| >= max|v|/2; dim: 0; "
          "[v]: highlighted; v*: marked")


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

def _pick(n: int, limit: int) -> list[int | None]:
    """Indices to show along an axis of length n, at most `limit` slots; None = '…'."""
    if n <= limit:
        return list(range(n))
    limit = max(limit, 3)
    head = limit - 1 - (limit - 1) // 2
    tail = (limit - 1) // 2
    return [*range(head), None, *range(n - tail, n)]


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
    Rows/columns beyond max_rows/max_cols (or the console width) are cut with "…".
    Built lazily, so truncation can use the console width.
    """

    def __init__(self, array: np.ndarray, title: str | None = None, *,
                 highlight: Collection[tuple[int, ...]] | np.ndarray = (),
                 mark: Collection[tuple[int, ...]] | np.ndarray = (),
                 max_rows: int = 16, max_cols: int = 16, max_maps: int = 8,
                 axis_names: Sequence[str] = (), origin: Sequence[int] = (),
                 caption: str | None = None, stats: bool = True,
                 scale: float | None = None) -> None:
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

    def _table(self, lead: tuple[int, ...], rows: int, cols: int, title: str | None) -> Table:
        a = self.array
        two_d = a.ndim >= 2
        h = a.shape[-2] if two_d else 1
        w = a.shape[-1]
        r0 = self.origin[-2] if two_d and len(self.origin) >= 2 else 0
        c0 = self.origin[-1] if self.origin else 0
        col_ix = _pick(w, cols)
        row_ix = _pick(h, rows) if two_d else [0]
        table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1),
                      show_edge=False, title_justify="left", header_style="dim")
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
        cell_w = self._cell_width() + 1
        h = a.shape[-2] if a.ndim >= 2 else 1
        label_w = len(str(h + (self.origin[-2] if len(self.origin) >= 2 else 0))) + 1
        fit = max(3, (options.max_width - label_w - 1) // max(cell_w + 1, 2))
        cols = min(self.max_cols, fit)
        parts: list = []
        if self.title:
            parts.append(Text(self.title, style="bold"))
        if a.ndim <= 2:
            parts.append(self._table((), self.max_rows, cols, None))
        else:
            leads = list(np.ndindex(*a.shape[:-2]))
            shown = leads if len(leads) <= self.max_maps else leads[:self.max_maps]
            for lead in shown:
                lead = tuple(int(i) for i in lead)
                parts.append(self._table(lead, self.max_rows, cols, self._label(lead)))
            if len(leads) > len(shown):
                parts.append(Text(f"{ELLIPSIS} {len(leads) - len(shown)} more maps not shown "
                                  f"(the stats cover all)", style="dim"))
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
