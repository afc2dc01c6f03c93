"""Wall-clock start-up of the installed `nncli` entry point (median of N subprocess runs).

    python benchmarks/startup.py            # 15 runs each
    python benchmarks/startup.py -n 31 -v   # more runs, show every command

Targets (2-core machine): `nncli --help` < 0.25 s, `nncli conv` on the seed example < 0.3 s.
Speed is measured here, never asserted in tests. The `cpu` column (user + sys of the child)
is less disturbed by other load on the machine than the wall times; check the load average.
The entry point next to the running Python is preferred over PATH, because a pyenv shim on
PATH adds ~0.1 s of bash start-up.
"""

from __future__ import annotations

import argparse
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
A = str(ROOT / "configs" / "seed_conv_A.txt")
K = str(ROOT / "configs" / "seed_conv_K.txt")


def entry_point() -> str:
    local = Path(sys.executable).parent / "nncli"
    found = str(local) if local.exists() else shutil.which("nncli")
    if not found:
        sys.exit("nncli is not installed; run: pip install -e .")
    return found


def bench_env(bytecode_cache: bool) -> dict[str, str]:
    """NO_COLOR, and a bytecode cache in a temp folder (as an installed package has one).

    With PYTHONDONTWRITEBYTECODE set (as in some sandboxes) every run would recompile
    nncli's modules, which is not what a user's installed copy does.
    """
    env = {**os.environ, "NO_COLOR": "1"}
    if bytecode_cache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "nncli-bench-pycache")
    return env


def time_runs(cmd: list[str], runs: int, env: dict[str, str], stdin: str | None = None
              ) -> tuple[list[float], list[float]]:
    """Wall seconds and CPU seconds (user + sys) of each run."""
    subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=env)  # warm-up
    times, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=env)
        times.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if done.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr}")
    return times, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=15)
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("--no-bytecode-cache", action="store_true",
                        help="keep PYTHONDONTWRITEBYTECODE as it is (cold compiles)")
    args = parser.parse_args()
    exe = entry_point()
    env = bench_env(not args.no_bytecode_cache)
    conv_json = subprocess.run([exe, "conv", A, K, "--json"], capture_output=True,
                               text=True).stdout
    cases = [
        ("python -c pass (baseline)", [sys.executable, "-c", "pass"], None, None),
        ("python -c 'import numpy' (baseline)", [sys.executable, "-c", "import numpy"], None,
         None),
        ("nncli --help", [exe, "--help"], None, 0.25),
        ("nncli conv A K (seed example)", [exe, "conv", A, K], None, 0.30),
        ("nncli conv A K --explain 0,0", [exe, "conv", A, K, "--explain", "0,0"], None, None),
        ("nncli conv A K --json", [exe, "conv", A, K, "--json"], None, None),
        ("nncli pool - --size 2 --stride 2", [exe, "pool", "-", "--size", "2", "--stride",
                                              "2"], conv_json, None),
        ("nncli softmax 1000 1001 1002", [exe, "softmax", "1000", "1001", "1002"], None, None),
    ]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"entry point: {exe}  ({args.runs} runs each, wall seconds; {os.cpu_count()} CPUs, "
          f"load average {load:.2f})")
    print(f"{'command':40} {'median':>7} {'min':>7} {'max':>7} {'cpu':>7}  target (wall median)")
    failed = False
    for label, cmd, stdin, target in cases:
        t, cpu = time_runs(cmd, args.runs, env, stdin)
        med = statistics.median(t)
        verdict = ""
        if target is not None:
            verdict = f"< {target:.2f}  {'ok' if med < target else 'SLOW'}"
            failed |= med >= target
        print(f"{label:40} {med:7.3f} {min(t):7.3f} {max(t):7.3f} "
              f"{statistics.median(cpu):7.3f}  {verdict}")
        if args.verbose:
            print("   ", " ".join(cmd))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
