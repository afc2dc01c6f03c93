"""The command line a class can live in: usage errors as one line with the fix, options
parsed as options wherever they appear (negative numbers stay values), and the wording of
counts and closing lines."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from nncli.cli import app

runner = CliRunner()
ENV = {"COLUMNS": "80", "NO_COLOR": "1", "TERM": "dumb"}


def run(*args, env=None):
    return runner.invoke(app, [str(a) for a in args], env={**ENV, **(env or {})})


def one_error_line(result) -> str:
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in result.stderr
    return lines[0].removeprefix("error: ")


# --------------------------------------------------------------------------- usage errors

@pytest.mark.parametrize("args, expected", [
    (["eval", "configs/digits_mlp.yaml", "--lr", "0.5"],
     "No such option: --lr for 'nncli eval'; 'nncli eval --help' lists the options"),
    (["train", "digits_mlp", "--epoch", "3"],
     "No such option: --epoch for 'nncli train'; did you mean --epochs?"),
    (["--bogus"], "No such option: --bogus for 'nncli'; 'nncli --help' lists the options"),
    (["trian"], "No such command: 'trian'; did you mean 'train'?"),
    (["conv", "1"], "Missing argument 'KERNEL'; usage: nncli conv [OPTIONS] INPUT KERNEL"),
    (["softmax"], "Missing argument 'VALUES'; usage: nncli softmax [OPTIONS] VALUES..."),
    (["train", "--epochs"], "--epochs: requires an argument; see 'nncli train --help'"),
    (["softmax", "1", "--temperature", "abc"],
     "Invalid value for '--temperature' / '-t': 'abc' is not a valid number. See 'nncli "
     "softmax --help'"),
    (["conv", "1", "1", "3"],
     "nncli conv: Got unexpected extra argument(s) (3); see 'nncli conv --help'"),
])
def test_usage_errors_are_one_line_with_the_fix(args, expected):
    result = run(*args)
    line = one_error_line(result)
    assert line == expected
    assert "Possible options" not in line and "╭" not in result.stderr
    assert result.stdout == ""


def test_no_arguments_still_prints_the_help():
    result = run()
    assert result.exit_code == 2 and "Usage: nncli [OPTIONS] COMMAND" in result.output


# --------------------------------------------------------------------------- options anywhere

def _probabilities(result) -> list[str]:
    assert result.exit_code == 0, result.stderr
    return [line.split()[3] for line in result.stdout.splitlines()
            if line[:1].isdigit() and len(line.split()) >= 4]


def test_softmax_reads_options_wherever_they_appear():
    expected = _probabilities(run("softmax", "1", "2", "3", "--temperature", "2"))
    assert expected == ["0.1863", "0.3072", "0.5065"]
    assert _probabilities(run("softmax", "1", "2", "3", "-t", "2")) == expected
    assert _probabilities(run("softmax", "-t", "2", "1", "2", "3")) == expected
    # negative numbers are values, before and after options
    negative = _probabilities(run("softmax", "-1", "0", "1", "-t", "0.5"))
    assert negative == _probabilities(run("softmax", "-t", "0.5", "-1", "0", "1"))
    assert negative == ["0.01588", "0.1173", "0.8668"]
    assert _probabilities(run("softmax", "-1.5", "-.5", "-1e0")) == ["0.1863", "0.5065",
                                                                      "0.3072"]
    assert one_error_line(run("softmax", "1", "2", "-z")).startswith(
        "VALUES: unknown option '-z'")


def test_conv_and_pool_take_negative_matrices_and_refuse_unknown_options():
    assert json.loads(run("conv", "-1 1; 1 -1", "1 -1; -1 1", "--json").stdout)["output"] \
        == [[-4]]
    assert json.loads(run("pool", "-1 2; 3 -4", "--size", "2", "--json").stdout)["output"] \
        == [[3]]
    assert one_error_line(run("conv", "1", "1", "--strid", "2")) == (
        "No such option: --strid for 'nncli conv'; did you mean --stride?")
