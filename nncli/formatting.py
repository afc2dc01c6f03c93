"""How values read in text: numbers, shapes and counts, the same in tables, messages and JSON.

Pure (numpy only): the core uses these for messages and for the text fields of --json
output (conv --explain's expression); `nncli.render` uses them for every table.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Callable, Iterable

import numpy as np


def shape_str(shape: Iterable[int]) -> str:
    """(5, 5) -> '5x5'; (3,) -> '3'."""
    return "x".join(str(int(n)) for n in shape) or "scalar"


def shell_word(value) -> str:
    """A path or value as one word of a command the output suggests, quoted for a POSIX
    shell when it needs it: 'runs/my run' -> "'runs/my run'"."""
    return shlex.quote(str(value))


def plural(n: int, word: str) -> str:
    """plural(1, 'value') -> '1 value'; plural(3, 'entry') -> '3 entries';
    plural(2, 'batch') -> '2 batches'; plural(12345, 'parameter') -> '12,345 parameters'.
    Text for people: JSON keeps its counts as plain integers."""
    if n == 1:
        return f"1 {word}"
    if word.endswith("y") and word[-2:-1] not in ("a", "e", "o", "u"):
        word = word[:-1] + "ie"
    elif word.endswith(("s", "x", "z", "ch", "sh")):
        word += "e"
    return f"{n:,} {word}s"



def number_formatter(array: np.ndarray | Iterable[float], digits: int = 4
                     ) -> Callable[[float], str]:
    """One formatting rule for a whole tensor: integers as integers, else `digits` sig. figs.

    Integer arrays, and float arrays whose values are all whole numbers (2.0), print as
    "2"; others use the shortest of %g with `digits` significant digits.
    """
    a = np.asarray(array)
    integral = a.dtype.kind in "biu"
    if not integral and a.size and a.dtype.kind == "f":
        finite = a[np.isfinite(a)]
        integral = bool(finite.size == a.size and np.all(finite == np.round(finite))
                        and np.abs(finite).max() < 1e15)
    if integral:
        return lambda v: str(int(v))
    return lambda v: format_float(v, digits)


def format_float(v: float, digits: int = 4) -> str:
    """%g with `digits` significant digits; -0 shown as 0."""
    v = float(v)
    if v == 0:
        return "0"
    return f"{v:.{digits}g}"


def format_number(v: float, digits: int = 4) -> str:
    """A single value: whole numbers without a decimal point, else `digits` sig. figs."""
    v = v.item() if isinstance(v, np.generic) else v
    if isinstance(v, int | bool) or (math.isfinite(v) and v == round(v) and abs(v) < 1e15):
        return str(int(v))
    return format_float(v, digits)
