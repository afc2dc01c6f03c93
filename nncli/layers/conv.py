"""2-D convolution layer (cross-correlation), like torch.nn.Conv2d, on ops.conv2d."""

from __future__ import annotations

import numpy as np

from nncli import ops
from nncli.errors import InputError
from nncli.formatting import plural
from nncli.layers.activations import ACTIVATION_OPTION, Activation
from nncli.layers.base import PARAMS_OPTION, Example, Layer, expect_rank
from nncli.options import REQUIRED, Option


class Conv(Layer):
    """x: (N, C, H, W) -> y: (N, F, Ho, Wo), Ho = floor((H + 2p - k) / s) + 1.

    params: weight (F, C, k, k), bias (F,).
    """

    kind = "conv"
    summary = "2-D convolution (cross-correlation) of a (C, H, W) image"
    OPTIONS = {
        "filters": Option("int>=1", REQUIRED, "output channels F (one k x k filter each)"),
        "kernel": Option("int>=1", REQUIRED, "filter size k (square)"),
        "stride": Option("int>=1", 1, "step between windows"),
        "padding": Option("int>=0", 0, "zeros added on every side"),
        "bias": Option("bool", True, "add a learned bias per filter"),
        "activation": ACTIVATION_OPTION,
        "params": PARAMS_OPTION,
    }
    EXAMPLE = Example({"filters": 2, "kernel": 3, "stride": 2, "padding": 1}, (2, 5, 5))

    def __init__(self, filters: int, kernel: int, stride: int = 1, padding: int = 0,
                 bias: bool = True, activation: str = "identity") -> None:
        super().__init__()
        self.filters, self.kernel, self.stride, self.padding = filters, kernel, stride, padding
        self.use_bias = bias
        self.act = Activation(activation)
        self._x: np.ndarray | None = None

    def output_shape(self, input_shape):
        expect_rank(input_shape, (3,), "an image (C, H, W)",
                    "conv needs (C, H, W) input; for a single channel use shape [1, H, W]")
        _, h, w = input_shape
        ho, wo = (ops.out_size(n, self.kernel, self.stride, self.padding) for n in (h, w))
        if ho < 1 or wo < 1:
            raise InputError(
                f"kernel {self.kernel}x{self.kernel} is larger than its padded "
                f"{h + 2 * self.padding}x{w + 2 * self.padding} input; use a smaller kernel "
                f"or more padding")
        return (self.filters, ho, wo)

    def param_shapes(self, input_shape):
        shapes = {"weight": (self.filters, input_shape[0], self.kernel, self.kernel)}
        return shapes | ({"bias": (self.filters,)} if self.use_bias else {})

    def forward(self, x):
        self._x = x
        z, self._cols = ops.conv2d(x, self.params["weight"], self.params.get("bias"),
                                   self.stride, self.padding, return_cols=True)
        return self.act.forward(z)

    def backward(self, dy):
        dz = self.act.backward(dy)
        dx, dw, db = ops.conv2d_backward(dz, self._x, self.params["weight"], self.stride,
                                         self.padding, cols=self._cols,
                                         input_grad=self.input_grad)
        self._add_grads(weight=dw, **({"bias": db} if self.use_bias else {}))
        return dx

    def describe(self):
        k = self.kernel
        extra = "" if self.use_bias else ", no bias"
        return (f"{plural(self.filters, 'filter')} {k}x{k}, stride {self.stride}, "
                f"pad {self.padding}, {self.act.name}{extra}")
