"""YAML model specs: read safely, validate every field, build the Model.

A spec reads like this (see configs/ for commented examples):

    name: digits-cnn
    seed: 0
    input: [1, 8, 8]            # one sample: (C, H, W) image, (T, F) sequence or (F,) vector
    layers:
      - conv: {filters: 8, kernel: 3, padding: 1, activation: relu}
      - pool: {size: 2}
      - flatten
      - dense: {units: 10}
    loss: cross_entropy         # or mse (sum of squares), or {mse: {reduction: mean}}

Each layer is a name, or a one-key mapping from the name to its options. Fixed parameter
values go under `params:` (e.g. `params: {weight: [[2.0]]}`). Every error names the file,
line and spec path: `model.yaml:7 layers[1]: unknown layer 'cnov' (did you mean 'conv'?)`.
Sections other than the model's (`data`, `train`) are kept raw for the training code, which
reports its own errors through `Spec.error`.

For a text dataset, `embedding: {vocab: vocab}` (the default) and `dense: {units: vocab}`
stand for the size of its vocabulary, which is built from the data when the spec is loaded
(or given by the caller: `complete` passes the vocabulary stored with the weights).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from nncli import layers as L
from nncli.budget import check_budget
from nncli.errors import InputError
from nncli.layers import registry
from nncli.model import Model, ShapeError
from nncli.options import check_options, check_value, show, suggest
from nncli.overrides import Override, apply_overrides, override_origin

# The layers and their option tables live in nncli/layers/ (found by nncli.layers.registry).
LOSS_OPTIONS = {"mse": {"reduction": (("sum", "mean"), "sum")},
                "cross_entropy": {"reduction": (("mean", "sum"), "mean")}}
TOP_KEYS = ("name", "seed", "input", "layers", "loss", "data", "train")


def _fmt_path(path: tuple) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass
class Spec:
    """A validated spec: the raw mapping, where each path sits in the file, and the layers."""

    path: Path
    raw: dict
    lines: dict[tuple, int] = field(default_factory=dict)
    name: str = "model"
    seed: int = 0
    input_shape: tuple[int, ...] = ()
    layers: list[L.Layer] = field(default_factory=list)
    fixed: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)
    loss: str = "mse"
    reduction: str = "sum"
    vocab: Any = None       # a text model's nncli.text.vocab.Vocab, when a layer says `vocab`
    overrides: dict[tuple, str] = field(default_factory=dict)  # path -> '--set ...' given

    def where(self, path: tuple) -> str:
        """'model.yaml:7 layers[1]' — the file, the line of the nearest known node, the path;
        '--set train.lr=-1: train.lr' where the value came from the command line."""
        given = override_origin(self.overrides, tuple(path))
        if given:
            return f"{given}: {_fmt_path(path)}"
        probe = tuple(path)
        while probe and probe not in self.lines:
            probe = probe[:-1]
        line = self.lines.get(probe)
        loc = f"{self.path.name}:{line}" if line else self.path.name
        return f"{loc} {_fmt_path(path)}" if path else loc

    def error(self, path: tuple, message: str) -> InputError:
        return InputError(f"{self.where(path)}: {message}")

    def shape_error(self, err: ShapeError) -> InputError:
        """'model.yaml:9 layers[3] (dense) expects a flat input but gets (8, 4, 4); ...'"""
        return InputError(f"{self.where(('layers', err.index))} ({err.kind}) {err.detail}")

    @property
    def base_dir(self) -> Path:
        """Paths inside a spec are relative to the spec's own folder."""
        return self.path.resolve().parent

    def build(self, rng: np.random.Generator | None = None) -> Model:
        """The model with seeded initial weights (the spec's seed unless rng is given)."""
        try:
            model = Model(self.layers, self.input_shape, self.loss, self.reduction, self.name,
                          self.seed)
        except ShapeError as err:
            raise self.shape_error(err) from None
        # What the build draws: float64 parameters and gradients. A Trainer then checks
        # its own copies (train.dtype, with the optimizer's state) after the cast.
        check_budget(model.param_bytes(0), self.where(("layers",)),
                     f"a model of {model.num_params(planned=True):,} parameters",
                     "use fewer units or filters")
        model.init_params(rng if rng is not None else np.random.default_rng(self.seed))
        for index, params in self.fixed.items():
            layer = model.layers[index]
            for pname, value in params.items():
                where = ("layers", index, layer.kind, "params", pname)
                if pname not in layer.params:
                    raise self.error(where, f"unknown parameter '{pname}'; this layer has "
                                     f"{', '.join(layer.params) or 'no parameters'}")
                want = layer.params[pname].shape
                if value.shape != want:
                    raise self.error(where, f"expected shape {want} but got {value.shape}")
                layer.params[pname] = value
        return model


def _read_yaml(path: Path) -> tuple[Any, dict[tuple, int]]:
    """yaml.safe_load semantics (no Python objects), plus each node's line and a duplicate
    key check (plain PyYAML silently keeps the last duplicate). Refused up front: nesting
    deeper than MAX_DEPTH, aliases that refer to themselves, and aliases that expand the
    document by more than MAX_ALIAS_EXPANSION values (a "billion laughs" file)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"CONFIG: file '{path}' not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"CONFIG: cannot read '{path}': {err}") from None
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            if node is not None:
                _check_tree(node, path.name)
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise InputError(f"{path.name}{line}: not valid YAML: {problem}") from None
    except RecursionError:
        raise InputError(f"{path.name}: not valid YAML: nested too deeply (a spec needs a "
                         f"few levels; at most {MAX_DEPTH})") from None
    lines: dict[tuple, int] = {}
    visited: set[int] = set()

    def walk(n, p):
        lines.setdefault(p, n.start_mark.line + 1)
        if id(n) in visited:            # an alias: its node was walked where it was defined
            return
        visited.add(id(n))
        if isinstance(n, yaml.MappingNode):
            seen = set()
            for k, v in n.value:
                key = k.value if isinstance(k, yaml.ScalarNode) else id(k)
                if key in seen:
                    raise InputError(f"{path.name}:{k.start_mark.line + 1} "
                                     f"{_fmt_path((*p, key))}: duplicate key '{key}'")
                seen.add(key)
                walk(v, (*p, key))
        elif isinstance(n, yaml.SequenceNode):
            for i, v in enumerate(n.value):
                walk(v, (*p, i))

    if node is not None:
        walk(node, ())
    return data, lines


MAX_DEPTH = 64
MAX_ALIAS_EXPANSION = 10_000


def _check_tree(root: yaml.Node, name: str) -> None:
    """Depth, self-reference and alias expansion of a composed YAML document, measured
    before anything is constructed (each node is visited once)."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(n: yaml.Node, depth: int) -> int:
        key = id(n)
        if key in sizes:
            return sizes[key]
        at = f"{name}:{n.start_mark.line + 1}"
        if key in active:
            raise InputError(f"{at}: an alias refers to the node that contains it (a "
                             f"recursive structure); a spec must be a tree")
        if depth > MAX_DEPTH:
            raise InputError(f"{at}: nested more than {MAX_DEPTH} levels deep; a spec needs "
                             f"a few levels")
        active.add(key)
        children = ([c for pair in n.value for c in pair] if isinstance(n, yaml.MappingNode)
                    else n.value if isinstance(n, yaml.SequenceNode) else [])
        total = 1 + sum(size(c, depth + 1) for c in children)
        active.discard(key)
        sizes[key] = total
        return total

    expanded = size(root, 0)
    if expanded - len(sizes) > MAX_ALIAS_EXPANSION:
        raise InputError(f"{name}: its aliases (*name) expand it to {expanded:,} values; "
                         f"nncli refuses specs whose aliases add more than "
                         f"{MAX_ALIAS_EXPANSION:,} (write the values out instead)")


def load_spec(path: str | Path, vocab: Any = None,
              overrides: Sequence[str | Override] = ()) -> Spec:
    """Read and validate a YAML spec file (no shapes yet: `Spec.build` infers them).

    vocab: the nncli.text.vocab.Vocab that `vocab` sizes stand for; by default the data's.
    overrides: `--set` values ('train.lr=0.01', nncli.overrides), applied before checking."""
    path = Path(path)
    data, lines = _read_yaml(path)
    data, origins = apply_overrides(data, overrides)
    spec = Spec(path=path, raw=data if isinstance(data, dict) else {}, lines=lines,
                vocab=vocab, overrides=origins)
    if not isinstance(data, dict):
        raise InputError(f"{path.name}: expected a mapping with 'input', 'layers' and 'loss' "
                         f"at the top level, got {type(data).__name__}")
    for key in data:
        if key not in TOP_KEYS:
            raise spec.error((key,), f"unknown key '{key}'{suggest(key, TOP_KEYS)}; valid "
                             f"keys: {', '.join(TOP_KEYS)}")
    name = data.get("name", path.stem)
    if isinstance(name, bool) or not isinstance(name, str | int | float) or not str(name):
        raise spec.error(("name",), f"expected a short name for the model, got {show(name)}")
    spec.name = str(name)
    spec.seed = check_value(spec, ("seed",), data.get("seed", 0), "int>=0")
    spec.input_shape = _input_shape(spec, data)
    spec.layers = _layers(spec, data)
    spec.loss, spec.reduction = _loss(spec, data.get("loss", "mse"))
    return spec


def _input_shape(spec: Spec, data: dict) -> tuple[int, ...]:
    shape = data.get("input")
    ok = isinstance(shape, list) and 1 <= len(shape) <= 3 and all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in shape)
    if not ok:
        raise spec.error(("input",), f"expected the shape of one sample as a list of 1-3 "
                         f"positive integers ([C, H, W], [T, F] or [F]), got {show(shape)}")
    return tuple(shape)


def _layers(spec: Spec, data: dict) -> list[L.Layer]:
    entries = data.get("layers")
    if not isinstance(entries, list) or not entries:
        raise spec.error(("layers",), "expected a non-empty list of layers, e.g. "
                         "'- dense: {units: 10}'")
    built = []
    for i, entry in enumerate(entries):
        if isinstance(entry, str):
            kind, opts = entry, {}
        elif isinstance(entry, dict) and len(entry) == 1:
            kind, opts = next(iter(entry.items()))
            opts = {} if opts is None else opts
        else:
            raise spec.error(("layers", i), f"expected a layer name or a one-key mapping like "
                             f"'conv: {{filters: 8, kernel: 3}}', got {show(entry)}")
        try:
            layer_type = registry.get(kind)
        except InputError as err:
            raise spec.error(("layers", i), str(err)) from None
        if not isinstance(opts, dict):
            raise spec.error(("layers", i, kind), f"expected a mapping of options, got "
                             f"{show(opts)}")
        values = check_options(spec, ("layers", i, kind), opts, layer_type.OPTIONS)
        values = _resolve_vocab(spec, ("layers", i, kind), values)
        fixed = values.pop("params", None)
        if fixed:
            spec.fixed[i] = fixed
        if kind == "softmax" and i != len(entries) - 1:
            raise spec.error(("layers", i), "softmax must be the last layer (it turns the "
                             "classifier's scores into probabilities)")
        try:        # a layer may refuse a combination of options (lstm forget_bias, no bias)
            built.append(layer_type.from_options(values))
        except InputError as err:
            raise spec.error(("layers", i, kind), str(err)) from None
    return built


def _resolve_vocab(spec: Spec, path: tuple, values: dict) -> dict:
    """Replace `vocab` option values by the vocabulary's size (built from the data once)."""
    keys = [k for k, v in values.items() if isinstance(v, str) and v == "vocab"]
    if not keys:
        return values
    if spec.vocab is None:
        from nncli.datasets import is_text_config, text_streams

        cfg = spec.raw.get("data")
        if not is_text_config(cfg):
            raise spec.error((*path, keys[0]), "'vocab' means the size of a text dataset's "
                             "vocabulary, but data: is not a text dataset (e.g. 'data: "
                             "{name: sonnets, tokens: chars}'); give a number instead")
        spec.vocab = text_streams(cfg, spec.base_dir, spec.seed, spec).vocab
    return {**values, **dict.fromkeys(keys, len(spec.vocab))}


def _loss(spec: Spec, value: Any) -> tuple[str, str]:
    if isinstance(value, dict) and len(value) == 1:
        name, opts = next(iter(value.items()))
    else:
        name, opts = value, {}
    if not isinstance(name, str) or name not in LOSS_OPTIONS:
        raise spec.error(("loss",), f"unknown loss {show(name)}{suggest(name, LOSS_OPTIONS)}; "
                         f"use mse or cross_entropy")
    if not isinstance(opts, dict):
        raise spec.error(("loss", name), f"expected a mapping of options, got {show(opts)}")
    return name, check_options(spec, ("loss", name), opts, LOSS_OPTIONS[name])["reduction"]
