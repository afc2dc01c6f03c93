"""What the gated cells with torch's stacked-gate layout (lstm, gru) share.

torch keeps a cell's gates stacked in one matrix: weight_ih_l0 (G H, I) and weight_hh_l0
(G H, H) hold G blocks of H rows, one per gate (lstm: i, f, g, o; gru: r, z, n), and
bias_ih_l0 / bias_hh_l0 (G H,) the same way. `Gated` holds what follows from that layout:
the parameter shapes, the initialisation, the input terms of every step in one matmul, the
parameter gradients as a few large products, and grad-trace's rescaling (per gate block).

Fast path. Inside forward and backward the arrays are time-major, (T, N, ·), so that each
step reads and writes contiguous (N, ·) slices of preallocated buffers; `states` and
`state_gradients()` show them batch-first (N, T, H) as views. The gates of a step go through
one exp: sigmoid(a) = 1 / (1 + exp(-a)), with the minus sign folded into copies of the
weight rows (negating, like doubling, is exact in floating point), and a tanh gate as
tanh(a) = 2 sigmoid(2a) - 1 (rows times -2). exp and a reciprocal cost half of numpy's tanh
in float64 (a third less in float32). exp(-a) overflows to inf for a << 0, which gives the
right sigmoid, 0; the overflow warning is silenced. In float32 the compiled kernel
(nncli/kernels.py) does the same in one pass, without the overflow. Buffers take the dtype
of x @ W (float32 stays float32).
"""

from __future__ import annotations

import numpy as np

from nncli.layers.base import init_weight
from nncli.layers.recurrent import (
    Recurrent,
    largest_singular_value,
    orthogonal,
    time_major,
    weight_grads,
)


class Gated(Recurrent):
    """Base of lstm and gru. A subclass sets GATES (gate names in torch's row order) and
    ROW_SCALE: per gate, the factor its rows get in the copies forward multiplies with
    (-1: a sigmoid through `kernels.sigmoid_of_negated_`, -2: a tanh through it, 1: left as
    is)."""

    takes_token_inputs = True
    GATES: tuple[str, ...] = ()
    ROW_SCALE: tuple[float, ...] = ()

    # ------------------------------------------------------------------ parameters

    def param_shapes(self, input_shape):
        rows, i = len(self.GATES) * self.hidden, input_shape[-1]
        shapes = {"weight_ih_l0": (rows, i), "weight_hh_l0": (rows, self.hidden)}
        return shapes | ({"bias_ih_l0": (rows,), "bias_hh_l0": (rows,)} if self.use_bias
                         else {})

    def init_params(self, input_shape, rng):
        """Each gate's (H, I) and (H, H) block is drawn as a matrix of its own (Glorot with
        fan_out = H, as for rnn's U), not the stack as one (G H, I) matrix, whose larger
        fan_out would shrink every gate's weights; biases 0 (nncli's rule for every layer;
        torch draws them uniformly)."""
        h = self.hidden
        for name, shape in self.param_shapes(input_shape).items():
            if len(shape) == 1:
                self.params[name] = np.zeros(shape)
                continue
            self.params[name] = np.concatenate([
                init_weight(rng, (h, shape[1]), shape[1], h, "tanh") for _ in self.GATES])

    def blocks(self, name: str) -> list[np.ndarray]:
        """A stacked parameter split into its gates' blocks (views), in GATES order."""
        return np.split(self.params[name], len(self.GATES))

    def _scaled(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Copies of weight_ih, weight_hh, bias_ih, bias_hh with each gate's rows times its
        ROW_SCALE (exact: powers of two and signs); biases None without bias."""
        factor = np.repeat(np.asarray(self.ROW_SCALE, dtype=float), self.hidden)
        out = []
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            value = self.params.get(name)
            if value is not None:
                value = value * (factor[:, None] if value.ndim == 2 else factor).astype(
                    value.dtype)
            out.append(value)
        return tuple(out)

    def _start_backward(self, dy: np.ndarray, dtype) -> tuple[np.ndarray, np.ndarray | None]:
        """The dL/dh_t buffer (T, N, H), its last step set to what arrives from the output,
        and the time-major output gradients of every step (None for 'last': only the last
        step has one, so the loop adds nothing)."""
        steps, n, _ = self._h.shape
        dh_all = np.empty((steps, n, self.hidden), dtype=dtype)
        if not self.return_sequences:
            dh_all[-1] = dy
            return dh_all, None
        dout = dy.swapaxes(0, 1)
        dh_all[-1] = dout[-1]
        return dh_all, dout

    def param_grads(self, per_step=False):
        """From dL/d(input terms) and dL/d(recurrent terms) (self._d_in, self._d_hh, both
        (T, N, G H); the same array for an lstm): sums of outer products over samples and
        steps, or kept per step (T, *shape)."""
        names = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
        values = weight_grads(self._d_in, self._d_hh, self._inputs, self._h, self.use_bias,
                              per_step)
        return {k: v for k, v in zip(names, values, strict=True) if v is not None}

    # ------------------------------------------------------------------ shared by both loops

    def _gate(self, k: int) -> np.ndarray:
        """Gate k (GATES order) for every step, time-major (T, N, H): a view of the buffer
        forward filled."""
        h = self.hidden
        return self._gates[..., k * h:(k + 1) * h]

    def _output(self, hs):
        """y from the time-major states: batch-first (N, T, H), or the last step (N, H)."""
        return np.ascontiguousarray(hs.swapaxes(0, 1)) if self.return_sequences else \
            hs[-1].copy()

    # ------------------------------------------------------------------ states as seen outside

    @property
    def states(self):
        """h_1..h_T batch-first (N, T, H): a view of the time-major buffer."""
        return None if self._h is None else self._h.swapaxes(0, 1)

    @states.setter
    def states(self, value):
        # Recurrent.__init__ sets `states = None`; the buffer is what forward fills.
        self._h = None if value is None else time_major(value)

    @property
    def state_grads(self):
        """dL/dh_t batch-first (N, T, H) after backward: a view of the time-major buffer."""
        return None if getattr(self, "_dh", None) is None else self._dh.swapaxes(0, 1)

    @state_grads.setter
    def state_grads(self, value):
        self._dh = None if value is None else time_major(value)

    # ------------------------------------------------------------------ grad-trace

    def _block_sigmas(self) -> list[float]:
        return [float(largest_singular_value(b)) for b in self.blocks("weight_hh_l0")]

    def rescale(self, scale):
        """Every gate's recurrent block U_k is scaled so its largest singular value is
        `scale` (all of them are, on the built-in model's orthogonal blocks): the same
        meaning as rnn's U."""
        super().rescale(scale)     # checks scale, refuses an all-zero U; scales the stack
        blocks = []
        for block, sigma in zip(self.blocks("weight_hh_l0"), self._block_sigmas(),
                                strict=True):
            blocks.append(block * (scale / sigma) if sigma > 0 else block)
        self.params["weight_hh_l0"] = np.concatenate(blocks)

    def init_builtin(self, input_shape, seed):
        """Seeded weights, then every gate's recurrent block a random orthogonal (H, H)
        matrix from its own stream (so each block has every singular value 1)."""
        self.init_params(input_shape, np.random.default_rng(seed))
        rng = np.random.default_rng([seed, 1])
        self.params["weight_hh_l0"] = np.concatenate(
            [orthogonal(rng, self.hidden) for _ in self.GATES])

    def describe(self):
        out = "all steps" if self.return_sequences else "last step"
        return f"{self.hidden} hidden, {out}" + ("" if self.use_bias else ", no bias")
