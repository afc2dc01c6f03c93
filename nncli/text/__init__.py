"""Text for recurrent models, by concern. Pure core: nothing here prints.

    vocab.py      tokens (chars or words) and the vocabulary: text <-> ids
    grammar.py    the agreement grammar: sentences and attractor test pairs
    model.py      a language model's checks, next-token log-probs, the unigram baseline
    sampling.py   sampling and completion (temperature, top-k, seeded)
    agreement.py  agreement scoring: P(right verb) vs P(wrong verb) per bucket

Text datasets (sonnets, agreement, text files: token streams and windows) are datasets
like the others: nncli/datasets/streams.py and the files next to it. The names below are
the package's public API, so `from nncli import text; text.complete(...)` reads as before.
"""

from nncli.text.agreement import AgreementRow, score_agreement
from nncli.text.grammar import (
    ADJECTIVES,
    FILLERS,
    MAX_FILLERS,
    MODIFIER_P,
    NOUNS,
    PREPOSITIONS,
    TRANSITIVE,
    VERBS,
    AgreementPair,
    Uniforms,
    agreement_pairs,
    agreement_sentence,
)
from nncli.text.model import check_text_model, next_log_probs, unigram_perplexity
from nncli.text.sampling import Completion, Step, complete, draw, sampling_probs
from nncli.text.vocab import (
    TOKEN_MODES,
    UNK,
    VOCAB_KEY,
    VOCAB_MODE_KEY,
    Vocab,
    detokenize,
    prompt_tokens,
    show_token,
    tokenize,
)

__all__ = [
    "ADJECTIVES", "FILLERS", "MAX_FILLERS", "MODIFIER_P", "NOUNS", "PREPOSITIONS",
    "TOKEN_MODES", "TRANSITIVE", "UNK", "VERBS", "VOCAB_KEY", "VOCAB_MODE_KEY",
    "AgreementPair", "AgreementRow", "Completion", "Step", "Uniforms", "Vocab",
    "agreement_pairs", "agreement_sentence", "check_text_model", "complete",
    "detokenize", "draw", "next_log_probs", "prompt_tokens", "sampling_probs",
    "score_agreement",
    "show_token", "tokenize", "unigram_perplexity",
]
