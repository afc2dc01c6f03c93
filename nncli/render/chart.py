"""Curves per epoch as a unicode chart in the terminal: train's loss chart (train and val
loss) and compare's overlaid runs are the same drawing with other series.

Each series has a mark (● ◆ ▲ ...) at its epochs, joined by dots in its colour; where two
series' marks fall on one cell it shows ◉. The y axis is logarithmic when the values span
more than a factor of 10. Without colour the marks still tell the series apart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

from rich.text import Text

from nncli.render import tensor as render

MARKS = ("●", "◆", "▲", "■", "▼", "✚", "○", "◇")
COLOURS = ("cyan", "magenta", "green", "yellow", "blue", "red", "bright_cyan",
           "bright_magenta")
BOTH = "◉"


class Series(NamedTuple):
    name: str
    mark: str
    colour: str
    values: Sequence[float | None]     # one per entry of the chart's epochs (None: no point)


def series(names: Sequence[str], values: Sequence[Sequence[float | None]]) -> list[Series]:
    """Series with the marks and colours in order (at most len(MARKS))."""
    return [Series(name, MARKS[i], COLOURS[i], ys)
            for i, (name, ys) in enumerate(zip(names, values, strict=True))]


def line_chart(title: str, lines: Sequence[Series], epochs: Sequence[int], width: int = 60,
               height: int = 12) -> Text:
    """`lines` over `epochs` (the x axis, ascending): a mark per value, dots between
    neighbouring values; a series without any value is left out of chart and legend."""
    lines = [s for s in lines if any(v is not None for v in s.values)]
    values = [v for s in lines for v in s.values if v is not None]
    n = len(epochs)
    log = min(values) > 0 and max(values) / min(values) > 10
    f = math.log10 if log else (lambda v: v)
    lo, hi = f(min(values)), f(max(values))
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    cols = max(2, min(width, 3 * n)) if n > 1 else 1
    grid: list[list[tuple[str, str] | None]] = [[None] * cols for _ in range(height)]
    marks = {s.mark for s in lines}

    def row_of(v: float) -> int:
        return round((f(v) - lo) / (hi - lo) * (height - 1))

    def col_of(epoch_index: int) -> int:
        return round(epoch_index / (n - 1) * (cols - 1)) if n > 1 else 0

    for _name, mark, colour, ys in lines:
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
                both = cell is not None and cell[0] in marks and cell[0] != mark
                grid[r][c] = (BOTH, "bold") if both else (mark, colour)
    labels = {height - 1: hi, 0: lo, (height - 1) // 2: lo + (hi - lo) * ((height - 1) // 2)
              / (height - 1)}
    gutter = max(len(_axis(v, log)) for v in labels.values())
    text = Text()
    text.append(f"{title}{' (log scale)' if log else ''}   ", style="bold")
    for name, mark, colour, _ys in lines:
        text.append(f"{mark} {name}  ", style=colour)
    if any(cell and cell[0] == BOTH for row in grid for cell in row):
        text.append(f"{BOTH} {'both' if len(lines) == 2 else 'several'}", style="bold")
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
    first, last = str(epochs[0]), str(epochs[-1])
    axis = first.ljust(max(cols - len(last), len(first) + 1)) + last if n > 1 else first
    text.append(f"{'':>{gutter}}  {axis}  epoch", style="dim")
    return text


def _axis(v: float, log: bool) -> str:
    return render.format_float(10 ** v if log else v, 3)
