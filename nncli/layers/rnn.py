"""Simple recurrent layer, like torch.nn.RNN (tanh, one layer, batch first, s_0 = 0).

    s_t = tanh(x_t W^T + b_ih + s_{t-1} U^T + b_hh),   W = weight_ih_l0, U = weight_hh_l0

The loop's shared machinery and the grad-trace contract are in recurrent.py.
"""

from __future__ import annotations

import numpy as np

from nncli.layers.base import PARAMS_OPTION, RETURN_OPTION, Example
from nncli.layers.recurrent import Bound, Recurrent, largest_singular_value
from nncli.options import REQUIRED, Option


class RNN(Recurrent):
    """params: weight_ih_l0 (H, I), weight_hh_l0 (H, H), bias_ih_l0 (H,), bias_hh_l0 (H,)."""

    kind = "rnn"
    summary = "simple recurrent cell s_t = tanh(x_t W^T + s_{t-1} U^T + b)"
    OPTIONS = {
        "hidden": Option("int>=1", REQUIRED, "state size H"),
        "bias": Option("bool", True, "add learned biases"),
        "return": RETURN_OPTION,
        "params": PARAMS_OPTION,
    }
    EXAMPLE = Example({"hidden": 3}, (4, 2))

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

    def state_symbol(self, name):
        return "s"                                       # the course notes' s_t

    def bound(self):
        """Pascanu, Mikolov & Bengio 2013: tanh' <= 1, so ‖J_t‖ <= λ1(U)."""
        lam = float(largest_singular_value(self.params["weight_hh_l0"]))
        return Bound(lam, lam, "pascanu: ‖∂s_t/∂s_k‖ <= λ1^(t-k) (tanh' <= 1)")

    def explain_factor(self, t):
        """ds_t/ds_{t-1} = U (1 - s_t²) for a scalar cell (t = 1..T, sample 0)."""
        u, s = float(self.params["weight_hh_l0"][0, 0]), float(self.states[0, t - 1, 0])
        return f"U (1 - s_{t}²) = ({{0:short}})(1 - {{1:square}}²)", [u, s]

    def describe(self):
        out = "all steps" if self.return_sequences else "last step"
        return f"{self.hidden} hidden, tanh, {out}" + ("" if self.use_bias else ", no bias")
