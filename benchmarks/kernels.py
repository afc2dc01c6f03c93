"""The compiled kernels (nncli/_kernels.c) against numpy's versions of the same formulas.

    python benchmarks/kernels.py              # each kernel on a training step's arrays
    python benchmarks/kernels.py --epochs     # also whole epochs, 1 BLAS thread
    python benchmarks/kernels.py --epochs --all --rounds 8

Kernels: microseconds a call (best of 5 repeats), compiled and with NNCLI_KERNELS=numpy.
Epochs: one training run per config, switching NNCLI_KERNELS between its epochs (compiled,
numpy, numpy, compiled, ...), so both see the same machine; the median epoch of each and
their ratio. Measured here, never asserted in tests (tests/test_kernels.py checks results).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import timeit
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nncli import kernels, ops  # noqa: E402
from nncli.layers.embedding import sum_per_id  # noqa: E402


def calls() -> dict:
    """name -> a call on the arrays of a chars or digits training step (float32)."""
    rng = np.random.default_rng(0)
    state = rng.standard_normal((32, 128)).astype(np.float32)
    rows = rng.standard_normal((2048, 128)).astype(np.float32)
    ids = rng.integers(0, 62, 2048)
    conv_out = np.maximum(rng.standard_normal((32, 16, 8, 8)), 0).astype(np.float32)
    _, winner = ops.pool2d(conv_out, 2, 2)
    dy = rng.standard_normal((32, 16, 4, 4)).astype(np.float32)
    images = rng.random((32, 1, 8, 8)).astype(np.float32)
    gates = (rng.standard_normal((32, 512)) * 2).astype(np.float32)
    return {
        "tanh, (32, 128) state": lambda: kernels.tanh_(state),
        "sigmoid, (32, 512) gates": lambda: kernels.sigmoid_of_negated_(gates),
        "per-id sums, 2048 x 128, 62 ids": lambda: sum_per_id(ids, rows, 62),
        "2x2 max pool, (32, 16, 8, 8)": lambda: ops.pool2d(conv_out, 2, 2),
        "its gradient": lambda: ops.pool2d_backward(dy, conv_out.shape, 2, 2, "max", winner),
        "im2col, (32, 1, 8, 8), 3x3, pad 1": lambda: ops.im2col(images, 3, 3, 1, 1),
    }


def micro(mode: str, call) -> float:
    os.environ[kernels.ENV] = mode
    return min(timeit.repeat(call, number=500, repeat=5)) / 500 * 1e6


def epochs(config: str, overrides: list[str], rounds: int) -> tuple[float, float]:
    from nncli import train as core

    trainer = core.new_run(ROOT / "configs" / f"{config}.yaml",
                           Path(tempfile.mkdtemp(prefix="nncli-kernels-")) / "run", 1000,
                           overrides=overrides, thread_count=1)
    events = trainer.run()
    next(events)

    def epoch() -> float:
        seconds = 0.0
        while True:
            started = time.perf_counter()
            event = next(events)
            if isinstance(event, core.BatchDone):
                seconds += time.perf_counter() - started
            elif isinstance(event, core.EpochDone):
                return seconds

    epoch()                                                # warm-up
    times: dict[str, list[float]] = {"compiled": [], "numpy": []}
    for r in range(rounds):
        for mode in ("compiled", "numpy") if r % 2 == 0 else ("numpy", "compiled"):
            os.environ[kernels.ENV] = mode
            times[mode].append(epoch())
    return statistics.median(times["compiled"]), statistics.median(times["numpy"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", action="store_true", help="also whole training epochs")
    parser.add_argument("--all", action="store_true", help="epochs of lstm and gru too")
    parser.add_argument("--rounds", type=int, default=8, help="epochs of each kind (8)")
    args = parser.parse_args()
    if kernels._built is None:
        sys.exit("nncli._kernels is not built (no C compiler at install): nothing to compare")
    print(f"load average {os.getloadavg()[0]:.2f}; microseconds a call (best of 5)\n")
    print(f"{'kernel':36} {'numpy':>8} {'compiled':>9} {'ratio':>6}")
    for name, call in calls().items():
        plain, compiled = micro("numpy", call), micro("compiled", call)
        print(f"{name:36} {plain:8.1f} {compiled:9.1f} {compiled / plain:6.2f}")
    if not args.epochs:
        return
    cases = [("digits_cnn", []), ("chars_rnn", []), ("chars_gru_lite", [])]
    if args.all:
        cases += [("chars_rnn", [f"layers.1={{{cell}: {{hidden: 128}}}}"])
                  for cell in ("lstm", "gru")]
    print(f"\nepochs at 1 BLAS thread, median of {args.rounds} each (seconds)")
    print(f"{'config':36} {'numpy':>8} {'compiled':>9} {'ratio':>6}")
    for config, overrides in cases:
        compiled, plain = epochs(config, overrides, args.rounds)
        label = config + (f" ({overrides[0].split('{')[1].rstrip(': ')})" if overrides else "")
        print(f"{label:36} {plain:8.3f} {compiled:9.3f} {compiled / plain:6.2f}", flush=True)


if __name__ == "__main__":
    main()
