"""The optimizers (nncli/optim/): every update rule step for step against torch.optim's
(tests/oracle/optim_<name>.npz, made by tests/fixtures/make_optim_fixtures.py), their state
round trip and its checks, slot counts, float32, clipping and the lr schedules."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from nncli import optim
from nncli.checkpoint import load_checkpoint, save_checkpoint
from nncli.errors import InputError

ORACLE = Path(__file__).parent / "oracle"


def oracle(name: str) -> dict:
    with np.load(ORACLE / f"optim_{name}.npz", allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def cases() -> list[tuple[str, str]]:
    out = []
    for name in optim.names():
        listing = json.loads(str(oracle(name)["cases"]))
        out += [(name, entry["case"]) for entry in listing]
    return out


def case_options(ref: dict, case: str) -> dict:
    return next(e["options"] for e in json.loads(str(ref["cases"])) if e["case"] == case)


def replay(name: str, case: str, steps: int | None = None, dtype=np.float64,
           opt: optim.Optimizer | None = None, start: int = 0, params: dict | None = None):
    """nncli's optimizer fed torch's gradients and lrs from step `start` (on torch's
    parameters unless `params` are given); yields (step, params, optimizer) after each."""
    ref = oracle(name)
    opt = opt or optim.get(name)(**case_options(ref, case))
    if params is None:
        params = {k: ref[f"{case}/{k}"][start].astype(dtype) for k in ("w", "b")}
    lrs = ref["lr"][start:steps]
    for t, lr in enumerate(lrs, start=start):
        grads = {k: ref[f"{case}/grad/{k}"][t].astype(dtype) for k in params}
        opt.step(params, grads, float(lr))
        yield t + 1, params, opt


@pytest.mark.parametrize("name, case", cases())
def test_every_step_equals_torch(name, case):
    ref = oracle(name)
    for t, params, _ in replay(name, case):
        for k, p in params.items():
            np.testing.assert_allclose(p, ref[f"{case}/{k}"][t], rtol=1e-12, atol=1e-14,
                                       err_msg=f"{name} {case} step {t} {k}")


def test_every_optimizer_has_an_oracle_that_sets_every_option():
    for name in optim.names():
        cls = optim.get(name)
        ref = oracle(name)                               # missing file: FileNotFoundError
        listing = json.loads(str(ref["cases"]))
        changed = {key for entry in listing for key, value in entry["options"].items()
                   if value != cls.OPTIONS[key].default}
        assert changed == set(cls.OPTIONS), f"{name}: no case sets {set(cls.OPTIONS) - changed}"


def test_registry_lists_the_five_with_sgd_first():
    assert optim.names()[0] == "sgd"
    assert set(optim.names()) == {"sgd", "adam", "adamw", "rmsprop", "adagrad"}
    assert optim.having("betas") == ["adam", "adamw"]
    for name in optim.names():
        cls = optim.get(name)
        assert cls.name == name and cls.summary and cls.LR > 0
        assert all(entry.help for entry in cls.OPTIONS.values()), name


@pytest.mark.parametrize("name, case", cases())
def test_slots_counts_the_arrays_kept(name, case):
    *_, (_, params, opt) = replay(name, case)
    state = opt.state()
    assert len(state) == opt.slots, (state.keys(), opt.slots)
    for arrays in state.values():
        assert arrays.keys() == params.keys()


@pytest.mark.parametrize("name", ["sgd", "adam", "rmsprop", "adagrad"])
def test_float32_params_keep_float32_state(name):
    case = {"sgd": "nesterov", "adam": "amsgrad_decay", "rmsprop": "centered_momentum",
            "adagrad": "all"}[name]
    ref = oracle(name)
    kept = []
    for t, params, opt in replay(name, case, dtype=np.float32):
        assert all(p.dtype == np.float32 for p in params.values())
        for k, p in params.items():
            np.testing.assert_allclose(p, ref[f"{case}/{k}"][t], rtol=2e-5, atol=2e-5)
        kept = [a.dtype for arrays in opt.state().values() for a in arrays.values()]
    assert kept and all(dtype == np.float32 for dtype in kept)


@pytest.mark.parametrize("name, case", [c for c in cases() if c[1] != "plain"])
def test_state_round_trip_through_a_checkpoint_is_exact(tmp_path, name, case):
    """Stop after 3 steps, save, load into a fresh optimizer, finish: bit-identical."""
    *_, (_, straight, _) = replay(name, case)
    *_, (_, params, opt) = replay(name, case, steps=3)
    path = tmp_path / "c.npz"
    save_checkpoint(path, {"0.w": params["w"]}, opt.state(), {"optimizer": opt.scalars()})
    _, state, meta = load_checkpoint(path)
    fresh = optim.get(name)(**opt.options)
    fresh.load_state(state, meta["optimizer"], params, "test")
    assert fresh.t == 3
    *_, (_, resumed, _) = replay(name, case, opt=fresh, start=3, params=params)
    for k in straight:
        np.testing.assert_array_equal(resumed[k], straight[k], err_msg=k)


def test_load_state_refuses_state_that_does_not_fit():
    params = {"0.weight": np.zeros((2, 3)), "0.bias": np.zeros(2)}
    adam = optim.get("adam")()
    good = {"exp_avg": {"0.weight": np.ones((2, 3))}}
    adam.load_state(good, {"step": 4}, params, "src")
    assert adam.t == 4
    bad = [
        ({"velocity": {"0.weight": np.ones((2, 3))}}, {"step": 1}, "does not keep"),
        ({"exp_avg": {"9.weight": np.ones((2, 3))}}, {"step": 1}, "belongs to no parameter"),
        ({"exp_avg": {"0.weight": np.ones((3, 2))}}, {"step": 1}, "expected (2, 3)"),
        ({"exp_avg": {"0.bias": np.array(["a", "b"])}}, {"step": 1}, "expected (2,)"),
        ({"exp_avg": {"0.bias": np.array([1.0, np.nan])}}, {"step": 1}, "NaN"),
        (good, {"step": -1}, "step count"),
        (good, {"step": 1.5}, "step count"),
    ]
    for state, scalars, message in bad:
        with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
            adam.load_state(state, scalars, params, "src")


def test_legacy_checkpoint_velocity_loads_as_sgd_momentum(tmp_path):
    """Before the optimizer interface a checkpoint held SGD's velocity as optim/<param>."""
    path = tmp_path / "old.npz"
    velocity = np.arange(6.0).reshape(2, 3)
    np.savez(path, **{"0.weight": np.zeros((2, 3)), "optim/0.weight": velocity,
                      "meta": np.array(json.dumps({"epoch": 1}))})
    params, state, _ = load_checkpoint(path)
    assert list(params) == ["0.weight"]
    np.testing.assert_array_equal(state["momentum_buffer"]["0.weight"], velocity)


def test_adagrad_lr_decay_uses_the_step_count():
    """lr_t = lr / (1 + (t - 1) lr_decay): with g = 1 always, the t-th step is exactly
    lr_t / sqrt(t) (the sum of squares is t), eps aside."""
    opt = optim.get("adagrad")(lr_decay=0.5, eps=1e-300)
    p = {"x": np.zeros(1)}
    for t in range(1, 5):
        before = p["x"][0]
        opt.step(p, {"x": np.ones(1)}, 0.1)
        assert before - p["x"][0] == pytest.approx(0.1 / (1 + (t - 1) * 0.5) / math.sqrt(t))


def test_sgd_nesterov_needs_momentum():
    assert optim.get("sgd").check({"nesterov": True, "momentum": 0.0, "dampening": 0.0})
    assert optim.get("sgd").check({"nesterov": True, "momentum": 0.9, "dampening": 0.1})
    assert optim.get("sgd").check({"nesterov": True, "momentum": 0.9, "dampening": 0.0}) is None


# --------------------------------------------------------------------------- shared helpers

def test_clip_by_global_norm_scales_to_the_norm_and_returns_the_old_one():
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])}
    assert optim.global_norm(grads) == 5.0
    assert optim.clip_by_global_norm(grads, 1.0) == 5.0
    assert optim.global_norm(grads) == pytest.approx(1.0)
    np.testing.assert_allclose(grads["a"], [0.6, 0.0])
    small = {"a": np.array([0.3, 0.4])}
    assert optim.clip_by_global_norm(small, 1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(small["a"], [0.3, 0.4])          # under the limit: as is


def test_scheduled_lr():
    assert optim.scheduled_lr(0.1, 7, "constant", 10) == 0.1
    assert [optim.scheduled_lr(1.0, e, "step", 10, step_size=2, gamma=0.5)
            for e in range(5)] == [1.0, 1.0, 0.5, 0.5, 0.25]
    cosine = [optim.scheduled_lr(1.0, e, "cosine", 4, min_lr=0.2) for e in range(6)]
    assert cosine[0] == 1.0 and cosine[2] == pytest.approx(0.6)
    assert cosine[4] == cosine[5] == pytest.approx(0.2)              # held after the horizon


def test_readme_lists_every_optimizer_and_option():
    """The README's `train:` tables name every train option, every optimizer and each of
    its options with its default."""
    from nncli.train_setup import TRAIN_OPTIONS

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    rows = {line.split("|")[1].strip(): line for line in readme.splitlines()
            if line.startswith("| `")}
    for key in TRAIN_OPTIONS:
        assert f"`{key}`" in rows, f"README's train: table has no row for {key}"
    for name in optim.names():
        row = rows.get(f"`{name}`")
        assert row, f"README's optimizer table has no row for {name}"
        for key, entry in optim.get(name).OPTIONS.items():
            if name == "adamw" and key != "weight_decay":
                continue                                   # "as adam"
            shown = json.dumps(entry.default).replace("1e-08", "1e-8")
            assert f"`{key}` ({shown}" in row, f"README: {name} row lacks {key} ({shown})"
