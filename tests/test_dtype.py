"""train.dtype and the BLAS thread policy (issue 13): a float32 run keeps every array in
float32 (parameters, gradients, optimizer state, layer outputs and caches, checkpoints),
resumes bit-exactly in both dtypes, old float64 runs still resume, gradcheck stays in
float64, forward/backward take --dtype, and --threads / NNCLI_THREADS choose the BLAS
threads a run uses (shown in the header and by --version).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from test_train import assert_same_run, weights  # the resume tests' comparison
from typer.testing import CliRunner

from nncli import threads
from nncli import train as core
from nncli.checkpoint import load_checkpoint
from nncli.cli import app

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()

CNN = """\
name: cnn
seed: 1
input: [1, 6, 6]
layers:
  - conv: {filters: 3, kernel: 3, padding: 1}
  - tanh
  - pool: {mode: avg, size: 2}
  - conv: {filters: 2, kernel: 2, activation: relu}
  - pool: {size: 2, stride: 1}
  - flatten
  - dense: {units: 4, activation: sigmoid}
  - relu
  - dense: {units: 2}
  - softmax
loss: cross_entropy
data: {name: bars, size: 6, train: 48, val: 16, test: 16}
train: TRAIN
"""

TEXT = """\
name: text
seed: 2
input: [8]
layers:
  - embedding: {dim: 4}
  - CELL
  - dense: {units: vocab}
  - softmax
loss: cross_entropy
data: {name: agreement, tokens: words, window: 8, train: 30, val: 10, test: 10}
train: TRAIN
"""

SEQUENCE = """\
name: seq
seed: 3
input: [5, 1]
layers:
  - CELL
  - dense: {units: 1}
loss: {mse: {reduction: mean}}
data: {name: sine, steps: 5, train: 48, val: 16, test: 16}
train: TRAIN
"""

# Every optimizer with the options that give it the most state.
OPTIMIZERS = {
    "sgd": {"momentum": 0.9, "nesterov": True, "weight_decay": 0.01, "lr": 0.1},
    "adam": {"optimizer": "adam", "lr": 0.01, "amsgrad": True, "weight_decay": 0.001},
    "adamw": {"optimizer": "adamw", "lr": 0.01},
    "rmsprop": {"optimizer": "rmsprop", "lr": 0.005, "centered": True, "momentum": 0.5},
    "adagrad": {"optimizer": "adagrad", "lr": 0.05, "lr_decay": 0.01},
}

# (spec, optimizer): every layer kind, both losses and every optimizer at least once.
CASES = {
    "cnn-sgd": (CNN, "sgd"),
    "cnn-adam": (CNN, "adam"),
    "rnn-adamw": (TEXT.replace("CELL", "rnn: {hidden: 5}"), "adamw"),
    "gru-lite-rmsprop": (TEXT.replace("CELL", "gru-lite: {hidden: 5}"), "rmsprop"),
    "lstm-adagrad": (TEXT.replace("CELL", "lstm: {hidden: 5, forget_bias: 1}"), "adagrad"),
    "gru-sgd": (TEXT.replace("CELL", "gru: {hidden: 5}"), "sgd"),
    "rnn-last-mse": (SEQUENCE.replace("CELL", "rnn: {hidden: 4, return: last}"), "adam"),
    "gru-lite-gate-mse": (SEQUENCE.replace(
        "CELL", "gru-lite: {hidden: 4, gate: 0.5, return: last}"), "sgd"),
    "lstm-last-mse": (SEQUENCE.replace("CELL", "lstm: {hidden: 4, return: last}"), "sgd"),
    "gru-last-mse": (SEQUENCE.replace("CELL", "gru: {hidden: 4, return: last, bias: false}"),
                     "rmsprop"),
}


def train_line(optimizer: str, **extra) -> str:
    values = {"epochs": 3, "batch_size": 16, "clip": 1.0, **OPTIMIZERS[optimizer], **extra}
    return yaml.safe_dump(values, default_flow_style=True, width=1000).strip()


def write_spec(tmp_path: Path, case: str, name: str = "spec.yaml", **extra) -> Path:
    text, optimizer = CASES[case]
    path = tmp_path / name
    path.write_text(text.replace("TRAIN", train_line(optimizer, **extra)))
    return path


def ok(*args, env=None):
    result = runner.invoke(app, [str(a) for a in args], env=env)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


def one_line_error(result) -> str:
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def float_arrays(obj, where: str):
    """(where, array) for every float array reachable from a layer's attributes."""
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind == "f":
            yield where, obj
    elif isinstance(obj, dict):
        for key, value in obj.items():
            yield from float_arrays(value, f"{where}[{key!r}]")
    elif isinstance(obj, list | tuple):
        for i, value in enumerate(obj):
            yield from float_arrays(value, f"{where}[{i}]")


# --------------------------------------------------------------------------- float32 runs

@pytest.mark.parametrize("case", CASES)
def test_a_training_step_keeps_every_array_float32(tmp_path, case):
    trainer = core.new_run(write_spec(tmp_path, case), tmp_path / "run")
    model = trainer.model
    seen = []                          # (what, dtype) of every layer output and input grad

    def watch(layer, i):
        forward, backward = layer.forward, layer.backward

        def fwd(x):
            y = forward(x)
            seen.append((f"layers[{i}] output", y.dtype))
            return y

        def bwd(dy):
            seen.append((f"layers[{i}] output gradient", dy.dtype))
            dx = backward(dy)
            if dx is not None or i:              # the first layer may skip dL/dx
                seen.append((f"layers[{i}] input gradient", dx.dtype))
            return dx

        layer.forward, layer.backward = fwd, bwd

    for i, layer in enumerate(model.layers):
        watch(layer, i)
    events = trainer.run()
    for event in events:
        if isinstance(event, core.BatchDone):
            break
    events.close()
    assert trainer.data.train.x.dtype == np.float32
    assert len(seen) >= 3 * (len(model.layers) - 1) - 1     # softmax fused, no dL/dx
    assert {dtype for _, dtype in seen} == {np.dtype(np.float32)}, seen
    for i, layer in enumerate(model.layers):
        arrays = list(float_arrays(vars(layer), f"layers[{i}]"))
        assert arrays or not layer.params
        wrong = [(where, a.dtype) for where, a in arrays if a.dtype != np.float32]
        assert not wrong, wrong                 # parameters, gradients and caches
    state = trainer.optim.state()
    assert state or trainer.optim.name == "sgd" and not trainer.optim.momentum
    for slot, arrays in state.items():
        for key, value in arrays.items():
            assert value.dtype == np.float32, (slot, key, value.dtype)


def test_checkpoints_hold_the_runs_dtype(tmp_path):
    for dtype in ("float32", "float64"):
        out = tmp_path / dtype
        ok("train", write_spec(tmp_path, "cnn-adam", f"{dtype}.yaml"), "--out", out,
           "--epochs", 1, "--dtype", dtype)
        assert yaml.safe_load((out / core.CONFIG_FILE).read_text())["train"]["dtype"] == dtype
        params, state, _ = load_checkpoint(out / core.LAST)
        arrays = [*params.values(), *(a for s in state.values() for a in s.values())]
        assert len(arrays) > len(params) and {a.dtype for a in arrays} == {np.dtype(dtype)}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", ["cnn-adam", "gru-lite-rmsprop", "lstm-adagrad"])
def test_resume_mid_epoch_is_exact_in_both_dtypes(tmp_path, case, dtype):
    cfg = write_spec(tmp_path, case, dtype=dtype)
    ok("train", cfg, "--out", tmp_path / "straight")
    trainer = core.new_run(cfg, tmp_path / "split", 2)
    for event in trainer.run():
        if isinstance(event, core.BatchDone) and (event.epoch, event.batch) == (2, 1):
            trainer.request_stop()
    assert (trainer.epoch, trainer.batch) == (1, 1)
    ok("train", "--resume", tmp_path / "split", "--epochs", 2)
    ok("train", "--resume", tmp_path / "split")                 # on to epoch 3
    assert_same_run(tmp_path / "straight", tmp_path / "split")
    assert weights(tmp_path / "split" / core.LAST)["0.weight"].dtype == np.dtype(dtype)


def test_a_run_from_before_train_dtype_resumes_in_float64(tmp_path):
    """config.yaml without train.dtype and float64 checkpoints: as nncli wrote runs before
    float32 training. The run goes on in float64, exactly as it would have."""
    cfg = write_spec(tmp_path, "cnn-sgd", dtype="float64")
    ok("train", cfg, "--out", tmp_path / "straight")
    old = tmp_path / "old"
    ok("train", cfg, "--out", old, "--epochs", 2)
    config = yaml.safe_load((old / core.CONFIG_FILE).read_text())
    del config["train"]["dtype"]
    (old / core.CONFIG_FILE).write_text(core.CONFIG_HEADER + yaml.safe_dump(config))
    result = ok("train", "--resume", old)
    assert " · float64 · " in result.stdout
    assert_same_run(tmp_path / "straight", old)
    assert {a.dtype for a in weights(old / core.LAST).values()} == {np.dtype(np.float64)}


def test_float64_weights_load_into_a_float32_run(tmp_path):
    """A float64 checkpoint (an old run) resumed with train.dtype float32: cast on load."""
    run = tmp_path / "run"
    ok("train", write_spec(tmp_path, "cnn-adam", dtype="float64"), "--out", run, "--epochs", 1)
    before = weights(run / core.LAST)
    text = (run / core.CONFIG_FILE).read_text().replace("dtype: float64", "dtype: float32")
    (run / core.CONFIG_FILE).write_text(text)
    trainer = core.resume_run(run)
    for key, value in trainer.model.named_params().items():
        assert value.dtype == np.float32
        np.testing.assert_array_equal(value, before[key].astype(np.float32))
    assert {a.dtype for s in trainer.optim.state().values() for a in s.values()} == {
        np.dtype(np.float32)}
    for _ in trainer.run():
        pass
    assert weights(run / core.LAST)["0.weight"].dtype == np.float32


def test_float32_clipping_holds_to_float32_precision(tmp_path):
    trainer = core.new_run(write_spec(tmp_path, "rnn-adamw", clip=0.05), tmp_path / "run", 1)
    norms = []
    real = trainer.optim.step

    def step(params, grads, lr):
        norms.append(float(np.sqrt(sum(np.vdot(g.astype(np.float64), g.astype(np.float64))
                                       for g in grads.values()))))
        real(params, grads, lr)

    trainer.optim.step = step
    for _ in trainer.run():
        pass
    assert max(norms) == pytest.approx(0.05, rel=1e-6)


def test_float32_and_float64_runs_learn_alike(tmp_path):
    """The same run in both dtypes: float32 rounding changes the digits, not the result."""
    history = {}
    for dtype in ("float32", "float64"):
        ok("train", write_spec(tmp_path, "cnn-sgd", dtype=dtype), "--out", tmp_path / dtype)
        history[dtype] = load_checkpoint(tmp_path / dtype / core.LAST)[2]["history"]
    for m32, m64 in zip(history["float32"], history["float64"], strict=True):
        assert m32["train_loss"] == pytest.approx(m64["train_loss"], rel=1e-4)
        assert m32["val_accuracy"] == m64["val_accuracy"]


def test_gradcheck_of_a_float32_run_is_done_in_float64(tmp_path):
    run = tmp_path / "run"
    ok("train", write_spec(tmp_path, "gru-lite-rmsprop"), "--out", run, "--epochs", 1)
    assert weights(run / core.LAST)["1.weight_hh_l0"].dtype == np.float32
    result = ok("gradcheck", run, "--json")
    report = json.loads(result.stdout)
    assert report["passed"] and max(r["max_rel_error"] for r in report["results"]) < 1e-6


# --------------------------------------------------------------------------- eval / predict

def val_loss_of(run: Path) -> float:
    lines = (run / core.METRICS_FILE).read_text().splitlines()
    return json.loads(lines[-1])["val_loss"]


def eval_json(*args) -> dict:
    return json.loads(ok("eval", *args, "--split", "val", "--json").stdout)


@pytest.mark.parametrize("case", ["cnn-sgd", "gru-lite-rmsprop", "lstm-last-mse"])
def test_eval_of_a_run_repeats_its_recorded_val_loss_exactly(tmp_path, case):
    """eval runs the weights in the dtype they were trained in, on data cast as training
    casts it, through the same evaluate(): the val loss is metrics.jsonl's, bit for bit
    (loaded into float64, as eval did, the last digits differed)."""
    cfg, run = write_spec(tmp_path, case), tmp_path / "run"
    ok("train", cfg, "--out", run, "--epochs", 1)
    assert {a.dtype for a in weights(run / core.BEST).values()} == {np.dtype(np.float32)}
    assert eval_json(run)["loss"] == val_loss_of(run)
    # A spec with a float32 run's weights: their own dtype, the same figure.
    assert eval_json(cfg, "--weights", run / core.BEST)["loss"] == val_loss_of(run)


def test_eval_of_a_run_from_before_train_dtype_is_in_float64(tmp_path):
    """Such a run trained in float64: its config.yaml has no train.dtype."""
    run = tmp_path / "old"
    ok("train", write_spec(tmp_path, "cnn-sgd", dtype="float64"), "--out", run, "--epochs", 1)
    config = yaml.safe_load((run / core.CONFIG_FILE).read_text())
    del config["train"]["dtype"]
    (run / core.CONFIG_FILE).write_text(core.CONFIG_HEADER + yaml.safe_dump(config))
    assert eval_json(run)["loss"] == val_loss_of(run)


def test_predict_and_report_use_the_runs_dtype(tmp_path):
    from nncli.report import gather
    from nncli.runs import read_run

    run = tmp_path / "run"
    ok("train", write_spec(tmp_path, "cnn-sgd"), "--out", run, "--epochs", 1)
    out = json.loads(ok("predict", run, "--sample", "0", "--split", "val", "--json").stdout)
    probs = np.array(out["probabilities"])
    np.testing.assert_array_equal(probs.astype(np.float32).astype(np.float64), probs)
    report = gather(read_run(run, "RUN"))
    assert report.split == "test"
    test = json.loads(ok("eval", run, "--split", "test", "--json").stdout)
    assert report.evaluation["loss"] == test["loss"]


def test_an_input_beyond_float32_is_refused_by_name(tmp_path):
    """Finite in float64 but not in the run's float32: one line naming the value, exit 2
    (not 'NaN or infinite values', and no numpy warning)."""
    run = tmp_path / "run"
    ok("train", write_spec(tmp_path, "rnn-last-mse"), "--out", run, "--epochs", 1)
    line = one_line_error(runner.invoke(app, ["predict", str(run), "--input",
                                              "1e300; 1; 1; 1; 1"]))
    assert line == ("error: --input: 1e+300 does not fit float32, the float type this model "
                    "computes in (at most 3.4e+38); scale the input down")
    rnn = ROOT / "configs" / "seed_rnn.yaml"
    ok("forward", rnn, "--input", "1e300; 2")                   # float64: it fits
    assert "1e+300 does not fit float32" in one_line_error(runner.invoke(app, [
        "forward", str(rnn), "--input", "1e300; 2", "--dtype", "float32"]))


# --------------------------------------------------------------------------- forward / backward

def test_forward_and_backward_take_dtype():
    rnn = ROOT / "configs" / "seed_rnn.yaml"
    args = ["backward", rnn, "--input", "1; 2", "--target", "0.5; -0.25", "--json"]
    b64 = json.loads(ok(*args).stdout)
    b32 = json.loads(ok(*args, "--dtype", "float32").stdout)
    assert b64 == json.loads(ok(*args, "--dtype", "float64").stdout)   # the default
    assert b32["loss"] != b64["loss"] and b32["loss"] == pytest.approx(b64["loss"], rel=1e-6)
    for key, record in b64["params"].items():
        got = b32["params"][key]["grad"][0][0]
        assert got == pytest.approx(record["grad"][0][0], rel=1e-6)
        assert float(np.float32(got)) == got != record["grad"][0][0]   # computed in float32
    conv = ROOT / "configs" / "seed_conv.yaml"
    a = ROOT / "configs" / "seed_conv_A.txt"
    f32 = json.loads(ok("forward", conv, "--input", a, "--dtype", "float32", "--json").stdout)
    f64 = json.loads(ok("forward", conv, "--input", a, "--json").stdout)
    assert [r["output"] for r in f32["layers"]] == [r["output"] for r in f64["layers"]]
    line = one_line_error(runner.invoke(app, ["forward", str(conv), "--input", str(a),
                                              "--dtype", "float16"]))
    assert "--dtype" in line and "float64 or float32" in line


def test_help_examples_of_dtype_and_threads_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    conv, a = ROOT / "configs" / "seed_conv.yaml", ROOT / "configs" / "seed_conv_A.txt"
    ok("forward", conv, "--input", a, "--dtype", "float32")
    ok("backward", ROOT / "configs" / "seed_rnn.yaml", "--input", "1; 2", "--target",
       "0.5; -0.25", "--dtype", "float32")
    result = ok("train", "digits_mlp", "--dtype", "float64", "--threads", "2", "--epochs", 1)
    assert " · float64 · 2 BLAS threads (--threads 2) · " in result.stdout


# --------------------------------------------------------------------------- threads

def test_thread_policy_precedence(monkeypatch):
    monkeypatch.delenv(threads.ENV, raising=False)
    assert threads.choose() == threads.Policy(1, "policy")
    assert threads.choose().describe() == "1 BLAS thread"
    monkeypatch.setenv(threads.ENV, " 3 ")
    assert threads.choose() == threads.Policy(3, threads.ENV)
    assert threads.choose().describe() == f"3 BLAS threads ({threads.ENV}=3)"
    assert threads.choose(2) == threads.Policy(2, "--threads")          # the option wins
    assert threads.choose(0) == threads.Policy(None, "--threads")
    assert threads.choose(0).describe() == "BLAS default threads (--threads 0)"


def test_the_run_uses_the_policys_thread_count(tmp_path, monkeypatch):
    from threadpoolctl import threadpool_info

    def blas_threads():
        return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}

    monkeypatch.delenv(threads.ENV, raising=False)
    outside = blas_threads()
    for count, expected in ((None, {1}), (2, {2})):
        trainer = core.new_run(write_spec(tmp_path, "cnn-sgd", f"{count}.yaml"),
                               tmp_path / f"run{count}", 1, thread_count=count)
        during = set()
        for _ in trainer.run():
            during |= blas_threads()
        assert during == expected
        assert blas_threads() == outside                  # put back after the run


@pytest.mark.parametrize("args,env,message", [
    (["--threads", "-1"], {}, "--threads: expected a whole number of BLAS threads from 1 to"),
    (["--threads", "1025"], {}, "from 1 to 1024 (0: the library's default), got '1025'"),
    ([], {threads.ENV: "two"}, f"{threads.ENV}: expected a whole number of BLAS threads"),
    (["--dtype", "float16"], {}, "train.dtype"),
])
def test_bad_threads_or_dtype_is_one_line_and_creates_nothing(tmp_path, args, env, message):
    cfg = write_spec(tmp_path, "cnn-sgd")
    result = runner.invoke(app, ["train", str(cfg), "--out", str(tmp_path / "run"), *args],
                           env=env)
    assert message in one_line_error(result)
    assert not (tmp_path / "run").exists()


def test_a_resumed_run_refuses_dtype_but_takes_threads(tmp_path):
    run = tmp_path / "run"
    ok("train", write_spec(tmp_path, "cnn-sgd"), "--out", run, "--epochs", 1)
    line = one_line_error(runner.invoke(app, ["train", "--resume", str(run), "--dtype",
                                              "float64"]))
    assert "--dtype float64: a resumed run keeps the options in its config.yaml" in line
    result = ok("train", "--resume", run, "--epochs", 2, "--threads", 2)
    assert "2 BLAS threads (--threads 2)" in result.stdout


def test_version_names_the_thread_policy():
    done = subprocess.run([sys.executable, "-m", "nncli", "--version"], capture_output=True,
                          text=True, env={"PATH": "", threads.ENV: "2"})
    assert done.returncode == 0 and done.stdout.startswith("nncli ")
    assert "nncli train uses 2 BLAS threads (NNCLI_THREADS=2)" in done.stderr


# --------------------------------------------------------------------------- hot paths

def test_training_skips_the_first_layers_input_gradient_and_inspection_keeps_it():
    from nncli.spec import load_spec

    model = load_spec(ROOT / "configs" / "digits_cnn.yaml").build()
    rng = np.random.default_rng(0)
    x, y = rng.random((4, 1, 8, 8)), rng.integers(0, 10, 4)
    model.train_step(x, y)
    trained = {k: v.copy() for k, v in model.named_grads().items()}
    assert model.layers[0].input_grad is False
    full = model.inspect(x, y)
    assert full.input_grad is not None and full.input_grad.shape == x.shape
    assert np.abs(full.input_grad).max() > 0
    for key, value in model.named_grads().items():    # the same parameter gradients
        np.testing.assert_array_equal(value, trained[key], err_msg=key)


@pytest.mark.parametrize("vocab", [7, 2**16 + 5])
def test_embedding_gradient_sums_repeated_ids_like_a_scatter_add(vocab):
    """The sorted per-id sums (uint16 ids up to 2**16 tokens, int64 beyond) against
    np.add.at, which adds every position's row into its id's row."""
    from nncli.layers.embedding import Embedding

    rng = np.random.default_rng(vocab)
    layer = Embedding(vocab, 3)
    layer.init_params((5,), rng)
    layer.zero_grad()
    x = rng.integers(0, vocab, size=(6, 5)).astype(np.float32)
    x[:, 1] = x[0, 0]                                          # repeated ids
    x[2, 3] = vocab - 1
    layer.forward(x)
    dy = rng.standard_normal((6, 5, 3))
    layer.backward(dy)
    expected = np.zeros((vocab, 3))
    np.add.at(expected, x.astype(np.int64).ravel(), dy.reshape(-1, 3))
    np.testing.assert_allclose(layer.grads["weight"], expected, rtol=1e-12, atol=1e-15)
