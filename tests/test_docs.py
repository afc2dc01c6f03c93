"""Every command in docs/course-examples.md runs, and prints the numbers the text quotes.

The commands run through the installed entry point in a shell, from a temporary folder
(so `--out runs/...` writes nothing into the repository), with the repository's configs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "course-examples.md"

# Numbers the text states, which the command's output must show.
EXPECTED = {
    "nncli conv configs/seed_conv_A.txt configs/seed_conv_K.txt --explain 0,0":
        ["1(1) + 1(1) + 0(-1) + 0(-1) = 2"],
    "nncli softmax \"2 1 0.1\"": ["0.659", "0.2424", "0.09857"],
    "nncli forward configs/seed_rnn.yaml --input \"1; 2\"": ["0.4621", "0.2975"],
    "nncli backward configs/seed_rnn.yaml --input \"1; 2\" --target \"0.5; -0.25\"":
        ["0.8941527459", "3.86205635", "1.423823571", "0.8949972723"],
    "nncli grad-trace configs/seed_rnn.yaml --input \"1; 2\" --target \"0.5; -0.25\"":
        ["3.8620563504", "1.4238235714"],
    "nncli grad-trace configs/seed_gru_lite.yaml --input \"1; 2\" --target \"0.5; -0.25\" "
    "--gate 1": ["3.8620563504", "1.4238235714"],
}


def doc_commands() -> list[str]:
    blocks = re.findall(r"^```\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.M | re.S)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def test_the_doc_has_commands():
    commands = doc_commands()
    assert len(commands) >= 10
    assert set(EXPECTED) <= set(commands), set(EXPECTED) - set(commands)


def test_doc_commands_run(tmp_path):
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1",
           "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    (tmp_path / "configs").symlink_to(ROOT / "configs")
    for command in doc_commands():
        if not command.startswith("nncli "):
            pytest.fail(f"not an nncli command: {command}")
        done = subprocess.run(command, shell=True, cwd=tmp_path, env=env, text=True,
                              capture_output=True, timeout=300)
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        for expected in EXPECTED.get(command, []):
            assert expected in done.stdout, f"{command}: {expected!r} not in\n{done.stdout}"
