"""The recurrent-cell contract: what every cell gives `grad-trace` (and the loop it shares).

A cell is a layer x: (N, T, I) -> y: (N, T, H) (return_sequences) or (N, H) (the last
step), run with zero initial states. `grad-trace` never names a concrete cell: it reads a
cell only through the methods below, so a new cell works in it by implementing them.
Steps are 0-based in arrays, and t = 1..T in words (state_0 = 0).

States
  state_names            the states the cell carries, by name; the first is the one the
                         layer outputs ("h",) for rnn, gru-lite and gru; ("h", "c") for lstm.
  state_symbol(name)     how the text writes it (rnn and gru-lite write s_t as the course
                         notes do); default: the name.
  state_values()         after forward: name -> (N, T, H), state_t for t = 1..T.
  state_gradients()      after backward: name -> (N, T, H), dL/dstate_t as autograd
                         gives it: through everything computed from state_t (for the
                         output state, the output at t and step t+1; for an lstm's c_t,
                         h_t and c_{t+1}). With one state, dL/ds_{t-1} = J_t^T dL/ds_t +
                         (the output's part at t-1).
                         The defaults serve one-state cells from `states` / `state_grads`.

Jacobians and the bound (the joint state z_t = all states concatenated in state_names
order, size S*H; for one state z_t is that state)
  step_jacobians()       after forward: (N, T, S*H, S*H), J_t = dz_t/dz_{t-1} for every
                         sample and step (J_1 is taken with z_0 = 0). Its diagonal blocks
                         are each state's own Jacobian, e.g. an lstm's dc_t/dc_{t-1} =
                         diag(f_t) (the constant error carousel).
  bound()                a `Bound`: ‖J_t‖ <= rate for every input, the largest singular
                         value it is built from and a one-line rule; rate None if the cell
                         has no bound to offer (the rule then says why).

Parameters
  step_param_grads()     after backward: name -> (T, *shape), each step's contribution;
                         summed over steps it equals the engine's `grads` (grad-trace checks).

What else to show
  trace_series()         name -> `Series(label, values (N, T, H))`: gates, candidate or
                         cell states... shown per step (mean [min, max]); default none.
  explain_factor(t)      for a scalar cell (H = 1), sample 0: the step factor dz_t/dz_{t-1}
                         worked out, as (template, values) where the template's fields
                         `{i:short}` / `{i:precise}` say how to print values[i] (and
                         `{i:square}`: precise, in parentheses if negative, before a ²).

Options and set-up
  trace_options          {name: nncli.options.Option}: grad-trace options that only this
                         cell has (gru-lite's `gate`); grad-trace refuses them on other
                         cells, naming the cells that have them.
  set_trace_option(name, value)   applies one (may change the parameter set; call before
                         init_params, or after loading weights); get_trace_option(name)
                         reads its value back (None: not set), e.g. a spec's gate: 0.5.
  rescale(scale)         scale the recurrent weights so `bound().sigma_max` becomes scale.
  init_builtin(input_shape, seed)  the seeded weights of grad-trace's built-in model.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from nncli.errors import InputError
from nncli.layers.base import Layer, expect_rank
from nncli.ops import column_sums
from nncli.options import Option


class Bound(NamedTuple):
    """‖dz_t/dz_{t-1}‖ <= rate for every input, so ‖dz_t/dz_k‖ <= rate^(t-k)."""

    rate: float | None     # β; None: this cell offers no bound
    sigma_max: float       # the largest singular value the bound is built from
    rule: str              # one line: the inequality and where it comes from


class Series(NamedTuple):
    """A per-step quantity worth showing beside the gradients (a gate, a cell state)."""

    label: str             # short, for a column header: "gate", "forget f_t"
    values: np.ndarray     # (N, T, H)


def largest_singular_value(m: np.ndarray) -> np.ndarray:
    """Largest singular value of each (..., A, B) matrix: the spectral norm."""
    return np.linalg.svd(m, compute_uv=False)[..., 0]


def time_major(a: np.ndarray) -> np.ndarray:
    """(N, T, ...) -> a contiguous (T, N, ...) copy. The cells' loops run time-major, so
    each step reads and writes contiguous (N, ·) slices."""
    return np.ascontiguousarray(a.swapaxes(0, 1))


class StepInputs:
    """A cell's input x (N, T, I) held time-major, and its three products with the input
    weights w (R, I) of every cell: the input terms x_t w^T (forward), dL/dw = sum d_t^T x_t
    and dL/dx = d_t w (backward), for d (T, N, R) = dL/d(input terms).
    nncli.layers.embedding.TokenInputs offers the same for token ids and an embedding table,
    without ever building x."""

    def __init__(self, x: np.ndarray) -> None:
        self.x = time_major(x)                      # (T, N, I), also read per step

    def project(self, w: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
        """x_t w^T (+ bias) for every step at once: a fresh (T, N, R) buffer."""
        steps, n, i = self.x.shape
        terms = self.x.reshape(-1, i) @ w.T
        if bias is not None:
            terms += bias
        return terms.reshape(steps, n, -1)

    def weight_grad(self, d: np.ndarray) -> np.ndarray:
        return d.reshape(-1, d.shape[-1]).T @ self.x.reshape(-1, self.x.shape[-1])

    def input_grad(self, d: np.ndarray, w: np.ndarray) -> np.ndarray:
        """dL/dx, batch-first (N, T, I)."""
        steps, n, _ = d.shape
        return (d.reshape(steps * n, -1) @ w).reshape(steps, n, -1).swapaxes(0, 1)


def step_inputs(x) -> StepInputs:
    """x as StepInputs, unless it already offers their products (TokenInputs)."""
    return x if hasattr(x, "project") else StepInputs(x)


def previous(a: np.ndarray) -> np.ndarray:
    """a_{t-1} for every step of a time-major (T, N, H) array, with a_0 = 0."""
    prev = np.empty_like(a)
    prev[0] = 0.0
    prev[1:] = a[:-1]
    return prev


def weight_grads(d_in: np.ndarray, d_hh: np.ndarray, x: StepInputs, h: np.ndarray,
                 bias: bool, per_step: bool = False) -> tuple:
    """The gradients of a cell's stacked weights from time-major arrays: d_in (T, N, R) =
    dL/d(x_t W^T + b_ih), d_hh (T, N, R) = dL/d(h_{t-1} U^T + b_hh) (the same array when
    both terms enter the same sum), x the cell's inputs, h (T, N, H) the states (h_0 = 0).
    Returns (W (R, I), U (R, H), b_ih (R,), b_hh (R,)): sums over samples and steps as a few
    large products, or per step (T, ...) with per_step; the biases None without bias."""
    if per_step:
        w_hh = np.zeros((len(h), d_hh.shape[-1], h.shape[-1]), dtype=d_hh.dtype)
        np.matmul(d_hh[1:].swapaxes(1, 2), h[:-1], out=w_hh[1:])      # h_0 = 0
        w_ih = np.matmul(d_in.swapaxes(1, 2), x.x)
    else:
        w_ih = x.weight_grad(d_in)
        w_hh = d_hh[1:].reshape(-1, d_hh.shape[-1]).T @ h[:-1].reshape(-1, h.shape[-1])
    if not bias:
        return w_ih, w_hh, None, None
    b_ih = d_in.sum(axis=1) if per_step else column_sums(d_in)      # per step: over samples
    if d_hh is d_in:
        return w_ih, w_hh, b_ih, b_ih.copy()
    return w_ih, w_hh, b_ih, d_hh.sum(axis=1) if per_step else column_sums(d_hh)


def orthogonal(rng: np.random.Generator, n: int) -> np.ndarray:
    """A random orthogonal (n, n) matrix: QR of a Gaussian, signs fixed so it is uniform."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.where(np.diag(r) < 0, -1.0, 1.0)


class Recurrent(Layer):
    """Base for cells built from a step function and a loop over time; the module
    docstring is the contract. After forward, `states` (N, T, H) holds the output state
    for t = 1..T; after backward, `state_grads` (N, T, H) holds its gradient."""

    state_names: tuple[str, ...] = ("h",)
    trace_options: dict[str, Option] = {}
    # True for a cell that reads its input only through step_inputs(x): training may then
    # hand it an embedding's ids and table (embedding.TokenInputs) instead of vectors.
    takes_token_inputs = False

    def __init__(self, hidden: int, bias: bool = True, return_sequences: bool = True) -> None:
        super().__init__()
        self.hidden, self.use_bias, self.return_sequences = hidden, bias, return_sequences
        self.states: np.ndarray | None = None
        self.state_grads: np.ndarray | None = None

    # ------------------------------------------------------------------ shared machinery

    def output_shape(self, input_shape):
        expect_rank(input_shape, (2,), "a sequence (T, F)",
                    "give the input shape as [steps, features]")
        steps = input_shape[0]
        return (steps, self.hidden) if self.return_sequences else (self.hidden,)

    def _finish_backward(self, d_in: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
        """The end of every cell's backward: add the parameter gradients and return dx
        (N, T, I), or for TokenInputs the embedding table's gradient, given d_in (T, N, G H)
        = dL/d of the input terms x_t w^T (w: the input weights, weight_ih_l0 unless the
        cell keeps them otherwise)."""
        self._add_grads(**self.param_grads())
        w = self.params["weight_ih_l0"] if w is None else w
        return self._inputs.input_grad(d_in, w)

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

    def param_grads(self, per_step: bool = False) -> dict[str, np.ndarray]:
        """The parameter gradients of the last backward, summed over steps or per step."""
        raise NotImplementedError

    # ------------------------------------------------------------------ the contract

    def state_symbol(self, name: str) -> str:
        return name

    def state_values(self) -> dict[str, np.ndarray]:
        return {self.state_names[0]: self.states}

    def state_gradients(self) -> dict[str, np.ndarray]:
        return {self.state_names[0]: self.state_grads}

    def step_jacobians(self) -> np.ndarray:
        raise NotImplementedError

    def bound(self) -> Bound:
        raise NotImplementedError

    def step_param_grads(self) -> dict[str, np.ndarray]:
        """Each parameter's gradient split by time step: name -> (T, *shape); sums to grads."""
        return self.param_grads(per_step=True)

    def trace_series(self) -> dict[str, Series]:
        return {}

    def explain_factor(self, t: int) -> tuple[str, list[float]] | None:
        return None

    def set_trace_option(self, name: str, value) -> None:
        raise InputError(f"--{name}: not an option of a {self.kind} cell")

    def get_trace_option(self, name: str):
        return None

    def rescale(self, scale: float) -> None:
        """Default: U = weight_hh_l0 <- U * scale / λ1(U), for cells whose bound is built
        on λ1(weight_hh_l0)."""
        if not (scale >= 0 and math.isfinite(scale)):
            raise InputError(f"--scale: expected numbers >= 0, got {scale:g}")
        u = self.params["weight_hh_l0"]
        top = float(largest_singular_value(u))
        if top == 0:
            if scale > 0:
                raise InputError("--scale: the recurrent matrix is all zeros, nothing to "
                                 "rescale")
            return
        self.params["weight_hh_l0"] = u * (scale / top)

    def init_builtin(self, input_shape: tuple[int, ...], seed: int) -> None:
        """Default: the seeded initialisation, then U = weight_hh_l0 a random orthogonal
        (H, H) matrix from its own stream, so every singular value of U is 1."""
        self.init_params(input_shape, np.random.default_rng(seed))
        self.params["weight_hh_l0"] = orthogonal(np.random.default_rng([seed, 1]), self.hidden)
