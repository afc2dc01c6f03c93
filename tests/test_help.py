"""Every command has help with a one-line summary and at least one worked example."""

from __future__ import annotations

import re

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


# --------------------------------------------------------------------------- 80 columns

def _help_at_80(args: list[str]) -> list[str]:
    result = CliRunner().invoke(app, [*args, "--help"],
                                env={"COLUMNS": "80", "NO_COLOR": "1", "TERM": "dumb"})
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def _examples(name: str) -> list[str]:
    """The command lines a help text shows: lines that start with nncli or torchrun."""
    text = typer.main.get_command(app).commands[name].help or ""
    return [line.strip() for line in text.splitlines()
            if line.strip().startswith(("nncli ", "torchrun "))]


@pytest.mark.parametrize("name", ["(root)", *COMMANDS])
def test_help_reads_cleanly_at_80_columns(name):
    lines = _help_at_80([] if name == "(root)" else [name])
    text = "\n".join(lines)
    assert max(len(line) for line in lines) <= 80, text
    # no typer type labels beside flags, no braces or doubled brackets in the usage line
    assert not re.search(r"<(bool|str|int|float|path|file|list\[[^>]*\])>", text), text
    usage = next(line for line in lines if "Usage:" in line)
    assert "{" not in usage and "[[" not in usage and "]]" not in usage, usage
    # every example on one line of its own, unbroken, indented under the Examples heading
    examples = _examples(name) if name != "(root)" else []
    trimmed = [line.rstrip() for line in lines]
    for example in examples:
        assert f"   {example}" in trimmed, f"'{example}' is broken or missing in\n{text}"
    assert not examples or " Examples" in trimmed, text
    # prose is wrapped once: inside a paragraph, no line ends far before the width
    description = lines[lines.index(next(x for x in lines if "Usage:" in x)) + 1:]
    description = description[:next((i for i, x in enumerate(description)
                                     if x.startswith("╭")), len(description))]
    for line, after in zip(description, description[1:], strict=False):
        prose = line.startswith(" ") and not line.startswith("  ") and line.strip()
        continued = after.startswith(" ") and not after.startswith("  ") and after.strip()
        if prose and continued:
            assert len(line.rstrip()) >= 55, f"dangling line '{line.strip()}' in\n{text}"


def test_help_shows_markup_like_text_as_written():
    """'nncli[torch]' is text, not a style tag rich would drop."""
    text = "\n".join(_help_at_80(["train"]))
    assert "nncli[torch]" in text.replace("\n", " ").replace("│", "").replace(" ", "")
