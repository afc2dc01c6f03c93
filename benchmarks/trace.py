"""Wall-clock time of `nncli grad-trace` through the installed entry point (median of N runs).

    python benchmarks/trace.py              # 11 runs each
    python benchmarks/trace.py -n 21 -v     # more runs, show every command

Target: `nncli grad-trace --cell rnn --steps 200 --hidden 64` (batch 1, loss at the last
step, rendered tables) in under 1 s including start-up, median on this machine. The other
rows (gru-lite, --json, the loss at every step with its heatmap, --compare) are for
information. Speed is measured here, never asserted in tests. The entry point next to the
running Python is preferred over PATH (a pyenv shim adds ~0.1 s of bash start-up); if
there is none, the package is installed with `pip install -e .` first. Columns: wall
seconds (median, min, max) and the child's CPU seconds (median; user + sys, all threads),
which a busy shared machine disturbs less than wall time.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAIN = ["grad-trace", "--cell", "rnn", "--steps", "200", "--hidden", "64"]
TARGET = 1.0


def entry_point() -> str:
    local = Path(sys.executable).parent / "nncli"
    found = str(local) if local.exists() else shutil.which("nncli")
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", str(ROOT)],
                       check=True)
        found = str(local) if local.exists() else shutil.which("nncli")
    if not found:
        sys.exit("nncli is not installed and `pip install -e .` did not provide it")
    return found


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_runs(cmd: list[str], runs: int) -> tuple[list[float], list[float]]:
    """(wall seconds, CPU seconds of the child) per run, after one warm-up run."""
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120"}
    subprocess.run(cmd, capture_output=True, env=env)
    walls, cpus = [], []
    for _ in range(runs):
        cpu0, start = _child_cpu(), time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, env=env)
        walls.append(time.perf_counter() - start)
        cpus.append(_child_cpu() - cpu0)
        if done.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr}")
    return walls, cpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=11)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    exe = entry_point()
    cases = [
        ("python -c 'import numpy' (baseline)", [sys.executable, "-c", "import numpy"], None),
        ("rnn, 200 steps, 64 hidden", [exe, *MAIN], TARGET),
        ("  the same, --json", [exe, *MAIN, "--json"], None),
        ("gru-lite, 200 steps, 64 hidden", [exe, "grad-trace", "--cell", "gru-lite",
                                            "--steps", "200", "--hidden", "64"], None),
        ("rnn 200x64, --loss-at every (heatmap)", [exe, *MAIN, "--loss-at", "every"], None),
        ("--compare rnn,gru-lite --scale 0.5,1,2", [exe, "grad-trace", "--compare",
                                                   "rnn,gru-lite", "--scale", "0.5,1,2",
                                                   "--steps", "200", "--hidden", "64"], None),
    ]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"entry point: {exe}  ({args.runs} runs each, wall seconds; {os.cpu_count()} CPUs, "
          f"load {load:.2f})")
    print(f"{'command':42} {'median':>7} {'min':>7} {'max':>7} {'cpu':>7}  target (median)")
    failed = False
    for label, cmd, target in cases:
        t, cpu = time_runs(cmd, args.runs)
        med = statistics.median(t)
        verdict = ""
        if target is not None:
            verdict = f"< {target:.2f}  {'ok' if med < target else 'SLOW'}"
            failed |= med >= target
        print(f"{label:42} {med:7.3f} {min(t):7.3f} {max(t):7.3f} "
              f"{statistics.median(cpu):7.3f}  {verdict}")
        if args.verbose:
            print("   ", " ".join(cmd))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
