"""Datasets for training: built-in ones, the user's files, and text.

`load_dataset(cfg, base_dir, seed, spec)` takes the `data:` entry of a spec, either a name
(`data: digits`) or a mapping (`data: {name: adding, steps: 30}` / `data: {path: xor.csv}`
/ `data: {path: my.txt, tokens: chars}`), and returns a Dataset with three Splits. Its
options are checked by nncli.options.check_options against the dataset's own table, so a
bad option reads like any spec error: `model.yaml:9 data.steps: expected an integer >= 2,
got 1` (without a spec: `data.steps: ...`).

One file per dataset, found by registry.py:

    digits.py adding.py sine.py bars.py   built-ins (generated.py: what generated ones share)
    files.py                              `path:` .npz / .csv / .npy arrays
    sonnets.py agreement.py text_file.py  text (streams.py: token streams and windows)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nncli.datasets import registry
from nncli.datasets.base import SPLITS, Bare, Dataset, Locator, Source, Split
from nncli.datasets.streams import Streams, windows
from nncli.errors import InputError

BUILTIN_DATASETS: dict[str, str] = registry.descriptions(text=False)
TEXT_DATASETS: dict[str, str] = registry.descriptions(text=True)

__all__ = ["BUILTIN_DATASETS", "SPLITS", "TEXT_DATASETS", "Dataset", "Split", "Streams",
           "is_text_config", "load_dataset", "text_streams", "windows"]


def _source(base_dir: Path, seed: Any, spec: Locator | None) -> Source:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InputError(f"seed: expected an integer >= 0, got {seed!r}")
    return Source(spec if spec is not None else Bare(), Path(base_dir), int(seed))


def load_dataset(cfg: dict | str, base_dir: Path, seed: int,
                 spec: Locator | None = None) -> Dataset:
    """Build the dataset a spec's `data:` entry describes.

    cfg: a dataset name, or a mapping with `name:` (a dataset + options) or `path:` (a
    file, relative to base_dir, the spec's folder). seed: int >= 0. spec: the Spec the
    entry comes from, so errors name its file and line."""
    src = _source(base_dir, seed, spec)
    kind, opts = registry.resolve(cfg, src)
    return kind.load(opts, src)


def is_text_config(cfg: Any) -> bool:
    """Does this `data:` entry name a text dataset (tokens, windows, a vocabulary)?"""
    kind = registry.find(cfg)
    return kind is not None and kind.text


def text_streams(cfg: dict | str, base_dir: Path, seed: int,
                 spec: Locator | None = None) -> Streams:
    """A text dataset's vocabulary and token ids per split, before windowing."""
    src = _source(base_dir, seed, spec)
    kind, opts = registry.resolve(cfg, src)
    if not kind.text:
        raise src.error(None, f"'{kind.name}' is not a text dataset")
    return kind.streams(opts, src)
