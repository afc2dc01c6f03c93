"""Single samples of a dataset, and the samples a classifier gets wrong.

`data NAME_OR_CONFIG --sample I` (a dataset by name, or a spec's own `data:`),
`predict CONFIG --sample I` (one sample of the spec's data, no input file needed) and
`eval --errors` (the misclassified samples of a split, with true and predicted classes)
share these. Indices are positions in a split, so `eval --errors` names samples that
`data` and `predict --sample` show. Pure: nothing here prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nncli.datasets import Dataset, Split
from nncli.errors import InputError

SPLIT_NAMES = ("test", "val", "train")


def check_split(name: str, option: str = "--split") -> str:
    if name not in SPLIT_NAMES:
        raise InputError(f"{option}: expected test, val or train, got '{name}'")
    return name


def pick(split: Split, index: int, name: str, option: str = "--sample"
         ) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of sample `index` of a split, each with its batch axis of 1."""
    n = len(split)
    if n == 0:
        raise InputError(f"--split: the {name} split is empty; choose another split")
    if not 0 <= index < n:
        raise InputError(f"{option}: expected 0..{n - 1} (the {name} split has {n} samples), "
                         f"got {index}")
    return split.x[index:index + 1], split.y[index:index + 1]


@dataclass
class Sample:
    """One sample of a dataset as `nncli data` shows it."""

    dataset: str
    split: str
    index: int
    size: int                     # samples in the split
    task: str                     # classification or regression
    x: np.ndarray                 # one sample, without the batch axis
    y: np.ndarray                 # its label(s) or target values
    kind: str                     # image (C, H, W), sequence (T, F), tokens (T,) or values
    tokens: list[str] | None = None    # a text window's tokens (tokens kind)
    target_tokens: list[str] | None = None
    mode: str | None = None       # chars or words (text)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"dataset": self.dataset, "split": self.split,
                               "index": self.index, "size": self.size, "task": self.task,
                               "kind": self.kind, "input_shape": list(self.x.shape),
                               "input": self.x, "target": self.y}
        if self.tokens is not None:
            join = "" if self.mode == "chars" else " "
            out["text"] = join.join(self.tokens)
            out["target_text"] = join.join(self.target_tokens or [])
        return out


def kind_of(x: np.ndarray, text: bool) -> str:
    if text:
        return "tokens"
    return {3: "image", 2: "sequence"}.get(x.ndim, "values")


def sample(data: Dataset, split_name: str, index: int) -> Sample:
    x, y = pick(data.split(split_name), index, split_name)
    x, y = x[0], y[0]
    s = Sample(data.name, split_name, index, len(data.split(split_name)), data.task, x, y,
               kind_of(x, data.vocab is not None))
    if data.vocab is not None:
        s.mode = data.vocab.mode
        s.tokens = [data.vocab.tokens[int(t)] for t in x]
        s.target_tokens = [data.vocab.tokens[int(t)] for t in np.ravel(y)]
    return s


def load_named(name: str) -> Dataset | None:
    """The built-in dataset called `name` with its default options (seed 0), or None if
    no dataset has that name."""
    from nncli.datasets import load_dataset, registry

    if name not in registry.named():
        return None
    return load_dataset(name, Path.cwd(), 0)


# --------------------------------------------------------------------------- eval --errors

@dataclass
class Errors:
    rows: list[dict]              # index, true, predicted, p_predicted, p_true (first `limit`)
    total: int                    # misclassified samples in the split


def misclassified(model, split: Split, limit: int, batch_size: int = 256) -> Errors:
    """The samples of `split` a classifier (one class per sample) gets wrong, in index
    order, with the probabilities it gives the predicted and the true class."""
    from nncli import inspection

    if model.loss_name != "cross_entropy" or len(model.output_shape) != 1:
        what = ("a class at every step" if model.loss_name == "cross_entropy"
                else "values (a regression model)")
        raise InputError(f"--errors: lists the misclassified samples of a classifier with "
                         f"one class per sample; this model predicts {what}")
    rows, total = [], 0
    for start in range(0, len(split), batch_size):
        x, y = split.x[start:start + batch_size], split.y[start:start + batch_size]
        probs = inspection.predict(model, x)["probabilities"]
        pred = probs.argmax(axis=-1)
        wrong = np.flatnonzero(pred != y)
        total += len(wrong)
        for i in wrong[:max(0, limit - len(rows))]:
            rows.append({"index": start + int(i), "true": int(y[i]), "predicted": int(pred[i]),
                         "p_predicted": float(probs[i, pred[i]]),
                         "p_true": float(probs[i, y[i]])})
    return Errors(rows, total)
