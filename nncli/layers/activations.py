"""Element-wise activations, usable as layers of their own or fused into dense/conv/rnn."""

from __future__ import annotations

import numpy as np

from nncli.layers.base import Example, Layer, distinct_inputs
from nncli.options import Option


def sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-z)), written via tanh so large |z| never overflows."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


# name -> (f(z), f'(z) expressed through the output y = f(z)); the derivative uses y so
# backward needs only the cached output.
ACTIVATIONS = {
    "identity": (lambda z: z, lambda y: np.ones_like(y)),
    "relu": (lambda z: np.maximum(z, 0), lambda y: (y > 0).astype(y.dtype)),
    "tanh": (np.tanh, lambda y: 1.0 - y * y),
    "sigmoid": (sigmoid, lambda y: y * (1.0 - y)),
}

# The `activation:` option of layers that fuse one (dense, conv).
ACTIVATION_OPTION = Option(tuple(ACTIVATIONS), "identity", "the function applied to the "
                           "output: identity, relu, tanh or sigmoid")


class Activation(Layer):
    """y = f(x) element-wise; dx = dy * f'(x). Fused into dense/conv as their `activation`;
    as a layer of its own it is one of the subclasses below, one per spec name."""

    kind = "activation"

    def __init__(self, name: str | None = None) -> None:
        super().__init__()
        self.name = type(self).kind if name is None else name   # a subclass: its own kind
        # Summaries, metrics and grad-norm keys show every activation layer as
        # "activation" with its function as the option, whatever its spec name.
        self.kind = "activation"
        self._f, self._df = ACTIVATIONS[self.name]
        self._y: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._y = self._f(x)
        return self._y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if self.name == "identity":          # f' = 1: skip a ones array and a multiply
            return dy
        return dy * self._df(self._y)

    def describe(self) -> str:
        return self.name


class Identity(Activation):
    kind = "identity"
    summary = "y = x (no change)"
    OPTIONS = {}
    EXAMPLE = Example({}, (3,))


class Relu(Activation):
    kind = "relu"
    summary = "y = max(x, 0) element-wise"
    OPTIONS = {}
    EXAMPLE = Example({}, (2, 3), distinct_inputs)


class Tanh(Activation):
    kind = "tanh"
    summary = "y = tanh(x) element-wise"
    OPTIONS = {}
    EXAMPLE = Example({}, (3,))


class Sigmoid(Activation):
    kind = "sigmoid"
    summary = "y = 1 / (1 + exp(-x)) element-wise"
    OPTIONS = {}
    EXAMPLE = Example({}, (3,))


class Softmax(Layer):
    """Probabilities over the last axis. As a classifier's last layer with cross-entropy,
    the model fuses it into the loss (stable log-softmax) and backward never runs here."""

    kind = "softmax"
    summary = "probabilities over the last axis; only as the last layer"
    OPTIONS = {}
    EXAMPLE = Example({}, (2, 4))

    def forward(self, x: np.ndarray) -> np.ndarray:
        from nncli.ops import softmax

        self._y = softmax(x, axis=-1)
        return self._y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        # dx_j = y_j (dy_j - sum_i dy_i y_i)
        y = self._y
        return y * (dy - (dy * y).sum(axis=-1, keepdims=True))
