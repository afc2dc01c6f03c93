"""Gradient checking: the model's backward against centred finite differences, in float64.

For one entry theta_i of a parameter (or of the input) the numerical gradient is

    n_i = (L(theta + eps e_i) - L(theta - eps e_i)) / (2 eps)

and the analytic one, a_i, is what backward left in the layer's grads. They are compared
by the relative error of the CS231n gradient-check notes, |a - n| / max(|a|, |n|), with a
floor under the denominator:

    rel_i = |a_i - n_i| / max(|a_i|, |n_i|, floor)

An entry passes when rel_i < tol (1e-7 by default); a wrong backward gives 1e-3 or worse.

Why the floor. A finite difference cannot resolve a gradient below its own rounding noise,
about 1e-16 |L| / (2 eps) ~ 1e-11 |L| at eps = 1e-5, so the plain ratio flags correct but
tiny gradients (an RNN's vanishing gradient 20 steps back is ~1e-6) as failures. With the
floor, a gradient smaller than `floor` is compared in absolute terms, |a - n| < tol * floor,
still a hundred times above the noise. This is the mixed absolute/relative test of
torch.autograd.gradcheck and numpy.allclose (atol / rtol = floor) written as one ratio.
`gradcheck` uses floor = 1e-2 * max(1, |L|) because the noise grows with the loss;
`layer_gradcheck` differences the outputs element by element, so its noise does not grow
with the number of outputs, and it uses floor = 1e-2.

eps = 1e-5 by default: centred differences have truncation error ~eps^2 and rounding error
~1e-16 / eps, balanced near 1e-5 (measured: 5-10x smaller worst errors than eps = 1e-6 on
20-step recurrent layers). Keep eps well below the distance to any kink (relu at 0, ties
in max pooling), or a perturbation crosses it and the check fails for no fault of backward.

`max_entries` checks a seeded random sample of each tensor's entries instead of all of them,
so big models stay fast (`nncli gradcheck` samples SAMPLE entries per tensor unless --all;
a character model's 30,000 entries take ~35 s, 100 per tensor well under one). A model that
reads token ids (an embedding first) has no gradient with respect to its input: ids are
not perturbed. Pure core: nothing here prints; `progress(done, total)` is called after
each entry for a caller that shows it. `gradcheck` works on a whole Model, through
model.loss and model.backward_from, so a softmax fused into cross-entropy is handled as in
training; `layer_gradcheck` checks one layer on the scalar sum(forward(x) * dy).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

EPS = 1e-5
TOL = 1e-7
FLOOR = 1e-2
SAMPLE = 100        # entries per tensor `nncli gradcheck` checks by default


@dataclass
class CheckResult:
    """How one gradient (a parameter like '0.weight', or 'input') compared.

    `checked` is the number of entries compared (all of them unless max_entries sampled).
    """

    name: str
    shape: tuple
    max_rel_error: float
    max_abs_error: float
    passed: bool
    checked: int = 0


def rel_error(a: np.ndarray, n: np.ndarray, floor: float = FLOOR) -> np.ndarray:
    """|a - n| / max(|a|, |n|, floor), entry by entry."""
    a, n = np.asarray(a, dtype=np.float64), np.asarray(n, dtype=np.float64)
    return np.abs(a - n) / np.maximum(np.maximum(np.abs(a), np.abs(n)), floor)


def _sample(size: int, max_entries: int | None, rng: np.random.Generator) -> np.ndarray:
    """Flat indices to check: all of them, or a sorted seeded sample of max_entries."""
    if max_entries is None or max_entries >= size:
        return np.arange(size)
    return np.sort(rng.choice(size, size=max_entries, replace=False))


def _numeric(value: np.ndarray, index: np.ndarray, eps: float, evaluate: Callable,
             difference: Callable = np.subtract, step: Callable[[], None] | None = None,
             ) -> np.ndarray:
    """difference(f(+eps), f(-eps)) / (2 eps) for f = evaluate() and each value.flat[i], i in
    index. value is perturbed in place (it must be contiguous, so that the flat view writes
    through to the array the layer reads) and every entry is restored exactly afterwards.
    `step()` is called after each entry."""
    flat = value.reshape(-1)
    if not np.shares_memory(flat, value):
        raise ValueError("gradcheck needs contiguous arrays")
    out = np.empty(index.size)
    for j, i in enumerate(index):
        orig = flat[i]
        flat[i] = orig + eps
        plus = evaluate()
        flat[i] = orig - eps
        minus = evaluate()
        flat[i] = orig
        out[j] = difference(plus, minus) / (2.0 * eps)
        if step is not None:
            step()
    return out


def _result(name: str, analytic: np.ndarray, numeric: np.ndarray, index: np.ndarray,
            tol: float, floor: float) -> CheckResult:
    a = np.asarray(analytic, dtype=np.float64).reshape(-1)[index]
    rel = rel_error(a, numeric, floor)
    max_rel = float(rel.max()) if rel.size else 0.0
    max_abs = float(np.abs(a - numeric).max()) if rel.size else 0.0
    return CheckResult(name, tuple(analytic.shape), max_rel, max_abs, bool(max_rel < tol),
                       int(index.size))


@contextmanager
def _float64(layers) -> Iterator[None]:
    """Run with every parameter as a float64 copy; put the original arrays back after."""
    saved = [dict(layer.params) for layer in layers]
    try:
        for layer in layers:
            for k, v in layer.params.items():
                layer.params[k] = np.array(v, dtype=np.float64)
            layer.zero_grad()
        yield
    finally:
        for layer, params in zip(layers, saved, strict=True):
            layer.params.update(params)
            layer.zero_grad()


def gradcheck(model, x: np.ndarray, target: np.ndarray, eps: float = EPS, tol: float = TOL,
              max_entries: int | None = None, rng: np.random.Generator | None = None,
              floor: float = FLOOR, progress: Callable[[int, int], None] | None = None,
              ) -> list[CheckResult]:
    """Check every parameter's gradient and the input gradient of model's loss at (x, target).

    x: a batch (N, *input_shape); target: what model.loss expects (see Model.targets).
    Returns one CheckResult per parameter, in model.named_params() order, then 'input'
    (not for a model that reads token ids: see reads_ids). The relative-error floor is
    floor * max(1, |L|). The parameters are left as they were (same arrays, same dtype)
    and the gradients zeroed. progress(done, total) follows the entries checked.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    x = np.array(x, dtype=np.float64)
    with _float64(model.layers):
        model.zero_grad()
        loss0, grad, _ = model.loss(x, target)
        dx, _ = model.backward_from(grad)
        analytic = {k: v.copy() for k, v in model.named_grads().items()}
        floor = floor * max(1.0, abs(loss0))

        def loss() -> float:
            return model.loss(x, target)[0]

        checks = [*model.named_params().items(),
                  *([] if reads_ids(model) else [("input", x)])]
        indices = [_sample(value.size, max_entries, rng) for _, value in checks]
        total, done = sum(index.size for index in indices), [0]

        def step() -> None:
            done[0] += 1
            progress(done[0], total)

        results = []
        for (name, value), index in zip(checks, indices, strict=True):
            numeric = _numeric(value, index, eps, loss, step=step if progress else None)
            results.append(_result(name, dx if name == "input" else analytic[name], numeric,
                                   index, tol, floor))
    return results


def reads_ids(model) -> bool:
    """Does the model read token ids (an embedding first)? Ids have no gradient."""
    from nncli.layers import Embedding

    return bool(model.layers) and isinstance(model.layers[0], Embedding)


def layer_gradcheck(layer, x: np.ndarray, dy: np.ndarray, eps: float = EPS, tol: float = TOL,
                    floor: float = FLOOR) -> list[CheckResult]:
    """Check one layer's backward on the scalar f = sum(forward(x) * dy), in float64.

    The layer's parameters must exist (init_params). The outputs are differenced element by
    element before the weighted sum, (y(+eps) - y(-eps)) . dy, so outputs the perturbed
    entry does not touch cancel exactly instead of adding rounding noise.
    Returns one CheckResult per parameter (by its own name, e.g. 'weight'), then 'input'.
    """
    x = np.array(x, dtype=np.float64)
    dy = np.asarray(dy, dtype=np.float64)
    with _float64([layer]):
        layer.zero_grad()
        layer.forward(x)
        dx = layer.backward(dy)
        analytic = {k: v.copy() for k, v in layer.grads.items()}

        def output() -> np.ndarray:
            return layer.forward(x).copy()

        def weighted(plus: np.ndarray, minus: np.ndarray) -> float:
            return float(np.sum((plus - minus) * dy))

        checks = [*layer.params.items(), ("input", x)]
        results = []
        for name, value in checks:
            index = np.arange(value.size)
            numeric = _numeric(value, index, eps, output, weighted)
            results.append(_result(name, dx if name == "input" else analytic[name], numeric,
                                   index, tol, floor))
    return results
