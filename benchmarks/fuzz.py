"""The long fuzz run: the properties of tests/test_fuzz.py with fresh random cases, many more.

    python benchmarks/fuzz.py                   # 2000 examples per property (~4 min)
    python benchmarks/fuzz.py --examples 5000   # more
    python benchmarks/fuzz.py --examples 500 -k spec   # only the spec fuzzing

Every case must end with exit code 0 or 2 (1 only for a run that failed, e.g. training that
diverged), one "error: NAME: ..." line and never a traceback; the first case that breaks the
contract stops the run and is printed, shrunk to a small example, with the command line to
reproduce it. The normal test suite runs the same properties derandomized with ~1,000 cases;
this script draws new random cases each time (hypothesis' default), so repeated runs
explore further. The case count is printed at the end ("fuzz: N cases ...").
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=2000,
                        help="examples per fuzz property (default 2000)")
    parser.add_argument("-k", default="fuzz", help="pytest -k expression (default: every "
                        "property whose name contains 'fuzz')")
    parser.add_argument("--keep-going", action="store_true",
                        help="report every failing property instead of stopping at the first")
    args = parser.parse_args()
    env = {**os.environ, "NNCLI_FUZZ_EXAMPLES": str(args.examples)}
    cmd = [sys.executable, "-m", "pytest", str(ROOT / "tests" / "test_fuzz.py"), "-q",
           "-k", args.k, "-p", "no:cacheprovider", "-p", "no:warnings",
           "--durations=0"] + ([] if args.keep_going else ["-x"])
    print(f"fuzzing with {args.examples} examples per property: {' '.join(cmd[2:])}",
          flush=True)
    started = time.perf_counter()
    code = subprocess.call(cmd, env=env, cwd=ROOT)
    print(f"{'passed' if code == 0 else 'FAILED'} in {time.perf_counter() - started:.0f} s")
    return code


if __name__ == "__main__":
    sys.exit(main())
