"""A language model seen from the text side: the checks that a model reads token ids and
predicts the next one, its next-token log-probabilities, and the unigram baseline."""

from __future__ import annotations

import math

import numpy as np

from nncli.errors import InputError
from nncli.text.vocab import Vocab


def check_text_model(model, vocab: Vocab, source: str) -> int:
    """Check that model reads token ids and predicts one of len(vocab) tokens per step;
    return its context window T (the input length it was built and trained for)."""
    from nncli.layers import Embedding

    first = model.layers[0]
    if not isinstance(first, Embedding) or len(model.input_shape) != 1:
        raise InputError(f"{source}: the model does not read token ids (its first layer "
                         f"must be 'embedding' with input: [window])")
    out = model.output_shape
    if model.loss_name != "cross_entropy" or len(out) != 2 or out[-1] != len(vocab) \
            or first.vocab != len(vocab):
        raise InputError(f"{source}: the model must predict one of the {len(vocab)} "
                         f"vocabulary tokens at every step (embedding vocab and the last "
                         f"dense units: vocab, loss: cross_entropy); it outputs {out}")
    return model.input_shape[0]


def next_log_probs(model, ids: np.ndarray, window: int) -> np.ndarray:
    """log P(next token | context) for each row of ids (N, L): (N, V). The context is the
    last `window` ids, run from state 0 as in training; a final softmax layer is skipped
    in favour of a stable log-softmax of the scores."""
    from nncli.layers import Softmax
    from nncli.ops import log_softmax

    h = np.asarray(ids, dtype=np.float64)[:, -window:]
    layers = model.layers[:-1] if isinstance(model.layers[-1], Softmax) else model.layers
    for layer in layers:
        h = layer.forward(h)
    return log_softmax(h[:, -1])


def unigram_perplexity(train_ids: np.ndarray, eval_ids: np.ndarray, size: int) -> float:
    """Perplexity of the unigram model (token frequencies of the training labels, add-one
    smoothed) on eval_ids: the baseline a model that ignores context cannot beat."""
    counts = np.bincount(np.asarray(train_ids).ravel(), minlength=size) + 1.0
    logp = np.log(counts / counts.sum())
    return float(math.exp(-logp[np.asarray(eval_ids).ravel()].mean()))
