"""Weights and checkpoints as .npz files: written atomically, read without unpickling.

A weights file holds `<layer index>.<param>` arrays (a torch Sequential's state_dict keys).
A checkpoint adds the optimizer's state arrays under `optim/<slot>/<param>` (for Adam
`optim/exp_avg/0.weight`, ...) and a JSON `meta` record (epoch, position in the epoch, random
state, metrics so far, the optimizer's name and step count) stored as a plain string array.
Checkpoints written before the optimizer interface hold SGD's momentum as `optim/<param>`;
they still load, as the `momentum_buffer` slot.
Both may carry a text model's vocabulary (`vocab`, `vocab_tokens`: unicode arrays, see
nncli/text/vocab.py), which is not a parameter: load_weights and load_checkpoint leave it out.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from nncli.errors import InputError
from nncli.io import read_npz  # noqa: F401 (read_npz: part of this API)
from nncli.output import atomic_write

OPTIM_PREFIX = "optim/"
LEGACY_SLOT = "momentum_buffer"   # optim/<param> (no slot): SGD's velocity, the old layout
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


def read_weights(path: Path, what: str = "--weights") -> dict[str, np.ndarray]:
    """Every array of a weights file: an .npz, or a .safetensors file (`nncli export --to
    safetensors`, whose metadata gives back a text model's vocabulary arrays)."""
    if Path(path).suffix.lower() == ".safetensors":
        from nncli.export.safetensors_file import read_safetensors

        return read_safetensors(path, what)[0]
    return read_npz(path, what)


def load_weights(path: Path, what: str = "--weights") -> dict[str, np.ndarray]:
    """The parameter arrays of a weights file or a checkpoint."""
    return parameters(read_weights(path, what))


def load_vocab_arrays(path: Path, what: str = "--weights") -> dict[str, np.ndarray]:
    """The vocabulary arrays of a weights file or checkpoint ({} if it has none)."""
    arrays = read_weights(path, what)
    return {k: arrays[k] for k in VOCAB_KEYS if k in arrays}


def saved_epoch(arrays: dict[str, np.ndarray]) -> int | None:
    """The epoch a training checkpoint's arrays were saved at (None for plain weights or a
    meta record that cannot be read)."""
    try:
        return int(json.loads(str(arrays[META_KEY]))["epoch"]) if META_KEY in arrays else None
    except (ValueError, KeyError, TypeError):
        return None


def save_checkpoint(path: Path, params: dict[str, np.ndarray],
                    optim_state: dict[str, dict[str, np.ndarray]], meta: dict,
                    extra: dict[str, np.ndarray] | None = None) -> None:
    """params, the optimizer's {slot: {param: array}} state, meta, and `extra` arrays."""
    arrays = dict(params)
    arrays.update({f"{OPTIM_PREFIX}{slot}/{key}": value
                   for slot, values in optim_state.items() for key, value in values.items()})
    arrays[META_KEY] = np.array(json.dumps(meta))
    arrays.update(extra or {})
    save_npz(path, arrays)


def load_checkpoint(path: Path, what: str = "checkpoint"
                    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, np.ndarray]], dict]:
    """(params, optimizer state {slot: {param: array}}, meta) of a checkpoint written by
    save_checkpoint (or by nncli before the optimizer interface: see LEGACY_SLOT)."""
    arrays = read_npz(path, what)
    if META_KEY not in arrays:
        raise InputError(f"{what}: '{path}' is a weights file, not a training checkpoint")
    try:
        meta = json.loads(str(arrays.pop(META_KEY)))
    except json.JSONDecodeError:
        raise InputError(f"{what}: '{path}' has a corrupt meta record") from None
    optim_state: dict[str, dict[str, np.ndarray]] = {}
    for key in [k for k in arrays if k.startswith(OPTIM_PREFIX)]:
        slot, _, param = key[len(OPTIM_PREFIX):].rpartition("/")
        optim_state.setdefault(slot or LEGACY_SLOT, {})[param] = arrays.pop(key)
    for key in VOCAB_KEYS:
        arrays.pop(key, None)
    return arrays, optim_state, meta
