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
from nncli.layers.activations import sigmoid
from nncli.layers.base import PARAMS_OPTION, RETURN_OPTION, Example
from nncli.layers.recurrent import Bound, Recurrent, Series, largest_singular_value
from nncli.options import REQUIRED, Option


class GruLite(Recurrent):
    kind = "gru-lite"
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

    def _input_terms(self, x, w_name, b_name):
        a = x @ self.params[w_name].T
        return a + self.params[b_name] if self.use_bias else a

    def forward(self, x):
        p, learned_gate = self.params, self.fixed_gate is None
        u = p["weight_hh_l0"]
        a_c = self._input_terms(x, "weight_ih_l0", "bias_l0")
        n, steps, _ = x.shape
        states = np.empty((n, steps, self.hidden), dtype=a_c.dtype)
        cands, gates = np.empty_like(states), np.empty_like(states)
        if learned_gate:
            a_g, ug = self._input_terms(x, "weight_ig_l0", "bias_g_l0"), p["weight_hg_l0"]
        else:
            gates[:] = self.fixed_gate
        s = np.zeros((n, self.hidden), dtype=a_c.dtype)
        for t in range(steps):
            if learned_gate:
                gates[:, t] = sigmoid(a_g[:, t] + s @ ug.T)
            cands[:, t] = np.tanh(a_c[:, t] + s @ u.T)
            # The notes' form, so that g = 1 gives s_t = c_t bit for bit (the simple rnn).
            s = gates[:, t] * cands[:, t] + (1.0 - gates[:, t]) * s
            states[:, t] = s
        self._x, self.states, self._cands, self.gates = x, states, cands, gates
        return self._output(states)

    def backward(self, dy):
        p, learned_gate = self.params, self.fixed_gate is None
        u = p["weight_hh_l0"]
        ug = p.get("weight_hg_l0")
        dout = self._output_grads(dy)
        states, cands, gates = self.states, self._cands, self.gates
        prev = self._previous(states)
        da_c, da_g, ds_all = (np.zeros_like(states) for _ in range(3))
        carry = np.zeros_like(states[:, 0])
        for t in range(states.shape[1] - 1, -1, -1):
            ds = dout[:, t] + carry
            ds_all[:, t] = ds
            g, c = gates[:, t], cands[:, t]
            da_c[:, t] = ds * g * (1.0 - c * c)
            carry = ds * (1.0 - g) + da_c[:, t] @ u      # the ungated path is not squashed
            if learned_gate:
                da_g[:, t] = ds * (c - prev[:, t]) * g * (1.0 - g)
                carry += da_g[:, t] @ ug
        self._da_c, self._da_g, self.state_grads = da_c, da_g, ds_all
        self._add_grads(**self.param_grads())
        dx = da_c @ p["weight_ih_l0"]
        if learned_gate:
            dx += da_g @ p["weight_ig_l0"]
        return dx

    def param_grads(self, per_step=False):
        prev = self._previous(self.states)
        sum_axes = 0 if per_step else (0, 1)
        pieces = [(self._da_c, "weight_ih_l0", "weight_hh_l0", "bias_l0")]
        if self.fixed_gate is None:
            pieces.append((self._da_g, "weight_ig_l0", "weight_hg_l0", "bias_g_l0"))
        grads = {}
        for da, w_name, u_name, b_name in pieces:
            grads[w_name] = self.outer_sum(da, self._x, per_step)
            grads[u_name] = self.outer_sum(da, prev, per_step)
            if self.use_bias:
                grads[b_name] = da.sum(axis=sum_axes)
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
        """J = diag(1-g) + diag(g (1-c²)) U + diag((c - s_{t-1}) g (1-g)) Ug. A fixed gate
        gives ‖J‖ <= (1-g) + g λ1(U); a learned one ‖J‖ <= max(1, λ1(U)) + λ1(Ug)/2, as
        |c - s_{t-1}| < 2 and g (1-g) <= 1/4."""
        lam = float(largest_singular_value(self.params["weight_hh_l0"]))
        if self.fixed_gate is not None:
            g = self.fixed_gate
            return Bound((1 - g) + g * lam, lam,
                         f"fixed gate g={g:g}: ‖∂s_t/∂s_k‖ <= ((1-g) + g λ1)^(t-k)")
        lam_g = float(largest_singular_value(self.params["weight_hg_l0"]))
        return Bound(max(1.0, lam) + 0.5 * lam_g, lam,
                     "learned gate: ‖∂s_t/∂s_k‖ <= (max(1, λ1) + λ1(Ug)/2)^(t-k)")

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
