"""Fully connected layer, like torch.nn.Linear: y = f(x W^T + b)."""

from __future__ import annotations

import numpy as np

from nncli.errors import InputError
from nncli.formatting import plural
from nncli.layers.activations import ACTIVATION_OPTION, Activation
from nncli.layers.base import PARAMS_OPTION, Example, Layer
from nncli.ops import column_sums
from nncli.options import REQUIRED, Option


class Dense(Layer):
    """x: (N, I) or a sequence (N, T, I), acting on every step -> y: (N, units) / (N, T, units).

    params: weight (units, I), bias (units,).
    """

    kind = "dense"
    summary = "fully connected, y = f(x W^T + b); on a sequence, every step"
    OPTIONS = {
        "units": Option("int>=1|vocab", REQUIRED, "output features ('vocab': the text "
                        "dataset's vocabulary size)"),
        "bias": Option("bool", True, "add a learned bias b"),
        "activation": ACTIVATION_OPTION,
        "params": PARAMS_OPTION,
    }
    EXAMPLE = Example({"units": 3, "activation": "tanh"}, (4,))

    def __init__(self, units: int, bias: bool = True, activation: str = "identity") -> None:
        super().__init__()
        self.units, self.use_bias = units, bias
        self.act = Activation(activation)
        self._x: np.ndarray | None = None

    def output_shape(self, input_shape):
        if len(input_shape) not in (1, 2):
            raise InputError(f"expects a flat input (F,) or a sequence (T, F) but gets "
                             f"{tuple(input_shape)}; add a flatten layer before it")
        return (*input_shape[:-1], self.units)

    def param_shapes(self, input_shape):
        shapes = {"weight": (self.units, input_shape[-1])}
        return shapes | ({"bias": (self.units,)} if self.use_bias else {})

    def forward(self, x):
        self._x = x
        # (N, T, F) as one (N T, F) product: one BLAS call instead of one per sample
        z = (x.reshape(-1, x.shape[-1]) @ self.params["weight"].T).reshape(
            *x.shape[:-1], self.units)
        if self.use_bias:
            z += self.params["bias"]
        return self.act.forward(z)

    def backward(self, dy):
        dz = self.act.backward(dy)
        x, w = self._x, self.params["weight"]
        dz2 = dz.reshape(-1, self.units)
        grads = {"weight": dz2.T @ x.reshape(-1, x.shape[-1])}
        if self.use_bias:
            grads["bias"] = column_sums(dz2)
        self._add_grads(**grads)
        return (dz2 @ w).reshape(*dz.shape[:-1], w.shape[1])

    def describe(self):
        extra = "" if self.use_bias else ", no bias"
        return f"{plural(self.units, 'unit')}, {self.act.name}{extra}"
