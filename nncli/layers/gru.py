"""Gated recurrent unit, like torch.nn.GRU (one layer, batch first, h_0 = 0).

    r_t = sigmoid(x_t W_ir^T + b_ir + h_{t-1} W_hr^T + b_hr)       reset gate
    z_t = sigmoid(x_t W_iz^T + b_iz + h_{t-1} W_hz^T + b_hz)       update gate
    n_t = tanh(x_t W_in^T + b_in + r_t * (h_{t-1} W_hn^T + b_hn))  candidate
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}

Parameters under torch's names, gates stacked in torch's order r, z, n: weight_ih_l0
(3H, I) = [W_ir; W_iz; W_in], weight_hh_l0 (3H, H), bias_ih_l0 and bias_hh_l0 (3H,), so a
model's weights file loads into nn.GRU unchanged. b_hn sits inside r_t * (...), so unlike the
other biases it is not the same as a bias on the input side. Initial values: each gate
block Glorot, biases 0 (nncli's rule for every layer; torch draws its biases uniformly).

gru-lite is this cell with the reset gate held open (r = 1) and the update gate written the
other way round: its g_t is 1 - z_t, so s_t = g c + (1 - g) s_{t-1}.

grad-trace. One state, h; its step Jacobian is

    dh_t/dh_{t-1} = diag(z) + diag((h_{t-1} - n) z (1-z)) W_hz
                    + diag((1-z)(1-n^2) r) W_hn + diag((1-z)(1-n^2) a_n r (1-r)) W_hr

with a_n = h_{t-1} W_hn^T + b_hn. Bound: |h| < 1 (h_t mixes n_t in (-1, 1) with h_{t-1}),
so |h_{t-1} - n| < 2, z (1-z) <= 1/4, and |a_n| <= m = max_j (sum_k |W_hn[j, k]| + |b_hn[j]|):
‖J_t‖ <= 1 + λ1(W_hz)/2 + λ1(W_hn) + m λ1(W_hr)/4.
"""

from __future__ import annotations

import numpy as np

from nncli.kernels import sigmoid_of_negated_, tanh_
from nncli.layers.base import PARAMS_OPTION, RETURN_OPTION, Example
from nncli.layers.gated import Gated
from nncli.layers.recurrent import (
    Bound,
    Series,
    largest_singular_value,
    previous,
    step_inputs,
)
from nncli.options import REQUIRED, Option


class GRU(Gated):
    """x: (N, T, I) -> y: (N, T, H) or (N, H) (return 'last')."""

    kind = "gru"
    summary = "as torch.nn.GRU: h_t = (1 - z) n + z h_{t-1}; gates r, z, n"
    OPTIONS = {
        "hidden": Option("int>=1", REQUIRED, "state size H"),
        "bias": Option("bool", True, "add learned biases (bias_ih_l0 and bias_hh_l0)"),
        "return": RETURN_OPTION,
        "params": PARAMS_OPTION,
    }
    EXAMPLE = Example({"hidden": 3}, (4, 2))
    GATES = ("reset", "update", "candidate")
    ROW_SCALE = (-1.0, -1.0, 1.0)     # sigmoid, sigmoid; n through np.tanh

    def __init__(self, hidden: int, bias: bool = True, return_sequences: bool = True) -> None:
        super().__init__(hidden, bias, return_sequences)
        self._d_in = None

    # ------------------------------------------------------------------ forward

    def forward(self, x):
        h_size = self.hidden
        w_ih, w_hh, b_ih, b_hh = self._scaled()
        bias = None
        if b_ih is not None:
            bias = b_ih.copy()
            bias[:2 * h_size] += b_hh[:2 * h_size]      # b_hn stays inside r * (...)
            b_hn = b_hh[2 * h_size:]
        # Every step's input term in one matmul; the buffer then holds r, z, n step by step.
        self._inputs = step_inputs(x)
        gates = self._inputs.project(w_ih, bias)
        steps, n, _ = gates.shape
        dtype = gates.dtype
        hs, a_n = (np.empty((steps, n, h_size), dtype=dtype) for _ in range(2))
        h = np.zeros((n, h_size), dtype=dtype)
        recurrent = np.empty((n, 3 * h_size), dtype=dtype)
        tmp = np.empty((n, h_size), dtype=dtype)
        w_hh_t = np.ascontiguousarray(w_hh.T)
        with np.errstate(over="ignore"):
            for t in range(steps):
                a = gates[t]
                np.dot(h, w_hh_t, out=recurrent)
                rz, cand = a[:, :2 * h_size], a[:, 2 * h_size:]
                rz += recurrent[:, :2 * h_size]
                sigmoid_of_negated_(rz)
                r, z = rz[:, :h_size], rz[:, h_size:]
                if bias is None:
                    a_n[t] = recurrent[:, 2 * h_size:]
                else:
                    np.add(recurrent[:, 2 * h_size:], b_hn, out=a_n[t])
                np.multiply(r, a_n[t], out=tmp)
                cand += tmp
                tanh_(cand)
                np.subtract(h, cand, out=tmp)                # h_t = n + z (h_{t-1} - n)
                tmp *= z
                np.add(cand, tmp, out=hs[t])
                h = hs[t]
        self._gates, self._a_n, self._h = gates, a_n, hs
        return self._output(hs)



    def _factors(self):
        """The per-step derivatives backward and step_jacobians share, all (T, N, H):
        dn_pre per dh_t, dz_pre per dh_t, dr_pre per dn_pre."""
        r, z, n = (self._gate(k) for k in range(3))
        n_from_h = (1.0 - z) * (1.0 - n * n)
        z_from_h = (previous(self._h) - n) * z * (1.0 - z)
        r_from_n = self._a_n * r * (1.0 - r)
        return n_from_h, z_from_h, r_from_n

    # ------------------------------------------------------------------ backward

    def backward(self, dy):
        h_size = self.hidden
        w_hh = self.params["weight_hh_l0"]
        n_from_h, z_from_h, r_from_n = self._factors()
        r, z = self._gate(0), self._gate(1)
        dtype = n_from_h.dtype
        dh_all, dout = self._start_backward(dy, dtype)
        steps, n, _ = dh_all.shape
        # dL/d(recurrent terms h W_hh^T + b_hh): r and z as on the input side, n times r
        d_hh = np.empty((steps, n, 3 * h_size), dtype=dtype)
        d_n = np.empty((steps, n, h_size), dtype=dtype)       # dL/d(n's pre-activation)
        tmp = np.empty((n, h_size), dtype=dtype)
        for t in range(steps - 1, -1, -1):
            dh, d = dh_all[t], d_hh[t]
            np.multiply(dh, n_from_h[t], out=d_n[t])
            np.multiply(d_n[t], r_from_n[t], out=d[:, :h_size])
            np.multiply(dh, z_from_h[t], out=d[:, h_size:2 * h_size])
            np.multiply(d_n[t], r[t], out=d[:, 2 * h_size:])
            if t:
                carried = dh_all[t - 1]
                np.dot(d, w_hh, out=carried)
                np.multiply(dh, z[t], out=tmp)
                carried += tmp
                if dout is not None:
                    carried += dout[t - 1]
        d_in = np.concatenate([d_hh[..., :2 * h_size], d_n], axis=-1)
        self._d_in, self._d_hh, self._dh = d_in, d_hh, dh_all
        return self._finish_backward(d_in)

    # ------------------------------------------------------------------ grad-trace contract


    def step_jacobians(self):
        """dh_t/dh_{t-1}: (N, T, H, H), as in the module docstring."""
        n_from_h, z_from_h, r_from_n = (a.swapaxes(0, 1) for a in self._factors())
        r, z = self._gate(0).swapaxes(0, 1), self._gate(1).swapaxes(0, 1)
        w_r, w_z, w_n = self.blocks("weight_hh_l0")
        jac = (z_from_h[..., None] * w_z + (n_from_h * r)[..., None] * w_n
               + (n_from_h * r_from_n)[..., None] * w_r)
        diag = np.arange(self.hidden)
        jac[:, :, diag, diag] += z
        return jac

    def bound(self):
        w_r, w_z, w_n = self.blocks("weight_hh_l0")
        most = np.abs(w_n).sum(axis=1)
        if self.use_bias:
            most = most + np.abs(self.params["bias_hh_l0"][2 * self.hidden:])
        lam_r, lam_z, lam_n = (float(largest_singular_value(w)) for w in (w_r, w_z, w_n))
        rate = 1.0 + lam_z / 2 + lam_n + float(most.max()) * lam_r / 4
        return Bound(rate, max(lam_r, lam_z, lam_n),
                     "‖∂h_t/∂h_k‖ <= (1 + λ1(W_hz)/2 + λ1(W_hn) + m λ1(W_hr)/4)^(t-k), "
                     "m bounding |h W_hn^T + b_hn|")

    def trace_series(self):
        return {"update": Series("update z_t", self._gate(1).swapaxes(0, 1)),
                "reset": Series("reset r_t", self._gate(0).swapaxes(0, 1))}
