"""Sampling and completion: continue a prompt token by token (temperature, top-k, seeded)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nncli.text.model import check_text_model, next_log_probs
from nncli.text.vocab import Vocab, detokenize


def sampling_probs(log_probs: np.ndarray, temperature: float, top_k: int | None
                   ) -> np.ndarray:
    """The distribution a token is drawn from: P^(1/temperature), renormalised over the
    top_k most likely tokens (all if None). temperature 0 puts all mass on the most likely
    token (the lowest id among ties): greedy decoding."""
    v = log_probs.size
    order = np.argsort(-log_probs, kind="stable")
    if temperature == 0:
        p = np.zeros(v)
        p[order[0]] = 1.0
        return p
    keep = order[: top_k or v]
    z = np.full(v, -np.inf)
    z[keep] = log_probs[keep] / temperature
    z -= z[keep].max()
    p = np.exp(z)
    return p / p.sum()


def draw(p: np.ndarray, rng: np.random.Generator) -> int:
    """Inverse-CDF sampling with one rng.random() per token (first id whose CDF > u)."""
    cdf = np.cumsum(p)
    return int(min(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"), p.size - 1))


@dataclass
class Step:
    """One generated token: its probability under the model and the top candidates."""

    token: str
    p: float                                 # P(token) under the model (temperature 1)
    p_sample: float                          # P(token) under the sampling distribution
    candidates: list[tuple[str, float, float]]   # (token, P model, P sampling), top first


@dataclass
class Completion:
    prompt: list[str]
    tokens: list[str]
    steps: list[Step]
    window: int
    mode: str

    @property
    def text(self) -> str:
        return detokenize(self.tokens, self.mode)


def complete(model, vocab: Vocab, prompt: Sequence[str], length: int, temperature: float = 1.0,
             top_k: int | None = None, seed: int = 0, candidates: int = 5) -> Completion:
    """Continue `prompt` (tokens, all in the vocabulary) by `length` tokens.

    Each token is drawn from `sampling_probs` with a numpy Generator seeded by `seed`, so the
    same arguments give the same text; temperature 0 is greedy. Each step records the
    `candidates` most likely tokens under the model."""
    window = check_text_model(model, vocab, "--weights")
    from nncli.budget import check_budget

    check_budget((300 + 150 * candidates) * length, "--length", f"{length:,} tokens",
                 "use a smaller --length")
    rng = np.random.default_rng(seed)
    ids = list(vocab.encode(prompt))
    steps = []
    for _ in range(length):
        logp = next_log_probs(model, np.array([ids]), window)[0]
        p_model = np.exp(logp)
        p = sampling_probs(logp, temperature, top_k)
        choice = draw(p, rng)
        top = np.argsort(-logp, kind="stable")[:candidates]
        steps.append(Step(vocab.tokens[choice], float(p_model[choice]), float(p[choice]),
                          [(vocab.tokens[j], float(p_model[j]), float(p[j])) for j in top]))
        ids.append(choice)
    return Completion(list(prompt), [s.token for s in steps], steps, window, vocab.mode)
