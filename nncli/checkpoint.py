"""Weights and checkpoints as .npz files: written atomically, read without unpickling.

A weights file holds `<layer index>.<param>` arrays (a torch Sequential's state_dict keys).
A checkpoint adds the optimiser's velocities under `optim/<key>` and a JSON `meta` record
(epoch, position in the epoch, random state, metrics so far) stored as a plain string array.
Both may carry a text model's vocabulary (`vocab`, `vocab_tokens`: unicode arrays, see
nncli/text.py), which is not a parameter: load_weights and load_checkpoint leave it out.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from nncli.errors import InputError
from nncli.io import ZIP_ERRORS, atomic_write, check_array_file

OPTIM_PREFIX = "optim/"
META_KEY = "meta"
VOCAB_KEYS = ("vocab", "vocab_tokens")


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write arrays to path atomically (temp file + rename): a reader never sees half a file."""
    atomic_write(Path(path), lambda f: np.savez(f, **arrays), name=str(path))


def read_npz(path: Path, what: str) -> dict[str, np.ndarray]:
    """Every array of an .npz, loaded with allow_pickle=False; any problem is one InputError."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what}: file '{path}' not found")
    try:
        with open(path, "rb") as f:
            head = f.read(6)
    except OSError as err:
        raise InputError(f"{what}: cannot read '{path}': {err.strerror or err}") from None
    if not head.startswith((b"PK", b"\x93NUMPY")):
        kind = "a Python pickle" if head.startswith(b"\x80") else "not an .npz archive"
        raise InputError(f"{what}: '{path}' is {kind}; weights and checkpoints are .npz "
                         f"files written by 'nncli init', 'nncli train' or np.savez (nncli "
                         f"never unpickles files)")
    check_array_file(path, what)
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise InputError(f"{what}: '{path}' holds a single array (.npy), not an .npz "
                             f"archive of named arrays")
        with data:
            return {k: data[k] for k in data.files}
    except ValueError as err:
        if "pickle" in str(err):
            raise InputError(f"{what}: '{path}' holds Python objects, which nncli never "
                             f"unpickles; save plain numeric arrays") from None
        raise InputError(f"{what}: '{path}' is not a readable .npz file ({err})") from None
    except (*ZIP_ERRORS, KeyError) as err:
        raise InputError(f"{what}: '{path}' is not a readable .npz file "
                         f"({type(err).__name__}: {err}); is it truncated?") from None


def save_weights(path: Path, params: dict[str, np.ndarray],
                 extra: dict[str, np.ndarray] | None = None) -> None:
    """params, plus `extra` non-parameter arrays (a text model's vocabulary)."""
    save_npz(path, {**params, **(extra or {})})


def parameters(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The parameter arrays among a weights file's or checkpoint's (optimiser state, meta
    and vocabulary left out)."""
    return {k: v for k, v in arrays.items() if not k.startswith(OPTIM_PREFIX)
            and k != META_KEY and k not in VOCAB_KEYS}


def load_weights(path: Path, what: str = "--weights") -> dict[str, np.ndarray]:
    """The parameter arrays of a weights file or a checkpoint."""
    return parameters(read_npz(path, what))


def load_vocab_arrays(path: Path, what: str = "--weights") -> dict[str, np.ndarray]:
    """The vocabulary arrays of a weights file or checkpoint ({} if it has none)."""
    arrays = read_npz(path, what)
    return {k: arrays[k] for k in VOCAB_KEYS if k in arrays}


def save_checkpoint(path: Path, params: dict[str, np.ndarray],
                    velocity: dict[str, np.ndarray], meta: dict,
                    extra: dict[str, np.ndarray] | None = None) -> None:
    arrays = dict(params)
    arrays.update({OPTIM_PREFIX + k: v for k, v in velocity.items()})
    arrays[META_KEY] = np.array(json.dumps(meta))
    arrays.update(extra or {})
    save_npz(path, arrays)


def load_checkpoint(path: Path, what: str = "checkpoint"
                    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict]:
    """(params, optimiser velocities, meta) of a checkpoint written by save_checkpoint."""
    arrays = read_npz(path, what)
    if META_KEY not in arrays:
        raise InputError(f"{what}: '{path}' is a weights file, not a training checkpoint")
    try:
        meta = json.loads(str(arrays.pop(META_KEY)))
    except json.JSONDecodeError:
        raise InputError(f"{what}: '{path}' has a corrupt meta record") from None
    velocity = {k[len(OPTIM_PREFIX):]: arrays.pop(k) for k in list(arrays)
                if k.startswith(OPTIM_PREFIX)}
    for key in VOCAB_KEYS:
        arrays.pop(key, None)
    return arrays, velocity, meta
