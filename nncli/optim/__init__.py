"""Optimizers behind one interface (base.py), one file each, found by registry.py; the
clipping and lr schedule every optimizer shares are in schedule.py."""

from nncli.optim.base import Optimizer
from nncli.optim.registry import get, having, names
from nncli.optim.schedule import clip_by_global_norm, global_norm, scheduled_lr

__all__ = ["Optimizer", "clip_by_global_norm", "get", "global_norm", "having", "names",
           "scheduled_lr"]
