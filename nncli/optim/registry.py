"""Every optimizer in this package, found by looking (nncli.discovery): a module here whose
name does not start with "_" and that defines a subclass of base.Optimizer with a `name`
registers it (see base.py for what the class declares), so a new optimizer is one new
file. `names()` lists them in a fixed order: sgd first (the default), then alphabetical."""

from __future__ import annotations

from functools import cache

from nncli.discovery import by_name, declared
from nncli.optim.base import Optimizer

DEFAULT = "sgd"


@cache
def _registry() -> dict[str, type[Optimizer]]:
    import nncli.optim as package

    def twice(first: type, second: type) -> str:
        return (f"two optimizers are named {second.name!r}: {first.__module__}, "
                f"{second.__module__}")

    found = by_name(declared(package, Optimizer, lambda cls: bool(cls.name)),
                    lambda cls: cls.name, twice)
    return {name: found[name] for name in sorted(found, key=lambda n: (n != DEFAULT, n))}


def names() -> tuple[str, ...]:
    return tuple(_registry())


def get(name: str) -> type[Optimizer]:
    """The optimizer class for a `train.optimizer` value (KeyError if there is none)."""
    return _registry()[name]


def having(option: str) -> list[str]:
    """The optimizers that have `option`, in registry order."""
    return [name for name, cls in _registry().items() if option in cls.OPTIONS]
