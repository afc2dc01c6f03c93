"""Tokens and vocabularies: text <-> token ids.

Tokens. `chars`: every character is a token (newlines and spaces included), so
detokenising is joining. `words`: tokens are the whitespace-separated words, so
detokenising joins them with one space (line breaks and runs of spaces are not kept).

Vocabulary. The sorted distinct tokens of the training text. If the validation or test
text holds tokens the training text lacks, they are mapped to one extra token, UNK
(U+FFFD for chars, `<unk>` for words), appended to the vocabulary; otherwise there is no
UNK. A model stores its vocabulary with its weights (`Vocab.arrays`: key `vocab`, a numpy
unicode array, and `vocab_tokens`, 'chars' or 'words'), readable with allow_pickle=False.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from nncli.errors import InputError
from nncli.formatting import plural

TOKEN_MODES = ("chars", "words")
UNK = {"chars": "\ufffd", "words": "<unk>"}
VOCAB_KEY, VOCAB_MODE_KEY = "vocab", "vocab_tokens"


def tokenize(text: str, mode: str) -> list[str]:
    """chars: every character; words: text.split() (whitespace-separated words)."""
    return list(text) if mode == "chars" else text.split()


def detokenize(tokens: Sequence[str], mode: str) -> str:
    return "".join(tokens) if mode == "chars" else " ".join(tokens)


@dataclass(frozen=True)
class Vocab:
    """tokens[i] is the token with id i; mode is 'chars' or 'words'; unk is UNK's id or None."""

    tokens: tuple[str, ...]
    mode: str
    index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", {t: i for i, t in enumerate(self.tokens)})

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def unk(self) -> int | None:
        return self.index.get(UNK[self.mode])

    @classmethod
    def build(cls, train_tokens: Sequence[str], mode: str,
              others: Sequence[Sequence[str]] = ()) -> Vocab:
        """The sorted distinct training tokens, plus UNK if `others` hold unseen ones."""
        tokens = sorted(set(train_tokens))
        known = set(tokens)
        if any(t not in known for part in others for t in part):
            tokens.append(UNK[mode])
        return cls(tuple(tokens), mode)

    def unknown(self, tokens: Sequence[str]) -> list[str]:
        """The distinct tokens (in order of appearance) that are not in the vocabulary."""
        return list(dict.fromkeys(t for t in tokens if t not in self.index))

    def encode(self, tokens: Sequence[str]) -> np.ndarray:
        """int64 ids; unknown tokens become UNK if the vocabulary has it, else KeyError."""
        unk = self.unk
        if unk is None:
            return np.array([self.index[t] for t in tokens], dtype=np.int64)
        return np.array([self.index.get(t, unk) for t in tokens], dtype=np.int64)

    def decode(self, ids: Sequence[int] | np.ndarray) -> list[str]:
        return [self.tokens[int(i)] for i in ids]

    def nearest(self, token: str, n: int = 3) -> list[str]:
        """Known tokens close to an unknown one: its other case, then difflib's matches."""
        out = [t for t in (token.lower(), token.upper(), token.capitalize())
               if t != token and t in self.index]
        out += difflib.get_close_matches(token, [t for t in self.tokens if len(t) > 1 or
                                                 self.mode == "chars"], n=n, cutoff=0.6)
        return list(dict.fromkeys(out))[:n]

    def arrays(self) -> dict[str, np.ndarray]:
        """What a weights file or checkpoint stores: plain unicode arrays (no pickling)."""
        return {VOCAB_KEY: np.array(self.tokens, dtype=str),
                VOCAB_MODE_KEY: np.array(self.mode)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], source: str) -> Vocab:
        """The vocabulary stored by `arrays()`; a file without one is an InputError."""
        if VOCAB_KEY not in arrays:
            raise InputError(f"{source}: holds no vocabulary (no '{VOCAB_KEY}' array); text "
                             f"models need the checkpoint 'nncli train' writes for a text "
                             f"dataset (best.npz / last.npz) or weights from 'nncli init'")
        tokens, mode = arrays[VOCAB_KEY], arrays.get(VOCAB_MODE_KEY, np.array("chars"))
        if tokens.dtype.kind != "U" or tokens.ndim != 1 or mode.dtype.kind != "U" \
                or str(mode) not in TOKEN_MODES or len(set(tokens.tolist())) != tokens.size:
            raise InputError(f"{source}: the '{VOCAB_KEY}' array is damaged (expected "
                             f"distinct strings and '{VOCAB_MODE_KEY}' = chars or words)")
        return cls(tuple(tokens.tolist()), str(mode))


def prompt_tokens(prompt: str, vocab: Vocab, skip_unknown: bool,
                  dropped: Callable[[list[str]], None] = lambda unknown: None) -> list[str]:
    """The tokens of `--prompt` for a model with `vocab`. Tokens the vocabulary lacks are an
    InputError naming each (up to six) with its nearest known ones; with `skip_unknown`
    they are dropped, and `dropped` hears which (the command notes them) before the
    tokens are returned or, if none is left, before that error is raised."""
    tokens = tokenize(prompt, vocab.mode)
    unit = "character" if vocab.mode == "chars" else "word"
    if not tokens:
        raise InputError(f"--prompt: empty; give at least one {unit} to continue, e.g. "
                         f"--prompt \"the\"")
    unknown = vocab.unknown(tokens)
    if unknown and not skip_unknown:
        shown = []
        for t in unknown[:6]:
            near = vocab.nearest(t)
            shown.append(repr(t) + (f" (nearest: {', '.join(map(repr, near))})" if near else ""))
        more = f" and {len(unknown) - 6} more" if len(unknown) > 6 else ""
        raise InputError(f"--prompt: {plural(len(unknown), unit)} not in the model's vocabulary "
                         f"of {len(vocab)}: {'; '.join(shown)}{more}; rephrase, or pass "
                         f"--skip-unknown to drop them")
    if unknown:
        tokens = [t for t in tokens if t in vocab.index]
        dropped(unknown)
        if not tokens:
            raise InputError("--prompt: no known characters or words left after dropping "
                             "the unknown ones")
    return tokens


def show_token(token: str) -> str:
    """A token made visible in a table: '␣' for a space, '⏎' for a newline, '⇥' for a tab."""
    return token.replace(" ", "␣").replace("\n", "⏎").replace("\t", "⇥") or "∅"
