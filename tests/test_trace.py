"""grad-trace: the core (nncli.trace) and the command, against the notes and the engine.

- the scalar RNN of docs/course-examples.md example 4: the closed-form numbers and the chain;
- gru-lite with the gate held at 1 is the simple rnn exactly (example 5);
- per-step parameter contributions sum to the engine's gradients (1e-10, float64);
- ‖∂s_T/∂s_k‖ and the heatmap against centred finite differences of a naive reference;
- ‖∂L/∂s_k‖ (from the engine's state_grads) equals (∂s_T/∂s_k)^T ∂L/∂s_T;
- gru-lite's bound() never undercuts the step Jacobian norms (hypothesis, and the swap
  counter-example that broke max(1, λ1) + λ1(Ug)/2);
- bad input: one line on stderr, exit code 2.
"""

from __future__ import annotations

import io
import json
import shlex
import subprocess
import sys
from pathlib import Path

import jsonschema
import numpy as np
import pytest
import typer
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from nncli import trace as core
from nncli.cli import app
from nncli.layers import GruLite
from nncli.spec import load_spec

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
SEED_RNN = CONFIGS / "seed_rnn.yaml"
SEED_GRU = CONFIGS / "seed_gru_lite.yaml"
EXAMPLE = ("--input", "1; 2", "--target", "0.5; -0.25")
runner = CliRunner()


def run(*args):
    return runner.invoke(app, ["grad-trace", *[str(a) for a in args]])


def run_wide(*args) -> str:
    """The text output on a wide terminal (no line breaks inside the phrases checked)."""
    result = runner.invoke(app, ["grad-trace", *[str(a) for a in args]],
                           env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    return result.stdout


def run_json(*args) -> dict:
    result = run(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def fails(*args) -> str:
    """The command must fail with exit code 2 and exactly one line on stderr."""
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


# --------------------------------------------------------------------------- references

def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def reference_run(layer, x, s, start):
    """Naive loop: the states after steps start+1..T of one sample, from state s at `start`
    (0-based index of the step whose state s is; start = -1 means s = s_0)."""
    p = layer.params
    out = []
    for t in range(start + 1, x.shape[0]):
        a = p["weight_ih_l0"] @ x[t] + p["weight_hh_l0"] @ s
        if isinstance(layer, GruLite):
            a = a + p.get("bias_l0", 0.0)
            if layer.fixed_gate is None:
                g = sigmoid(p["weight_ig_l0"] @ x[t] + p["weight_hg_l0"] @ s
                            + p.get("bias_g_l0", 0.0))
            else:
                g = layer.fixed_gate
            s = g * np.tanh(a) + (1 - g) * s
        else:
            s = np.tanh(a + p.get("bias_ih_l0", 0.0) + p.get("bias_hh_l0", 0.0))
        out.append(s)
    return np.array(out)


def fd_jacobian(layer, x, states, t, k, h=1e-6):
    """∂s_t/∂s_k (0-based steps, k <= t) by centred differences of the reference."""
    n = states.shape[-1]
    if k == t:
        return np.eye(n)
    cols = []
    for j in range(n):
        e = np.zeros(n)
        e[j] = h
        plus = reference_run(layer, x[: t + 1], states[k] + e, k)[-1]
        minus = reference_run(layer, x[: t + 1], states[k] - e, k)[-1]
        cols.append((plus - minus) / (2 * h))
    return np.stack(cols, axis=1)


def small_model(cell, steps=6, hidden=3, width=2, seed=1, gate=None, scale=1.3):
    model = core.builtin_model(cell, steps, hidden, width, seed, {"gate": gate})
    model.layers[0].rescale(scale)
    rng = np.random.default_rng(seed + 10)
    for k in model.layers[0].params:                     # non-zero biases, too
        if k.startswith("bias"):
            model.layers[0].params[k] = rng.normal(0, 0.3, model.layers[0].params[k].shape)
    return model


CASES = [("rnn", None), ("gru-lite", None), ("gru-lite", 0.3), ("gru-lite", 1.0)]


# --------------------------------------------------------------------------- example 4

def test_scalar_example_matches_the_closed_form():
    out = run_json(SEED_RNN, *EXAMPLE)
    assert out["loss_at"] == "every"
    assert out["loss"] == pytest.approx(0.8941527459, abs=1e-10)
    grads = {k: v["value"][0][0] for k, v in out["grads"].items()}
    assert grads["0.weight_ih_l0"] == pytest.approx(3.8620563504, abs=1e-10)   # θ1
    assert grads["0.weight_hh_l0"] == pytest.approx(1.4238235714, abs=1e-10)   # θ2
    assert grads["1.weight"] == pytest.approx(0.8949972723, abs=1e-10)         # θ3
    # The chain of the notes, by hand: s_t, the factor θ2 (1 - s_2²) and dL/ds_t.
    th1, th2, th3, x, y = 0.5, -1.5, 2.0, (1.0, 2.0), (0.5, -0.25)
    s1 = np.tanh(th1 * x[0])
    s2 = np.tanh(th1 * x[1] + th2 * s1)
    g2 = 2 * (th3 * s2 - y[1]) * th3
    factor = th2 * (1 - s2**2)
    g1 = 2 * (th3 * s1 - y[0]) * th3 + factor * g2
    chain = {c["t"]: c for c in out["chain"]}
    assert chain[1]["state"] == pytest.approx(0.4621171573, abs=1e-10)
    assert chain[2]["state"] == pytest.approx(0.2975452616, abs=1e-10)
    assert chain[2]["grad"] == pytest.approx(g2, abs=1e-12)
    assert chain[1]["factor"] == pytest.approx(factor, abs=1e-12)
    assert chain[1]["grad"] == pytest.approx(g1, abs=1e-12)
    assert out["grad_norm"] == pytest.approx([abs(g1), abs(g2)], abs=1e-12)
    assert out["jacobian_product_norm"] == pytest.approx([abs(factor), 1.0], abs=1e-12)
    # Per-step contributions to dL/dθ1: (1 - s_t²) dL/ds_t x_t, summing to the closed form.
    steps = out["params"]["weight_ih_l0"]["step_value"]
    assert steps == pytest.approx([(1 - s1**2) * g1 * x[0], (1 - s2**2) * g2 * x[1]],
                                  abs=1e-12)
    assert sum(steps) == pytest.approx(3.8620563504, abs=1e-10)
    assert out["bound"]["sigma_max"] == pytest.approx(1.5)
    assert out["bound"]["holds"]


def test_scalar_example_text_shows_the_chain_and_the_notes_numbers():
    result = run(SEED_RNN, *EXAMPLE)
    assert result.exit_code == 0, result.output
    text = result.stdout
    for number in ("0.4621171573", "0.2975452616", "0.8941527459", "3.8620563504",
                   "1.4238235714", "0.8949972723", "-1.3672002260"):
        assert number in text, number
    assert "U (1 - s_2²) = (-1.5)(1 - 0.2975452616²)" in text
    assert "chain rule back through time" in text
    assert "pascanu" in text


def test_seed_gru_lite_with_gate_one_is_the_seed_rnn():
    rnn = run_json(SEED_RNN, *EXAMPLE)
    gru = run_json(SEED_GRU, *EXAMPLE, "--gate", "1")
    assert gru["model"]["cell"] == "gru-lite" and gru["model"]["gate"] == 1.0
    for key in ("loss", "grad_norm", "step_jacobian_norm", "jacobian_product_log10"):
        assert gru[key] == rnn[key], key
    # The same chain, number for number; each cell works its factor out in its own formula.
    strip = [[{k: v for k, v in row.items() if k != "explain"} for row in out["chain"]]
             for out in (gru, rnn)]
    assert strip[0] == strip[1]
    assert gru["grads"]["0.weight_ih_l0"] == rnn["grads"]["0.weight_ih_l0"]
    assert gru["grads"]["1.weight"] == rnn["grads"]["1.weight"]
    assert "0.weight_ig_l0" not in gru["grads"]          # the gate's parameters are gone


# --------------------------------------------------------------------------- gate 1 == rnn

@pytest.mark.parametrize("loss_at", ["last", "every"])
def test_builtin_gru_lite_gate_one_equals_rnn_exactly(loss_at):
    args = ("--steps", 15, "--hidden", 5, "--input-size", 2, "--seed", 3, "--scale", "1.4",
            "--loss-at", loss_at)
    rnn = run_json("--cell", "rnn", *args)
    gru = run_json("--cell", "gru-lite", "--gate", "1", *args)
    for key in ("loss", "grad_norm", "output_grad_norm", "step_jacobian_norm",
                "jacobian_product_log10", "heatmap", "fit"):
        assert gru[key] == rnn[key], key
    assert gru["gates"]["mean"] == [1.0] * 15
    for name in ("weight_ih_l0", "weight_hh_l0"):
        assert gru["params"][name] == rnn["params"][name]
    assert gru["params"]["bias_l0"]["step_norm"] == rnn["params"]["bias_ih_l0"]["step_norm"]


def test_gate_one_states_and_gradients_bit_for_bit():
    rnn, gru = (core.builtin_model(c, 9, 4, 3, 5, {"gate": g})
                for c, g in (("rnn", None), ("gru-lite", 1.0)))
    x, y = core.generate(rnn, 5, batch=3)
    a = core.trace(rnn, x, y, loss_at="every")
    b = core.trace(gru, x, y, loss_at="every")
    r, g = rnn.layers[0], gru.layers[0]
    np.testing.assert_array_equal(r.states, g.states)
    np.testing.assert_array_equal(r.state_grads, g.state_grads)
    np.testing.assert_array_equal(r.step_jacobians(), g.step_jacobians())
    np.testing.assert_array_equal(r.grads["weight_hh_l0"], g.grads["weight_hh_l0"])
    np.testing.assert_array_equal(rnn.layers[1].grads["weight"], gru.layers[1].grads["weight"])
    assert a.loss == b.loss


# --------------------------------------------------------------------------- the engine

@pytest.mark.parametrize("cell,gate", CASES)
@pytest.mark.parametrize("loss_at", ["last", "every"])
def test_step_contributions_sum_to_the_engines_gradients(cell, gate, loss_at):
    model = small_model(cell, steps=7, hidden=4, width=3, seed=2, gate=gate)
    x, y = core.generate(model, 4, batch=3)
    tr = core.trace(model, x, y, loss_at=loss_at)
    rec = model.layers[0]
    per_step = rec.step_param_grads()
    # An independent pass of the engine (train_step) gives the reference gradients.
    engine = core.builtin_model(cell, 7, 4, 3, 2, {"gate": gate})
    engine.load_state(model.named_params())
    if loss_at == "every":
        engine.train_step(x, y)
    else:
        _, grad, outputs = engine.loss(x, y)
        grad = np.zeros_like(outputs[-1])
        grad[:, -1] = 2 * (outputs[-1][:, -1] - y[:, -1])
        engine.zero_grad()
        engine.backward_from(grad)
    for name, contributions in per_step.items():
        assert contributions.shape == (7, *rec.params[name].shape)
        np.testing.assert_allclose(contributions.sum(axis=0), engine.layers[0].grads[name],
                                   rtol=0, atol=1e-10, err_msg=name)
        assert sum(tr.params[name].step_share) == pytest.approx(1.0, abs=1e-10) or (
            tr.params[name].grad_norm == 0)
    assert tr.sum_check["ok"] and tr.sum_check["max_abs_error"] < 1e-10


@pytest.mark.parametrize("cell,gate", CASES)
def test_state_grads_are_the_jacobian_products_applied_to_the_last_gradient(cell, gate):
    model = small_model(cell, steps=6, hidden=3, width=2, seed=7, gate=gate)
    x, y = core.generate(model, 1)
    tr = core.trace(model, x, y, loss_at="last")
    rec = model.layers[0]
    states = rec.states[0]
    last = rec.state_grads[0, -1]
    assert np.all(rec.state_grads[0, :-1] != 0)
    for k in range(6):
        jac = fd_jacobian(rec, x[0], states, 5, k)
        np.testing.assert_allclose(rec.state_grads[0, k], jac.T @ last, rtol=1e-6, atol=1e-9)
        assert tr.grad_norm[k] == pytest.approx(np.linalg.norm(jac.T @ last), rel=1e-6)


# --------------------------------------------------------------------------- jacobians

def test_reference_reproduces_the_layer_states():
    for cell, gate in CASES:
        model = small_model(cell, gate=gate)
        x, y = core.generate(model, 0)
        core.trace(model, x, y)
        rec = model.layers[0]
        np.testing.assert_allclose(reference_run(rec, x[0], np.zeros(rec.hidden), -1),
                                   rec.states[0], rtol=0, atol=1e-14)


@pytest.mark.parametrize("cell,gate", CASES)
@pytest.mark.parametrize("seed,steps,hidden", [(0, 5, 1), (1, 6, 3), (2, 8, 4)])
def test_jacobian_product_norms_match_finite_differences(cell, gate, seed, steps, hidden):
    model = small_model(cell, steps=steps, hidden=hidden, seed=seed, gate=gate)
    x, y = core.generate(model, seed)
    tr = core.trace(model, x, y, loss_at="every")
    rec = model.layers[0]
    states = rec.states[0]
    want = [np.linalg.norm(fd_jacobian(rec, x[0], states, steps - 1, k), 2)
            for k in range(steps)]
    np.testing.assert_allclose(tr.jacobian_product_norm, want, rtol=1e-6, atol=1e-10)
    steps_fd = [np.linalg.norm(fd_jacobian(rec, x[0], states, t, t - 1), 2)
                for t in range(1, steps)]
    np.testing.assert_allclose(tr.step_jacobian_norm[1:], steps_fd, rtol=1e-6, atol=1e-10)
    hm = tr.heatmap
    assert hm["exact"] and hm["t"] == hm["k"] == list(range(1, steps + 1))
    for i, t in enumerate(hm["t"]):
        for j, k in enumerate(hm["k"]):
            if k > t:
                assert np.isnan(hm["log10"][i][j])
                continue
            fd = np.linalg.norm(fd_jacobian(rec, x[0], states, t - 1, k - 1), 2)
            assert 10 ** hm["log10"][i][j] == pytest.approx(fd, rel=1e-6, abs=1e-10), (t, k)


def test_heatmap_grid_for_long_sequences_matches_the_exact_row():
    model = small_model("rnn", steps=150, hidden=5, width=1, seed=3, scale=1.1)
    x, y = core.generate(model, 3)
    tr = core.trace(model, x, y, loss_at="every")
    hm = tr.heatmap
    assert not hm["exact"] and len(hm["t"]) <= core.HEATMAP_MAX
    assert hm["t"][0] == 1 and hm["t"][-1] == 150
    for j, k in enumerate(hm["k"]):                     # the last row is ‖∂s_T/∂s_k‖
        assert hm["log10"][-1][j] == pytest.approx(tr.jacobian_product_log10[k - 1], abs=1e-9)


def test_products_do_not_underflow():
    model = core.builtin_model("rnn", 400, 8, 1, 0)
    model.layers[0].rescale(0.05)
    x, y = core.generate(model, 0)
    tr = core.trace(model, x, y)
    assert np.all(np.isfinite(tr.jacobian_product_log10))
    assert tr.jacobian_product_log10[0] < -400            # 10**x is below float range
    assert tr.fit["verdict"] == "vanishing"
    out = tr.to_dict()
    json.dumps(out, allow_nan=False)
    assert out["jacobian_product_norm"][0] == 0.0


@pytest.mark.parametrize("scale", [0.5, 1.0, 2.0, 3.0])
def test_pascanu_bound_holds_and_scale_sets_sigma_max(scale):
    model = core.builtin_model("rnn", 40, 16, 2, 1)
    model.layers[0].rescale(scale)
    x, y = core.generate(model, 1, batch=2)
    tr = core.trace(model, x, y)
    assert tr.bound["sigma_max"] == pytest.approx(scale, rel=1e-12)
    assert tr.bound["holds"]
    row = np.array(tr.jacobian_product_log10)
    assert np.all(row <= np.array(tr.bound["log10"]) + 1e-9)
    # The built-in U is orthogonal: every singular value of the scaled U is `scale`.
    sv = np.linalg.svd(model.layers[0].params["weight_hh_l0"], compute_uv=False)
    np.testing.assert_allclose(sv, scale, rtol=1e-12)


def test_gru_lite_bound_holds():
    for gate in (None, 0.4):
        model = small_model("gru-lite", steps=30, hidden=6, width=2, seed=4, gate=gate,
                            scale=2.5)
        x, y = core.generate(model, 4, batch=2)
        assert core.trace(model, x, y, loss_at="every").bound["holds"]


def gru_lite_with(u, ug, w, b, wg, bg):
    """A learned-gate gru-lite with exactly these parameters (float64)."""
    h, i = w.shape
    layer = GruLite(h)
    layer.init_params((1, i), np.random.default_rng(0))
    layer.params.update(weight_hh_l0=u, weight_hg_l0=ug, weight_ih_l0=w, bias_l0=b,
                        weight_ig_l0=wg, bias_g_l0=bg)
    return layer


def step_norms(layer, x):
    layer.forward(x)
    return np.linalg.norm(layer.step_jacobians(), 2, axis=(-2, -1))


def test_gru_lite_bound_survives_the_swap_counter_example():
    """U = λ swap, Ug = 0, gates (0, 1), c = 0: J = [[1, 0], [λ, 0]], ‖J‖ = √(1 + λ²), which
    the old max(1, λ1) + λ1(Ug)/2 undercut; the bound now meets it exactly."""
    swap, zero = np.array([[0.0, 1.0], [1.0, 0.0]]), np.zeros((2, 2))
    for lam in (0.5, 1.0, 2.0):
        # W = 0 and b = 0 keep every candidate at tanh(0) = 0; bg = ∓60 pins g to 0 / 1.
        layer = gru_lite_with(lam * swap, zero, zero, np.zeros(2), zero, np.array([-60.0, 60.0]))
        norms = step_norms(layer, np.ones((1, 5, 2)))
        np.testing.assert_array_equal(layer.gates[0], np.tile([0.0, 1.0], (5, 1)))
        assert norms.max() == pytest.approx(np.hypot(1.0, lam), rel=1e-12)
        assert norms.max() > max(1.0, lam) + 0.1          # the old rate, broken
        assert norms.max() <= layer.bound().rate * (1 + 1e-12)


@st.composite
def gru_lite_case(draw):
    """Random U, Ug, W, biases and inputs (so random states), some of them large enough to
    saturate c and s; with `forced` each unit's gate is pinned to 0 or 1."""
    hidden, width = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    steps = draw(st.integers(1, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = st.sampled_from([0.0, 0.3, 1.0, 3.0])
    u_s, ug_s, w_s, x_s = (draw(scale) for _ in range(4))

    def m(rows, cols, s):
        return s * rng.standard_normal((rows, cols))

    u, ug, w = m(hidden, hidden, u_s), m(hidden, hidden, ug_s), m(hidden, width, w_s)
    b, wg, bg = m(1, hidden, 1.0)[0], m(hidden, width, 1.0), m(1, hidden, 1.0)[0]
    if draw(st.booleans()):                  # forced: |Ug s| <= 3 λ1 stays far below 60
        wg = np.zeros_like(wg)
        bg = 60.0 * rng.choice([-1.0, 1.0], hidden)
    if draw(st.booleans()) and hidden >= 2:   # a permutation U: the counter-example's kind
        u = draw(st.sampled_from([0.5, 1.0, 2.0])) * np.eye(hidden)[rng.permutation(hidden)]
    x = m(3 * steps, width, x_s).reshape(3, steps, width)
    return gru_lite_with(u, ug, w, b, wg, bg), x


@settings(max_examples=150, deadline=None)
@given(gru_lite_case())
def test_gru_lite_learned_gate_bound_holds_for_random_cells(case):
    layer, x = case
    norms = step_norms(layer, x)
    assert norms.max() <= layer.bound().rate * (1 + 1e-12)


def test_fit_and_verdicts():
    d = np.arange(10, dtype=float)
    assert core.fit_rate(d * np.log10(0.5), d) == pytest.approx(0.5)
    assert core.fit_rate(d * np.log10(1.2), d) == pytest.approx(1.2)
    assert core.fit_rate(np.array([0.0]), np.array([0.0])) is None
    assert core.fit_rate(np.array([0.0, -np.inf, -np.inf]), np.arange(3.0)) == 0.0
    assert [core.verdict(r) for r in (0.5, 0.97, 1.2, None)] == [
        "vanishing", "stable", "exploding", "n/a"]


# --------------------------------------------------------------------------- the command

def test_json_shape_of_a_builtin_trace():
    out = run_json("--cell", "gru-lite", "--steps", 12, "--hidden", 4)
    t = 12
    assert out["t"] == list(range(1, t + 1))
    for key in ("grad_norm", "output_grad_norm", "step_jacobian_norm",
                "jacobian_product_norm", "jacobian_product_log10"):
        assert len(out[key]) == t, key
    assert out["loss_at"] == "last" and out["heatmap"] is None
    assert out["output_grad_norm"][:-1] == [0.0] * (t - 1)
    assert set(out["gates"]) == {"mean", "min", "max"} and len(out["gates"]["mean"]) == t
    assert set(out["fit"]) == {"basis", "rate", "verdict", "change", "thresholds",
                               "min_steps"}
    assert out["fit"]["basis"] == "grad_norm"
    assert set(out["bound"]) == {"rule", "sigma_max", "rate", "log10", "holds"}
    assert out["model"]["source"] == "built-in" and out["model"]["hidden"] == 4
    assert set(out["params"]) == {"weight_ih_l0", "weight_hh_l0", "bias_l0", "weight_ig_l0",
                                  "weight_hg_l0", "bias_g_l0"}
    p = out["params"]["weight_hh_l0"]
    assert p["shape"] == [4, 4] and len(p["step_norm"]) == len(p["step_share"]) == t
    assert out["chain"] is None and out["sum_check"]["ok"]


def test_compare_and_scale_sweep_show_both_regimes():
    out = run_json("--compare", "rnn,gru-lite", "--steps", 100, "--hidden", 32,
                   "--scale", "0.5,1,2")
    runs = out["runs"]
    assert [r["label"] for r in runs] == ["rnn λ1=0.5", "rnn λ1=1", "rnn λ1=2",
                                          "gru-lite λ1=0.5", "gru-lite λ1=1", "gru-lite λ1=2"]
    verdicts = {r["label"]: r["fit"]["verdict"] for r in runs}
    assert verdicts["rnn λ1=0.5"] == verdicts["rnn λ1=1"] == "vanishing"
    assert verdicts["rnn λ1=2"] == "exploding"
    # Same input and same W, U for both cells: the rnn forgets faster than the gated cell.
    rates = {r["label"]: r["fit"]["rate"] for r in runs}
    assert rates["gru-lite λ1=1"] > rates["rnn λ1=1"]
    assert rates["gru-lite λ1=0.5"] > rates["rnn λ1=0.5"]
    assert all(r["model"]["input"] == runs[0]["model"]["input"] for r in runs)
    text = run("--compare", "rnn,gru-lite", "--steps", 30, "--scale", "0.5,2")
    assert text.exit_code == 0 and "side by side" in text.stdout
    assert "vanishing" in text.stdout and "exploding" in text.stdout


def test_text_output_of_a_long_trace():
    result = run("--cell", "rnn", "--steps", 60, "--hidden", 8, "--scale", "0.7")
    assert result.exit_code == 0, result.output
    assert "VANISHING" in result.stdout and "24 of 60 steps" in result.stdout
    assert "checked: the per-step contributions sum" in result.stdout
    full = run("--cell", "rnn", "--steps", 30, "--hidden", 8, "--all-steps",
               "--loss-at", "every")
    assert full.exit_code == 0 and "log10 ‖∂s_t/∂s_k‖" in full.stdout


def test_input_and_target_from_text_and_batches():
    seq = "0.5 1; -1 0; 2 0.5; 0 0"
    out = run_json("--input", seq, "--target", "0.3", "--hidden", 3)
    assert out["model"]["steps"] == 4 and out["model"]["input_size"] == 2
    batch = json.dumps(np.arange(24.0).reshape(3, 4, 2).tolist())
    out = run_json("--input", batch, "--hidden", 3, "--scale", "0.9")
    assert out["model"]["batch"] == 3 and out["notes"]


def test_adding_configs_trace_untrained_and_hold_the_training_keys():
    for name in ("adding_rnn.yaml", "adding_gru_lite.yaml"):
        raw = yaml.safe_load((CONFIGS / name).read_text())
        assert raw["input"] == [50, 2] and raw["data"] == {"name": "adding", "steps": 50}
        assert set(raw["train"]) == {"lr", "momentum", "epochs", "batch_size", "clip"}
        spec = load_spec(CONFIGS / name)
        assert spec.loss == "mse" and spec.reduction == "mean"
        out = run_json(CONFIGS / name, "--sample", 2)
        assert out["model"]["input"] == "adding test[2]" and out["loss_at"] == "last"
        assert out["model"]["steps"] == 50 and out["sum_check"]["ok"]
    gated = run_json(CONFIGS / "adding_gru_lite.yaml", "--gate", "1", "--steps", 80,
                     "--input", json.dumps(np.ones((80, 2)).tolist()))
    assert gated["model"]["gate"] == 1.0 and gated["model"]["steps"] == 80


def test_weights_are_loaded(tmp_path):
    spec = load_spec(SEED_RNN)
    params = spec.build().named_params()
    params["0.weight_hh_l0"] = np.array([[-0.5]])
    np.savez(tmp_path / "w.npz", **params)
    out = run_json(SEED_RNN, *EXAMPLE, "--weights", tmp_path / "w.npz")
    assert out["bound"]["sigma_max"] == pytest.approx(0.5)


def test_help_has_examples():
    result = runner.invoke(app, ["grad-trace", "--help"])
    assert result.exit_code == 0
    assert "Examples" in result.stdout and "--compare" in result.stdout


def test_installed_entry_point_prints_plain_json():
    proc = subprocess.run([sys.executable, "-m", "nncli", "grad-trace", "--steps", "5",
                           "--hidden", "2", "--json"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["model"]["steps"] == 5
    bad = subprocess.run([sys.executable, "-m", "nncli", "grad-trace", "--steps", "0"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
    assert bad.stderr.strip() == "error: --steps: expected an integer >= 1, got 0"


# --------------------------------------------------------------------------- bad input

def test_no_recurrent_layer():
    line = fails(CONFIGS / "seed_conv.yaml")
    cells = core.cells()
    assert "rnn" in cells and "gru-lite" in cells
    want = f"no {', '.join(cells[:-1])} or {cells[-1]} layer to trace"
    assert line.startswith("error: seed_conv.yaml:") and want in line


@pytest.mark.parametrize("args,expected", [
    (("--steps", "0"), "--steps: expected an integer >= 1, got 0"),
    (("--hidden", "0"), "--hidden: expected an integer >= 1, got 0"),
    (("--cell", "nope"), f"--cell: expected one of {', '.join(core.cells())}, got 'nope'"),
    (("--cell", "rnn", "--gate", "1"), "--gate is an option of gru-lite only; the built-in "
                                       "cell is rnn"),
    (("--cell", "gru-lite", "--gate", "1.5"), "--gate: expected a number in [0, 1]"),
    (("--scale", "big"), "--scale: expected numbers"),
    (("--scale", "-1"), "--scale: expected numbers >= 0"),
    (("--compare", "rnn,nope"), "--compare: unknown cell 'nope'"),
    (("--loss-at", "first"), "--loss-at: expected last or every"),
    (("--input-size", "2", "--input", "1; 2"), "--input: expected one sample of shape"),
    (("--seed", "-1"), "--seed: expected an integer >= 0"),
    (("--layer", "1"), "--layer: only with CONFIG"),
])
def test_bad_builtin_options(args, expected):
    assert expected in fails(*args)


@pytest.mark.parametrize("args,expected", [
    ((SEED_RNN, "--input", "1 2; 3 4"), "--input: expected one sample of shape (2, 1)"),
    ((SEED_RNN, "--input", "1 2"), "write the steps as rows"),
    ((SEED_RNN, "--input", "1; 2", "--target", "1; 2; 3"), "--target: expected shape"),
    ((SEED_RNN, "--hidden", "4"), "--hidden: only for the built-in model"),
    ((SEED_RNN, "--gate", "1"), "--gate is an option of gru-lite only; this model's "
                                "recurrent layer is rnn"),
    ((SEED_RNN, "--layer", "1"), "--layer: layers[1] is dense"),
    ((SEED_RNN, "--steps", "0"), "--steps: expected an integer >= 1, got 0"),
    ((CONFIGS / "adding_rnn.yaml", "--loss-at", "every"), "--loss-at every: the model's "
                                                          "output is not per step"),
    ((CONFIGS / "adding_rnn.yaml", "--sample", "5000"), "--sample: expected 0..999"),
    (("missing.yaml",), "CONFIG: 'missing.yaml' not found"),
])
def test_bad_spec_options(args, expected):
    assert expected in fails(*args)


def test_wrong_width_sequence_from_a_file(tmp_path):
    path = tmp_path / "seq.npy"
    np.save(path, np.zeros((50, 3)))
    line = fails(CONFIGS / "adding_gru_lite.yaml", "--input", path)
    assert "--input: expected one sample of shape (50, 2)" in line


# --------------------------------------------------------------------------- issue 12

def test_a_run_folder_is_a_config(tmp_path):
    """grad-trace RUN_DIR loads the folder's config.yaml and best.npz (else last.npz)."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text(SEED_RNN.read_text())
    params = load_spec(SEED_RNN).build().named_params()
    params["0.weight_hh_l0"] = np.array([[-0.25]])
    np.savez(run_dir / "last.npz", **params)
    out = run_json(run_dir, *EXAMPLE)
    assert out["bound"]["sigma_max"] == pytest.approx(0.25)
    assert out["model"]["weights"] == str(run_dir / "last.npz")
    params["0.weight_hh_l0"] = np.array([[0.75]])
    np.savez(run_dir / "best.npz", **params)
    out = run_json(run_dir, *EXAMPLE)
    assert out["bound"]["sigma_max"] == pytest.approx(0.75)
    assert out["model"]["source"] == str(run_dir)
    # --steps rewrites the spec before the weights load into it.
    longer = run_json(run_dir, "--steps", 3, "--input", "1; 2; 3", "--target", "0; 0; 1")
    assert longer["model"]["steps"] == 3 and longer["bound"]["sigma_max"] == pytest.approx(0.75)
    assert "weights " + str(run_dir / "best.npz") in run_wide(run_dir, *EXAMPLE)


def test_every_help_example_runs(tmp_path, monkeypatch):
    """The examples of `grad-trace --help`, run as written from a folder where train wrote
    runs/adding_rnn (trained briefly on a small data set: only the files matter)."""
    (tmp_path / "configs").mkdir()
    for name in ("seed_rnn.yaml", "adding_rnn.yaml"):
        (tmp_path / "configs" / name).write_text((CONFIGS / name).read_text())
    monkeypatch.chdir(tmp_path)
    trained = runner.invoke(app, ["train", "configs/adding_rnn.yaml", "--out",
                                  "runs/adding_rnn", "--epochs", "1", "--set", "data.train=32",
                                  "--set", "data.val=8", "--set", "data.test=8"])
    assert trained.exit_code == 0, trained.output
    help_text = typer.main.get_command(app).commands["grad-trace"].help
    examples = [line.strip() for line in help_text.splitlines()
                if line.strip().startswith("nncli grad-trace")]
    assert len(examples) >= 5 and not any("weights.npz" in e for e in examples)
    assert any("best.npz" in e for e in examples) and "nncli grad-trace runs/adding_rnn" in \
        examples
    for example in examples:
        result = runner.invoke(app, shlex.split(example)[1:])
        assert result.exit_code == 0, (example, result.output)


def test_an_embedding_models_recurrent_input_is_the_embedding(tmp_path):
    """chars_rnn: tokens -> embedding (dim 32) -> rnn; the rnn's input is T x 32."""
    out = run_json(CONFIGS / "chars_rnn.yaml", "--steps", 6, "--input", "1 2 3 4 5 6",
                   "--loss-at", "last")
    spec = load_spec(CONFIGS / "chars_rnn.yaml")
    dim = next(entry["embedding"]["dim"] for entry in spec.raw["layers"]
               if isinstance(entry, dict) and "embedding" in entry)
    assert out["model"]["layer"] == 1 and out["model"]["steps"] == 6
    assert out["model"]["input_size"] == dim == 32
    text = run_wide(CONFIGS / "chars_rnn.yaml", "--steps", 6, "--input", "1 2 3 4 5 6",
                    "--loss-at", "last")
    assert "layers[1]'s input 6x32" in text


def test_too_few_steps_are_too_short_to_judge():
    out = run_json(SEED_RNN, *EXAMPLE)
    assert out["fit"]["verdict"] == "too-short" and out["fit"]["min_steps"] == 5
    assert out["fit"]["rate"] is not None              # the fitted rate is still given
    text = run_wide(SEED_RNN, *EXAMPLE)
    assert "TOO SHORT TO JUDGE" in text and "EXPLODING" not in text
    assert core.verdict(1.5, 4) == "too-short" and core.verdict(1.5, 5) == "exploding"
    five = run_json("--steps", 5, "--hidden", 3, "--scale", "0.3")
    assert five["fit"]["verdict"] == "vanishing"


def test_the_contribution_columns_are_what_the_heading_says():
    scalar = run_wide(SEED_RNN, *EXAMPLE)
    assert "the cells are G_t itself, summing to ∂L/∂θ" in scalar
    assert "<G_t, G>/‖G‖²" not in scalar
    out = run_json("--steps", 4, "--hidden", 2, "--seed", 1)
    text = run_wide("--steps", 4, "--hidden", 2, "--seed", 1)
    assert "the share <G_t, G>/‖G‖² in %" in text
    row = next(line for line in text.splitlines() if line.startswith("0.weight_hh_l0"))
    shares = [f"{100 * s:.1f}%" for s in out["params"]["weight_hh_l0"]["step_share"]]
    assert row.split()[2:] == shares


def test_without_colour_the_heatmap_names_no_colours(monkeypatch):
    from rich.console import Console

    from nncli.render import trace as render

    model = small_model("rnn", steps=5, hidden=2)
    x, y = core.generate(model, 0)
    tr = core.trace(model, x, y, loss_at="every")

    def shown(**kwargs) -> str:
        buffer = io.StringIO()
        render._show_one(Console(file=buffer, width=250, **kwargs), tr, limit=24)
        return buffer.getvalue()

    coloured = shown(force_terminal=True, color_system="truecolor")
    assert "blue shrinks, red grows" in coloured and "\x1b[" in coloured
    for plain in (shown(force_terminal=True, color_system="truecolor", no_color=True),
                  shown(color_system=None)):
        assert "blue" not in plain and "red grows" not in plain
        assert "-3 = 1000x smaller, 3 = 1000x larger" in plain
    result = runner.invoke(app, ["grad-trace", "--steps", "5", "--loss-at", "every"],
                           env={"NO_COLOR": "1"})
    assert result.exit_code == 0 and "blue" not in result.stdout


@pytest.mark.parametrize("args", [
    ("--cell", "gru-lite", "--steps", 30, "--loss-at", "every"),
    ("--cell", "lstm", "--steps", 30, "--hidden", 6, "--loss-at", "every"),
    ("--cell", "gru", "--steps", 8, "--hidden", 4),
    ("--compare", ",".join(core.cells()), "--steps", 20, "--hidden", 4),
    (SEED_GRU, *EXAMPLE),
])
def test_text_fits_80_columns(args):
    result = runner.invoke(app, ["grad-trace", *map(str, args)],
                           env={"COLUMNS": "80", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(map(len, lines)) <= 80
    assert not any("…" in line for line in lines), "a cell was cut short"


def test_every_registered_cell_traces_through_the_command():
    schema = json.loads((ROOT / "nncli" / "schemas" / "grad-trace.json").read_text())
    for cell in core.cells():
        out = run_json("--cell", cell, "--steps", 6, "--hidden", 3, "--loss-at", "every")
        jsonschema.validate(out, schema, cls=jsonschema.Draft202012Validator)
        assert out["model"]["cell"] == cell and out["sum_check"]["ok"]
        assert list(out["states"]) == out["model"]["states"]
        assert len(out["jacobian_product_log10"]) == 6


def test_an_lstm_shows_both_paths_and_its_forget_gate():
    out = run_json("--cell", "lstm", "--steps", 7, "--hidden", 3)
    assert out["model"]["states"] == ["h", "c"]
    assert len(out["states"]["c"]["grad_norm"]) == 7
    forget = next(s for s in out["series"].values() if s["label"].startswith("forget"))
    # The cell block of J_t is diag(f_t): its norm is the largest forget gate of the step.
    np.testing.assert_allclose(out["states"]["c"]["step_jacobian_norm"], forget["max"],
                               rtol=1e-12)
    text = run_wide("--cell", "lstm", "--steps", 7, "--hidden", 3)
    for piece in ("‖∂L/∂c_t‖", "‖∂c_t/∂c_t-1‖", "z_t = (h_t, c_t)", "forget f_t"):
        assert piece in text, piece


def test_the_memory_budget_blames_the_option_that_set_the_size():
    env = {"NNCLI_MEMORY_BUDGET": "64M"}
    result = runner.invoke(app, ["grad-trace", "--steps", "20000", "--hidden", "32"], env=env)
    assert result.exit_code == 2 and result.stderr.startswith(
        "error: --steps: the Jacobians of 1 x 20000 steps x 32x32 needs about"), result.stderr
    seq = json.dumps(np.zeros((3000, 1)).tolist())
    result = runner.invoke(app, ["grad-trace", "--input", seq, "--hidden", "32"], env=env)
    assert result.exit_code == 2 and result.stderr.startswith("error: --input: the Jacobians")


def test_a_cells_own_option_with_compare():
    out = run_json("--compare", "rnn,gru-lite", "--gate", "0.5", "--steps", 6, "--hidden", 2)
    assert [r["label"] for r in out["runs"]] == ["rnn", "gru-lite gate=0.5"]
    assert [r["model"]["gate"] for r in out["runs"]] == [None, 0.5]
    assert "--gate is an option of gru-lite only; the compared cells are rnn, lstm" in fails(
        "--compare", "rnn,lstm", "--gate", "0.5")
