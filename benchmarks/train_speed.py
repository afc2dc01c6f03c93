"""Epoch time of `nncli train` against the same training in PyTorch, idle and under load.

    python benchmarks/train_speed.py              # main table, policies, scaling, memory
    python benchmarks/train_speed.py --quick      # main table, 3 cases, 2 epochs a side
    python benchmarks/train_speed.py --only scaling --rounds 3
    python benchmarks/train_speed.py --case chars_rnn --json

Same model, data, batch size, optimizer, lr schedule and clipping on both sides, float32
(nncli's default train.dtype); each side in a worker process of its own
(benchmarks/_train_workers.py), the two sides' epochs interleaved (nncli, torch, torch,
nncli, ...) so a burst of load from elsewhere hits both alike. An epoch's time is its
training batches (validation and checkpoints left out, on both sides); the tables show
each side's median over --rounds epochs after one warm-up epoch, and the ratio of medians;
an epoch shorter than MIN_SAMPLE (0.5 s: the digits CNN's) is timed as the mean of a run
of epochs that long, so each sample spans about the same time on both sides.

Threads: "1" is nncli --threads 1 against torch.set_num_threads(1); "default" is each
side's own default (nncli: its thread policy; torch: its intra-op threads). Machine:
"idle" is the machine as it is (the header and every row give the load average: on a
shared machine "idle" is only as idle as the others leave it); "loaded" adds two bounded
CPU-bound helper processes that this script starts and stops.

Sections: main (cases below, 1/default threads x idle/loaded; target nncli/torch <= 0.6
idle and nncli loaded/idle <= 2.0), policies (the candidate thread policies of
_train_workers.POLICIES, idle and loaded), scaling (digits CNN 16 -> 128 filters, chars
rnn / gru-lite hidden 128 -> 512, idle, with the fraction of the float32 GEMM peak a conv
training step reaches), memory (peak RSS of `nncli train`; digits CNN target < 100 MB).
Measured here, never asserted in tests. torch missing: the nncli side alone.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORKER = str(HERE / "_train_workers.py")

# name: (built-in config, --set overrides, what torch runs)
CASES = {
    "digits_cnn": ("digits_cnn", [], "Conv2d+MaxPool2d+Linear"),
    "chars_rnn": ("chars_rnn", [], "nn.RNN"),
    "chars_gru_lite": ("chars_gru_lite", [], "nn.GRU"),
    "chars_lstm": ("chars_rnn", ["layers.1={lstm: {hidden: 128}}"], "nn.LSTM"),
    "chars_gru": ("chars_rnn", ["layers.1={gru: {hidden: 128}}"], "nn.GRU"),
}
QUICK = ["digits_cnn", "chars_rnn", "chars_gru_lite"]     # the cases with a target
SCALING = [(f"digits_cnn F={f}", "digits_cnn", [f"layers.0.conv.filters={f}"])
           for f in (16, 32, 64, 128)] + [
    (f"{c} H={h}", c, [f"layers.1.{k}.hidden={h}"])
    for c, k in (("chars_rnn", "rnn"), ("chars_gru_lite", "gru-lite")) for h in (128, 256, 512)]
HELPER = "import time\nend = time.time() + {seconds}\nwhile time.time() < end:\n    pass\n"
TARGET_RATIO, TARGET_LOADED = 0.6, 2.0


def has_torch() -> bool:
    return subprocess.run([sys.executable, "-c", "import torch"],
                          capture_output=True).returncode == 0


def load() -> float:
    return os.getloadavg()[0]


class Worker:
    def __init__(self, side: str, config: str, how: str, overrides: list[str]) -> None:
        env = {k: v for k, v in os.environ.items() if k != "NNCLI_THREADS"}
        self.proc = subprocess.Popen([sys.executable, WORKER, side, config, how, *overrides],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, env=env)

    def epoch(self, cap: float) -> dict:
        self.proc.stdin.write(f"epoch {cap}\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            sys.exit(f"a benchmark worker stopped: {' '.join(self.proc.args)}")
        return json.loads(line)

    def sample(self, cap: float, epochs: int) -> dict:
        """`epochs` epochs in a row, as one record per epoch (wall and cpu averaged)."""
        records = [self.epoch(cap) for _ in range(epochs)]
        return {**records[-1], "wall": sum(r["wall"] for r in records) / epochs,
                "cpu": sum(r["cpu"] for r in records) / epochs,
                "extrapolated": any(r.get("extrapolated") for r in records)}

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


class Helpers:
    """Two CPU-bound processes, each bounded in time so none outlives a crashed run."""

    def __init__(self, count: int, seconds: int = 1800) -> None:
        code = HELPER.format(seconds=seconds)
        self.procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(count)]
        time.sleep(0.5)

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
            proc.wait()


CAP = 15.0      # seconds: a longer torch epoch is cut and extrapolated (_train_workers)
# seconds: an epoch shorter than this (a digits epoch is 25-60 ms) is timed in a run of
# epochs that lasts about this long, so one burst of load elsewhere moves a sample less
MIN_SAMPLE = 0.5


def measure(config: str, overrides: list[str], threads: str, rounds: int, torch: bool,
            policy: str | None = None) -> dict:
    """Median epoch seconds (wall, cpu) of each side, interleaved, after a warm-up."""
    how = policy or ("one" if threads == "1" else None)
    sides = {"nncli": Worker("nncli", config, how or "policy", overrides)}
    if torch:
        sides["torch"] = Worker("torch", config, threads, overrides)
    try:
        group = {}                        # epochs per sample, from the warm-up epoch's time
        for name, worker in sides.items():
            group[name] = max(1, math.ceil(MIN_SAMPLE / max(worker.epoch(CAP)["wall"], 1e-3)))
        runs: dict[str, list[dict]] = {name: [] for name in sides}
        order = list(sides)
        for r in range(rounds):
            for name in (order if r % 2 == 0 else order[::-1]):
                runs[name].append(sides[name].sample(CAP, group[name]))
    finally:
        for worker in sides.values():
            worker.close()
    out = {"load": round(load(), 2), "batches": runs["nncli"][0]["batches"]}
    for name, records in runs.items():
        out[name] = statistics.median(r["wall"] for r in records)
        out[f"{name}_cpu"] = statistics.median(r["cpu"] for r in records)
    if torch:
        out["ratio"] = out["nncli"] / out["torch"]
        out["ratio_cpu"] = out["nncli_cpu"] / out["torch_cpu"]
        out["torch_extrapolated"] = any(r.get("extrapolated") for r in runs["torch"])
    return out


def fmt(v: float | None, digits: int = 3) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def idle_then_loaded(rows_of) -> list[dict]:
    """rows_of(machine) on the machine as it is, then with two helpers running."""
    rows = []
    for machine in ("idle", "loaded"):
        helpers = Helpers(2) if machine == "loaded" else None
        try:
            rows += rows_of(machine)
        finally:
            if helpers:
                helpers.stop()
    return rows


def section_main(cases: list[str], rounds: int, torch: bool) -> list[dict]:
    def rows_of(machine: str) -> list[dict]:
        rows = []
        for name in cases:
            config, overrides, _ = CASES[name]
            for threads in ("1", "default"):
                rows.append({"case": name, "threads": threads, "machine": machine,
                             **measure(config, overrides, threads, rounds, torch)})
                print_main_row(rows[-1])
        return rows

    rows = idle_then_loaded(rows_of)
    for row in rows:                           # loaded / idle of the same case and threads
        if row["machine"] == "loaded":
            idle = next(r for r in rows if r["machine"] == "idle" and r["case"] == row["case"]
                        and r["threads"] == row["threads"])
            row["nncli_slowdown"] = row["nncli"] / idle["nncli"]
            if torch:
                row["torch_slowdown"] = row["torch"] / idle["torch"]
    return rows


def print_main_row(row: dict) -> None:
    print(f"{row['case']:16} {row['threads']:>8} {row['machine']:>7} {row['load']:6.2f} "
          f"{fmt(row['nncli'])} {fmt(row.get('torch'))} {fmt(row.get('ratio'), 2):>6} "
          f"{fmt(row['nncli_cpu'])} {fmt(row.get('torch_cpu'))} "
          f"{fmt(row.get('ratio_cpu'), 2):>6}{'  *' if row.get('torch_extrapolated') else ''}",
          flush=True)


def print_slowdowns(rows: list[dict]) -> None:
    print(f"\nloaded / idle epoch time (target nncli <= {TARGET_LOADED} with default "
          f"settings)")
    for row in rows:
        if row["machine"] == "loaded":
            print(f"  {row['case']:16} {row['threads']:>8}  nncli {row['nncli_slowdown']:5.2f}"
                  f"  torch {fmt(row.get('torch_slowdown'), 2)}")


def section_policies(cases: list[str], rounds: int) -> list[dict]:
    from _train_workers import POLICIES

    def rows_of(machine: str) -> list[dict]:
        rows = []
        for name in cases:
            config, overrides, _ = CASES[name]
            for policy in POLICIES:
                r = measure(config, overrides, "default", rounds, False, policy)
                rows.append({"case": name, "machine": machine, "policy": policy, **r})
                print(f"{name:16} {machine:>7} {policy:>6} {r['load']:6.2f} "
                      f"{fmt(r['nncli'])} {fmt(r['nncli_cpu'])}", flush=True)
        return rows

    return idle_then_loaded(rows_of)


def gemm_peak(threads: int, n: int = 1024, repeats: int = 5) -> float:
    """Best float32 GFLOP/s of an n x n x n matmul with `threads` BLAS threads."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    best = float("inf")
    with threadpool_limits(limits=threads, user_api="blas"):
        a @ a
        for _ in range(repeats):
            start = time.perf_counter()
            a @ a
            best = min(best, time.perf_counter() - start)
    return 2 * n ** 3 / best / 1e9


def step_flops(config: str, overrides: list[str]) -> float:
    """The matrix-product FLOPs of one training step of a conv model (conv and dense
    forward, weight gradients, and input gradients below the first layer)."""
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from nncli import layers as L
    from nncli.overrides import parse
    from nncli.spec import load_spec

    spec = load_spec(ROOT / "configs" / f"{config}.yaml",
                     overrides=[parse(t) for t in overrides])
    model, batch = spec.build(), spec.raw["train"]["batch_size"]
    shapes, flops = [model.input_shape, *model.shapes], 0.0
    for i, layer in enumerate(model.layers):
        w = layer.params.get("weight")
        if w is None or not isinstance(layer, L.Conv | L.Dense):
            continue
        out = shapes[i + 1]
        positions = out[1] * out[2] if isinstance(layer, L.Conv) else int(np.prod(out[:-1]))
        products = 3 if i else 2                         # the first layer skips dL/dx
        flops += products * 2.0 * batch * positions * w.size
    return flops


def section_scaling(rounds: int, torch: bool) -> list[dict]:
    peak = {"1": gemm_peak(1), "default": gemm_peak(os.cpu_count() or 1)}
    print(f"float32 GEMM peak (1024^3): {peak['1']:.1f} GFLOP/s at 1 thread, "
          f"{peak['default']:.1f} at {os.cpu_count()} threads")
    rows = []
    for label, config, overrides in SCALING:
        for threads in ("1", "default"):
            row = {"case": label, "threads": threads,
                   **measure(config, overrides, threads, rounds, torch)}
            if config == "digits_cnn":
                per_step = row["nncli"] / row["batches"]
                row["gflops"] = step_flops(config, overrides) / per_step / 1e9
                row["peak_fraction"] = row["gflops"] / peak[threads]
            rows.append(row)
            extra = (f"  {row['gflops']:6.2f} GFLOP/s = {100 * row['peak_fraction']:4.1f}% "
                     f"of peak") if "gflops" in row else ""
            print(f"{label:22} {threads:>8} {row['load']:6.2f} {fmt(row['nncli'])} "
                  f"{fmt(row.get('torch'))} {fmt(row.get('ratio'), 2):>6}{extra}", flush=True)
    return [{"peak_gflops": peak}, *rows]


MEMORY_WRAPPER = """\
import json, resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(json.dumps({"rc": done.returncode, "stderr": done.stderr[-1000:],
                  "max_rss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


def section_memory() -> list[dict]:
    exe = Path(sys.executable).parent / "nncli"
    rows = []
    for config, epochs in (("digits_cnn", 20), ("chars_rnn", 1), ("chars_gru_lite", 1)):
        with tempfile.TemporaryDirectory() as tmp:
            done = subprocess.run([sys.executable, "-c", MEMORY_WRAPPER, str(exe), "train",
                                   config, "--out", f"{tmp}/run", "--epochs", str(epochs),
                                   "--json"], capture_output=True, text=True,
                                  env={**os.environ, "NO_COLOR": "1"})
        report = json.loads(done.stdout)
        if report["rc"] != 0:
            sys.exit(f"nncli train {config} failed: {report['stderr']}")
        row = {"config": config, "epochs": epochs, "peak_mb": report["max_rss_kib"] / 1024}
        rows.append(row)
        print(f"nncli train {config} --epochs {epochs}: peak RSS {row['peak_mb']:.0f} MB"
              + ("  (target < 100 MB)" if config == "digits_cnn" else ""), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="the main table of the three cases with targets, 2 epochs a side")
    parser.add_argument("--rounds", type=int, default=None, help="epochs per side (5)")
    parser.add_argument("--case", action="append", choices=list(CASES),
                        help="only these cases (repeat the option)")
    parser.add_argument("--only", action="append",
                        choices=["main", "policies", "scaling", "memory"])
    parser.add_argument("--json", action="store_true", help="also write every row as JSON")
    args = parser.parse_args()
    rounds = args.rounds or (2 if args.quick else 5)
    sections = args.only or (["main"] if args.quick else ["main", "policies", "scaling",
                                                          "memory"])
    cases = args.case or (QUICK if args.quick else list(CASES))
    torch = has_torch()
    print(f"{os.cpu_count()} CPUs, load average {load():.2f}; torch "
          f"{'installed' if torch else 'missing: nncli side only'}; {rounds} epochs a side "
          f"after one warm-up; seconds per epoch (median), float32")
    result: dict = {}
    if "main" in sections:
        print(f"\n{'case':16} {'threads':>8} {'machine':>7} {'load':>6} {'nncli':>5} "
              f"{'torch':>5} {'ratio':>6} {'n cpu':>5} {'t cpu':>5} {'cpu r':>6}")
        result["main"] = section_main(cases, rounds, torch)
        print(f"* torch's epochs passed {CAP:.0f} s: cut there and extrapolated from the "
              f"batches done")
        print_slowdowns(result["main"])
    if "policies" in sections:
        print(f"\n{'case':16} {'machine':>7} {'policy':>6} {'load':>6} {'nncli':>5} "
              f"{'cpu':>5}   (nncli side, default threads of each policy)")
        result["policies"] = section_policies(cases, rounds)
    if "scaling" in sections:
        print(f"\n{'case':22} {'threads':>8} {'load':>6} {'nncli':>5} {'torch':>5} "
              f"{'ratio':>6}   (idle)")
        result["scaling"] = section_scaling(rounds, torch)
    if "memory" in sections:
        print()
        result["memory"] = section_memory()
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
