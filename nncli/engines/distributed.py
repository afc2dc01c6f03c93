"""Training in several processes under torchrun: the process group, each process's shard
of a batch, and the sums that make the processes agree.

torchrun starts one process per device (`--nproc-per-node`) on each node (`--nnodes`) and
tells each its place through the environment: RANK (0 .. WORLD_SIZE - 1 over all nodes),
LOCAL_RANK (its device on this node), WORLD_SIZE, MASTER_ADDR and MASTER_PORT (where the
processes meet). Every process runs the same `nncli train`: the same spec, data, seed and
so the same seeded batch order; process r takes batch positions r, r + W, r + 2W, ... of
each global batch (what torch's DistributedSampler does with a dataset's order), so the W
shards together are exactly the single-process batch. Each process's loss is its share of
the batch's loss (a sum: its samples' sum; a mean: its samples' sum over the batch size),
and the gradients are summed over the processes (sum_hook, not DDP's default average), so
they are the single-process batch gradient whatever the shard sizes; a process whose shard
is empty (a last batch smaller than W) backpropagates a zero share.

torch is imported inside the functions: this module is only used with --engine torch.
"""

from __future__ import annotations

import atexit
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from nncli.errors import InputError, RunFailed

ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


@dataclass(frozen=True)
class World:
    rank: int = 0           # this process, 0 .. size - 1; 0 writes the run folder
    size: int = 1           # processes over all nodes
    local_rank: int = 0     # this process's device on its node

    @property
    def distributed(self) -> bool:
        return self.size > 1


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name, "")
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise InputError(f"environment variable {name}={text!r}: expected an integer (torchrun "
                         f"sets it); unset it to train in one process") from None


def from_env() -> World:
    """The world torchrun describes; one process (rank 0 of 1) when run without it."""
    size = _env_int("WORLD_SIZE", 1)
    rank, local = _env_int("RANK", 0), _env_int("LOCAL_RANK", 0)
    if size < 1 or not 0 <= rank < size or local < 0:
        raise InputError(f"environment: RANK={rank}, LOCAL_RANK={local}, WORLD_SIZE={size} do "
                         f"not describe a process of a group; launch with torchrun or unset "
                         f"them")
    return World(rank, size, local)


def launched() -> bool:
    """Was this process started as one of several (by torchrun)?"""
    return from_env().distributed


def start(world: World, device_type: str) -> str:
    """Join the process group (gloo on cpu, nccl on cuda); returns the backend."""
    import torch.distributed as dist

    if device_type not in ("cpu", "cuda"):
        raise InputError(f"--device {device_type}: training in several processes runs on cpu "
                         f"(gloo) or cuda (nccl); use one of those under torchrun")
    backend = "nccl" if device_type == "cuda" else "gloo"
    if not dist.is_available() or not getattr(dist, f"is_{backend}_available")():
        raise InputError(f"--engine torch under torchrun needs torch.distributed with "
                         f"{backend}, which this torch build lacks")
    missing = [name for name in ("MASTER_ADDR", "MASTER_PORT") if not os.environ.get(name)]
    if missing:
        raise InputError(f"environment: {', '.join(missing)} not set; launch several "
                         f"processes with torchrun (it sets them)")
    if not dist.is_initialized():
        dist.init_process_group(backend, rank=world.rank, world_size=world.size)
        atexit.register(stop)
    return backend


def finish() -> None:
    """A run that ended well in every process: wait for all of them (rank 0 still writes its
    last files when the others are done), then leave the group together. Leaving one by one
    at exit, one process sometimes aborted in gloo's teardown ('terminate called without an
    active exception'); after an error, `stop` leaves without waiting, since a peer may be
    gone."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
    stop()


def stop() -> None:
    """Leave the process group (registered to run at exit, also after an error)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def shard(idx: np.ndarray, world: World) -> np.ndarray:
    """This process's positions of a global batch: every size-th, from its rank."""
    return idx[world.rank::world.size]


def sum_hook(state, bucket):
    """A DDP communication hook: gradients summed over the processes, not averaged (each
    process's loss is already its share of the batch's)."""
    import torch.distributed as dist

    future = dist.all_reduce(bucket.buffer(), async_op=True).get_future()
    return future.then(lambda done: done.value()[0])


def all_sum(values):
    """A tensor summed over the processes (in place, returned)."""
    import torch.distributed as dist

    dist.all_reduce(values)
    return values


@contextmanager
def collective(world: World) -> Iterator[None]:
    """A block that talks to the other processes. When one of them has died (a crash, a
    kill) the backend raises here; that becomes one line (exit 1) rather than an internal
    error. rank 0's checkpoints are written atomically, so the last one is intact."""
    try:
        yield
    except RuntimeError as err:
        if not world.distributed:
            raise
        reason = re.sub(r"^\[[^\]]*\]\s*", "", " ".join(str(err).split()))  # gloo's source
        raise RunFailed(f"rank {world.rank}: another process of the torchrun group stopped "
                        f"({reason[:160]}); the last checkpoint is intact: resume the run with "
                        f"nncli train --resume RUN_DIR") from None
