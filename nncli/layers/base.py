"""The layer contract every layer follows (see the README's "Adding a layer").

    params / grads: parallel dicts with the same keys and shapes (PyTorch names);
    forward(x) -> y caches what backward needs; backward(dy) -> dx adds into grads
    (a layer may return None instead of dx when `input_grad` is False: the model says so
    for its first layer while training, where nothing uses dL/dx);
    output_shape(input_shape) gives the per-sample output shape (no batch axis).

What a layer class declares to be found by the registry (kind, summary, OPTIONS, EXAMPLE,
from_options) is described in nncli/layers/registry.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from nncli.errors import InputError
from nncli.options import Option


def normal_inputs(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Standard normal values: the default input of a layer's EXAMPLE."""
    return rng.standard_normal(shape)


def distinct_inputs(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Shuffled values 0.01 apart, none within 0.005 of zero: no ties (max pooling's winner
    is never in doubt) and no kink of relu within reach of a finite difference."""
    n = int(np.prod(shape))
    return (rng.permutation(n).reshape(shape) - n / 2 + 0.5) * 0.01


class Example(NamedTuple):
    """A small case the generic tests (tests/test_registry.py) build and gradient-check:
    the spec options, a per-sample input shape and how to draw inputs of that shape."""

    options: dict[str, Any]
    input_shape: tuple[int, ...]
    inputs: Callable[[np.random.Generator, tuple[int, ...]], np.ndarray] = normal_inputs


# The `params:` option every layer with parameters takes (one help text for all of them).
PARAMS_OPTION = Option("params", None, "fixed parameter values by name (PyTorch names and "
                       "shapes) instead of seeded ones")
# The `return:` option of every recurrent cell (the default from_options passes it to the
# constructor as return_sequences).
RETURN_OPTION = Option(("all", "last"), "all", "output the state of every step (T, H) or "
                       "only the last one (H,)")


class Layer:
    """Base class: no parameters, identity shape. Subclasses override what they need."""

    kind = "layer"                      # a subclass's name in specs (see registry.py)
    input_grad = True                   # does backward need to return dx? (see above)
    summary = ""                        # one line for `nncli layers` and the README
    OPTIONS: dict[str, Option] = {}     # {option: Option(kind, default, help)}
    EXAMPLE: Example | None = None

    @classmethod
    def from_options(cls, values: dict[str, Any]) -> Layer:
        """The layer from checked spec options (defaults filled in, `params` removed).
        By default the option names are the constructor's keyword arguments, except
        `return` (RETURN_OPTION), which is `return_sequences` (True for 'all')."""
        kwargs = dict(values)
        if "return" in kwargs:
            kwargs["return_sequences"] = kwargs.pop("return") == "all"
        return cls(**kwargs)

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.trainable = True

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dy: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(input_shape)

    def describe(self) -> str:
        """Key options for the summary table, e.g. '8 filters 3x3, stride 1, pad 1'."""
        return ""

    def param_shapes(self, input_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        """The parameters this layer has for a per-sample input shape, in creation order."""
        return {}

    @property
    def init_activation(self) -> str:
        """The activation that follows the weights, which picks He or Glorot."""
        act = getattr(self, "act", None)
        return act.name if act is not None else "tanh"

    def forward_to(self, consumer: Layer, x: np.ndarray):
        """forward(x) as the next layer, `consumer`, will take it. A layer may hand on
        something cheaper than its output when the consumer takes it (an embedding: its
        ids and table, see embedding.TokenInputs); training asks for this, inspection
        never does, so every output it shows is an array."""
        return self.forward(x)

    def init_params(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> None:
        """Seeded parameters: weights by `init_weight`, with PyTorch's fans (a weight of
        shape (out, in, *k) has fan_in = in * prod(k), fan_out = out * prod(k)); biases 0."""
        for name, shape in self.param_shapes(input_shape).items():
            if len(shape) == 1:
                self.params[name] = np.zeros(shape)
                continue
            receptive = int(np.prod(shape[2:]))
            self.params[name] = init_weight(rng, shape, shape[1] * receptive,
                                            shape[0] * receptive, self.init_activation)

    def zero_grad(self) -> None:
        for name, value in self.params.items():
            self.grads[name] = np.zeros_like(value)

    def _add_grads(self, **grads: np.ndarray) -> None:
        # Gradients accumulate (+=) so repeated backward calls sum, as in micrograd and torch.
        for name, g in grads.items():
            if name in self.grads:
                self.grads[name] += g
            else:
                self.grads[name] = g.copy()


def glorot_uniform(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int,
                   fan_out: int) -> np.ndarray:
    """Glorot/Xavier uniform: U(-a, a) with a = sqrt(6 / (fan_in + fan_out)); for tanh/sigmoid."""
    a = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-a, a, size=shape)


def he_normal(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int) -> np.ndarray:
    """He/Kaiming normal: N(0, 2 / fan_in); keeps the variance of ReLU activations steady."""
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape)


def init_weight(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int, fan_out: int,
                activation: str) -> np.ndarray:
    """He for ReLU layers, Glorot otherwise (tanh, sigmoid, identity, recurrent cells)."""
    if activation == "relu":
        return he_normal(rng, shape, fan_in)
    return glorot_uniform(rng, shape, fan_in, fan_out)


def expect_rank(input_shape: tuple[int, ...], ranks: tuple[int, ...],
                what: str, fix: str) -> None:
    """Raise a shape error saying what the layer expects, what it got and the fix."""
    if len(input_shape) not in ranks:
        raise InputError(f"expects {what} but gets {tuple(input_shape)}; {fix}")
