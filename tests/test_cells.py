"""The lstm and gru cells: gradients, torch's numbers, the grad-trace contract, float32.

- backward against centred finite differences on 1, 2 and 20 steps, with and without bias,
  all steps or the last one;
- the torch references of tests/oracle/lstm_*.npz, gru_*.npz (made by
  tests/fixtures/make_lstm_gru_fixtures.py with torch.nn.LSTM / nn.GRU in float64): y, dx,
  every parameter gradient, an lstm's cell states and the last state, to 1e-10;
- the grad-trace contract against a naive reference cell written out from the formulas
  below: state gradients (h and c) and the joint step Jacobians by finite differences, the
  cell-state block diag(f_t), per-step parameter contributions summing to the gradients;
- gru-lite is a gru with the reset gate open (r = 1) and z = 1 - g;
- float32 in, float32 out; a weights file loads into torch's modules unchanged;
- the commands: grad-trace --cell / --compare, and a spec trained and evaluated end to end.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nncli.cli import app
from nncli.gradcheck import layer_gradcheck, rel_error
from nncli.layers import registry
from nncli.layers.gru import GRU
from nncli.layers.gru_lite import GruLite
from nncli.layers.lstm import LSTM

ORACLE = Path(__file__).parent / "oracle"
TOL = 1e-7
runner = CliRunner()
CELLS = {"lstm": LSTM, "gru": GRU}


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def make(kind, hidden, bias=True, return_all=True, seed=0, input_size=3, scale=0.5):
    """A cell with seeded weights and random (non-zero) biases."""
    layer = CELLS[kind](hidden, bias, return_all)
    rng = np.random.default_rng(seed)
    layer.init_params((5, input_size), rng)
    for name, value in layer.params.items():
        layer.params[name] = value + scale * rng.standard_normal(value.shape)
    layer.zero_grad()
    return layer, rng


# --------------------------------------------------------------------------- references
# One step of each cell for one batch, written from torch's documented formulas (plain
# numpy, no buffers, no tricks): the test's independent oracle for states and Jacobians.

def lstm_step(p, x_t, h, c, dc=0.0):
    """(h_t, c_t, f_t) of torch.nn.LSTM from (h_{t-1}, c_{t-1}); dc nudges c_t before h_t
    is computed from it."""
    a = x_t @ p["weight_ih_l0"].T + h @ p["weight_hh_l0"].T
    a = a + p.get("bias_ih_l0", 0.0) + p.get("bias_hh_l0", 0.0)
    i, f, g, o = np.split(a, 4, axis=-1)
    i, f, g, o = sigmoid(i), sigmoid(f), np.tanh(g), sigmoid(o)
    c = f * c + i * g + dc
    return o * np.tanh(c), c, f


def gru_step(p, x_t, h):
    """h_t of torch.nn.GRU from h_{t-1}."""
    hsize = h.shape[-1]
    zero = np.zeros(3 * hsize)
    gi = x_t @ p["weight_ih_l0"].T + p.get("bias_ih_l0", zero)
    gh = h @ p["weight_hh_l0"].T + p.get("bias_hh_l0", zero)
    r = sigmoid(gi[:, :hsize] + gh[:, :hsize])
    z = sigmoid(gi[:, hsize:2 * hsize] + gh[:, hsize:2 * hsize])
    n = np.tanh(gi[:, 2 * hsize:] + r * gh[:, 2 * hsize:])
    return (1 - z) * n + z * h


def joint_step(layer, x_t, state, delta=None):
    """z_t from z_{t-1} for the joint state (h) or (h, c) concatenated. delta nudges the
    states of step t where autograd's nodes sit: h_t after the step, an lstm's c_t before
    h_t = o tanh(c_t) is computed from it."""
    if layer.kind == "gru":
        h = gru_step(layer.params, x_t, state)
        return h if delta is None else h + delta
    hsize = layer.hidden
    dh, dc = (0.0, 0.0) if delta is None else (delta[:, :hsize], delta[:, hsize:])
    h, c, _ = lstm_step(layer.params, x_t, state[:, :hsize], state[:, hsize:], dc)
    return np.concatenate([h + dh, c], axis=-1)


def joint_states(layer, x, at=None, delta=None):
    """z_1..z_T (N, T, S H), with the states of step `at` nudged by delta (joint_step)."""
    size = layer.hidden * len(layer.state_names)
    z = np.zeros((x.shape[0], size))
    out = []
    for t in range(x.shape[1]):
        z = joint_step(layer, x[:, t], z, delta if t == at else None)
        out.append(z)
    return np.stack(out, axis=1)


# --------------------------------------------------------------------------- gradients

@pytest.mark.parametrize("return_all", [True, False], ids=["all", "last"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("steps", [1, 2, 20])
@pytest.mark.parametrize("kind", CELLS)
def test_backward_matches_finite_differences(kind, steps, bias, return_all):
    layer, rng = make(kind, 4, bias, return_all, seed=steps)
    x = rng.standard_normal((2, steps, 3))
    y = layer.forward(x)
    assert y.shape == (2, *layer.output_shape((steps, 3)))
    gates = 4 if kind == "lstm" else 3
    expected = {"weight_ih_l0": (gates * 4, 3), "weight_hh_l0": (gates * 4, 4)}
    if bias:
        expected |= {"bias_ih_l0": (gates * 4,), "bias_hh_l0": (gates * 4,)}
    assert {k: v.shape for k, v in layer.params.items()} == expected
    dy = rng.standard_normal(y.shape)
    results = layer_gradcheck(layer, x, dy)
    assert [r.name for r in results] == [*layer.params, "input"]
    for r in results:
        assert r.passed and r.max_rel_error < TOL, (
            f"{kind} T={steps} bias={bias} all={return_all}: gradient of '{r.name}' off by "
            f"relative error {r.max_rel_error:.2e}")


def test_backward_accumulates_like_torch():
    """Two backward calls add their gradients (+=), as torch's .grad does."""
    layer, rng = make("lstm", 3)
    x = rng.standard_normal((2, 4, 3))
    dy = rng.standard_normal(layer.forward(x).shape)
    layer.backward(dy)
    once = {k: v.copy() for k, v in layer.grads.items()}
    layer.forward(x)
    layer.backward(dy)
    for name, g in layer.grads.items():
        np.testing.assert_allclose(g, 2 * once[name], rtol=1e-14, err_msg=name)


# --------------------------------------------------------------------------- torch's numbers

ORACLE_FILES = sorted(p.name for p in ORACLE.glob("lstm_*.npz")) + sorted(
    p.name for p in ORACLE.glob("gru_*.npz"))


def test_the_reference_files_are_there():
    assert len(ORACLE_FILES) == 8, ORACLE_FILES


@pytest.mark.parametrize("name", ORACLE_FILES)
def test_matches_torch_in_float64(name):
    ref = np.load(ORACLE / name)
    kind = name.split("_")[0]
    params = {k: ref[k] for k in ref.files if k.startswith(("weight_", "bias_"))}
    layer = CELLS[kind](ref["weight_hh_l0"].shape[1], "bias_ih_l0" in params,
                        ref["y"].ndim == 3)
    layer.params = {k: v.copy() for k, v in params.items()}
    layer.zero_grad()

    def close(actual, key):
        np.testing.assert_allclose(actual, ref[key], rtol=1e-10, atol=1e-13,
                                   err_msg=f"{name}: {key}")
    close(layer.forward(ref["x"]), "y")
    close(layer.states[:, -1], "h_n")
    if kind == "lstm":
        close(layer.state_values()["c"], "cells")
    close(layer.backward(ref["dy"]), "dx")
    for key in params:
        close(layer.grads[key], f"d{key}")


# --------------------------------------------------------------------------- the contract

@pytest.mark.parametrize("return_all", [True, False], ids=["all", "last"])
@pytest.mark.parametrize("kind", CELLS)
def test_states_match_the_reference_cell(kind, return_all):
    layer, rng = make(kind, 3, return_all=return_all, seed=4)
    x = rng.standard_normal((2, 6, 3))
    y = layer.forward(x)
    ref = joint_states(layer, x)
    values = layer.state_values()
    assert list(values) == list(layer.state_names)
    np.testing.assert_allclose(np.concatenate(list(values.values()), axis=-1), ref,
                               rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(y, ref[:, :, :3] if return_all else ref[:, -1, :3],
                               rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("return_all", [True, False], ids=["all", "last"])
@pytest.mark.parametrize("kind", CELLS)
def test_state_gradients_match_finite_differences(kind, return_all):
    """state_gradients()[name][:, t] = dL/d state_t for L = sum(y * dy), as autograd gives
    it for the node state_t: the change of L when that state is nudged (an lstm's c_t before
    h_t is computed from it) and everything after it is recomputed."""
    hsize = 3
    layer, rng = make(kind, hsize, return_all=return_all, seed=5)
    x = rng.standard_normal((2, 5, 3))
    dy = rng.standard_normal(layer.forward(x).shape)
    layer.backward(dy)
    grads = np.concatenate(list(layer.state_gradients().values()), axis=-1)

    def loss(t, delta):
        h = joint_states(layer, x, t, delta)[:, :, :hsize]
        return np.sum((h if return_all else h[:, -1]) * dy)

    eps = 1e-6
    for t in range(x.shape[1]):
        numeric = np.zeros_like(grads[:, t])
        for idx in np.ndindex(*numeric.shape):
            e = np.zeros_like(numeric)
            e[idx] = eps
            numeric[idx] = (loss(t, e) - loss(t, -e)) / (2 * eps)
        err = rel_error(grads[:, t], numeric).max()
        assert err < TOL, f"{kind}: state gradients at step {t + 1} off by {err:.2e}"
    np.testing.assert_array_equal(layer.state_grads, layer.state_gradients()["h"])


@pytest.mark.parametrize("kind", CELLS)
def test_step_jacobians_match_finite_differences(kind):
    layer, rng = make(kind, 3, seed=6)
    x = rng.standard_normal((2, 4, 3))
    layer.forward(x)
    jac = layer.step_jacobians()
    size = 3 * len(layer.state_names)
    assert jac.shape == (2, 4, size, size)
    z = joint_states(layer, x)
    eps = 1e-6
    for t in range(x.shape[1]):
        prev = z[:, t - 1] if t else np.zeros_like(z[:, 0])
        numeric = np.zeros((2, size, size))
        for j in range(size):
            e = np.zeros(size)
            e[j] = eps
            numeric[:, :, j] = (joint_step(layer, x[:, t], prev + e)
                                - joint_step(layer, x[:, t], prev - e)) / (2 * eps)
        err = rel_error(jac[:, t], numeric).max()
        assert err < TOL, f"{kind}: step_jacobians()[:, {t}] off by {err:.2e}"


def test_lstm_cell_state_block_is_the_forget_gate():
    """dc_t/dc_{t-1} = diag(f_t) exactly: the constant error carousel."""
    layer, rng = make("lstm", 4, seed=7)
    x = rng.standard_normal((3, 5, 3))
    layer.forward(x)
    block = layer.step_jacobians()[:, :, 4:, 4:]
    forget = layer.trace_series()["forget"].values
    np.testing.assert_array_equal(block, forget[..., None] * np.eye(4))
    _, _, f1 = lstm_step(layer.params, x[:, 0], np.zeros((3, 4)), np.zeros((3, 4)))
    np.testing.assert_allclose(forget[:, 0], f1, rtol=1e-14)


@pytest.mark.parametrize("kind", CELLS)
def test_step_param_grads_sum_to_grads(kind):
    layer, rng = make(kind, 5, seed=8)
    x = rng.standard_normal((3, 6, 3))
    layer.backward(rng.standard_normal(layer.forward(x).shape))
    per_step = layer.step_param_grads()
    assert set(per_step) == set(layer.grads)
    for name, g in per_step.items():
        assert g.shape == (6, *layer.grads[name].shape), name
        np.testing.assert_allclose(g.sum(axis=0), layer.grads[name], rtol=1e-10, atol=1e-12,
                                   err_msg=name)
    # step 1 has no recurrent contribution: h_0 = 0
    assert not per_step["weight_hh_l0"][0].any()


@pytest.mark.parametrize("kind", CELLS)
def test_bound_holds_and_rescale_sets_each_gate_block(kind):
    layer, rng = make(kind, 4, seed=9, scale=0.2)
    layer.init_builtin((6, 3), seed=3)
    blocks = layer.blocks("weight_hh_l0")
    for block in blocks:     # orthogonal blocks: every singular value 1
        np.testing.assert_allclose(np.linalg.svd(block, compute_uv=False), 1.0, rtol=1e-12)
    layer.rescale(1.7)
    for block in layer.blocks("weight_hh_l0"):
        assert np.linalg.svd(block, compute_uv=False)[0] == pytest.approx(1.7, rel=1e-12)
    bound = layer.bound()
    assert bound.sigma_max == pytest.approx(1.7, rel=1e-12)
    layer.zero_grad()
    layer.forward(rng.standard_normal((4, 6, 3)))
    norms = np.linalg.svd(layer.step_jacobians(), compute_uv=False)[..., 0]
    if kind == "gru":
        assert norms.max() <= bound.rate
    else:
        assert bound.rate is None and "no bound" in bound.rule


def test_series_are_the_gates():
    layer, rng = make("gru", 3, seed=10)
    x = rng.standard_normal((2, 4, 3))
    layer.forward(x)
    series = layer.trace_series()
    assert [s.label for s in series.values()] == ["update z_t", "reset r_t"]
    p = layer.params
    gh = p["weight_hh_l0"][3:6] @ np.zeros(3) + p["bias_hh_l0"][3:6]
    z1 = sigmoid(x[:, 0] @ p["weight_ih_l0"][3:6].T + p["bias_ih_l0"][3:6] + gh)
    np.testing.assert_allclose(series["update"].values[:, 0], z1, rtol=1e-14)
    lstm, _ = make("lstm", 3, seed=10)
    lstm.forward(x)
    assert [s.label for s in lstm.trace_series().values()] == ["forget f_t", "cell c_t"]
    np.testing.assert_array_equal(lstm.trace_series()["cell"].values,
                                  lstm.state_values()["c"])


# --------------------------------------------------------------------------- gru-lite

@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
def test_gru_lite_is_a_gru_with_reset_open_and_update_flipped(bias):
    """gru-lite's s_t = g c + (1 - g) s_{t-1} is the gru with r = 1 and z = 1 - g: W_ir = 0,
    W_hr = 0, b_ir = 40 (sigmoid(40) rounds to 1), the z rows -Wg, -Ug, -bg, the n rows W, U
    and b. Without biases r = sigmoid(0) = 1/2 instead, and W_hn = 2U makes up for it."""
    rng = np.random.default_rng(11)
    h, i = 4, 3
    lite = GruLite(h, bias)
    lite.init_params((7, i), rng)
    for name, value in lite.params.items():
        lite.params[name] = value + 0.5 * rng.standard_normal(value.shape)
    p = lite.params
    reset = 1.0 if bias else 0.5
    gru = GRU(h, bias)
    gru.params = {"weight_ih_l0": np.concatenate([np.zeros((h, i)), -p["weight_ig_l0"],
                                                  p["weight_ih_l0"]]),
                  "weight_hh_l0": np.concatenate([np.zeros((h, h)), -p["weight_hg_l0"],
                                                  p["weight_hh_l0"] / reset])}
    if bias:
        gru.params["bias_ih_l0"] = np.concatenate([np.full(h, 40.0), -p["bias_g_l0"],
                                                   p["bias_l0"]])
        gru.params["bias_hh_l0"] = np.zeros(3 * h)
    x = rng.standard_normal((3, 7, i))
    np.testing.assert_allclose(gru.forward(x), lite.forward(x), rtol=1e-13, atol=1e-15)
    assert np.all(gru.trace_series()["reset"].values == reset)
    np.testing.assert_allclose(1.0 - gru.trace_series()["update"].values, lite.gates,
                               rtol=1e-13, atol=1e-15)


# --------------------------------------------------------------------------- float32

@pytest.mark.parametrize("kind", CELLS)
def test_float32_in_float32_out(kind):
    layer, rng = make(kind, 6, seed=12)
    x = rng.standard_normal((4, 9, 3))
    dy = rng.standard_normal((4, 9, 6))
    y64, dx64 = layer.forward(x), layer.backward(dy)
    g64 = {k: v.copy() for k, v in layer.grads.items()}
    layer.params = {k: v.astype(np.float32) for k, v in layer.params.items()}
    layer.zero_grad()
    y32 = layer.forward(x.astype(np.float32))
    dx32 = layer.backward(dy.astype(np.float32))
    assert y32.dtype == dx32.dtype == np.float32
    assert all(g.dtype == np.float32 for g in layer.grads.values())
    assert all(v.dtype == np.float32 for v in layer.state_gradients().values())
    np.testing.assert_allclose(y32, y64, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dx32, dx64, rtol=1e-4, atol=1e-5)
    for name, g in layer.grads.items():
        np.testing.assert_allclose(g, g64[name], rtol=1e-4, atol=1e-4, err_msg=name)


# --------------------------------------------------------------------------- options

def test_forget_bias_sets_the_forget_block_of_bias_ih():
    layer = LSTM(3, forget_bias=1.0)
    layer.init_params((4, 2), np.random.default_rng(0))
    b = layer.params["bias_ih_l0"]
    np.testing.assert_array_equal(b, [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    assert not layer.params["bias_hh_l0"].any()
    built = registry.build("lstm", {"hidden": 3, "forget_bias": 2})
    assert built.forget_bias == 2.0 and built.return_sequences
    assert "forget bias 2" in built.describe()


def test_forget_bias_without_a_bias_is_a_spec_error(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("input: [4, 2]\nlayers:\n  - dense: {units: 3}\n"
                    "  - lstm: {hidden: 3, bias: false, forget_bias: 1.0}\nloss: mse\n")
    result = runner.invoke(app, ["summary", str(spec)])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.strip() == (
        "error: spec.yaml:4 layers[1].lstm: forget_bias: 1 needs a bias to set; use bias: "
        "true or drop forget_bias")


def test_every_gate_block_is_initialised_as_its_own_matrix():
    """Glorot per (H, I) block: the bound sqrt(6 / (I + H)), not sqrt(6 / (I + 4H))."""
    layer = LSTM(50)
    layer.init_params((5, 30), np.random.default_rng(0))
    w = layer.params["weight_ih_l0"]
    limit = np.sqrt(6 / 80)
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.95 * limit


# --------------------------------------------------------------------------- grad-trace

def grad_trace(*args, code=0):
    result = runner.invoke(app, ["grad-trace", *map(str, args)],
                           env={"COLUMNS": "80", "NO_COLOR": "1"})
    assert result.exit_code == code, result.output
    return result


@pytest.mark.parametrize("kind", CELLS)
def test_grad_trace_shows_every_state_and_the_gates(kind):
    out = json.loads(grad_trace("--cell", kind, "--steps", 12, "--hidden", 4,
                                "--json").stdout)
    assert out["model"]["cell"] == kind
    assert list(out["states"]) == list(CELLS[kind].state_names)
    assert all(len(s["grad_norm"]) == 12 for s in out["states"].values())
    assert out["states"]["h"]["grad_norm"] == out["grad_norm"]
    assert set(out["params"]) == {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"}
    assert out["sum_check"]["ok"]
    for p in out["params"].values():
        assert p["sum_error"] <= out["sum_check"]["tolerance"]
    series = out["series"]
    if kind == "lstm":
        assert list(series) == ["forget", "cell"]
        # one sequence: ‖dc_t/dc_{t-1}‖ = ‖diag(f_t)‖ = the largest forget gate
        np.testing.assert_allclose(out["states"]["c"]["step_jacobian_norm"],
                                   series["forget"]["max"], rtol=1e-12)
        assert out["bound"]["rate"] is None and out["states"]["c"]["grad_norm"][-1] > 0
    else:
        assert list(series) == ["update", "reset"]
        assert out["bound"]["holds"] is True


def test_grad_trace_compares_the_four_cells_at_80_columns():
    text = grad_trace("--compare", "rnn,gru-lite,gru,lstm", "--steps", 30, "--hidden", 8,
                      "--scale", "0.5,2").stdout
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "\x1b[" not in text
    for label in ("rnn λ1=0.5", "gru-lite λ1=2", "gru λ1=0.5", "lstm λ1=2"):
        assert label in text
    single = grad_trace("--cell", "lstm", "--steps", 30, "--hidden", 8).stdout
    assert max(len(line) for line in single.splitlines()) <= 80
    for piece in ("‖∂L/∂c_t‖", "‖∂c_t/∂c_t-1‖", "forget f_t"):
        assert piece in single
    out = json.loads(grad_trace("--compare", "rnn,gru-lite,gru,lstm", "--steps", 30,
                                "--json").stdout)
    assert [r["model"]["cell"] for r in out["runs"]] == ["rnn", "gru-lite", "gru", "lstm"]


@pytest.mark.parametrize("config", ["adding_gru.yaml", "adding_lstm.yaml"])
def test_grad_trace_on_the_shipped_adding_configs(config):
    path = Path(__file__).resolve().parent.parent / "configs" / config
    out = json.loads(grad_trace(path, "--json").stdout)
    assert out["model"]["steps"] == 50 and out["loss_at"] == "last"
    assert out["sum_check"]["ok"] and out["fit"]["verdict"] in ("vanishing", "stable")


@pytest.mark.parametrize("kind", CELLS)
def test_grad_trace_refuses_gru_lite_options(kind):
    err = grad_trace("--cell", kind, "--gate", "1", code=2).stderr.strip()
    assert err == f"error: --gate is an option of gru-lite only; the built-in cell is {kind}"


# --------------------------------------------------------------------------- the commands

@pytest.mark.parametrize("kind", CELLS)
def test_a_spec_trains_evaluates_and_passes_gradcheck(tmp_path, kind):
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"name: tiny-{kind}\nseed: 1\ninput: [6, 2]\nlayers:\n"
                    f"  - {kind}: {{hidden: 4, return: last}}\n  - dense: {{units: 1}}\n"
                    f"loss: {{mse: {{reduction: mean}}}}\n"
                    f"data: {{name: adding, steps: 6, train: 64, val: 16, test: 16}}\n"
                    f"train: {{epochs: 3, batch_size: 16, optimizer: adam, lr: 0.02}}\n")
    result = runner.invoke(app, ["gradcheck", str(spec)])
    assert result.exit_code == 0, result.output
    assert "0.weight_hh_l0" in result.stdout
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", str(spec), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    epochs = [json.loads(line) for line in result.stdout.splitlines()]
    assert epochs[-1]["train_loss"] < epochs[0]["train_loss"]
    assert f"0.{kind}" in epochs[0]["grad_norms"]
    result = runner.invoke(app, ["eval", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["loss"] < 0.3


# --------------------------------------------------------------------------- torch

@pytest.mark.torch
@pytest.mark.parametrize("kind", CELLS)
def test_a_weights_file_loads_into_torch_unchanged(tmp_path, kind):
    torch = pytest.importorskip("torch")
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"input: [7, 3]\nlayers:\n  - {kind}: {{hidden: 5}}\n"
                    f"  - dense: {{units: 2}}\nloss: mse\n")
    weights = tmp_path / "w.npz"
    result = runner.invoke(app, ["init", str(spec), "--out", str(weights)])
    assert result.exit_code == 0, result.output
    state = dict(np.load(weights))
    module_cls = torch.nn.LSTM if kind == "lstm" else torch.nn.GRU
    net = torch.nn.Sequential(module_cls(3, 5, batch_first=True), torch.nn.Linear(5, 2))
    net = net.double()
    net.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
    x = np.random.default_rng(0).standard_normal((2, 7, 3))
    with torch.no_grad():
        expected = net[1](net[0](torch.from_numpy(x))[0]).numpy()
    result = runner.invoke(app, ["forward", str(spec), "-w", str(weights), "-x",
                                 json.dumps(x.tolist()), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    np.testing.assert_allclose(np.array(out["layers"][-1]["output"]), expected, rtol=1e-10,
                               atol=1e-12)
