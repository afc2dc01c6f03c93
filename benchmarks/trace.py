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
import sys

from _timing import bench_env, entry_point, report

MAIN = ["grad-trace", "--cell", "rnn", "--steps", "200", "--hidden", "64"]
TARGET = 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=11)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    exe = entry_point()
    cases = [
        ("python -c 'import numpy' (baseline)", [sys.executable, "-c", "import numpy"],
         None, None),
        ("rnn, 200 steps, 64 hidden", [exe, *MAIN], None, TARGET),
        ("  the same, --json", [exe, *MAIN, "--json"], None, None),
        ("gru-lite, 200 steps, 64 hidden", [exe, "grad-trace", "--cell", "gru-lite",
                                            "--steps", "200", "--hidden", "64"], None, None),
        ("rnn 200x64, --loss-at every (heatmap)", [exe, *MAIN, "--loss-at", "every"],
         None, None),
        ("--compare rnn,gru-lite --scale 0.5,1,2", [exe, "grad-trace", "--compare",
                                                   "rnn,gru-lite", "--scale", "0.5,1,2",
                                                   "--steps", "200", "--hidden", "64"],
         None, None),
    ]
    sys.exit(0 if report(exe, cases, args.runs, bench_env(), args.verbose) else 1)


if __name__ == "__main__":
    main()
