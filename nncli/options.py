"""The one option system: typed option tables, checked the same way everywhere.

Layers, losses, the `train:` section, optimizers and datasets each declare a table
{name: Option(kind, default, help)}. `check_options` validates a mapping from a spec against
it and fills in defaults; every error names the file, line and spec path through the
`Located.error` of the object passed in (a `Spec`), so one message style serves them all.
The same tables generate the spec's JSON Schema and the `nncli layers` listing.

Kinds: "int>=N", "float" (any finite number, negatives too), "float>0", "float>=0",
"float[0,1)", "pair[0,1)" (two numbers in [0, 1),
such as Adam's betas), "bool", a tuple of allowed strings,
"gate" (null or a number in [0, 1]), "params" (parameter name -> nested list),
"int>=1|vocab" (a number, or `vocab`: the size of the text dataset's vocabulary); a kind
ending in "?" also accepts null ("off"). A kind may also be an object with
`check(spec, path, value)` (returns the value or raises spec.error) and `schema()` (its
JSON Schema), for values no string kind describes (datasets/option_kinds.py).
"""

from __future__ import annotations

import difflib
import math
import reprlib
from typing import Any, NamedTuple, Protocol

import numpy as np
import yaml

from nncli.errors import InputError

REQUIRED = object()       # the default of an option that must be given


class Option(NamedTuple):
    """One entry of an option table."""

    kind: Any
    default: Any = REQUIRED
    help: str = ""


class Located(Protocol):
    """Anything that can say where a spec path sits (a Spec: 'model.yaml:7 layers[1]')."""

    def error(self, path: tuple, message: str) -> InputError: ...


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 60
_REPR.maxlist = _REPR.maxdict = _REPR.maxtuple = 6
_REPR.maxlevel = 3


def show(value: Any) -> str:
    """A value from the spec as it reads in a message: repr, cut short if it is long."""
    return _REPR.repr(value)


def suggest(word: Any, choices) -> str:
    if not isinstance(word, str) or len(word) > 100:
        return ""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def check_options(spec: Located, path: tuple, given: dict, table: dict) -> dict:
    """Validate a mapping of options against a table {name: Option}; fill in defaults."""
    for key in given:
        if key not in table:
            valid = ", ".join(table) or "none"
            raise spec.error((*path, key), f"unknown option '{key}'{suggest(key, table)}; "
                             f"valid options: {valid}")
    out = {}
    for key, entry in table.items():
        kind, default = entry[0], entry[1]
        if key not in given:
            if default is REQUIRED:
                raise spec.error(path, f"missing required option '{key}'")
            out[key] = default
        else:
            out[key] = check_value(spec, (*path, key), given[key], kind)
    return out


def check_value(spec: Located, path: tuple, value: Any, kind: Any) -> Any:
    """Validate one option value against its kind; return it converted."""
    if hasattr(kind, "check"):                  # a kind object, e.g. datasets/option_kinds
        return kind.check(spec, path, value)
    if isinstance(kind, tuple):
        if value not in kind:
            raise spec.error(path, f"expected one of {', '.join(kind)}, got {show(value)}"
                             f"{suggest(value, kind)}")
        return value
    if kind == "int>=1|vocab":
        if isinstance(value, str) and value == "vocab":
            return value
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise spec.error(path, f"expected an integer >= 1 or 'vocab' (the size of the "
                             f"text dataset's vocabulary), got {show(value)}")
        return value
    if kind.endswith("?"):                          # nullable: null means "off"
        return None if value is None else check_value(spec, path, value, kind[:-1])
    if kind.startswith("int>="):
        low = int(kind[5:])
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise spec.error(path, f"expected an integer >= {low}, got {show(value)}")
        return value
    if kind.startswith("float"):
        wants = {"float": ("a finite number", lambda v: True),
                 "float>0": ("a number > 0", lambda v: v > 0),
                 "float>=0": ("a number >= 0", lambda v: v >= 0),
                 "float[0,1)": ("a number in [0, 1)", lambda v: 0 <= v < 1)}
        want, ok = wants[kind]
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not (number and math.isfinite(value) and ok(value)):
            raise spec.error(path, f"expected {want}, got {show(value)}{_yaml_hint(value)}")
        return float(value)
    if kind == "pair[0,1)":
        if not (isinstance(value, list) and len(value) == 2):
            raise spec.error(path, f"expected two numbers in [0, 1) such as [0.9, 0.999], "
                             f"got {show(value)}")
        return [check_value(spec, (*path, i), v, "float[0,1)") for i, v in enumerate(value)]
    if kind == "bool":
        if not isinstance(value, bool):
            raise spec.error(path, f"expected true or false, got {show(value)}")
        return value
    if kind == "gate":
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise spec.error(path, f"expected a number in [0, 1] (or null for a learned "
                             f"gate), got {show(value)}")
        return float(value)
    if kind == "params":
        if not isinstance(value, dict):
            raise spec.error(path, f"expected a mapping from parameter name to values, got "
                             f"{show(value)}")
        return {name: _array(spec, (*path, name), v) for name, v in value.items()}
    raise AssertionError(kind)


def _yaml_hint(value: Any) -> str:
    """YAML 1.1 reads 1e-3 (no dot) as a string: say how to write it as a number."""
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return ""
        shown = yaml.safe_dump(number).splitlines()[0]        # as YAML writes a float
        return f" (a string: YAML reads it as a number when written {shown})" \
            if math.isfinite(number) else ""
    return ""


def _array(spec: Located, path: tuple, value: Any) -> np.ndarray:
    try:
        arr = np.array(value, dtype=np.float64)
    except (ValueError, TypeError):
        raise spec.error(path, "expected numbers in nested lists of equal length") from None
    if not np.all(np.isfinite(arr)):
        raise spec.error(path, "holds NaN or infinite values")
    return arr
