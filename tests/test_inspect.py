"""Seeing inside a trained model: nncli weights, nncli data, predict --sample, eval --errors.

Each is checked against numbers computed here from the same files: the weights file's
arrays and their statistics, the dataset's arrays, the model's own predictions.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np
import pytest
import specs
from typer.testing import CliRunner

from nncli.checkpoint import load_weights
from nncli.cli import app
from nncli.commands.schema import load_schema
from nncli.datasets import load_dataset

runner = CliRunner()
ROOT = Path(__file__).resolve().parent.parent
MLP = """name: digits-small
seed: 0
input: [1, 8, 8]
layers:
  - conv: {filters: 3, kernel: 3, padding: 1, activation: relu}
  - flatten
  - dense: {units: 10}
  - softmax
loss: cross_entropy
data: digits
train: {epochs: 1, batch_size: 64, lr: 0.05}
"""
SINE = specs.sine(epochs=1, seed=3)


def invoke(*args, width: int = 80):
    return runner.invoke(app, [str(a) for a in args],
                         env={"COLUMNS": str(width), "NO_COLOR": "1"})


def as_json(*args) -> dict:
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    name = payload["schema"].split(".")[1].split("/")[0]
    jsonschema.Draft202012Validator(load_schema(name)).validate(payload)
    return payload


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("inspect")
    out = {}
    for name, spec in (("cnn", MLP), ("sine", SINE)):
        (root / f"{name}.yaml").write_text(spec)
        result = invoke("train", root / f"{name}.yaml", "--out", root / name)
        assert result.exit_code == 0, result.stderr
        out[name] = root / name
    return out


# --------------------------------------------------------------------------- weights

def test_weights_are_the_files_arrays_with_their_statistics(runs):
    payload = as_json("weights", runs["cnn"])
    arrays = load_weights(runs["cnn"] / "best.npz")
    assert payload["weights"] == str(runs["cnn"] / "best.npz") and payload["epoch"] == 1
    assert [layer["index"] for layer in payload["layers"]] == [0, 2]
    for layer in payload["layers"]:
        for key, record in layer["params"].items():
            w = arrays[f"{layer['index']}.{key}"].astype(np.float64)
            assert np.array_equal(np.array(record["values"]), w)
            assert record["shape"] == list(w.shape)
            for stat, value in (("min", w.min()), ("max", w.max()), ("mean", w.mean()),
                                ("std", w.std()), ("l2", np.linalg.norm(w))):
                assert record[stat] == pytest.approx(value, rel=1e-12, abs=1e-15)


def test_weights_view_shows_each_filter_and_the_table(runs):
    result = invoke("weights", runs["cnn"], "--layer", "0")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert all(len(line) <= 80 for line in out.splitlines() if str(runs["cnn"]) not in line)
    assert "0.weight" in out and "3x1x3x3" in out and "0.bias" in out
    assert "filter 2, channel 0" in out and "2.weight" not in out
    w = load_weights(runs["cnn"] / "best.npz")["0.weight"].astype(np.float64)
    assert f"{np.linalg.norm(w):.4g}" in out


def test_weights_of_a_spec_are_its_seeded_init_and_bad_layers_are_named(runs):
    payload = as_json("weights", runs["cnn"] / "config.yaml")
    assert payload["weights"] is None and payload["epoch"] is None
    for args, message in ((["--layer", "1"], "layers[1] is flatten, which has no parameters"),
                          (["--layer", "9"], "there is no layers[9]")):
        result = invoke("weights", runs["cnn"], *args)
        assert result.exit_code == 2
        assert result.stderr.strip() == (f"error: --layer: {message}; layers with parameters: "
                                         f"0 (conv), 2 (dense)")


# --------------------------------------------------------------------------- data

def test_data_by_name_is_the_datasets_sample():
    digits = load_dataset("digits", ROOT, 0)
    payload = as_json("data", "digits", "--sample", "7", "--split", "val")
    assert np.array_equal(np.array(payload["input"]), digits.val.x[7])
    assert payload["target"] == int(digits.val.y[7]) and payload["kind"] == "image"
    assert payload["size"] == len(digits.val)
    shown = invoke("data", "digits", "--sample", "7", "--split", "val").stdout
    assert f"label {int(digits.val.y[7])}" in shown and "input 1x8x8" in shown
    assert "shape 8x8" in shown                            # drawn as one 8x8 heatmap


def test_data_of_a_config_uses_its_seed_and_a_text_window_reads_as_text(runs):
    payload = as_json("data", runs["sine"], "--sample", "2")
    sine = load_dataset({"name": "sine", "steps": 6, "train": 64, "val": 16, "test": 16},
                        ROOT, 3)
    assert np.allclose(np.array(payload["input"]), sine.test.x[2], rtol=0, atol=0)
    assert payload["kind"] == "sequence"
    text = as_json("data", "sonnets", "--sample", "1")
    assert text["kind"] == "tokens" and len(text["text"]) == 64
    assert text["target_text"][:-1] == text["text"][1:]        # the next character
    shown = invoke("data", "sonnets", "--sample", "1").stdout
    assert "\n" not in shown.split("text ", 1)[1].split("\n")[0][:60].strip("⏎")


@pytest.mark.parametrize(("args", "message"), [
    (["digits", "--sample", "100000"], "--sample: expected 0..268 (the test split has 269"),
    (["digits", "--split", "dev"], "--split: expected test, val or train, got 'dev'"),
    (["digitz"], "'digitz' is neither a dataset nor a spec, run folder or built-in config "
                 "(did you mean 'digits'?)"),
    (["digits", "--set", "seed=1"], "--set: a dataset name takes its default options"),
])
def test_data_bad_input_is_one_line(args, message):
    result = invoke("data", *args)
    assert result.exit_code == 2 and message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# --------------------------------------------------------------------------- predict / eval

def test_predict_sample_equals_predict_input_of_that_sample(runs, tmp_path):
    digits = load_dataset("digits", ROOT, 0)
    np.save(tmp_path / "x.npy", digits.test.x[4])
    by_sample = as_json("predict", runs["cnn"], "--sample", "4")
    by_input = as_json("predict", runs["cnn"], "--input", tmp_path / "x.npy")
    assert by_sample["probabilities"] == by_input["probabilities"]
    assert by_sample["sample"] == {"split": "test", "index": 4,
                                   "target": int(digits.test.y[4])}
    shown = invoke("predict", runs["cnn"], "--sample", "4").stdout
    right = "right" if by_sample["predicted"][0] == digits.test.y[4] else "wrong"
    assert f"true class {int(digits.test.y[4])} · prediction {right}" in shown


@pytest.mark.parametrize(("args", "message"), [
    ([], "--input: give --input X, or --sample I"),
    (["--sample", "1", "--input", "1"], "--input: give --input X, or --sample I"),
    (["--input", "x.npy", "--split", "val"], "--split: only with --sample"),
    (["--sample", "-1"], "--sample: expected 0..268"),
])
def test_predict_sample_bad_input(runs, args, message):
    result = invoke("predict", runs["cnn"], *args)
    assert result.exit_code == 2 and message in result.stderr, result.stderr


def test_eval_errors_are_exactly_the_misclassified_samples(runs):
    from nncli.loading import load

    payload = as_json("eval", runs["cnn"], "--errors", "--limit", "1000")
    digits = load_dataset("digits", ROOT, 0)
    model = load(runs["cnn"], in_trained_dtype=True).model      # as eval: the run's float32
    x = digits.test.x.astype(model.dtype)
    # eval's batches of 256: float32 GEMM results depend on the rows multiplied together
    probs = np.concatenate([model.predict(x[i:i + 256]) for i in range(0, len(x), 256)])
    pred = probs.argmax(axis=1)
    wrong = np.flatnonzero(pred != digits.test.y)
    assert [e["index"] for e in payload["errors"]] == wrong.tolist()
    assert payload["errors_total"] == len(wrong) > 0
    confusion = np.array(payload["confusion"])
    assert payload["errors_total"] == confusion.sum() - np.trace(confusion)
    for e in payload["errors"]:
        assert (e["true"], e["predicted"]) == (digits.test.y[e["index"]], pred[e["index"]])
        assert e["p_predicted"] == pytest.approx(probs[e["index"], e["predicted"]], rel=1e-12)
    limited = as_json("eval", runs["cnn"], "--errors", "--limit", "2")
    assert limited["errors"] == payload["errors"][:2]
    shown = invoke("eval", runs["cnn"], "--errors", "--limit", "2").stdout
    assert f"{len(wrong)} misclassified samples (the first 2" in shown
    assert f"nncli data {runs['cnn']} --sample {wrong[0]} --split test" in shown


def test_eval_errors_refuses_what_it_cannot_list(runs):
    regression = invoke("eval", runs["sine"], "--errors")
    assert regression.exit_code == 2
    assert "this model predicts values (a regression model)" in regression.stderr
    alone = invoke("eval", runs["cnn"], "--limit", "3")
    assert alone.exit_code == 2 and "--limit: only with --errors" in alone.stderr
    zero = invoke("eval", runs["cnn"], "--errors", "--limit", "0")
    assert zero.exit_code == 2 and "--limit: expected an integer >= 1" in zero.stderr
