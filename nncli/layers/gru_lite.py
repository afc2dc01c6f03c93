"""gru-lite: the gated cell of the course notes (docs/course-examples.md, example 5).

    g_t = sigmoid(x_t Wg^T + s_{t-1} Ug^T + bg)          the gate
    c_t = tanh(x_t W^T + s_{t-1} U^T + b)                 the candidate state
    s_t = g_t * c_t + (1 - g_t) * s_{t-1}

Parameter names (shapes): weight_ih_l0 = W (H, I), weight_hh_l0 = U (H, H), bias_l0 = b (H,),
weight_ig_l0 = Wg (H, I), weight_hg_l0 = Ug (H, H), bias_g_l0 = bg (H,).
With `gate` fixed to a number the gate parameters do not exist and g_t is that constant;
gate = 1 gives exactly the simple rnn (with b = b_ih + b_hh).
"""

from __future__ import annotations

import numpy as np

from nncli.errors import InputError
from nncli.kernels import tanh_
from nncli.layers.base import PARAMS_OPTION, RETURN_OPTION, Example
from nncli.layers.recurrent import (
    Bound,
    Recurrent,
    Series,
    largest_singular_value,
    previous,
    step_inputs,
    time_major,
    weight_grads,
)
from nncli.options import REQUIRED, Option


class GruLite(Recurrent):
    kind = "gru-lite"
    takes_token_inputs = True
    summary = "one-gate cell s_t = g_t c_t + (1 - g_t) s_{t-1}; gate 1 is the rnn"
    OPTIONS = {
        "hidden": Option("int>=1", REQUIRED, "state size H"),
        "bias": Option("bool", True, "add learned biases"),
        "return": RETURN_OPTION,
        "gate": Option("gate", None, "null: a learned gate; a number in [0, 1] fixes g_t"),
        "params": PARAMS_OPTION,
    }
    EXAMPLE = Example({"hidden": 3, "return": "last"}, (4, 2))

    def __init__(self, hidden: int, bias: bool = True, return_sequences: bool = True,
                 gate: float | None = None) -> None:
        super().__init__(hidden, bias, return_sequences)
        self.fixed_gate = gate

    def param_shapes(self, input_shape):
        h, i = self.hidden, input_shape[-1]
        shapes = {"weight_ih_l0": (h, i), "weight_hh_l0": (h, h)}
        if self.use_bias:
            shapes["bias_l0"] = (h,)
        if self.fixed_gate is None:
            shapes |= {"weight_ig_l0": (h, i), "weight_hg_l0": (h, h)}
            if self.use_bias:
                shapes["bias_g_l0"] = (h,)
        return shapes

    def _rows(self, kind: str) -> list[str]:
        """The parameters whose rows forward stacks into one matrix: the candidate's, then
        the learned gate's (kind: "ih" input weights, "hh" recurrent weights, "b" biases)."""
        names = {"ih": ("weight_ih_l0", "weight_ig_l0"), "hh": ("weight_hh_l0", "weight_hg_l0"),
                 "b": ("bias_l0", "bias_g_l0")}[kind]
        return list(names if self.fixed_gate is None else names[:1])

    def _stack(self, kind: str) -> np.ndarray:
        return np.concatenate([self.params[name] for name in self._rows(kind)])

    def forward(self, x):
        h, learned_gate = self.hidden, self.fixed_gate is None
        self._inputs = step_inputs(x)
        # Candidate and gate pre-activations of every step in one matmul, (T, N, H) or
        # (T, N, 2H); each step then turns its slice into c_t (and g_t) in place.
        self._w, self._u = self._stack("ih"), self._stack("hh")
        pre = self._inputs.project(self._w, self._stack("b") if self.use_bias else None)
        steps, n, _ = pre.shape
        dtype = pre.dtype
        cands, hs = pre[..., :h], np.empty((steps, n, h), dtype=dtype)
        if learned_gate:
            gates = pre[..., h:]
        else:
            gates = np.full((steps, n, h), self.fixed_gate, dtype=dtype)
        recurrent, tmp = np.empty_like(pre[0]), np.empty((n, h), dtype=dtype)
        u_t = np.ascontiguousarray(self._u.T)
        for t in range(steps):
            a = pre[t]
            if t:
                np.dot(hs[t - 1], u_t, out=recurrent)
                a += recurrent
            c, g = cands[t], gates[t]
            tanh_(c)
            if learned_gate:                     # sigmoid(z) = 0.5 (1 + tanh(z / 2)), in place
                g *= 0.5
                tanh_(g)
                g += 1.0
                g *= 0.5
            # The notes' form, so that g = 1 gives s_t = c_t bit for bit (the simple rnn).
            np.multiply(g, c, out=hs[t])
            if t:
                np.subtract(1.0, g, out=tmp)
                tmp *= hs[t - 1]
                hs[t] += tmp
        self._s_tm = hs
        self.states, self._cands, self.gates = (a.swapaxes(0, 1) for a in (hs, cands, gates))
        return np.ascontiguousarray(self.states) if self.return_sequences else hs[-1].copy()

    def backward(self, dy):
        h, learned_gate = self.hidden, self.fixed_gate is None
        hs = self._s_tm
        c, g = self._cands.swapaxes(0, 1), self.gates.swapaxes(0, 1)     # time-major views
        # dL/d(pre-activations) per dL/ds_t: the candidate's g (1 - c²), the gate's
        # (c - s_{t-1}) g (1 - g); and s_{t-1}'s own share of s_t, 1 - g.
        d_pre = np.empty((*hs.shape[:2], self._u.shape[0]), dtype=hs.dtype)
        from_c = g * (1.0 - c * c)
        keep = 1.0 - g
        from_g = (c - previous(hs)) * g * keep if learned_gate else None
        ds_all = np.empty_like(hs)
        ds_all[-1] = dy[:, -1] if self.return_sequences else dy
        dout = time_major(dy) if self.return_sequences else None
        tmp = np.empty_like(hs[0])
        for t in range(len(hs) - 1, -1, -1):
            ds, d = ds_all[t], d_pre[t]
            np.multiply(ds, from_c[t], out=d[:, :h])
            if learned_gate:
                np.multiply(ds, from_g[t], out=d[:, h:])
            if t:                                # dL/ds_{t-1}: through U (and Ug), the
                carry = np.dot(d, self._u, out=ds_all[t - 1])     # ungated path (not
                np.multiply(ds, keep[t], out=tmp)                 # squashed), and the
                carry += tmp                                      # output at t-1
                if dout is not None:
                    carry += dout[t - 1]
        self._d_pre, self.state_grads = d_pre, ds_all.swapaxes(0, 1)
        return self._finish_backward(d_pre, self._w)

    def param_grads(self, per_step=False):
        w, u, b, _ = weight_grads(self._d_pre, self._d_pre, self._inputs, self._s_tm,
                                  self.use_bias, per_step)
        rows = (slice(None),) * per_step            # the row axis is 1 when kept per step
        grads = {}
        for k, (w_name, u_name, b_name) in enumerate(zip(*(self._rows(kind) for kind in
                                                          ("ih", "hh", "b")), strict=True)):
            part = (*rows, slice(k * self.hidden, (k + 1) * self.hidden))
            grads[w_name], grads[u_name] = w[part], u[part]
            if b is not None:
                grads[b_name] = b[part]
        return grads

    # grad-trace --gate: hold the gate at a constant (only this cell has one to hold).
    trace_options = {"gate": Option("gate", None, "hold the gate at this value in [0, 1]; "
                                    "1 is exactly the simple rnn")}

    def set_trace_option(self, name, value):
        """--gate g: the gate becomes the constant g and its parameters go away."""
        if name != "gate":
            super().set_trace_option(name, value)
        if not 0.0 <= value <= 1.0:
            raise InputError(f"--gate: expected a number in [0, 1], got {value:g}")
        self.fixed_gate = float(value)
        for key in ("weight_ig_l0", "weight_hg_l0", "bias_g_l0"):
            self.params.pop(key, None)
            self.grads.pop(key, None)

    def get_trace_option(self, name):
        return self.fixed_gate if name == "gate" else None

    def state_symbol(self, name):
        return "s"                                       # the course notes' s_t

    def trace_series(self):
        return {"gate": Series("gate", self.gates)}

    def explain_factor(self, t):
        """ds_t/ds_{t-1} of a scalar cell (t = 1..T, sample 0), the step_jacobians formula."""
        g, c = float(self.gates[0, t - 1, 0]), float(self._cands[0, t - 1, 0])
        u = float(self.params["weight_hh_l0"][0, 0])
        if self.fixed_gate is not None:
            return (f"(1 - g) + g U (1 - c_{t}²) = (1 - {{0:short}}) + ({{0:short}})"
                    f"({{1:short}})(1 - {{2:square}}²)", [g, u, c])
        prev = float(self.states[0, t - 2, 0]) if t > 1 else 0.0
        ug = float(self.params["weight_hg_l0"][0, 0])
        return (f"(1 - g_{t}) + g_{t} U (1 - c_{t}²) + (c_{t} - s_{t - 1}) g_{t} (1 - g_{t}) "
                f"Ug = (1 - {{0:precise}}) + ({{0:precise}})({{1:short}})(1 - {{2:square}}²) "
                f"+ ({{2:precise}} - {{3:precise}})({{0:precise}})(1 - {{0:precise}})"
                f"({{4:short}})", [g, u, c, prev, ug])

    def bound(self):
        """J = diag(1-g) + diag(g (1-c²)) U + diag((c - s_{t-1}) g (1-g)) Ug.

        A fixed gate is one scalar g for every unit, so ‖J‖ <= (1-g) + g λ1(U) (triangle
        inequality). A learned gate differs per unit, and that bound fails: U the swap
        matrix, Ug = 0, g = (0, 1), c = 0 give J = [[1, 0], [1, 0]], norm √2. Per unit,
        (J0 x)_i = (1-g_i) x_i + g_i (A x)_i with A = diag(1-c²) U is a convex combination,
        so (J0 x)_i² <= x_i² + (A x)_i² and ‖J0‖ <= √(1 + λ1(U)²), which that example
        attains for any λ1 = λ1(U) (U = λ1 swap). With one unit it is max(1, λ1). The gate
        term adds λ1(Ug)/2: |c| <= 1 and |s_{t-1}| <= 1 (s is a convex combination of
        candidates, from s_0 = 0), so |c - s_{t-1}| <= 2, and g (1-g) <= 1/4."""
        lam = float(largest_singular_value(self.params["weight_hh_l0"]))
        if self.fixed_gate is not None:
            g = self.fixed_gate
            return Bound((1 - g) + g * lam, lam,
                         f"fixed gate g={g:g}: ‖∂s_t/∂s_k‖ <= ((1-g) + g λ1)^(t-k)")
        lam_g = float(largest_singular_value(self.params["weight_hg_l0"]))
        if self.hidden == 1:
            return Bound(max(1.0, lam) + 0.5 * lam_g, lam,
                         "learned gate: ‖∂s_t/∂s_k‖ <= (max(1, λ1) + λ1(Ug)/2)^(t-k)")
        return Bound(float(np.hypot(1.0, lam)) + 0.5 * lam_g, lam,
                     "learned gate: ‖∂s_t/∂s_k‖ <= (√(1 + λ1²) + λ1(Ug)/2)^(t-k)")

    def step_jacobians(self) -> np.ndarray:
        """ds_t/ds_{t-1} = diag(1-g) + diag(g (1-c^2)) U + diag((c - s_{t-1}) g (1-g)) Ug."""
        g, c = self.gates, self._cands
        eye = np.eye(self.hidden)
        jac = (1.0 - g)[..., None] * eye + (g * (1.0 - c * c))[..., None] * self.params[
            "weight_hh_l0"]
        if self.fixed_gate is None:
            prev = self._previous(self.states)
            jac += ((c - prev) * g * (1.0 - g))[..., None] * self.params["weight_hg_l0"]
        return jac

    def describe(self):
        out = "all steps" if self.return_sequences else "last step"
        gate = "" if self.fixed_gate is None else f", gate fixed at {self.fixed_gate:g}"
        return f"{self.hidden} hidden, {out}{gate}" + ("" if self.use_bias else ", no bias")
