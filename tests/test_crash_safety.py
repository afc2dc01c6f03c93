"""Nothing is lost: `nncli train` killed with SIGKILL at random moments (seeded) never leaves
a checkpoint or metrics file that cannot be read, and `--resume` then finishes the run with
exactly the weights, optimiser state and metrics of an uninterrupted run."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "bars_cnn.yaml"
EPOCHS = 20
KILLS = 6
# The optimizers the kill test runs: bars_cnn.yaml's own (SGD with momentum), and Adam,
# whose state (two moment arrays and the step count in the bias correction) must survive too.
TRAIN = {"sgd": None, "adam": {"epochs": 5, "batch_size": 32, "optimizer": "adam",
                               "lr": 0.005}}


def config_for(optimizer: str, folder: Path) -> Path:
    if TRAIN[optimizer] is None:
        return CONFIG
    spec = yaml.safe_load(CONFIG.read_text())
    spec["train"] = TRAIN[optimizer]
    path = folder / f"bars_cnn_{optimizer}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def nncli() -> list[str]:
    local = Path(sys.executable).parent / "nncli"
    return [str(local)] if local.exists() else [sys.executable, "-m", "nncli"]


def start(*args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) -> subprocess.Popen:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.Popen([*nncli(), *map(str, args)], stdout=stdout, stderr=stderr,
                            env=env)


def finish(*args) -> subprocess.CompletedProcess:
    proc = start(*args)
    _, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(args, proc.returncode, "", err.decode())


def arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def check_readable(run: Path) -> int:
    """Every file in the run folder is complete; returns the epochs metrics.jsonl holds."""
    for npz in run.glob("*.npz"):
        loaded = arrays(npz)                       # a truncated file would raise here
        meta = json.loads(str(loaded["meta"]))
        assert meta["batch"] == 0 and meta["epoch"] >= 1, npz
    lines = (run / "metrics.jsonl").read_text().splitlines() \
        if (run / "metrics.jsonl").exists() else []
    for i, line in enumerate(lines, start=1):
        assert json.loads(line)["epoch"] == i
    if (run / "config.yaml").exists():
        assert yaml.safe_load((run / "config.yaml").read_text())["name"] == "bars-cnn"
    return len(lines)


def timeless(path: Path) -> list[dict]:
    return [{k: v for k, v in json.loads(line).items() if k != "seconds"}
            for line in path.read_text().splitlines()]


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
@pytest.mark.parametrize("optimizer", TRAIN)
def test_sigkill_at_random_moments_then_resume_equals_uninterrupted(tmp_path, optimizer):
    config = config_for(optimizer, tmp_path)
    reference = tmp_path / "reference"
    proc = start("train", config, "--out", reference, "--epochs", EPOCHS, "--json",
                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    arrived = [time.perf_counter() for _ in iter(proc.stdout.readline, b"")]
    assert proc.wait(timeout=120) == 0 and len(arrived) == EPOCHS
    epoch_time = float(np.median(np.diff(arrived)))

    # Each attempt waits for a random number of epochs to finish (the --json lines), then
    # kills at a random moment of the next epoch: its training steps or its checkpoint
    # writes. Seeded, so the same attempts happen on every run of the suite.
    rng = random.Random(6)
    run = tmp_path / "run"
    killed, seen = 0, []                    # kills that hit; epochs on disk after each
    for _ in range(KILLS):
        done = check_readable(run) if run.exists() else 0
        resumable = (run / "config.yaml").exists()
        args = ("train", "--resume", run) if resumable else ("train", config, "--out", run)
        proc = start(*args, "--epochs", EPOCHS, "--json", stdout=subprocess.PIPE,
                     stderr=subprocess.DEVNULL)
        for _ in range(rng.randrange(0, min(5, EPOCHS - done))):
            if not proc.stdout.readline():
                break
        time.sleep(rng.uniform(0, 1.5 * epoch_time))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        proc.stdout.close()
        proc.wait(timeout=60)
        epochs = check_readable(run) if run.exists() else 0
        seen.append(epochs)
        if epochs == EPOCHS:                # it finished before the kill: start over
            shutil.rmtree(run)
    print(f"SIGKILL {killed} times; epochs on disk after each attempt: {seen}")
    assert killed >= KILLS // 2, "the kills came too late to test anything"

    if (run / "config.yaml").exists():
        resumed = finish("train", "--resume", run, "--epochs", EPOCHS)
    else:                                   # killed before it wrote anything
        resumed = finish("train", config, "--out", run, "--epochs", EPOCHS)
    assert resumed.returncode == 0, resumed.stderr
    assert check_readable(run) == EPOCHS
    assert not list(run.glob(".*.tmp")), "temporary files were left behind"
    for name in ("last.npz", "best.npz"):
        got, want = arrays(run / name), arrays(reference / name)
        assert sorted(got) == sorted(want)
        slot = {"sgd": "momentum_buffer", "adam": "exp_avg_sq"}[optimizer]
        assert any(key.startswith(f"optim/{slot}/") for key in got), sorted(got)
        for key in want:
            if key == "meta":
                g, w = json.loads(str(got[key])), json.loads(str(want[key]))
                for record in (g, w):
                    for m in record["history"]:
                        m.pop("seconds")
                    record["partial"].pop("seconds", None)
                assert g == w, name
            else:
                np.testing.assert_array_equal(got[key], want[key], err_msg=f"{name} {key}")
    assert timeless(run / "metrics.jsonl") == timeless(reference / "metrics.jsonl")


def test_resume_repairs_files_a_kill_left_behind(tmp_path):
    """The state a kill between two writes at an epoch's end leaves: last.npz already at
    epoch 2, best.npz still at epoch 1, metrics.jsonl one line short, a temp file."""
    from nncli import train as core

    spec = CONFIG
    full = tmp_path / "full"
    trainer = core.new_run(spec, full, 2)
    for _ in trainer.run():
        pass
    one = tmp_path / "one"
    trainer = core.new_run(spec, one, 1)
    for _ in trainer.run():
        pass
    shutil.copy(full / "last.npz", one / "last.npz")           # the kill came here
    (one / ".best.npz.abc123.tmp").write_bytes(b"PK half a file")
    assert json.loads(str(arrays(full / "last.npz")["meta"]))["best"]["epoch"] == 2
    resumed = core.resume_run(one, 2)
    assert resumed.epoch == 2
    assert not (one / ".best.npz.abc123.tmp").exists()
    assert timeless(one / "metrics.jsonl") == timeless(full / "metrics.jsonl")
    for key, value in arrays(full / "best.npz").items():
        if key != "meta":
            np.testing.assert_array_equal(arrays(one / "best.npz")[key], value)


def test_a_run_killed_before_its_first_checkpoint_resumes_from_the_start(tmp_path):
    from nncli import train as core

    run = tmp_path / "run"
    trainer = core.new_run(CONFIG, run, 1)           # folder and config.yaml, no epoch yet
    del trainer
    assert sorted(p.name for p in run.iterdir()) == ["config.yaml"]
    result = finish("train", "--resume", run, "--epochs", 1)
    assert result.returncode == 0, result.stderr
    assert check_readable(run) == 1
