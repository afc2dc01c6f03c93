"""What every dataset shares: the Dataset and Split records, the DatasetKind contract a
dataset file implements, and the Source that says where a `data:` entry came from.

Layouts follow the rest of nncli: images (N, C, H, W), sequences (N, T, F), token windows
(N, T). Generated data comes from `np.random.default_rng` seeded by (seed, dataset, split)
(`split_rngs`), so the same seed gives the same arrays and the three splits are independent
draws.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np

from nncli.datasets.option_kinds import FileName
from nncli.errors import InputError
from nncli.options import REQUIRED, Option

SPLITS = ("train", "val", "test")


@dataclass(frozen=True, eq=False)
class Split:
    """x: float64 (N, *input_shape); y: int64 labels (N,) or (N, T), or float64 targets (N, K).

    A split may be empty (N = 0), e.g. a user file split [1, 0, 0].
    """

    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.x)


@dataclass(frozen=True, eq=False)
class Dataset:
    """Three splits of one task. task: "classification" (num_classes set) or "regression"."""

    name: str
    task: str
    num_classes: int | None
    train: Split
    val: Split
    test: Split
    vocab: Any = None   # a text dataset's nncli.text.vocab.Vocab (ids <-> tokens), else None

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one sample, e.g. (1, 8, 8) for digits or (T, 2) for adding."""
        return tuple(self.train.x.shape[1:])

    def split(self, name: str) -> Split:
        """The split called `name`: "train", "val" or "test"."""
        if name not in SPLITS:
            raise InputError(f"split: unknown split '{name}'; expected train, val or test")
        return getattr(self, name)


class Locator(Protocol):
    """Where a spec path sits: a nncli.spec.Spec ('model.yaml:7 data.steps'), or Bare."""

    def where(self, path: tuple) -> str: ...

    def error(self, path: tuple, message: str) -> InputError: ...


class Bare:
    """The locator of a `data:` entry given without a spec file: paths only ('data.steps')."""

    def where(self, path: tuple) -> str:
        return ".".join(map(str, path))

    def error(self, path: tuple, message: str) -> InputError:
        return InputError(f"{self.where(path)}: {message}")


@dataclass(frozen=True)
class Source:
    """Where a `data:` entry came from: its locator, the spec's folder (files named in it
    are relative to that folder and only ever read) and the spec's seed."""

    locator: Locator
    base_dir: Path
    seed: int

    def label(self, key: str | None = None) -> str:
        """'model.yaml:9 data.path', the prefix of a message about option `key`."""
        return self.locator.where(("data", key) if key else ("data",))

    def error(self, key: str | None, message: str) -> InputError:
        """One-line InputError about option `key` (None: the whole `data:` entry)."""
        return self.locator.error(("data", key) if key else ("data",), message)


class DatasetKind:
    """The contract of a dataset file (one per dataset, found by nncli.datasets.registry).

    A subclass sets, in its own body:

        name     the spec name (`data: {name: bars}`), or for a file kind chosen by `path:`
                 a label for listings ("file", "text-file") with by_path = True
        summary  one line for listings and the spec schema
        OPTIONS  {option: nncli.options.Option(kind, default, help)}, starting with
                 "name": name_option(name), or "path": PATH_OPTION; checked by
                 nncli.options.check_options (kinds: those of nncli.options and
                 option_kinds.py)
        text     True if it yields token windows and a vocabulary (see streams.TextDataset)
        selects  (by_path kinds) the option whose presence picks this kind for a `path:`
                 entry, e.g. "tokens"; the kind without one takes the other files

    and implements `load(opts, src) -> Dataset`, where opts are the checked options with
    defaults filled in and src the Source (its `error` and `label` name the spec path).
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    OPTIONS: ClassVar[dict[str, Option]] = {}
    text: ClassVar[bool] = False
    by_path: ClassVar[bool] = False
    selects: ClassVar[str | None] = None

    def load(self, opts: dict, src: Source) -> Dataset:
        raise NotImplementedError


def name_option(name: str) -> Option:
    """The `name:` entry that opens a named dataset's option table."""
    return Option((name,), REQUIRED, "the dataset")


PATH_OPTION = Option(FileName(), REQUIRED, "the file, relative to the spec's folder")


def split_rngs(seed: int, name: str) -> list[np.random.Generator]:
    """One independent generator per split, seeded by (seed, dataset name, split)."""
    return [np.random.default_rng([int(seed), zlib.crc32(name.encode()), i])
            for i in range(len(SPLITS))]


def shipped_file(name: str) -> Path:
    """A data file that ships with nncli (digits.npz, sonnets.txt): the one place that
    knows where they live."""
    from nncli.resources import data_file

    return data_file(name)
