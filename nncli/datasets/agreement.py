"""Sentences of the agreement grammar (nncli.text.grammar), generated from the spec's
seed: a test of whether a model carries a subject's number to its verb."""

from __future__ import annotations

from nncli.datasets.base import SPLITS, Source, name_option, split_rngs
from nncli.datasets.generated import count_options
from nncli.datasets.option_kinds import Span
from nncli.datasets.streams import TextDataset, text_options
from nncli.options import Option
from nncli.text.grammar import MAX_FILLERS, Uniforms, agreement_sentence
from nncli.text.vocab import tokenize

MAX_MODIFIERS = 20


class Agreement(TextDataset):
    name = "agreement"
    summary = "sentences of a seeded grammar with subject-verb agreement across clauses"
    OPTIONS = {
        "name": name_option("agreement"), **text_options("words", 32),
        **count_options(20000, 1000, 1000, "sentences"),
        "modifiers": Option(Span(MAX_MODIFIERS, "modifiers between subject and verb"), None,
                            "[low, high] prepositional phrases or relative clauses between "
                            "subject and verb (null: 0-4, mostly 1-3)"),
        "fillers": Option(Span(MAX_FILLERS, "filler words between subject and verb"), None,
                          "[low, high] number-neutral words right after the subject "
                          "(null: none)"),
    }

    def token_splits(self, opts: dict, src: Source) -> list[list[str]]:
        from nncli.budget import check_budget

        counts = [opts[key] for key in SPLITS]
        span, fill = opts["modifiers"], opts["fillers"]
        words = 8 + 4 * (span[1] if span else 4) + (fill[1] if fill else 0)   # the longest
        check_budget(100 * words * sum(counts), src.label(),
                     f"generating {sum(counts):,} sentences",
                     "ask for fewer (data.train, data.val, data.test)")
        parts = []
        for rng, n in zip(split_rngs(src.seed, self.name), counts, strict=True):
            u = Uniforms(rng)
            text = " ".join(" ".join(agreement_sentence(u, span=span, filler_span=fill)[0])
                            for _ in range(n))
            parts.append(tokenize(text, opts["tokens"]))
        return parts

