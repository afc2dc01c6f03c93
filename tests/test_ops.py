"""ops.py kernels: seed examples, naive loop references, finite differences, oracle files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nncli import ops

ORACLE = Path(__file__).parent / "oracle"
SEED_A = np.array([[1, 0, 0, 0, 1],
                   [0, 1, 0, 0, 1],
                   [0, 0, 1, 0, 0],
                   [0, 1, 1, 1, 0],
                   [0, 0, 0, 0, 1]])
SEED_K = np.array([[1, -1],
                   [-1, 1]])
SEED_OUT = np.array([[2, -1, 0, 0],
                     [-1, 2, -1, -1],
                     [1, -1, 1, -1],
                     [-1, 0, 0, 2]])
SEED_POOL = np.array([[2, 0],
                      [1, 2]])


# --------------------------------------------------------------------------- naive references

def naive_conv(x, w, b, stride, padding):
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    xp = np.zeros((n, c, h + 2 * padding, wd + 2 * padding), dtype=np.result_type(x, w))
    xp[:, :, padding:padding + h, padding:padding + wd] = x
    ho = (h + 2 * padding - kh) // stride + 1
    wo = (wd + 2 * padding - kw) // stride + 1
    y = np.zeros((n, f, ho, wo), dtype=np.result_type(x, w))
    for i_n in range(n):
        for i_f in range(f):
            for i in range(ho):
                for j in range(wo):
                    total = 0
                    for i_c in range(c):
                        for u in range(kh):
                            for v in range(kw):
                                total += (xp[i_n, i_c, i * stride + u, j * stride + v]
                                          * w[i_f, i_c, u, v])
                    y[i_n, i_f, i, j] = total + (b[i_f] if b is not None else 0)
    return y


def naive_pool(x, size, stride, mode):
    n, c, h, wd = x.shape
    ho, wo = (h - size) // stride + 1, (wd - size) // stride + 1
    y = np.zeros((n, c, ho, wo))
    winner = np.zeros((n, c, ho, wo), dtype=int)
    for idx in np.ndindex(n, c, ho, wo):
        a, b, i, j = idx
        window = x[a, b, i * stride:i * stride + size, j * stride:j * stride + size]
        if mode == "avg":
            y[idx] = window.mean()
        else:
            best = 0
            for k in range(size * size):           # first maximum, row-major
                if window.flat[k] > window.flat[best]:
                    best = k
            winner[idx] = best
            y[idx] = window.flat[best]
    return y, winner


def numeric_grad(f, a, eps=1e-6):
    """Centred differences of the scalar f() with respect to every entry of a (in place)."""
    g = np.zeros_like(a, dtype=np.float64)
    for idx in np.ndindex(a.shape):
        old = a[idx]
        a[idx] = old + eps
        up = f()
        a[idx] = old - eps
        down = f()
        a[idx] = old
        g[idx] = (up - down) / (2 * eps)
    return g


def assert_grad(name, analytic, numeric, tol=1e-6):
    err = np.abs(analytic - numeric) / np.maximum(1.0, np.abs(numeric))
    assert err.max() <= tol, f"gradient {name} differs from finite differences by {err.max()}"


# --------------------------------------------------------------------------- strategies

@st.composite
def conv_case(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    padding = draw(st.integers(0, 2))
    stride = draw(st.integers(1, 3))
    h = draw(st.integers(max(1, kh - 2 * padding), 8))
    w = draw(st.integers(max(1, kw - 2 * padding), 8))
    n, c, f = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**32 - 1))
    return n, c, f, h, w, kh, kw, stride, padding, seed


@st.composite
def pool_case(draw):
    size = draw(st.integers(1, 4))
    stride = draw(st.integers(1, 4))
    h, w = draw(st.integers(size, 9)), draw(st.integers(size, 9))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    return n, c, h, w, size, stride, draw(st.integers(0, 2**32 - 1))


# --------------------------------------------------------------------------- seed examples

def test_seed_example_1_conv_exact():
    y = ops.conv2d(SEED_A[None, None], SEED_K[None, None], None, stride=1, padding=0)
    assert y.shape == (1, 1, 4, 4)
    assert y.dtype.kind == "i"
    np.testing.assert_array_equal(y[0, 0], SEED_OUT)
    # the notes: top-left patch [[1,0],[0,1]] gives 1(1) + 1(1) + 0(-1) + 0(-1) = 2
    assert (SEED_A[:2, :2] * SEED_K).sum() == 2 == y[0, 0, 0, 0]


def test_seed_example_2_max_pool_exact():
    y, winner = ops.pool2d(SEED_OUT[None, None], size=2, stride=2, mode="max")
    np.testing.assert_array_equal(y[0, 0], SEED_POOL)
    # window (0, 1) = [[0, 0], [-1, -1]]: its first maximum is the top-left 0 (offset 0)
    np.testing.assert_array_equal(winner[0, 0], [[0, 0], [0, 3]])


def test_out_size_formula():
    assert ops.out_size(5, 2, 1, 0) == 4
    assert ops.out_size(5, 3, 2, 1) == 3        # floor((5 + 2 - 3) / 2) + 1
    assert ops.out_size(7, 3, 3, 0) == 2


# --------------------------------------------------------------------------- properties

@settings(max_examples=60, deadline=None)
@given(conv_case())
def test_conv2d_equals_naive_loops(case):
    n, c, f, h, w, kh, kw, stride, padding, seed = case
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, c, h, w))
    k = rng.normal(size=(f, c, kh, kw))
    b = rng.normal(size=f)
    y = ops.conv2d(x, k, b, stride, padding)
    assert y.shape == (n, f, ops.out_size(h, kh, stride, padding),
                       ops.out_size(w, kw, stride, padding))
    np.testing.assert_allclose(y, naive_conv(x, k, b, stride, padding), rtol=1e-12, atol=1e-12)
    xi = rng.integers(-5, 6, size=x.shape)
    ki = rng.integers(-3, 4, size=k.shape)
    np.testing.assert_array_equal(ops.conv2d(xi, ki, None, stride, padding),
                                  naive_conv(xi, ki, None, stride, padding))


@settings(max_examples=30, deadline=None)
@given(conv_case())
def test_conv2d_backward_matches_finite_differences(case):
    n, c, f, h, w, kh, kw, stride, padding, seed = case
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, c, h, w))
    k = rng.normal(size=(f, c, kh, kw))
    b = rng.normal(size=f)
    dy = rng.normal(size=ops.conv2d(x, k, b, stride, padding).shape)

    def loss():
        return float((ops.conv2d(x, k, b, stride, padding) * dy).sum())

    dx, dw, db = ops.conv2d_backward(dy, x, k, stride, padding)
    assert dx.shape == x.shape and dw.shape == k.shape and db.shape == b.shape
    assert_grad("dx", dx, numeric_grad(loss, x))
    assert_grad("dw", dw, numeric_grad(loss, k))
    assert_grad("db", db, numeric_grad(loss, b))


@settings(max_examples=60, deadline=None)
@given(pool_case(), st.sampled_from(["max", "avg"]))
def test_pool2d_equals_naive_loops(case, mode):
    n, c, h, w, size, stride, seed = case
    rng = np.random.default_rng(seed)
    # small integers make ties common: the first maximum (row-major) must win
    x = rng.integers(-2, 3, size=(n, c, h, w)).astype(float)
    y, winner = ops.pool2d(x, size, stride, mode)
    ref, ref_winner = naive_pool(x, size, stride, mode)
    np.testing.assert_allclose(y, ref, rtol=1e-12, atol=1e-12)
    if mode == "max":
        np.testing.assert_array_equal(winner, ref_winner)
    else:
        assert winner is None


@settings(max_examples=40, deadline=None)
@given(pool_case(), st.sampled_from(["max", "avg"]))
def test_pool2d_backward_matches_finite_differences(case, mode):
    n, c, h, w, size, stride, seed = case
    rng = np.random.default_rng(seed)
    # distinct values 1 apart: a 1e-3 nudge never changes which cell wins a max window
    x = rng.permutation(n * c * h * w).reshape(n, c, h, w).astype(float)
    y, winner = ops.pool2d(x, size, stride, mode)
    dy = rng.normal(size=y.shape)

    def loss():
        return float((ops.pool2d(x, size, stride, mode)[0] * dy).sum())

    dx = ops.pool2d_backward(dy, x.shape, size, stride, mode, winner)
    assert_grad(f"dx ({mode} pool)", dx, numeric_grad(loss, x, eps=1e-3))


def test_max_pool_backward_counts_ties_once():
    x = np.zeros((1, 1, 4, 4))                  # every window is one big tie
    y, winner = ops.pool2d(x, 2, 2, "max")
    dy = np.ones_like(y)
    dx = ops.pool2d_backward(dy, x.shape, 2, 2, "max", winner)
    assert dx.sum() == dy.sum() == 4
    np.testing.assert_array_equal(dx[0, 0], [[1, 0, 1, 0], [0, 0, 0, 0],
                                             [1, 0, 1, 0], [0, 0, 0, 0]])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-30, 30), min_size=1, max_size=12),  # |z/T| < 700: naive exp ok
       st.floats(0.05, 20), st.floats(-1e6, 1e6))
def test_softmax_is_a_shift_invariant_distribution(z, temperature, shift):
    z = np.array(z)
    p = ops.softmax(z, temperature=temperature)
    assert np.all(p >= 0) and abs(p.sum() - 1) < 1e-12
    naive = np.exp(z / temperature) / np.exp(z / temperature).sum()
    np.testing.assert_allclose(p, naive, rtol=1e-9, atol=1e-300)
    np.testing.assert_allclose(ops.softmax(z + shift, temperature=temperature), p,
                               rtol=1e-6, atol=1e-12)


def test_softmax_is_stable_for_large_inputs():
    p = ops.softmax(np.array([1000.0, 1001.0, 1002.0]))
    np.testing.assert_allclose(p, ops.softmax(np.array([0.0, 1.0, 2.0])), rtol=1e-15)
    np.testing.assert_allclose(p, [0.09003057317038046, 0.24472847105479764,
                                   0.6652409557748219], rtol=1e-14)
    # z / T alone would overflow to inf here; shifting first keeps it finite
    q = ops.softmax(np.array([1e308, 0.0]), temperature=0.5)
    np.testing.assert_array_equal(q, [1.0, 0.0])
    rows = ops.softmax(np.array([[1.0, 2.0], [3.0, 3.0]]), axis=-1)
    np.testing.assert_allclose(rows.sum(axis=-1), 1.0)
    np.testing.assert_allclose(rows[1], [0.5, 0.5])


# --------------------------------------------------------------------------- oracle files

def _oracle(kind):
    return [e for e in json.loads((ORACLE / "index.json").read_text()) if e.get("layer") == kind]


@pytest.mark.parametrize("entry", _oracle("conv"), ids=lambda e: e["file"])
def test_conv2d_matches_oracle(entry):
    d = np.load(ORACLE / entry["file"])
    s, p = int(d["stride"]), int(d["padding"])
    np.testing.assert_allclose(ops.conv2d(d["x"], d["weight"], d["bias"], s, p), d["y"],
                               rtol=1e-10, atol=1e-12)
    dx, dw, db = ops.conv2d_backward(d["dy"], d["x"], d["weight"], s, p)
    for name, got in (("dx", dx), ("dweight", dw), ("dbias", db)):
        np.testing.assert_allclose(got, d[name], rtol=1e-10, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("entry", _oracle("pool"), ids=lambda e: e["file"])
def test_pool2d_matches_oracle(entry):
    d = np.load(ORACLE / entry["file"])
    size, stride, mode = int(d["size"]), int(d["stride"]), entry["mode"]
    y, winner = ops.pool2d(d["x"], size, stride, mode)
    np.testing.assert_allclose(y, d["y"], rtol=1e-10, atol=1e-12)
    dx = ops.pool2d_backward(d["dy"], d["x"].shape, size, stride, mode, winner)
    np.testing.assert_allclose(dx, d["dx"], rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------- sums, cross-entropy's shift

@given(st.integers(1, 4), st.integers(1, 70), st.integers(1, 9), st.sampled_from(
    [np.float32, np.float64]))
@settings(max_examples=40, deadline=None)
def test_row_and_column_sums_equal_numpy_sums(a, b, k, dtype):
    x = np.random.default_rng(a * b * k).standard_normal((a, b, k)).astype(dtype)
    tol = 1e-5 if dtype is np.float32 else 1e-12
    assert ops.column_sums(x).dtype == dtype and ops.row_sums(x).dtype == dtype
    np.testing.assert_allclose(ops.column_sums(x), x.sum(axis=(0, 1)), rtol=tol, atol=tol)
    np.testing.assert_allclose(ops.row_sums(x), x.sum(axis=-1), rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_matches_log_softmax_when_rows_lie_far_apart(dtype):
    """The loss shifts by the batch's largest logit; a row far below it (all of whose exps
    would vanish) must take its own max, and every row must equal a float64 log-softmax."""
    from nncli.losses import cross_entropy

    logits = np.array([[0.0, 1.0, 2.0], [-1000.0, -999.0, -998.5], [300.0, -5.0, 299.0],
                       [-60.0, -61.0, -59.0]], dtype=dtype)
    labels = np.array([1, 0, 2, 2])
    loss, grad = cross_entropy(logits, labels)
    log_p = ops.log_softmax(logits.astype(np.float64))
    want = -log_p[np.arange(4), labels].mean()
    tol = 1e-5 if dtype is np.float32 else 1e-12
    assert np.isfinite(loss) and abs(loss - want) <= tol * max(1.0, abs(want))
    expect = np.exp(log_p)
    expect[np.arange(4), labels] -= 1.0
    np.testing.assert_allclose(grad, expect / 4, atol=tol)
    assert grad.dtype == dtype
