"""nncli runs [DIR] and nncli compare RUN RUN ...: run folders made here, in the test.

The folder holds a finished run, a run stopped after 1 of 3 epochs, a run killed with
SIGKILL while training, a run interrupted mid-epoch (Ctrl-C's path: the trainer saves its
position inside the epoch), a folder that is not a run, a hand-written config.yaml, a
hidden folder and a file. Each run's row is checked against its own files.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest
import specs
from typer.testing import CliRunner

from nncli.cli import app
from nncli.commands.schema import load_schema

runner = CliRunner()
ANSI = re.compile(r"\x1b\[")


def invoke(*args, width: int = 80):
    return runner.invoke(app, [str(a) for a in args],
                         env={"COLUMNS": str(width), "NO_COLOR": "1"})


def train(root: Path, name: str, *extra, **spec) -> Path:
    (root / f"{name}.yaml").write_text(specs.sine(**spec))
    result = invoke("train", root / f"{name}.yaml", "--out", root / "runs" / name, *extra)
    assert result.exit_code == 0, result.stderr
    return root / "runs" / name


def killed_run(root: Path) -> Path:
    """A run SIGKILLed while training, once its first epoch is written."""
    (root / "long.yaml").write_text(specs.sine(train=2000, epochs=500, lr=0.02, clip=1.0))
    out = root / "runs" / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "nncli", "train", str(root / "long.yaml"),
                             "--out", str(out)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    metrics = out / "metrics.jsonl"
    while not (metrics.is_file() and metrics.read_text().count("\n") >= 1):
        assert proc.poll() is None and time.monotonic() < deadline, "training did not start"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return out


def interrupted_run(root: Path) -> Path:
    """A run stopped inside its second epoch the way Ctrl-C stops it."""
    from nncli import train as core

    (root / "stop.yaml").write_text(specs.sine(epochs=3))
    trainer = core.new_run(root / "stop.yaml", root / "runs" / "interrupted")
    for event in trainer.run():
        if isinstance(event, core.BatchDone) and (event.epoch, event.batch) == (2, 2):
            trainer.request_stop()
        if isinstance(event, core.Interrupted):
            break
    return trainer.run_dir


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    found = {"finished": train(root, "finished"),
             "partial": train(root, "partial", "--epochs", "1", epochs=3, lr=0.1),
             "interrupted": interrupted_run(root), "killed": killed_run(root)}
    (root / "runs" / "notes").mkdir()
    (root / "runs" / "notes" / "ideas.txt").write_text("try adam\n")
    (root / "runs" / "handmade").mkdir()
    (root / "runs" / "handmade" / "config.yaml").write_text(specs.sine())
    (root / "runs" / ".hidden").mkdir()
    (root / "runs" / "readme.txt").write_text("runs of the afternoon\n")
    return {**found, "root": root / "runs"}


def listing(folder) -> dict:
    result = invoke("runs", folder["root"], "--json")
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    jsonschema.Draft202012Validator(load_schema("runs")).validate(payload)
    return payload


def history(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


# --------------------------------------------------------------------------- runs

def test_runs_lists_each_run_with_its_status(folder):
    payload = listing(folder)
    rows = {r["name"]: r for r in payload["runs"]}
    assert set(rows) == {"finished", "partial", "interrupted", "killed"}
    assert rows["finished"]["status"] == "finished"
    assert (rows["finished"]["epoch"], rows["finished"]["epochs"]) == (2, 2)
    assert rows["partial"]["status"] == "resumable"
    assert (rows["partial"]["epoch"], rows["partial"]["epochs"], rows["partial"]["batch"]) == \
        (1, 3, 0)
    assert rows["interrupted"]["status"] == "resumable"
    assert (rows["interrupted"]["epoch"], rows["interrupted"]["batch"]) == (1, 2)
    killed = rows["killed"]
    assert killed["status"] == "resumable" and killed["epochs"] == 500
    assert 1 <= killed["epoch"] < 500 and killed["epoch"] >= len(history(folder["killed"]))
    skipped = {Path(s["path"]).name: s["reason"] for s in payload["skipped"]}
    assert skipped == {"notes": "no config.yaml",
                       "handmade": "config.yaml was not written by 'nncli train' and there "
                                   "is no last.npz"}


def test_runs_best_epoch_and_differences_come_from_the_files(folder):
    payload = listing(folder)
    for row in payload["runs"]:
        records = history(Path(row["path"]))
        best = min(records, key=lambda m: m["val_loss"])
        assert row["best"]["epoch"] == best["epoch"]
        assert row["best"]["val_loss"] == best["val_loss"]
    rows = {r["name"]: r["differs"] for r in payload["runs"]}
    assert rows["finished"] == {"data.train": 64, "train.epochs": 2, "train.lr": 0.05,
                                "train.clip": None}
    assert rows["partial"] == {"data.train": 64, "train.epochs": 3, "train.lr": 0.1,
                               "train.clip": None}
    assert rows["killed"] == {"data.train": 2000, "train.epochs": 500, "train.lr": 0.02,
                              "train.clip": 1.0}


def test_runs_table_at_80_columns_without_colour(folder):
    result = invoke("runs", folder["root"])
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert not ANSI.search(out)
    # Only a line naming a path of this machine may run longer (a command to copy whole).
    assert all(len(line) <= 80 for line in out.splitlines() if str(folder["root"]) not in line)
    for name in ("finished", "partial", "interrupted", "killed", "train.lr=0.1",
                 "resumable", "mid-epoch", "note: skipped notes/: not a run folder (no "
                 "config.yaml)", "note: skipped handmade/"):
        assert name in out, name
    assert ".hidden" not in out and "readme" not in out


def test_a_run_folder_as_dir_and_a_missing_dir(folder, tmp_path, monkeypatch):
    one = invoke("runs", folder["finished"], "--json")
    assert [r["name"] for r in json.loads(one.stdout)["runs"]] == ["finished"]
    monkeypatch.chdir(tmp_path)
    missing = invoke("runs")
    assert missing.exit_code == 2
    assert missing.stderr.strip() == ("error: DIR: 'runs' is not a folder (train one first: "
                                      "nncli train digits_cnn); pass the folder that holds "
                                      "the run folders")


def test_metrics_behind_the_checkpoint_are_noted_and_read_from_it(folder, tmp_path):
    copy = tmp_path / "lagging"
    shutil.copytree(folder["finished"], copy)
    lines = (copy / "metrics.jsonl").read_text().splitlines(keepends=True)
    (copy / "metrics.jsonl").write_text("".join(lines[:-1]))     # killed between writes
    payload = json.loads(invoke("runs", copy, "--json").stdout)
    row = payload["runs"][0]
    assert row["epoch"] == 2 and row["notes"] == [
        "metrics.jsonl lags behind last.npz (nncli train --resume repairs it); the epochs "
        "shown come from last.npz"]


# --------------------------------------------------------------------------- compare

def test_compare_shows_differences_and_overlaid_curves(folder):
    result = invoke("compare", folder["finished"], folder["partial"], folder["killed"])
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert not ANSI.search(out) and max(map(len, out.splitlines())) <= 80, out
    assert re.search(r"train\.lr\s+0\.05\s+0\.1\s+0\.02", out)
    assert re.search(r"data\.train\s+64\s+64\s+2000", out)
    legend = next(line for line in out.splitlines() if line.startswith("val loss per epoch"))
    assert "● finished" in legend and "◆ partial" in legend and "▲ killed" in legend
    assert "loss" in out and "└" in out


def test_compare_json_holds_each_runs_history(folder):
    result = invoke("compare", folder["finished"], folder["interrupted"], "--json")
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    jsonschema.Draft202012Validator(load_schema("compare")).validate(payload)
    for run in payload["runs"]:
        records = history(Path(run["path"]))
        assert [m["val_loss"] for m in run["history"]] == [m["val_loss"] for m in records]
    assert payload["runs"][1]["differs"] == {"train.epochs": 3}


def test_compare_refuses_bad_input(folder, tmp_path):
    for args, message in (([folder["finished"]], "give at least two run folders"),
                          ([folder["finished"], folder["root"] / "notes"],
                           "is not a run folder (no config.yaml)"),
                          ([folder["finished"]] * 9, "at most 8 runs"),
                          ([folder["finished"], tmp_path / "nope"], "is not a folder")):
        result = invoke("compare", *args)
        assert result.exit_code == 2 and message in result.stderr, result.stderr
        assert result.stderr.startswith("error: RUN: ")


def test_compare_saves_its_picture(folder, tmp_path):
    import xml.etree.ElementTree as ET

    for suffix in ("svg", "html"):
        target = tmp_path / f"compare.{suffix}"
        result = invoke("compare", folder["finished"], folder["partial"], "--save", target)
        assert result.exit_code == 0, result.stderr
    ET.parse(tmp_path / "compare.svg")
    html = (tmp_path / "compare.html").read_text()
    assert "config differences" in html and "val loss per epoch" in html


@pytest.mark.browser
def test_compare_page_opens_in_chromium(folder, tmp_path):
    from chromium import Chromium, colours

    target = tmp_path / "compare.html"
    assert invoke("compare", folder["finished"], folder["partial"], "--save",
                  target).exit_code == 0
    browser = Chromium()
    try:
        browser.open_page(target, 900, 900)
        assert browser.requests() == [] and browser.console_errors() == []
        text = browser.evaluate("document.body.textContent").replace("\xa0", " ")
        assert "train.lr" in text and "● finished" in text
        assert colours(browser.screenshot()) > 3
    finally:
        browser.close()


def test_killed_run_resumes_from_where_runs_says(folder, tmp_path):
    """What runs reports is what train --resume continues from."""
    copy = tmp_path / "killed"
    shutil.copytree(folder["killed"], copy)
    row = json.loads(invoke("runs", copy, "--json").stdout)["runs"][0]
    result = invoke("train", "--resume", copy, "--epochs", str(row["epoch"] + 1), "--json")
    assert result.exit_code == 0, result.stderr
    assert [json.loads(line)["epoch"] for line in result.stdout.splitlines()] == \
        [row["epoch"] + 1]
    assert os.path.exists(copy / "last.npz")


# --------------------------------------------------------------------------- documented

README_SECTION = "### Pictures: a run's report, runs side by side, weights and data"
HELP_EXAMPLES = {"runs": None, "compare": None, "report": None, "weights": None,
                 "data": None, "eval": "--errors", "predict": "--sample"}


def readme_examples() -> list[str]:
    """The `$ nncli ...` lines of the README's pictures section."""
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = text.split(README_SECTION, 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    return [line[2:] for line in section.splitlines() if line.startswith("$ nncli ")]


def help_examples() -> list[str]:
    """The examples in the help of the commands this work added (eval and predict: only
    the lines with the new options)."""
    lines = []
    for command, only in HELP_EXAMPLES.items():
        shown = invoke(command, "--help", width=200).stdout
        for line in shown.splitlines():
            line = line.strip(" │")
            if line.startswith(f"nncli {command} ") and (only is None or only in line):
                lines.append(line)
    return lines


def test_the_readme_and_help_examples_run(tmp_path, monkeypatch):
    """In a folder with runs/cnn and runs/mlp (2 epochs each) and the configs, as the
    README's training section leaves it."""
    import shlex

    pytest.importorskip("matplotlib", reason='the examples include nncli report: pip install '
                        '"nncli[report]"')
    root = Path(__file__).resolve().parent.parent
    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs").symlink_to(root / "configs")
    for name in ("cnn", "mlp"):
        trained = invoke("train", f"configs/digits_{name}.yaml", "--out", f"runs/{name}",
                         "--epochs", "2")
        assert trained.exit_code == 0, trained.stderr
    (tmp_path / "runs" / "notes").mkdir()
    readme, helps = readme_examples(), help_examples()
    assert len(readme) >= 9 and len(helps) >= 12, (readme, helps)
    for line in readme + helps:
        result = runner.invoke(app, shlex.split(line)[1:], env={"COLUMNS": "80"})
        assert result.exit_code == 0, f"{line}\n{result.stderr}"
