"""`nncli train --engine torch`: PyTorch trains the spec, nncli keeps the run.

Parity: in float64 on the cpu, the torch engine and the numpy engine end a few epochs with
the same weights, optimizer state and metrics to 1e-9 (sgd and adam, a dense and a recurrent
model; one epoch of every optimizer and every layer kind). A run trained by either engine is
resumed by the other, and every command reads a torch-trained run. Under torchrun (gloo, 2
processes) one epoch equals the single-process run; a Ctrl-C or a killed rank leaves a
checkpoint that resumes exactly. torch is never imported without --engine torch, and without
torch the option is one line naming `pip install "nncli[torch]"`.

The tests that run torch are marked `torch` and skip only where torch is not installed.
Specs are tiny (tens of samples) so the file stays quick; the torchrun tests start three
Python processes each and dominate its time.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from nncli import optim
from nncli import train as core
from nncli.checkpoint import load_checkpoint
from nncli.cli import app
from nncli.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()
TOL = 1e-9
F64 = {"dtype": "float64"}

DENSE = {   # a classifier: cross-entropy (mean), the last batch of 60 / 7 holds 4
    "name": "dense", "seed": 3, "input": [1, 6, 6],
    "layers": ["flatten", {"dense": {"units": 8, "activation": "tanh"}},
               {"dense": {"units": 2}}, "softmax"],
    "loss": "cross_entropy",
    "data": {"name": "bars", "size": 6, "train": 60, "val": 20, "test": 20},
    "train": {"epochs": 3, "batch_size": 7, "lr": 0.1, **F64}}
RECURRENT = {   # a regression: squared error (sum), clipped, cosine schedule
    "name": "recurrent", "seed": 1, "input": [5, 1],
    "layers": [{"rnn": {"hidden": 4, "return": "last"}}, {"dense": {"units": 1}}],
    "loss": "mse",
    "data": {"name": "sine", "steps": 5, "train": 40, "val": 16, "test": 16},
    "train": {"epochs": 3, "batch_size": 6, "lr": 0.02, "clip": 0.5, "schedule": "cosine",
              **F64}}
CONV = {
    "name": "conv", "seed": 3, "input": [1, 6, 6],
    "layers": [{"conv": {"filters": 2, "kernel": 3, "padding": 1, "activation": "relu"}},
               {"pool": {"size": 2, "mode": "avg"}}, {"pool": {"size": 3, "stride": 1}},
               "flatten", {"dense": {"units": 2}}, "softmax"],
    "loss": "cross_entropy",
    "data": {"name": "bars", "size": 6, "train": 36, "val": 12, "test": 12},
    "train": {"epochs": 1, "batch_size": 7, "lr": 0.1, "momentum": 0.9, **F64}}
TEXT = {   # token ids in, a class per step out: cross-entropy (mean) over every position
    "name": "text", "seed": 0, "input": [8],
    "layers": [{"embedding": {"dim": 4}}, {"lstm": {"hidden": 6}},
               {"dense": {"units": "vocab"}}, "softmax"],
    "loss": "cross_entropy",
    "data": {"name": "agreement", "window": 8, "train": 30, "val": 10, "test": 10},
    "train": {"epochs": 1, "batch_size": 8, "lr": 0.5, "clip": 1.0, **F64}}

OPTIMIZERS = {"sgd": {"optimizer": "sgd", "momentum": 0.9},
              "adam": {"optimizer": "adam", "lr": 0.01}}


def spec_with(base: dict, **train) -> dict:
    return {**base, "train": {**base["train"], **train}}


def write(folder: Path, spec: dict, name: str = "spec.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def torch_engine():
    pytest.importorskip("torch")
    from nncli.engines.torch_engine import TorchEngine

    return partial(TorchEngine, device="cpu")


def train(config: Path, out: Path, engine=None, epochs: int | None = None) -> list:
    trainer = core.new_run(config, out, epochs, engine=engine)
    return list(trainer.run())


def timeless(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in m.items() if k != "seconds"} for m in history]


def assert_close(got, want, where: str) -> None:
    """Equal structures; numbers within TOL."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and sorted(got) == sorted(want), where
        for key in want:
            assert_close(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_close(g, w, f"{where}[{i}]")
    elif isinstance(want, float):
        assert abs(got - want) <= TOL, f"{where}: {got} vs {want}"
    else:
        assert got == want, f"{where}: {got!r} vs {want!r}"


def assert_same_checkpoint(got: Path, want: Path) -> float:
    """Same weights and optimizer state (keys, float64, values to TOL), step count, position
    and metrics history; returns the largest weight difference."""
    (pg, sg, mg), (pw, sw, mw) = load_checkpoint(got), load_checkpoint(want)
    assert sorted(pg) == sorted(pw)
    diff = 0.0
    for key in pw:
        assert pg[key].dtype == pw[key].dtype == np.float64, key
        diff = max(diff, float(np.max(np.abs(pg[key] - pw[key]))))
    assert diff <= TOL, f"weights differ by {diff:.3g}"
    assert {s: sorted(v) for s, v in sg.items()} == {s: sorted(v) for s, v in sw.items()}
    for slot, arrays in sw.items():
        for key, value in arrays.items():
            np.testing.assert_allclose(sg[slot][key], value, rtol=0, atol=TOL,
                                       err_msg=f"optim/{slot}/{key}")
    assert mg["optimizer"] == mw["optimizer"] and mg["optimizer"]["step"] > 0
    assert (mg["epoch"], mg["batch"], mg["best"]["epoch"]) == \
        (mw["epoch"], mw["batch"], mw["best"]["epoch"])
    assert_close(timeless(mg["history"]), timeless(mw["history"]), "history")
    return diff


# --------------------------------------------------------------------------- parity

@pytest.mark.torch
@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
@pytest.mark.parametrize("model", ["dense", "recurrent"])
def test_a_few_epochs_end_with_the_same_weights_in_either_engine(tmp_path, model, optimizer):
    engine = torch_engine()
    base = {"dense": DENSE, "recurrent": RECURRENT}[model]
    config = write(tmp_path, spec_with(base, **OPTIMIZERS[optimizer]))
    mine, theirs = train(config, tmp_path / "numpy"), train(config, tmp_path / "torch", engine)
    assert [type(e) for e in mine] == [type(e) for e in theirs]        # the same events
    for a, b in zip(mine, theirs, strict=True):
        if isinstance(a, core.BatchDone):
            assert (a.epoch, a.batch, a.batches) == (b.epoch, b.batch, b.batches)
            assert abs(a.loss - b.loss) <= TOL
    for name in ("last.npz", "best.npz"):
        diff = assert_same_checkpoint(tmp_path / "torch" / name, tmp_path / "numpy" / name)
        print(f"{model} {optimizer} {name}: max |Δw| {diff:.2g}")
    lines = [[{k: v for k, v in json.loads(line).items() if k != "seconds"}
              for line in (tmp_path / run / "metrics.jsonl").read_text().splitlines()]
             for run in ("torch", "numpy")]
    assert_close(lines[0], lines[1], "metrics.jsonl")
    assert (tmp_path / "torch" / "config.yaml").read_text() == \
        (tmp_path / "numpy" / "config.yaml").read_text()


ONE_EPOCH = {
    **{f"recurrent-{name}": spec_with(RECURRENT, epochs=1, optimizer=name,
                                      schedule="step", step_size=1, gamma=0.5,
                                      lr=0.1 if name == "sgd" else 0.01)
       for name in optim.names()},
    "rmsprop-centered": spec_with(RECURRENT, epochs=1, optimizer="rmsprop", lr=0.01,
                                  momentum=0.5, centered=True, weight_decay=0.01),
    "adam-amsgrad": spec_with(RECURRENT, epochs=1, optimizer="adam", lr=0.01, amsgrad=True,
                              weight_decay=0.01),
    "adagrad-options": spec_with(RECURRENT, epochs=1, optimizer="adagrad", lr_decay=0.1,
                                 initial_accumulator_value=0.1, weight_decay=0.01),
    "sgd-nesterov": spec_with(CONV, weight_decay=0.001, nesterov=True),
    "conv-pool": CONV,
    "embedding-lstm": TEXT,
    **{cell: {**spec_with(RECURRENT, epochs=1, optimizer="adam", lr=0.01),
              "layers": [{cell: {"hidden": 3, "return": "all"}}, {cell: {"hidden": 4,
                                                                         "return": "last"}},
                         {"dense": {"units": 1, "activation": "tanh"}}],
              "loss": {"mse": {"reduction": "mean"}}}
       for cell in ("gru", "lstm", "gru-lite")},
}


@pytest.mark.torch
@pytest.mark.parametrize("case", sorted(ONE_EPOCH))
def test_every_optimizer_and_layer_kind_matches_for_an_epoch(tmp_path, case):
    engine = torch_engine()
    config = write(tmp_path, ONE_EPOCH[case])
    train(config, tmp_path / "numpy")
    train(config, tmp_path / "torch", engine)
    assert_same_checkpoint(tmp_path / "torch" / "last.npz", tmp_path / "numpy" / "last.npz")


@pytest.mark.torch
def test_float32_trains_in_float32_and_stays_close(tmp_path):
    engine = torch_engine()
    config = write(tmp_path, spec_with(RECURRENT, dtype="float32"))
    train(config, tmp_path / "numpy")
    train(config, tmp_path / "torch", engine)
    (got, state, _), (want, _, _) = (load_checkpoint(tmp_path / run / "last.npz")
                                     for run in ("torch", "numpy"))
    for key in want:
        assert got[key].dtype == np.float32, key
        np.testing.assert_allclose(got[key], want[key], rtol=0, atol=1e-4)
    assert state == {}                              # plain SGD keeps no state


# --------------------------------------------------------------------------- resume

@pytest.mark.torch
def test_a_run_resumes_with_the_other_engine(tmp_path):
    """numpy 2 epochs then torch to 4; torch stopped in epoch 2 (Ctrl-C's path) then numpy
    to 4: both end as 4 epochs of numpy in one go."""
    engine = torch_engine()
    config = write(tmp_path, spec_with(DENSE, epochs=4, optimizer="adam", lr=0.01))
    train(config, tmp_path / "straight")

    train(config, tmp_path / "a", epochs=2)
    list(core.resume_run(tmp_path / "a", engine=engine).run())
    assert_same_checkpoint(tmp_path / "a" / "last.npz", tmp_path / "straight" / "last.npz")

    trainer = core.new_run(config, tmp_path / "b", engine=engine)
    for event in trainer.run():
        if isinstance(event, core.BatchDone) and (event.epoch, event.batch) == (2, 3):
            trainer.request_stop()
        stopped = event
    assert isinstance(stopped, core.Interrupted) and (stopped.epoch, stopped.batch) == (2, 3)
    list(core.resume_run(tmp_path / "b").run())
    assert_same_checkpoint(tmp_path / "b" / "last.npz", tmp_path / "straight" / "last.npz")
    assert_same_checkpoint(tmp_path / "b" / "best.npz", tmp_path / "straight" / "best.npz")


def cli(*args, ok: bool = True, env: dict | None = None):
    result = runner.invoke(app, [str(a) for a in args],
                           env={"COLUMNS": "80", "NO_COLOR": "1", **(env or {})})
    if ok:
        assert result.exit_code == 0, (args, result.stdout, result.stderr)
    return result


@pytest.mark.torch
def test_every_command_reads_a_torch_trained_run(tmp_path):
    torch_engine()
    config = write(tmp_path, spec_with(TEXT, epochs=2))
    run = tmp_path / "run"
    shown = cli("train", config, "--engine", "torch", "--out", run).stdout
    lines = shown.splitlines()
    # The header wraps between its ' · ' pieces, up to the one naming the run folder.
    header = " · ".join(lines[:1 + next(i for i, x in enumerate(lines) if "run folder " in x)])
    assert header.startswith("training text ·") and "· torch 2." in header
    assert " on cpu, 1 thread ·" in header                  # the run's thread policy
    assert "\x1b[" not in shown                   # NO_COLOR; 80 columns but the paths
    assert max(len(line) for line in lines if str(run) not in line) <= 80
    assert {p.name for p in run.iterdir()} == {"config.yaml", "metrics.jsonl", "last.npz",
                                               "best.npz"}
    evaluated = json.loads(cli("eval", run, "--split", "val", "--json").stdout)
    history = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    best = min(history, key=lambda m: m["val_loss"])
    assert abs(evaluated["loss"] - best["val_loss"]) <= 1e-9      # numpy's eval of best.npz
    cli("predict", run, "--sample", "0")
    cli("forward", run, "--input", "1 2 3 4 5 6 7 8")
    cli("grad-trace", run)
    cli("complete", run, "--prompt", "the", "-n", "3")
    cli("export", run, "--to", "torch", "-o", tmp_path / "export", "--check")
    cli("train", "--resume", run, "--epochs", "3")                 # numpy continues it
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 3


@pytest.mark.torch
def test_the_help_example_runs(tmp_path, monkeypatch):
    torch_engine()
    monkeypatch.chdir(tmp_path)
    shown = cli("train", "digits_mlp", "--engine", "torch", "--epochs", "2").stdout
    assert "torch 2." in shown and "done: epochs 1-2" in shown
    assert len(list((tmp_path / "runs").iterdir())) == 1


# --------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("args, message", [
    (["--engine", "jax"], "--engine: expected numpy or torch, got 'jax'"),
    (["--engine", "troch"], "(did you mean 'torch'?)"),
    (["--device", "gpu"], "--device: expected cpu, cuda or mps, got 'gpu'"),
    (["--device", "cuda"], "--device cuda: the numpy engine runs on the cpu; add --engine "
                           "torch"),
])
def test_bad_engine_options_are_one_line_and_write_nothing(tmp_path, args, message):
    config = write(tmp_path, spec_with(RECURRENT, epochs=1))
    result = cli("train", config, "--out", tmp_path / "run", *args, ok=False)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --") and message in lines[0]
    assert not (tmp_path / "run").exists()


def test_numpy_is_refused_under_torchrun(tmp_path):
    config = write(tmp_path, spec_with(RECURRENT, epochs=1))
    result = cli("train", config, "--out", tmp_path / "run", ok=False,
                 env={"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1"})
    assert result.exit_code == 2
    assert result.stderr.strip() == ("error: --engine numpy trains in one process, but "
                                     "torchrun started 2 (WORLD_SIZE); add --engine torch")
    assert not (tmp_path / "run").exists()


@pytest.mark.torch
@pytest.mark.parametrize("device", ["cuda", "mps"])
def test_a_device_torch_cannot_see_is_one_line(tmp_path, device):
    torch = pytest.importorskip("torch")
    present = torch.cuda.is_available() if device == "cuda" else \
        torch.backends.mps.is_available()
    if present:
        pytest.skip(f"this machine has {device}")
    config = write(tmp_path, spec_with(RECURRENT, epochs=1))
    result = cli("train", config, "--engine", "torch", "--device", device, "--out",
                 tmp_path / "run", ok=False)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: --device {device}: torch sees no ")
    assert "use --device cpu" in result.stderr and len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "run").exists()


def _nncli(code: str, *args, cwd: Path) -> subprocess.CompletedProcess:
    """`nncli *args` in a fresh interpreter after `code`, which reports on stderr at exit."""
    script = (f"import atexit, sys\n{code}\n"
              f"sys.argv = ['nncli', *{[str(a) for a in args]!r}]\n"
              "from nncli.cli import main\nmain()\n")
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=cwd, timeout=300, env={**os.environ, "NO_COLOR": "1"})


REPORT_TORCH = ("atexit.register(lambda: sys.stderr.write("
                "'torch imported: %s\\n' % ('torch' in sys.modules)))")


def test_torch_is_imported_only_for_engine_torch(tmp_path):
    config = write(tmp_path, spec_with(RECURRENT, epochs=1))
    for args in (["train", "--help"], ["train", config, "--out", tmp_path / "run"],
                 ["train", "--resume", tmp_path / "run", "--epochs", "2"]):
        done = _nncli(REPORT_TORCH, *args, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "torch imported: False" in done.stderr, args


def test_without_torch_engine_torch_says_what_to_install(tmp_path):
    config = write(tmp_path, spec_with(RECURRENT, epochs=1))
    done = _nncli("sys.modules['torch'] = None   # import torch fails", "train", config,
                  "--engine", "torch", "--out", tmp_path / "run", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == ('error: --engine torch needs torch, which is not installed; '
                           'pip install "nncli[torch]"\n')
    assert not (tmp_path / "run").exists()


# --------------------------------------------------------------------------- torchrun

def torchrun(*args, cwd: Path, **popen) -> subprocess.Popen:
    """2 processes on this machine (a free port: --standalone), nncli as the program."""
    return subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
         "2", "-m", "nncli", *map(str, args)], cwd=cwd, text=True,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "80"}, **popen)


DISTRIBUTED = spec_with(CONV, batch_size=7)     # 36 samples: the last batch holds one


@pytest.mark.torch
def test_one_epoch_under_torchrun_equals_one_process(tmp_path):
    """gloo, 2 processes: each trains its shard of every batch of 7 (4 and 3 samples; the
    last batch's single sample on rank 0, a zero share on rank 1), and the epoch ends with
    the single-process weights, optimizer state and metrics; rank 0 alone draws and
    writes."""
    torch_engine()
    config = write(tmp_path, DISTRIBUTED)
    proc = torchrun("train", config, "--engine", "torch", "--out", tmp_path / "ddp",
                    cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert out.count("training conv ·") == 1 and out.count("done: epoch 1 in") == 1, out
    assert "torch 2." in out and "2 processes (DDP)" in out
    train(config, tmp_path / "numpy")
    train(config, tmp_path / "torch", torch_engine())
    for name in ("last.npz", "best.npz"):
        assert_same_checkpoint(tmp_path / "ddp" / name, tmp_path / "numpy" / name)
        assert_same_checkpoint(tmp_path / "ddp" / name, tmp_path / "torch" / name)
    assert sorted(p.name for p in (tmp_path / "ddp").iterdir()) == \
        ["best.npz", "config.yaml", "last.npz", "metrics.jsonl"]


def _rank_pid(launcher: int, rank: int) -> int | None:
    """The pid of the torchrun worker with RANK=rank among launcher's children (/proc)."""
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
            environ = (entry / "environ").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if int(stat.rpartition(")")[2].split()[1]) == launcher and \
                f"RANK={rank}".encode() in environ:
            return int(entry.name)
    return None


def _interrupt(proc: subprocess.Popen, ready, act) -> str:
    """Wait until ready() (at most 240 s), act(), then let torchrun end; its stderr."""
    try:
        started = time.monotonic()
        while not ready() and proc.poll() is None:
            assert time.monotonic() - started < 240, "not ready after 240 s"
            time.sleep(0.1)
        assert proc.poll() is None, "the run ended before it was interrupted"
        time.sleep(0.3)
        act()
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode != 0
    return err


def _position(run: Path) -> tuple[int, int]:
    try:
        _, _, meta = load_checkpoint(run / "last.npz")
    except InputError:                           # not written yet
        return (0, 0)
    return meta["epoch"], meta["batch"]


@pytest.mark.torch
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds ranks in /proc")
def test_ctrl_c_and_a_killed_rank_leave_a_checkpoint_that_resumes_exactly(tmp_path):
    """A Ctrl-C (SIGINT to torchrun, which passes it on to each rank) stops both ranks after
    the same batch and rank 0 saves the position; --resume under torchrun continues it; a
    SIGKILL of rank 1 then makes rank 0 stop with one line (and torchrun end it at any
    moment). The last checkpoint reads, and resuming it in one process (numpy) to the next
    epoch gives exactly the run trained without a break."""
    torch_engine()
    config = write(tmp_path, spec_with(DISTRIBUTED, epochs=400))
    run = tmp_path / "run"
    proc = torchrun("train", config, "--engine", "torch", "--out", run, cwd=tmp_path,
                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    err = _interrupt(proc, lambda: (run / "last.npz").exists(),
                     lambda: os.kill(proc.pid, signal.SIGINT))      # a terminal's Ctrl-C
    assert "interrupted " in err and "resume with: nncli train --resume" in err, err[-2000:]
    stopped = _position(run)
    assert stopped[0] >= 1

    proc = torchrun("train", "--resume", run, "--engine", "torch", cwd=tmp_path,
                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    err = _interrupt(proc, lambda: _position(run)[0] > stopped[0],
                     lambda: os.kill(_rank_pid(proc.pid, 1), signal.SIGKILL))
    assert "internal error" not in err, err[-2000:]
    epoch = _position(run)[0]
    assert stopped[0] < epoch < 400

    list(core.resume_run(run, epoch + 1).run())
    train(config, tmp_path / "straight", epochs=epoch + 1)
    assert_same_checkpoint(run / "last.npz", tmp_path / "straight" / "last.npz")
