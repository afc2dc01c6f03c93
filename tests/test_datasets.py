"""The dataset registry and its option tables: every dataset is found, declares its options
with help, is checked by the shared option system (errors name the spec's file and line),
and generates its part of the spec schema; adding a dataset is one new file."""

from __future__ import annotations

import importlib
import json
import sys
import textwrap
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import nncli.datasets as datasets
from nncli import spec_schema
from nncli.cli import app
from nncli.datasets import is_text_config, load_dataset, registry
from nncli.datasets.base import Bare
from nncli.datasets.option_kinds import FileName, Fractions, OneOf, Shape, Span
from nncli.errors import InputError
from nncli.options import REQUIRED, Option, check_options
from nncli.spec import load_spec

NAMED = {"digits", "adding", "sine", "bars", "sonnets", "agreement"}
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_registry_finds_every_dataset_file():
    assert set(registry.named()) == NAMED
    assert [k.name for k in registry.file_kinds()] == ["text-file", "file"]
    assert datasets.TEXT_DATASETS.keys() == {"sonnets", "agreement"}
    for kind in [*registry.named().values(), *registry.file_kinds()]:
        first = next(iter(kind.OPTIONS))
        assert first == ("path" if kind.by_path else "name"), kind.name
        assert kind.summary and "\n" not in kind.summary
        for key, option in kind.OPTIONS.items():
            assert isinstance(option, Option) and option.help, (kind.name, key)


@pytest.mark.parametrize("name", sorted(NAMED))
def test_defaults_pass_their_own_checks(name):
    """A table's defaults are values its kinds accept (a default that its own check
    refuses would break every spec that leaves the option out)."""
    kind = registry.named()[name]
    given_all = {k: o.default for k, o in kind.OPTIONS.items() if o.default is not REQUIRED}
    checked = check_options(Bare(), ("data",), {"name": name, **given_all}, kind.OPTIONS)
    assert checked == check_options(Bare(), ("data",), {"name": name}, kind.OPTIONS)


def test_a_named_dataset_refuses_another_datasets_options():
    """{name: bars, tokens: chars} once loaded the sonnets under the name 'bars'."""
    assert not is_text_config({"name": "bars", "tokens": "chars"})
    assert is_text_config("sonnets") and is_text_config({"path": "t.txt", "tokens": "words"})
    assert not is_text_config({"path": "t.txt"}) and not is_text_config(5)
    with pytest.raises(InputError, match=r"data\.tokens: unknown option 'tokens'.*valid "
                       r"options: name, size, noise, train, val, test"):
        load_dataset({"name": "bars", "tokens": "chars"}, Path("."), 0)


def test_nullable_stride_and_spans():
    ds = load_dataset({"name": "agreement", "train": 30, "val": 3, "test": 0, "window": 6,
                       "stride": None, "modifiers": [1, 1]}, Path("."), 0)
    assert ds.train.x.shape[1] == 6
    with pytest.raises(InputError, match="data.stride: expected an integer >= 1, got 0"):
        load_dataset({"name": "sonnets", "stride": 0}, Path("."), 0)
    with pytest.raises(InputError, match=r"data\.modifiers: expected \[low, high\] with 0 <= "
                       r"low <= high <= 20"):
        load_dataset({"name": "agreement", "modifiers": [0, 21]}, Path("."), 0)


SINE_SPEC = """\
name: located
input: [5, 1]
layers:
  - rnn: {hidden: 3, return: last}
  - dense: {units: 1}
data:
  name: adding
  steps: 1
train: {epochs: 1}
"""


def test_errors_through_a_spec_name_its_file_and_line(tmp_path):
    path = tmp_path / "located.yaml"
    path.write_text(SINE_SPEC)
    spec = load_spec(path)
    with pytest.raises(InputError) as info:
        load_dataset(spec.raw["data"], spec.base_dir, spec.seed, spec)
    assert str(info.value) == "located.yaml:8 data.steps: expected an integer >= 2, got 1"
    result = CliRunner().invoke(app, ["train", str(path), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and not (tmp_path / "run").exists()
    assert result.stderr.strip().endswith("located.yaml:8 data.steps: expected an integer "
                                          ">= 2, got 1")
    path.write_text(SINE_SPEC.replace("  steps: 1\n", "  stpes: 5\n"))
    result = CliRunner().invoke(app, ["train", str(path), "--out", str(tmp_path / "run")])
    assert "located.yaml:8 data.stpes: unknown option 'stpes' (did you mean 'steps'?)" \
        in result.stderr
    path.write_text(SINE_SPEC.replace("  name: adding\n  steps: 1\n", "  path: gone.csv\n"))
    result = CliRunner().invoke(app, ["train", str(path), "--out", str(tmp_path / "run")])
    assert "located.yaml:7 data.path: file 'gone.csv' not found" in result.stderr


def test_the_spec_schema_has_one_entry_per_dataset():
    schema = spec_schema.build()
    entries = schema["$defs"]["data"]["oneOf"]
    assert set(entries[0]["enum"]) == NAMED
    described = {e["description"] for e in entries[1:]}
    kinds = [*registry.named().values(), *registry.file_kinds()]
    assert described == {k.summary for k in kinds}
    validator = jsonschema.Draft202012Validator({"$defs": schema["$defs"],
                                                 "$ref": "#/$defs/data"})
    for good in ["digits", {"name": "sine", "noise": 0.5}, {"path": "a.csv", "target": "first"},
                 {"path": "t.txt", "tokens": "chars", "stride": None},
                 {"name": "agreement", "fillers": [0, 200]}]:
        assert not list(validator.iter_errors(good)), good
    for bad in [{"name": "bars", "tokens": "chars"}, {"path": "t.txt", "window": 8},
                {"name": "adding", "steps": 1}, {"name": "agreement", "modifiers": [0, 21]},
                {"path": "a.csv", "split": [0.5, 0.5]}, "dgits"]:
        assert list(validator.iter_errors(bad)), bad


KINDS = [FileName(), OneOf("first", "last"), Fractions(), Shape(), Span(20, "modifiers")]
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 25) | st.floats(-1, 2, allow_nan=False)
    | st.sampled_from(["", "first", "last", "a.csv"]),
    lambda inner: st.lists(inner, max_size=4), max_leaves=6)


@FAST
@given(kind=st.sampled_from(KINDS), value=VALUES)
def test_option_kinds_agree_with_their_schemas(kind, value):
    """What a kind object accepts, its JSON Schema accepts; what the schema refuses, the
    kind refuses with a one-line message (the schema cannot say 'sums to 1', so the kind
    may refuse more)."""
    valid = not list(jsonschema.Draft202012Validator(kind.schema()).iter_errors(value))
    try:
        kind.check(Bare(), ("data", "x"), value)
    except InputError as err:
        assert str(err).startswith("data.x: ") and "\n" not in str(err)
        return
    assert valid, (kind, value)


RAMP = '''
"""A ramp: a dataset added as one file, for the registry test."""
import numpy as np

from nncli.datasets.base import Split, name_option
from nncli.datasets.generated import Generated, count_options
from nncli.options import Option


class Ramp(Generated):
    name = "ramp"
    summary = "x (N, T, 1) a ramp of random slope; target its slope"
    OPTIONS = {"name": name_option("ramp"),
               "steps": Option("int>=1", 4, "sequence length T"),
               **count_options(8, 2, 2)}

    def values_per_sample(self, opts):
        return opts["steps"] + 1

    def generate(self, rng, n, opts):
        slope = rng.uniform(-1, 1, size=(n, 1))
        return Split((slope * np.arange(opts["steps"]))[:, :, None], slope)
'''


def test_adding_a_dataset_is_one_file(tmp_path, monkeypatch):
    (tmp_path / "ramp.py").write_text(textwrap.dedent(RAMP))
    monkeypatch.setattr(datasets, "__path__", [*datasets.__path__, str(tmp_path)])
    registry._table.cache_clear()
    try:
        ds = load_dataset({"name": "ramp", "steps": 3}, tmp_path, 0)
        assert ds.input_shape == (3, 1) and [len(ds.train), len(ds.val)] == [8, 2]
        np.testing.assert_allclose(ds.train.x[:, 1, 0], ds.train.y[:, 0])
        with pytest.raises(InputError, match="data.steps: expected an integer >= 1"):
            load_dataset({"name": "ramp", "steps": 0}, tmp_path, 0)
        schema = json.dumps(spec_schema.build()["$defs"]["data"])
        assert "a ramp of random slope" in schema
        assert "ramp" in registry.named()
    finally:
        registry._table.cache_clear()
        sys.modules.pop("nncli.datasets.ramp", None)
        importlib.invalidate_caches()
    monkeypatch.undo()
    assert "ramp" not in registry.named()
