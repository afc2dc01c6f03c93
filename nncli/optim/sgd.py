"""SGD with momentum (heavy-ball or Nesterov), dampening and weight decay: torch.optim.SGD.

    g = grad + weight_decay * p
    b = g on the first step, else momentum * b + (1 - dampening) * g
    p -= lr * (g + momentum * b if nesterov else b)        (b only when momentum > 0)
"""

from __future__ import annotations

import numpy as np

from nncli.optim.base import Optimizer
from nncli.options import Option


class SGD(Optimizer):
    name = "sgd"
    summary = "stochastic gradient descent with optional (Nesterov) momentum"
    LR = 0.1        # nncli's default since before the other optimizers (torch has 1e-3)
    OPTIONS = {
        "momentum": Option("float[0,1)", 0.0, "heavy-ball momentum"),
        "nesterov": Option("bool", False, "Nesterov momentum (needs momentum > 0 and "
                           "dampening 0)"),
        "dampening": Option("float[0,1)", 0.0, "the new gradient enters the momentum "
                            "times (1 - dampening)"),
        "weight_decay": Option("float>=0", 0.0, "L2 penalty: the gradient gets + "
                               "weight_decay * p"),
    }
    SLOTS = ("momentum_buffer",)

    @classmethod
    def check(cls, values: dict) -> tuple[str, str] | None:
        if values["nesterov"] and (values["momentum"] <= 0 or values["dampening"] != 0):
            return ("nesterov", "Nesterov momentum needs momentum > 0 and dampening 0 (as in "
                    "torch.optim.SGD); set momentum or drop nesterov")
        return None

    @property
    def slots(self) -> int:
        return 1 if self.momentum else 0

    def update(self, name: str, p: np.ndarray, g: np.ndarray, lr: float) -> None:
        if self.weight_decay:
            g = g + self.weight_decay * p
        if self.momentum:
            buffers = self.buffers["momentum_buffer"]
            b = buffers.get(name)
            if b is None:                       # torch starts the buffer at the gradient
                b = buffers[name] = g.copy()
            else:
                b *= self.momentum
                b += g if not self.dampening else (1.0 - self.dampening) * g
            g = g + self.momentum * b if self.nesterov else b
        p -= lr * g
