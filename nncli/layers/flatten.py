"""Flatten layer: every axis after the batch axis into one."""

from __future__ import annotations

from nncli.layers.base import Example, Layer


class Flatten(Layer):
    """x: (N, d1, d2, ...) -> (N, d1*d2*...)."""

    kind = "flatten"
    summary = "every axis of a sample into one, e.g. (C, H, W) -> (C*H*W,)"
    OPTIONS = {}
    EXAMPLE = Example({}, (2, 3, 2))

    def output_shape(self, input_shape):
        size = 1
        for d in input_shape:
            size *= d
        return (size,)

    def forward(self, x):
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy):
        return dy.reshape(self._shape)
