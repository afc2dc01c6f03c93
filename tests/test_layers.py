"""Every layer's backward against centred finite differences (float64, fixed seeds), plus the
recurrent layers' extras: per-step parameter gradients, per-step state gradients, step
Jacobians, and gru-lite with its gate fixed at 1 being exactly the simple rnn.

The fast conv/pool kernels are checked against naive loops in tests/test_ops.py; here the
layers are checked against the definition of a derivative.
"""

from __future__ import annotations

import numpy as np
import pytest

from nncli import layers as L
from nncli.gradcheck import layer_gradcheck, rel_error
from nncli.layers.activations import sigmoid

TOL = 1e-7


def setup(layer, x_shape, seed, scale=0.5):
    """Seeded params (random biases too, not the zeros of init) and an input of x_shape."""
    rng = np.random.default_rng(seed)
    layer.init_params(tuple(x_shape[1:]), rng)
    for name, value in layer.params.items():
        layer.params[name] = value + scale * rng.standard_normal(value.shape)
    layer.zero_grad()
    return rng.standard_normal(x_shape), rng


def check(layer, x, rng, what):
    """layer_gradcheck on sum(y * dy) for a random dy; assert, naming the failing gradient."""
    dy = rng.standard_normal(layer.forward(x).shape)
    results = layer_gradcheck(layer, x, dy)
    assert [r.name for r in results] == [*layer.params, "input"]
    for r in results:
        assert r.passed and r.max_rel_error < TOL, (
            f"{what}: gradient of '{r.name}' {r.shape} is wrong: max relative error "
            f"{r.max_rel_error:.2e} (max abs {r.max_abs_error:.2e}) over {r.checked} entries")
    return results


def away_from_zero(x, gap=0.05):
    """Move entries away from 0 so a relu's kink is never crossed by the perturbation."""
    return np.where(x >= 0, x + gap, x - gap)


def distinct(rng, shape, spacing=0.01):
    """Values with no ties (a shuffled ladder), so max pooling's winner is never in doubt."""
    n = int(np.prod(shape))
    return (rng.permutation(n).reshape(shape) - n / 2) * spacing


# ---- conv --------------------------------------------------------------------------------
# (N, C, H, W, filters, kernel, stride, padding, bias, activation)
CONV_CASES = [
    (2, 1, 5, 5, 1, 2, 1, 0, True, "identity"),
    (2, 3, 7, 6, 4, 3, 2, 1, True, "identity"),
    (1, 2, 9, 11, 3, 5, 3, 2, True, "tanh"),
    (3, 4, 8, 7, 2, 3, 1, 1, False, "relu"),
    (2, 2, 6, 5, 3, 1, 1, 0, True, "sigmoid"),
    (1, 3, 5, 7, 2, 3, 2, 2, False, "identity"),
    (2, 1, 4, 4, 2, 4, 1, 0, True, "identity"),      # kernel as large as the image
]


def _random_conv_cases(count, seed=7):
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(count):
        k = int(rng.integers(1, 5))
        h, w = (int(v) for v in rng.integers(k, k + 6, size=2))
        cases.append((int(rng.integers(1, 3)), int(rng.integers(1, 4)), h, w,
                      int(rng.integers(1, 4)), k, int(rng.integers(1, 4)),
                      int(rng.integers(0, 3)), bool(rng.integers(2)), "identity"))
    return cases


@pytest.mark.parametrize("case", CONV_CASES + _random_conv_cases(4),
                         ids=lambda c: "N{}C{}H{}W{}F{}k{}s{}p{}-bias{}-{}".format(*c))
def test_conv_gradients(case):
    n, c, h, w, f, k, s, p, bias, act = case
    layer = L.Conv(f, k, s, p, bias, act)
    x, rng = setup(layer, (n, c, h, w), seed=h * 100 + w)
    assert layer.forward(x).shape == (n, *layer.output_shape((c, h, w)))
    check(layer, x, rng, f"conv {case}")


# ---- pool --------------------------------------------------------------------------------
# (N, C, H, W, size, stride)
POOL_CASES = [(2, 1, 4, 4, 2, 2), (2, 3, 7, 7, 3, 2), (1, 2, 6, 5, 2, 1), (2, 2, 9, 7, 3, 3),
              (1, 4, 5, 5, 2, 2)]


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("case", POOL_CASES, ids=lambda c: "N{}C{}H{}W{}size{}s{}".format(*c))
def test_pool_gradients(mode, case):
    n, c, h, w, size, stride = case
    layer = L.Pool(mode, size, stride)
    rng = np.random.default_rng(h * 10 + w)
    x = distinct(rng, (n, c, h, w))
    assert layer.forward(x).shape == (n, *layer.output_shape((c, h, w)))
    check(layer, x, rng, f"{mode} pool {case}")


def test_max_pool_sends_each_window_gradient_to_one_cell():
    # A tie: the whole window is 1.0; the gradient goes to the first max only, never twice.
    layer = L.Pool("max", 2, 2)
    layer.forward(np.ones((1, 1, 2, 2)))
    dx = layer.backward(np.array([[[[3.0]]]]))
    np.testing.assert_array_equal(dx, [[[[3.0, 0.0], [0.0, 0.0]]]])


# ---- dense, activations, softmax, flatten ------------------------------------------------
@pytest.mark.parametrize("activation", list(L.ACTIVATIONS))
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("x_shape", [(4, 7), (1, 3), (3, 5, 4)], ids=["NF", "1F", "NTF"])
def test_dense_gradients(x_shape, bias, activation):
    layer = L.Dense(5, bias, activation)
    x, rng = setup(layer, x_shape, seed=sum(x_shape))
    assert layer.forward(x).shape == (x_shape[0], *layer.output_shape(x_shape[1:]))
    check(layer, x, rng, f"dense {x_shape} bias={bias} {activation}")


@pytest.mark.parametrize("name", list(L.ACTIVATIONS))
@pytest.mark.parametrize("x_shape", [(4, 9), (2, 3, 4, 5)])
def test_activation_gradients(name, x_shape):
    rng = np.random.default_rng(len(x_shape))
    x = away_from_zero(2.0 * rng.standard_normal(x_shape))
    check(L.Activation(name), x, rng, f"activation {name} {x_shape}")


@pytest.mark.parametrize("x_shape", [(4, 9), (1, 2), (3, 6, 5)])
def test_softmax_gradients(x_shape):
    rng = np.random.default_rng(len(x_shape))
    x = 2.0 * rng.standard_normal(x_shape)
    y = L.Softmax().forward(x)
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, rtol=1e-14)
    check(L.Softmax(), x, rng, f"softmax {x_shape}")


def test_flatten_gradients():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 2, 4, 5))
    layer = L.Flatten()
    assert layer.forward(x).shape == (3, 40) and layer.output_shape((2, 4, 5)) == (40,)
    check(layer, x, rng, "flatten")


def test_layer_gradcheck_can_fail(monkeypatch):
    """The check is not vacuous: a backward that is off by a little is caught and named."""
    layer = L.Dense(3)
    x, rng = setup(layer, (4, 5), seed=0)
    dy = rng.standard_normal((4, 3))
    real = L.Dense.backward

    def wrong(self, dy):
        dx = real(self, dy)
        self.grads["bias"] *= 1.0 + 1e-5
        return dx

    monkeypatch.setattr(L.Dense, "backward", wrong)
    failed = [r.name for r in layer_gradcheck(layer, x, dy) if not r.passed]
    assert failed == ["bias"]


# ---- recurrent layers --------------------------------------------------------------------
def make_recurrent(kind, hidden, bias, return_all, gate=None):
    if kind == "rnn":
        return L.RNN(hidden, bias, return_all)
    return L.GruLite(hidden, bias, return_all, gate)


RECURRENT_KINDS = [("rnn", None), ("gru-lite", None), ("gru-lite", 0.3), ("gru-lite", 1.0)]
KIND_IDS = ["rnn", "gru-lite", "gru-lite-gate0.3", "gru-lite-gate1"]


@pytest.mark.parametrize("return_all", [True, False], ids=["all", "last"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("steps", [1, 2, 20])
@pytest.mark.parametrize("kind,gate", RECURRENT_KINDS, ids=KIND_IDS)
def test_recurrent_gradients(kind, gate, steps, bias, return_all):
    layer = make_recurrent(kind, 4, bias, return_all, gate)
    x, rng = setup(layer, (2, steps, 3), seed=steps)
    y = layer.forward(x)
    assert y.shape == (2, *layer.output_shape((steps, 3)))
    expected = {"rnn": {"weight_ih_l0", "weight_hh_l0"},
                "gru-lite": {"weight_ih_l0", "weight_hh_l0"}}[kind]
    if kind == "gru-lite" and gate is None:
        expected |= {"weight_ig_l0", "weight_hg_l0"}
    if bias:
        expected |= ({"bias_ih_l0", "bias_hh_l0"} if kind == "rnn" else
                     {"bias_l0"} | ({"bias_g_l0"} if gate is None else set()))
    assert set(layer.params) == expected
    check(layer, x, rng, f"{kind} gate={gate} T={steps} bias={bias} return_all={return_all}")


def _run_backward(layer, x_shape, seed):
    """One forward and backward with a random dy; the gradients stay in the layer."""
    x, rng = setup(layer, x_shape, seed)
    dy = rng.standard_normal(layer.forward(x).shape)
    layer.backward(dy)
    return x, dy


@pytest.mark.parametrize("return_all", [True, False], ids=["all", "last"])
@pytest.mark.parametrize("kind,gate", RECURRENT_KINDS, ids=KIND_IDS)
def test_step_param_grads_sum_to_grads(kind, gate, return_all):
    layer = make_recurrent(kind, 5, True, return_all, gate)
    _run_backward(layer, (3, 6, 4), 11)
    per_step = layer.step_param_grads()
    assert set(per_step) == set(layer.grads)
    for name, g in per_step.items():
        assert g.shape == (6, *layer.grads[name].shape), name
        np.testing.assert_allclose(g.sum(axis=0), layer.grads[name], rtol=1e-10, atol=1e-12,
                                   err_msg=f"{kind}: step_param_grads()['{name}'] summed "
                                   f"over steps is not grads['{name}']")


def reference_step(layer, x_t, s_prev):
    """One step of the layer's cell, written out from its docstring formula (test oracle)."""
    p = layer.params
    b = (p.get("bias_ih_l0", 0.0) + p.get("bias_hh_l0", 0.0)) if layer.kind == "rnn" else \
        p.get("bias_l0", 0.0)
    c = np.tanh(x_t @ p["weight_ih_l0"].T + b + s_prev @ p["weight_hh_l0"].T)
    if layer.kind == "rnn":
        return c
    if layer.fixed_gate is not None:
        g = layer.fixed_gate
    else:
        g = sigmoid(x_t @ p["weight_ig_l0"].T + p.get("bias_g_l0", 0.0)
                    + s_prev @ p["weight_hg_l0"].T)
    return g * c + (1.0 - g) * s_prev


def reference_states(layer, x, at=None, delta=None):
    """All states s_1..s_T, with s_{at} replaced by s_{at} + delta before the loop goes on."""
    s = np.zeros((x.shape[0], layer.hidden))
    states = []
    for t in range(x.shape[1]):
        s = reference_step(layer, x[:, t], s)
        if t == at:
            s = s + delta
        states.append(s)
    return np.stack(states, axis=1)


@pytest.mark.parametrize("return_all", [True, False], ids=["all", "last"])
@pytest.mark.parametrize("kind,gate", RECURRENT_KINDS, ids=KIND_IDS)
def test_state_grads_match_finite_differences(kind, gate, return_all):
    """state_grads[:, t] = dL/ds_t for L = sum(y * dy): the loss's change when s_t alone is
    nudged (s_t + delta, the later steps recomputed from it)."""
    layer = make_recurrent(kind, 3, True, return_all, gate)
    x, dy = _run_backward(layer, (2, 5, 2), 5)
    states = reference_states(layer, x)
    np.testing.assert_allclose(layer._output(states), layer.forward(x), rtol=1e-13,
                               err_msg="the test's reference cell disagrees with forward")

    def loss(t, delta):
        return np.sum(layer._output(reference_states(layer, x, t, delta)) * dy)

    eps = 1e-5
    sg = layer.state_grads
    assert sg.shape == states.shape
    for t in range(x.shape[1]):
        numeric = np.zeros_like(sg[:, t])
        for idx in np.ndindex(*numeric.shape):
            e = np.zeros_like(numeric)
            e[idx] = eps
            numeric[idx] = (loss(t, e) - loss(t, -e)) / (2 * eps)
        err = rel_error(sg[:, t], numeric).max()
        assert err < TOL, f"{kind}: state_grads[:, {t}] off by relative error {err:.2e}"
    # The last step's state gradient is exactly what arrives from the output there.
    np.testing.assert_array_equal(sg[:, -1], dy[:, -1] if return_all else dy)


@pytest.mark.parametrize("kind,gate", RECURRENT_KINDS, ids=KIND_IDS)
def test_step_jacobians_match_finite_differences(kind, gate):
    layer = make_recurrent(kind, 4, True, True, gate)
    x, rng = setup(layer, (2, 4, 3), seed=3)
    layer.forward(x)
    jac = layer.step_jacobians()
    assert jac.shape == (2, 4, 4, 4)
    states = layer.states
    eps = 1e-5
    for t in range(x.shape[1]):
        prev = states[:, t - 1] if t else np.zeros_like(states[:, 0])
        np.testing.assert_allclose(reference_step(layer, x[:, t], prev), states[:, t],
                                   rtol=1e-13)
        numeric = np.zeros((2, 4, 4))
        for j in range(4):
            e = np.zeros(4)
            e[j] = eps
            numeric[:, :, j] = (reference_step(layer, x[:, t], prev + e)
                                - reference_step(layer, x[:, t], prev - e)) / (2 * eps)
        err = rel_error(jac[:, t], numeric).max()
        assert err < TOL, f"{kind}: step_jacobians()[:, {t}] off by relative error {err:.2e}"


@pytest.mark.parametrize("return_all", [True, False], ids=["all", "last"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
def test_gru_lite_with_gate_one_is_the_rnn_bit_for_bit(bias, return_all):
    """docs/course-examples.md example 5: g = 1 gives exactly the simple rnn (same states, same
    gradients), with b = b_ih and b_hh = 0."""
    rng = np.random.default_rng(42)
    rnn, gru = L.RNN(6, bias, return_all), L.GruLite(6, bias, return_all, gate=1.0)
    w, u = rng.standard_normal((6, 3)), 0.5 * rng.standard_normal((6, 6))
    b = rng.standard_normal(6)
    rnn.params = {"weight_ih_l0": w.copy(), "weight_hh_l0": u.copy()}
    gru.params = {"weight_ih_l0": w.copy(), "weight_hh_l0": u.copy()}
    if bias:
        rnn.params |= {"bias_ih_l0": b.copy(), "bias_hh_l0": np.zeros(6)}
        gru.params["bias_l0"] = b.copy()
    rnn.zero_grad()
    gru.zero_grad()
    x = rng.standard_normal((4, 9, 3))
    y_rnn, y_gru = rnn.forward(x), gru.forward(x)
    np.testing.assert_array_equal(y_gru, y_rnn)
    dy = rng.standard_normal(y_rnn.shape)
    np.testing.assert_array_equal(gru.backward(dy), rnn.backward(dy))
    np.testing.assert_array_equal(gru.state_grads, rnn.state_grads)
    for name in ("weight_ih_l0", "weight_hh_l0"):
        np.testing.assert_array_equal(gru.grads[name], rnn.grads[name], err_msg=name)
    if bias:
        np.testing.assert_array_equal(gru.grads["bias_l0"], rnn.grads["bias_ih_l0"])
    np.testing.assert_array_equal(gru.step_jacobians(), rnn.step_jacobians())
