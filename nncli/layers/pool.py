"""Max or average pooling layer on ops.pool2d (no padding)."""

from __future__ import annotations

from nncli import ops
from nncli.errors import InputError
from nncli.layers.base import Example, Layer, distinct_inputs, expect_rank
from nncli.options import Option


class Pool(Layer):
    """x: (N, C, H, W) -> y: (N, C, Ho, Wo), Ho = floor((H - size) / stride) + 1."""

    kind = "pool"
    summary = "max or average of size x size windows of an image, no padding"
    OPTIONS = {
        "mode": Option(("max", "avg"), "max", "max or avg (average)"),
        "size": Option("int>=1", 2, "window size (square)"),
        "stride": Option("int>=1", None, "step between windows (null: the window size)"),
    }
    EXAMPLE = Example({"size": 2, "stride": 1}, (2, 4, 5), distinct_inputs)

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

