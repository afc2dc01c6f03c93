"""--set PATH=VALUE and train's --lr/--batch-size/--seed: applied to the spec before it is
checked, judged by the same checks, errors naming the argument, recorded in config.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from nncli.cli import app
from nncli.errors import InputError
from nncli.overrides import apply_overrides, override_origin, parse, shortcut
from nncli.spec import load_spec

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
runner = CliRunner()

RAW = {"data": "digits", "seed": 0,
       "layers": [{"conv": {"filters": 4}}, "flatten", {"dense": None}],
       "train": {"lr": 0.1}}


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "80", "NO_COLOR": "1"})


def error_line(result) -> str:
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0][len("error: "):]


# --------------------------------------------------------------------------- the core

def test_values_are_parsed_as_yaml():
    cases = {"train.lr=0.01": 0.01, "train.shuffle=false": False, "name=cnn": "cnn",
             "input=[1, 8, 8]": [1, 8, 8], "data={name: bars, size: 8}": {"name": "bars",
                                                                          "size": 8},
             "train.clip=": None, "train.clip=null": None, "seed=3": 3,
             "name=a=b": "a=b"}
    for text, value in cases.items():
        assert parse(text).value == value, text
    assert parse("layers.0.conv.filters=8").keys == ("layers", "0", "conv", "filters")


def test_apply_sets_nested_values_and_list_entries_without_touching_the_input():
    out, origins = apply_overrides(RAW, ["train.lr=0.01", "layers.0.conv.filters=8",
                                         "seed=3", "train.clip=2"])
    assert out["train"] == {"lr": 0.01, "clip": 2}
    assert out["layers"][0] == {"conv": {"filters": 8}} and out["seed"] == 3
    assert RAW["train"] == {"lr": 0.1} and RAW["layers"][0] == {"conv": {"filters": 4}}
    assert origins == {("train", "lr"): "--set train.lr=0.01",
                       ("layers", 0, "conv", "filters"): "--set layers.0.conv.filters=8",
                       ("seed",): "--set seed=3", ("train", "clip"): "--set train.clip=2"}


def test_apply_reaches_into_the_short_forms():
    out, _ = apply_overrides(RAW, ["data.flat=true", "layers.1.flatten.x=1",
                                   "layers.2.dense.units=5", "optimizer.x=1"])
    assert out["data"] == {"name": "digits", "flat": True}
    assert out["layers"][1] == {"flatten": {"x": 1}}
    assert out["layers"][2] == {"dense": {"units": 5}}
    assert out["optimizer"] == {"x": 1}           # created; the spec's checks judge it


def test_later_overrides_win():
    out, origins = apply_overrides(RAW, ["train.lr=1", shortcut("train.lr", 0.5, "--lr")])
    assert out["train"]["lr"] == 0.5 and origins[("train", "lr")] == "--lr 0.5"


@pytest.mark.parametrize("text, message", [
    ("train.lr", "--set train.lr: expected PATH=VALUE, e.g. --set train.lr=0.01"),
    ("=1", "--set =1: expected PATH=VALUE"),
    ("train..lr=1", "--set train..lr=1: 'train..lr' has an empty part"),
    ("layers.x=1", "--set layers.x=1: layers is a list; address its entries by number, "
                   "e.g. layers.0"),
    ("layers.3.dense.units=1", "--set layers.3.dense.units=1: layers has 3 entries "
                               "(0 to 2), not 3"),
    ("layers.-1.dense.units=1", "layers has 3 entries (0 to 2), not -1"),
    ("train.lr.x=1", "--set train.lr.x=1: train.lr is 0.1, not a mapping or a list, so it "
                     "has no 'x'"),
    ("train.lr=[1,", "--set train.lr=[1,: the value is not valid YAML"),
    ("train.lr=&a [*a]", "anchors and aliases (&name, *name) are not supported"),
    ("train.lr=!!python/object/apply:os.system ['true']", "the value is not valid YAML"),
    ("train.lr=" + "[" * 5000, "--set train.lr="),
    ("x=" + "1" * 10_001, "the value is longer than 10,000 characters"),
])
def test_malformed_overrides_are_input_errors(text, message):
    with pytest.raises(InputError) as err:
        apply_overrides(RAW, [text])
    assert message in str(err.value)


def test_origin_covers_the_path_its_parents_and_its_children():
    origins = {("data", "name"): "--set data.name=x", ("train", "lr"): "--lr 1"}
    assert override_origin(origins, ("data", "name")) == "--set data.name=x"
    assert override_origin(origins, ("data",)) == "--set data.name=x"       # holds it
    assert override_origin(origins, ("train", "lr", 0)) == "--lr 1"         # inside it
    assert override_origin(origins, ("train", "epochs")) is None
    assert override_origin(origins, ()) is None      # the whole spec: its file names it


def test_spec_errors_at_an_overridden_path_name_the_argument():
    path = CONFIGS / "digits_cnn.yaml"
    with pytest.raises(InputError) as err:
        load_spec(path, overrides=["layers.0.conv.filters=0"])
    assert str(err.value) == ("--set layers.0.conv.filters=0: layers[0].conv.filters: "
                              "expected an integer >= 1, got 0")
    with pytest.raises(InputError) as err:
        load_spec(path, overrides=["trian.lr=1"])
    assert str(err.value).startswith("--set trian.lr=1: trian: unknown key 'trian' (did "
                                     "you mean 'train'?)")
    spec = load_spec(path, overrides=["train.lr=0.5"])
    assert spec.raw["train"]["lr"] == 0.5
    assert spec.where(("layers", 0)).startswith("digits_cnn.yaml:")     # others: file:line


# --------------------------------------------------------------------------- the commands

def test_set_errors_are_one_line_naming_the_argument(tmp_path, monkeypatch):
    cases = [
        (("check", "digits_cnn", "--set", "train.lr=-1"),
         "--set train.lr=-1: train.lr: expected a number > 0, got -1"),
        (("train", "digits_cnn", "--lr", "-1", "--out", "x"),
         "--lr -1.0: train.lr: expected a number > 0, got -1.0"),
        (("check", "digits_cnn", "--set", "data=digitz"),
         "--set data=digitz: data.name: unknown dataset 'digitz' (did you mean 'digits'?)"),
        (("summary", "digits_cnn", "--set", "layers.9.conv.filters=2"),
         "--set layers.9.conv.filters=2: layers has 5 entries (0 to 4), not 9"),
        (("forward", "seed_rnn", "--input", "1; 2", "--set", "input=[3, 1]"),
         "--input: "),
        (("init", "seed_rnn", "-o", "w.npz", "--set", "seed=-2"),
         "--set seed=-2: seed: expected an integer >= 0, got -2"),
    ]
    monkeypatch.chdir(tmp_path)
    for args, message in cases:
        line = error_line(invoke(*args))
        assert line.startswith(message), (args, line)
    assert list(tmp_path.iterdir()) == []            # nothing written


def test_set_changes_what_every_config_command_sees(tmp_path):
    rnn = CONFIGS / "seed_rnn.yaml"
    weight = ["--set", "layers.0.rnn.params.weight_ih_l0=[[0.0]]"]
    base = invoke("forward", rnn, "--input", "1; 2", "--json")
    zero = invoke("forward", rnn, "--input", "1; 2", "--json", *weight)
    assert base.exit_code == zero.exit_code == 0
    assert '"max": 0.0' in zero.stdout and base.stdout != zero.stdout
    summary = invoke("summary", "digits_cnn", "--set", "layers.0.conv.filters=2", "--json")
    assert summary.exit_code == 0 and '"output_shape": [2, 8, 8]' in summary.stdout
    out = tmp_path / "w.npz"
    assert invoke("init", rnn, "-o", out, *weight).exit_code == 0
    import numpy as np

    with np.load(out) as saved:
        assert np.all(saved["0.weight_ih_l0"] == 0)


def test_train_records_the_resolved_overrides_in_config_yaml(tmp_path):
    run = tmp_path / "run"
    result = invoke("train", "digits_mlp", "--out", run, "--epochs", 1, "--lr", "0.05",
                    "--batch-size", 64, "--seed", 3, "--set", "train.shuffle=false",
                    "--set", "train.epochs=4", "--json")
    assert result.exit_code == 0, result.stderr
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["seed"] == 3
    train = config["train"]
    assert (train["lr"], train["batch_size"], train["shuffle"], train["epochs"]) == (
        0.05, 64, False, 4)
    # the recorded config is what a resume runs on; overrides are refused there
    line = error_line(invoke("train", "--resume", run, "--lr", "1"))
    assert line.startswith("--lr 1.0: a resumed run keeps the options in its config.yaml")


def test_summary_warns_about_what_train_would_refuse():
    for sets, problem in ((["train.lr=-1"], "--set train.lr=-1: train.lr: expected a "
                                           "number > 0"),
                          (["data=digitz"], "unknown dataset 'digitz'")):
        args = [a for s in sets for a in ("--set", s)]
        result = invoke("summary", "digits_cnn", *args)
        assert result.exit_code == 0, result.stderr
        assert "total" in result.stdout
        assert result.stderr.startswith("warning: ") and problem in result.stderr
        assert "'nncli train' would stop here" in result.stderr
        check = invoke("check", "digits_cnn", *args)
        assert problem in error_line(check)
    clean = invoke("summary", "digits_cnn")
    assert clean.exit_code == 0 and clean.stderr == ""
    assert invoke("summary", "seed_rnn").stderr == ""      # no data:, not for training


def test_every_command_that_takes_a_config_takes_set():
    import typer.main

    commands = typer.main.get_command(app).commands
    takes_config = {name for name, cmd in commands.items()
                    if {p.name for p in cmd.params} & {"config", "models"}}
    assert {"train", "check", "summary", "grad-trace", "agreement"} <= takes_config
    for name in takes_config:
        params = {p.name: p for p in commands[name].params}
        assert "overrides" in params and "--set" in params["overrides"].opts, name


def test_grad_trace_set_changes_the_traced_spec():
    args = ["grad-trace", CONFIGS / "seed_rnn.yaml", "--input", "1; 2", "--target",
            "0.5; -0.25", "--json"]
    base, changed = invoke(*args), invoke(*args, "--set",
                                           "layers.0.rnn.params.weight_hh_l0=[[0.5]]")
    assert base.exit_code == changed.exit_code == 0
    assert base.stdout != changed.stdout
    assert error_line(invoke("grad-trace", "--set", "seed=1")).startswith(
        "--set: only with CONFIG")
