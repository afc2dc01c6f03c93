"""Long short-term memory cell, like torch.nn.LSTM (one layer, batch first, h_0 = c_0 = 0).

    i_t = sigmoid(x_t W_ii^T + b_ii + h_{t-1} W_hi^T + b_hi)      input gate
    f_t = sigmoid(x_t W_if^T + b_if + h_{t-1} W_hf^T + b_hf)      forget gate
    g_t = tanh(x_t W_ig^T + b_ig + h_{t-1} W_hg^T + b_hg)         candidate
    o_t = sigmoid(x_t W_io^T + b_io + h_{t-1} W_ho^T + b_ho)      output gate
    c_t = f_t * c_{t-1} + i_t * g_t                               the cell state
    h_t = o_t * tanh(c_t)                                          the output

Parameters under torch's names, gates stacked in torch's order i, f, g, o: weight_ih_l0
(4H, I) = [W_ii; W_if; W_ig; W_io], weight_hh_l0 (4H, H), bias_ih_l0 and bias_hh_l0 (4H,),
so a model's weights file loads into nn.LSTM unchanged. Initial values: each gate block
Glorot, biases 0 (nncli's rule for every layer; torch draws its biases uniformly), except
that `forget_bias` b sets the forget gate's block of bias_ih_l0 to b (bias_hh_l0 stays 0;
only the sum matters): f_t starts near sigmoid(b), 0.73 for b = 1, the "remember by default"
of Jozefowicz et al. 2015. The default 0 gives f_t near 0.5.

grad-trace. The cell carries two states, h and c; the joint state is z_t = (h_t, c_t) and
its step Jacobian dz_t/dz_{t-1} has the blocks

    dc_t/dc_{t-1} = diag(f_t)                        the constant error carousel
    dc_t/dh_{t-1} = diag(g i (1-i)) W_hi + diag(c_{t-1} f (1-f)) W_hf + diag(i (1-g^2)) W_hg
    dh_t/dh_{t-1} = diag(tanh(c_t) o (1-o)) W_ho + diag(o (1 - tanh^2 c_t)) dc_t/dh_{t-1}
    dh_t/dc_{t-1} = diag(o (1 - tanh^2 c_t) f_t)

(each taken with the other state of step t-1 held fixed). state_gradients()["c"] is the
gradient reaching c_t, as autograd gives it for the node c_t: through h_t = o_t tanh(c_t)
and carried back from c_{t+1},

    dL/dc_t = dL/dh_t o_t (1 - tanh^2 c_t) + f_{t+1} dL/dc_{t+1}

so along the c path the gradient is only multiplied by forget gates: near 1, it survives
many steps. dL/dh_t is the gradient from the output at t plus the one carried back from
step t+1 through the gates.

No bound is offered: dc_t/dh_{t-1} grows with |c_{t-1}|, which is not bounded by the
weights (it can grow by 1 per step).
"""

from __future__ import annotations

import numpy as np

from nncli.errors import InputError
from nncli.kernels import sigmoid_of_negated_, tanh_
from nncli.layers.base import PARAMS_OPTION, RETURN_OPTION, Example
from nncli.layers.gated import Gated
from nncli.layers.recurrent import Bound, Series, previous, step_inputs
from nncli.options import REQUIRED, Option


class LSTM(Gated):
    """x: (N, T, I) -> y: (N, T, H) or (N, H) (return 'last')."""

    kind = "lstm"
    summary = "as torch.nn.LSTM: c_t = f c_{t-1} + i g, h_t = o tanh(c_t)"
    OPTIONS = {
        "hidden": Option("int>=1", REQUIRED, "state size H (of h and of c)"),
        "bias": Option("bool", True, "add learned biases (bias_ih_l0 and bias_hh_l0)"),
        "return": RETURN_OPTION,
        "forget_bias": Option("float", 0.0, "initial forget-gate bias (1.0 is the usual "
                              "advice: f starts near 0.73); needs bias: true"),
        "params": PARAMS_OPTION,
    }
    EXAMPLE = Example({"hidden": 3, "forget_bias": 1.0}, (4, 2))
    GATES = ("input", "forget", "cell", "output")
    ROW_SCALE = (-1.0, -1.0, -2.0, -1.0)     # sigmoid, sigmoid, tanh, sigmoid
    state_names = ("h", "c")

    def __init__(self, hidden: int, bias: bool = True, return_sequences: bool = True,
                 forget_bias: float = 0.0) -> None:
        if forget_bias and not bias:
            raise InputError(f"forget_bias: {forget_bias:g} needs a bias to set; use bias: "
                             f"true or drop forget_bias")
        super().__init__(hidden, bias, return_sequences)
        self.forget_bias = float(forget_bias)
        self._cells = self._d_in = None

    def init_params(self, input_shape, rng):
        super().init_params(input_shape, rng)
        if self.use_bias:
            h = self.hidden
            self.params["bias_ih_l0"][h:2 * h] = self.forget_bias

    # ------------------------------------------------------------------ forward

    def forward(self, x):
        h_size = self.hidden
        w_ih, w_hh, b_ih, b_hh = self._scaled()
        # Every step's input term in one matmul; the buffer then holds the gates, step by step.
        self._inputs = step_inputs(x)
        gates = self._inputs.project(w_ih, None if b_ih is None else b_ih + b_hh)
        steps, n, _ = gates.shape
        dtype = gates.dtype
        hs, cells, tanh_c = (np.empty((steps, n, h_size), dtype=dtype) for _ in range(3))
        h = c = np.zeros((n, h_size), dtype=dtype)
        recurrent = np.empty((n, 4 * h_size), dtype=dtype)
        ig = np.empty((n, h_size), dtype=dtype)
        w_hh_t = np.ascontiguousarray(w_hh.T)
        with np.errstate(over="ignore"):
            for t in range(steps):
                a = gates[t]
                np.dot(h, w_hh_t, out=recurrent)
                a += recurrent
                sigmoid_of_negated_(a)                  # i, f, o; and sigmoid(2 a) for g
                i, f, g, o = a[:, :h_size], a[:, h_size:2 * h_size], \
                    a[:, 2 * h_size:3 * h_size], a[:, 3 * h_size:]
                g *= 2.0
                g -= 1.0                               # tanh(a) = 2 sigmoid(2 a) - 1
                c_t = cells[t]
                np.multiply(f, c, out=c_t)
                np.multiply(i, g, out=ig)
                c_t += ig
                tanh_(c_t, out=tanh_c[t])
                np.multiply(o, tanh_c[t], out=hs[t])
                h, c = hs[t], c_t
        self._gates, self._cells, self._tanh_c, self._h = gates, cells, tanh_c, hs
        return self._output(hs)

    def _factors(self):
        """The per-step derivatives backward and step_jacobians share, all (T, N, ·):
        to_c (T, N, 3, H): what dc_t sends to the pre-activations of i, f, g;
        o_from_h: d(o's pre-activation) per dh_t; c_from_h: dc_t per dh_t (through h_t)."""
        i, f, g, o = (self._gate(k) for k in range(4))
        tanh_c = self._tanh_c
        to_c = np.empty((*i.shape[:2], 3, self.hidden), dtype=i.dtype)
        np.multiply(g, i * (1.0 - i), out=to_c[:, :, 0])
        np.multiply(previous(self._cells), f * (1.0 - f), out=to_c[:, :, 1])
        np.multiply(i, 1.0 - g * g, out=to_c[:, :, 2])
        o_from_h = tanh_c * o * (1.0 - o)
        c_from_h = o * (1.0 - tanh_c * tanh_c)
        return to_c, o_from_h, c_from_h

    # ------------------------------------------------------------------ backward

    def backward(self, dy):
        h_size = self.hidden
        w_hh = self.params["weight_hh_l0"]
        to_c, o_from_h, c_from_h = self._factors()
        f = self._gate(1)
        dtype = to_c.dtype
        dh_all, dout = self._start_backward(dy, dtype)
        steps, n, _ = dh_all.shape
        d_a = np.empty((steps, n, 4 * h_size), dtype=dtype)   # dL/d(pre-activations)
        d_a4 = d_a.reshape(steps, n, 4, h_size)
        dc_all = np.empty_like(dh_all)
        carried = np.zeros((n, h_size), dtype=dtype)           # f_{t+1} dL/dc_{t+1}
        for t in range(steps - 1, -1, -1):
            dh, dc = dh_all[t], dc_all[t]
            np.multiply(dh, c_from_h[t], out=dc)               # dL/dc_t through h_t ...
            dc += carried                                      # ... and from c_{t+1}
            np.multiply(to_c[t], dc[:, None, :], out=d_a4[t, :, :3])
            np.multiply(dh, o_from_h[t], out=d_a4[t, :, 3])
            if t:
                np.multiply(dc, f[t], out=carried)
                np.dot(d_a[t], w_hh, out=dh_all[t - 1])
                if dout is not None:
                    dh_all[t - 1] += dout[t - 1]
        self._d_in = self._d_hh = d_a
        self._dh, self._dc = dh_all, dc_all
        return self._finish_backward(d_a)

    # ------------------------------------------------------------------ grad-trace contract

    def state_values(self):
        return {"h": self.states, "c": self._cells.swapaxes(0, 1)}

    def state_gradients(self):
        return {"h": self._dh.swapaxes(0, 1), "c": self._dc.swapaxes(0, 1)}


    def step_jacobians(self):
        """dz_t/dz_{t-1} for z = (h, c): (N, T, 2H, 2H), blocks as in the module docstring."""
        h_size = self.hidden
        to_c, o_from_h, c_from_h = (np.swapaxes(a, 0, 1) for a in self._factors())
        f = self._gate(1).swapaxes(0, 1)
        w_i, w_f, w_g, w_o = self.blocks("weight_hh_l0")
        n, steps = f.shape[:2]
        jac = np.zeros((n, steps, 2 * h_size, 2 * h_size), dtype=f.dtype)
        c_h = (to_c[:, :, 0, :, None] * w_i + to_c[:, :, 1, :, None] * w_f
               + to_c[:, :, 2, :, None] * w_g)
        diag = np.arange(h_size)
        jac[:, :, :h_size, :h_size] = o_from_h[..., None] * w_o + c_from_h[..., None] * c_h
        jac[:, :, diag, h_size + diag] = c_from_h * f
        jac[:, :, h_size:, :h_size] = c_h
        jac[:, :, h_size + diag, h_size + diag] = f
        return jac

    def bound(self):
        sigma = max(self._block_sigmas())
        return Bound(None, sigma, "no bound: dc_t/dh_{t-1} grows with |c_{t-1}|, which the "
                     "weights do not bound")

    def trace_series(self):
        return {"forget": Series("forget f_t", self._gate(1).swapaxes(0, 1)),
                "cell": Series("cell c_t", self._cells.swapaxes(0, 1))}

    def describe(self):
        extra = f", forget bias {self.forget_bias:g}" if self.forget_bias else ""
        return super().describe() + extra
