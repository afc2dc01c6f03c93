"""nncli works outside a checkout: shipped files are package data, configs resolve by name.

The wheel itself is built and installed into a fresh venv by .ci/run; these tests check the
pieces that make that work, in-process.
"""

from __future__ import annotations

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
        for needed in (ROOT / folder).iterdir():
            if needed.suffix in (".npz", ".txt", ".yaml"):
                assert needed in shipped, f"{needed.name} would not be in the wheel"


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
