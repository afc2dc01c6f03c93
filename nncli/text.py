"""Text for recurrent models: tokens, vocabularies, text datasets, the agreement grammar,
sampling and agreement scoring. Pure core: nothing here prints.

Tokens. `chars`: every character is a token (newlines and spaces included), so
detokenising is joining. `words`: tokens are the whitespace-separated words, so
detokenising joins them with one space (line breaks and runs of spaces are not kept).

Vocabulary. The sorted distinct tokens of the training text. If the validation or test
text holds tokens the training text lacks, they are mapped to one extra token, UNK
(U+FFFD for chars, `<unk>` for words), appended to the vocabulary; otherwise there is no
UNK. A model stores its vocabulary with its weights (`Vocab.arrays`: key `vocab`, a numpy
unicode array, and `vocab_tokens`, 'chars' or 'words'), readable with allow_pickle=False.

Text datasets (`data:` in a spec; options after the name):

    sonnets    tokens: chars  window: 64  stride: (= window)  split: [0.9, 0.05, 0.05]
    agreement  tokens: words  window: 32  stride: (= window)  train: 20000 val: 1000
               test: 1000 (sentences, generated from the spec's seed)
               modifiers: (0-4, mostly 1-3) or [low, high] between subject and verb
               fillers: (none) or [low, high] number-neutral words right after the
               subject ("the dogs very still often run ."), drawn uniformly
    path: FILE, tokens: chars|words   as sonnets (a UTF-8 text file; `tokens:` is required)

A token stream is split into train/val/test in order (the first 90% of the text trains,
the next 5% validates, the last 5% tests: no window straddles two splits), then cut into
windows of `window` tokens: x = ids[i : i+T], y = ids[i+1 : i+T+1] (the next token at every
step), for i = 0, stride, 2 stride, ...; the tail shorter than a window is dropped. Each
window is an independent sequence that starts from state 0, so backpropagation through
time is truncated at `window` steps, and a trained model has seen contexts of at most
`window` tokens: `complete` and the agreement scorer therefore condition on the last
`window` tokens.
"""

from __future__ import annotations

import difflib
import functools
import json
import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nncli.errors import InputError

TOKEN_MODES = ("chars", "words")
UNK = {"chars": "\ufffd", "words": "<unk>"}
VOCAB_KEY, VOCAB_MODE_KEY = "vocab", "vocab_tokens"
SONNETS_PATH = Path(__file__).resolve().parent.parent / "data" / "sonnets.txt"
MAX_TEXT_BYTES = 64 * 1024 * 1024


# --------------------------------------------------------------------------- tokens

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


def show_token(token: str) -> str:
    """A token made visible in a table: '␣' for a space, '⏎' for a newline, '⇥' for a tab."""
    return token.replace(" ", "␣").replace("\n", "⏎").replace("\t", "⇥") or "∅"


# --------------------------------------------------------------------------- datasets

_TEXT_OPTIONS = {"tokens": "chars", "window": 64, "stride": None, "split": [0.9, 0.05, 0.05]}
_AGREEMENT_OPTIONS = {"tokens": "words", "window": 32, "stride": None, "train": 20000,
                      "val": 1000, "test": 1000, "modifiers": None,
                      "fillers": None}


def is_text_config(cfg: dict) -> bool:
    """Does this `data:` mapping describe a text dataset (tokens, windows, a vocabulary)?"""
    from nncli.data import TEXT_DATASETS

    name = cfg.get("name")
    return "tokens" in cfg or (isinstance(name, str) and name in TEXT_DATASETS)


@dataclass(frozen=True)
class Streams:
    """A text dataset before windowing: the vocabulary and each split's ids."""

    name: str
    vocab: Vocab
    window: int
    stride: int
    ids: tuple[np.ndarray, np.ndarray, np.ndarray]


def text_streams(cfg: dict, base_dir: Path, seed: int) -> Streams:
    """Validate a text `data:` mapping and tokenise its three splits (cached per config)."""
    from nncli import data as D

    if ("name" in cfg) == ("path" in cfg):
        raise InputError("data: give exactly one of 'name:' (a built-in dataset) or 'path:' "
                         "(a file)")
    if "path" in cfg:
        opts = D._options(cfg, _TEXT_OPTIONS, "a text file", extra="path")
        path = D.require_file(D.data_file(opts["path"], base_dir), opts["path"])
        stamp = path.stat().st_mtime_ns
        name = str(opts["path"])
    else:
        name = cfg["name"]
        defaults = _AGREEMENT_OPTIONS if name == "agreement" else _TEXT_OPTIONS
        opts = D._options(cfg, defaults, f"dataset '{name}'", extra="name")
        path, stamp = (None, 0) if name == "agreement" else (SONNETS_PATH, 0)
    mode = opts["tokens"]
    if mode not in TOKEN_MODES:
        raise InputError(f"data.tokens: expected chars or words, got {mode!r}")
    window = D._int(opts, "window", 1)
    stride = window if opts["stride"] is None else D._int(opts, "stride", 1)
    key = json.dumps({k: v for k, v in opts.items() if k not in ("window", "stride")},
                     sort_keys=True, default=str)
    vocab, ids = _tokenised(key, str(path), stamp, seed)
    return Streams(name, vocab, window, stride, ids)


@functools.lru_cache(maxsize=8)
def _tokenised(key: str, path: str, stamp: int, seed: int):
    """(vocab, ids per split) for one config; cached because a spec that sizes its layers
    with `vocab` and the trainer both ask for it."""
    from nncli import data as D

    opts = json.loads(key)
    mode = opts["tokens"]
    if opts.get("name") == "agreement":
        counts = [D._int(opts, k, 1 if k == "train" else 0) for k in D.SPLITS]
        span = _modifier_span(opts["modifiers"])
        fill = _filler_span(opts["fillers"])
        from nncli.budget import check_budget

        words = 8 + 4 * (span[1] if span else 4) + (fill[1] if fill else 0)   # longest
        check_budget(100 * words * sum(counts), "data.agreement", f"generating "
                     f"{sum(counts):,} sentences", "ask for fewer (data.train, data.val, "
                     "data.test)")
        parts = []
        for i, n in enumerate(counts):
            u = Uniforms(np.random.default_rng([seed, zlib.crc32(b"agreement"), i]))
            text = " ".join(" ".join(agreement_sentence(u, span=span, filler_span=fill)[0])
                            for _ in range(n))
            parts.append(tokenize(text, mode))
    else:
        text = _read_text(Path(path), opts.get("path", "sonnets"))
        tokens = tokenize(text, mode)
        counts = D._split_counts(opts["split"], len(tokens))
        edges = np.cumsum(counts)
        parts = [tokens[:edges[0]], tokens[edges[0]:edges[1]], tokens[edges[1]:]]
    vocab = Vocab.build(parts[0], mode, parts[1:])
    return vocab, tuple(vocab.encode(p) for p in parts)


def _modifier_span(value: Any) -> tuple[int, int] | None:
    """data.modifiers: null (0-4 with MODIFIER_P) or [low, high], drawn uniformly."""
    if value is None:
        return None
    ok = (isinstance(value, list) and len(value) == 2 and all(
        isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 20 for v in value)
        and value[0] <= value[1])
    if not ok:
        raise InputError(f"data.modifiers: expected [low, high] with 0 <= low <= high <= 20 "
                         f"(modifiers between subject and verb), got {value!r}")
    return value[0], value[1]


def _filler_span(value: Any) -> tuple[int, int] | None:
    """data.fillers: null (none) or [low, high] filler words after the subject, uniformly."""
    if value is None:
        return None
    ok = (isinstance(value, list) and len(value) == 2 and all(
        isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= MAX_FILLERS
        for v in value) and value[0] <= value[1])
    if not ok:
        raise InputError(f"data.fillers: expected [low, high] with 0 <= low <= high <= "
                         f"{MAX_FILLERS} (filler words between subject and verb), got "
                         f"{value!r}")
    return value[0], value[1]


def _read_text(path: Path, raw: str) -> str:
    if not path.is_file():
        raise InputError(f"data.path: the text file '{path}' is missing; run nncli from a "
                         f"source checkout")
    if path.stat().st_size > MAX_TEXT_BYTES:
        raise InputError(f"data.path: '{raw}' is over {MAX_TEXT_BYTES >> 20} MB; use a "
                         f"smaller text")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(f"data.path: '{raw}' is not UTF-8 text (byte {err.start}); save it "
                         f"as UTF-8") from None
    except OSError as err:
        raise InputError(f"data.path: cannot read '{raw}': {err.strerror or err}") from None
    if "\x00" in text:
        raise InputError(f"data.path: '{raw}' holds NUL bytes: it is not a text file")
    text = text.replace("\r\n", "\n")
    if not text.strip():
        raise InputError(f"data.path: '{raw}' holds no text")
    return text


def windows(ids: np.ndarray, window: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """x (N, T) float64 ids and y (N, T) int64 next ids: x = ids[i:i+T], y = ids[i+1:i+T+1]."""
    n = (len(ids) - 1 - window) // stride + 1 if len(ids) > window else 0
    from nncli.budget import check_budget

    check_budget(32 * n * window, "data.window", f"{n:,} windows of {window} tokens",
                 "use a larger data.stride or a smaller data.window")
    starts = np.arange(n) * stride
    idx = starts[:, None] + np.arange(window)
    return ids[idx].astype(np.float64), ids[idx + 1].astype(np.int64)


def load_text_dataset(cfg: dict, base_dir: Path, seed: int):
    """The Dataset of a text `data:` mapping: windows of ids, labels the next ids."""
    from nncli.data import Dataset, Split

    s = text_streams(cfg, base_dir, seed)
    splits = [Split(*windows(ids, s.window, s.stride)) for ids in s.ids]
    if len(splits[0]) == 0:
        raise InputError(f"data.window: the training text has {len(s.ids[0])} tokens, too "
                         f"few for one window of {s.window} (+1 for the labels); use a "
                         f"smaller window or more text")
    return Dataset(s.name, "classification", len(s.vocab), *splits, vocab=s.vocab)


def unigram_perplexity(train_ids: np.ndarray, eval_ids: np.ndarray, size: int) -> float:
    """Perplexity of the unigram model (token frequencies of the training labels, add-one
    smoothed) on eval_ids: the baseline a model that ignores context cannot beat."""
    counts = np.bincount(np.asarray(train_ids).ravel(), minlength=size) + 1.0
    logp = np.log(counts / counts.sum())
    return float(math.exp(-logp[np.asarray(eval_ids).ravel()].mean()))


# --------------------------------------------------------------------------- grammar

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


# --------------------------------------------------------------------------- the model

def check_text_model(model, vocab: Vocab, source: str) -> int:
    """Check that model reads token ids and predicts one of len(vocab) tokens per step;
    return its context window T (the input length it was built and trained for)."""
    from nncli.layers import Embedding

    first = model.layers[0]
    if not isinstance(first, Embedding) or len(model.input_shape) != 1:
        raise InputError(f"{source}: the model does not read token ids (its first layer "
                         f"must be 'embedding' with input: [window])")
    out = model.output_shape
    if model.loss_name != "cross_entropy" or len(out) != 2 or out[-1] != len(vocab) \
            or first.vocab != len(vocab):
        raise InputError(f"{source}: the model must predict one of the {len(vocab)} "
                         f"vocabulary tokens at every step (embedding vocab and the last "
                         f"dense units: vocab, loss: cross_entropy); it outputs {out}")
    return model.input_shape[0]


def next_log_probs(model, ids: np.ndarray, window: int) -> np.ndarray:
    """log P(next token | context) for each row of ids (N, L): (N, V). The context is the
    last `window` ids, run from state 0 as in training; a final softmax layer is skipped
    in favour of a stable log-softmax of the scores."""
    from nncli.layers import Softmax
    from nncli.ops import log_softmax

    h = np.asarray(ids, dtype=np.float64)[:, -window:]
    layers = model.layers[:-1] if isinstance(model.layers[-1], Softmax) else model.layers
    for layer in layers:
        h = layer.forward(h)
    return log_softmax(h[:, -1])


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


@dataclass
class AgreementRow:
    """Scores of one bucket of pairs (same number of modifiers)."""

    modifiers: int
    distance: tuple[int, int]       # smallest and largest words between subject and verb
    pairs: int
    accuracy: float                 # share of pairs with P(right) > P(wrong)
    p_right: float                  # mean of P(right) / (P(right) + P(wrong))
    fillers: int = 0                # filler words after the subject (0 without --fillers)


def score_agreement(model, vocab: Vocab, pairs: Sequence[AgreementPair]) -> list[AgreementRow]:
    """For each pair, compare the model's next-token probabilities of the right and the wrong
    verb form after the context; summarise per number of modifiers."""
    window = check_text_model(model, vocab, "MODEL")
    needed = {t for p in pairs for t in (*p.context, p.right, p.wrong)}
    missing = sorted(t for t in needed if t not in vocab.index)
    if missing:
        raise InputError(f"MODEL: the vocabulary lacks {', '.join(map(repr, missing[:5]))}"
                         f"{' …' if len(missing) > 5 else ''}; score a model trained on "
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
