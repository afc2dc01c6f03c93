"""Every command has help with a one-line summary and at least one worked example."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from nncli.cli import app

COMMANDS = sorted(typer.main.get_command(app).commands)


def test_the_root_help_lists_every_command():
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.stdout


@pytest.mark.parametrize("name", COMMANDS)
def test_command_help_has_a_summary_and_an_example(name):
    result = CliRunner().invoke(app, [name, "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    usage_lines = [line for line in result.stdout.splitlines() if f"nncli {name}" in line]
    assert len(usage_lines) >= 2, f"'nncli {name} --help' shows no example"
    summary = typer.main.get_command(app).commands[name].help or ""
    assert summary.strip().splitlines()[0].strip(), f"{name} has no one-line summary"
