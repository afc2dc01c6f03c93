"""The two sides of benchmarks/train_speed.py, each in a process of its own.

A worker builds one training run, then reads commands from stdin: each line `epoch` runs
one epoch and answers one JSON line {"wall", "cpu", "loss", "batches"}; end of input stops
it. `epoch S` caps the torch side's epoch at about S seconds: past it, the epoch stops and
its times are extrapolated from the batches done ("extrapolated": true), so torch's
threads fighting over busy cores (minutes per epoch) cost bounded CPU. Separate processes
keep the sides apart: torch's OpenMP threads and OpenBLAS's never share a process, and an
idle worker waits in a read, using no CPU.

nncli side: `nncli.train.new_run` (the Trainer `nncli train` drives, with its thread policy,
or a candidate policy the benchmark compares, see POLICIES). torch side: the same network
as torch modules (nn.Conv2d, nn.RNN, nn.GRU for gru-lite, ...), nncli's initial weights where
the parameters have the same shapes, the same data, batch size, optimizer, lr schedule and
clipping, in float32. An epoch's time is the time of its training batches (fetching the
batch, forward, loss, backward, clipping, update, the loss and accuracy counts), on both
sides; validation and checkpoints are not counted.
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Candidate thread policies of the nncli side (what the README's policy table measures).
POLICIES = {
    "one": "1 BLAS thread for the whole run (nncli's default)",
    "blas": "the BLAS library's default threads everywhere (--threads 0)",
    "loop": "1 thread inside recurrent layers, the BLAS default elsewhere",
    "size": "1 thread for layers whose largest matrix product has M*N*K < 2^24, the BLAS "
            "default for larger ones",
}
SIZE_THRESHOLD = 2 ** 24


def answer(record: dict) -> None:
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


def serve(run_epoch) -> None:
    for line in sys.stdin:
        command, *cap = line.split()
        if command == "epoch":
            answer(run_epoch(float(cap[0]) if cap else float("inf")))


# ------------------------------------------------------------------------------- nncli

def largest_product(layer, in_shape, out_shape, batch: int) -> int:
    """M*N*K of a layer's largest matrix product for a batch: batch x positions x the
    size of its largest weight (conv: per output pixel; recurrent: per step)."""
    from nncli import layers as L

    weights = [int(np.prod(v.shape)) for v in layer.params.values() if v.ndim >= 2]
    if not weights:
        return 0
    if isinstance(layer, L.Conv):
        positions = out_shape[1] * out_shape[2]
    elif isinstance(layer, L.Recurrent):
        positions = in_shape[0]
    else:
        positions = int(np.prod(out_shape[:-1]))
    return batch * positions * max(weights)


def single_threaded(layer) -> None:
    """Wrap one layer's forward and backward in a 1-thread BLAS limit."""
    from threadpoolctl import ThreadpoolController

    limit = ThreadpoolController()

    def wrap(method):
        def run(*args):
            with limit.limit(limits=1, user_api="blas"):
                return method(*args)
        return run

    layer.forward, layer.backward = wrap(layer.forward), wrap(layer.backward)


def nncli_side(config: str, overrides: list[str], policy: str) -> None:
    from nncli import layers as L
    from nncli import train as core
    from nncli.overrides import parse

    # "policy": what nncli train does by default; 0: the BLAS library's default threads
    threads = {"one": 1, "policy": None}.get(policy, 0)
    out = Path(tempfile.mkdtemp(prefix="nncli-speed-")) / "run"
    trainer = core.new_run(ROOT / "configs" / f"{config}.yaml", out, 1000,
                           overrides=[parse(text) for text in overrides],
                           thread_count=threads)
    model, batch = trainer.model, trainer.settings["batch_size"]
    shapes = [model.input_shape, *model.shapes]
    for i, layer in enumerate(model.layers):
        small = largest_product(layer, shapes[i], shapes[i + 1], batch) < SIZE_THRESHOLD
        if (policy == "loop" and isinstance(layer, L.Recurrent)) or (
                policy == "size" and small):
            single_threaded(layer)
    events = trainer.run()
    next(events)                                   # Started

    def run_epoch(cap: float) -> dict:                 # nncli's epochs are never capped
        wall = cpu = 0.0
        batches = 0
        while True:
            w0, c0 = time.perf_counter(), time.process_time()
            event = next(events)
            if isinstance(event, core.BatchDone):
                wall += time.perf_counter() - w0
                cpu += time.process_time() - c0
                batches += 1
            elif isinstance(event, core.EpochDone):
                return {"wall": wall, "cpu": cpu, "batches": batches,
                        "loss": event.metrics["train_loss"]}

    serve(run_epoch)


# ------------------------------------------------------------------------------- torch

class Last:
    """A recurrent module's output sequence, or its last step (return: last)."""

    def __init__(self, every: bool) -> None:
        self.every = every

    def __call__(self, out):
        return out[0] if self.every else out[0][:, -1]


def torch_network(model):
    """nncli's model as torch modules doing the same computation (a softmax ending a
    cross-entropy model is left to the loss, as nncli fuses it); nncli's initial weights
    copied where the parameters have torch's shapes (gru-lite's nn.GRU keeps its own)."""
    import torch
    from torch import nn

    from nncli import layers as L

    acts = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
    cells = {"rnn": nn.RNN, "gru-lite": nn.GRU, "gru": nn.GRU, "lstm": nn.LSTM}
    shapes = [model.input_shape, *model.shapes]
    parts, post = [], []
    for i, layer in enumerate(model.layers):
        in_shape = shapes[i]
        if isinstance(layer, L.Conv):
            module = nn.Conv2d(in_shape[0], layer.filters, layer.kernel, layer.stride,
                               layer.padding, bias=layer.use_bias)
        elif isinstance(layer, L.Dense):
            module = nn.Linear(in_shape[-1], layer.units, bias=layer.use_bias)
        elif isinstance(layer, L.Pool):
            module = (nn.MaxPool2d if layer.mode == "max" else nn.AvgPool2d)(layer.size,
                                                                             layer.stride)
        elif isinstance(layer, L.Flatten):
            module = nn.Flatten()
        elif isinstance(layer, L.Embedding):
            module = nn.Embedding(layer.vocab, layer.dim)
        elif isinstance(layer, L.Recurrent):
            module = cells[layer.kind](in_shape[-1], layer.hidden, bias=layer.use_bias,
                                       batch_first=True)
        elif isinstance(layer, L.Softmax) and i == len(model.layers) - 1:
            continue
        elif isinstance(layer, L.Activation):
            module = acts[layer.name]() if layer.name != "identity" else nn.Identity()
        else:
            sys.exit(f"train_speed: no torch counterpart for layer {layer.kind}")
        own = module.state_dict()
        with torch.no_grad():
            for name, value in layer.params.items():
                if name in own and own[name].shape == value.shape:
                    getattr(module, name).copy_(torch.from_numpy(value.astype(np.float32)))
        parts.append(module)
        post.append(Last(layer.return_sequences) if isinstance(layer, L.Recurrent) else None)
        act = getattr(layer, "act", None)
        if isinstance(layer, L.Conv | L.Dense) and act is not None and act.name != "identity":
            parts.append(acts[act.name]())
            post.append(None)

    class Network(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.parts = nn.ModuleList(parts)

        def forward(self, x):
            for module, after in zip(self.parts, post, strict=True):
                x = module(x)
                x = after(x) if after is not None else x
            return x

    return Network()


def torch_side(config: str, overrides: list[str], threads: str) -> None:
    import torch
    from torch import nn

    from nncli.optim import scheduled_lr
    from nncli.overrides import parse
    from nncli.spec import load_spec
    from nncli.train_setup import in_dtype, load_data, train_settings

    if threads == "1":
        torch.set_num_threads(1)
    spec = load_spec(ROOT / "configs" / f"{config}.yaml",
                     overrides=[parse(text) for text in overrides])
    s = train_settings(spec)
    model = spec.build().astype(np.float32)
    data = in_dtype(load_data(spec, model), model)
    net = torch_network(model)
    classify = model.loss_name == "cross_entropy"
    x = torch.from_numpy(data.train.x.astype(np.int64) if data.vocab is not None
                         else data.train.x)
    y = torch.from_numpy(data.train.y)
    if s["optimizer"] == "sgd":
        opt = torch.optim.SGD(net.parameters(), lr=s["lr"], momentum=s["momentum"],
                              nesterov=s["nesterov"], weight_decay=s["weight_decay"])
    elif s["optimizer"] == "adam":
        opt = torch.optim.Adam(net.parameters(), lr=s["lr"], betas=tuple(s["betas"]),
                               eps=s["eps"], weight_decay=s["weight_decay"])
    else:
        sys.exit(f"train_speed: optimizer {s['optimizer']} is not mapped to torch here")
    if classify:
        def loss_fn(out, target):
            return nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]),
                                               target.reshape(-1))
    else:
        mse = nn.MSELoss(reduction=model.reduction)

        def loss_fn(out, target):
            return mse(out, target)
    rng = np.random.default_rng([spec.seed, 1])
    n, size = len(x), s["batch_size"]
    epoch = [0]

    def run_epoch(cap: float) -> dict:
        lr = scheduled_lr(s["lr"], epoch[0], s["schedule"], s["epochs"], s["step_size"],
                          s["gamma"], s["min_lr"])
        for group in opt.param_groups:
            group["lr"] = lr
        order = torch.from_numpy(rng.permutation(n) if s["shuffle"] else np.arange(n))
        wall = cpu = total = 0.0
        batches = math.ceil(n / size)
        done = 0
        for b in range(batches):
            w0, c0 = time.perf_counter(), time.process_time()
            idx = order[b * size:(b + 1) * size]
            xb, yb = x[idx], y[idx]
            opt.zero_grad()
            out = net(xb)
            loss = loss_fn(out, yb)
            loss.backward()
            if s["clip"] is not None:
                nn.utils.clip_grad_norm_(net.parameters(), s["clip"])
            opt.step()
            total += loss.item() * (len(idx) if model.reduction == "mean" else 1.0)
            if classify:
                int((out.argmax(dim=-1) == yb).sum())
            wall += time.perf_counter() - w0
            cpu += time.process_time() - c0
            done += 1
            if wall > cap:
                break
        epoch[0] += 1
        scale = batches / done
        return {"wall": wall * scale, "cpu": cpu * scale, "batches": batches,
                "loss": total / (done * size), "extrapolated": done < batches}

    serve(run_epoch)


def main(argv: list[str]) -> None:
    """python _train_workers.py nncli|torch CONFIG POLICY_OR_THREADS [OVERRIDE...]"""
    side, config, how, *overrides = argv
    if side == "nncli":
        nncli_side(config, overrides, how)
    else:
        torch_side(config, overrides, how)


if __name__ == "__main__":
    main(sys.argv[1:])
