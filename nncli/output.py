"""Results out: plain JSON on stdout and files replaced atomically.

`write_json` prints one strict JSON object (numpy values converted, never NaN/Infinity);
`atomic_write` fills a temp file next to the target and renames it over, so a reader or a
crash never sees half a file. Nothing else here prints.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import IO, Any

import numpy as np

from nncli.errors import InputError, RunFailed


def to_jsonable(obj: Any) -> Any:
    """numpy arrays and scalars -> lists, ints and floats (for json.dumps)."""
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def dumps_json(obj: Any) -> str:
    """Compact, strict JSON (no NaN/Infinity) on one line, numpy types converted."""
    try:
        return json.dumps(obj, default=to_jsonable, allow_nan=False, separators=(", ", ": "))
    except ValueError:
        raise RunFailed("the result holds a non-finite value (overflow); nothing was "
                        "written") from None


def write_json(obj: Any, stream: IO[str] | None = None) -> None:
    """Print `obj` as plain JSON plus a newline to stdout (or `stream`); nothing else."""
    text = dumps_json(obj)
    out = stream if stream is not None else sys.stdout
    out.write(text + "\n")
    out.flush()


def _umask() -> int:
    with suppress(OSError, ValueError), open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: str | Path, data: bytes | str | Callable[[IO[bytes]], None],
                 name: str = "--out") -> Path:
    """Write a file so readers see the old or the new content, never a half-written one.

    `data` is bytes, str (UTF-8) or a callback that writes to a binary file object
    (e.g. `lambda f: np.savez(f, **arrays)`). A temp file in the same folder is filled,
    flushed, fsynced and then `os.replace`d over `path`.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise InputError(f"{name}: '{path}' is a folder; expected a file name")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as err:
        raise InputError(f"{name}: cannot write '{path}': {err.strerror or err}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            if callable(data):
                data(f)
            else:
                f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException as err:
        with suppress(OSError):
            os.unlink(tmp)
        if isinstance(err, OSError):
            raise RunFailed(f"{name}: writing '{path}' failed: {err.strerror or err}") from None
        raise
    with suppress(OSError, AttributeError):
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    return path
