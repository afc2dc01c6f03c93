"""Run folders read back: what `nncli runs`, `nncli compare` and `nncli report` show.

A run folder is what `nncli train` made: config.yaml (written first, with train's header
line), metrics.jsonl (a line per epoch), last.npz and best.npz. `read_run` gathers one
run's numbers; `scan` reads every run folder in a folder and says why the other folders
are not runs; `differences` finds the config values that differ between runs, as the
dotted paths `--set` takes (`train.lr`, `layers.0.conv.filters`).

The epochs done and the position inside an epoch come from last.npz's meta record (read
alone, not the weights), which is also the authority for the history: a run killed
between the writes at an epoch's end has a checkpoint one epoch ahead of metrics.jsonl
(`nncli train --resume` repairs that; listing it changes nothing). Pure: nothing here
prints or imports rich.
"""

from __future__ import annotations

import json
import math
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from nncli.checkpoint import META_KEY
from nncli.errors import InputError
from nncli.train import BEST, CONFIG_FILE, CONFIG_HEADER, LAST, METRICS_FILE

FINISHED, RESUMABLE = "finished", "resumable"
BEST_KEYS = ("epoch", "train_loss", "val_loss", "val_accuracy", "val_perplexity")
MISSING = object()          # a config path one run has and another has not


@dataclass
class Run:
    path: Path
    model: str                    # the spec's name
    started: float                # config.yaml's modification time (written at the start)
    config: dict                  # the resolved spec, as config.yaml holds it
    history: list[dict]           # one record per epoch (metrics.jsonl without "schema")
    epochs: int                   # train.epochs: the epochs the run was set up for
    epoch: int                    # epochs done
    batch: int                    # batches done in the epoch after `epoch` (0: none)
    best: dict | None             # the best epoch's record (lowest val loss, as best.npz)
    notes: list[str] = field(default_factory=list)   # what looked wrong while reading

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def status(self) -> str:
        return FINISHED if self.epoch >= self.epochs and self.batch == 0 else RESUMABLE

    @property
    def where(self) -> str:
        """'after epoch 3 of 10', 'in epoch 4 of 10 after batch 7', 'before epoch 1 of 10'."""
        if self.batch:
            return f"in epoch {self.epoch + 1} of {self.epochs} after batch {self.batch}"
        if self.epoch == 0:
            return f"before epoch 1 of {self.epochs}"
        return f"after epoch {self.epoch} of {self.epochs}"

    @property
    def weights(self) -> Path | None:
        """best.npz, else last.npz (what a command given the run folder loads)."""
        return next((self.path / n for n in (BEST, LAST) if (self.path / n).is_file()), None)

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "name": self.name, "model": self.model,
                "started": iso_time(self.started), "status": self.status,
                "epochs": self.epochs, "epoch": self.epoch, "batch": self.batch,
                "best": None if self.best is None else
                {k: self.best[k] for k in BEST_KEYS if k in self.best},
                "notes": self.notes}


def iso_time(stamp: float) -> str:
    """'2025-11-29T16:46:03' in local time (to the second)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(stamp))


def not_a_run(folder: Path) -> str | None:
    """Why `folder` is not a run folder made by `nncli train`, or None if it is one."""
    config = folder / CONFIG_FILE
    if not config.is_file():
        return f"no {CONFIG_FILE}"
    if (folder / LAST).is_file() or (folder / METRICS_FILE).is_file():
        return None
    try:
        with open(config, encoding="utf-8") as f:
            first = f.readline()
    except (OSError, UnicodeDecodeError) as err:
        return f"cannot read {CONFIG_FILE} ({err})"
    return None if first == CONFIG_HEADER else (f"{CONFIG_FILE} was not written by 'nncli "
                                                f"train' and there is no {LAST}")


def read_run(folder: Path, what: str = "RUN") -> Run:
    """One run folder's numbers; InputError (naming `what`) if it is not a run folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{what}: '{folder}' is not a folder; pass a run folder made by "
                         f"'nncli train' (nncli runs lists them)")
    reason = not_a_run(folder)
    if reason is not None:
        raise InputError(f"{what}: '{folder}' is not a run folder ({reason}); pass a folder "
                         f"made by 'nncli train' (nncli runs lists them)")
    config_file = folder / CONFIG_FILE
    try:
        config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
        started = config_file.stat().st_mtime
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise InputError(f"{what}: cannot read '{config_file}': "
                         f"{' '.join(str(err).split())[:200]}") from None
    if not isinstance(config, dict):
        raise InputError(f"{what}: '{config_file}' holds no spec (a YAML mapping)")
    notes: list[str] = []
    history = _metrics(folder / METRICS_FILE, notes)
    meta = _checkpoint_meta(folder / LAST, notes)
    epoch, batch = len(history), 0
    if meta is not None:
        epoch, batch = int(meta.get("epoch", epoch)), int(meta.get("batch", 0))
        saved = meta.get("history")
        if isinstance(saved, list) and len(saved) > len(history):
            notes.append(f"{METRICS_FILE} lags behind {LAST} (nncli train --resume repairs "
                         f"it); the epochs shown come from {LAST}")
            history = saved
    train = config.get("train") if isinstance(config.get("train"), dict) else {}
    epochs = train.get("epochs") if isinstance(train.get("epochs"), int) else 10
    return Run(folder, str(config.get("name", folder.name)), started, config, history,
               epochs, epoch, batch, best_epoch(history), notes)


def _metrics(path: Path, notes: list[str]) -> list[dict]:
    if not path.is_file():
        return []
    history = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        notes.append(f"cannot read {METRICS_FILE} ({err})")
        return []
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            notes.append(f"{METRICS_FILE}:{number} is not a JSON line; skipped")
            continue
        if isinstance(record, dict) and isinstance(record.get("epoch"), int):
            record.pop("schema", None)
            history.append(record)
    return history


def _checkpoint_meta(path: Path, notes: list[str]) -> dict | None:
    """last.npz's meta record alone (np.load reads members lazily), or None."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if META_KEY not in data.files:
                notes.append(f"{LAST} holds no training state")
                return None
            meta = json.loads(str(data[META_KEY]))
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, json.JSONDecodeError) as err:
        notes.append(f"cannot read {LAST} ({type(err).__name__}); the epochs come from "
                     f"{METRICS_FILE}")
        return None
    return meta if isinstance(meta, dict) else None


def best_epoch(history: list[dict]) -> dict | None:
    """The record of the epoch best.npz holds: the lowest val loss (train loss without
    val data), the first of equals, as nncli.train picks it."""
    best, score = None, math.inf
    for m in history:
        value = m.get("val_loss") if m.get("val_loss") is not None else m.get("train_loss")
        if isinstance(value, (int, float)) and value < score:
            best, score = m, value
    return best


def scan(root: Path, what: str = "DIR") -> tuple[list[Run], list[tuple[Path, str]]]:
    """(runs, skipped): every run folder directly inside `root` (or `root` itself if it is
    one), oldest first, and each other folder with the reason it is not a run. Hidden
    folders and plain files are passed over without a note."""
    root = Path(root)
    if not root.is_dir():
        hint = " (train one first: nncli train digits_cnn)" if root == Path("runs") else ""
        raise InputError(f"{what}: '{root}' is not a folder{hint}; pass the folder that "
                         f"holds the run folders")
    if not_a_run(root) is None:
        return [read_run(root, what)], []
    runs, skipped = [], []
    try:
        entries = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError as err:
        raise InputError(f"{what}: cannot read '{root}': {err.strerror or err}") from None
    for folder in entries:
        reason = not_a_run(folder)
        if reason is not None:
            skipped.append((folder, reason))
            continue
        try:
            runs.append(read_run(folder, what))
        except InputError as err:
            skipped.append((folder, str(err).split(": ", 1)[-1]))
    runs.sort(key=lambda r: (r.started, r.name))
    return runs, skipped


# --------------------------------------------------------------------------- differences

def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """A spec as {dotted path: value}; lists by index, as --set names them."""
    if isinstance(value, dict) and value:
        items = value.items()
    elif isinstance(value, list) and value:
        items = ((str(i), v) for i, v in enumerate(value))
    else:
        return {prefix: value}
    out: dict[str, Any] = {}
    for key, item in items:
        out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    return out


def layer_kinds(config: dict) -> str | None:
    """'conv · pool · flatten · dense · softmax': the kinds of a spec's layers."""
    layers = config.get("layers")
    if not isinstance(layers, list):
        return None
    return " · ".join(next(iter(entry), "?") if isinstance(entry, dict) else str(entry)
                      for entry in layers)


def differences(configs: list[dict]) -> dict[str, list[Any]]:
    """{path: [each config's value or MISSING]} for the paths whose values are not all the
    same, in the order they first appear. Models with other layers differ in `layers` as a
    whole (their kinds, 'conv · pool · ...'), not in every option of every layer."""
    kinds = [layer_kinds(c) for c in configs]
    if len(set(kinds)) > 1:
        configs = [{**c, "layers": k} if k is not None else c
                   for c, k in zip(configs, kinds, strict=True)]
    flat = [flatten(c) for c in configs]
    paths = list(dict.fromkeys(p for f in flat for p in f))
    out = {}
    for path in paths:
        values = [f.get(path, MISSING) for f in flat]
        if any(v is MISSING for v in values) or any(v != values[0] for v in values[1:]):
            out[path] = values
    return out


def show_value(value: Any) -> str:
    """A config value as written in YAML (flow style): 0.05, true, null, [1, 8, 8]."""
    if value is MISSING:
        return "—"
    if isinstance(value, str):
        return value
    return yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix(
        "\n...").strip()
