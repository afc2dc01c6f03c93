"""Weights as a .safetensors file: the format torch, Hugging Face and many tools read.

Tensors are stored under nncli's parameter names (`<layer index>.<torch name>`), so the file
is also a torch state_dict. safetensors holds numbers only; a text model's vocabulary (unicode
arrays) goes into the file's metadata as JSON under TEXT_ARRAYS_KEY, and comes back as the
same arrays, so `--weights FILE.safetensors` loads a text model like its .npz. The spec that
made the weights is stored too (SPEC_KEY, its YAML).

The `safetensors` package reads and writes numpy arrays without torch; it is a dependency of
nncli (a 0.5 MB wheel with no dependencies of its own that imports in about 1 ms), imported
only here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from nncli.budget import check_budget
from nncli.errors import InputError

SPEC_KEY = "nncli.spec"
TEXT_ARRAYS_KEY = "nncli.text_arrays"
INSTALL = 'pip install "safetensors>=0.4" (a dependency of nncli)'


def _safetensors(what: str):
    try:
        import safetensors
        import safetensors.numpy
    except ImportError:
        raise InputError(f"{what}: reading and writing .safetensors files needs the "
                         f"safetensors package; {INSTALL}") from None
    return safetensors


def encode(arrays: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> bytes:
    """The bytes of a .safetensors file: numeric arrays as tensors, string arrays in the
    metadata (TEXT_ARRAYS_KEY), plus `metadata` (str -> str)."""
    st = _safetensors("--out")
    tensors = {k: np.ascontiguousarray(v) for k, v in arrays.items() if v.dtype.kind != "U"}
    texts = {k: v.tolist() for k, v in arrays.items() if v.dtype.kind == "U"}
    meta = dict(metadata or {})
    if texts:
        meta[TEXT_ARRAYS_KEY] = json.dumps(texts, ensure_ascii=False)
    return st.numpy.save(tensors, metadata=meta or None)


def read_safetensors(path: str | Path, what: str = "--weights"
                     ) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """(arrays, metadata) of a .safetensors file; string arrays are rebuilt from the
    metadata. Any problem is one InputError naming `what`."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what}: file '{path}' not found")
    st = _safetensors(what)
    check_budget(path.stat().st_size, what, f"the arrays in '{path}'")
    try:
        with st.safe_open(str(path), framework="np") as f:
            meta = f.metadata() or {}
            arrays = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (not a dict)
    except MemoryError:
        raise
    except Exception as err:        # safetensors' own error type, numpy's dtype errors, ...
        reason = " ".join(str(err).split())[:160] or type(err).__name__
        raise InputError(f"{what}: cannot read '{path}': not a readable .safetensors file "
                         f"({reason})") from None
    if TEXT_ARRAYS_KEY in meta:
        try:
            texts = json.loads(meta[TEXT_ARRAYS_KEY])
            arrays.update({k: np.array(v, dtype=str) for k, v in texts.items()})
        except (ValueError, TypeError, AttributeError):
            raise InputError(f"{what}: cannot read '{path}': its '{TEXT_ARRAYS_KEY}' "
                             f"metadata is damaged") from None
    return arrays, meta
