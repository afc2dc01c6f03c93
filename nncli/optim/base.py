"""The optimizer contract: what one file in nncli/optim/ declares to become `train.optimizer`.

A subclass of Optimizer with a non-empty `name` is found by the registry (registry.py) in
any module of this package, so adding an optimizer is one new file plus its tests:

    name     the `train.optimizer` value ("adam")
    summary  one line for the README and help
    LR       torch.optim's default learning rate for the class (used when `train.lr` is
             not given)
    OPTIONS  {option: nncli.options.Option(kind, default, help)}: torch.optim's names and
             defaults, minus `lr` (a `train:` option of every optimizer)
    SLOTS    the per-parameter arrays it may keep, by torch's state names ("exp_avg")
    slots    (property) how many of SLOTS these options use: the memory estimate
    update() one parameter's update, given the step count self.t (1 on the first step)

and, when some options exclude each other, a `check(values)` classmethod that returns a
message (or None). State is named slot arrays {slot: {param: array}} plus the step count,
so checkpoints store any optimizer the same way (optim/<slot>/<param>) and resume exactly.
Slot arrays are created on first use with the parameter's dtype: a float32 model keeps
float32 state.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from nncli.errors import InputError
from nncli.options import Option


class Optimizer:
    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    LR: ClassVar[float] = 0.1
    OPTIONS: ClassVar[dict[str, Option]] = {}
    SLOTS: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **options: Any) -> None:
        unknown = set(options) - set(self.OPTIONS)
        if unknown:
            raise TypeError(f"{self.name}: unknown options {sorted(unknown)}")
        shadowed = [key for key in self.OPTIONS if hasattr(Optimizer, key)]
        if shadowed:                    # options become attributes: self.momentum, ...
            raise TypeError(f"{self.name}: options {shadowed} would hide Optimizer members")
        self.options = {key: options.get(key, entry.default)
                        for key, entry in self.OPTIONS.items()}
        for key, value in self.options.items():
            setattr(self, key, value)
        self.buffers: dict[str, dict[str, np.ndarray]] = {slot: {} for slot in self.SLOTS}
        self.t = 0                      # steps taken (torch's state["step"])

    @classmethod
    def check(cls, values: dict) -> tuple[str, str] | None:
        """(option, message) if the options exclude each other; None when they are fine."""
        return None

    @property
    def slots(self) -> int:
        """How many arrays the size of the parameters these options keep."""
        return len(self.SLOTS)

    # ---- the step --------------------------------------------------------------------
    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray],
             lr: float) -> None:
        """One update of every parameter, in place (they are the layers' own arrays)."""
        self.t += 1
        for name, p in params.items():
            self.update(name, p, grads[name], lr)

    def update(self, name: str, p: np.ndarray, g: np.ndarray, lr: float) -> None:
        raise NotImplementedError

    def buffer(self, slot: str, name: str, like: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """The slot array of parameter `name`, created (filled with `fill`) on first use."""
        arrays = self.buffers[slot]
        if name not in arrays:
            arrays[name] = np.full_like(like, fill)
        return arrays[name]

    # ---- state -----------------------------------------------------------------------
    def state(self) -> dict[str, dict[str, np.ndarray]]:
        """{slot: {param: array}} for the slots in use (what a checkpoint stores)."""
        return {slot: dict(arrays) for slot, arrays in self.buffers.items() if arrays}

    def scalars(self) -> dict[str, int]:
        return {"step": self.t}

    def load_state(self, state: dict[str, dict[str, np.ndarray]], scalars: dict,
                   params: dict[str, np.ndarray], source: str) -> None:
        """Take over a checkpoint's state, checked against the parameters it belongs to."""
        step = scalars.get("step", 0)
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise InputError(f"{source}: the optimizer's step count is {step!r}; expected an "
                             f"integer >= 0")
        for slot, arrays in state.items():
            if slot not in self.SLOTS:
                raise InputError(f"{source}: holds optimizer state '{slot}', which {self.name} "
                                 f"does not keep (was it saved with another train.optimizer?)")
            for key, value in arrays.items():
                want = params.get(key)
                if want is None:
                    raise InputError(f"{source}: optimizer state '{slot}/{key}' belongs to "
                                     f"no parameter of the model")
                if value.shape != want.shape or value.dtype.kind != "f":
                    raise InputError(f"{source}: optimizer state '{slot}/{key}' has "
                                     f"{value.dtype} {value.shape}; expected {want.shape}")
                if not np.all(np.isfinite(value)):
                    raise InputError(f"{source}: optimizer state '{slot}/{key}' holds NaN "
                                     f"or infinite values")
        self.t = step
        self.buffers = {slot: {key: np.array(value, dtype=params[key].dtype)
                               for key, value in state.get(slot, {}).items()}
                        for slot in self.SLOTS}
