"""The torch engine (`nncli train --engine torch`): PyTorch computes and applies the steps.

The model is the torch.nn.Module that `nncli export --to torch` writes, from the same
generator (nncli.export.torch_code): its state_dict keys are nncli's parameter names, so
nncli's seeded initial (or resumed) weights load into it unchanged. The optimizer is
torch.optim's class of the same name with the same options (nncli's optimizers follow
torch.optim's formulas, names and state), its state loaded from and copied back to nncli's
optimizer, slot by slot. Everything else stays with the Trainer: batch order, lr schedule,
clipping (nncli's own formula, applied to torch's gradients), divergence checks, metrics,
events and checkpoints, so a run trained here is a run like any other: evaluated, resumed
(by either engine) and inspected by every command. In float64 on the cpu the two engines
end a few epochs with the same weights to 1e-9.

Under torchrun the module is wrapped in DistributedDataParallel and each process trains
on its shard of every batch (distributed.py); only rank 0 writes the run folder.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from nncli.engines import DEVICES, Step, distributed
from nncli.errors import InputError
from nncli.formatting import plural
from nncli.optim import clip_by_global_norm

if TYPE_CHECKING:
    from nncli.datasets import Split
    from nncli.train import Trainer


def require_torch():
    """torch, or one line saying how to install it."""
    from nncli.export.check import require

    return require("torch", "--engine torch")


def optimizer_class(torch, name: str) -> type:
    """torch.optim's class for an nncli optimizer name ('rmsprop' -> torch.optim.RMSprop)."""
    found = {attr.lower(): getattr(torch.optim, attr) for attr in dir(torch.optim)
             if isinstance(getattr(torch.optim, attr), type)
             and issubclass(getattr(torch.optim, attr), torch.optim.Optimizer)}
    if name not in found:
        raise InputError(f"train.optimizer: {name} has no torch.optim class of that name; "
                         f"train with --engine numpy")
    return found[name]


def pick_device(torch, device: str, world: distributed.World, dtype: str):
    """The torch.device to train on (under torchrun: cuda's device LOCAL_RANK)."""
    if device not in DEVICES:
        raise InputError(f"--device: expected {', '.join(DEVICES)}, got '{device}'")
    if device == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise InputError("--device cuda: torch sees no CUDA device (a CPU build of "
                             "torch, or no GPU); use --device cpu")
        if world.local_rank >= count:
            raise InputError(f"--device cuda: LOCAL_RANK {world.local_rank} but this node has "
                             f"{count} CUDA devices; start at most {count} processes per node")
        return torch.device("cuda", world.local_rank)
    if device == "mps":
        if not torch.backends.mps.is_available():
            raise InputError("--device mps: torch sees no MPS device (Apple silicon and "
                             "macOS 12.3+ only); use --device cpu")
        if dtype == "float64":
            raise InputError("--device mps: MPS has no float64; set train.dtype: float32")
    return torch.device(device)


class TorchEngine:
    name = "torch"

    def __init__(self, trainer: Trainer, device: str = "cpu") -> None:
        torch = self.torch = require_torch()
        from nncli.export.torch_code import TORCH_LAYERS, load_module, spec_kind, torch_source

        model = self.model = trainer.model
        self.optim = trainer.optim
        for i, layer in enumerate(model.layers):
            if spec_kind(layer) not in TORCH_LAYERS:
                raise InputError(f"{trainer.spec.where(('layers', i))}: {spec_kind(layer)} has "
                                 f"no torch module; train this model with --engine numpy")
        cls = optimizer_class(torch, self.optim.name)
        self.world = distributed.from_env()
        self.writes = self.world.rank == 0
        self.distributed = self.world.distributed
        self.device = pick_device(torch, device, self.world, model.dtype.name)
        self.dtype = getattr(torch, model.dtype.name)
        self.classify = model.loss_name == "cross_entropy"
        self.mean = model.reduction == "mean"
        if self.device.type == "cpu" and trainer.threads.threads is not None:
            # The run's thread policy (nncli.threads: one thread unless --threads or
            # NNCLI_THREADS says otherwise) for torch's own threads, as for numpy's BLAS.
            torch.set_num_threads(trainer.threads.threads)

        module = load_module(torch_source(model)).Model().to(dtype=self.dtype)
        module.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v))
                                for k, v in model.named_params().items()}, strict=True)
        self.module = module.to(self.device)
        self.params = dict(self.module.named_parameters())      # nncli's names
        self.layer_params = [[p for name, p in self.params.items()
                              if name.partition(".")[0] == str(i)]
                             for i in range(len(model.layers))]
        self.net = self.module
        if self.world.distributed:
            if self.device.type == "cuda":
                torch.cuda.set_device(self.device)
            distributed.start(self.world, self.device.type)
            from torch.nn.parallel import DistributedDataParallel

            # Made after the process group exists: its constructor checks that every
            # process holds the same parameters (they do: the same seed or checkpoint).
            with distributed.collective(self.world):
                self.net = DistributedDataParallel(
                    self.module, device_ids=[self.device.index] if self.device.type == "cuda"
                    else None)
            self.net.register_comm_hook(None, distributed.sum_hook)
        options = {k: tuple(v) if isinstance(v, list) else v
                   for k, v in self.optim.options.items()}
        self.opt = cls(list(self.params.values()), lr=trainer.settings["lr"], **options)
        self._load_optimizer_state()

    # ---- tensors -----------------------------------------------------------------------
    def _tensor(self, a: np.ndarray):
        """An array on the device; floats in the model's dtype (integer labels stay)."""
        t = self.torch.from_numpy(np.ascontiguousarray(a))
        if t.is_floating_point():
            t = t.to(self.dtype)
        return t.to(self.device)

    @staticmethod
    def _array(t) -> np.ndarray:
        return t.detach().cpu().numpy().copy()

    # ---- the step ----------------------------------------------------------------------
    def gradients(self, split: Split, idx: np.ndarray) -> Step:
        torch = self.torch
        mine = distributed.shard(idx, self.world)
        share = len(mine) / len(idx) if self.mean else 1.0
        if len(mine) == 0:          # a last batch smaller than the world: a zero share
            mine, share = idx[:1], 0.0
        x, y = self._tensor(split.x[mine]), self._tensor(split.y[mine])
        self.opt.zero_grad()
        out = self.net(x)
        loss = self.module.loss(out, y)
        if share != 1.0:
            loss = loss * share
        with distributed.collective(self.world):
            loss.backward()             # under DDP: the gradients are summed over processes
        stats = [loss.detach()]
        if self.classify:
            hits = (out.detach().argmax(dim=-1) == y).sum()
            stats += [hits, torch.tensor(y.numel(), device=self.device)] if share else \
                [torch.zeros((), device=self.device)] * 2
        stats = torch.stack([s.to(self.dtype) for s in stats])
        if self.world.distributed:
            with distributed.collective(self.world):
                distributed.all_sum(stats)
        zero = torch.zeros((), dtype=self.dtype, device=self.device)
        squares = torch.stack([sum(((p.grad * p.grad).sum() for p in ps), zero)
                               for ps in self.layer_params])
        values, squares = stats.tolist(), squares.tolist()
        if not self.classify:
            return Step(values[0], squares)
        return Step(values[0], squares, int(values[1]), int(values[2]))

    def update(self, lr: float, clip: float | None, norm: float) -> None:
        if clip is not None:      # nncli's formula, on torch's gradients (in place)
            clip_by_global_norm({k: p.grad for k, p in self.params.items()}, clip, norm)
        for group in self.opt.param_groups:
            group["lr"] = lr
        self.opt.step()
        self.optim.t += 1         # the step count nncli's optimizer reports and saves

    def loss_of(self, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        """Evaluation: the loss and the loss's input (logits) of a batch, without gradients."""
        with self.torch.no_grad():
            out = self.module(self._tensor(x))
            return float(self.module.loss(out, self._tensor(y))), out.cpu().numpy()

    # ---- state -------------------------------------------------------------------------
    def _load_optimizer_state(self) -> None:
        """nncli's optimizer state (resumed, or empty) as torch.optim's per-parameter state:
        the same slot names, and the step count torch keeps per parameter."""
        if not self.optim.t:
            return
        for name, p in self.params.items():
            held = {slot: self._tensor(arrays[name])
                    for slot, arrays in self.optim.buffers.items() if name in arrays}
            if held:
                held["step"] = self.torch.tensor(float(self.optim.t), dtype=self.torch.float32)
                self.opt.state[p] = held

    def sync(self) -> None:
        """torch's weights and optimizer state into nncli's model and optimizer."""
        for i, layer in enumerate(self.model.layers):
            for k in layer.params:
                layer.params[k] = self._array(self.params[f"{i}.{k}"])
        buffers: dict[str, dict[str, np.ndarray]] = {slot: {} for slot in self.optim.SLOTS}
        for name, p in self.params.items():
            for slot, value in self.opt.state.get(p, {}).items():
                if slot in buffers and self.torch.is_tensor(value):
                    buffers[slot][name] = self._array(value)
        self.optim.buffers = buffers

    def describe(self) -> str:
        """'torch 2.13.0 on cpu, 1 thread', 'torch 2.13.0 on cuda:0, 4 processes (DDP)'."""
        where = f"torch {self.torch.__version__.split('+')[0]} on {self.device}"
        if self.world.distributed:
            return f"{where}, {self.world.size} processes (DDP)"
        if self.device.type == "cpu":
            return f"{where}, {plural(self.torch.get_num_threads(), 'thread')}"
        return where

    def any_rank(self, flag: bool) -> bool:
        if not self.world.distributed:
            return flag
        votes = self.torch.tensor([float(flag)], dtype=self.dtype, device=self.device)
        with distributed.collective(self.world):
            return distributed.all_sum(votes).item() > 0
