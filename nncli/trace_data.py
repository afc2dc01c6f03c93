"""Where grad-trace's input sequence and target come from: given (--input/--target), a
sample of the spec's data, or generated from a seed. Nothing here prints; the tracing
itself is nncli/trace.py.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nncli.errors import InputError
from nncli.model import Model


def loss_input_shape(model: Model) -> tuple[int, ...]:
    return model.shapes[-2] if model.fused_softmax else model.shapes[-1]


def generate(model: Model, seed: int, batch: int = 1, x_given: bool = False
             ) -> tuple[np.ndarray | None, np.ndarray]:
    """A seeded input x ~ N(0, 1) (unless x_given) and target: N(0, 1) values for mse,
    uniform class labels for cross-entropy. Seeded separately from the weights."""
    rng = np.random.default_rng([seed, 3])
    x = None if x_given else rng.standard_normal((batch, *model.input_shape))
    out = loss_input_shape(model)
    if model.loss_name == "cross_entropy":
        return x, rng.integers(0, out[-1], size=(batch, *out[:-1]))
    return x, rng.standard_normal((batch, *out))


def read_sequence(source: str, name: str, width: int | None) -> np.ndarray:
    """A sequence (T, F) or batch (N, T, F); a 1-D list is one step per value (F = 1)."""
    from nncli import io

    arr = io.read_array(source, name, ndims=(1, 2, 3)).astype(float)
    if arr.ndim == 1 and width in (None, 1):
        arr = arr[:, None]
    return arr


def _shape_hint(model: Model, x: np.ndarray) -> None:
    want = model.input_shape
    if x.shape[-len(want):] != want and x.ndim == 2 and x.T.shape == want:
        raise InputError(f"--input: expected one step per row, shape {want} (T steps x "
                         f"{want[-1]} features), got {x.shape}; write the steps as rows, "
                         f"like \"1; 2\"")


def inputs(model: Model, seed: int, *, source: str | None = None,
           x: np.ndarray | None = None, target: str | None = None, spec=None,
           sample: int = 0) -> tuple[np.ndarray, np.ndarray, dict]:
    """(x, target, description): the sequence `x` or the one read from `source` (--input)
    and the --target given, else sample `sample` of the spec's data, else generated."""
    from nncli import io

    what: dict[str, Any] = {}
    y = None
    if source is not None:
        x = read_sequence(source, "--input", model.input_shape[-1])
    if x is not None:
        _shape_hint(model, x)
        what["input"] = "--input"
    elif spec is not None and "data" in spec.raw and target is None:
        from nncli.datasets import load_dataset

        ds = load_dataset(spec.raw["data"], spec.base_dir, spec.seed, spec)
        split = ds.test if len(ds.test) else ds.train
        name = "test" if len(ds.test) else "train"
        if not 0 <= sample < len(split):
            raise InputError(f"--sample: expected 0..{len(split) - 1} (the {name} split), "
                             f"got {sample}")
        if split.x.shape[1:] != model.input_shape:
            raise InputError(f"--steps: the data's sequences are {split.x.shape[1:]} but the "
                             f"model now takes {model.input_shape}; drop --steps or give "
                             f"--input")
        x, y = split.x[sample:sample + 1], split.y[sample:sample + 1]
        what["input"] = what["target"] = f"{ds.name} {name}[{sample}]"
    if target is not None:
        y = io.read_array(target, "--target", ndims=(1, 2, 3)).astype(float)
        if model.loss_name == "cross_entropy":
            y = y.astype(int) if (y == y.round()).all() else y
        what["target"] = "--target"
    batch = 1 if x is None else (x.shape[0] if x.ndim == 3 else 1)
    gx, gy = generate(model, seed, batch, x_given=x is not None)
    if x is None:
        x, what["input"] = gx, f"generated, N(0, 1), seed {seed}"
    if y is None:
        y = gy
        what["target"] = (f"generated (seed {seed}), "
                          + ("random labels" if model.loss_name == "cross_entropy"
                             else "N(0, 1)"))
    return x, y, what
