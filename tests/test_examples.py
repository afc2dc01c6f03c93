"""Every example command in a --help text and in README.md runs, through the installed
entry point, and exits as the example says.

Help examples are the lines of a command's help text that start with `nncli ` or
`torchrun ` (the lines help_format renders under Examples). README examples are the
`$ nncli ...` lines of its code blocks and the `nncli ...` lines of its plain ``` blocks.

Each example runs in a shell (COLUMNS=80, NO_COLOR=1, this Python's bin first on PATH)
from a folder of its own that has `configs` linked to the repository's configs and copies
of what the example names from a prepared folder: run folders trained once per session
with `--epochs 1` on shrunk data (runs/cnn, runs/adding_rnn, ...) and the small input
files the examples use (A.txt, image.npy, digits.npy, ...). The examples run two at a time.

Substitutions, so the suite stays fast: an example that trains (`nncli train`, torchrun)
runs with `--epochs 1` (a `--resume` with `--epochs 2`, one past the prepared run) in
place of its own epoch count or the config's.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest
import typer

from nncli.cli import app

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"

# Examples not run, each with the reason (keep this short).
SKIPPED: dict[str, str] = {}

# Exit codes the examples document (an error shown on purpose); every other example exits 0.
EXIT_CODES = {
    "nncli check digits_cnn --set data.name=digitz": 2,
    "nncli summary model.yaml": 2,
}

# README examples whose first output line, as README shows it, is deterministic and must
# appear in the real output (others show trained numbers, times or an elision).
FIRST_LINE_CHECKED = {
    "nncli conv configs/seed_conv_A.txt configs/seed_conv_K.txt --explain 0,0",
    "nncli conv configs/seed_conv_A.txt configs/seed_conv_K.txt --json | nncli pool - --size 2",
    'nncli softmax "1000 1001 1002"',
    "nncli summary model.yaml",
    "nncli summary configs/digits_cnn.yaml",
    'nncli backward configs/seed_rnn.yaml --input "1; 2" --target "0.5; -0.25"',
    "nncli grad-trace --compare rnn,gru-lite --steps 100 --hidden 32 --scale 0.5,1,2",
    "nncli agreement runs/agreement_rnn runs/agreement_gru_lite --max-modifiers 15",
    "nncli agreement runs/agreement_far_rnn runs/agreement_far_gru_lite "
    "--fillers 0,1,2,4,8,15,30,60",
    "nncli data digits --sample 5",
    "nncli data sonnets --sample 1",
}

# Optional dependencies an example needs, by a piece of its command line.
NEEDS = [("--engine torch", "torch"), ("--to torch", "torch"), ("--to onnx", "onnx"),
         ("--to onnx", "onnxruntime"), ("--to safetensors", "safetensors"),
         ("nncli report", "matplotlib")]

# The run folders the examples name: config, and --set lines that shrink its data.
SMALL = "--set data.train=200 --set data.val=50 --set data.test=50"
RUNS = {
    "cnn": "digits_cnn", "mlp": "digits_mlp", "bars": f"bars_cnn {SMALL}",
    "adding_rnn": f"adding_rnn {SMALL}", "adding_gru_lite": f"adding_gru_lite {SMALL}",
    "adding_lstm": f"adding_lstm {SMALL}",
    "chars": "chars_gru_lite --set data.split=[0.05,0.01,0.94]",
    "chars_gru_lite": "chars_gru_lite --set data.split=[0.05,0.01,0.94]",
    "agreement": f"agreement_rnn {SMALL}", "agreement_rnn": f"agreement_rnn {SMALL}",
    "agreement_gru_lite": f"agreement_gru_lite {SMALL}",
    "far_rnn": f"agreement_far_rnn {SMALL}", "far_lstm": f"agreement_far_lstm {SMALL}",
    "agreement_far_rnn": f"agreement_far_rnn {SMALL}",
    "agreement_far_gru_lite": f"agreement_far_gru_lite {SMALL}",
}

# The spec with a typo that README's error example shows (layers[1] on line 5).
MODEL_YAML = """\
name: typo
input: [1, 8, 8]
layers:
  - conv: {filters: 4, kernel: 3}
  - cnov: {filters: 4, kernel: 3}
  - flatten
  - dense: {units: 10}
loss: cross_entropy
"""


def help_examples() -> list[tuple[str, str | None]]:
    commands = typer.main.get_command(app).commands
    return [(line.strip(), None) for name in sorted(commands)
            for line in (commands[name].help or "").splitlines()
            if line.strip().startswith(("nncli ", "torchrun "))]


def readme_examples() -> list[tuple[str, str | None]]:
    """(command, the first output line README shows for it, or None)."""
    found = []
    text = README.read_text(encoding="utf-8")
    for lang, body in re.findall(r"^```(\w*)\n(.*?)^```", text, re.M | re.S):
        lines = body.splitlines()
        for i, line in enumerate(lines):
            if line.startswith("$ nncli "):
                shown = lines[i + 1] if i + 1 < len(lines) else ""
                shown = None if shown.startswith("$ ") else shown.strip() or None
                found.append((_strip_comment(line[2:]), shown))
            elif lang == "" and line.startswith("nncli "):
                found.append((_strip_comment(line), None))
    return found


def _strip_comment(line: str) -> str:
    return re.sub(r"\s+#\s.*$", "", line).strip()


def _runnable(command: str) -> str:
    """The command as the test runs it: trainings cut to one epoch (see the docstring)."""
    if not re.search(r"(^nncli | -m nncli )train\b", command):
        return command
    epochs = "2" if "--resume" in command else "1"
    redirect = re.search(r"\s*(>.*)$", command)
    tail = redirect.group(1) if redirect else ""
    head = command[:redirect.start()] if redirect else command
    head = re.sub(r"\s--epochs \d+", "", head)
    return f"{head} --epochs {epochs} {tail}".rstrip()


def _examples() -> list[tuple[str, str | None]]:
    """Each command once, with the output README shows for it if any."""
    found: dict[str, str | None] = {}
    for command, shown in readme_examples() + help_examples():
        if command not in SKIPPED:
            found[command] = found.get(command) or shown
    return list(found.items())


EXAMPLES = _examples()


def _env() -> dict[str, str]:
    bin_dir = Path(sys.executable).parent
    return {**os.environ, "COLUMNS": "80", "NO_COLOR": "1",
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}


def _run(command: str, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(command, shell=True, cwd=cwd, env=_env(), text=True,
                          capture_output=True, timeout=timeout)


def _prepare(folder: Path) -> None:
    """Run folders and input files every example may name, made once."""
    (folder / "configs").symlink_to(ROOT / "configs")
    with ThreadPoolExecutor(2) as pool:
        done = list(pool.map(
            lambda item: (item[0], _run(f"nncli train configs/{item[1].split()[0]}.yaml "
                                        f"--out runs/{item[0]} --epochs 1 "
                                        + " ".join(item[1].split()[1:]), folder)),
            RUNS.items()))
    for run, result in done:
        assert result.returncode == 0, f"training runs/{run}:\n{result.stderr}"
    shutil.copy(ROOT / "configs" / "seed_conv_A.txt", folder / "A.txt")
    shutil.copy(ROOT / "configs" / "seed_conv_K.txt", folder / "K.txt")
    rng = np.random.default_rng(0)
    np.save(folder / "image.npy", rng.random((12, 12)))
    np.save(folder / "digits.npy", rng.random((3, 1, 8, 8)))
    np.save(folder / "logits.npy", np.array([2.0, 1.0, 0.1]))
    (folder / "bar.txt").write_text("0 0 1 0 0 0 0 0\n" * 8, encoding="utf-8")
    shutil.copy(folder / "runs" / "agreement_rnn" / "best.npz", folder / "rnn.npz")
    (folder / "model.yaml").write_text(MODEL_YAML, encoding="utf-8")
    result = _run("nncli examples digits_cnn seed_conv --copy my-configs", folder)
    assert result.returncode == 0, result.stderr


def _workdir(prepared: Path, base: Path, command: str) -> Path:
    """A fresh folder with copies of what the command names (not what it writes)."""
    base.mkdir()
    (base / "configs").symlink_to(ROOT / "configs")
    written = set(re.findall(r"(?:--out|-o|--copy)\s+(\S+)", command))
    names = [f"runs/{p.name}" for p in (prepared / "runs").iterdir()]
    names += [p.name for p in prepared.iterdir() if p.name not in ("runs", "configs")]
    wanted = [name for name in names if name not in written and re.search(
        rf"(?<![\w/]){re.escape(name)}(?![\w.])", command)]
    if re.search(r"nncli runs\b", command):   # lists the run folders: two of them
        wanted = ["runs/cnn", "runs/mlp"]
    for name in wanted:
        source, target = prepared / name, base / name
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, target)
    return base


def _missing(command: str) -> str | None:
    for piece, module in NEEDS:
        if piece in command and find_spec(module) is None:
            return module
    if command.startswith("torchrun ") and find_spec("torch") is None:
        return "torch"
    return None


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    """Every runnable example's result, run two at a time in folders of their own."""
    prepared = tmp_path_factory.mktemp("prepared")
    _prepare(prepared)
    base = tmp_path_factory.mktemp("examples")
    commands = [c for c, _ in EXAMPLES if _missing(c) is None]
    with ThreadPoolExecutor(2) as pool:
        done = pool.map(
            lambda ic: _run(_runnable(ic[1]), _workdir(prepared, base / str(ic[0]), ic[1])),
            enumerate(commands))
        return dict(zip(commands, done, strict=True))


def test_examples_are_collected():
    commands = [c for c, _ in EXAMPLES]
    assert len(help_examples()) >= 50 and len(readme_examples()) >= 30
    assert "nncli eval runs/cnn" in commands
    assert "nncli grad-trace --compare rnn,gru-lite --steps 100 --hidden 32" in commands
    # the training substitution
    assert _runnable("nncli train --resume runs/cnn --epochs 20") == \
        "nncli train --resume runs/cnn --epochs 2"
    assert _runnable("nncli train configs/bars_cnn.yaml --out runs/bars > /dev/null") == \
        "nncli train configs/bars_cnn.yaml --out runs/bars --epochs 1 > /dev/null"


MARKS = {"torch": pytest.mark.torch, "onnx": pytest.mark.onnx,
         "onnxruntime": pytest.mark.onnx, "matplotlib": pytest.mark.report}


def _marks(command: str) -> list:
    modules = {module for piece, module in NEEDS if piece in command}
    if command.startswith("torchrun "):
        modules.add("torch")
    return [MARKS[m] for m in sorted(modules) if m in MARKS]


@pytest.mark.parametrize(("command", "shown"), [
    pytest.param(c, s, id=c, marks=_marks(c)) for c, s in EXAMPLES])
def test_example_runs(command, shown, results):
    missing = _missing(command)
    if missing:
        pytest.importorskip(missing, reason=f"'{command}' needs {missing}")
    done = results[command]
    expected = EXIT_CODES.get(command, 0)
    assert done.returncode == expected, f"{_runnable(command)}\n{done.stdout}\n{done.stderr}"
    if command in FIRST_LINE_CHECKED:
        assert shown, f"README shows no output for '{command}'"
        assert shown in done.stdout + done.stderr, f"{shown!r} not in\n{done.stdout}"
