"""What the model commands work out beyond the model's own forward and backward passes.

`summary`'s layer table, the statistics of a tensor (`forward`), the gradient records and
norms of `backward`, and the seeded batch `gradcheck` checks when no --input is given.
Pure: nothing here prints; nncli.render.model draws the results.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nncli.errors import InputError
from nncli.model import Model, ShapeError, iter_shapes
from nncli.spec import Spec


def norm(a: np.ndarray) -> float:
    """The L2 norm of every value of `a`."""
    return float(np.sqrt(np.vdot(a, a)))


def tensor_record(a: np.ndarray) -> dict[str, Any]:
    """shape, min, max, mean, std and L2 norm of a tensor (for --json)."""
    a = np.asarray(a)
    return {"shape": list(a.shape), "min": float(a.min()), "max": float(a.max()),
            "mean": float(a.mean()), "std": float(a.std()), "l2": norm(a)}


# --------------------------------------------------------------------------- summary

@dataclass
class Summary:
    spec: Spec
    rows: list[dict[str, Any]]      # one per layer, up to a layer whose shape fails
    total_params: int
    activation_bytes: int           # bytes one forward+backward keeps per sample, in dtype
    failure: InputError | None      # the shape error that stopped the table, if any
    dtype: str = "float64"          # the float type the memory is counted in


def memory_dtype(spec: Spec, run_folder: bool = False) -> str:
    """The float type a spec's memory is counted in: train.dtype for a spec meant for
    training (it has data: or train:; a legacy run folder's is float64), float64 for one
    only run by forward and backward (their --dtype default)."""
    from nncli.train_setup import TRAIN_OPTIONS, training_dtype

    if "data" not in spec.raw and "train" not in spec.raw:
        return "float64"
    try:
        return training_dtype(spec, run_folder)
    except InputError:          # summary's warning line names the bad train.dtype
        return TRAIN_OPTIONS["dtype"].default


def summarize(spec: Spec, run_folder: bool = False) -> Summary:
    """The layer table of a spec: options, output shape and parameter count per layer.

    A layer whose shape is impossible ends the table; its error is `failure`, so the rows
    before it can still be shown. A complete spec is also built once, which checks fixed
    parameters' shapes and the memory budget. The activation memory is what one forward
    and backward keep per sample (outputs, gradients, states, gates, caches: see
    Model.sample_activation_bytes), as the memory budget counts it: in the dtype training
    would use (memory_dtype; run_folder: spec is a run folder's config.yaml)."""
    shapes, failure = [], None
    try:
        shapes.extend(iter_shapes(spec.layers, spec.input_shape))
    except ShapeError as err:
        failure = spec.shape_error(err)
    act_bytes, dtype = 0, memory_dtype(spec, run_folder)
    if failure is None:
        act_bytes = spec.build().astype(dtype).sample_activation_bytes()
    rows = [{"index": i, "type": layer.kind, "options": layer.describe(),
             "output_shape": list(shape),
             "params": sum(math.prod(s) for s in layer.param_shapes(shape_in).values()),
             "trainable": bool(layer.param_shapes(shape_in))}
            for i, (layer, shape, shape_in) in enumerate(
                zip(spec.layers, shapes, [spec.input_shape, *shapes], strict=False))]
    total = sum(r["params"] for r in rows)
    return Summary(spec, rows, total, act_bytes, failure, dtype)


def load_summary_spec(config: Path, overrides=(), what: str = "CONFIG") -> Spec:
    """The spec of CONFIG (a spec file, a run folder or a built-in config's name), validated
    but not built. A run folder's text model takes the vocabulary stored with its weights,
    as the other model commands do (nncli.loading), so its training text is not needed."""
    from nncli import loading
    from nncli.checkpoint import read_npz
    from nncli.spec import load_spec
    from nncli.train import BEST, CONFIG_FILE, LAST

    path = loading.config_path(config, what)
    if path.is_dir() and not any((path / n).is_file() for n in (BEST, LAST)):
        # A run before its first checkpoint: its config alone (resolve would ask for weights).
        spec_path, weights = path / CONFIG_FILE, None
        if not spec_path.is_file():
            loading.resolve(path, None, need_weights=False, what=what)   # says what is wrong
    else:
        spec_path, weights = loading.resolve(path, None, need_weights=False, what=what)
    vocab = None
    if weights is not None:
        from nncli.text.vocab import VOCAB_KEY, Vocab

        arrays = read_npz(weights, "--weights")
        if VOCAB_KEY in arrays:
            vocab = Vocab.from_arrays(arrays, f"--weights {weights}")
    return load_spec(spec_path, vocab=vocab, overrides=overrides)


# --------------------------------------------------------------------------- backward

@dataclass
class Backward:
    loss: float
    records: dict[str, dict[str, Any]]   # per parameter: statistics, norms and the gradient
    arriving: list[dict[str, Any]]       # the gradient norm at each layer's output
    input_grad_norm: float


def backward(model: Model, x: np.ndarray, y: np.ndarray) -> Backward:
    """One forward and backward pass: the loss, every gradient and the norms along the way."""
    result = model.inspect(x, y)
    params, grads = model.named_params(), model.named_grads()
    records = {name: {**tensor_record(grads[name]),
                      "max_abs": float(abs(grads[name]).max()),
                      "param_l2": norm(params[name]),
                      # |g| / |param| means nothing for a parameter at 0 (a bias that
                      # starts at zero): None, shown as "—" (JSON null).
                      "rel_norm": (norm(grads[name]) / norm(params[name])
                                   if norm(params[name]) > 0 else None),
                      "grad": grads[name]}
               for name in params}
    arriving = [{"index": i, "type": model.layers[i].kind, "l2": norm(g)}
                for i, g in enumerate(result.output_grads)]
    return Backward(result.loss, records, arriving, norm(result.input_grad))


# --------------------------------------------------------------------------- gradcheck

def random_batch(model: Model, rng: np.random.Generator, n: int = 2) -> np.ndarray:
    """n seeded samples: token ids for an embedding's model, else N(0, 1) values."""
    vocab = getattr(model.layers[0], "vocab", None)     # an embedding reads token ids
    if vocab is not None:
        return rng.integers(0, vocab, size=(n, *model.input_shape)).astype(np.float64)
    return rng.normal(size=(n, *model.input_shape))


def random_targets(model: Model, rng: np.random.Generator, n: int) -> np.ndarray:
    """Seeded targets for n samples: class labels for cross_entropy, N(0, 1) for mse."""
    out_shape = model.shapes[model._loss_end() - 1]
    if model.loss_name == "cross_entropy":
        return rng.integers(0, out_shape[-1], size=(n, *out_shape[:-1]))
    return rng.normal(size=(n, *out_shape))


# --------------------------------------------------------------------------- predict

def as_batch(model: Model, x: np.ndarray) -> np.ndarray:
    """x as a batch (N, *input_shape). One sample may leave out the input's axes of size 1
    (an 8x8 matrix for input [1, 8, 8], a row of T values for [T, 1]); so may each row of
    a batch."""
    shape = model.input_shape
    core = tuple(d for d in shape if d != 1)
    if x.shape != shape and x.shape[1:] != shape:
        if tuple(d for d in x.shape if d != 1) == core:
            x = x.reshape(shape)
        elif x.ndim >= 1 and x.shape[1:] == core:
            x = x.reshape(len(x), *shape)
    return model.batch(x, "--input")


def predict(model: Model, x: np.ndarray) -> dict[str, np.ndarray]:
    """A classifier's class probabilities and predicted classes, else the model's outputs."""
    from nncli import ops

    y = model.predict(x)
    if model.loss_name != "cross_entropy":
        return {"outputs": y}
    probs = y if model.fused_softmax else ops.softmax(y, axis=-1)
    return {"probabilities": probs, "predicted": np.argmax(probs, axis=-1)}
