"""The model inspection commands through the CLI: init, summary, forward, backward, gradcheck."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nncli.cli import app

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def run_json(*args: str) -> dict:
    result = run(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_backward_reproduces_seed_example_4():
    out = run_json("backward", CONFIGS / "seed_rnn.yaml", "--input", "1; 2",
                   "--target", "0.5; -0.25")
    assert out["loss"] == pytest.approx(0.8941527459, abs=1e-9)
    grads = {k: v["grad"][0][0] for k, v in out["params"].items()}
    assert grads["0.weight_ih_l0"] == pytest.approx(3.8620563504, abs=1e-9)   # θ1
    assert grads["0.weight_hh_l0"] == pytest.approx(1.4238235714, abs=1e-9)   # θ2
    assert grads["1.weight"] == pytest.approx(0.8949972723, abs=1e-9)         # θ3


def test_forward_shows_seed_states_and_conv_example():
    out = run_json("forward", CONFIGS / "seed_rnn.yaml", "--input", "1; 2", "--layer", "0")
    states = np.array(out["layers"][0]["output"]).ravel()
    np.testing.assert_allclose(states, [0.4621171573, 0.2975452616], atol=1e-10)
    out = run_json("forward", CONFIGS / "seed_conv.yaml", "--input",
                   CONFIGS / "seed_conv_A.txt")
    conv, pool = (np.array(layer["output"])[0, 0] for layer in out["layers"])
    np.testing.assert_array_equal(conv, [[2, -1, 0, 0], [-1, 2, -1, -1], [1, -1, 1, -1],
                                         [-1, 0, 0, 2]])
    np.testing.assert_array_equal(pool, [[2, 0], [1, 2]])
    assert out["layers"][0]["min"] == -1 and out["layers"][0]["max"] == 2


def test_forward_table_output_and_layer_range():
    result = run("forward", CONFIGS / "seed_conv.yaml", "--input", CONFIGS / "seed_conv_A.txt")
    assert result.exit_code == 0
    assert "[1] pool" in result.stdout and "min -1" in result.stdout
    result = run("forward", CONFIGS / "seed_conv.yaml", "--input",
                 CONFIGS / "seed_conv_A.txt", "--layer", "5")
    assert result.exit_code == 2 and "--layer: expected 0..1" in result.stderr


def test_summary_table_and_json():
    out = run_json("summary", CONFIGS / "digits_cnn.yaml")
    assert [layer["type"] for layer in out["layers"]] == ["conv", "pool", "flatten", "dense",
                                                          "softmax"]
    assert out["layers"][0]["output_shape"] == [16, 8, 8]
    assert out["total_params"] == 16 * 9 + 16 + 256 * 10 + 10
    result = run("summary", CONFIGS / "digits_cnn.yaml")
    assert result.exit_code == 0 and "2,730" in result.stdout


def test_summary_prints_rows_before_the_impossible_layer(tmp_path):
    spec = write(tmp_path, "m.yaml", "input: [1, 8, 8]\nlayers:\n  - conv: {filters: 8, "
                 "kernel: 3}\n  - pool: {size: 2}\n  - dense: {units: 3}\nloss: mse\n")
    result = run("summary", spec)
    assert result.exit_code == 2
    assert "(8, 3, 3)" in result.stdout                  # the pool row is shown
    assert "m.yaml:5 layers[2] (dense) expects a flat input" in result.stderr
    assert "add a flatten layer" in result.stderr
    assert "Traceback" not in result.output


def test_summary_of_a_run_folder(tmp_path):
    """A run folder (config.yaml + best.npz or last.npz) is summarised like its spec; a text
    model's vocabulary comes from its weights, so its training text may be gone."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    # As `nncli train` writes it: with train.dtype (without, a run from before train.dtype
    # existed: its memory is counted in float64, as it trained).
    (run_dir / "config.yaml").write_text((CONFIGS / "digits_cnn.yaml").read_text().replace(
        "train:\n", "train:\n  dtype: float32\n"))
    before_checkpoint = run_json("summary", run_dir)            # config.yaml alone
    assert before_checkpoint == run_json("summary", CONFIGS / "digits_cnn.yaml")
    assert run("init", CONFIGS / "digits_cnn.yaml", "-o", run_dir / "last.npz").exit_code == 0
    assert run_json("summary", run_dir) == before_checkpoint

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("abcab " * 40)
    text_run = tmp_path / "text_run"
    text_run.mkdir()
    spec = ("name: tiny-text\ninput: [6]\nlayers:\n  - embedding: {dim: 8}\n"
            "  - rnn: {hidden: 4}\n  - dense: {units: vocab}\n  - softmax\n"
            f"loss: cross_entropy\ndata: {{path: {corpus}, tokens: chars, window: 6}}\n")
    (text_run / "config.yaml").write_text(spec)
    assert run("init", text_run / "config.yaml", "-o", text_run / "best.npz").exit_code == 0
    corpus.unlink()                               # only the weights know the vocabulary now
    out = run_json("summary", text_run)
    assert out["layers"][0]["options"] == "4 tokens -> 8 dims"     # a, b, c and the space
    assert out["layers"][-1]["output_shape"] == [6, 4]            # 4 classes per step

    empty = tmp_path / "empty"
    empty.mkdir()
    result = run("summary", empty)
    assert result.exit_code == 2 and "is a folder without config.yaml" in result.stderr


def test_init_writes_torch_named_weights_and_never_overwrites(tmp_path):
    out = tmp_path / "w.npz"
    assert run("init", CONFIGS / "digits_cnn.yaml", "-o", out).exit_code == 0
    with np.load(out, allow_pickle=False) as w:
        assert {k: w[k].shape for k in w.files} == {
            "0.weight": (16, 1, 3, 3), "0.bias": (16,), "3.weight": (10, 256), "3.bias": (10,)}
        before = w["0.weight"].copy()
    result = run("init", CONFIGS / "digits_cnn.yaml", "-o", out)
    assert result.exit_code == 2 and "--force" in result.stderr
    assert run("init", CONFIGS / "digits_cnn.yaml", "-o", out, "--force").exit_code == 0
    with np.load(out, allow_pickle=False) as w:            # seeded: the same weights again
        np.testing.assert_array_equal(w["0.weight"], before)


def test_weights_round_trip_through_forward(tmp_path):
    out = tmp_path / "w.npz"
    run("init", CONFIGS / "seed_rnn.yaml", "-o", out)
    a = run_json("forward", CONFIGS / "seed_rnn.yaml", "--input", "1; 2")
    b = run_json("forward", CONFIGS / "seed_rnn.yaml", "--input", "1; 2", "--weights", out)
    assert a == b


@pytest.mark.parametrize("arrays, fragment", [
    ({"0.weight_ih_l0": [[0.5]], "0.weight_hh_l0": [[1.0]]}, "missing 1.weight"),
    ({"0.weight_ih_l0": [[0.5]], "0.weight_hh_l0": [[1.0]], "1.weight": [[2.0]],
      "2.weight": [[1.0]]}, "unexpected 2.weight"),
    ({"0.weight_ih_l0": [[0.5, 1.0]], "0.weight_hh_l0": [[1.0]], "1.weight": [[2.0]]},
     "'0.weight_ih_l0' has shape (1, 2) but the model needs (1, 1)"),
])
def test_weights_that_do_not_fit_the_model(tmp_path, arrays, fragment):
    path = tmp_path / "bad.npz"
    np.savez(path, **{k: np.array(v) for k, v in arrays.items()})
    result = run("forward", CONFIGS / "seed_rnn.yaml", "--input", "1; 2", "--weights", path)
    assert result.exit_code == 2
    assert fragment in result.stderr and "Traceback" not in result.output


def test_weights_file_missing_corrupt_or_pickled(tmp_path):
    base = ["forward", CONFIGS / "seed_rnn.yaml", "--input", "1; 2", "--weights"]
    result = run(*base, tmp_path / "nope.npz")
    assert result.exit_code == 2 and "not found" in result.stderr
    broken = tmp_path / "broken.npz"
    run("init", CONFIGS / "seed_rnn.yaml", "-o", broken)
    broken.write_bytes(broken.read_bytes()[:40])
    result = run(*base, broken)
    assert result.exit_code == 2 and "not a readable .npz" in result.stderr
    pickled = tmp_path / "obj.npz"
    np.savez(pickled, **{"0.weight_ih_l0": np.array([{"a": 1}], dtype=object)})
    result = run(*base, pickled)
    assert result.exit_code == 2 and "never unpickles" in result.stderr


def test_bad_input_and_target_shapes():
    result = run("forward", CONFIGS / "seed_rnn.yaml", "--input", "1 2 3")
    assert result.exit_code == 2 and "--input: expected one sample of shape (2, 1)" in (
        result.stderr)
    result = run("backward", CONFIGS / "digits_cnn.yaml", "--input", "[[" + ",".join(
        ["[" + ",".join(["0"] * 8) + "]"] * 8) + "]]", "--target", "12")
    assert result.exit_code == 2 and "labels must be in 0..9" in result.stderr
    result = run("forward", CONFIGS / "seed_rnn.yaml", "--input", "1; nan")
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_gradcheck_passes_on_shipped_models_and_fails_on_a_broken_backward(monkeypatch):
    for config in ("seed_rnn.yaml", "seed_gru_lite.yaml", "seed_conv.yaml"):
        out = run_json("gradcheck", CONFIGS / config)
        assert out["passed"], out
        assert all(r["max_rel_error"] < 1e-7 for r in out["results"])
    out = run_json("gradcheck", CONFIGS / "digits_cnn.yaml", "--max-entries", "20")
    assert out["passed"] and {r["name"] for r in out["results"]} >= {"0.weight", "input"}

    from nncli.layers import Dense

    original = Dense.backward

    def wrong(self, dy):                                 # a classic bug: bias grad doubled
        dx = original(self, dy)
        if "bias" in self.grads:
            self.grads["bias"] *= 2
        return dx

    monkeypatch.setattr(Dense, "backward", wrong)
    result = run("gradcheck", CONFIGS / "digits_cnn.yaml", "--max-entries", "20")
    assert result.exit_code == 1
    assert "gradient check failed for 3.bias" in result.stderr


def test_spec_errors_name_file_line_and_path(tmp_path):
    spec = write(tmp_path, "model.yaml", "name: x\ninput: [1, 8, 8]\nlayers:\n"
                 "  - conv: {filters: 4, kernel: 3}\n  - cnov: {filters: 2}\nloss: mse\n")
    result = run("summary", spec)
    assert result.exit_code == 2
    assert "model.yaml:5 layers[1]: unknown layer 'cnov' (did you mean 'conv'?)" in (
        result.stderr)
