"""Next value of a sine wave: a short-memory regression over sequences."""

from __future__ import annotations

import numpy as np

from nncli.datasets.base import Split, name_option
from nncli.datasets.generated import Generated, count_options
from nncli.options import Option

SINE_OMEGA = (0.2, 0.6)  # angular frequency range, radians per step (periods ~10 to ~31 steps)


class Sine(Generated):
    name = "sine"
    summary = ("next value of a sine wave of random phase and frequency: x (N, T, 1), "
               "target (N, 1)")
    OPTIONS = {"name": name_option("sine"),
               "steps": Option("int>=1", 20, "sequence length T"),
               "noise": Option("float>=0", 0.0, "standard deviation of noise on the inputs"),
               **count_options(2000, 400, 400)}

    def values_per_sample(self, opts: dict) -> int:
        return 4 * opts["steps"] + 4

    def generate(self, rng: np.random.Generator, n: int, opts: dict) -> Split:
        """x: (n, T, 1) = sin(w t + phi) + noise * N(0, 1) for t = 0..T-1, with
        w ~ U(SINE_OMEGA) and phi ~ U[0, 2 pi); y: (n, 1) = sin(w T + phi), the clean next
        value."""
        t, noise = opts["steps"], opts["noise"]
        omega = rng.uniform(*SINE_OMEGA, size=(n, 1))
        phase = rng.uniform(0.0, 2 * np.pi, size=(n, 1))
        wave = np.sin(omega * np.arange(t + 1) + phase)
        x = wave[:, :t] + noise * rng.standard_normal((n, t))
        return Split(x[:, :, None], wave[:, t:])
