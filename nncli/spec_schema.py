"""The JSON Schema of a YAML model spec, generated from the tables the code validates with.

`build()` turns the layer registry (nncli/layers/registry.py), spec.LOSS_OPTIONS /
TOP_KEYS, train.TRAIN_OPTIONS and the dataset registry (nncli/datasets/registry.py) into a
JSON Schema (draft 2020-12), so editors can check and complete specs. The shipped copy is
nncli/schemas/spec.json; regenerate it after changing a table with

    python -m nncli.spec_schema            # writes nncli/schemas/spec.json
    python -m nncli.spec_schema --check    # exit 1 if the shipped copy is out of date

(tests/test_schemas.py fails when it is). The schema describes the shape of a spec; what it
cannot say (softmax only last, shapes that fit together, files that exist) `nncli summary`
checks with file:line messages.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

SCHEMA_FILE = Path(__file__).resolve().parent / "schemas" / "spec.json"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
VERSION = 1

FLOAT_KINDS = {"float>0": {"type": "number", "exclusiveMinimum": 0},
               "float>=0": {"type": "number", "minimum": 0},
               "float[0,1)": {"type": "number", "minimum": 0, "exclusiveMaximum": 1}}


def kind_schema(kind: Any) -> dict:
    """The JSON Schema of one option kind of options.check_options."""
    if hasattr(kind, "schema"):                 # a kind object (datasets/option_kinds.py)
        return kind.schema()
    if isinstance(kind, tuple):
        return {"enum": list(kind)}
    if kind.endswith("?"):
        return {"anyOf": [kind_schema(kind[:-1]), {"type": "null"}]}
    if kind == "int>=1|vocab":
        return {"anyOf": [{"type": "integer", "minimum": 1}, {"const": "vocab"}],
                "description": "a number, or 'vocab': the size of the text dataset's "
                "vocabulary"}
    if kind.startswith("int>="):
        return {"type": "integer", "minimum": int(kind[5:])}
    if kind in FLOAT_KINDS:
        return dict(FLOAT_KINDS[kind])
    if kind == "pair[0,1)":
        return {"type": "array", "items": FLOAT_KINDS["float[0,1)"], "minItems": 2,
                "maxItems": 2}
    if kind == "bool":
        return {"type": "boolean"}
    if kind == "gate":
        return {"anyOf": [{"type": "null"}, {"type": "number", "minimum": 0, "maximum": 1}],
                "description": "null: a learned gate; a number fixes g_t (1 is the rnn)"}
    if kind == "params":
        return {"type": "object", "additionalProperties": {"$ref": "#/$defs/tensor"},
                "description": "fixed parameter values by name (PyTorch names and shapes)"}
    raise ValueError(f"no JSON Schema for the option kind {kind!r}")


def options_schema(table: dict, required_marker: Any) -> dict:
    """An option table ({name: Option} or {name: (kind, default)}) as an object schema;
    an Option's help becomes the property's description."""
    props, required = {}, []
    for key, entry in table.items():
        kind, default = entry[0], entry[1]
        props[key] = kind_schema(kind)
        helptext = entry[2] if len(entry) > 2 else ""
        if helptext:
            props[key]["description"] = helptext
        if default is required_marker:
            required.append(key)
        elif default is not None:
            props[key]["default"] = default
    out: dict[str, Any] = {"type": "object", "properties": props,
                           "additionalProperties": False}
    if required:
        out["required"] = required
    return out


def _layer_schema() -> dict:
    """One entry per registered layer (nncli.layers.registry), described by its summary."""
    from nncli.layers import registry
    from nncli.options import REQUIRED

    plain, entries = [], []
    for name in registry.kinds():
        cls = registry.get(name)
        opts = options_schema(cls.OPTIONS, REQUIRED)
        needs = bool(opts.get("required"))
        if not needs:
            plain.append(name)
        value = opts if needs else {"anyOf": [{"type": "null"}, opts]}
        entries.append({"type": "object", "properties": {name: value}, "required": [name],
                        "additionalProperties": False, "description": cls.summary})
    return {"oneOf": [{"enum": plain, "description": "a layer without required options"},
                      *entries]}


def _data_schema() -> dict:
    """One entry per registered dataset (nncli.datasets.registry), described by its
    summary: the named ones, then the `path:` kinds; a `path:` kind chosen by an option
    (text files by `tokens:`) requires it, and the one without excludes those options."""
    from nncli.datasets import registry
    from nncli.options import REQUIRED

    named, by_path = registry.named(), registry.file_kinds()
    entries = []
    for kind in [*named.values(), *by_path]:
        entry = options_schema(kind.OPTIONS, REQUIRED)
        entry["description"] = kind.summary
        if kind.by_path and kind.selects is None:
            chosen = [k.selects for k in by_path if k.selects]
            entry["not"] = {"anyOf": [{"required": [key]} for key in chosen]}
        entries.append(entry)
    return {"oneOf": [{"enum": list(named), "description": "a built-in dataset by name"},
                      *entries]}


def _train_schema() -> dict:
    """One entry per optimizer: the common options plus that optimizer's own (its
    `optimizer:` value required, except for the default)."""
    from nncli import optim, train
    from nncli.options import REQUIRED

    entries = []
    for name in optim.names():
        entry = options_schema(train.train_options(name), REQUIRED)
        entry["properties"]["optimizer"] = {"const": name}
        if name == optim.registry.DEFAULT:
            entry["properties"]["optimizer"]["default"] = name
        else:
            entry["required"] = ["optimizer"]
        entry["description"] = f"optimizer: {name}, {optim.get(name).summary}"
        entries.append(entry)
    return {"anyOf": [{"type": "null"}, *entries]}


def build() -> dict:
    """The spec's JSON Schema as a dict (deterministic: the same tables give the same dict)."""
    from nncli import spec, train
    from nncli.options import REQUIRED

    loss_entries = [{"type": "object", "additionalProperties": False, "required": [name],
                     "properties": {name: options_schema(table, REQUIRED)}}
                    for name, table in spec.LOSS_OPTIONS.items()]
    properties = {
        "name": {"type": ["string", "number"], "description": "the model's name (default: "
                 "the file name)"},
        "seed": {"type": "integer", "minimum": 0, "default": 0,
                 "description": "seeds the initial weights and generated data"},
        "input": {"type": "array", "minItems": 1, "maxItems": 3,
                  "items": {"type": "integer", "minimum": 1},
                  "description": "the shape of one sample: [C, H, W], [T, F] or [F]"},
        "layers": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/layer"}},
        "loss": {"oneOf": [{"enum": list(spec.LOSS_OPTIONS)}, *loss_entries],
                 "default": "mse"},
        "data": {"$ref": "#/$defs/data"},
        "train": _train_schema(),
    }
    assert list(properties) == list(spec.TOP_KEYS), "spec.TOP_KEYS changed: update build()"
    return {
        "$schema": DIALECT,
        "$id": f"urn:nncli:schema:spec:{VERSION}",
        "title": "nncli model spec",
        "description": "A YAML model spec for nncli (generated by python -m "
                       "nncli.spec_schema from the tables nncli validates with).",
        "type": "object",
        "properties": properties,
        "required": ["input", "layers"],
        "additionalProperties": False,
        "$defs": {
            "layer": _layer_schema(),
            "data": _data_schema(),
            "tensor": {"anyOf": [{"type": "number"},
                                 {"type": "array", "items": {"$ref": "#/$defs/tensor"}}]},
        },
    }


def render() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    text = render()
    if "--check" in argv:
        current = SCHEMA_FILE.read_text(encoding="utf-8") if SCHEMA_FILE.exists() else ""
        if current != text:
            print(f"{SCHEMA_FILE} is out of date; run: python -m nncli.spec_schema",
                  file=sys.stderr)
            return 1
        return 0
    SCHEMA_FILE.parent.mkdir(exist_ok=True)
    SCHEMA_FILE.write_text(text, encoding="utf-8")
    print(f"wrote {SCHEMA_FILE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
