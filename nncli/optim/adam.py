"""Adam and AdamW (Kingma & Ba 2015; Loshchilov & Hutter 2019): torch.optim.Adam / AdamW.

At step t, with g the gradient:
    Adam:  g = g + weight_decay * p           (L2 in the gradient: it enters m and v)
    AdamW: p = p * (1 - lr * weight_decay)    (decoupled: the decay bypasses m and v)
    m = beta1 * m + (1 - beta1) * g           exp_avg
    v = beta2 * v + (1 - beta2) * g^2         exp_avg_sq
    v_max = max(v_max, v)                     max_exp_avg_sq, amsgrad only (then v := v_max)
    p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
AdamW is Adam with the decay moved out of the gradient, hence one file and a subclass.
"""

from __future__ import annotations

import numpy as np

from nncli.optim.base import Optimizer
from nncli.options import Option


class Adam(Optimizer):
    name = "adam"
    summary = "adaptive moments: per-parameter steps from running means of g and g^2"
    LR = 0.001
    decoupled = False           # AdamW: weight decay applied to p directly
    OPTIONS = {
        "betas": Option("pair[0,1)", [0.9, 0.999], "decay rates [beta1, beta2] of the "
                        "running means of the gradient and its square"),
        "eps": Option("float>0", 1e-8, "added to sqrt(v) so a step never divides by zero"),
        "weight_decay": Option("float>=0", 0.0, "L2 penalty added to the gradient (so it "
                               "is rescaled like the gradient; see adamw)"),
        "amsgrad": Option("bool", False, "divide by the largest v so far (AMSGrad, Reddi "
                          "et al. 2018)"),
    }
    SLOTS = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    @property
    def slots(self) -> int:
        return 3 if self.amsgrad else 2

    def update(self, name: str, p: np.ndarray, g: np.ndarray, lr: float) -> None:
        beta1, beta2 = self.betas
        if self.weight_decay:
            if self.decoupled:
                p *= 1.0 - lr * self.weight_decay
            else:
                g = g + self.weight_decay * p
        m = self.buffer("exp_avg", name, p)
        v = self.buffer("exp_avg_sq", name, p)
        m += (1.0 - beta1) * (g - m)            # torch's lerp: m + (1 - beta1) (g - m)
        v *= beta2
        v += (1.0 - beta2) * (g * g)
        if self.amsgrad:
            v = np.maximum(self.buffer("max_exp_avg_sq", name, p), v,
                           out=self.buffers["max_exp_avg_sq"][name])
        denom = np.sqrt(v)
        denom /= (1.0 - beta2 ** self.t) ** 0.5
        denom += self.eps
        p -= (lr / (1.0 - beta1 ** self.t)) * (m / denom)


class AdamW(Adam):
    name = "adamw"
    summary = "Adam with decoupled weight decay: p shrinks by lr * weight_decay each step"
    decoupled = True
    OPTIONS = {**Adam.OPTIONS,
               "weight_decay": Option("float>=0", 0.01, "decoupled decay: p *= 1 - lr * "
                                      "weight_decay before the Adam step")}
