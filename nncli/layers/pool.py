"""Max or average pooling layer on ops.pool2d (no padding)."""

from __future__ import annotations

from nncli import ops
from nncli.errors import InputError
from nncli.layers.base import Layer, expect_rank


class Pool(Layer):
    """x: (N, C, H, W) -> y: (N, C, Ho, Wo), Ho = floor((H - size) / stride) + 1."""

    kind = "pool"

    def __init__(self, mode: str = "max", size: int = 2, stride: int | None = None) -> None:
        super().__init__()
        self.mode, self.size = mode, size
        self.stride = size if stride is None else stride
        self._cache = None

    def output_shape(self, input_shape):
        expect_rank(input_shape, (3,), "an image (C, H, W)",
                    "pool works on conv outputs; put it after a conv layer")
        c, h, w = input_shape
        if h < self.size or w < self.size:
            raise InputError(f"window {self.size}x{self.size} is larger than its "
                             f"{h}x{w} input; use a smaller size")
        return (c, ops.out_size(h, self.size, self.stride), ops.out_size(w, self.size, self.stride))

    def forward(self, x):
        y, winner = ops.pool2d(x, self.size, self.stride, self.mode)
        self._cache = (x.shape, winner)
        return y

    def backward(self, dy):
        shape, winner = self._cache
        return ops.pool2d_backward(dy, shape, self.size, self.stride, self.mode, winner)

    def describe(self):
        return f"{self.mode} {self.size}x{self.size}, stride {self.stride}"

