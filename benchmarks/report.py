"""Wall-clock time of `nncli report` on the digits run (median of N subprocess runs).

    python benchmarks/report.py                 # trains configs/digits_cnn.yaml first
    python benchmarks/report.py RUN_DIR -n 7    # an existing run folder instead

The digits run is `nncli train configs/digits_cnn.yaml` (20 epochs), trained once into a
temporary folder. Each timed run writes a fresh report (--force) from a new process:
start-up, reading the run, evaluating the best weights on the test split, six matplotlib
charts and the page. Target: < 3 s. The `cpu` column is less disturbed by other load on
the machine than the wall times. Measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from _timing import ROOT, bench_env, entry_point, report

TARGET = 3.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", nargs="?", type=Path, help="a run folder (default: train "
                        "configs/digits_cnn.yaml into a temporary folder)")
    parser.add_argument("-n", "--runs", type=int, default=5)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    exe = entry_point()
    env = bench_env()
    with tempfile.TemporaryDirectory() as tmp:
        run = args.run
        if run is None:
            run = Path(tmp) / "digits_cnn"
            subprocess.run([exe, "train", str(ROOT / "configs" / "digits_cnn.yaml"), "--out",
                            str(run)], check=True, capture_output=True, env=env)
        out = str(Path(tmp) / "report.html")
        cases = [("nncli report (digits run)", [exe, "report", str(run), "-o", out, "--force"],
                  None, TARGET)]
        ok = report(exe, cases, args.runs, env, args.verbose)
        print(f"page: {Path(out).stat().st_size / 1024:.0f} KB")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
