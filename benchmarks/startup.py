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
import subprocess
import sys

from _timing import ROOT, bench_env, entry_point, report

A = str(ROOT / "configs" / "seed_conv_A.txt")
K = str(ROOT / "configs" / "seed_conv_K.txt")


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
    sys.exit(0 if report(exe, cases, args.runs, env, args.verbose) else 1)

if __name__ == "__main__":
    main()
