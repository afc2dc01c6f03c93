"""Model-level tests: the worked examples through the seed configs, gradcheck on whole
models (and proof that it fails on a broken backward), load_state and spec errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nncli import layers as L
from nncli.errors import InputError
from nncli.gradcheck import gradcheck
from nncli.model import Model
from nncli.spec import load_spec

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


# ---- docs/course-examples.md --------------------------------------------------------------------
def seed_rnn_pass(config: Path):
    model = load_spec(config).build()
    x = model.batch(np.array([[1.0], [2.0]]))
    target = model.targets(np.array([[0.5], [-0.25]]))
    return model, model.inspect(x, target)


def test_seed_rnn_reproduces_example_4():
    model, run = seed_rnn_pass(CONFIGS / "seed_rnn.yaml")
    s = run.outputs[0].ravel()
    np.testing.assert_allclose(s, [0.4621171573, 0.2975452616], rtol=0, atol=1e-9)
    assert run.loss == pytest.approx(0.8941527459, abs=1e-9)
    grads = {k: float(v.item()) for k, v in model.named_grads().items()}
    assert grads.keys() == {"0.weight_ih_l0", "0.weight_hh_l0", "1.weight"}
    assert grads["0.weight_ih_l0"] == pytest.approx(3.8620563504, abs=1e-9)   # dθ1
    assert grads["0.weight_hh_l0"] == pytest.approx(1.4238235714, abs=1e-9)   # dθ2
    assert grads["1.weight"] == pytest.approx(0.8949972723, abs=1e-9)         # dθ3


def test_seed_rnn_matches_the_hand_derived_formulas():
    """The example's closed-form gradients, evaluated in float64, to rounding error."""
    t1, t2, t3, (x1, x2), (y1, y2) = 0.5, -1.5, 2.0, (1.0, 2.0), (0.5, -0.25)
    s1 = np.tanh(t1 * x1)
    s2 = np.tanh(t1 * x2 + t2 * s1)
    e1, e2 = t3 * s1 - y1, t3 * s2 - y2
    d1 = 2 * e1 * t3 * (1 - s1**2) * x1 + 2 * e2 * t3 * (1 - s2**2) * (x2 + t2 * (1 - s1**2) * x1)
    d2 = 2 * e2 * t3 * (1 - s2**2) * s1
    d3 = 2 * e1 * s1 + 2 * e2 * s2
    model, run = seed_rnn_pass(CONFIGS / "seed_rnn.yaml")
    assert run.loss == pytest.approx(e1**2 + e2**2, rel=1e-14)
    got = model.named_grads()
    for key, want in (("0.weight_ih_l0", d1), ("0.weight_hh_l0", d2), ("1.weight", d3)):
        assert got[key].item() == pytest.approx(want, rel=1e-13), key


def test_seed_gru_lite_with_gate_one_is_example_4(tmp_path):
    """configs/seed_gru_lite.yaml says: set `gate: 1` and drop the gate's params to get the
    simple rnn of example 4. Do exactly that and compare bit for bit."""
    text = (CONFIGS / "seed_gru_lite.yaml").read_text()
    lines = [ln for ln in text.splitlines() if "_ig_l0" not in ln and "_hg_l0" not in ln]
    edited = "\n".join(lines).replace("return: all", "return: all\n      gate: 1")
    path = tmp_path / "gate1.yaml"
    path.write_text(edited)
    gru, gru_run = seed_rnn_pass(path)
    rnn, rnn_run = seed_rnn_pass(CONFIGS / "seed_rnn.yaml")
    assert gru.layers[0].fixed_gate == 1.0
    np.testing.assert_array_equal(gru_run.outputs[0], rnn_run.outputs[0])
    assert gru_run.loss == rnn_run.loss
    assert gru.named_grads().keys() == rnn.named_grads().keys()
    for key, g in rnn.named_grads().items():
        np.testing.assert_array_equal(gru.named_grads()[key], g, err_msg=key)


SEED_A = np.array([[1, 0, 0, 0, 1],
                   [0, 1, 0, 0, 1],
                   [0, 0, 1, 0, 0],
                   [0, 1, 1, 1, 0],
                   [0, 0, 0, 0, 1]], dtype=float)


def test_seed_conv_reproduces_examples_1_and_2():
    model = load_spec(CONFIGS / "seed_conv.yaml").build()
    run = model.forward(model.batch(SEED_A[None]))
    np.testing.assert_array_equal(run.outputs[0][0, 0], [[2, -1, 0, 0],
                                                         [-1, 2, -1, -1],
                                                         [1, -1, 1, -1],
                                                         [-1, 0, 0, 2]])
    np.testing.assert_array_equal(run.outputs[1][0, 0], [[2, 0], [1, 2]])


# ---- gradcheck on whole models -----------------------------------------------------------
def build(layers, input_shape, loss="mse", reduction="sum", seed=0):
    """A model with seeded weights and small random biases (init leaves biases at zero)."""
    model = Model(layers, input_shape, loss, reduction)
    rng = np.random.default_rng(seed)
    model.init_params(rng)
    for layer in model.layers:
        for name, value in layer.params.items():
            if name.startswith("bias"):
                layer.params[name] = 0.1 * rng.standard_normal(value.shape)
    return model, rng


def small_cnn():
    model, rng = build([L.Conv(3, 3, stride=2, padding=1, activation="relu"), L.Pool("max", 2),
                        L.Flatten(), L.Dense(4), L.Softmax()], (2, 9, 9), "cross_entropy",
                       "mean")
    return model, rng.standard_normal((3, 2, 9, 9)), np.array([0, 3, 1])


def rnn_seq():
    model, rng = build([L.RNN(5), L.Dense(2)], (7, 3))
    return model, rng.standard_normal((2, 7, 3)), rng.standard_normal((2, 7, 2))


def gru_lite_last():
    model, rng = build([L.GruLite(4, return_sequences=False), L.Dense(2, activation="tanh")],
                       (6, 3))
    return model, rng.standard_normal((3, 6, 3)), 0.5 * rng.standard_normal((3, 2))


def mlp():
    acts = [L.Dense(6, activation="relu"), L.Dense(6, activation="tanh"),
            L.Dense(5, activation="sigmoid"), L.Dense(5, activation="identity"),
            L.Activation("tanh"), L.Activation("relu"), L.Activation("sigmoid"), L.Dense(3)]
    model, rng = build(acts, (4,))
    return model, rng.standard_normal((5, 4)), rng.standard_normal((5, 3))


MODELS = {"cnn": small_cnn, "rnn-seq": rnn_seq, "gru-lite-last": gru_lite_last, "mlp": mlp}


def describe(results):
    return "; ".join(f"{r.name}: rel {r.max_rel_error:.1e}" for r in results if not r.passed)


@pytest.mark.parametrize("make", MODELS.values(), ids=MODELS.keys())
def test_gradcheck_passes_on_whole_models(make):
    model, x, target = make()
    before = {k: v.copy() for k, v in model.named_params().items()}
    results = gradcheck(model, x, target)
    assert [r.name for r in results] == [*before, "input"]
    assert all(r.passed for r in results), describe(results)
    assert all(r.checked == int(np.prod(r.shape)) for r in results)
    for k, v in model.named_params().items():            # left exactly as it was
        np.testing.assert_array_equal(v, before[k], err_msg=k)


def test_gradcheck_samples_entries_and_keeps_float32_params():
    model, x, target = small_cnn()
    model.astype(np.float32)
    results = gradcheck(model, x, target, max_entries=5, rng=np.random.default_rng(1))
    assert all(r.passed for r in results), describe(results)   # checked in float64
    assert [r.checked for r in results] == [min(5, int(np.prod(r.shape))) for r in results]
    assert all(v.dtype == np.float32 for v in model.named_params().values())


def corrupt(monkeypatch, cls, scale_input=1.0, scale_param=None):
    """Make cls.backward slightly wrong: dx scaled, or one parameter gradient scaled."""
    real = cls.backward

    def wrong(self, dy):
        dx = real(self, dy)
        if scale_param:
            name, factor = scale_param
            self.grads[name] *= factor
        return dx * scale_input

    monkeypatch.setattr(cls, "backward", wrong)


@pytest.mark.parametrize("make,cls,kwargs,expect_failed", [
    (small_cnn, L.Conv, {"scale_input": 1.001}, {"input"}),
    (small_cnn, L.Pool, {"scale_input": 0.999}, {"0.weight", "0.bias", "input"}),
    (small_cnn, L.Dense, {"scale_param": ("bias", 1.0001)}, {"3.bias"}),
    (rnn_seq, L.RNN, {"scale_param": ("weight_hh_l0", 1.0001)}, {"0.weight_hh_l0"}),
    (gru_lite_last, L.GruLite, {"scale_param": ("weight_hg_l0", 0.999)}, {"0.weight_hg_l0"}),
    # Every dense layer's fused activation runs Activation.backward too, so all fail.
    (mlp, L.Activation, {"scale_input": 1.0001},
     {"0.weight", "0.bias", "1.weight", "1.bias", "2.weight", "2.bias", "3.weight", "3.bias",
      "7.weight", "7.bias", "input"}),
], ids=["conv-dx", "pool-dx", "dense-bias", "rnn-U", "gru-lite-Ug", "activation-dx"])
def test_gradcheck_fails_on_a_broken_backward(monkeypatch, make, cls, kwargs, expect_failed):
    model, x, target = make()
    corrupt(monkeypatch, cls, **kwargs)
    results = gradcheck(model, x, target)
    failed = {r.name for r in results if not r.passed}
    assert failed == expect_failed
    assert all(r.max_rel_error > 1e-5 for r in results if r.name in failed)


# ---- load_state --------------------------------------------------------------------------
def test_load_state_round_trip_and_errors():
    model, _, _ = small_cnn()
    state = {k: v + 1.0 for k, v in model.named_params().items()}
    model.load_state(state)
    for k, v in model.named_params().items():
        np.testing.assert_array_equal(v, state[k])
        assert v.dtype == np.float64 and v is not state[k]

    missing = dict(state)
    del missing["3.bias"]
    with pytest.raises(InputError, match=r"w\.npz: keys do not match.*missing 3\.bias"):
        model.load_state(missing, "w.npz")

    extra = {**state, "5.weight": np.zeros(2)}
    with pytest.raises(InputError, match=r"unexpected 5\.weight"):
        model.load_state(extra, "w.npz")

    wrong = {**state, "0.weight": np.zeros((3, 2, 2, 2))}
    with pytest.raises(InputError) as err:
        model.load_state(wrong, "w.npz")
    assert "'0.weight'" in str(err.value)
    assert "(3, 2, 2, 2)" in str(err.value) and "(3, 2, 3, 3)" in str(err.value)

    bad = {**state, "3.bias": np.array([1.0, np.nan, 0.0, 0.0])}
    with pytest.raises(InputError, match=r"'3\.bias' holds NaN"):
        model.load_state(bad, "w.npz")
    # A failed load changes nothing.
    for k, v in model.named_params().items():
        np.testing.assert_array_equal(v, state[k])


# ---- spec errors -------------------------------------------------------------------------
SPEC_ERRORS = {
    "unknown-layer": ("""\
input: [1, 8, 8]
layers:
  - conv: {filters: 2, kernel: 3}
  - cnov: {filters: 2, kernel: 3}
""", ["model.yaml:4 layers[1]", "unknown layer 'cnov'", "did you mean 'conv'?"]),
    "dense-after-conv": ("""\
input: [1, 8, 8]
layers:
  - conv: {filters: 2, kernel: 3}
  - dense: {units: 4}
""", ["model.yaml:4 layers[1] (dense)", "(2, 6, 6)", "flatten"]),
    "unknown-option": ("""\
input: [1, 8, 8]
layers:
  - conv:
      filter: 2
      kernel: 3
""", ["model.yaml:4 layers[0].conv.filter", "unknown option 'filter'",
      "did you mean 'filters'?"]),
    "duplicate-key": ("""\
input: [1, 8, 8]
layers:
  - conv:
      filters: 2
      kernel: 3
      kernel: 5
""", ["model.yaml:6", "duplicate key 'kernel'"]),
    "python-tag": ("""\
input: [1, 8, 8]
layers:
  - !!python/object/apply:os.system ["echo hacked"]
""", ["model.yaml:3", "not valid YAML", "python/object"]),
    "bad-input-shape": ("""\
input: [0, 5]
layers: [flatten]
""", ["model.yaml:1 input", "positive integers", "[0, 5]"]),
    "fixed-param-shape": ("""\
input: [1, 5, 5]
layers:
  - conv:
      filters: 1
      kernel: 2
      params:
        weight: [[1, -1], [-1, 1]]
""", ["model.yaml:7 layers[0].conv.params.weight", "(1, 1, 2, 2)", "(2, 2)"]),
    "unknown-param": ("""\
input: [4]
layers:
  - dense: {units: 2, params: {weights: [[1, 2, 3, 4], [5, 6, 7, 8]]}}
""", ["model.yaml:3 layers[0].dense.params.weights", "unknown parameter 'weights'"]),
    "unknown-loss": ("""\
input: [4]
layers: [{dense: {units: 2}}]
loss: msee
""", ["model.yaml:3 loss", "did you mean 'mse'?"]),
}


@pytest.mark.parametrize("text,fragments", SPEC_ERRORS.values(), ids=SPEC_ERRORS.keys())
def test_spec_errors_name_file_line_and_path(tmp_path, text, fragments):
    path = tmp_path / "model.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        load_spec(path).build()
    message = str(err.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
