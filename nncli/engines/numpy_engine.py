"""The numpy engine: nncli's own layers compute the step, nncli's optimizers apply it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from nncli.engines import Step
from nncli.optim import clip_by_global_norm

if TYPE_CHECKING:
    from nncli.datasets import Split
    from nncli.train import Trainer


class NumpyEngine:
    name = "numpy"
    writes = True           # one process: it writes the run folder and draws
    distributed = False
    loss_of = None          # evaluation runs nncli's own forward pass

    def __init__(self, trainer: Trainer) -> None:
        self.model, self.optim = trainer.model, trainer.optim
        self.classify = self.model.loss_name == "cross_entropy"
        self.threads = trainer.threads              # nncli.threads: the BLAS thread policy

    def gradients(self, split: Split, idx: np.ndarray) -> Step:
        x, y = split.x[idx], split.y[idx]
        loss, scores = self.model.train_step(x, y)
        squares = [sum(float(np.vdot(g, g)) for g in layer.grads.values())
                   for layer in self.model.layers]
        if not self.classify:
            return Step(loss, squares)
        # Scored before this step's update, as the running loss is.
        return Step(loss, squares, int((scores.argmax(axis=-1) == y).sum()), y.size)

    def update(self, lr: float, clip: float | None, norm: float) -> None:
        grads = self.model.named_grads()
        if clip is not None:
            clip_by_global_norm(grads, clip, norm)
        self.optim.step(self.model.named_params(), grads, lr)

    def sync(self) -> None:
        """The model and optimizer are the engine's own: nothing to copy."""

    def any_rank(self, flag: bool) -> bool:
        return flag

    def describe(self) -> str:
        return self.threads.describe()
