"""The float32 kernels (nncli/kernels.py): the compiled ones against float64 references to a
few units in the last place, the numpy ones bit for bit against numpy, and a training step
with either against float64.

The tests of the compiled module skip only where it was not built (an install without a C
compiler); CI checks that it is built (.ci/run)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nncli import kernels
from nncli.layers.embedding import sum_per_id
from tests.test_token_inputs import CELLS, chars_model

built = pytest.mark.skipif(kernels._built is None,
                           reason="nncli._kernels was not built (no C compiler at install)")
ULPS = 3                                 # the accuracy the compiled kernels promise


@pytest.fixture
def compiled(monkeypatch):
    monkeypatch.delenv(kernels.ENV, raising=False)
    assert kernels.name() == "compiled"


@pytest.fixture
def numpy_only(monkeypatch):
    monkeypatch.setenv(kernels.ENV, "numpy")
    assert kernels.name() == "numpy"


def grid() -> np.ndarray:
    """Every region: dense over [-12, 12], the small-argument branch's edge at 0.3, and
    magnitudes from subnormal to the largest float32."""
    dense = np.linspace(-12, 12, 400_001)
    edge = 0.3 + np.linspace(-1e-3, 1e-3, 2001)
    wide = np.logspace(-45, 38.5, 20_000)
    return np.concatenate([dense, edge, -edge, wide, -wide]).astype(np.float32)


def ulps_off(got: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """|got - exact| in units of float32's spacing at exact (at least the smallest normal's,
    so results that underflow count as exact to 2^-149 ... 2^-126)."""
    spacing = np.spacing(np.maximum(np.abs(exact), np.finfo(np.float32).tiny).astype(
        np.float32)).astype(np.float64)
    return np.abs(got.astype(np.float64) - exact) / spacing


@built
def test_compiled_tanh_is_within_three_ulps(compiled):
    x = grid()
    got = kernels.tanh_(x.copy())
    exact = np.tanh(x.astype(np.float64))
    assert ulps_off(got, exact).max() <= ULPS
    specials = np.float32([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-40, -1e-40])
    got = kernels.tanh_(specials.copy())
    np.testing.assert_array_equal(got, np.float32([0.0, -0.0, 1.0, -1.0, np.nan, 1e-40,
                                                   -1e-40]))
    assert np.signbit(got[1]) and not np.signbit(got[0])


@built
def test_compiled_sigmoid_of_negated_is_within_three_ulps(compiled):
    a = np.concatenate([np.linspace(-120, 120, 400_001), np.logspace(-45, 38.5, 5000),
                        -np.logspace(-45, 38.5, 5000)]).astype(np.float32)
    got = kernels.sigmoid_of_negated_(a.copy())
    with np.errstate(over="ignore"):
        exact = 1.0 / (1.0 + np.exp(a.astype(np.float64)))
    normal = exact >= np.finfo(np.float32).tiny
    assert ulps_off(got[normal], exact[normal]).max() <= ULPS
    tiny = got[~normal].astype(np.float64)                   # below 2^-126: may flush to 0
    assert normal.sum() > 0.7 * a.size and np.all(tiny <= np.finfo(np.float32).tiny)
    got = kernels.sigmoid_of_negated_(np.float32([np.inf, -np.inf, np.nan, 0.0]))
    np.testing.assert_array_equal(got, [0.0, 1.0, np.nan, 0.5])


@built
def test_compiled_kernels_take_blocks_of_contiguous_rows(compiled):
    """One gate's columns of a stacked-gate step: rows contiguous, the array not."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((5, 12)).astype(np.float32)
    want = a.copy()
    want[:, 4:8] = np.tanh(want[:, 4:8].astype(np.float64))
    kernels.tanh_(a[:, 4:8])
    assert ulps_off(a, want.astype(np.float64)).max() <= ULPS
    np.testing.assert_array_equal(a[:, :4], want[:, :4])      # the rest untouched
    np.testing.assert_array_equal(a[:, 8:], want[:, 8:])
    b = rng.standard_normal((6, 6)).astype(np.float32)
    every_other = b[:, ::2]                                    # not contiguous rows: numpy
    expected = np.tanh(every_other)
    kernels.tanh_(every_other)
    np.testing.assert_array_equal(b[:, ::2], expected)


@built
def test_tanh_into_another_array_leaves_the_input(compiled):
    a = np.linspace(-3, 3, 64, dtype=np.float32).reshape(8, 8)
    keep, out = a.copy(), np.empty_like(a)
    kernels.tanh_(a, out=out)
    np.testing.assert_array_equal(a, keep)
    assert ulps_off(out, np.tanh(a.astype(np.float64))).max() <= ULPS


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_numpy_computes_float64_always_and_float32_when_asked(monkeypatch, dtype):
    """float64 (inspection, gradcheck, the torch comparisons) never depends on the build;
    NNCLI_KERNELS=numpy gives numpy's float32 results bit for bit."""
    if dtype == np.float32:
        monkeypatch.setenv(kernels.ENV, "numpy")
    a = np.linspace(-5, 5, 101).astype(dtype)
    np.testing.assert_array_equal(kernels.tanh_(a.copy()), np.tanh(a))
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(kernels.sigmoid_of_negated_(a.copy()),
                                      1.0 / (1.0 + np.exp(a)))
    out = np.zeros((3, 2), dtype=dtype)
    assert not kernels.add_rows_at(np.array([0, 2]), np.ones((2, 2), dtype=dtype), out)
    assert not out.any()                                       # the caller does it


@built
@given(st.integers(1, 70), st.integers(1, 130), st.integers(0, 3000))
@settings(max_examples=40, deadline=None)
def test_compiled_per_id_sums_equal_a_scatter_add(vocab, width, count):
    rng = np.random.default_rng(vocab * width + count)
    ids = rng.integers(0, vocab, count)
    rows = rng.standard_normal((count, width)).astype(np.float32)
    want = np.zeros((vocab, width))
    np.add.at(want, ids, rows.astype(np.float64))
    got = sum_per_id(ids, rows, vocab)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * max(1.0, np.sqrt(count)))


@built
def test_a_bad_id_never_writes_outside_the_table(compiled):
    out = np.zeros((3, 2), dtype=np.float32)
    for bad in (3, -1):
        with pytest.raises(ValueError, match="outside 0..2"):
            kernels.add_rows_at(np.array([0, bad]), np.ones((2, 2), np.float32), out)
    assert not out.any()
    with pytest.raises(ValueError, match="rows must be"):
        kernels.add_rows_at(np.array([0]), np.ones((1, 3), np.float32), out)


def float32_step_against_float64(name: str) -> float:
    """The largest relative difference of a float32 training step's parameter gradients
    from the float64 step's (the float64 one is what finite differences and torch check)."""
    model, x, y = chars_model(CELLS[name], vocab=7, dim=4)
    model.train_step(x, y)
    exact = {k: v.copy() for k, v in model.named_grads().items()}
    model.astype(np.float32)
    model.train_step(x.astype(np.float32), y)
    worst = 0.0
    for key, value in model.named_grads().items():
        assert value.dtype == np.float32, key
        scale = np.abs(exact[key]).max() or 1.0
        worst = max(worst, float(np.abs(value - exact[key]).max() / scale))
    return worst


@built
@pytest.mark.parametrize("name", CELLS)
def test_a_float32_step_with_compiled_kernels_matches_float64(compiled, name):
    assert float32_step_against_float64(name) < 1e-5


@pytest.mark.parametrize("name", CELLS)
def test_a_float32_step_with_numpy_kernels_matches_float64(numpy_only, name):
    assert float32_step_against_float64(name) < 1e-5


def test_version_says_which_kernels_compute():
    from typer.testing import CliRunner

    from nncli.cli import app

    result = CliRunner().invoke(app, ["--version"], env={kernels.ENV: "numpy"})
    assert result.exit_code == 0
    assert "kernels: numpy" in result.stderr
    if kernels._built is not None:
        assert "kernels: numpy (NNCLI_KERNELS=numpy)" in result.stderr
        result = CliRunner().invoke(app, ["--version"], env={kernels.ENV: ""})
        assert ("kernels: compiled (float32 tanh, sigmoid, per-id sums; max pooling, im2col)"
                in result.stderr)


def pool_both_ways(monkeypatch, x, size, stride, dy_seed=0):
    """ops.pool2d and its backward with the compiled kernels, then with numpy's."""
    from nncli import ops

    results = []
    for env in ("", "numpy"):
        monkeypatch.setenv(kernels.ENV, env)
        y, winner = ops.pool2d(x, size, stride)
        dy = np.random.default_rng(dy_seed).standard_normal(y.shape).astype(x.dtype)
        results.append((y, winner, ops.pool2d_backward(dy, x.shape, size, stride, "max",
                                                       winner)))
    return results


@built
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 11), st.integers(1, 11),
       st.integers(1, 4), st.integers(1, 4), st.sampled_from(["float32", "float64"]),
       st.sampled_from(["values", "ties", "nan"]))
@settings(max_examples=120, deadline=None)
def test_compiled_max_pooling_equals_numpys_bit_for_bit(n, c, h, w, size, stride, dtype,
                                                        fill):
    """A maximum is exact, so float32 and float64 both go through the compiled kernel, and
    winners (the first maximum on ties; NaN propagates without moving it) must agree."""
    if size > min(h, w):
        return
    rng = np.random.default_rng(n * 1000 + h * 10 + w)
    x = np.maximum(rng.standard_normal((n, c, h, w)), 0).astype(dtype)
    if fill == "ties":
        x = np.round(x)
    elif fill == "nan":
        x.flat[rng.integers(0, x.size, 3)] = np.nan
    with pytest.MonkeyPatch.context() as monkeypatch:
        (yc, wc, dc), (yn, wn, dn) = pool_both_ways(monkeypatch, x, size, stride)
    np.testing.assert_array_equal(yc, yn)               # NaN in the same places too
    np.testing.assert_array_equal(wc, wn)
    assert yc.dtype == x.dtype and wc.dtype == np.uint8
    if fill != "nan":                                    # numpy spreads 0 * nan there
        np.testing.assert_array_equal(dc, dn)


@built
def test_max_pooling_runs_compiled(monkeypatch):
    """The kernel is really used (not only equal): windows that do not overlap, up to 16."""
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
    assert kernels.max_pool(x, 2, 2, 4, 4) is not None
    assert kernels.max_pool(x, 17, 1, 1, 1) is None                # winners past uint8
    y, winner = kernels.max_pool(x, 2, 2, 4, 4)
    assert kernels.max_pool_backward(y, winner, x.shape, 2, 2) is not None
    assert kernels.max_pool_backward(y, winner, x.shape, 2, 1) is None   # overlapping


@built
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 9), st.integers(1, 9),
       st.integers(1, 4), st.integers(1, 3), st.integers(0, 3),
       st.sampled_from(["float32", "float64"]))
@settings(max_examples=120, deadline=None)
def test_compiled_im2col_equals_numpys_bit_for_bit(n, c, h, w, k, stride, padding, dtype):
    """A copy with zero padding: the compiled kernel must give numpy's columns exactly."""
    from nncli import ops

    if k > min(h, w) + 2 * padding:
        return
    x = np.random.default_rng(n * 100 + h * 10 + w).standard_normal((n, c, h, w)).astype(dtype)
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv(kernels.ENV, "")
        assert kernels.im2col(x, k, k, stride, padding, *(ops.out_size(d, k, stride, padding)
                                                          for d in (h, w))) is not None
        compiled = ops.im2col(x, k, k, stride, padding)
        monkeypatch.setenv(kernels.ENV, "numpy")
        plain = ops.im2col(x, k, k, stride, padding)
    assert compiled[1:] == plain[1:]
    np.testing.assert_array_equal(compiled[0], plain[0])
    assert compiled[0].dtype == x.dtype


def test_a_bad_nncli_kernels_is_one_line_and_creates_nothing(tmp_path):
    from typer.testing import CliRunner

    from nncli.cli import app
    from tests.test_dtype import write_spec

    result = CliRunner().invoke(app, ["train", str(write_spec(tmp_path, "cnn-sgd")), "--out",
                                      str(tmp_path / "run")], env={kernels.ENV: "nmupy"})
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1, result.stderr
    assert lines[0] == ("error: NNCLI_KERNELS=nmupy: expected 'numpy' (numpy computes every "
                        "kernel) or 'compiled' (the default); unset it for the default")
    assert not (tmp_path / "run").exists()
    result = CliRunner().invoke(app, ["--version"], env={kernels.ENV: "nmupy"})
    assert result.exit_code == 0 and "kernels: NNCLI_KERNELS=nmupy: expected" in result.stderr
