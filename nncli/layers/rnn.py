"""Simple recurrent layer, like torch.nn.RNN (tanh, one layer, batch first, s_0 = 0).

    s_t = tanh(x_t W^T + b_ih + s_{t-1} U^T + b_hh),   W = weight_ih_l0, U = weight_hh_l0

`Recurrent` holds what rnn and gru-lite share: the input checks, the all-steps/last-step
output, the per-step state gradients that `grad-trace` reads, and the parameter gradients
as sums over steps of outer products (kept per step on request).
"""

from __future__ import annotations

import numpy as np

from nncli.layers.base import Layer, expect_rank


class Recurrent(Layer):
    """Base for cells built from a step function and a loop over time.

    x: (N, T, I) -> y: (N, T, H) (return_sequences=True) or (N, H) (the last step).
    After forward, `states` (N, T, H) holds s_1..s_T; after backward, `state_grads`
    (N, T, H) holds dL/ds_t: the gradient arriving from the output at t plus the one
    carried back from t+1. `grad-trace` reads both.
    """

    def __init__(self, hidden: int, bias: bool = True, return_sequences: bool = True) -> None:
        super().__init__()
        self.hidden, self.use_bias, self.return_sequences = hidden, bias, return_sequences
        self.states: np.ndarray | None = None
        self.state_grads: np.ndarray | None = None

    def output_shape(self, input_shape):
        expect_rank(input_shape, (2,), "a sequence (T, F)",
                    "give the input shape as [steps, features]")
        steps = input_shape[0]
        return (steps, self.hidden) if self.return_sequences else (self.hidden,)

    def _output(self, states: np.ndarray) -> np.ndarray:
        return states if self.return_sequences else states[:, -1]

    def _output_grads(self, dy: np.ndarray) -> np.ndarray:
        """dL/dy as a per-step array (N, T, H): zeros except the last step for 'last'."""
        if self.return_sequences:
            return dy
        full = np.zeros_like(self.states)
        full[:, -1] = dy
        return full

    @staticmethod
    def _previous(states: np.ndarray) -> np.ndarray:
        """s_{t-1} for every t: the states shifted one step right, s_0 = 0."""
        prev = np.zeros_like(states)
        prev[:, 1:] = states[:, :-1]
        return prev

    @staticmethod
    def outer_sum(da: np.ndarray, v: np.ndarray, per_step: bool = False) -> np.ndarray:
        """sum over n (and t unless per_step) of da[n,t]^T v[n,t]: (H, K) or (T, H, K)."""
        if per_step:
            return np.einsum("nth,ntk->thk", da, v)
        return np.tensordot(da, v, axes=([0, 1], [0, 1]))

    def step_param_grads(self) -> dict[str, np.ndarray]:
        """Each parameter's gradient split by time step: name -> (T, *shape); sums to grads."""
        return self.param_grads(per_step=True)

    def param_grads(self, per_step: bool = False) -> dict[str, np.ndarray]:
        raise NotImplementedError


class RNN(Recurrent):
    """params: weight_ih_l0 (H, I), weight_hh_l0 (H, H), bias_ih_l0 (H,), bias_hh_l0 (H,)."""

    kind = "rnn"

    def param_shapes(self, input_shape):
        h, i = self.hidden, input_shape[-1]
        shapes = {"weight_ih_l0": (h, i), "weight_hh_l0": (h, h)}
        return shapes | ({"bias_ih_l0": (h,), "bias_hh_l0": (h,)} if self.use_bias else {})

    def forward(self, x):
        p = self.params
        w, u = p["weight_ih_l0"], p["weight_hh_l0"]
        a_in = x @ w.T                                   # every step's input term at once
        if self.use_bias:
            a_in = a_in + (p["bias_ih_l0"] + p["bias_hh_l0"])
        n, steps, _ = x.shape
        states = np.empty((n, steps, self.hidden), dtype=a_in.dtype)
        s = np.zeros((n, self.hidden), dtype=a_in.dtype)
        z = np.empty_like(s)
        for t in range(steps):
            # s_t = tanh(a_t + s_{t-1} U^T), into reused buffers (no temporaries per step)
            np.matmul(s, u.T, out=z)
            np.add(a_in[:, t], z, out=z)
            np.tanh(z, out=s)
            states[:, t] = s
        self._x, self.states = x, states
        return self._output(states)

    def backward(self, dy):
        u = self.params["weight_hh_l0"]
        dout = self._output_grads(dy)
        states = self.states
        da = 1.0 - states * states                       # tanh' per step, then dL/d(pre-act)
        ds_all = np.empty_like(states)
        carry = np.zeros_like(states[:, 0])
        for t in range(states.shape[1] - 1, -1, -1):
            ds = np.add(dout[:, t], carry, out=ds_all[:, t])
            da_t = da[:, t]
            da_t *= ds
            np.matmul(da_t, u, out=carry)
        self._da, self.state_grads = da, ds_all
        self._add_grads(**self.param_grads())
        return da @ self.params["weight_ih_l0"]

    def param_grads(self, per_step=False):
        da = self._da
        grads = {"weight_ih_l0": self.outer_sum(da, self._x, per_step),
                 "weight_hh_l0": self.outer_sum(da, self._previous(self.states), per_step)}
        if self.use_bias:
            db = da.sum(axis=0) if per_step else da.sum(axis=(0, 1))
            grads["bias_ih_l0"] = db
            grads["bias_hh_l0"] = db.copy()
        return grads

    def step_jacobians(self) -> np.ndarray:
        """ds_t/ds_{t-1} = diag(1 - s_t^2) U for every sample and step: (N, T, H, H)."""
        u = self.params["weight_hh_l0"]
        return (1.0 - self.states ** 2)[..., None] * u

    def describe(self):
        out = "all steps" if self.return_sequences else "last step"
        return f"{self.hidden} hidden, tanh, {out}" + ("" if self.use_bias else ", no bias")
