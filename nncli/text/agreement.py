"""Agreement scoring: does a model prefer the verb form that agrees with the subject?"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nncli.errors import InputError
from nncli.text.grammar import FILLERS, AgreementPair
from nncli.text.model import check_text_model, next_log_probs
from nncli.text.vocab import Vocab


@dataclass
class AgreementRow:
    """Scores of one bucket of pairs (same number of modifiers)."""

    modifiers: int
    distance: tuple[int, int]       # smallest and largest words between subject and verb
    pairs: int
    accuracy: float                 # share of pairs with P(right) > P(wrong)
    p_right: float                  # mean of P(right) / (P(right) + P(wrong))
    fillers: int = 0                # filler words after the subject (0 without --fillers)


def score_agreement(model, vocab: Vocab, pairs: Sequence[AgreementPair],
                    source: str = "MODEL") -> list[AgreementRow]:
    """For each pair, compare the model's next-token probabilities of the right and the wrong
    verb form after the context; summarise per number of modifiers. `source` names the
    model in errors (which of several failed)."""
    window = check_text_model(model, vocab, source)
    needed = {t for p in pairs for t in (*p.context, p.right, p.wrong)}
    missing = sorted(t for t in needed if t not in vocab.index)
    lacks = f"{', '.join(map(repr, missing[:5]))}{' …' if len(missing) > 5 else ''}"
    if missing and set(missing) <= set(FILLERS):    # an agreement model, without fillers
        raise InputError(f"{source}: the vocabulary lacks the filler words {lacks}: the "
                         f"model was trained without data.fillers; train one with them "
                         f"(e.g. --set data.fillers=[0,30], as configs/agreement_far_rnn.yaml"
                         f" does), or drop --fillers")
    if missing:
        raise InputError(f"{source}: the vocabulary lacks {lacks}; score a model trained on "
                         f"data: {{name: agreement}}")
    margin = np.empty(len(pairs))
    by_len: dict[int, list[int]] = {}
    for i, p in enumerate(pairs):
        by_len.setdefault(len(p.context), []).append(i)
    for group in by_len.values():            # one batch per context length
        ids = np.array([vocab.encode(pairs[i].context) for i in group])
        logp = next_log_probs(model, ids, window)
        right = logp[np.arange(len(group)), vocab.encode([pairs[i].right for i in group])]
        wrong = logp[np.arange(len(group)), vocab.encode([pairs[i].wrong for i in group])]
        margin[group] = right - wrong        # log P(right) - log P(wrong)
    rows = []
    for m, k in sorted({(p.modifiers, p.fillers) for p in pairs}):
        idx = [i for i, p in enumerate(pairs) if (p.modifiers, p.fillers) == (m, k)]
        dist = [pairs[i].distance for i in idx]
        d = margin[idx]
        rows.append(AgreementRow(m, (min(dist), max(dist)), len(idx),
                                 float(np.mean(d > 0)),
                                 float(np.mean(1.0 / (1.0 + np.exp(-d)))), k))
    return rows
