"""The agreement grammar: English-like sentences whose main verb agrees in number with a
subject that may sit many words before it, and the test pairs that score a model on it.
The `agreement` dataset (nncli/datasets/agreement.py) is text drawn from this grammar.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

NOUNS = ("dog", "cat", "bird", "horse", "farmer", "teacher", "girl", "boy")
VERBS = ("run", "sleep", "sing", "smile", "wait", "laugh")           # the main verbs
TRANSITIVE = ("chase", "see", "like", "follow", "feed", "know")      # in relative clauses
ADJECTIVES = ("big", "small", "old", "young", "happy", "lazy")
PREPOSITIONS = ("near", "behind", "with")
MODIFIER_P = (0.2, 0.25, 0.25, 0.2, 0.1)       # P(0..4 modifiers) in the training text
FILLERS = ("very", "really", "quite", "still", "often", "now")   # carry no number
MAX_FILLERS = 200


class Uniforms:
    """Uniform numbers in [0, 1) from a numpy Generator, drawn in blocks: the grammar asks
    for one per decision, and a Generator call per word would dominate the time."""

    def __init__(self, rng: np.random.Generator, block: int = 4096) -> None:
        self.rng, self.block = rng, block
        self.buf, self.pos = rng.random(block).tolist(), 0

    def __call__(self) -> float:
        if self.pos == self.block:
            self.buf, self.pos = self.rng.random(self.block).tolist(), 0
        self.pos += 1
        return self.buf[self.pos - 1]

    def pick(self, options: Sequence[str]) -> str:
        return options[int(self() * len(options))]         # u < 1, so the index < len


def agreement_sentence(u: Uniforms, modifiers: int | None = None, attractors: bool = False,
                       span: tuple[int, int] | None = None, fillers: int | None = None,
                       filler_span: tuple[int, int] | None = None
                       ) -> tuple[list[str], int, int]:
    """One sentence of the agreement grammar: (words, subject index, main verb index).

        S   -> the [ADJ] N  MOD*  V  .          V agrees in number with N
        MOD -> PREP the [ADJ] N                 "near the cats"
             | that the [ADJ] N [PP] Vt         "that the cats chase" (Vt agrees with its N)

    With `fillers` (or a count drawn uniformly from `filler_span`), K words from FILLERS
    (adverbs: no nouns, no number) follow the subject noun: "the dogs very still run ."

    e.g. "the dog that the cats chase runs ." Training text: 0-4 modifiers (MODIFIER_P), or
    uniformly span[0]..span[1] of them, each noun's number a coin flip, adjectives with
    p = 0.25. With `modifiers` fixed and
    `attractors`, every noun between subject and verb has the other number and there are no
    adjectives or inner PPs, so the words between subject and verb are exactly 3 per PP and
    4 per relative clause: the agreement test set. Plurals and 3rd-person verbs add an 's'.
    """
    adj_p, inner_pp = (0.0, 0.0) if attractors else (0.25, 0.15)
    if modifiers is None and span is not None:
        modifiers = span[0] + int(u() * (span[1] - span[0] + 1))
    if modifiers is None:                          # inverse CDF of MODIFIER_P
        r, modifiers = u(), 0
        while modifiers < len(MODIFIER_P) - 1 and r >= MODIFIER_P[modifiers]:
            r -= MODIFIER_P[modifiers]
            modifiers += 1
    plural = u() < 0.5

    def noun_phrase(number: bool) -> list[str]:
        adj = [u.pick(ADJECTIVES)] if u() < adj_p else []
        return ["the", *adj, u.pick(NOUNS) + ("s" if number else "")]

    def verb(options: Sequence[str], number: bool) -> str:
        return u.pick(options) + ("" if number else "s")

    if fillers is None and filler_span is not None:
        fillers = filler_span[0] + int(u() * (filler_span[1] - filler_span[0] + 1))
    words = noun_phrase(plural)
    subject = len(words) - 1
    words += [u.pick(FILLERS) for _ in range(fillers or 0)]
    for _ in range(modifiers):
        other = (not plural) if attractors else u() < 0.5
        if u() < 0.5:
            words += [u.pick(PREPOSITIONS), *noun_phrase(other)]
        else:
            words += ["that", *noun_phrase(other)]
            if u() < inner_pp:
                words += [u.pick(PREPOSITIONS), *noun_phrase(u() < 0.5)]
            words.append(verb(TRANSITIVE, other))
    main = len(words)
    words += [verb(VERBS, plural), "."]
    return words, subject, main


@dataclass(frozen=True)
class AgreementPair:
    """A context ending just before the main verb, and its right and wrong verb forms."""

    context: tuple[str, ...]
    right: str
    wrong: str
    modifiers: int
    distance: int               # words strictly between the subject noun and the verb
    fillers: int = 0            # filler words right after the subject (data.fillers)


def agreement_pairs(seed: int, per_bucket: int = 200, max_modifiers: int = 4,
                    fillers: Sequence[int] = ()) -> list[AgreementPair]:
    """Test pairs with 0..max_modifiers modifiers, all of them attractors (the other number),
    drawn from their own random stream (seed, 'agreement-pairs'), not the training text's.
    With `fillers` (counts K), the buckets are instead "the N F^K" with K filler words and
    no modifiers, one bucket per K (for models trained with data.fillers).
    Each context starts with '.', as a sentence inside the training text does."""
    from nncli.budget import check_budget

    buckets = [(0, k) for k in fillers] or [(m, 0) for m in range(max_modifiers + 1)]
    longest = max(k for _, k in buckets)                  # fillers make contexts longer
    check_budget(4000 * len(buckets) * per_bucket * max(1, longest // 16), "--pairs",
                 f"{per_bucket:,} test sentences per row", "use a smaller --pairs")
    u = Uniforms(np.random.default_rng([seed, zlib.crc32(b"agreement-pairs")]))
    pairs = []
    for m, k in buckets:
        for _ in range(per_bucket):
            words, subject, verb = agreement_sentence(u, m, attractors=True, fillers=k)
            right = words[verb]
            wrong = right[:-1] if right.endswith("s") else right + "s"
            pairs.append(AgreementPair((".", *words[:verb]), right, wrong, m,
                                       verb - subject - 1, k))
    return pairs
