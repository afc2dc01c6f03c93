"""Option kinds that only datasets need, for nncli.options.check_options.

The string kinds of nncli.options ("int>=1", "float>=0", "bool", ("chars", "words"), ...)
cover most dataset options. The ones here are objects with the two methods a kind object
provides: `check(spec, path, value)` returns the value or raises `spec.error(path, ...)`,
and `schema()` returns its JSON Schema (read by nncli.spec_schema). A new dataset whose
option fits none of these writes its own kind object next to its class.
"""

from __future__ import annotations

from typing import Any

from nncli.options import Located, check_value, show


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class FileName:
    """A file name, relative to the spec's folder (the kind of `path:`)."""

    def check(self, spec: Located, path: tuple, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise spec.error(path, f"expected a file name, got {show(value)}")
        return value

    def schema(self) -> dict:
        return {"type": "string", "minLength": 1,
                "description": "a file, relative to the spec's folder (only read)"}


class OneOf:
    """One of a few words, or null (the option's automatic choice): e.g. `task:`."""

    def __init__(self, *words: str) -> None:
        self.words = words

    def check(self, spec: Located, path: tuple, value: Any) -> str | None:
        return None if value is None else check_value(spec, path, value, self.words)

    def schema(self) -> dict:
        return {"enum": [*self.words, None]}


class Fractions:
    """[train, val, test]: three fractions >= 0 that sum to 1, train > 0 (`split:`)."""

    def check(self, spec: Located, path: tuple, value: Any) -> list[float]:
        ok = (isinstance(value, list | tuple) and len(value) == 3
              and all(_is_number(f) and 0 <= f <= 1 for f in value)
              and abs(sum(value) - 1.0) <= 1e-6 and value[0] > 0)
        if not ok:
            raise spec.error(path, "expected three fractions [train, val, test] >= 0 summing "
                             f"to 1 with train > 0, e.g. [0.8, 0.1, 0.1]; got {show(value)}")
        return list(value)

    def schema(self) -> dict:
        return {"type": "array", "minItems": 3, "maxItems": 3,
                "items": {"type": "number", "minimum": 0, "maximum": 1},
                "description": "fractions [train, val, test] summing to 1, train > 0"}


class Shape:
    """null, or the shape of one sample as a list of integers >= 1 (`shape:`)."""

    def check(self, spec: Located, path: tuple, value: Any) -> list[int] | None:
        if value is None:
            return None
        if not (isinstance(value, list | tuple) and value
                and all(_is_int(d) and d >= 1 for d in value)):
            raise spec.error(path, f"expected a list of integers >= 1, got {show(value)}")
        return list(value)

    def schema(self) -> dict:
        return {"anyOf": [{"type": "null"}, {"type": "array", "minItems": 1,
                                             "items": {"type": "integer", "minimum": 1}}]}


class Span:
    """null, or [low, high] with 0 <= low <= high <= maximum: a count drawn uniformly
    from that range for each sentence (`modifiers:`, `fillers:`)."""

    def __init__(self, maximum: int, what: str) -> None:
        self.maximum, self.what = maximum, what

    def check(self, spec: Located, path: tuple, value: Any) -> tuple[int, int] | None:
        if value is None:
            return None
        ok = (isinstance(value, list) and len(value) == 2
              and all(_is_int(v) and 0 <= v <= self.maximum for v in value)
              and value[0] <= value[1])
        if not ok:
            raise spec.error(path, f"expected [low, high] with 0 <= low <= high <= "
                             f"{self.maximum} ({self.what}), got {show(value)}")
        return value[0], value[1]

    def schema(self) -> dict:
        return {"anyOf": [{"type": "null"}, {
            "type": "array", "minItems": 2, "maxItems": 2,
            "items": {"type": "integer", "minimum": 0, "maximum": self.maximum}}]}
