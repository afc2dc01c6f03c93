"""Adagrad (Duchi, Hazan & Singer 2011): torch.optim.Adagrad.

At step t:
    g = grad + weight_decay * p
    lr_t = lr / (1 + (t - 1) * lr_decay)
    s = s + g^2                      sum, starting at initial_accumulator_value
    p -= lr_t * g / (sqrt(s) + eps)
"""

from __future__ import annotations

import numpy as np

from nncli.optim.base import Optimizer
from nncli.options import Option


class Adagrad(Optimizer):
    name = "adagrad"
    summary = "per-parameter steps shrinking with the sum of all squared gradients so far"
    LR = 0.01
    OPTIONS = {
        "eps": Option("float>0", 1e-10, "added to sqrt(sum) before dividing"),
        "initial_accumulator_value": Option("float>=0", 0.0, "the starting value of the "
                                            "sum of squared gradients"),
        "lr_decay": Option("float>=0", 0.0, "lr / (1 + (t - 1) * lr_decay) at step t"),
        "weight_decay": Option("float>=0", 0.0, "L2 penalty added to the gradient"),
    }
    SLOTS = ("sum",)

    def update(self, name: str, p: np.ndarray, g: np.ndarray, lr: float) -> None:
        if self.weight_decay:
            g = g + self.weight_decay * p
        clr = lr / (1.0 + (self.t - 1) * self.lr_decay)
        s = self.buffer("sum", name, p, fill=self.initial_accumulator_value)
        s += g * g
        std = np.sqrt(s)
        std += self.eps
        p -= clr * (g / std)
