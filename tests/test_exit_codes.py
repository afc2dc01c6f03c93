"""Exit codes, for every command: 0 ok, 1 a run that failed, 2 bad input or usage,
130 interrupted, 70 an internal error (a bug: one line, never a traceback without --debug).
The README's table says the same."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import specs
import typer.main
from typer.testing import CliRunner

from nncli.cli import app

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
A, K = CONFIGS / "seed_conv_A.txt", CONFIGS / "seed_conv_K.txt"
RNN = CONFIGS / "seed_rnn.yaml"
runner = CliRunner()

LINE = """name: line
input: [2]
layers: [{dense: {units: 1}}]
loss: mse
data: {path: line.csv, split: [0.5, 0.5, 0], task: regression}
train: {epochs: 1, batch_size: 4, lr: 0.01}
"""


@pytest.fixture(scope="module")
def paths(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("exit")
    (root / "sine.yaml").write_text(specs.sine(epochs=1, lr=0.05))
    (root / "diverge.yaml").write_text(specs.sine(epochs=1, lr="1.0e+300"))
    (root / "line.yaml").write_text(LINE)
    (root / "valdiv.yaml").write_text(LINE.replace("lr: 0.01", "lr: 1.0e+300"))
    (root / "line.csv").write_text("".join(f"{i},{i % 3},{i + 1}\n" for i in range(8)))
    (root / "agree.yaml").write_text(specs.agree(cell="rnn", train=100, held_out=10))
    (root / "bad.yaml").write_text("input: [4]\nlayers: [{dense: {units: 0}}]\n")
    (root / "exists.npz").write_bytes(b"")
    (root / "huge.yaml").write_text(HUGE)        # a forward pass that overflows
    for name in ("sine", "agree", "line"):
        result = runner.invoke(app, ["train", str(root / f"{name}.yaml"), "--out",
                                     str(root / name)])
        assert result.exit_code == 0, result.stderr
    return {"root": root, "sine": root / "sine", "agree": root / "agree", "line": root / "line",
            "bad": root / "bad.yaml", "diverge": root / "diverge.yaml",
            "exists": root / "exists.npz"}


HUGE = "input: [2]\nlayers: [{dense: {units: 1, params: {weight: [[1.0e+308, 1.0e+308]]}}}]\n"
HAS_TORCH = importlib.util.find_spec("torch") is not None    # export --check runs in torch

# (command, expected exit code, arguments); {name} is replaced by the fixture's paths.
CASES = [
    ("conv", 0, ["conv", A, K]),
    ("conv", 2, ["conv", A, "1 2; 3"]),
    ("conv", 2, ["conv", A, K, "--stride", "0"]),
    ("conv", 2, ["conv", A]),                                       # usage: missing KERNEL
    ("pool", 0, ["pool", A, "--size", "2"]),
    ("pool", 2, ["pool", A, "--mode", "median"]),
    ("pool", 2, ["pool", "1e308 1e308", "--size", "1", "--mode", "avg", "--stride", "x"]),
    ("softmax", 0, ["softmax", "1 2 3"]),
    ("softmax", 2, ["softmax", "1 2 3", "--temperature", "0"]),
    ("summary", 0, ["summary", RNN]),
    ("summary", 2, ["summary", "{bad}"]),
    ("summary", 2, ["summary", "{root}/missing.yaml"]),
    ("forward", 0, ["forward", RNN, "--input", "1; 2"]),
    ("forward", 2, ["forward", RNN, "--input", "1 2 3"]),
    ("forward", 1, ["forward", "{line}/config.yaml", "--weights", "{line}/last.npz",
                    "--input", "1e308 1e308", "--json"]),                # overflows
    ("backward", 0, ["backward", RNN, "--input", "1; 2", "--target", "0.5; -0.25"]),
    ("backward", 2, ["backward", RNN, "--input", "1; 2", "--target", "1 2 3"]),
    ("backward", 1, ["backward", RNN, "--input", "1; 2", "--target", "1e308; 1e308",
                     "--json"]),
    ("gradcheck", 0, ["gradcheck", RNN]),
    ("gradcheck", 2, ["gradcheck", RNN, "--eps", "-1"]),
    ("gradcheck", 1, ["gradcheck", CONFIGS / "digits_mlp.yaml", "--tol", "1e-300",
                      "--max-entries", "2"]),
    ("init", 0, ["init", RNN, "-o", "{root}/w0.npz"]),
    ("init", 2, ["init", RNN, "-o", "{exists}"]),                    # never overwrites
    ("init", 0, ["init", RNN, "-o", "{exists}", "--force"]),
    ("grad-trace", 0, ["grad-trace", "--steps", "4", "--hidden", "2"]),
    ("grad-trace", 2, ["grad-trace", "--cell", "nope"]),
    ("grad-trace", 1, ["grad-trace", RNN, "--input", "1; 2", "--target", "1e308; 1e308"]),
    ("train", 0, ["train", "{root}/sine.yaml", "--out", "{root}/run0"]),
    ("train", 2, ["train", "{root}/sine.yaml", "--out", "{sine}"]),   # never clobbers a run
    ("train", 2, ["train", "{bad}", "--out", "{root}/run2"]),
    ("train", 1, ["train", "{diverge}", "--out", "{root}/run1"]),
    ("train", 2, ["train", "{root}/sine.yaml", "--out", "{root}/run5", "--engine", "jax"]),
    ("train", 2, ["train", "{root}/sine.yaml", "--out", "{root}/run6", "--device", "cuda"]),
    ("train", 1, ["train", "{root}/valdiv.yaml", "--out", "{root}/run3", "--json"]),  # val
    ("eval", 0, ["eval", "{sine}"]),
    ("eval", 2, ["eval", "{sine}", "--split", "dev"]),
    ("predict", 0, ["predict", "{sine}", "--input", "1; 2; 3; 4; 5; 6"]),
    ("predict", 2, ["predict", "{sine}", "--input", "1 2"]),
    # {line} computes in float32 (its train.dtype): inputs within float32's range that
    # overflow in its dense layer.
    ("predict", 1, ["predict", "{line}", "--input", "3e38 -3e38; 3e38 3e38", "--json"]),
    ("complete", 0, ["complete", "{agree}", "--prompt", "the", "-n", "2"]),
    ("complete", 2, ["complete", "{agree}", "--prompt", "zebra"]),
    ("agreement", 0, ["agreement", "{agree}", "--pairs", "2", "--max-modifiers", "1"]),
    ("agreement", 2, ["agreement", "{sine}"]),
    ("schema", 0, ["schema", "conv"]),
    ("schema", 2, ["schema", "nope"]),
    ("layers", 0, ["layers", "conv"]),
    ("layers", 2, ["layers", "cnov", "--json"]),
    ("examples", 0, ["examples"]),
    ("examples", 0, ["examples", "seed_rnn", "--copy", "{root}/copies"]),
    ("examples", 2, ["examples", "--copy", "{exists}"]),             # a file, not a folder
    ("examples", 2, ["examples", "nope"]),
    ("check", 0, ["check", "{root}/sine.yaml", "--json"]),
    ("check", 2, ["check", "{root}/sine.yaml", "--set", "train.lr=0", "--json"]),
    ("check", 2, ["check", "{bad}"]),
    ("runs", 0, ["runs", "{root}"]),
    ("runs", 2, ["runs", "{root}/missing"]),
    ("compare", 0, ["compare", "{sine}", "{line}"]),
    ("compare", 2, ["compare", "{sine}"]),
    ("report", 0, ["report", "{sine}", "-o", "{root}/sine-report.html"]),
    ("report", 2, ["report", "{root}"]),                              # not a run folder
    ("weights", 0, ["weights", "{sine}"]),
    ("weights", 2, ["weights", "{sine}", "--layer", "9"]),
    ("data", 0, ["data", "digits", "--sample", "3"]),
    ("data", 2, ["data", "digits", "--sample", "100000"]),
    ("export", 0, ["export", RNN, "--to", "safetensors", "-o", "{root}/w.safetensors"]),
    ("export", 2, ["export", RNN, "--to", "toch", "-o", "{root}/x"]),
    ("export", 2, ["export", "{sine}", "--to", "torch", "-o", "{exists}"]),  # a file
    *([("export", 1, ["export", "{root}/huge.yaml", "--to", "torch", "-o", "{root}/huge",
                      "--check"])] if HAS_TORCH else []),                # overflows
]


def _fill(args: list, paths: dict[str, Path]) -> list[str]:
    out = []
    for a in args:
        text = str(a)
        for key, value in paths.items():
            text = text.replace("{" + key + "}", str(value))
        out.append(text)
    return out


@pytest.mark.parametrize(("command", "code", "args"), CASES,
                         ids=[f"{c}-{n}-{i}" for i, (c, n, _) in enumerate(CASES)])
def test_exit_code(paths, command, code, args):
    if (command, code) == ("report", 0):
        pytest.importorskip("matplotlib", reason='nncli report needs "nncli[report]"')
    result = runner.invoke(app, _fill(args, paths))
    assert result.exit_code == code, (result.stdout[-500:], result.stderr[-500:])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.stderr
    if code in (1, 2) and "Usage:" not in result.stderr:
        assert result.stderr.splitlines()[-1].startswith("error: ")
    if code != 0 and "--json" in args:
        assert result.stdout == ""


def test_every_command_has_its_exit_codes_tested():
    commands = set(typer.main.get_command(app).commands)
    tested = {(c, n) for c, n, _ in CASES}
    for command in commands:
        assert (command, 0) in tested and (command, 2) in tested, command
    can_fail = {"forward", "backward", "gradcheck", "grad-trace", "train", "predict",
                *(["export"] if HAS_TORCH else [])}
    assert {c for c, n in tested if n == 1} == can_fail


def test_usage_errors_exit_2():
    for args in ([], ["bogus"], ["conv"], ["conv", "1", "1", "--stride", "x"],
                 ["pool", "1", "--size", str(2**64)], ["train", "--epochs"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, args
        assert "Traceback" not in result.stderr


def test_interrupted_exits_130(monkeypatch):
    from nncli import spec

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(spec, "load_spec", interrupted)
    result = runner.invoke(app, ["summary", str(RNN)])
    assert result.exit_code == 130 and result.stderr.strip() == "error: interrupted"


def test_an_internal_error_is_one_line_with_exit_70(monkeypatch):
    from nncli import io

    def bug(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(io, "read_array", bug)
    result = runner.invoke(app, ["forward", str(RNN), "--input", "1; 2"])
    assert result.exit_code == 70
    line = result.stderr.strip()
    assert line.startswith("error: internal error (ZeroDivisionError: division by zero)")
    assert "--debug" in line and "\n" not in line and "Traceback" not in line
    debug = runner.invoke(app, ["--debug", "forward", str(RNN), "--input", "1; 2"])
    assert isinstance(debug.exception, ZeroDivisionError)     # --debug: the real traceback


def test_a_file_the_system_refuses_is_an_input_error(tmp_path, monkeypatch):
    import tempfile

    def refuse(*args, **kwargs):   # what a read-only folder does (root would not be refused)
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    result = runner.invoke(app, ["init", str(RNN), "-o", str(tmp_path / "w.npz")])
    assert result.exit_code == 2 and "Permission denied" in result.stderr
    assert not (tmp_path / "w.npz").exists()


def test_a_run_folder_that_cannot_be_created_is_an_input_error(paths):
    result = runner.invoke(app, ["train", str(paths["root"] / "sine.yaml"), "--out",
                                 "/proc/no/such/run"])
    assert result.exit_code == 2 and result.stderr.startswith("error: ")


def entry_point(*args, code: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1"}
    if code is None:
        local = Path(sys.executable).parent / "nncli"
        cmd = [str(local)] if local.exists() else [sys.executable, "-m", "nncli"]
    else:
        cmd = [sys.executable, "-c", code]
    return subprocess.run([*cmd, *map(str, args)], capture_output=True, text=True, env=env,
                          timeout=60)


def test_exit_codes_through_the_installed_entry_point(tmp_path):
    assert entry_point("conv", A, K).returncode == 0
    bad = entry_point("conv", A, "1 2; 3")
    assert bad.returncode == 2 and bad.stderr.startswith("error: KERNEL:")
    failed = entry_point("gradcheck", CONFIGS / "digits_mlp.yaml", "--tol", "1e-300",
                         "--max-entries", "1")
    assert failed.returncode == 1 and "gradient check failed" in failed.stderr
    bug = entry_point("softmax", "1 2", code="import sys, nncli.ops as o; "
                      "o.softmax = lambda *a, **k: 1 / 0; "
                      "sys.argv[0] = 'nncli'; from nncli.cli import main; main()")
    assert bug.returncode == 70 and "internal error (ZeroDivisionError" in bug.stderr
    assert "Traceback" not in bug.stderr


def test_a_closed_pipe_is_quiet():
    """stdout closed early (`nncli ... --json | head -c 1`): no traceback, exit 1."""
    result = entry_point("softmax", "1 2", "--json", code=(
        "import errno, sys, nncli.output as output\n"
        "def closed(*a, **k): raise BrokenPipeError(errno.EPIPE, 'Broken pipe')\n"
        "output.write_json = closed\n"
        "from nncli.cli import main; main()"))
    assert result.returncode == 1 and result.stderr == ""


def test_the_readme_documents_the_exit_codes():
    readme = (ROOT / "README.md").read_text()
    for code in (0, 1, 2, 70, 130):
        assert f"\n| {code} | " in readme, code
