"""Scoring a model on a split: loss per sample, accuracy and confusion matrix for
classifiers, perplexity for language models. Used after every epoch and by `nncli eval`."""

from __future__ import annotations

import math

import numpy as np

from nncli.datasets import Split
from nncli.model import Model


def evaluate(model: Model, split: Split, batch_size: int = 256, loss_of=None) -> dict:
    """Loss per sample and (for classifiers) accuracy and confusion matrix over a split.
    loss_of(x, y) -> (loss, the loss's input): an engine's forward pass instead of the
    model's (nncli.engines)."""
    n = len(split.x)
    if n == 0:
        return {"loss": None, "accuracy": None}
    total, correct, confusion = 0.0, 0, None
    classify = model.loss_name == "cross_entropy"
    if classify:
        k = model.output_shape[-1]
        confusion = np.zeros((k, k), dtype=np.int64)
    for start in range(0, n, batch_size):
        x = split.x[start:start + batch_size]
        y = model.targets(split.y[start:start + batch_size])
        if loss_of is None:
            loss, _, outputs = model.loss(x, y)
            scores = outputs[-1]
        else:
            loss, scores = loss_of(x, y)
        total += loss * per_sample_weight(model, len(x))
        if classify:
            pred = scores.argmax(axis=-1)
            correct += int((pred == y).sum())
            np.add.at(confusion, (y.ravel(), pred.ravel()), 1)
    out = {"loss": total / n}
    if classify:
        out["accuracy"] = correct / split.y.size
        out["confusion"] = confusion.tolist()
    ppl = perplexity(model, out["loss"])
    if ppl is not None:
        out["perplexity"] = ppl
    return out


def perplexity(model: Model, loss: float | None) -> float | None:
    """exp(cross-entropy per token) for a model that predicts a class at every step (a
    language model: output (T, K)), from its loss per sample; None for other models."""
    if loss is None or model.loss_name != "cross_entropy" or len(model.output_shape) != 2:
        return None
    per_token = loss if model.reduction == "mean" else loss / model.output_shape[0]
    return math.exp(min(per_token, 700.0))


def per_sample_weight(model: Model, batch: int) -> float:
    """Turn one batch's loss into a sum over its samples: mean losses times the batch size."""
    return batch if model.reduction == "mean" else 1.0
