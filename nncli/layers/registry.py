"""The layer registry: every layer a spec can name, found by looking in this package.

Adding a layer is one new file in nncli/layers/ (plus its tests). Nothing else lists the
layers: spec validation and its messages, the spec's JSON Schema (nncli/schemas/spec.json),
`nncli layers`, the README's layer table, grad-trace's built-in cells and the generic
tests (tests/test_registry.py) all read this registry.

What a layer file declares. A class that subclasses `Layer` and sets, in its own body:

    class Dense(Layer):
        kind = "dense"                     # the name in a spec: `- dense: {units: 10}`
        summary = "fully connected ..."    # one line for the listings: kind + 2 + summary
                                           # fit in 78 columns (tests/test_registry.py)
        OPTIONS = {                        # {option: Option(kind, default, one-line help)};
            "units": Option("int>=1", REQUIRED, "output features"),   # {} for none.
            "bias": Option("bool", True, "add a learned bias b"),     # Kinds: nncli.options
            "params": PARAMS_OPTION,       # any layer with parameters takes fixed values
        }
        EXAMPLE = Example({"units": 3}, (4,))   # options + a small per-sample input shape
                                           # (+ optionally how to draw inputs: ids, no ties)

        @classmethod
        def from_options(cls, values):     # optional: the default is cls(**values), with
            return cls(values["units"], values["bias"])   # return: as return_sequences

`values` holds every option of OPTIONS except `params` (checked, defaults filled in, a
`vocab` size replaced by the number). The class must also follow the layer contract of
base.py (forward, backward, output_shape, param_shapes, describe). A recurrent cell
subclasses `Recurrent` (nncli/layers/recurrent.py) and implements its grad-trace contract;
it is then one of `recurrent_kinds()` and grad-trace can build and trace it.

Which classes count: those whose own body sets `kind` and that have a non-empty
`summary`. Base classes (Layer, Activation, Recurrent) have no summary and stay out; every
module of this package whose name does not start with "_" is imported to look. Two
classes claiming one kind, or a registered class without OPTIONS or EXAMPLE, is a
programming error raised on first use (and by the tests). OPTIONS and EXAMPLE may come
from a parent layer class (a variant that only changes kind), never from Layer itself.
"""

from __future__ import annotations

from functools import cache
from types import ModuleType

from nncli.discovery import by_name, declared
from nncli.errors import InputError
from nncli.layers.base import Example, Layer
from nncli.options import suggest


def _declares_kind(cls: type) -> bool:
    return "kind" in vars(cls) and bool(getattr(cls, "summary", ""))


@cache
def _table() -> dict[str, type[Layer]]:
    import nncli.layers

    return discover(nncli.layers)


def discover(package: ModuleType) -> dict[str, type[Layer]]:
    """kind -> class for every layer class declared in the package's modules, by kind."""
    def twice(first: type, second: type) -> str:
        return (f"layer kind '{second.kind}' is declared twice: by "
                f"{first.__module__}.{first.__name__} and "
                f"{second.__module__}.{second.__name__}")

    return by_name(map(_checked, declared(package, Layer, _declares_kind)),
                   lambda cls: cls.kind, twice)


def _checked(cls: type) -> type:
    where = f"{cls.__module__}.{cls.__name__}"
    # Layer's own OPTIONS = {} does not count: a layer says it has no options.
    if cls.OPTIONS is Layer.OPTIONS or not isinstance(cls.OPTIONS, dict):
        raise RuntimeError(f"{where} declares kind '{cls.kind}' but no OPTIONS dict "
                           f"(write OPTIONS = {{}} for a layer without options)")
    if not isinstance(getattr(cls, "EXAMPLE", None), Example):
        raise RuntimeError(f"{where} declares kind '{cls.kind}' but no EXAMPLE "
                           f"(nncli.layers.base.Example)")
    if "\n" in cls.summary:
        raise RuntimeError(f"{where}: summary must be one line")
    return cls


def kinds() -> list[str]:
    """Every layer name a spec can use, sorted."""
    return list(_table())


def get(kind: object) -> type[Layer]:
    """The layer class of a spec name; an unknown name is an InputError with a suggestion
    (spec.py puts the file, line and path in front of it)."""
    table = _table()
    if not isinstance(kind, str) or kind not in table:
        raise InputError(f"unknown layer '{kind}'{suggest(kind, table)}; layers: "
                         f"{', '.join(table)}")
    return table[kind]


def _recurrent_base() -> type:
    from nncli.layers.recurrent import Recurrent

    return Recurrent


def recurrent_kinds() -> list[str]:
    """The layers that implement the recurrent-cell contract (grad-trace's cells)."""
    base = _recurrent_base()
    return [kind for kind, cls in _table().items() if issubclass(cls, base)]


def build(kind: str, options: dict | None = None) -> Layer:
    """A layer from a spec name and options given as in a spec, checked and defaulted the
    way a spec's are (errors name `kind.option`); for code that builds layers itself
    (grad-trace's built-in models, tests)."""
    from nncli.options import check_options

    class _Here:
        @staticmethod
        def error(path: tuple, message: str) -> InputError:
            return InputError(f"{'.'.join(map(str, path))}: {message}")

    cls = get(kind)
    values = check_options(_Here(), (kind,), dict(options or {}), cls.OPTIONS)
    values.pop("params", None)
    if any(isinstance(v, str) and v == "vocab" for v in values.values()):
        raise InputError(f"{kind}: 'vocab' needs a spec with a text dataset; give a number")
    return cls.from_options(values)


def kind_text(kind: object) -> str:
    """An option kind of nncli.options in words, for listings: 'integer >= 1'."""
    if isinstance(kind, tuple):
        return " | ".join(kind)
    words = {"bool": "true | false", "gate": "null | number in [0, 1]",
             "params": "name -> values", "int>=1|vocab": "integer >= 1 | vocab",
             "float": "number", "float>0": "number > 0", "float>=0": "number >= 0",
             "float[0,1)": "number in [0, 1)"}
    if kind in words:
        return words[kind]
    if isinstance(kind, str) and kind.endswith("?"):
        return f"{kind_text(kind[:-1])} | null"
    if isinstance(kind, str) and kind.startswith("int>="):
        return f"integer >= {kind[5:]}"
    return str(kind)


def describe(kind: str | None = None) -> list[dict]:
    """Plain data for `nncli layers` and the README table: every layer (or `kind` only)
    with its summary and options (type in words, default, whether required, help)."""
    from nncli.options import REQUIRED

    names = kinds() if kind is None else [get(kind).kind]
    recurrent = set(recurrent_kinds())
    out = []
    for name in names:
        cls = get(name)
        options = [{"name": key, "type": kind_text(opt.kind),
                    "required": opt.default is REQUIRED,
                    "default": None if opt.default is REQUIRED else opt.default,
                    "help": opt.help}
                   for key, opt in cls.OPTIONS.items()]
        out.append({"kind": name, "summary": cls.summary, "recurrent": name in recurrent,
                    "options": options})
    return out
