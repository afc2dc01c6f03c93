"""The dataset registry: every dataset a spec's `data:` can name, found by looking in this
package. Adding a dataset is one new file in nncli/datasets/ (plus its tests): a class
that subclasses DatasetKind (base.py; or Generated, TextDataset) and sets `name`,
`summary` and `OPTIONS` in its own body. Spec validation and its messages, the spec's
JSON Schema and the lists of names in messages all read this registry.

Every module of the package whose name does not start with "_" is imported to look; a
class counts when its own body sets `name` and it has a summary. Two classes claiming
one name is a programming error raised on first use (and by the tests).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from nncli.datasets.base import DatasetKind, Source
from nncli.discovery import by_name, declared
from nncli.options import check_options, suggest


@cache
def _table() -> dict[str, DatasetKind]:
    """name -> dataset (one instance of each class), sorted by name."""
    import nncli.datasets as package

    def counts(cls: type) -> bool:
        return "name" in vars(cls) and bool(cls.summary)

    def twice(first: type, second: type) -> str:
        return (f"dataset '{second.name}' is declared twice: by {first.__name__} and "
                f"{second.__name__}")

    found = by_name(map(_checked, declared(package, DatasetKind, counts)),
                    lambda cls: cls.name, twice)
    return {name: cls() for name, cls in found.items()}


def _checked(cls: type[DatasetKind]) -> type[DatasetKind]:
    first = "path" if cls.by_path else "name"
    if next(iter(cls.OPTIONS), None) != first:
        raise RuntimeError(f"{cls.__name__}: OPTIONS must start with '{first}'")
    return cls


def named() -> dict[str, DatasetKind]:
    """The datasets chosen by `name:`, sorted by name."""
    return {k: v for k, v in _table().items() if not v.by_path}


def file_kinds() -> list[DatasetKind]:
    """The datasets chosen by `path:`: those with a selecting option first, the one without
    (the user's arrays) last."""
    return sorted((v for v in _table().values() if v.by_path),
                  key=lambda v: (v.selects is None, v.name))


def descriptions(text: bool) -> dict[str, str]:
    """name -> one-line summary of the named text (or non-text) datasets."""
    return {k: v.summary for k, v in named().items() if v.text == text}


def find(cfg: Any) -> DatasetKind | None:
    """The dataset a `data:` entry (a name or a mapping) asks for, or None; never raises."""
    cfg = {"name": cfg} if isinstance(cfg, str) else cfg
    if not isinstance(cfg, dict) or ("name" in cfg) == ("path" in cfg):
        return None
    if "path" in cfg:
        return next(k for k in file_kinds() if k.selects is None or k.selects in cfg)
    name = cfg["name"]
    return named().get(name) if isinstance(name, str) else None


def resolve(cfg: Any, src: Source) -> tuple[DatasetKind, dict]:
    """The dataset of a `data:` entry and its checked options (defaults filled in)."""
    if isinstance(cfg, str):
        cfg = {"name": cfg}
    if not isinstance(cfg, dict):
        raise src.error(None, f"expected a dataset name or a mapping with 'name:' or "
                        f"'path:', got {type(cfg).__name__}")
    if ("name" in cfg) == ("path" in cfg):
        raise src.error(None, "give exactly one of 'name:' (a built-in dataset) or 'path:' "
                        "(a file)")
    kind = find(cfg)
    if kind is None:
        raise src.error("name", _unknown_name(cfg["name"]))
    return kind, check_options(src.locator, ("data",), cfg, kind.OPTIONS)


def _unknown_name(name: Any) -> str:
    from nncli.datasets.files import FILE_SUFFIXES

    plain, text = descriptions(text=False), descriptions(text=True)
    shown = str(name)
    hint = suggest(shown, [*plain, *text]) or (f"; valid names: {', '.join(plain)}; "
                                               f"text: {', '.join(text)}")
    if Path(shown).suffix.lower() in FILE_SUFFIXES:
        hint += f"; to read a file write 'data: {{path: {shown}}}'"
    return f"unknown dataset '{shown}'{hint}"
