"""The recurrent-cell contract (nncli/layers/recurrent.py), for every cell grad-trace knows.

- A toy cell with two states, written here and nowhere in nncli, implements the contract
  and runs through grad-trace's core and render: two states work with no special case.
  Its backward and its Jacobians are checked by finite differences of its own loop.
- Every recurrent layer of the registry, and the toy, keeps the contract's promises:
  shapes, dL/dz_{t-1} = J_t^T dL/dz_t + (the output's part), per-step parameter
  contributions that sum to the gradients, a bound that holds, `rescale` setting the
  bound's λ1, a seeded `init_builtin`, and worked factors that evaluate to the Jacobian.
"""

from __future__ import annotations

import io
import json
import re
import string
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from rich.console import Console

from nncli import trace as core
from nncli.layers import Dense, registry
from nncli.layers.recurrent import Bound, Recurrent, Series, largest_singular_value
from nncli.model import Model
from nncli.render import trace as render

SCHEMA = Path(__file__).resolve().parent.parent / "nncli" / "schemas" / "grad-trace.json"


class Leaky(Recurrent):
    """A toy two-state cell (not in nncli): a leaky memory c and its squashed read-out h.

        a_t = tanh(x_t W^T + h_{t-1} U^T),  c_t = d * c_{t-1} + a_t,  h_t = tanh(c_t)

    params: weight_ih (H, I), weight_hh (H, H), decay d (H,). Outputs h.
    """

    kind = "leaky-toy"
    state_names = ("h", "c")

    def param_shapes(self, input_shape):
        h = self.hidden
        return {"weight_ih": (h, input_shape[-1]), "weight_hh": (h, h), "decay": (h,)}

    def init_params(self, input_shape, rng):
        super().init_params(input_shape, rng)
        self.params["decay"] = rng.uniform(0.5, 0.95, self.hidden)

    def forward(self, x):
        p = self.params
        n, steps, _ = x.shape
        hs, cs, acts = (np.zeros((n, steps, self.hidden)) for _ in range(3))
        h, c = np.zeros((n, self.hidden)), np.zeros((n, self.hidden))
        for t in range(steps):
            acts[:, t] = np.tanh(x[:, t] @ p["weight_ih"].T + h @ p["weight_hh"].T)
            c = p["decay"] * c + acts[:, t]
            h = np.tanh(c)
            hs[:, t], cs[:, t] = h, c
        self._x, self.states, self._c, self._a = x, hs, cs, acts
        return self._output(hs)

    def backward(self, dy):
        p = self.params
        dout = self._output_grads(dy)
        hs, acts = self.states, self._a
        gh, gc, da = (np.zeros_like(hs) for _ in range(3))
        carry_h, carry_c = np.zeros_like(hs[:, 0]), np.zeros_like(hs[:, 0])
        self._dc_total = np.zeros_like(hs)
        for t in range(hs.shape[1] - 1, -1, -1):
            gh[:, t], gc[:, t] = dout[:, t] + carry_h, carry_c
            dc = gc[:, t] + gh[:, t] * (1 - hs[:, t] ** 2)        # all of dL/dc_t
            self._dc_total[:, t] = dc
            da[:, t] = dc * (1 - acts[:, t] ** 2)
            carry_h, carry_c = da[:, t] @ p["weight_hh"], p["decay"] * dc
        self.state_grads, self._gc, self._da = gh, gc, da
        self._add_grads(**self.param_grads())
        return da @ p["weight_ih"]

    def param_grads(self, per_step=False):
        sum_axes = 0 if per_step else (0, 1)
        prev_c = self._previous(self._c)
        return {"weight_ih": self.outer_sum(self._da, self._x, per_step),
                "weight_hh": self.outer_sum(self._da, self._previous(self.states), per_step),
                "decay": (self._dc_total * prev_c).sum(axis=sum_axes)}

    # -------------------------------------------------------------- the contract

    def state_values(self):
        return {"h": self.states, "c": self._c}

    def state_gradients(self):
        return {"h": self.state_grads, "c": self._dc_total}      # c_t through h_t too

    def step_jacobians(self):
        h, d = self.hidden, self.params["decay"]
        n, steps, _ = self.states.shape
        dh = 1 - self.states ** 2                                # (N, T, H)
        dc_dh = (1 - self._a ** 2)[..., None] * self.params["weight_hh"]
        jac = np.zeros((n, steps, 2 * h, 2 * h))
        jac[..., :h, :h] = dh[..., None] * dc_dh
        jac[..., :h, h:] = dh[..., None] * np.diag(d)
        jac[..., h:, :h] = dc_dh
        jac[..., h:, h:] = np.diag(d)
        return jac

    def bound(self):
        # ‖J‖ <= ‖[[U, D], [U, D]]‖ <= sqrt(2) (λ1(U) + max d): tanh' <= 1 on both rows.
        lam = float(largest_singular_value(self.params["weight_hh"]))
        rate = np.sqrt(2) * (lam + float(np.max(np.abs(self.params["decay"]))))
        return Bound(rate, lam, "toy: ‖J‖ <= √2 (λ1(U) + max|d|)")

    def trace_series(self):
        return {"memory": Series("memory c_t", self._c)}

    def rescale(self, scale):
        u = self.params["weight_hh"]
        self.params["weight_hh"] = u * (scale / float(largest_singular_value(u)))

    def init_builtin(self, input_shape, seed):
        self.init_params(input_shape, np.random.default_rng(seed))


def reference_states(cell: Leaky, x: np.ndarray, h: np.ndarray, c: np.ndarray, start: int):
    """The toy's states (h, c) after steps start+1..T-1 of one sequence, from (h, c)."""
    p = cell.params
    for t in range(start + 1, x.shape[0]):
        c = p["decay"] * c + np.tanh(p["weight_ih"] @ x[t] + p["weight_hh"] @ h)
        h = np.tanh(c)
    return h, c


def numeric_grad(f, a: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Centred differences of f() (a scalar or an array) with respect to every entry of a,
    which is perturbed in place and restored: shape a.shape + f().shape."""
    out = []
    for idx in np.ndindex(a.shape):
        old = a[idx]
        a[idx] = old + eps
        up = np.asarray(f(), dtype=float)
        a[idx] = old - eps
        down = np.asarray(f(), dtype=float)
        a[idx] = old
        out.append((up - down) / (2 * eps))
    return np.array(out).reshape(*a.shape, *np.shape(out[0]))


def toy_state_jacobian(cell: Leaky, x: np.ndarray, z: np.ndarray, start: int, stop: int):
    """∂z_stop/∂z_start (0-based steps) of one sequence through the toy's own loop, with z
    the joint state (h, c) at `start`: (2H, 2H) by centred differences."""
    z = z.copy()
    return numeric_grad(lambda: np.concatenate(
        reference_states(cell, x[:stop + 1], *np.split(z, 2), start)), z).T


def toy_model(steps=6, hidden=3, width=2, seed=0) -> Model:
    cell = Leaky(hidden)
    model = Model([cell, Dense(1)], (steps, width), "mse", "sum", "toy", seed)
    model.init_params(np.random.default_rng(seed))
    return model


def make_cell(kind: str, hidden=3, steps=6, width=2, seed=0) -> Recurrent:
    cell = Leaky(hidden) if kind == "toy" else registry.build(kind, {"hidden": hidden})
    cell.init_builtin((steps, width), seed)
    rng = np.random.default_rng(seed + 1)
    for name, value in cell.params.items():              # non-zero biases, too
        if value.ndim == 1 and name != "decay":
            cell.params[name] = rng.normal(0, 0.3, value.shape)
    cell.zero_grad()
    return cell


CELLS = ["toy", *core.cells()]


class Exact(string.Formatter):
    """Fills a worked formula with every digit, so it can be evaluated."""

    def format_field(self, value, format_spec):
        return f"({float(value)!r})"


# --------------------------------------------------------------------------- the toy

def test_toy_backward_matches_finite_differences():
    cell = make_cell("toy", hidden=3, steps=5, width=2, seed=1)
    rng = np.random.default_rng(2)
    x, dy = rng.normal(size=(2, 5, 2)), rng.normal(size=(2, 5, 3))
    cell.forward(x)
    dx = cell.backward(dy)

    def loss():
        return float(np.sum(cell.forward(x) * dy))

    for name, value in cell.params.items():
        np.testing.assert_allclose(cell.grads[name], numeric_grad(loss, value), atol=1e-7,
                                   err_msg=name)
    np.testing.assert_allclose(dx, numeric_grad(loss, x), atol=1e-7)


def test_toy_step_jacobians_match_finite_differences():
    cell = make_cell("toy", hidden=3, steps=5, width=2, seed=3)
    x = np.random.default_rng(4).normal(size=(1, 5, 2))
    cell.forward(x)
    jac = cell.step_jacobians()
    hs, cs = cell.states[0], cell._c[0]
    for t in range(1, 5):
        z = np.concatenate([hs[t - 1], cs[t - 1]])
        np.testing.assert_allclose(jac[0, t], toy_state_jacobian(cell, x[0], z, t - 1, t),
                                   atol=1e-8)


def test_two_states_through_the_core_without_special_cases():
    model = toy_model(steps=7, hidden=3, width=2, seed=5)
    x, y = core.generate(model, 5, batch=2)
    info = {"source": "test", "seed": 5, "input": "generated", "target": "generated"}
    tr = core.trace(model, x, y, loss_at="every", info=info)
    cell = model.layers[0]
    assert list(tr.states) == ["h", "c"] and tr.model["states"] == ["h", "c"]
    assert tr.model["cell"] == "leaky-toy" and tr.model["gate"] is None
    for name, grads in cell.state_gradients().items():
        want = np.linalg.norm(grads, axis=-1).mean(axis=0)
        np.testing.assert_allclose(tr.states[name]["grad_norm"], want, rtol=1e-12)
    # The c block of every J_t is diag(d): its norm is max d, as the contract promises.
    d = cell.params["decay"]
    np.testing.assert_allclose(tr.states["c"]["step_jacobian_norm"], np.max(d), rtol=1e-12)
    # ‖∂z_T/∂z_k‖ of the joint state against finite differences of the toy's own loop.
    hs, cs = cell.states, cell._c
    want = [np.mean([np.linalg.norm(toy_state_jacobian(
        cell, x[n], np.concatenate([hs[n, k], cs[n, k]]), k, 6), 2) for n in range(2)])
        for k in range(7)]
    np.testing.assert_allclose(tr.jacobian_product_norm, want, rtol=1e-6)
    assert tr.bound["holds"] and tr.sum_check["ok"]
    assert tr.series["memory"]["label"] == "memory c_t"
    assert tr.gates["mean"] == tr.series["memory"]["mean"]
    assert tr.chain is None                               # a scalar chain needs one state
    jsonschema.validate({"schema": "nncli.grad-trace/1", **tr.to_dict()},
                        json.loads(SCHEMA.read_text()),
                        cls=jsonschema.Draft202012Validator)


def test_two_states_through_the_render_at_80_columns(monkeypatch):
    model = toy_model(steps=9, hidden=3, width=2, seed=6)
    x, y = core.generate(model, 6)
    tr = core.trace(model, x, y, loss_at="every")
    out = io.StringIO()
    console = Console(file=out, width=80, no_color=True, color_system=None)
    render._show_one(console, tr, limit=24)
    text = out.getvalue()
    assert max(map(len, text.splitlines())) <= 80
    for piece in ("‖∂L/∂h_t‖", "‖∂z_t/∂z_t-1‖", "‖∂z_T/∂z_t‖", "z_t = (h_t, c_t)",
                  "‖∂L/∂c_t‖", "‖∂c_t/∂c_t-1‖", "‖∂h_t/∂h_t-1‖", "memory c_t [min,max]",
                  "0.decay", "log10 ‖∂z_t/∂z_k‖"):
        assert piece in text, piece
    assert "blue shrinks" not in text and "red grows" not in text   # no colours shown
    # Each step's row of the states table shows the c block norm max(d) (the toy's diag(d)).
    d = f"{np.max(model.layers[0].params['decay']):.4g}"
    assert re.search(rf"^\s*1\s.*{re.escape(d)}", text, re.M)


# --------------------------------------------------------------------------- every cell

ONE_STATE = [kind for kind in core.cells() if len(registry.get(kind).state_names) == 1]


@pytest.fixture(params=CELLS)
def traced(request):
    cell = make_cell(request.param, hidden=3, steps=6, width=2, seed=7)
    rng = np.random.default_rng(8)
    x, dy = rng.normal(size=(2, 6, 2)), rng.normal(size=(2, 6, 3))
    cell.zero_grad()
    y = cell.forward(x)
    cell.backward(dy)
    return cell, x, y, dy


def test_shapes_and_outputs(traced):
    cell, _, y, _ = traced
    names = cell.state_names
    assert names and len(set(names)) == len(names)
    values, grads = cell.state_values(), cell.state_gradients()
    assert list(values) == list(grads) == list(names)
    for name in names:
        assert values[name].shape == grads[name].shape == (2, 6, 3), name
        assert cell.state_symbol(name)
    np.testing.assert_array_equal(values[names[0]], y)    # the first state is the output
    d = 3 * len(names)
    assert cell.step_jacobians().shape == (2, 6, d, d)
    for s in cell.trace_series().values():
        assert s.values.shape == (2, 6, 3) and s.label and "\n" not in s.label


@pytest.mark.parametrize("kind", ONE_STATE)
def test_state_gradients_follow_the_step_jacobians(kind):
    """One state: dL/ds_{t-1} = J_t^T dL/ds_t + (the output's gradient at t-1): the
    engine's backward loop and step_jacobians() are two codings of one derivative. (With
    several states the gradients are autograd's, which J alone does not relate; the toy's
    are checked by finite differences below.)"""
    cell = make_cell(kind, hidden=3, steps=6, width=2, seed=7)
    rng = np.random.default_rng(8)
    cell.forward(rng.normal(size=(2, 6, 2)))
    dy = rng.normal(size=(2, 6, 3))
    cell.backward(dy)
    (g,) = cell.state_gradients().values()
    jac = cell.step_jacobians()
    for t in range(1, 6):
        carried = np.einsum("nij,ni->nj", jac[:, t], g[:, t])
        np.testing.assert_allclose(g[:, t - 1], carried + dy[:, t - 1], atol=1e-12)
    np.testing.assert_allclose(g[:, -1], dy[:, -1], atol=1e-12)


def test_the_toys_state_gradients_match_finite_differences():
    """dL/dh_t and dL/dc_t as autograd gives them: nudge one state inside the toy's loop
    and rerun the rest, L = sum(y * dy) over every step's output."""
    cell = make_cell("toy", hidden=2, steps=5, width=2, seed=9)
    rng = np.random.default_rng(10)
    x, dy = rng.normal(size=(1, 5, 2)), rng.normal(size=(1, 5, 2))
    cell.forward(x)
    cell.backward(dy)
    grads = cell.state_gradients()
    hs, cs = cell.states[0], cell._c[0]

    def loss(t, h, c):
        """L with the states at step t replaced by (h, c); the later steps recomputed."""
        total = float(np.sum(hs[:t] * dy[0, :t])) + float(h @ dy[0, t])
        for k in range(t + 1, 5):
            h, c = reference_states(cell, x[0, :k + 1], h, c, k - 1)
            total += float(h @ dy[0, k])
        return total

    eps = 1e-6
    for t in range(5):
        for j in range(2):
            e = np.zeros(2)
            e[j] = eps
            dh = (loss(t, hs[t] + e, cs[t]) - loss(t, hs[t] - e, cs[t])) / (2 * eps)
            assert grads["h"][0, t, j] == pytest.approx(dh, abs=1e-8)
            # c_t through h_t = tanh(c_t) as well: h moves with c.
            dc = (loss(t, np.tanh(cs[t] + e), cs[t] + e)
                  - loss(t, np.tanh(cs[t] - e), cs[t] - e)) / (2 * eps)
            assert grads["c"][0, t, j] == pytest.approx(dc, abs=1e-8)


def test_step_contributions_sum_to_the_gradients(traced):
    cell = traced[0]
    per_step = cell.step_param_grads()
    assert set(per_step) == set(cell.params)
    for name, contributions in per_step.items():
        assert contributions.shape == (6, *cell.params[name].shape)
        np.testing.assert_allclose(contributions.sum(axis=0), cell.grads[name], atol=1e-12)


def test_the_bound_holds_and_rescale_sets_its_sigma(traced):
    cell = traced[0]
    b = cell.bound()
    norms = np.linalg.svd(cell.step_jacobians(), compute_uv=False)[..., 0]
    if b.rate is not None:
        assert np.all(norms <= b.rate * (1 + 1e-12)), cell.kind
    assert b.rule and "\n" not in b.rule
    cell.rescale(0.7)
    assert cell.bound().sigma_max == pytest.approx(0.7, rel=1e-12)


@pytest.mark.parametrize("kind", CELLS)
def test_init_builtin_is_seeded(kind):
    a, b = make_cell(kind, seed=11), make_cell(kind, seed=11)
    c = make_cell(kind, seed=12)
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])
    assert any(not np.array_equal(a.params[k], c.params[k]) for k in a.params)


@pytest.mark.parametrize("kind", CELLS)
def test_worked_factors_evaluate_to_the_jacobian(kind):
    """explain_factor's formula, with its numbers filled in, is the scalar J_t."""
    cell = make_cell(kind, hidden=1, steps=4, width=1, seed=13)
    cell.forward(np.random.default_rng(14).normal(size=(1, 4, 1)))
    jac = cell.step_jacobians()
    for t in range(2, 5):
        how = cell.explain_factor(t)
        if how is None:
            continue
        assert len(cell.state_names) == 1
        shown = Exact().format(how[0], *how[1]).rsplit("=", 1)[1]
        expr = shown.replace(")(", ")*(").replace("²", "**2")
        assert eval(expr) == pytest.approx(jac[0, t - 1, 0, 0], abs=1e-9), shown


@pytest.mark.parametrize("kind", core.cells())
def test_cell_options_are_declared_and_read_back(kind):
    cell = registry.build(kind, {"hidden": 2})
    for name, option in cell.trace_options.items():
        assert option.help and name in core.cell_options()
        assert kind in core.cell_options()[name]
        assert cell.get_trace_option(name) is None or option.default is not None
