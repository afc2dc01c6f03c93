"""What `nncli export` writes for each format, and the order it does it in.

Everything is checked and built in memory first (the format, the dtype, every layer, the
runtime --check needs, the output paths), so a refused export writes nothing; files are
then written atomically, and an existing file is never replaced without `force`.

    torch        a folder: model.py (torch_code), weights.safetensors, USAGE.md
    safetensors  one file: the weights, with the spec in its metadata
    onnx         one file: the ONNX graph with the weights as initializers (float32), the
                 spec (and a text model's vocabulary) in its metadata
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nncli.errors import InputError
from nncli.export import check as checks
from nncli.export.safetensors_file import SPEC_KEY, TEXT_ARRAYS_KEY, encode
from nncli.export.torch_code import TORCH_LAYERS, check_layers, torch_source
from nncli.options import suggest

FORMATS = ("torch", "safetensors", "onnx")
DTYPES = ("float32", "float64")
# float64 keeps nncli's weights exactly; onnxruntime runs Conv, AveragePool and the
# recurrent operators in float32 only, so ONNX exports are float32.
DEFAULT_DTYPE = {"torch": "float64", "safetensors": "float64", "onnx": "float32"}
MODEL_FILE, WEIGHTS_FILE, USAGE_FILE = "model.py", "weights.safetensors", "USAGE.md"


@dataclass
class Exported:
    format: str
    dtype: str
    out: Path
    files: list[Path]
    params: int
    check: checks.CheckResult | None = None

    def record(self) -> dict:
        return {"format": self.format, "dtype": self.dtype, "out": str(self.out),
                "files": [str(f) for f in self.files], "params": self.params,
                "check": self.check.record() if self.check else None}


def check_format(to: str) -> str:
    if to not in FORMATS:
        raise InputError(f"--to: unknown format '{to}'{suggest(to, FORMATS)}; formats: "
                         f"{', '.join(FORMATS)}")
    return to


def check_dtype(fmt: str, dtype: str | None) -> str:
    dtype = dtype or DEFAULT_DTYPE[fmt]
    if dtype not in DTYPES:
        raise InputError(f"--dtype: expected float32 or float64, got '{dtype}'")
    if fmt == "onnx" and dtype != "float32":
        raise InputError("--dtype: the onnx export is float32 (onnxruntime runs ONNX's Conv, "
                         "AveragePool, RNN, GRU and LSTM in float32 only); drop --dtype, or "
                         "use --to torch for float64")
    return dtype


def _targets(fmt: str, out: Path, force: bool) -> list[Path]:
    """The files the export will write; refused if one exists (unless force) or if OUT is
    a file where a folder is meant, or the other way round."""
    out = Path(out)
    if fmt == "torch":
        if out.exists() and not out.is_dir():
            raise InputError(f"--out: '{out}' is a file; --to torch writes a folder "
                             f"({MODEL_FILE}, {WEIGHTS_FILE}, {USAGE_FILE})")
        targets = [out / MODEL_FILE, out / WEIGHTS_FILE, out / USAGE_FILE]
    else:
        if out.is_dir():
            raise InputError(f"--out: '{out}' is a folder; --to {fmt} writes one file, e.g. "
                             f"-o model.{'onnx' if fmt == 'onnx' else 'safetensors'}")
        if fmt == "safetensors" and out.suffix.lower() != ".safetensors":
            raise InputError(f"--out: '{out}' should end in .safetensors (nncli reads "
                             f"--weights files of that name as safetensors)")
        targets = [out]
    if not force:
        for target in targets:
            if target.exists():
                raise InputError(f"--out: '{target}' already exists; pass --force to "
                                 f"overwrite it")
    return targets


def export(loaded, to: str, out: Path, dtype: str | None = None, force: bool = False,
           check: bool = False) -> Exported:
    """Write `loaded` (an nncli.loading.Loaded: spec, model, weights) in format `to`."""
    from nncli.output import atomic_write

    fmt = check_format(to)
    dtype = check_dtype(fmt, dtype)
    _check_possible(fmt, loaded, check)
    targets = _targets(fmt, out, force)
    arrays = _cast(loaded.model.named_params(), dtype)
    needs_source = fmt == "torch" or (fmt == "safetensors" and check)
    source = torch_source(loaded.model, _title(loaded.spec)) if needs_source else ""
    contents = _contents(fmt, loaded, arrays, dtype, source)
    if fmt == "torch":
        try:
            Path(out).mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise InputError(f"--out: cannot create the folder '{out}': "
                             f"{err.strerror or err}") from None
    for target, content in zip(targets, contents, strict=True):
        atomic_write(target, content, name="--out")
    done = Exported(fmt, dtype, Path(out), targets, int(sum(v.size for v in arrays.values())))
    if check:
        done.check = run_check(fmt, loaded.model, targets, arrays, loaded.spec.seed, dtype,
                               source)
    return done


def _check_possible(fmt: str, loaded, check: bool) -> None:
    """Every layer has an equivalent in the format, and what the export and its check
    import is installed."""
    where = lambda i: loaded.spec.where(("layers", i))        # noqa: E731
    if fmt == "onnx":
        from nncli.export.onnx_graph import ONNX_LAYERS

        check_layers(loaded.model, ONNX_LAYERS, "onnx", where)
        checks.require("onnx", "--to onnx")
    elif fmt == "torch" or check:       # a safetensors check runs in the torch module
        check_layers(loaded.model, TORCH_LAYERS, "torch", where)
    if check:
        checks.require("onnxruntime" if fmt == "onnx" else "torch", "--check")


def _cast(params: dict[str, np.ndarray], dtype: str) -> dict[str, np.ndarray]:
    """The parameters in the export's dtype; one beyond its range is an InputError."""
    with np.errstate(over="ignore"):
        arrays = {k: v.astype(dtype) for k, v in params.items()}
    for key, value in arrays.items():          # nncli's weights are finite: inf = overflow
        if not np.all(np.isfinite(value)):
            raise InputError(f"--dtype: '{key}' holds values beyond {dtype}'s range "
                             f"(largest |w| {np.max(np.abs(params[key])):.3g}); export in "
                             f"float64")
    return arrays


def _title(spec) -> str:
    return f"{spec.name}, exported by nncli from {spec.path.name}"


def _contents(fmt: str, loaded, arrays: dict, dtype: str, source: str) -> list:
    """What goes into each target file, built before anything is written."""
    import yaml

    spec = loaded.spec
    metadata = {SPEC_KEY: yaml.safe_dump(spec.raw, sort_keys=False, allow_unicode=True),
                "nncli.name": spec.name, "nncli.weights": loaded.source}
    vocab = spec.vocab.arrays() if spec.vocab is not None else {}
    if fmt == "onnx":
        from nncli.export.onnx_graph import onnx_model

        if vocab:        # the tokens the ids stand for, as the safetensors files keep them
            metadata[TEXT_ARRAYS_KEY] = json.dumps({k: v.tolist() for k, v in vocab.items()},
                                                   ensure_ascii=False)
        return [onnx_model(loaded.model, arrays, dtype, doc=_title(spec), metadata=metadata)
                .SerializeToString()]
    weights = encode({**arrays, **vocab}, metadata)
    if fmt == "safetensors":
        return [weights]
    return [source, weights, usage_note(spec, loaded.model, dtype)]


def run_check(fmt: str, model, targets: list[Path], arrays: dict, seed: int, dtype: str,
              source: str) -> checks.CheckResult:
    if fmt == "onnx":
        return checks.check_onnx(model, targets[0], arrays, seed, dtype)
    if fmt == "torch":
        module = checks.import_model_file(targets[0])      # model.py as written
        return checks.check_torch(model, module, targets[1], seed, dtype)
    from nncli.export.torch_code import load_module

    return checks.check_torch(model, load_module(source), targets[0], seed, dtype)


def usage_note(spec, model, dtype: str) -> str:
    """USAGE.md of a torch export: load, run, continue training."""
    first = model.layers[0]
    shape = ", ".join(map(str, model.input_shape))
    wide = ", dtype=torch.float64" if dtype == "float64" else ""
    x = (f"torch.randint(0, {first.vocab}, (4, {shape}))" if first.kind == "embedding"
         else f"torch.randn(4, {shape}{wide})")
    if model.fused_softmax:
        run = ("    logits = model(x)                       # what the loss reads\n"
               "    probabilities = model.probabilities(x)  # softmax(logits)")
        note = ("\nThe spec's last layer, softmax, is fused with its cross-entropy loss (as "
                "in nncli):\n`forward` returns the logits, `probabilities` their softmax.\n")
    else:
        run, note = "    y = model(x)", ""
    double = "\nmodel.double()  # float64, as nncli computes" if dtype == "float64" else ""
    target = "labels" if model.loss_name == "cross_entropy" else "targets"
    return f"""# {spec.name}, exported from nncli

- `{MODEL_FILE}`: the model as a `torch.nn.Module` (it imports only torch). Its parameter
  names are nncli's (`<layer index>.<torch name>`): entry i of the `nn.Sequential` is the
  spec's layer i; activations given as layer options are applied in `forward`.
- `{WEIGHTS_FILE}`: its `state_dict` ({dtype}), with the spec in the file's metadata.

## Load and run

```python
import torch
from safetensors.torch import load_file

from model import Model

model = Model(){double}
model.load_state_dict(load_file("{WEIGHTS_FILE}"))
model.eval()
x = {x}
with torch.no_grad():
{run}
```
{note}
## Continue training

```python
from safetensors.torch import save_file

optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
model.train()
for x, {target} in batches:  # your data, shaped as above
    optimizer.zero_grad()
    loss = model.loss(model(x), {target})  # the spec's loss: {model.loss_name}, {model.reduction}
    loss.backward()
    optimizer.step()
save_file(model.state_dict(), "trained.safetensors")
```

nncli reads the weights back, e.g. `nncli forward {spec.path.name} --weights
trained.safetensors --input ...`.
"""
