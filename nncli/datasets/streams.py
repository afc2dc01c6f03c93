"""Text datasets: a token stream per split, cut into windows for a language model.

A text dataset (sonnets, agreement, `path: FILE` with `tokens:`) tokenises its text
(nncli.text.vocab: `chars` or `words`) into a stream per split and builds the vocabulary
from the training stream. A stream read from one text is split in order (the first 90% of
the text trains, the next 5% validates, the last 5% tests: no window straddles two
splits), then cut into windows of `window` tokens: x = ids[i : i+T], y = ids[i+1 : i+T+1]
(the next token at every step), for i = 0, stride, 2 stride, ...; the tail shorter than a
window is dropped. Each window is an independent sequence that starts from state 0, so
backpropagation through time is truncated at `window` steps, and a trained model has seen
contexts of at most `window` tokens: `complete` and the agreement scorer therefore
condition on the last `window` tokens.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nncli.datasets.base import Dataset, DatasetKind, Source, Split
from nncli.datasets.option_kinds import Fractions
from nncli.options import Option
from nncli.text.vocab import TOKEN_MODES, Vocab, tokenize

MAX_TEXT_BYTES = 64 * 1024 * 1024
CACHE_SIZE = 8


def text_options(tokens: str | None, window: int) -> dict[str, Option]:
    """`tokens:`, `window:` and `stride:`, the options of every text dataset (tokens None:
    required)."""
    from nncli.options import REQUIRED

    return {"tokens": Option(TOKEN_MODES, REQUIRED if tokens is None else tokens,
                             "chars: every character is a token; words: the "
                             "whitespace-separated words"),
            "window": Option("int>=1", window, "tokens per training sequence (the "
                             "context a model learns)"),
            "stride": Option("int>=1?", None, "tokens between window starts (null: "
                             "the window)")}


SPLIT_OPTION = Option(Fractions(), [0.9, 0.05, 0.05],
                      "fractions [train, val, test] of the text, in order")


@dataclass(frozen=True)
class Streams:
    """A text dataset before windowing: the vocabulary and each split's ids."""

    name: str
    vocab: Vocab
    window: int
    stride: int
    ids: tuple[np.ndarray, np.ndarray, np.ndarray]


class TextDataset(DatasetKind):
    """A dataset of token windows: a subclass implements `token_splits` (and `stamp` if
    it reads a file that may change between two loads in one process)."""

    text = True

    def token_splits(self, opts: dict, src: Source) -> list[list[str]]:
        """The train, val and test token lists."""
        raise NotImplementedError

    def stamp(self, opts: dict, src: Source) -> tuple:
        """What, besides the options and the seed, the tokens depend on."""
        return ()

    def streams(self, opts: dict, src: Source) -> Streams:
        """The vocabulary and ids of each split (cached: a spec that sizes its layers with
        `vocab` and the trainer both ask for them)."""
        key = (self.name, json.dumps({k: v for k, v in opts.items()
                                      if k not in ("window", "stride")},
                                     sort_keys=True, default=str),
               self.stamp(opts, src), src.seed)
        if key not in _CACHE:
            parts = self.token_splits(opts, src)
            vocab = Vocab.build(parts[0], opts["tokens"], parts[1:])
            while len(_CACHE) >= CACHE_SIZE:
                _CACHE.pop(next(iter(_CACHE)))
            _CACHE[key] = vocab, tuple(vocab.encode(p) for p in parts)
        vocab, ids = _CACHE[key]
        window = opts["window"]
        stride = window if opts["stride"] is None else opts["stride"]
        return Streams(str(opts.get("name", opts.get("path"))), vocab, window, stride, ids)

    def load(self, opts: dict, src: Source) -> Dataset:
        """Windows of ids; the labels are the next ids."""
        s = self.streams(opts, src)
        label = src.label("window")
        splits = [Split(*windows(ids, s.window, s.stride, label)) for ids in s.ids]
        if len(splits[0]) == 0:
            raise src.error("window", f"the training text has {len(s.ids[0])} tokens, too "
                            f"few for one window of {s.window} (+1 for the labels); use a "
                            f"smaller window or more text")
        return Dataset(s.name, "classification", len(s.vocab), *splits, vocab=s.vocab)


_CACHE: dict[tuple, tuple[Vocab, tuple[np.ndarray, ...]]] = {}


def windows(ids: np.ndarray, window: int, stride: int, label: str = "data.window"
            ) -> tuple[np.ndarray, np.ndarray]:
    """x (N, T) float64 ids and y (N, T) int64 next ids: x = ids[i:i+T], y = ids[i+1:i+T+1]."""
    from nncli.budget import check_budget

    n = (len(ids) - 1 - window) // stride + 1 if len(ids) > window else 0
    check_budget(32 * n * window, label, f"{n:,} windows of {window} tokens",
                 "use a larger data.stride or a smaller data.window")
    starts = np.arange(n) * stride
    idx = starts[:, None] + np.arange(window)
    return ids[idx].astype(np.float64), ids[idx + 1].astype(np.int64)


def split_in_order(tokens: list[str], fractions: list[float], src: Source) -> list[list[str]]:
    """The first, middle and last parts of one token list, sized by `fractions`."""
    from nncli.datasets.files import split_counts

    edges = np.cumsum(split_counts(fractions, len(tokens), src))
    return [tokens[:edges[0]], tokens[edges[0]:edges[1]], tokens[edges[1]:]]


def read_text(path: Path, raw: str, src: Source) -> str:
    """A UTF-8 text file (at most MAX_TEXT_BYTES), with Windows line ends made plain."""
    if not path.is_file():
        raise src.error("path", f"the text file '{path}' is missing; reinstall nncli")
    if path.stat().st_size > MAX_TEXT_BYTES:
        raise src.error("path", f"'{raw}' is over {MAX_TEXT_BYTES >> 20} MB; use a smaller "
                        f"text")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise src.error("path", f"'{raw}' is not UTF-8 text (byte {err.start}); save it as "
                        f"UTF-8") from None
    except OSError as err:
        raise src.error("path", f"cannot read '{raw}': {err.strerror or err}") from None
    if "\x00" in text:
        raise src.error("path", f"'{raw}' holds NUL bytes: it is not a text file")
    text = text.replace("\r\n", "\n")
    if not text.strip():
        raise src.error("path", f"'{raw}' holds no text")
    return text


def read_tokens(path: Path, raw: str, opts: dict, src: Source) -> list[list[str]]:
    """A text file tokenised and split in order: what sonnets and text files share."""
    return split_in_order(tokenize(read_text(path, raw, src), opts["tokens"]), opts["split"],
                          src)
