"""Files nncli ships: the built-in datasets and the example configs.

The sources are the checkout's top-level `data/` and `configs/` folders. pyproject.toml maps
them onto the packages `nncli.shipped.data` and `nncli.shipped.configs`, so a wheel (or
`pipx install nncli`) carries them inside the package and an editable install finds them in
the checkout; both are found through the import system (importlib). Running from a checkout
that was never installed falls back to the folders themselves.

Pure: no printing, no rich/typer; numpy is not needed either.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parent.parent
CONFIG_SUFFIXES = (".yaml", ".yml")


def _folder(kind: str) -> Path:
    """The folder of shipped files of one kind ('data' or 'configs').

    data/ and configs/ hold no __init__.py, so their packages are namespace packages: the
    import system's spec names their folder (importlib.resources.files would give a
    MultiplexedPath, which is not a file system path that numpy and open() can take)."""
    try:
        spec = importlib.util.find_spec(f"nncli.shipped.{kind}")
    except ModuleNotFoundError:
        spec = None
    for location in (spec.submodule_search_locations or []) if spec else []:
        if Path(location).is_dir():
            return Path(location)
    return _CHECKOUT / kind          # a checkout run without `pip install`


def data_file(name: str) -> Path:
    """Where a shipped dataset file lives, e.g. data_file("digits.npz").

    The path is returned whether or not the file exists: callers say what is missing."""
    return _folder("data") / name


def config_folder() -> Path:
    """The folder holding the example configs (and the files they refer to)."""
    return _folder("configs")


def config_stem(name: str) -> str:
    """'digits_cnn', 'digits_cnn.yaml' -> 'digits_cnn'."""
    for suffix in CONFIG_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def builtin_config(name: str) -> Path | None:
    """The example config called `name` ('digits_cnn' or 'digits_cnn.yaml'), else None."""
    stem = config_stem(str(name))
    if not stem or "/" in stem or "\\" in stem or stem.startswith("."):
        return None
    folder = config_folder()
    for suffix in CONFIG_SUFFIXES:
        path = folder / f"{stem}{suffix}"
        if path.is_file():
            return path
    return None


def builtin_names() -> list[str]:
    """The names of the example configs, sorted."""
    folder = config_folder()
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.iterdir()
                  if p.suffix in CONFIG_SUFFIXES and p.is_file())


def builtin_configs() -> list[tuple[str, Path, str]]:
    """(name, path, one-line description) of every example config, sorted by name."""
    out = []
    for name in builtin_names():
        path = builtin_config(name)
        out.append((name, path, describe(path.read_text(encoding="utf-8"))))
    return out


def shipped_config_files() -> list[Path]:
    """Every file of the configs folder (specs and the files they name, e.g. .txt inputs)."""
    folder = config_folder()
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(("_", ".")))


# The description ends at the first clause: ': ' or a sentence end ('. ' before a capital,
# so 'Le et al. 2015' does not end it), or at the end of the first comment paragraph.
_CLAUSE_END = re.compile(r":\s|\.\s+(?=[A-Z])|\.$")


def describe(text: str) -> str:
    """A config's one-line description: the first clause of its leading comment."""
    words = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped.startswith("#"):
            break
        body = stripped.lstrip("#")
        if not body.strip() or body.startswith("   "):   # a blank line or an example command
            if words:
                break
            continue
        words.append(body.strip())
    joined = " ".join(words)
    match = _CLAUSE_END.search(joined)
    return (joined[: match.start()] if match else joined).strip()
