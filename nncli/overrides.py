"""Command-line overrides of a spec: `--set train.lr=0.01`, `--lr 0.01`, ...

An override names a dotted path into the spec (`layers.0.conv.filters`: list entries by
index) and a value written as YAML (`0.01`, `true`, `[1, 8, 8]`, `{name: digits}`). They are
applied to the raw spec before it is validated, so the spec's own checks judge them; the
spec remembers which paths came from which argument, and an error there names the argument
instead of a file line: `--set train.lr=-1: train.lr: expected a number > 0, got -1`.

Pure: no printing, no rich/typer.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any, NamedTuple

import yaml

from nncli.errors import InputError

MAX_VALUE_CHARS = 10_000
# Where the spec accepts a short form, a path may still reach inside it: `data: digits`
# means {name: digits}, a layer `- flatten` means {flatten: {}}, `conv:` (null) means {}.
_SHORT_FORMS = {("data",): lambda s: {"name": s}}


class Override(NamedTuple):
    """One override: where (keys; list indexes still as text), the value, as the user wrote it."""

    keys: tuple[str, ...]
    value: Any
    given: str            # "--set train.lr=0.01" or "--lr 0.01": what errors quote


def parse(text: str, given: str | None = None) -> Override:
    """'train.lr=0.01' -> Override(('train', 'lr'), 0.01, '--set train.lr=0.01')."""
    given = given or f"--set {text}"
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise InputError(f"{given}: expected PATH=VALUE, e.g. --set train.lr=0.01 or --set "
                         f"layers.0.conv.filters=8")
    keys = tuple(part.strip() for part in key.strip().split("."))
    if any(not part for part in keys):
        raise InputError(f"{given}: '{key}' has an empty part; write the path with single "
                         f"dots, e.g. train.lr")
    return Override(keys, _yaml_value(raw, given), given)


def shortcut(keys: str, value: Any, flag: str) -> Override:
    """An override from a typed option: shortcut('train.lr', 0.01, '--lr')."""
    return Override(tuple(keys.split(".")), value, f"{flag} {value}")


def _yaml_value(raw: str, given: str) -> Any:
    """The value as YAML reads it (`0.01` a number, `relu` a string, empty: null)."""
    if len(raw) > MAX_VALUE_CHARS:
        raise InputError(f"{given[:60]}...: the value is longer than {MAX_VALUE_CHARS:,} "
                         f"characters; put it in the spec file instead")
    try:
        loader = yaml.SafeLoader(raw)
        try:
            node = loader.get_single_node()
            if node is not None and _has_alias(node):
                raise InputError(f"{given}: anchors and aliases (&name, *name) are not "
                                 f"supported in an override; write the value out")
            return loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as err:
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise InputError(f"{given}: the value is not valid YAML ({problem}); quote it or "
                         f"write it as in the spec file") from None
    except RecursionError:
        raise InputError(f"{given}: the value is nested too deeply") from None


def _has_alias(root: yaml.Node) -> bool:
    """An alias is a node met twice while walking the composed value."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            return True
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            stack.extend(c for pair in node.value for c in pair)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return False


def apply_overrides(raw: Any, overrides: Iterable[str | Override]) -> tuple[Any, dict[tuple, str]]:
    """(a copy of the raw spec with the overrides applied, {spec path: argument}).

    Strings are parsed as `--set` values. A missing mapping on the way is created (the spec's
    checks then say whether the key belongs there); a list index must exist."""
    items = [o if isinstance(o, Override) else parse(o) for o in overrides]
    if not items or not isinstance(raw, dict):
        return raw, {}
    out = copy.deepcopy(raw)
    origins: dict[tuple, str] = {}
    for item in items:
        origins[_set(out, item)] = item.given
    return out, origins


def _set(root: dict, item: Override) -> tuple:
    node: Any = root
    path: tuple = ()
    for depth, key in enumerate(item.keys):
        last = depth == len(item.keys) - 1
        if isinstance(node, list):
            index = _index(node, key, path, item.given)
            path = (*path, index)
            if last:
                node[index] = item.value
            else:
                node[index] = _container(node[index], path, item)
                node = node[index]
            continue
        if not isinstance(node, dict):          # cannot happen: _container made it one
            raise AssertionError(path)
        path = (*path, key)
        if last:
            node[key] = item.value
        else:
            node[key] = _container(node.get(key), path, item)
            node = node[key]
    return path


def _container(value: Any, path: tuple, item: Override) -> Any:
    """The mapping or list at `path` to descend into (a short form expanded, null -> {})."""
    if isinstance(value, dict | list):
        return value
    if value is None:
        return {}
    if isinstance(value, str) and path in _SHORT_FORMS:
        return _SHORT_FORMS[path](value)
    if isinstance(value, str) and len(path) == 2 and path[0] == "layers":
        return {value: {}}                     # a layer written by name only
    raise InputError(f"{item.given}: {_dotted(path)} is {value!r}, not a mapping or a list, "
                     f"so it has no '{item.keys[len(path)]}'")


def _index(node: list, key: str, path: tuple, given: str) -> int:
    where = _dotted(path) or "the spec"
    try:
        index = int(key)
    except ValueError:
        raise InputError(f"{given}: {where} is a list; address its entries by number, e.g. "
                         f"{_dotted((*path, 0))}") from None
    if not 0 <= index < len(node):
        raise InputError(f"{given}: {where} has {len(node)} "
                         f"{'entry' if len(node) == 1 else 'entries'} (0 to {len(node) - 1}), "
                         f"not {key}")
    return index


def _dotted(path: tuple) -> str:
    return ".".join(str(p) for p in path)


def override_origin(origins: dict[tuple, str], path: tuple) -> str | None:
    """The argument(s) behind the value at `path`: an override at the path or above it (the
    value came from the command line), or below it (a mapping holding an overridden value)."""
    if not origins or not path:
        return None
    path = tuple(path)
    hits = [given for where, given in origins.items()
            if path[:len(where)] == where or where[:len(path)] == path]
    return ", ".join(dict.fromkeys(hits)) or None
