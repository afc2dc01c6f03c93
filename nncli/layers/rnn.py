"""Simple recurrent layer, like torch.nn.RNN (tanh, one layer, batch first, s_0 = 0).

    s_t = tanh(x_t W^T + b_ih + s_{t-1} U^T + b_hh),   W = weight_ih_l0, U = weight_hh_l0

The loop's shared machinery and the grad-trace contract are in recurrent.py. The loops run
time-major, (T, N, H), so each step reads and writes contiguous (N, H) slices; `states`
and `state_grads` are batch-first (N, T, H) views of those buffers.
"""

from __future__ import annotations

import numpy as np

from nncli.kernels import tanh_
from nncli.layers.base import PARAMS_OPTION, RETURN_OPTION, Example
from nncli.layers.recurrent import (
    Bound,
    Recurrent,
    largest_singular_value,
    step_inputs,
    time_major,
    weight_grads,
)
from nncli.options import REQUIRED, Option


class RNN(Recurrent):
    """params: weight_ih_l0 (H, I), weight_hh_l0 (H, H), bias_ih_l0 (H,), bias_hh_l0 (H,)."""

    kind = "rnn"
    takes_token_inputs = True
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
        self._inputs = step_inputs(x)
        # Every step's input term in one matmul; the buffer then becomes the states in place.
        hs = self._inputs.project(w, p["bias_ih_l0"] + p["bias_hh_l0"] if self.use_bias
                                  else None)
        steps, n, _ = hs.shape
        z = np.empty((n, self.hidden), dtype=hs.dtype)
        u_t = np.ascontiguousarray(u.T)
        for t in range(steps):
            # s_t = tanh(a_t + s_{t-1} U^T), into reused buffers (no temporaries per step)
            s = hs[t]
            if t:
                np.dot(hs[t - 1], u_t, out=z)
                s += z
            tanh_(s)
        self._s_tm, self.states = hs, hs.swapaxes(0, 1)
        return np.ascontiguousarray(self.states) if self.return_sequences else hs[-1].copy()

    def backward(self, dy):
        u = self.params["weight_hh_l0"]
        hs = self._s_tm
        da = 1.0 - hs * hs                               # tanh' per step, then dL/d(pre-act)
        ds_all = np.empty_like(hs)
        ds_all[-1] = dy[:, -1] if self.return_sequences else dy
        dout = time_major(dy) if self.return_sequences else None
        for t in range(len(hs) - 1, -1, -1):
            da_t = da[t]
            da_t *= ds_all[t]
            if t:                                        # dL/ds_{t-1}: carried + output's
                carry = np.dot(da_t, u, out=ds_all[t - 1])
                if dout is not None:
                    carry += dout[t - 1]
        self._da, self.state_grads = da, ds_all.swapaxes(0, 1)
        return self._finish_backward(da)

    def param_grads(self, per_step=False):
        names = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
        values = weight_grads(self._da, self._da, self._inputs, self._s_tm, self.use_bias,
                              per_step)
        return {k: v for k, v in zip(names, values, strict=True) if v is not None}

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
