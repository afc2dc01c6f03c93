"""Finding the classes a package declares, for the registries (layers, optimizers,
datasets): adding one of those is one new file in its package, and nothing keeps a list.

`declared(package, base, counts)` imports every module of the package whose name does not
start with "_" (in name order) and yields the subclasses of `base` each module defines
itself (not those it imports) for which `counts(cls)` is true. `by_name` turns them into
one table and refuses two classes claiming one name, with the registry's own message.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Iterator
from types import ModuleType


def declared(package: ModuleType, base: type, counts: Callable[[type], bool]
             ) -> Iterator[type]:
    """Each subclass of `base` defined in a public module of `package` that `counts`."""
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for obj in vars(module).values():
            if (isinstance(obj, type) and issubclass(obj, base)
                    and obj.__module__ == module.__name__ and counts(obj)):
                yield obj


def by_name(classes: Iterable[type], name_of: Callable[[type], str],
            twice: Callable[[type, type], str]) -> dict[str, type]:
    """name -> class, sorted by name; a second class with a taken name is a programming
    error: RuntimeError(twice(first, second))."""
    found: dict[str, type] = {}
    for cls in classes:
        name = name_of(cls)
        if name in found and found[name] is not cls:
            raise RuntimeError(twice(found[name], cls))
        found[name] = cls
    return dict(sorted(found.items()))
