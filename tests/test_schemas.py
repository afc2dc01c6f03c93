"""The contract for scripts: every --json output validates against the JSON Schema shipped in
the package (`nncli schema <command>`), carries its "schema": "nncli.<command>/<version>",
and the spec schema is generated from the option tables and accepts every shipped config."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import specs
import typer.main
import yaml
from typer.testing import CliRunner

from nncli import spec_schema
from nncli.cli import app
from nncli.commands.schema import load_schema, schema_names

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
runner = CliRunner()

BARS_IMAGE = "; ".join(" ".join("1" if c == 2 else "0" for c in range(8)) for _ in range(8))
SINE = specs.sine()
AGREE = specs.agree()


def run(*args) -> tuple[str, str]:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, (args, result.stdout, result.stderr)
    return result.stdout, result.stderr


def validate(command: str, stdout: str) -> list[dict]:
    """Every line of stdout (one JSON object per line) against the command's schema."""
    schema = load_schema(command)
    validator = jsonschema.Draft202012Validator(schema)
    lines = stdout.splitlines()
    assert lines, f"{command} printed nothing"
    payloads = []
    for line in lines:
        payload = json.loads(line)
        errors = sorted(validator.iter_errors(payload), key=lambda e: list(e.path))
        assert not errors, f"{command}: {errors[0].message} at {list(errors[0].path)}"
        assert payload["schema"] == f"nncli.{command}/1"
        payloads.append(payload)
    return payloads


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Tiny trained runs: a classifier (bars), a regression model (sine), a text model."""
    root = tmp_path_factory.mktemp("runs")
    (root / "sine.yaml").write_text(SINE)
    (root / "agree.yaml").write_text(AGREE)
    out = {}
    for name, config in (("bars", CONFIGS / "bars_cnn.yaml"), ("sine", root / "sine.yaml"),
                         ("agree", root / "agree.yaml")):
        stdout, _ = run("train", config, "--out", root / name, "--epochs", 1, "--json")
        out[name] = root / name
        out[f"{name}-lines"] = stdout
    return out


# --------------------------------------------------------------------------- the schemas

def test_every_command_with_json_output_has_a_schema():
    group = typer.main.get_command(app)
    with_json = {name for name, cmd in group.commands.items()
                 if any("--json" in p.opts for p in cmd.params)}
    assert with_json and with_json <= set(schema_names())
    assert set(schema_names()) == with_json | {"spec"}


@pytest.mark.parametrize("name", schema_names())
def test_schemas_are_valid_draft_2020_12_with_a_version(name):
    schema = load_schema(name)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"urn:nncli:schema:{name}:1"
    if name != "spec":
        assert schema["properties"]["schema"]["const"] == f"nncli.{name}/1"
        assert "schema" in schema["required"]


def test_schema_command_lists_and_prints():
    listing, _ = run("schema")
    assert [line.split()[0] for line in listing.splitlines()] == schema_names()
    printed, _ = run("schema", "train")
    assert json.loads(printed) == load_schema("train")
    result = runner.invoke(app, ["schema", "trian"])
    assert result.exit_code == 2 and "did you mean 'train'" in result.stderr


# --------------------------------------------------------------------------- real outputs

def test_matrix_commands_validate():
    a, k = CONFIGS / "seed_conv_A.txt", CONFIGS / "seed_conv_K.txt"
    validate("conv", run("conv", a, k, "--json")[0])
    validate("conv", run("conv", a, k, "--explain", "1,2", "--padding", "1", "--json")[0])
    validate("conv", run("conv", "[[[1, 2], [3, 4]], [[0, 1], [1, 0]]]",
                         "[[[[1]], [[-1]]], [[[2]], [[0]]]]", "--explain", "1,0,1",
                         "--json")[0])
    validate("pool", run("pool", a, "--size", 2, "--stride", 1, "--json")[0])
    validate("pool", run("pool", a, "--mode", "avg", "--json")[0])
    validate("softmax", run("softmax", "1 2 3", "--json")[0])
    validate("softmax", run("softmax", "1 2; 3 5", "--temperature", "0.5", "--json")[0])


def test_layers_validates():
    validate("layers", run("layers", "--json")[0])
    validate("layers", run("layers", "gru-lite", "--json")[0])


def test_model_commands_validate():
    rnn = CONFIGS / "seed_rnn.yaml"
    for config in (rnn, CONFIGS / "digits_cnn.yaml", CONFIGS / "seed_gru_lite.yaml"):
        validate("summary", run("summary", config, "--json")[0])
    validate("forward", run("forward", rnn, "--input", "1; 2", "--json")[0])
    validate("forward", run("forward", CONFIGS / "seed_conv.yaml", "--input",
                            CONFIGS / "seed_conv_A.txt", "--layer", 1, "--json")[0])
    validate("backward", run("backward", rnn, "--input", "1; 2", "--target", "0.5; -0.25",
                             "--json")[0])
    validate("gradcheck", run("gradcheck", rnn, "--json")[0])
    validate("gradcheck", run("gradcheck", CONFIGS / "bars_cnn.yaml", "--max-entries", 5,
                              "--json")[0])


def test_examples_and_check_validate(tmp_path):
    (listing,) = validate("examples", run("examples", "--json")[0])
    assert {"digits_cnn", "seed_rnn"} <= {c["name"] for c in listing["configs"]}
    assert listing["copied"] is None
    (copied,) = validate("examples", run("examples", "seed_conv", "--copy", tmp_path / "c",
                                         "--json")[0])
    assert sorted(Path(p).name for p in copied["copied"]) == [
        "seed_conv.yaml", "seed_conv_A.txt", "seed_conv_K.txt"]
    (ok,) = validate("check", run("check", "digits_cnn", "--set", "train.lr=0.01",
                                  "--json")[0])
    assert ok["trainable"] and ok["train"]["settings"]["lr"] == 0.01
    (model_only,) = validate("check", run("check", CONFIGS / "seed_rnn.yaml", "--json")[0])
    assert not model_only["trainable"] and model_only["data"] is None


def test_grad_trace_validates_single_and_several_runs():
    (one,) = validate("grad-trace", run("grad-trace", "--cell", "gru-lite", "--steps", 5,
                                        "--hidden", 3, "--json")[0])
    assert "runs" not in one and one["gates"] is not None
    (spec,) = validate("grad-trace", run("grad-trace", CONFIGS / "seed_rnn.yaml", "--input",
                                         "1; 2", "--target", "0.5; -0.25", "--json")[0])
    assert spec["chain"] and spec["heatmap"]
    (many,) = validate("grad-trace", run("grad-trace", "--compare", "rnn,gru-lite", "--steps",
                                         4, "--hidden", 2, "--scale", "0.5,2", "--json")[0])
    assert len(many["runs"]) == 4


def test_train_lines_and_metrics_file_validate(runs):
    for name in ("bars", "sine", "agree"):
        printed = validate("train", runs[f"{name}-lines"])
        stored = validate("train", (runs[name] / "metrics.jsonl").read_text())
        assert printed == stored


def test_eval_and_predict_validate(runs):
    validate("eval", run("eval", runs["bars"], "--json")[0])
    validate("eval", run("eval", runs["sine"], "--split", "val", "--json")[0])
    validate("eval", run("eval", runs["agree"], "--json")[0])
    (p,) = validate("predict", run("predict", runs["bars"], "--input", BARS_IMAGE,
                                   "--json")[0])
    assert "probabilities" in p
    (p,) = validate("predict", run("predict", runs["sine"], "--input",
                                   "0.1; 0.2; 0.3; 0.4; 0.5; 0.6", "--json")[0])
    assert "outputs" in p


def test_text_commands_validate(runs):
    agree = runs["agree"]
    validate("complete", run("complete", agree, "--prompt", "the dogs", "-n", 3,
                             "--json")[0])
    validate("complete", run("complete", agree, "--prompt", "the", "-n", 2, "-t", 0,
                             "--explain", "--top-k", 2, "--json")[0])
    validate("agreement", run("agreement", agree, "--pairs", 2, "--max-modifiers", 1,
                              "--json")[0])


def test_run_folder_commands_validate(runs):
    """runs, compare, weights, data and the --sample/--errors additions, on the trained runs
    (a classifier, a regression model and a text model)."""
    (listed,) = validate("runs", run("runs", runs["bars"].parent, "--json")[0])
    assert {r["name"] for r in listed["runs"]} == {"bars", "sine", "agree"}
    validate("compare", run("compare", runs["bars"], runs["sine"], runs["agree"], "--json")[0])
    for name in ("bars", "sine", "agree"):
        validate("weights", run("weights", runs[name], "--json")[0])
        validate("data", run("data", runs[name], "--sample", 1, "--json")[0])
        validate("predict", run("predict", runs[name], "--sample", 1, "--json")[0])
    validate("data", run("data", "digits", "--split", "train", "--json")[0])
    (p,) = validate("eval", run("eval", runs["bars"], "--errors", "--json")[0])
    assert p["errors_total"] == len(p["errors"]) or len(p["errors"]) == 20


def test_export_validates(runs, tmp_path):
    """A trained run exported without and with --check (torch, onnxruntime if present)."""
    (plain,) = validate("export", run("export", runs["sine"], "--to", "safetensors", "-o",
                                      tmp_path / "w.safetensors", "--json")[0])
    assert plain["check"] is None
    pytest.importorskip("torch")
    (checked,) = validate("export", run("export", runs["bars"], "--to", "torch", "-o",
                                        tmp_path / "t", "--dtype", "float32", "--check",
                                        "--json")[0])
    assert checked["check"]["passed"]
    pytest.importorskip("onnxruntime")
    validate("export", run("export", runs["agree"], "--to", "onnx", "-o",
                           tmp_path / "m.onnx", "--check", "--json")[0])


def test_a_changed_output_fails_its_schema():
    """The schemas are strict: an extra or missing top-level field is a schema change."""
    payload = json.loads(run("softmax", "1 2", "--json")[0])
    validator = jsonschema.Draft202012Validator(load_schema("softmax"))
    assert validator.is_valid(payload)
    assert not validator.is_valid({**payload, "new_field": 1})
    assert not validator.is_valid({k: v for k, v in payload.items() if k != "output"})
    assert not validator.is_valid({**payload, "schema": "nncli.softmax/2"})


# --------------------------------------------------------------------------- spec schema

def test_spec_schema_is_generated_from_the_tables():
    shipped = (ROOT / "nncli" / "schemas" / "spec.json").read_text(encoding="utf-8")
    assert shipped == spec_schema.render(), "run: python -m nncli.spec_schema"
    assert spec_schema.main(["--check"]) == 0


@pytest.mark.parametrize("config", sorted(p.name for p in CONFIGS.glob("*.yaml")))
def test_every_shipped_config_follows_the_spec_schema(config):
    data = yaml.safe_load((CONFIGS / config).read_text())
    jsonschema.validate(data, load_schema("spec"), cls=jsonschema.Draft202012Validator)


@pytest.mark.parametrize("text", [
    "input: [4]\nlayers: [{cnov: {filters: 2, kernel: 3}}]\n",           # unknown layer
    "input: [4]\nlayers: [{dense: {}}]\n",                                 # missing units
    "input: [4]\nlayers: [dense]\n",                                       # needs options
    "input: [4]\nlayers: [{dense: {units: 2.5}}]\n",                       # wrong type
    "input: [4]\nlayers: [relu]\nloss: huber\n",                           # unknown loss
    "input: [4]\nlayers: [relu]\ntrain: {lr: 0}\n",                        # out of range
    "input: [4]\nlayers: [relu]\ndata: {name: digits, steps: 3}\n",        # wrong option
    "input: [4]\nlayers: [relu]\ndata: {path: x.csv, tokens: chars, task: regression}\n",
    "input: [0]\nlayers: [relu]\n",
    "layers: [relu]\n",                                                    # no input
    "input: [4]\nlayers: [relu]\nlayer: []\n",                             # unknown key
])
def test_spec_schema_rejects_what_nncli_rejects(tmp_path, text):
    validator = jsonschema.Draft202012Validator(load_schema("spec"))
    assert not validator.is_valid(yaml.safe_load(text))
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    command = "train" if "train:" in text or "data:" in text else "summary"
    result = runner.invoke(app, [command, str(path), "--out", str(tmp_path / "run")][
        :2 if command == "summary" else 4])
    assert result.exit_code == 2 and not (tmp_path / "run").exists()


def test_spec_schema_accepts_every_layer_and_dataset_form():
    validator = jsonschema.Draft202012Validator(load_schema("spec"))
    spec = {"name": "all", "seed": 1, "input": [1, 8, 8], "layers": [
        {"conv": {"filters": 2, "kernel": 3, "padding": 1, "activation": "relu",
                  "params": {"bias": [0, 0]}}},
        {"pool": {"mode": "avg"}}, "flatten", {"dense": {"units": 4}}, {"relu": None},
        {"embedding": {"dim": 3}}, {"rnn": {"hidden": 2, "return": "last"}},
        {"gru-lite": {"hidden": 2, "gate": 0.5}}, {"dense": {"units": "vocab"}}, "softmax"],
        "loss": {"cross_entropy": {"reduction": "sum"}},
        "train": {"epochs": 2, "clip": None, "schedule": "cosine", "momentum": 0.9}}
    datas = ["digits", {"name": "adding", "steps": 10}, {"name": "bars", "size": 5},
             {"path": "xy.npz", "split": [1, 0, 0]}, {"path": "t.csv", "target": "first"},
             {"path": "corpus.txt", "tokens": "words", "stride": 1},
             {"name": "agreement", "modifiers": [0, 2]}, {"name": "sonnets"}]
    for data in datas:
        errors = list(validator.iter_errors({**spec, "data": data}))
        assert not errors, (data, errors[0].message)


TRAIN_SECTIONS = {       # `train:` mappings nncli accepts (True) or refuses (False)
    "sgd options": ({"momentum": 0.9, "nesterov": True, "dampening": 0.0}, True),
    "sgd by name": ({"optimizer": "sgd", "weight_decay": 0.1}, True),
    "adam": ({"optimizer": "adam", "betas": [0.8, 0.99], "amsgrad": True, "eps": 1e-6}, True),
    "adamw": ({"optimizer": "adamw", "weight_decay": 0.05, "clip": 1.0}, True),
    "rmsprop": ({"optimizer": "rmsprop", "alpha": 0.9, "centered": True, "momentum": 0.5},
                True),
    "adagrad": ({"optimizer": "adagrad", "lr_decay": 0.1, "initial_accumulator_value": 0.1},
                True),
    "adam's option on sgd": ({"betas": [0.9, 0.99]}, False),
    "sgd's option on adam": ({"optimizer": "adam", "momentum": 0.9}, False),
    "one beta": ({"optimizer": "adam", "betas": [0.9]}, False),
    "beta of 1": ({"optimizer": "adamw", "betas": [0.9, 1.0]}, False),
    "unknown optimizer": ({"optimizer": "sgdm"}, False),
}


@pytest.mark.parametrize("case", TRAIN_SECTIONS)
def test_spec_schema_train_section_follows_the_optimizer(tmp_path, case):
    """The schema's train: part has one branch per optimizer and agrees with nncli."""
    from nncli.errors import InputError
    from nncli.spec import load_spec
    from nncli.train_setup import train_settings

    section, accepted = TRAIN_SECTIONS[case]
    document = {"input": [3], "layers": [{"dense": {"units": 1}}], "train": section}
    assert jsonschema.Draft202012Validator(load_schema("spec")).is_valid(document) == accepted
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(document))
    if accepted:
        settings = train_settings(load_spec(path))
        assert settings["optimizer"] == section.get("optimizer", "sgd")
    else:
        with pytest.raises(InputError, match=r"spec\.yaml:\d+ train"):
            train_settings(load_spec(path))
