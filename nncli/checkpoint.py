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
from nncli.io import atomic_write, read_npz  # noqa: F401 (read_npz: part of this API)

OPTIM_PREFIX = "optim/"
META_KEY = "meta"
VOCAB_KEYS = ("vocab", "vocab_tokens")


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write arrays to path atomically (temp file + rename): a reader never sees half a file."""
    atomic_write(Path(path), lambda f: np.savez(f, **arrays), name=str(path))


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


def saved_epoch(arrays: dict[str, np.ndarray]) -> int | None:
    """The epoch a training checkpoint's arrays were saved at (None for plain weights or a
    meta record that cannot be read)."""
    try:
        return int(json.loads(str(arrays[META_KEY]))["epoch"]) if META_KEY in arrays else None
    except (ValueError, KeyError, TypeError):
        return None


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
