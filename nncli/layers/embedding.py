"""Embedding: a lookup table from token ids to vectors, like torch.nn.Embedding.

    y[n, t] = weight[x[n, t]]             weight: (V, D), one row per token of the vocabulary

Equivalently, y = onehot(x) @ weight, so dL/dweight[v] is the sum of dL/dy[n, t] over every
position where x[n, t] = v (repeated ids count once each): `sum_per_id`.
The ids are not differentiable: the input gradient is zero.

In training, an embedding before a recurrent cell can hand the cell its ids and table
instead of y (`TokenInputs`, where that is cheaper): the cell then works with the small
table E W^T instead of multiplying every position's vector by W.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from nncli import kernels
from nncli.errors import InputError
from nncli.layers.base import PARAMS_OPTION, Example, Layer, expect_rank
from nncli.options import REQUIRED, Option

# How far from a whole number an id may be and still count as one. Models run in float64, so
# ids arrive as floats; gradcheck perturbs them by 1e-5, which must not change the token.
ID_TOLERANCE = 1e-3
# sum_per_id multiplies by a one-hot matrix up to this many entries (V x positions), and
# sorts beyond: 62 characters x 2,048 positions is one fast product, 5,000 words x 2,048 not.
ONE_HOT_LIMIT = 2**20


def sum_per_id(ids: np.ndarray, rows: np.ndarray, vocab: int) -> np.ndarray:
    """rows (M, K) summed per id, ids (M,) in 0..vocab-1: (vocab, K) = onehot(ids)^T rows.
    In float32, the compiled kernel adds each row to its id's (nncli/kernels.py). Otherwise
    a small one-hot matrix makes it one BLAS product; larger ones sort the rows by id and sum
    each run of equal ids (np.add.reduceat), several times faster than np.add.at."""
    out = np.zeros((vocab, rows.shape[-1]), dtype=rows.dtype)
    if not ids.size or kernels.add_rows_at(ids, rows, out):
        return out
    if vocab * ids.size <= ONE_HOT_LIMIT:
        onehot = np.zeros((vocab, ids.size), dtype=rows.dtype)
        onehot[ids, np.arange(ids.size)] = 1.0
        return np.matmul(onehot, rows, out=out)
    # A stable sort of 16-bit ids is a radix sort: ~10x faster than of int64 ones.
    order = np.argsort(ids.astype(np.uint16) if vocab <= 2**16 else ids, kind="stable")
    ids = ids[order]
    starts = np.flatnonzero(np.concatenate(([True], ids[1:] != ids[:-1])))
    out[ids[starts]] = np.add.reduceat(np.take(rows, order, axis=0), starts, axis=0)
    return out


class TableGrad(NamedTuple):
    """dL/d(embedding table) (V, D), from the layer that took TokenInputs: what
    Embedding.backward adds in place of a gradient per position."""

    weight: np.ndarray


class TokenInputs:
    """An embedding's output y = E[ids] handed on unbuilt, as the ids and the table E (V, D),
    to a layer whose first step multiplies its input by weights w (R, D): a recurrent cell,
    which reads its input through the methods recurrent.StepInputs has. Then
        input terms   y_t w^T = (E w^T)[ids]     one (V, D) x (D, R) product and a lookup
        dL/dw         G^T E                      G = onehot(ids)^T d (V, R): sum_per_id
        dL/dE         G w
    instead of three products of (positions, D) x (D, R) size and a sum per id of dL/dy.
    The chars models save a fifth of the cell's input work; Embedding.forward_to decides
    when it pays."""

    def __init__(self, ids: np.ndarray, table: np.ndarray) -> None:
        self.ids = np.ascontiguousarray(ids.T)          # (T, N): time-major, as cells run
        self.table = table
        self._per_id: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def x(self) -> np.ndarray:
        """y itself, time-major (T, N, D): for gradients kept per step (grad-trace)."""
        return self.table[self.ids]

    def project(self, w: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
        terms = self.table @ w.T
        if bias is not None:
            terms += bias
        return np.take(terms, self.ids, axis=0)          # (T, N, R)

    def _sums(self, d: np.ndarray) -> np.ndarray:
        """G for d (T, N, R), once for both gradients below."""
        if self._per_id is None or self._per_id[0] is not d:
            self._per_id = (d, sum_per_id(self.ids.reshape(-1), d.reshape(-1, d.shape[-1]),
                                          len(self.table)))
        return self._per_id[1]

    def weight_grad(self, d: np.ndarray) -> np.ndarray:
        return self._sums(d).T @ self.table

    def input_grad(self, d: np.ndarray, w: np.ndarray) -> TableGrad:
        return TableGrad(self._sums(d) @ w)


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

    def forward_to(self, consumer, x):
        """TokenInputs for a consumer that takes them, when its products with the table
        (V rows) cost less than with every position's vector (D columns each): V <= 2 D,
        and a one-hot sum per id (the 62 characters of the chars models, dim 32)."""
        worth = self.vocab <= 2 * self.dim and self.vocab * np.size(x) <= ONE_HOT_LIMIT
        if not (worth and getattr(consumer, "takes_token_inputs", False)):
            return self.forward(x)
        self._ids, self._x_shape = self.ids(x), np.shape(x)
        return TokenInputs(self._ids, self.params["weight"])

    def backward(self, dy):
        if isinstance(dy, TableGrad):                  # the consumer of TokenInputs did it
            self._add_grads(weight=dy.weight)
            return np.zeros(self._x_shape, dtype=dy.weight.dtype)
        self._add_grads(weight=sum_per_id(self._ids.reshape(-1), dy.reshape(-1, self.dim),
                                          self.vocab))
        return np.zeros(self._x_shape, dtype=dy.dtype)

    def describe(self):
        return f"{self.vocab} tokens -> {self.dim} dims"
