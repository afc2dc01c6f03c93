"""Tiny specs the tests train in a second or two: a recurrent regression model (sine) and a
word-level text model (agreement), with the knobs tests turn."""

from __future__ import annotations


def sine(epochs: int = 2, lr: float | str = 0.05, train: int = 64, seed: int = 0,
         clip: float | None = None) -> str:
    """A 4-unit rnn reading 6 steps of a sine wave, predicting the next value."""
    extra = f", clip: {clip}" if clip is not None else ""
    return f"""name: sine-tiny
seed: {seed}
input: [6, 1]
layers:
  - rnn: {{hidden: 4, return: last}}
  - dense: {{units: 1}}
loss: mse
data: {{name: sine, steps: 6, train: {train}, val: 16, test: 16}}
train: {{epochs: {epochs}, batch_size: 16, lr: {lr}{extra}}}
"""


def agree(cell: str = "gru-lite", epochs: int = 1, train: int = 200, held_out: int = 20,
          test: int | None = None) -> str:
    """A 6-unit recurrent language model of the agreement grammar's sentences: `held_out`
    sentences each for val and test, or `test` for the test split."""
    test = held_out if test is None else test
    return f"""name: agree-tiny
seed: 0
input: [8]
layers:
  - embedding: {{dim: 4}}
  - {cell}: {{hidden: 6}}
  - dense: {{units: vocab}}
  - softmax
loss: cross_entropy
data: {{name: agreement, window: 8, train: {train}, val: {held_out}, test: {test}}}
train: {{epochs: {epochs}, batch_size: 16, lr: 0.5}}
"""
