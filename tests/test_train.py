"""`nncli train / eval / predict`: learning, determinism, exact resume (epoch boundary and
mid-epoch), crash-safe checkpoints, divergence, every bad input (exit 2 before any training
step, run files untouched), --json, and Ctrl-C through the installed entry point.

Runs are tiny (a 6x6 bars task, 120 samples) so the whole file takes a few seconds.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from nncli import kernels, optim
from nncli import train as core
from nncli.budget import parse_size
from nncli.checkpoint import load_checkpoint
from nncli.cli import app
from nncli.errors import RunFailed
from nncli.render.train import loss_chart

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()

TINY = """\
name: tiny
seed: 3
input: [1, 6, 6]
layers:
  - conv: {filters: 2, kernel: 3, padding: 1, activation: relu}
  - pool: {size: 2}
  - flatten
  - dense: {units: 2}
  - softmax
loss: cross_entropy
data: {name: bars, size: 6, train: 120, val: 40, test: 40}
train: {epochs: 4, batch_size: 16, lr: 0.1, momentum: 0.9, schedule: cosine}
"""
# 120 samples / 16 = 8 batches per epoch, the last one partial.

REGRESSION = """\
name: reg
input: [5, 1]
layers:
  - rnn: {hidden: 4, return: last}
  - dense: {units: 1}
loss: {mse: {reduction: mean}}
data: {name: sine, steps: 5, train: 64, val: 16, test: 16}
train: {epochs: 2, batch_size: 16, lr: 0.05}
"""

LINEAR = """\
name: linear
input: [5, 1]
layers:
  - flatten
  - dense: {units: 1}
loss: mse
data: {name: sine, steps: 5, train: 64, val: 16, test: 16}
train: TRAIN
"""


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def ok(*args):
    result = run(*args)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


def write(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def spec(tmp_path: Path, train: str | None = None, data: str | None = None, **kw) -> Path:
    text = TINY
    if train is not None:
        text = re.sub(r"^train: .*$", f"train: {train}", text, flags=re.M)
    if data is not None:
        text = re.sub(r"^data: .*$", f"data: {data}", text, flags=re.M)
    return write(tmp_path, text, **kw)


def metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / core.METRICS_FILE).read_text().splitlines()]


def timeless(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in m.items() if k != "seconds"} for m in history]


def weights(path: Path) -> dict[str, np.ndarray]:
    """A checkpoint's parameters and optimizer state arrays (`<slot>/<param>`)."""
    params, optim_state, _ = load_checkpoint(path)
    return {**params, **{f"{slot}/{k}": v for slot, arrays in optim_state.items()
                         for k, v in arrays.items()}}


def assert_same_run(a: Path, b: Path) -> None:
    wa, wb = weights(a / core.LAST), weights(b / core.LAST)
    assert wa.keys() == wb.keys()
    for key in wa:
        np.testing.assert_array_equal(wa[key], wb[key], err_msg=key)
    assert timeless(metrics(a)) == timeless(metrics(b))
    assert load_checkpoint(a / core.LAST)[2]["best"] == load_checkpoint(b / core.LAST)[2]["best"]


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


def one_line_error(result, code: int = 2) -> str:
    assert result.exit_code == code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


# --------------------------------------------------------------------------- learning

def test_loss_decreases_and_files_are_written(tmp_path):
    out = tmp_path / "run"
    result = ok("train", spec(tmp_path), "--out", out)
    history = metrics(out)
    assert [m["epoch"] for m in history] == [1, 2, 3, 4]
    assert history[-1]["train_loss"] < 0.5 * history[0]["train_loss"]
    assert history[-1]["val_loss"] < history[0]["val_loss"]
    assert sorted(p.name for p in out.iterdir()) == ["best.npz", "config.yaml", "last.npz",
                                                      "metrics.jsonl"]
    text = result.stdout
    for piece in ("train", "val", "|grad|", "0.conv", "3.dense", "best epoch",
                  "loss per epoch", f"nncli train --resume {out}",
                  f"nncli eval {out}\n"):
        assert piece in text, piece
    # the optimizer is a piece of the header, which wraps between pieces at 80 columns
    assert re.search(r"(^| · )sgd( · |$)", text, re.M), text


def test_same_seed_same_run(tmp_path):
    cfg = spec(tmp_path)
    ok("train", cfg, "--out", tmp_path / "a", "--epochs", 2)
    ok("train", cfg, "--out", tmp_path / "b", "--epochs", 2)
    assert_same_run(tmp_path / "a", tmp_path / "b")
    np.testing.assert_equal(weights(tmp_path / "a" / "best.npz"),
                            weights(tmp_path / "b" / "best.npz"))


# Every optimizer, with the options that give it the most state, for the resume tests.
OPTIMIZERS = {
    "sgd": {"momentum": 0.9, "lr": 0.1},                            # TINY's
    "adam": {"optimizer": "adam", "lr": 0.01, "amsgrad": True, "weight_decay": 0.001},
    "adamw": {"optimizer": "adamw", "lr": 0.01},
    "rmsprop": {"optimizer": "rmsprop", "lr": 0.005, "centered": True, "momentum": 0.5},
    "adagrad": {"optimizer": "adagrad", "lr": 0.05, "lr_decay": 0.01},
}


def train_line(optimizer: str, **options) -> str:
    """A `train:` mapping for TINY (4 epochs of 8 batches, cosine) with `optimizer`."""
    values = {"epochs": 4, "batch_size": 16, "schedule": "cosine", **OPTIMIZERS[optimizer],
              **options}
    return yaml.safe_dump(values, default_flow_style=True, width=1000).strip()


SLOTS = {"sgd": {"momentum_buffer"}, "adam": {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"},
         "adamw": {"exp_avg", "exp_avg_sq"},
         "rmsprop": {"square_avg", "grad_avg", "momentum_buffer"}, "adagrad": {"sum"}}


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_resume_at_epoch_boundary_equals_uninterrupted(tmp_path, optimizer):
    cfg = spec(tmp_path, train=train_line(optimizer))
    ok("train", cfg, "--out", tmp_path / "straight")
    ok("train", cfg, "--out", tmp_path / "split", "--epochs", 2)
    assert len(metrics(tmp_path / "split")) == 2
    result = ok("train", "--resume", tmp_path / "split")       # on to train.epochs = 4
    assert "resuming tiny from epoch 3" in result.stdout
    assert_same_run(tmp_path / "straight", tmp_path / "split")
    _, state, meta = load_checkpoint(tmp_path / "split" / core.LAST)
    assert set(state) == SLOTS[optimizer]
    assert meta["optimizer"] == {"name": optimizer, "step": 4 * 8}
    assert {m["optimizer"] for m in metrics(tmp_path / "split")} == {optimizer}


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_resume_mid_epoch_equals_uninterrupted(tmp_path, optimizer):
    cfg = spec(tmp_path, train=train_line(optimizer))
    ok("train", cfg, "--out", tmp_path / "straight", "--epochs", 3)
    trainer = core.new_run(cfg, tmp_path / "split", 3)
    events = []
    for event in trainer.run():
        events.append(event)
        if isinstance(event, core.BatchDone) and (event.epoch, event.batch) == (2, 3):
            trainer.request_stop()
    assert isinstance(events[-1], core.Interrupted)
    assert (events[-1].epoch, events[-1].batch) == (2, 3)
    meta = load_checkpoint(tmp_path / "split" / core.LAST)[2]
    assert (meta["epoch"], meta["batch"]) == (1, 3)
    assert meta["optimizer"] == {"name": optimizer, "step": 8 + 3}
    result = ok("train", "--resume", tmp_path / "split", "--epochs", 3)
    assert "from epoch 2, batch 4" in result.stdout
    assert_same_run(tmp_path / "straight", tmp_path / "split")


def test_resuming_with_another_thread_count_warns_how_to_keep_it_exact(tmp_path):
    """BLAS splits products differently for another thread count, so the run would go on
    with other last bits: say so, with the option that gives the checkpoint's count."""
    cfg = spec(tmp_path)
    ok("train", cfg, "--out", tmp_path / "run", "--epochs", 1, "--threads", 1)
    _, _, meta = load_checkpoint(tmp_path / "run" / core.LAST)
    assert meta["compute"] == {"engine": "numpy", "threads": 1, "kernels": kernels.name()}
    result = ok("train", "--resume", tmp_path / "run", "--epochs", 2, "--threads", 2)
    warning = " ".join(result.stderr.split())
    assert warning.startswith("warning: this run was trained with the numpy engine with 1 "
                              "thread and resumes with the numpy engine with 2 threads")
    assert warning.count("warning:") == 1 and "resume with --threads 1 " in warning
    result = ok("train", "--resume", tmp_path / "run", "--epochs", 3, "--threads", 0)
    assert "with 2 threads and resumes with the numpy engine with the library's default " \
           "threads" in " ".join(result.stderr.split())
    result = ok("train", "--resume", tmp_path / "run", "--epochs", 4)     # the policy: 1
    assert "resume with --threads 0 " in " ".join(result.stderr.split())
    result = ok("train", "--resume", tmp_path / "run", "--epochs", 5, "--threads", 1)
    assert "warning" not in result.stderr


@pytest.mark.skipif(kernels._built is None, reason="nncli._kernels was not built")
def test_resuming_with_other_kernels_warns_how_to_keep_it_exact(tmp_path, monkeypatch):
    """float32 tanh, sigmoid and per-id sums differ in the last bits between the compiled
    and the numpy kernels; a checkpoint from before they were recorded used numpy's."""
    cfg = spec(tmp_path)
    monkeypatch.setenv(kernels.ENV, "numpy")
    ok("train", cfg, "--out", tmp_path / "run", "--epochs", 1)
    assert load_checkpoint(tmp_path / "run" / core.LAST)[2]["compute"]["kernels"] == "numpy"
    monkeypatch.delenv(kernels.ENV)
    result = ok("train", "--resume", tmp_path / "run", "--epochs", 2)
    warning = " ".join(result.stderr.split())
    assert ("trained with the numpy engine with 1 thread and numpy kernels and resumes with "
            "the numpy engine with 1 thread and compiled kernels") in warning
    assert "resume with NNCLI_KERNELS=numpy to continue it bit for bit" in warning
    result = ok("train", "--resume", tmp_path / "run", "--epochs", 3)     # compiled now
    assert "warning" not in result.stderr
    arrays = dict(np.load(tmp_path / "run" / core.LAST))
    meta = json.loads(str(arrays["meta"]))
    del meta["compute"]["kernels"]                        # as written before this change
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "run" / core.LAST, **arrays)
    result = ok("train", "--resume", tmp_path / "run", "--epochs", 4)
    assert "and numpy kernels and resumes" in " ".join(result.stderr.split())


def test_run_from_before_the_optimizer_interface_resumes_exactly(tmp_path):
    """A run folder as nncli wrote it with SGD only: no train.optimizer or dampening in
    config.yaml, the velocity as optim/<param>, no optimizer record in meta or metrics."""
    cfg = spec(tmp_path)
    ok("train", cfg, "--out", tmp_path / "straight")
    old = tmp_path / "old"
    ok("train", cfg, "--out", old, "--epochs", 2)
    config = yaml.safe_load((old / core.CONFIG_FILE).read_text())
    for key in ("optimizer", "dampening"):
        del config["train"][key]
    (old / core.CONFIG_FILE).write_text(core.CONFIG_HEADER + yaml.safe_dump(config))
    for name in (core.LAST, core.BEST):
        with np.load(old / name) as data:
            arrays = {k.replace("optim/momentum_buffer/", "optim/"): data[k] for k in data}
        meta = json.loads(str(arrays["meta"]))
        del meta["optimizer"]
        for m in meta["history"]:
            del m["optimizer"]
        arrays["meta"] = np.array(json.dumps(meta))
        assert "optim/0.weight" in arrays
        np.savez(old / name, **arrays)
    lines = [json.loads(line) for line in (old / core.METRICS_FILE).read_text().splitlines()]
    (old / core.METRICS_FILE).write_text("".join(
        json.dumps({k: v for k, v in m.items() if k != "optimizer"}) + "\n" for m in lines))
    ok("train", "--resume", old)
    wa, wb = weights(tmp_path / "straight" / core.LAST), weights(old / core.LAST)
    assert wa.keys() == wb.keys() and "momentum_buffer/0.weight" in wa
    for key in wa:
        np.testing.assert_array_equal(wa[key], wb[key], err_msg=key)
    got = [{k: v for k, v in m.items() if k not in ("seconds", "optimizer")}
           for m in metrics(old)]
    assert got == [{k: v for k, v in m.items() if k not in ("seconds", "optimizer")}
                   for m in metrics(tmp_path / "straight")]


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_schedule_and_clipping_reach_every_optimizer(tmp_path, optimizer):
    """The step schedule's lr and the clipped gradients are what the optimizer gets."""
    train = train_line(optimizer, epochs=3, schedule="step", step_size=1, gamma=0.5,
                       clip=0.05, dtype="float64")    # the 1e-9 below is float64's precision
    trainer = core.new_run(spec(tmp_path, train=train), tmp_path / "run")
    base = trainer.settings["lr"]
    seen = []
    real_step = trainer.optim.step

    def step(params, grads, lr):
        seen.append((trainer.epoch, lr, optim.global_norm(grads)))
        real_step(params, grads, lr)

    trainer.optim.step = step
    before = {k: v.copy() for k, v in trainer.model.named_params().items()}
    for _ in trainer.run():
        pass
    assert len(seen) == 3 * 8
    assert all(lr == base * 0.5 ** epoch for epoch, lr, _ in seen)
    norms = [norm for *_, norm in seen]
    assert max(norms) <= 0.05 * (1 + 1e-9) and max(norms) == pytest.approx(0.05)
    assert [m["lr"] for m in trainer.history] == [base, base / 2, base / 4]
    after = trainer.model.named_params()
    assert all(not np.array_equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("dtype, budget", [("float64", "12M"), ("float32", "7M")])
def test_memory_estimate_counts_the_optimizers_state(tmp_path, monkeypatch, dtype, budget):
    """A model that fits with SGD and momentum (parameters, gradients, one slot) but not
    with AMSGrad's three slots, counted in train.dtype: 380,020 params take 9.1M / 15.2M in
    float64, 4.6M / 7.6M in float32 (the build's float64 parameters and gradients, 6.1M,
    fit both budgets)."""
    text = TINY.replace("dense: {units: 2}", "dense: {units: 20000}").replace(
        "batch_size: 16", "batch_size: 1").replace("train: {", f"train: {{dtype: {dtype}, ")
    monkeypatch.setenv("NNCLI_MEMORY_BUDGET", budget)
    cfg = write(tmp_path, text.replace("train: {", "train: {optimizer: adam, amsgrad: true, "
                                       "").replace("momentum: 0.9, ", ""))
    line = one_line_error(run("train", cfg, "--out", tmp_path / "run"))
    assert "train.optimizer: training 380,020 parameters with adam (3 state arrays" in line
    assert "over the memory budget" in line and not (tmp_path / "run").exists()
    sgd = core.Trainer(core.load_spec(write(tmp_path, text, "sgd.yaml")), tmp_path / "x")
    assert sgd.optim.slots == 1 and sgd.model.param_bytes(1) < parse_size(budget)
    assert sgd.model.dtype == dtype
    assert sgd.model.param_bytes(3) == 5 * 380_020 * np.dtype(dtype).itemsize


def test_a_float32_estimate_is_half_the_float64_one(tmp_path):
    """The budget counts a run's memory in train.dtype: float32 parameters, optimizer
    state and activations take half of float64's (a gru-lite holds no integer arrays)."""
    spec = core.load_spec(write(tmp_path, REGRESSION.replace("rnn: {", "gru-lite: {")))
    run32 = core.Trainer(spec, tmp_path / "x").model          # train.dtype: float32
    as_built = spec.build()                                   # float64
    assert run32.dtype == np.float32 and as_built.dtype == np.float64
    assert 2 * run32.param_bytes(2) == as_built.param_bytes(2)
    assert 2 * run32.activation_bytes(16) == as_built.activation_bytes(16) > 0


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), KeyboardInterrupt])
def test_interrupted_write_keeps_previous_checkpoint(tmp_path, monkeypatch, error):
    trainer = core.new_run(spec(tmp_path), tmp_path / "run", 2)
    events = trainer.run()
    for event in events:
        if isinstance(event, core.EpochDone):
            break
    last = tmp_path / "run" / core.LAST
    before = last.read_bytes()
    real_savez = np.savez

    def broken_savez(file, **arrays):
        real_savez(file, **arrays)
        file.seek(file.tell() // 2)
        file.truncate()
        raise error

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(RunFailed if isinstance(error, OSError) else KeyboardInterrupt):
        for _ in events:
            pass
    monkeypatch.undo()
    assert last.read_bytes() == before
    assert load_checkpoint(last)[2]["epoch"] == 1
    assert sorted(p.name for p in last.parent.iterdir()) == ["best.npz", "config.yaml",
                                                              "last.npz", "metrics.jsonl"]
    ok("train", "--resume", tmp_path / "run")                    # and the run goes on


def test_divergence_exits_1_and_keeps_last_good_checkpoint(tmp_path):
    # Linear regression; epoch 1 at lr 0.001, then the step schedule multiplies lr by 1e30.
    cfg = write(tmp_path, LINEAR.replace("TRAIN", "{epochs: 4, batch_size: 16, lr: 0.001, "
                                         "schedule: step, step_size: 1, gamma: 1.0e+30}"))
    out = tmp_path / "run"
    line = one_line_error(run("train", cfg, "--out", out), code=1)
    found = re.search(r"diverged at epoch (\d+), batch (\d+)", line)
    assert found, line
    epoch = int(found.group(1))
    assert epoch >= 2 and f"last good checkpoint is {out / core.LAST}" in line
    params, _, meta = load_checkpoint(out / core.LAST)
    assert meta["epoch"] == epoch - 1 and meta["batch"] == 0
    assert all(np.isfinite(v).all() for v in params.values())
    assert len(metrics(out)) == epoch - 1


def test_divergence_in_first_epoch_says_nothing_was_saved(tmp_path):
    out = tmp_path / "run"
    cfg = write(tmp_path, LINEAR.replace("TRAIN", "{lr: 1.0e+150, batch_size: 4}"))
    line = one_line_error(run("train", cfg, "--out", out), code=1)
    assert "epoch 1, batch" in line and "no checkpoint was saved yet" in line
    assert not (out / core.LAST).exists()


# --------------------------------------------------------------------------- bad input

def _npz(tmp_path: Path, x, y) -> str:
    np.savez(tmp_path / "d.npz", x=np.asarray(x, dtype=float), y=np.asarray(y))
    return "{path: d.npz, split: [0.5, 0.25, 0.25]}"


BAD_SPECS = {
    "missing data file": (lambda t: spec(t, data="{path: nowhere.npz}"), "not found"),
    "labels out of range": (lambda t: spec(t, data=_npz(t, np.zeros((8, 1, 6, 6)),
                                                        [0, 1, 2, 3, 4, 0, 1, 2])),
                            "labels must be in 0..1"),
    "data of the wrong shape": (lambda t: spec(t, data=_npz(t, np.zeros((8, 5)),
                                                            [0, 1] * 4)),
                                "samples have shape (5,)"),
    "lr zero": (lambda t: spec(t, train="{lr: 0}"), "train.lr: expected a number > 0"),
    "lr negative": (lambda t: spec(t, train="{lr: -0.1}"), "train.lr: expected a number > 0"),
    "epochs zero": (lambda t: spec(t, train="{epochs: 0}"), "train.epochs: expected an integer"),
    "another optimizer's option": (
        lambda t: spec(t, train="{lr: 0.1, betas: [0.9, 0.99]}"),
        "spec.yaml:12 train.betas: not an option of sgd (did you mean optimizer: adam?)"),
    "sgd's option with adam": (
        lambda t: spec(t, train="{optimizer: adam, momentum: 0.9}"),
        "spec.yaml:12 train.momentum: not an option of adam (did you mean optimizer: sgd?)"),
    "options of two others": (
        lambda t: spec(t, train="{optimizer: adagrad, centered: true, momentum: 0.9}"),
        "train.centered: not an option of adagrad (did you mean optimizer: rmsprop?)"),
    "unknown optimizer": (lambda t: spec(t, train="{optimizer: adma}"),
                          "train.optimizer: expected one of sgd, adagrad, adam, adamw, "
                          "rmsprop, got 'adma' (did you mean 'adam'?)"),
    "beta of 1": (lambda t: spec(t, train="{optimizer: adam, betas: [0.9, 1]}"),
                  "train.betas[1]: expected a number in [0, 1), got 1"),
    "one beta": (lambda t: spec(t, train="{optimizer: adamw, betas: 0.9}"),
                 "train.betas: expected two numbers in [0, 1) such as [0.9, 0.999], got 0.9"),
    "nesterov without momentum": (lambda t: spec(t, train="{nesterov: true}"),
                                  "train.nesterov: Nesterov momentum needs momentum > 0"),
    "eps zero": (lambda t: spec(t, train="{optimizer: rmsprop, eps: 0}"),
                 "train.eps: expected a number > 0"),
    "typo in an option": (lambda t: spec(t, train="{optimizer: adam, bettas: [0.9, 0.9]}"),
                          "unknown option 'bettas' (did you mean 'betas'?)"),
}


@pytest.mark.parametrize("case", BAD_SPECS)
def test_bad_spec_fails_before_the_run_folder_exists(tmp_path, case):
    make, message = BAD_SPECS[case]
    cfg = make(tmp_path)
    out = tmp_path / "run"
    line = one_line_error(run("train", cfg, "--out", out))
    assert message in line
    assert not out.exists()


@pytest.fixture()
def done_run(tmp_path) -> Path:
    out = tmp_path / "done"
    ok("train", spec(tmp_path, name="done.yaml"), "--out", out, "--epochs", 2)
    return out


@pytest.mark.parametrize("args, message", [
    (["--epochs", 0], "--epochs: expected an integer >= 1, got 0"),
    (["--epochs", 1], "already trained 2 epochs"),
    (["--out", "elsewhere"], "--out: a resumed run stays in its folder"),
])
def test_bad_resume_options_leave_the_run_untouched(done_run, args, message):
    before = snapshot(done_run)
    assert message in one_line_error(run("train", "--resume", done_run, *args))
    assert snapshot(done_run) == before


def test_resume_of_a_folder_that_is_not_a_run(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.yaml").write_text(TINY)
    for folder in ("empty", "half", "missing"):
        line = one_line_error(run("train", "--resume", tmp_path / folder))
        assert "is not an nncli run folder" in line
    assert sorted(p.name for p in (tmp_path / "half").iterdir()) == ["config.yaml"]


def test_resume_with_a_checkpoint_from_another_model(tmp_path, done_run):
    other = tmp_path / "other"
    mlp = TINY.replace("  - conv: {filters: 2, kernel: 3, padding: 1, activation: relu}\n"
                       "  - pool: {size: 2}\n", "")
    ok("train", write(tmp_path, mlp, "mlp.yaml"), "--out", other, "--epochs", 1)
    shutil.copy(done_run / core.LAST, other / core.LAST)
    before = snapshot(other)
    line = one_line_error(run("train", "--resume", other))
    assert "keys do not match the model" in line and "--resume" in line
    assert snapshot(other) == before
    line = one_line_error(run("eval", other / "config.yaml", "--weights",
                              done_run / core.BEST))
    assert "--weights" in line and "keys do not match" in line


def test_existing_non_empty_out_is_never_overwritten(tmp_path, done_run):
    before = snapshot(done_run)
    line = one_line_error(run("train", spec(tmp_path), "--out", done_run))
    assert "already exists and is not empty" in line and f"--resume {done_run}" in line
    assert snapshot(done_run) == before
    (tmp_path / "file").write_text("x")
    assert "not a folder" in one_line_error(run("train", spec(tmp_path), "--out",
                                                tmp_path / "file"))
    (tmp_path / "fresh").mkdir()                          # an empty folder is fine
    ok("train", spec(tmp_path), "--out", tmp_path / "fresh", "--epochs", 1)


def test_config_and_resume_usage(tmp_path, done_run):
    assert "not both" in one_line_error(run("train", spec(tmp_path), "--resume", done_run))
    assert "give a spec" in one_line_error(run("train"))
    assert "--resume" in one_line_error(run("train", done_run))          # a folder as CONFIG
    result = ok("train", "--resume", done_run, "--epochs", 2)             # nothing to do
    assert "nothing to train" in result.stdout


# --------------------------------------------------------------------------- --json

def test_json_lines_on_stdout_and_nothing_else(tmp_path):
    out = tmp_path / "run"
    result = ok("train", spec(tmp_path), "--out", out, "--epochs", 3, "--json")
    lines = result.stdout.splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["epoch"] for r in records] == [1, 2, 3]
    assert records == metrics(out)
    assert set(records[0]) == {"schema", "epoch", "train_loss", "train_accuracy", "val_loss",
                               "val_accuracy", "optimizer", "lr", "seconds", "grad_norms"}
    assert records[0]["optimizer"] == "sgd"
    assert set(records[0]["grad_norms"]) == {"0.conv", "3.dense"}
    assert "best epoch" in result.stderr and "nncli train --resume" in result.stderr


def test_regression_and_empty_val_split(tmp_path):
    out = tmp_path / "run"
    result = ok("train", write(tmp_path, REGRESSION.replace("val: 16", "val: 0")),
                "--out", out, "--json")
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["val_loss"] for r in records] == [None, None]
    assert "train_accuracy" not in records[0]
    assert "loss per epoch" in result.stderr


def test_loss_chart_draws_every_epoch():
    history = [{"epoch": i + 1, "train_loss": 2.0 - 0.1 * i, "val_loss": 3.0 - 0.1 * i}
               for i in range(7)]
    text = loss_chart(history).plain                        # 7 points + 1 in the legend
    assert text.count("●") == 8 and text.count("◆") == 8 and "◉" not in text
    close = [{"epoch": 1, "train_loss": 1.0, "val_loss": 1.0},
             {"epoch": 2, "train_loss": 0.5, "val_loss": 0.6}]
    assert loss_chart(close).plain.count("◉") == 2          # point + legend
    assert "log scale" not in text and "1" in text.splitlines()[-1]
    single = loss_chart(history[:1]).plain
    assert single.count("●") + single.count("◆") >= 1


# --------------------------------------------------------------------------- eval / predict

def test_eval_run_folder_and_spec_with_weights(tmp_path, done_run):
    result = ok("eval", done_run, "--json")
    payload = json.loads(result.stdout)
    assert payload["weights"] == str(done_run / core.BEST) and payload["split"] == "test"
    confusion = np.array(payload["confusion"])
    assert confusion.shape == (2, 2) and confusion.sum() == payload["samples"] == 40
    assert payload["accuracy"] == pytest.approx(np.trace(confusion) / 40)
    same = json.loads(ok("eval", done_run / "config.yaml", "--weights", done_run / core.BEST,
                         "--json").stdout)
    assert same == payload
    human = ok("eval", done_run / "config.yaml", "--weights", done_run / core.LAST,
               "--split", "val").stdout
    assert "accuracy" in human and "confusion matrix" in human and "recall" in human
    assert "--split" in one_line_error(run("eval", done_run, "--split", "dev"))
    assert "--weights: required" in one_line_error(run("eval", done_run / "config.yaml"))


def test_eval_regression_has_loss_only(tmp_path):
    out = tmp_path / "reg"
    ok("train", write(tmp_path, REGRESSION), "--out", out)
    payload = json.loads(ok("eval", out, "--json").stdout)
    assert payload["loss_name"] == "mse" and payload["loss"] >= 0
    assert "accuracy" not in payload and "confusion" not in payload


def test_predict_single_sample_and_batch(tmp_path, done_run):
    vertical = "; ".join(["0 0 1 0 0 0"] * 6)                # 6x6: axes of size 1 left out
    payload = json.loads(ok("predict", done_run, "--input", vertical, "--json").stdout)
    probs = np.array(payload["probabilities"])
    assert payload["input_shape"] == [1, 1, 6, 6] and probs.shape == (1, 2)
    assert probs.sum() == pytest.approx(1.0) and payload["predicted"] == [int(probs.argmax())]
    human = ok("predict", done_run, "--input", vertical).stdout
    assert "predicted class" in human and "█" in human
    batch = np.zeros((3, 1, 6, 6))
    np.save(tmp_path / "x.npy", batch)
    payload = json.loads(ok("predict", done_run / "config.yaml", "--weights",
                            done_run / core.LAST, "--input", tmp_path / "x.npy",
                            "--json").stdout)
    assert np.array(payload["probabilities"]).shape == (3, 2)
    assert "sample" in ok("predict", done_run, "--input", tmp_path / "x.npy").stdout
    assert "--input" in one_line_error(run("predict", done_run, "--input", "1 2 3"))


def test_predict_regression(tmp_path):
    out = tmp_path / "reg"
    ok("train", write(tmp_path, REGRESSION), "--out", out)
    payload = json.loads(ok("predict", out, "--input", "0.1 0.2 0.3 0.4 0.5",
                            "--json").stdout)
    assert np.array(payload["outputs"]).shape == (1, 1) and "predicted" not in payload


# --------------------------------------------------------------------------- Ctrl-C

def _nncli() -> list[str]:
    local = Path(sys.executable).parent / "nncli"
    found = str(local) if local.exists() else shutil.which("nncli")
    return [found] if found else [sys.executable, "-m", "nncli"]


def test_ctrl_c_stops_saves_and_resumes(tmp_path):
    cfg = spec(tmp_path, train="{epochs: 400, batch_size: 4, lr: 0.05}",
               data="{name: bars, size: 6, train: 400, val: 40, test: 40}")
    out = tmp_path / "run"
    env = {**os.environ, "NO_COLOR": "1"}
    proc = subprocess.Popen([*_nncli(), "train", str(cfg), "--out", str(out), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        first = proc.stdout.readline()
        assert json.loads(first)["epoch"] == 1
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert f"nncli train --resume {out}" in err and "interrupted" in err
    assert "Traceback" not in err
    for line in rest.splitlines():                          # stdout stays JSON Lines
        json.loads(line)
    meta = load_checkpoint(out / core.LAST)[2]
    done = meta["epoch"]
    assert done < 400 and len(metrics(out)) == done
    resumed = subprocess.run([*_nncli(), "train", "--resume", str(out), "--epochs",
                              str(done + 1), "--json"], capture_output=True, text=True,
                             env=env, timeout=60)
    assert resumed.returncode == 0, resumed.stderr
    assert [json.loads(line)["epoch"] for line in resumed.stdout.splitlines()] == [done + 1]
