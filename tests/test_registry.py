"""The layer registry: every registered layer gets these checks with no test code of its own.

For each kind: it builds from its EXAMPLE through the same option checks a spec uses, its
output_shape agrees with forward, and backward passes a finite-difference check. Then the
mechanics (a new module registers itself; broken declarations are refused), the places
that read the registry (spec validation, spec.json, the README table, `nncli layers`).
"""

from __future__ import annotations

import json
import re
import sys
import textwrap
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from typer.testing import CliRunner

from nncli import spec_schema
from nncli.cli import app
from nncli.commands.schema import load_schema
from nncli.errors import InputError
from nncli.gradcheck import layer_gradcheck
from nncli.layers import registry
from nncli.layers.base import Example, Layer
from nncli.layers.recurrent import Recurrent
from nncli.options import REQUIRED, Option, check_options
from nncli.spec import load_spec

ROOT = Path(__file__).resolve().parent.parent
KINDS = registry.kinds()
TOL = 1e-7
runner = CliRunner()


class Here:
    """Where check_options reports errors: just the path."""

    @staticmethod
    def error(path, message):
        return InputError(f"{path}: {message}")


def example_layer(kind: str, seed: int = 0):
    """The layer of `kind` built from its EXAMPLE as a spec would build it, with seeded
    parameters (biases made non-zero too) and a batch of 2 inputs."""
    cls = registry.get(kind)
    example = cls.EXAMPLE
    values = check_options(Here(), (kind,), dict(example.options), cls.OPTIONS)
    values.pop("params", None)
    layer = cls.from_options(values)
    rng = np.random.default_rng(seed)
    layer.init_params(example.input_shape, rng)
    for name, value in layer.params.items():
        layer.params[name] = value + 0.3 * rng.standard_normal(value.shape)
    layer.zero_grad()
    return layer, example.inputs(rng, (2, *example.input_shape)), rng


# --------------------------------------------------------------------------- every kind

def test_the_built_in_layers_are_all_registered():
    expected = {"conv", "dense", "embedding", "flatten", "gru-lite", "identity", "pool",
                "relu", "rnn", "sigmoid", "softmax", "tanh"}
    assert expected <= set(KINDS)
    assert sorted(KINDS) == KINDS
    assert {"rnn", "gru-lite"} <= set(registry.recurrent_kinds())
    assert not {"dense", "conv", "relu"} & set(registry.recurrent_kinds())


@pytest.mark.parametrize("kind", KINDS)
def test_declaration_is_complete(kind):
    cls = registry.get(kind)
    assert cls.kind == kind and issubclass(cls, Layer)
    assert cls.summary.strip() and "\n" not in cls.summary
    assert len(kind) + 2 + len(cls.summary) <= 78, (
        f"{kind}: shorten the summary to fit one 80-column line of `nncli layers`")
    for name, opt in cls.OPTIONS.items():
        assert isinstance(opt, Option), f"{kind}.{name}: use nncli.options.Option"
        assert opt.help.strip() and "\n" not in opt.help, f"{kind}.{name} has no help"
        spec_schema.kind_schema(opt.kind)            # a kind the schema knows
    assert isinstance(cls.EXAMPLE, Example)
    assert (kind in registry.recurrent_kinds()) == issubclass(cls, Recurrent)


@pytest.mark.parametrize("kind", KINDS)
def test_example_builds_and_output_shape_matches_forward(kind):
    layer, x, _ = example_layer(kind)
    y = layer.forward(x)
    assert y.shape == (2, *layer.output_shape(x.shape[1:])), kind
    assert np.all(np.isfinite(y))


@pytest.mark.parametrize("kind", KINDS)
def test_example_backward_matches_finite_differences(kind):
    layer, x, rng = example_layer(kind, seed=1)
    dy = rng.standard_normal(layer.forward(x).shape)
    results = layer_gradcheck(layer, x, dy)
    assert [r.name for r in results] == [*layer.params, "input"]
    for r in results:
        assert r.passed and r.max_rel_error < TOL, (
            f"{kind}: gradient of '{r.name}' {r.shape} is wrong: max relative error "
            f"{r.max_rel_error:.2e} over {r.checked} entries")


def test_the_gradient_check_catches_a_wrong_backward(monkeypatch):
    """The generic check can fail: a dense layer whose weight gradient is off by 1%."""
    layer, x, rng = example_layer("dense")
    backward = type(layer).backward

    def wrong(self, dy):
        dx = backward(self, dy)
        self.grads["weight"] *= 1.01
        return dx

    monkeypatch.setattr(type(layer), "backward", wrong)
    dy = rng.standard_normal(layer.forward(x).shape)
    failed = {r.name for r in layer_gradcheck(layer, x, dy) if not r.passed}
    assert failed == {"weight"}


# --------------------------------------------------------------------------- discovery

SQUARE = '''
from nncli.layers.base import Example, Layer


class Square(Layer):
    kind = "square"
    summary = "y = x * x element-wise"
    OPTIONS = {}
    EXAMPLE = Example({}, (3,))

    def forward(self, x):
        self._x = x
        return x * x

    def backward(self, dy):
        return 2 * self._x * dy


class NotALayer:
    kind = "not-a-layer"
    summary = "ignored: not a Layer"
'''


def _package(tmp_path, monkeypatch, name: str, files: dict[str, str]):
    folder = tmp_path / name
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    for file, text in files.items():
        (folder / file).write_text(textwrap.dedent(text))
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    return importlib.import_module(name)


def test_a_new_module_registers_itself(tmp_path, monkeypatch):
    package = _package(tmp_path, monkeypatch, "toy_layers_a", {"square.py": SQUARE})
    found = registry.discover(package)
    assert list(found) == ["square"]
    assert found["square"].__name__ == "Square"
    # ... and once in the registry, a spec can use it, the schema and README list it.
    monkeypatch.setattr(registry, "_table", lambda: {**registry.discover(
        sys.modules["nncli.layers"]), **found})
    spec_file = tmp_path / "model.yaml"
    spec_file.write_text("input: [3]\nlayers:\n  - square\n  - dense: {units: 2}\n")
    model = load_spec(spec_file).build()
    assert [layer.kind for layer in model.layers] == ["square", "dense"]
    assert "square" in json.dumps(spec_schema.build()["$defs"]["layer"])
    assert "| `square` | y = x * x element-wise | none |" in spec_schema.layer_table()
    result = runner.invoke(app, ["layers", "square"])
    assert result.exit_code == 0 and "y = x * x element-wise" in result.stdout


def test_broken_declarations_are_refused(tmp_path, monkeypatch):
    twice = SQUARE.replace("class NotALayer", "class Square2(Square):\n    kind = 'square'"
                           "\n\n\nclass NotALayer")
    package = _package(tmp_path, monkeypatch, "toy_layers_b", {"a.py": twice})
    with pytest.raises(RuntimeError, match="declared twice"):
        registry.discover(package)
    no_options = SQUARE.replace("    OPTIONS = {}\n", "")
    package = _package(tmp_path, monkeypatch, "toy_layers_c", {"a.py": no_options})
    with pytest.raises(RuntimeError, match="declares kind 'square' but no OPTIONS dict"):
        registry.discover(package)
    no_example = SQUARE.replace("    EXAMPLE = Example({}, (3,))\n", "")
    package = _package(tmp_path, monkeypatch, "toy_layers_d", {"a.py": no_example})
    with pytest.raises(RuntimeError, match="no EXAMPLE"):
        registry.discover(package)


def test_get_and_build():
    assert registry.get("dense").__name__ == "Dense"
    with pytest.raises(InputError, match=r"^unknown layer 'dnese' \(did you mean 'dense'\?\)"
                                         r"; layers: conv, dense, "):
        registry.get("dnese")
    with pytest.raises(InputError, match="unknown layer '3'"):
        registry.get(3)
    layer = registry.build("gru-lite", {"hidden": 4, "gate": 0.5, "return": "last"})
    assert (layer.hidden, layer.fixed_gate, layer.return_sequences) == (4, 0.5, False)
    with pytest.raises(InputError, match=r"^rnn.hidden: expected an integer >= 1, got 0$"):
        registry.build("rnn", {"hidden": 0})
    with pytest.raises(InputError, match="missing required option 'units'"):
        registry.build("dense")


def test_spec_lists_the_registry_in_its_unknown_layer_message(tmp_path):
    spec_file = tmp_path / "model.yaml"
    spec_file.write_text("input: [4]\nlayers:\n  - dense: {units: 3}\n  - cnov: {}\n")
    with pytest.raises(InputError) as err:
        load_spec(spec_file)
    assert str(err.value) == (f"model.yaml:4 layers[1]: unknown layer 'cnov' (did you mean "
                              f"'conv'?); layers: {', '.join(KINDS)}")


def test_spec_json_describes_every_layer_from_the_registry():
    layer_defs = spec_schema.build()["$defs"]["layer"]["oneOf"]
    by_kind = {next(iter(d["properties"])): d for d in layer_defs[1:]}
    assert list(by_kind) == KINDS
    for kind, entry in by_kind.items():
        cls = registry.get(kind)
        assert entry["description"] == cls.summary
        value = entry["properties"][kind]
        props = (value.get("anyOf", [None, value])[1])["properties"]
        assert list(props) == list(cls.OPTIONS)
        for name, opt in cls.OPTIONS.items():
            assert props[name]["description"] == opt.help
    required = {k for k in KINDS
                if any(o.default is REQUIRED for o in registry.get(k).OPTIONS.values())}
    assert set(layer_defs[0]["enum"]) == set(KINDS) - required


# --------------------------------------------------------------------------- the README

def test_readme_layer_table_is_generated_from_the_registry():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert spec_schema.readme_with_table(readme) == readme, (
        "README.md's layer table differs from the registry; regenerate it with: "
        "python -m nncli.spec_schema (rewrites nncli/schemas/spec.json and the table)")
    for kind in KINDS:
        summary = registry.get(kind).summary.replace("|", "\\|")
        assert f"| `{kind}` | {summary} |" in readme


# --------------------------------------------------------------------------- nncli layers

def test_layers_lists_every_layer_at_80_columns_without_colour():
    result = runner.invoke(app, ["layers"], env={"COLUMNS": "80", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "\x1b[" not in out
    assert max(len(line) for line in out.splitlines()) <= 80
    heads = [line.split()[0] for line in out.splitlines() if line and not line[0].isspace()]
    assert heads == KINDS
    assert re.search(r"^  filters +required +output channels", out, re.M)
    assert re.search(r"^  stride +1 +step between windows", out, re.M)
    assert "nncli grad-trace --cell rnn" in out


def test_layers_kind_shows_that_layer_only():
    result = runner.invoke(app, ["layers", "pool"], env={"COLUMNS": "80"})
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("pool  ") and len(lines) == 1 + len(registry.get("pool").OPTIONS)
    assert re.search(r"^  mode +max +max or avg", result.stdout, re.M)


def test_layers_unknown_kind_is_one_line_with_a_suggestion():
    result = runner.invoke(app, ["layers", "gru_lite", "--json"])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"error: KIND: unknown layer 'gru_lite' (did you mean 'gru-lite'?); layers: "
        f"{', '.join(KINDS)}"]


def test_layers_json_follows_its_schema_and_the_registry():
    validator = jsonschema.Draft202012Validator(load_schema("layers"))
    result = runner.invoke(app, ["layers", "--json"])
    assert result.exit_code == 0
    payload = json.loads(result.stdout)
    assert not list(validator.iter_errors(payload))
    assert [layer["kind"] for layer in payload["layers"]] == KINDS
    conv = next(layer for layer in payload["layers"] if layer["kind"] == "conv")
    assert conv["options"][0] == {"name": "filters", "type": "integer >= 1",
                                  "required": True, "default": None,
                                  "help": registry.get("conv").OPTIONS["filters"].help}
    assert {"name": "padding", "type": "integer >= 0", "required": False, "default": 0,
            "help": "zeros added on every side"} in conv["options"]
    one = json.loads(runner.invoke(app, ["layers", "rnn", "--json"]).stdout)
    assert not list(validator.iter_errors(one))
    assert [layer["kind"] for layer in one["layers"]] == ["rnn"] and one["layers"][0][
        "recurrent"] is True


def test_layers_help_examples_run():
    result = runner.invoke(app, ["layers", "--help"], env={"COLUMNS": "120"})
    examples = [line.strip() for line in result.stdout.splitlines()
                if line.strip().startswith("nncli layers")]
    assert examples
    for example in examples:
        run = runner.invoke(app, example.split()[1:])
        assert run.exit_code == 0, (example, run.output)
