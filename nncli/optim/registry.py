"""Every optimizer in this package, found by looking: a module here that defines a subclass
of base.Optimizer with a `name` registers it (see base.py for what the class declares), so
a new optimizer is one new file. `names()` lists them in a fixed order: sgd first (the
default), then alphabetical."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from nncli.optim.base import Optimizer

DEFAULT = "sgd"


@cache
def _registry() -> dict[str, type[Optimizer]]:
    import nncli.optim as package

    for info in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{info.name}")
    found: dict[str, type[Optimizer]] = {}
    todo = list(Optimizer.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.name and cls.__module__.startswith(package.__name__ + "."):
            if cls.name in found and found[cls.name] is not cls:
                raise RuntimeError(f"two optimizers are named {cls.name!r}: "
                                   f"{found[cls.name].__module__}, {cls.__module__}")
            found[cls.name] = cls
    return {name: found[name] for name in sorted(found, key=lambda n: (n != DEFAULT, n))}


def names() -> tuple[str, ...]:
    return tuple(_registry())


def get(name: str) -> type[Optimizer]:
    """The optimizer class for a `train.optimizer` value (KeyError if there is none)."""
    return _registry()[name]


def having(option: str) -> list[str]:
    """The optimizers that have `option`, in registry order."""
    return [name for name, cls in _registry().items() if option in cls.OPTIONS]
