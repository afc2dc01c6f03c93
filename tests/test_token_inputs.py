"""An embedding that hands a recurrent cell its ids and table (TokenInputs) instead of
vectors: training's gradients must equal the ones the unfolded pass gives (which
test_registry and test_cells check by finite differences and against torch)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nncli import layers as L
from nncli.layers.embedding import TokenInputs, sum_per_id
from nncli.layers.gru import GRU
from nncli.layers.lstm import LSTM
from nncli.model import Model

CELLS = {
    "rnn": lambda **kw: L.RNN(5, **kw),
    "gru-lite": lambda **kw: L.GruLite(5, **kw),
    "gru-lite gate 0.3": lambda **kw: L.GruLite(5, gate=0.3, **kw),
    "gru": lambda **kw: GRU(5, **kw),
    "lstm": lambda **kw: LSTM(5, **kw),
}


def chars_model(cell, vocab=7, dim=4, every=True, bias=True, seed=0):
    layers = [L.Embedding(vocab, dim), cell(bias=bias, return_sequences=every),
              L.Dense(vocab), L.Softmax()]
    steps = 6
    model = Model(layers, (steps,), loss="cross_entropy", reduction="mean")
    model.init_params(np.random.default_rng(seed))
    rng = np.random.default_rng(seed + 1)
    x = rng.integers(0, vocab, (3, steps)).astype(np.float64)
    y = rng.integers(0, vocab, (3, steps) if every else (3,))
    return model, x, y


def grads_both_ways(model, x, y):
    model.inspect(x, y)                                   # vectors: y = E[ids]
    unfolded = {k: v.copy() for k, v in model.named_grads().items()}
    loss, _ = model.train_step(x, y)                      # ids and table handed on
    return unfolded, model.named_grads(), model.layers[1]._inputs


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("every, bias", [(True, True), (False, True), (True, False)])
def test_handed_on_tokens_give_the_same_gradients(name, every, bias):
    model, x, y = chars_model(CELLS[name], every=every, bias=bias)
    unfolded, folded, inputs = grads_both_ways(model, x, y)
    assert isinstance(inputs, TokenInputs)                # it really took the short way
    assert folded.keys() == unfolded.keys()
    for key, value in unfolded.items():
        np.testing.assert_allclose(folded[key], value, rtol=1e-11, atol=1e-13, err_msg=key)


def test_float32_training_keeps_float32_through_the_table():
    model, x, y = chars_model(CELLS["lstm"])
    model.astype(np.float32)
    model.train_step(x.astype(np.float32), y)
    assert {v.dtype for v in model.named_grads().values()} == {np.dtype(np.float32)}


def test_a_large_vocabulary_keeps_the_vectors():
    """V > 2 D: multiplying every position's vector is cheaper than the table."""
    model, x, y = chars_model(CELLS["rnn"], vocab=9, dim=4)
    unfolded, folded, inputs = grads_both_ways(model, x, y)
    assert not isinstance(inputs, TokenInputs)
    for key, value in unfolded.items():
        np.testing.assert_array_equal(folded[key], value)


@given(st.integers(1, 40), st.integers(1, 5), st.integers(1, 300), st.booleans())
@settings(max_examples=60, deadline=None)
def test_sum_per_id_equals_a_scatter_add(vocab, width, count, sorted_path):
    rng = np.random.default_rng(vocab * width + count)
    ids = rng.integers(0, vocab, count)
    rows = rng.standard_normal((count, width))
    want = np.zeros((vocab, width))
    np.add.at(want, ids, rows)
    limit = 0 if sorted_path else 2**20
    import nncli.layers.embedding as embedding

    saved, embedding.ONE_HOT_LIMIT = embedding.ONE_HOT_LIMIT, limit
    try:
        got = sum_per_id(ids, rows, vocab)
    finally:
        embedding.ONE_HOT_LIMIT = saved
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
