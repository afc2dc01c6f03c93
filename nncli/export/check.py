"""`nncli export --check`: run the export in its runtime and compare it with nncli.

A seeded batch goes through the exported model (torch for a torch or safetensors export,
onnxruntime for ONNX) and through nncli's own forward pass with the exported arrays: a
float32 export is compared with nncli run in float64 on the same float32-rounded weights
and input, so the difference measures the runtime's arithmetic, not the export's
rounding. Every output both give is compared: `logits` (a classifier's softmax input) and
`output` (the last layer's, what `nncli forward` shows). The largest |Δ| must stay within
TOLERANCE of the dtype, times the outputs' largest magnitude when that is above 1: float32
keeps about 7 significant digits, so logits of 30 differ by a few 1e-6 between two correct
implementations (a trained digits CNN on a noise batch: 7.4e-6), while a wrong export
(a gate out of place, a missing activation) is off by far more.
"""

from __future__ import annotations

import copy
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nncli.errors import InputError, RunFailed

TOLERANCE = {"float32": 1e-5, "float64": 1e-10}
BATCH = 4
INSTALL = {"torch": 'pip install "nncli[torch]"', "onnxruntime": 'pip install "nncli[onnx]"',
           "onnx": 'pip install "nncli[onnx]"'}


@dataclass
class CheckResult:
    runtime: str                # "torch 2.13.0", "onnxruntime 1.32.0"
    dtype: str
    batch: int
    outputs: list[str]          # the outputs compared
    max_abs_diff: float
    base: float                 # TOLERANCE[dtype]
    scale: float                # the outputs' largest magnitude, at least 1

    @property
    def tolerance(self) -> float:
        return self.base * self.scale

    @property
    def passed(self) -> bool:
        return bool(self.max_abs_diff <= self.tolerance)

    def record(self) -> dict:
        return {"runtime": self.runtime, "dtype": self.dtype, "batch": self.batch,
                "outputs": self.outputs,
                "max_abs_diff": self.max_abs_diff if np.isfinite(self.max_abs_diff) else None,
                "base_tolerance": self.base, "scale": self.scale,
                "tolerance": self.tolerance, "passed": self.passed}


def require(package: str, what: str):
    """Import `package` (torch, onnx, onnxruntime) or say in one line how to install it."""
    try:
        return importlib.import_module(package)
    except ImportError:
        raise InputError(f"{what} needs {package}, which is not installed; "
                         f"{INSTALL[package]}") from None


def seeded_batch(model, seed: int, dtype: str) -> np.ndarray:
    """BATCH samples: normal noise, or token ids for a model that starts with an embedding."""
    rng = np.random.default_rng(seed)
    first = model.layers[0]
    if first.kind == "embedding":
        return rng.integers(0, first.vocab, size=(BATCH, *model.input_shape))
    return rng.normal(size=(BATCH, *model.input_shape)).astype(dtype)


def reference(model, arrays: dict[str, np.ndarray], x: np.ndarray) -> dict[str, np.ndarray]:
    """nncli's forward pass in float64 with the exported arrays: {"output", "logits"?}."""
    mine = copy.deepcopy(model).astype(np.float64)      # whatever dtype the model ran in
    mine.load_state({k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()},
                    source="export")
    outputs = mine.forward(np.asarray(x, dtype=np.float64)).outputs
    found = {"output": outputs[-1]}
    if model.layers[-1].kind == "softmax" and len(outputs) > 1:
        found["logits"] = outputs[-2]
    return found


def compare(got: dict[str, np.ndarray], want: dict[str, np.ndarray], runtime: str,
            dtype: str) -> CheckResult:
    names = [name for name in ("logits", "output") if name in got and name in want]
    diff, scale = 0.0, 1.0
    for name in names:
        mine, theirs = want[name], np.asarray(got[name], dtype=np.float64)
        if theirs.shape != mine.shape:
            raise RunFailed(f"export check failed: {runtime} gives {name} of shape "
                            f"{theirs.shape}, nncli {mine.shape}")
        if not (np.all(np.isfinite(mine)) and np.all(np.isfinite(theirs))):
            diff = float("inf")             # an overflow: nothing to compare
            continue
        if mine.size:
            scale = max(scale, float(np.max(np.abs(mine))))
            diff = max(diff, float(np.max(np.abs(theirs - mine))))
    return CheckResult(runtime, dtype, len(next(iter(want.values()))), names, diff,
                       TOLERANCE[dtype], scale)


# ---- torch ------------------------------------------------------------------------------

def import_model_file(path: Path):
    """model.py as written, imported under a name of its own (nothing in sys.modules)."""
    spec = importlib.util.spec_from_file_location(f"nncli_export_{abs(hash(path))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_torch(module, weights: Path, x: np.ndarray, dtype: str, fused: bool
              ) -> dict[str, np.ndarray]:
    """The generated module's Model with the weights file loaded, on x: its forward output
    (logits when the softmax is fused) and probabilities() (when it is)."""
    import torch
    from safetensors.torch import load_file

    model = module.Model().to(getattr(torch, dtype))
    try:
        model.load_state_dict(load_file(str(weights)), strict=True)
    except RuntimeError as err:
        raise RunFailed(f"export check failed: the weights do not load into the torch "
                        f"module: {' '.join(str(err).split())[:300]}") from None
    model.eval()
    with torch.no_grad():
        xt = torch.from_numpy(np.ascontiguousarray(x))
        found = {"logits" if fused else "output": model(xt).numpy()}
        if fused:
            found["output"] = model.probabilities(xt).numpy()
    return found


def check_torch(model, module, weights: Path, seed: int, dtype: str) -> CheckResult:
    import torch

    x = seeded_batch(model, seed, dtype)
    got = run_torch(module, weights, x, dtype, model.fused_softmax)
    from nncli.export.safetensors_file import read_safetensors

    arrays, _ = read_safetensors(weights, "--check")
    want = reference(model, {k: v for k, v in arrays.items() if v.dtype.kind != "U"}, x)
    return compare(got, want, f"torch {torch.__version__.split('+')[0]}", dtype)


# ---- onnx -------------------------------------------------------------------------------

def check_onnx(model, path: Path, arrays: dict[str, np.ndarray], seed: int,
               dtype: str) -> CheckResult:
    """The .onnx file in an onnxruntime CPU session against nncli with `arrays`."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3              # errors come back as exceptions, not logs
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    x = seeded_batch(model, seed, dtype)
    names = [o.name for o in session.get_outputs()]
    got = dict(zip(names, session.run(names, {"input": x}), strict=True))
    return compare(got, reference(model, arrays, x), f"onnxruntime {ort.__version__}", dtype)
