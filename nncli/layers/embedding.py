"""Embedding: a lookup table from token ids to vectors, like torch.nn.Embedding.

    y[n, t] = weight[x[n, t]]             weight: (V, D), one row per token of the vocabulary

Equivalently, y = onehot(x) @ weight, so dL/dweight[v] is the sum of dL/dy[n, t] over every
position where x[n, t] = v (repeated ids count once each): the rows of dL/dy sorted by id
and summed per id (`np.add.reduceat`), several times faster than the scatter-add
`np.add.at`.
The ids are not differentiable: the input gradient is zero.
"""

from __future__ import annotations

import numpy as np

from nncli.errors import InputError
from nncli.layers.base import PARAMS_OPTION, Example, Layer, expect_rank
from nncli.options import REQUIRED, Option

# How far from a whole number an id may be and still count as one. Models run in float64, so
# ids arrive as floats; gradcheck perturbs them by 1e-5, which must not change the token.
ID_TOLERANCE = 1e-3


class Embedding(Layer):
    """x: (N, T) token ids in 0..V-1 (floats holding whole numbers) -> y: (N, T, D).

    params: weight (V, D). Initialised by the generic rule (Glorot uniform with
    fan_in = D, fan_out = V), not torch's N(0, 1), so the recurrent layer after it starts
    with inputs of the size its own weights expect.
    """

    kind = "embedding"
    summary = "token ids (T,) -> vectors (T, dim) by table lookup"
    OPTIONS = {
        "vocab": Option("int>=1|vocab", "vocab", "number of token ids ('vocab': the text "
                        "dataset's vocabulary size)"),
        "dim": Option("int>=1", REQUIRED, "size of each token's vector"),
        "params": PARAMS_OPTION,
    }
    EXAMPLE = Example({"vocab": 5, "dim": 3}, (4,),
                      lambda rng, shape: rng.integers(0, 5, shape).astype(np.float64))

    def __init__(self, vocab: int, dim: int) -> None:
        super().__init__()
        self.vocab, self.dim = vocab, dim
        self._ids: np.ndarray | None = None

    def output_shape(self, input_shape):
        expect_rank(input_shape, (1,), "token ids (T,)",
                    "give the input shape as [steps] (one id per step)")
        return (*input_shape, self.dim)

    def param_shapes(self, input_shape):
        return {"weight": (self.vocab, self.dim)}

    def ids(self, x: np.ndarray) -> np.ndarray:
        """The int64 ids in x; an id that is not a whole number in 0..V-1 is an InputError."""
        x = np.asarray(x)
        if x.dtype.kind in "iu":
            ids = x.astype(np.int64)
        else:
            if not np.all(np.isfinite(x)):
                raise InputError("embedding: token ids must be finite whole numbers")
            ids = np.rint(x).astype(np.int64)
            if x.size and np.max(np.abs(x - ids)) > ID_TOLERANCE:
                raise InputError("embedding: token ids must be whole numbers, got "
                                 f"{x.flat[int(np.argmax(np.abs(x - ids)))]:g}")
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab):
            raise InputError(f"embedding: token ids must be in 0..{self.vocab - 1} for a "
                             f"vocabulary of {self.vocab} but range over "
                             f"{int(ids.min())}..{int(ids.max())}")
        return ids

    def forward(self, x):
        self._ids, self._x_shape = self.ids(x), np.shape(x)
        return self.params["weight"][self._ids]

    def backward(self, dy):
        grad = np.zeros_like(self.params["weight"])
        ids = self._ids.reshape(-1)
        if ids.size:
            # A stable sort of 16-bit ids is a radix sort: ~10x faster than of int64 ones.
            order = np.argsort(ids.astype(np.uint16) if self.vocab <= 2**16 else ids,
                               kind="stable")
            ids = ids[order]
            starts = np.flatnonzero(np.concatenate(([True], ids[1:] != ids[:-1])))
            rows = np.take(dy.reshape(-1, self.dim), order, axis=0)
            grad[ids[starts]] = np.add.reduceat(rows, starts, axis=0)
        self._add_grads(weight=grad)
        return np.zeros(self._x_shape, dtype=dy.dtype)

    def describe(self):
        return f"{self.vocab} tokens -> {self.dim} dims"
