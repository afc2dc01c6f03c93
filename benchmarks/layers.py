"""Forward + backward time of nncli's layers, and of the same work in PyTorch if installed.

    python benchmarks/layers.py                 # table: median ms per forward+backward
    python benchmarks/layers.py --json          # the same as JSON on stdout
    python benchmarks/layers.py --case conv --dtype float32 --repeats 50
    python benchmarks/layers.py --threads 1     # both sides single-threaded (less noise)
    python benchmarks/layers.py --threads 1 --clock cpu   # on a busy shared machine

Each case is timed as the median of --repeats runs after --warmup runs, nncli and torch
interleaved run by run (other work on the machine then slows both alike; the header shows
the load average, and --json also gives each side's fastest run). nncli's layers are
used directly (layer.forward, layer.backward; parameters cast to the dtype). If `torch`
imports, the same work runs on torch's CPU modules in the same process (Conv2d, MaxPool2d,
nn.RNN, nn.LSTM, nn.GRU, and nn.GRU standing in for gru-lite, which does a little more work
per step), with the input gradient requested too, and the table shows the ratio
nncli / torch. torch is optional and never a dependency of nncli. Speed is measured here,
never asserted in tests.

Targets (float32 median ratio nncli / torch): conv <= 2.0, max pool <= 2.0,
rnn and gru-lite <= 0.5, lstm and gru <= 0.7. On CPU, torch runs nn.LSTM in float32 through
oneDNN's fused LSTM kernel (nn.RNN and nn.GRU step by step in ATen ops); the row "lstm (torch
without oneDNN)" times the same nn.LSTM with oneDNN switched off, for comparison, no target.
"""

from __future__ import annotations

import argparse
import ctypes
import glob
import json
import os
import platform
import statistics
import sys
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nncli import layers as L  # noqa: E402
from nncli.layers import registry  # noqa: E402

try:  # optional: the reference timings
    import torch
except ImportError:  # pragma: no cover - depends on the machine
    torch = None
# torch warns about TF32 on Intel GPUs each time the oneDNN flags are set: not our business
warnings.filterwarnings("ignore", message="TF32 acceleration on top of oneDNN")


# nncli's cells and the torch module that does the same work
TORCH_RECURRENT = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}


@dataclass(frozen=True)
class Case:
    name: str
    kind: str                      # conv | pool | rnn | gru-lite
    x_shape: tuple[int, ...]
    options: dict
    target: float | None           # float32 ratio nncli/torch to reach (at most); None: none
    onednn: bool = True            # torch may use oneDNN (torch.backends.mkldnn)


CASES = [
    Case("conv 1->8 28x28 k3", "conv", (64, 1, 28, 28),
         {"filters": 8, "kernel": 3, "padding": 1}, 2.0),
    Case("conv 8->16 14x14 k3", "conv", (64, 8, 14, 14),
         {"filters": 16, "kernel": 3, "padding": 1}, 2.0),
    Case("conv 3->16 32x32 k5", "conv", (32, 3, 32, 32),
         {"filters": 16, "kernel": 5, "padding": 2}, 2.0),
    Case("max pool 16ch 28x28 2x2", "pool", (64, 16, 28, 28), {"size": 2}, 2.0),
    Case("rnn T50 I8 H32", "rnn", (32, 50, 8), {"hidden": 32}, 0.5),
    Case("gru-lite T50 I8 H32", "gru-lite", (32, 50, 8), {"hidden": 32}, 0.5),
    Case("lstm T50 I8 H32", "lstm", (32, 50, 8), {"hidden": 32}, 0.7),
    Case("lstm (torch w/o oneDNN)", "lstm", (32, 50, 8), {"hidden": 32}, None, onednn=False),
    Case("gru T50 I8 H32", "gru", (32, 50, 8), {"hidden": 32}, 0.7),
]


@dataclass
class Row:
    case: str
    dtype: str
    nncli_ms: float                # median
    torch_ms: float | None
    ratio: float | None            # of the medians
    target: float | None
    met: bool | None               # float32 rows with a target only
    nncli_min_ms: float
    torch_min_ms: float | None


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def time_ms(fns, warmup: int, repeats: int, clock: str = "wall") -> list[list[float]]:
    """Milliseconds per call of each fn, interleaved (a, b, a, b, ...) so that a burst of load
    from elsewhere on the machine hits both sides of a ratio alike.

    clock 'cpu' counts this process's CPU time (all its threads) instead of wall time: on a
    shared, busy machine with --threads 1 it ignores the time other processes hold the core.
    """
    now = CLOCKS[clock]
    for _ in range(warmup):
        for fn in fns:
            fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, out in zip(fns, times, strict=True):
            start = now()
            fn()
            out.append(1e3 * (now() - start))
    return times


def nncli_layer(case: Case) -> L.Layer:
    o = case.options
    if case.kind == "conv":
        return L.Conv(o["filters"], o["kernel"], padding=o["padding"])
    if case.kind == "pool":
        return L.Pool("max", o["size"])
    if case.kind in ("rnn", "lstm", "gru"):
        return registry.build(case.kind, {"hidden": o["hidden"]})
    return L.GruLite(o["hidden"])


def nncli_work(case: Case, dtype, rng: np.random.Generator):
    layer = nncli_layer(case)
    layer.init_params(case.x_shape[1:], rng)
    for k, v in layer.params.items():
        layer.params[k] = v.astype(dtype)
    layer.zero_grad()
    x = rng.standard_normal(case.x_shape).astype(dtype)
    y = layer.forward(x)
    dy = rng.standard_normal(y.shape).astype(dtype)
    dx = layer.backward(dy)
    for what, arr in (("output", y), ("input gradient", dx), *layer.grads.items()):
        if arr.dtype != dtype:
            print(f"warning: {case.name} {np.dtype(dtype).name}: {what} came out as "
                  f"{arr.dtype}", file=sys.stderr)

    def step():
        layer.forward(x)
        layer.backward(dy)
    return step


def torch_work(case: Case, dtype, rng: np.random.Generator):
    tdtype = {np.float32: torch.float32, np.float64: torch.float64}[dtype]
    o = case.options
    if case.kind == "conv":
        module = torch.nn.Conv2d(case.x_shape[1], o["filters"], o["kernel"],
                                 padding=o["padding"])
    elif case.kind == "pool":
        module = torch.nn.MaxPool2d(o["size"])
    elif case.kind in TORCH_RECURRENT:
        module = getattr(torch.nn, TORCH_RECURRENT[case.kind])(case.x_shape[2], o["hidden"],
                                                               batch_first=True)
    else:
        module = torch.nn.GRU(case.x_shape[2], o["hidden"], batch_first=True)
    module = module.to(tdtype)
    x = torch.tensor(rng.standard_normal(case.x_shape), dtype=tdtype, requires_grad=True)

    def forward():
        out = module(x)
        return out[0] if isinstance(out, tuple) else out
    dy = torch.tensor(rng.standard_normal(tuple(forward().shape)), dtype=tdtype)

    def step():
        with torch.backends.mkldnn.flags(enabled=case.onednn):
            forward().backward(dy)
    return step


def run(cases, dtypes, warmup: int, repeats: int, use_torch: bool, clock: str = "wall"
        ) -> list[Row]:
    rows = []
    for case in cases:
        for dtype in dtypes:
            fns = [nncli_work(case, dtype, np.random.default_rng(0))]
            if use_torch:
                fns.append(torch_work(case, dtype, np.random.default_rng(0)))
            times = time_ms(fns, warmup, repeats, clock)
            ours = statistics.median(times[0])
            theirs = statistics.median(times[1]) if use_torch else None
            ratio = ours / theirs if theirs else None
            met = ratio <= case.target if (ratio is not None and dtype is np.float32
                                           and case.target is not None) else None
            rows.append(Row(case.name, np.dtype(dtype).name, ours, theirs, ratio, case.target,
                            met, min(times[0]), min(times[1]) if use_torch else None))
    return rows


def _openblas():
    """numpy's bundled OpenBLAS through ctypes (best effort; None if not found)."""
    here = os.path.dirname(np.__file__)
    for path in glob.glob(os.path.join(here, "..", "numpy.libs", "*openblas*")):
        try:
            return ctypes.CDLL(path)
        except OSError:
            continue
    return None


def _blas_fn(name: str, restype=ctypes.c_int):
    """An OpenBLAS function by its plain name (e.g. 'get_corename'), or None."""
    lib = _openblas()
    for prefix, suffix in (("scipy_openblas_", "64_"), ("openblas_", "64_"), ("openblas_", "")):
        fn = getattr(lib, f"{prefix}{name}{suffix}", None) if lib is not None else None
        if fn is not None:
            fn.restype = restype
            return fn
    return None


def set_numpy_threads(n: int) -> bool:
    """Set OpenBLAS's thread count at run time (the env var only works before import)."""
    fn = _blas_fn("set_num_threads", restype=None)
    if fn is not None:
        fn(ctypes.c_int(n))
    return fn is not None


def environment() -> dict:
    core_fn, threads_fn = _blas_fn("get_corename", ctypes.c_char_p), _blas_fn("get_num_threads")
    core = core_fn() if core_fn else None
    env = {"python": platform.python_version(), "numpy": np.__version__,
           "cpus": os.cpu_count(), "load_avg_1min": round(os.getloadavg()[0], 2),
           "openblas_core": core.decode() if core else None,
           "openblas_threads": threads_fn() if threads_fn else None,
           "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE")}
    if torch is not None:
        env |= {"torch": torch.__version__, "torch_threads": torch.get_num_threads()}
    return env


def table(rows: list[Row], env: dict) -> str:
    head = ", ".join(f"{k} {v}" for k, v in env.items() if v is not None)
    what = "CPU ms" if env.get("clock") == "cpu" else "ms"
    lines = [f"# {head}",
             f"# median {what} per forward+backward; target: float32 nncli/torch ratio",
             f"{'case':<26}{'dtype':<9}{'nncli ms':>10}{'torch ms':>10}{'ratio':>8}"
             f"{'target':>8}  met"]
    for r in rows:
        torch_ms = f"{r.torch_ms:10.3f}" if r.torch_ms is not None else f"{'-':>10}"
        ratio = f"{r.ratio:8.2f}" if r.ratio is not None else f"{'-':>8}"
        met = {True: "yes", False: "NO", None: ""}[r.met]
        target = f"<={r.target:g}" if r.dtype == "float32" and r.target is not None else ""
        lines.append(f"{r.case:<26}{r.dtype:<9}{r.nncli_ms:10.3f}{torch_ms}{ratio}"
                     f"{target:>8}  {met}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--case", action="append", default=[],
                        help="only cases whose name contains this (repeatable)")
    parser.add_argument("--dtype", choices=["float32", "float64"], action="append",
                        help="default: both")
    parser.add_argument("--no-torch", action="store_true", help="skip torch even if present")
    parser.add_argument("--clock", choices=list(CLOCKS), default="wall",
                        help="wall time, or this process's CPU time (steadier on a busy "
                             "machine with --threads 1)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="threads for torch and for numpy's OpenBLAS (default: all cores)")
    args = parser.parse_args(argv)
    cases = [c for c in CASES if not args.case or any(s in c.name for s in args.case)]
    dtypes = [{"float32": np.float32, "float64": np.float64}[d]
              for d in (args.dtype or ["float32", "float64"])]
    use_torch = torch is not None and not args.no_torch
    if use_torch:
        torch.set_num_threads(args.threads)
    if args.threads != (os.cpu_count() or 1) and not set_numpy_threads(args.threads):
        print("warning: could not set OpenBLAS threads; set OPENBLAS_NUM_THREADS instead",
              file=sys.stderr)
    rows = run(cases, dtypes, args.warmup, args.repeats, use_torch, args.clock)
    env = environment() | {"clock": args.clock}
    if args.json:
        print(json.dumps({"environment": env, "results": [asdict(r) for r in rows]},
                         indent=1))
    else:
        print(table(rows, env))
    return 0


if __name__ == "__main__":
    sys.exit(main())
