"""nncli works outside a checkout: shipped files are package data, configs resolve by name.

The wheel itself is built and installed into a fresh venv by .ci/run; these tests check the
pieces that make that work, in-process.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from nncli import resources

ROOT = Path(__file__).resolve().parent.parent

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - python 3.10
    tomllib = pytest.importorskip("tomli")


def _setuptools_table() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_package_of_the_source_tree_is_listed_for_the_wheel():
    # pyproject lists packages by hand (the shipped folders are mapped in); a package
    # missing from the list would be missing from the wheel though the checkout works.
    listed = set(_setuptools_table()["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts)
             for p in (ROOT / "nncli").rglob("__init__.py") if "__pycache__" not in p.parts}
    assert found - listed == set(), f"add to pyproject.toml packages: {sorted(found - listed)}"


def test_the_shipped_folders_are_mapped_into_the_package_with_their_files():
    table = _setuptools_table()
    mapped = table["package-dir"]
    assert mapped["nncli.shipped.data"] == "data"
    assert mapped["nncli.shipped.configs"] == "configs"
    patterns = table["package-data"]
    for package, folder in (("nncli.shipped.data", "data"), ("nncli.shipped.configs",
                                                             "configs")):
        shipped = {p for pattern in patterns[package] for p in (ROOT / folder).glob(pattern)}
        for needed in (ROOT / folder).iterdir():       # all but the generating scripts
            if needed.is_file() and needed.suffix != ".py":
                assert needed in shipped, f"{needed.name} would not be in the wheel: add " \
                                          f"its pattern to {package} in pyproject.toml"


def test_data_files_are_found_through_the_package():
    for name in ("digits.npz", "sonnets.txt", "agreement.txt"):
        path = resources.data_file(name)
        assert path.is_file(), path
        assert path.read_bytes() == (ROOT / "data" / name).read_bytes()


def test_builtin_configs_by_name_with_or_without_suffix():
    path = resources.builtin_config("digits_cnn")
    assert path is not None and path.name == "digits_cnn.yaml"
    assert resources.builtin_config("digits_cnn.yaml") == path
    assert resources.builtin_config("digitz_cnn") is None
    assert resources.builtin_config("../configs/digits_cnn") is None
    assert resources.builtin_config("") is None


def test_every_builtin_config_has_a_one_line_description():
    listed = resources.builtin_configs()
    assert [name for name, _, _ in listed] == sorted(p.stem for p in (ROOT / "configs")
                                                     .glob("*.yaml"))
    for name, path, description in listed:
        assert path.is_file()
        assert description and "\n" not in description and len(description) < 120, name


def test_describe_takes_the_first_clause_of_the_leading_comment():
    text = ("# The adding problem (Le et al. 2015) with a simple RNN. Each of the 50\n"
            "# steps carries a value\nname: x\n")
    assert resources.describe(text) == "The adding problem (Le et al. 2015) with a simple RNN"
    assert resources.describe("# A CNN: conv, pool\n") == "A CNN"
    assert resources.describe("#   nncli train x.yaml\n# Line two\n") == "Line two"
    assert resources.describe("name: x\n# late comment\n") == ""


# --------------------------------------------------------------------------- the commands

def invoke(*args, **env):
    from typer.testing import CliRunner

    from nncli.cli import app

    return CliRunner().invoke(app, [str(a) for a in args],
                              env={"COLUMNS": "80", "NO_COLOR": "1", **env})


def error_line(result) -> str:
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0][len("error: "):]


def test_version():
    from nncli import __version__

    result = invoke("--version")
    assert result.exit_code == 0 and result.stdout == f"nncli {__version__}\n"
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "dynamic"]["version"]
    assert version == {"attr": "nncli.__version__"}        # one place holds the version


def test_builtin_configs_work_by_name_from_another_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    summary = invoke("summary", "digits_cnn", "--json")
    assert summary.exit_code == 0 and '"name": "digits-cnn"' in summary.stdout
    forward = invoke("forward", "seed_conv.yaml", "--input", ROOT / "configs" /
                     "seed_conv_A.txt", "--json")
    assert forward.exit_code == 0, forward.stderr
    run = tmp_path / "run"
    train = invoke("train", "bars_cnn", "--epochs", 1, "--out", run, "--json")
    assert train.exit_code == 0, train.stderr
    assert (run / "config.yaml").is_file() and (run / "best.npz").is_file()
    evaluated = invoke("eval", "bars_cnn", "-w", run / "best.npz", "--json")
    assert evaluated.exit_code == 0, evaluated.stderr
    assert invoke("check", "bars_cnn").exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_path_that_exists_wins_over_a_builtin_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "digits_cnn").mkdir()               # a folder named like a built-in config
    line = error_line(invoke("summary", "digits_cnn"))
    assert "digits_cnn" in line and "config.yaml" in line
    (tmp_path / "seed_rnn.yaml").write_text((ROOT / "configs" / "seed_rnn.yaml").read_text()
                                            .replace("name: seed-rnn", "name: my-rnn"))
    mine = invoke("summary", "seed_rnn.yaml", "--json")
    assert mine.exit_code == 0 and '"name": "my-rnn"' in mine.stdout
    builtin = invoke("summary", "seed_rnn", "--json")
    assert builtin.exit_code == 0 and '"name": "seed-rnn"' in builtin.stdout


def test_an_unknown_config_lists_the_builtins_with_a_suggestion(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for command in (["summary"], ["train"], ["check"], ["forward", "--input", "1"],
                    ["eval"], ["gradcheck"]):
        line = error_line(invoke(*command[:1], "configs/digitz_cnn.yaml", *command[1:]))
        assert line.startswith("CONFIG: 'configs/digitz_cnn.yaml' not found; pass a spec "
                               "YAML, a run folder or the name of a built-in config (did "
                               "you mean 'digits_cnn'?): "), (command, line)
        assert "seed_rnn" in line and line.endswith("(nncli examples)")


def test_examples_lists_every_config_at_80_columns():
    result = invoke("examples")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines)
    for name, _, description in resources.builtin_configs():
        row = next(line for line in lines if line.startswith(name + " "))
        assert description.split()[0] in row
    assert "nncli train digits_cnn" in result.stdout


def test_examples_copy_writes_editable_configs_and_never_overwrites(tmp_path):
    folder = tmp_path / "mine"
    result = invoke("examples", "--copy", folder)
    assert result.exit_code == 0, result.stderr
    shipped = sorted(p.name for p in (ROOT / "configs").iterdir()
                     if p.suffix in (".yaml", ".txt"))
    assert sorted(p.name for p in folder.iterdir()) == shipped
    assert (folder / "digits_cnn.yaml").read_bytes() == (ROOT / "configs" /
                                                         "digits_cnn.yaml").read_bytes()
    assert invoke("check", folder / "digits_cnn.yaml").exit_code == 0
    # a second copy into the same folder: refused, nothing touched
    (folder / "digits_cnn.yaml").write_text("# edited\n")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    line = error_line(invoke("examples", "--copy", folder))
    assert line.startswith("--copy: '") and "already exists (and " in line
    assert "nncli never overwrites" in line
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    # one taken file among several: still nothing written
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "seed_conv_K.txt").write_text("mine")
    line = error_line(invoke("examples", "seed_conv", "--copy", partial))
    assert line.startswith(f"--copy: '{partial / 'seed_conv_K.txt'}' already exists;")
    assert [p.name for p in partial.iterdir()] == ["seed_conv_K.txt"]


def test_examples_names_and_errors(tmp_path):
    result = invoke("examples", "seed_rnn", "--copy", tmp_path / "one")
    assert result.exit_code == 0
    assert [p.name for p in (tmp_path / "one").iterdir()] == ["seed_rnn.yaml"]
    assert error_line(invoke("examples", "digits_cnx")).startswith(
        "NAME: no example config 'digits_cnx' (did you mean 'digits_cnn'?)")
    (tmp_path / "file").write_text("")
    assert error_line(invoke("examples", "--copy", tmp_path / "file")).startswith(
        "--copy: '")


def test_check_reports_ok_or_the_first_problem(tmp_path):
    ok = invoke("check", "digits_cnn")
    assert ok.exit_code == 0 and ok.stdout.startswith("ok: digits-cnn (digits_cnn.yaml) is "
                                                      "ready to train")
    assert "data   digits:" in ok.stdout and "train  " in ok.stdout
    assert all(len(line) <= 80 for line in ok.stdout.splitlines())
    model_only = invoke("check", "seed_rnn")
    assert model_only.exit_code == 0 and "not for train" in model_only.stdout
    spec = tmp_path / "bad.yaml"
    text = (ROOT / "configs" / "digits_cnn.yaml").read_text()
    spec.write_text(text.replace("data: digits", "data: digitz"))
    line = error_line(invoke("check", spec))
    assert line.startswith("bad.yaml:") and "unknown dataset 'digitz'" in line
    spec.write_text(text + "\ntrain: {lr: -1}\n" if "train:" not in text else
                    text.replace("train:", "train:\n  lr: -1\n  _x:", 1))
    assert "lr" in error_line(invoke("check", spec))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]


def test_completion_offers_builtin_names_paths_layers_and_set_paths(tmp_path, monkeypatch):
    from nncli.commands.options import complete_config, complete_layer, complete_set

    names = [name for name, _ in complete_config("digits_")]
    assert names == sorted(p.stem for p in (ROOT / "configs").glob("digits_*.yaml"))
    assert "digits_cnn" in names
    monkeypatch.chdir(tmp_path)
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "a.yaml").write_text("")
    (tmp_path / "specs" / "notes.txt").write_text("")
    assert [p for p, _ in complete_config("sp")] == ["specs/"]
    assert [p for p, _ in complete_config("specs/")] == ["specs/a.yaml"]
    assert ("gru-lite", "") not in complete_layer("gru")
    assert "gru-lite" in [kind for kind, _ in complete_layer("gru")]
    assert complete_set("train.l") == ["train.lr="]


def test_shell_completion_runs_through_the_app(tmp_path, monkeypatch):
    import subprocess
    import sys

    env = {**os.environ, "_NNCLI_COMPLETE": "complete_bash", "COMP_WORDS": "nncli train dig",
           "COMP_CWORD": "2"}
    script = "from nncli.cli import app; app(prog_name='nncli')"
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, cwd=tmp_path, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == sorted(p.stem for p in (ROOT / "configs").glob("dig*.yaml"))
    shown = invoke("--show-completion", "bash", SHELL="/bin/bash")
    assert shown.exit_code == 0 and "_NNCLI_COMPLETE" in shown.stdout


def build_kernels(tmp_path: Path, compiler: str | None) -> tuple[int, list[Path]]:
    """`setup.py build_ext` into tmp_path (the step pip runs at install), with the given C
    compiler (None: the machine's): its exit code and the extension modules it built."""
    import subprocess

    env = {**os.environ, **({"CC": compiler} if compiler else {})}
    done = subprocess.run(
        [sys.executable, "setup.py", "-q", "build_ext", "--build-lib", str(tmp_path / "lib"),
         "--build-temp", str(tmp_path / "tmp")],
        cwd=ROOT, env=env, capture_output=True, text=True)
    return done.returncode, list((tmp_path / "lib").rglob("_kernels*"))


def test_an_install_without_a_c_compiler_goes_on_without_the_kernels(tmp_path):
    """pipx on a machine without a compiler: nncli installs, and numpy computes the kernels'
    formulas (tests/test_kernels.py checks that path)."""
    code, built = build_kernels(tmp_path, "/bin/false")
    assert code == 0 and built == []


@pytest.mark.skipif(not any(Path(d, "cc").exists() for d in os.get_exec_path()),
                    reason="no C compiler (cc) on this machine")
def test_with_a_c_compiler_the_kernels_are_built(tmp_path):
    code, built = build_kernels(tmp_path, None)
    assert code == 0 and [p.name.split(".")[0] for p in built] == ["_kernels"]
