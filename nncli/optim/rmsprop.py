"""RMSprop (Hinton's lecture 6e, 2012): torch.optim.RMSprop.

    g = grad + weight_decay * p
    s = alpha * s + (1 - alpha) * g^2                  square_avg
    centered: a = alpha * a + (1 - alpha) * g          grad_avg; the scale is sqrt(s - a^2)
    d = sqrt(s) + eps        (centered: sqrt(s - a^2) + eps)
    momentum > 0: b = momentum * b + g / d; p -= lr * b     momentum_buffer
    otherwise:    p -= lr * g / d
"""

from __future__ import annotations

import numpy as np

from nncli.optim.base import Optimizer
from nncli.options import Option


class RMSprop(Optimizer):
    name = "rmsprop"
    summary = "steps scaled by a running root mean square of the gradient"
    LR = 0.01
    OPTIONS = {
        "alpha": Option("float[0,1)", 0.99, "decay rate of the running mean of g^2"),
        "eps": Option("float>0", 1e-8, "added to the root mean square before dividing"),
        "momentum": Option("float[0,1)", 0.0, "momentum on the scaled step"),
        "centered": Option("bool", False, "divide by an estimate of the gradient's "
                           "variance (the mean of g subtracted)"),
        "weight_decay": Option("float>=0", 0.0, "L2 penalty added to the gradient"),
    }
    SLOTS = ("square_avg", "momentum_buffer", "grad_avg")

    @property
    def slots(self) -> int:
        return 1 + bool(self.momentum) + bool(self.centered)

    def update(self, name: str, p: np.ndarray, g: np.ndarray, lr: float) -> None:
        alpha = self.alpha
        if self.weight_decay:
            g = g + self.weight_decay * p
        s = self.buffer("square_avg", name, p)
        s *= alpha
        s += (1.0 - alpha) * (g * g)
        if self.centered:
            a = self.buffer("grad_avg", name, p)
            a += (1.0 - alpha) * (g - a)          # torch's lerp
            d = s - a * a
            np.sqrt(d, out=d)
        else:
            d = np.sqrt(s)
        d += self.eps
        if self.momentum:
            b = self.buffer("momentum_buffer", name, p)
            b *= self.momentum
            b += g / d
            p -= lr * b
        else:
            p -= lr * (g / d)
