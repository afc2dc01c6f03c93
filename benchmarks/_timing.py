"""What the command-timing benchmarks share: finding the installed entry point, timing
subprocess runs (wall and child CPU seconds), and printing a table of medians vs targets.

The entry point next to the running Python is preferred over PATH, because a pyenv shim on
PATH adds ~0.1 s of bash start-up. Wall times on a busy shared machine vary a lot; the `cpu`
column (user + sys of the child) is disturbed less, and the header prints the load average.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def entry_point() -> str:
    """The installed `nncli`; installs the checkout with `pip install -e .` if there is none."""
    local = Path(sys.executable).parent / "nncli"

    def find() -> str | None:
        return str(local) if local.exists() else shutil.which("nncli")

    if not find():
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", str(ROOT)],
                       check=True)
    if not find():
        sys.exit("nncli is not installed and `pip install -e .` did not provide it")
    return find()


def bench_env(bytecode_cache: bool = True) -> dict[str, str]:
    """NO_COLOR, a fixed width, and a bytecode cache in a temp folder (as an installed
    package has one: with PYTHONDONTWRITEBYTECODE set, every run would recompile nncli)."""
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120"}
    if bytecode_cache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "nncli-bench-pycache")
    return env


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_runs(cmd: list[str], runs: int, env: dict[str, str], stdin: str | None = None
              ) -> tuple[list[float], list[float]]:
    """(wall seconds, child CPU seconds) of each run, after one warm-up run."""
    subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=env)
    walls, cpus = [], []
    for _ in range(runs):
        cpu0, start = _child_cpu(), time.perf_counter()
        done = subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=env)
        walls.append(time.perf_counter() - start)
        cpus.append(_child_cpu() - cpu0)
        if done.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr}")
    return walls, cpus


def report(exe: str, cases: list[tuple], runs: int, env: dict[str, str],
           verbose: bool = False) -> bool:
    """Time each (label, cmd, stdin, target) case and print a table; True if all targets met."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"entry point: {exe}  ({runs} runs each, wall seconds; {os.cpu_count()} CPUs, "
          f"load average {load:.2f})")
    print(f"{'command':42} {'median':>7} {'min':>7} {'max':>7} {'cpu':>7}  target (median)")
    ok = True
    for label, cmd, stdin, target in cases:
        walls, cpus = time_runs(cmd, runs, env, stdin)
        med = statistics.median(walls)
        verdict = ""
        if target is not None:
            verdict = f"< {target:.2f}  {'ok' if med < target else 'SLOW'}"
            ok &= med < target
        print(f"{label:42} {med:7.3f} {min(walls):7.3f} {max(walls):7.3f} "
              f"{statistics.median(cpus):7.3f}  {verdict}")
        if verbose:
            print("   ", " ".join(cmd))
    return ok
