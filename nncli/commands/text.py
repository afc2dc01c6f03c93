"""`nncli complete` and `nncli agreement`: look inside a trained text model's next-token
predictions. This file parses options, calls the core (nncli/text/) and hands the result to
nncli.render.text, or prints plain JSON with --json.
numpy and rich are imported inside the functions so `nncli --help` stays fast.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import typer

from nncli.app import app
from nncli.commands.options import CONFIG, JSON, SET, draws, length_option, weights_option
from nncli.errors import InputError

TEXT_WEIGHTS = "They hold the vocabulary, as 'nncli train' writes them for a text dataset."
EXPLAIN_K = 5            # candidates shown per step by --explain without --top-k


def load_text_model(config: Path, weights: Path | None, what: str = "CONFIG",
                    overrides: list[str] = ()):
    """A trained text model: nncli.loading.Loaded whose weights hold a vocabulary."""
    from nncli import text
    from nncli.loading import load

    loaded = load(config, weights, need_weights=True, what=what, overrides=overrides)
    source = f"--weights {loaded.weights}"
    if loaded.vocab is None:
        text.Vocab.from_arrays({}, source)          # raises: 'holds no vocabulary ...'
    text.check_text_model(loaded.model, loaded.vocab, source)
    return loaded


# =========================================================================== complete

@app.command("complete")
@draws
def complete_cmd(
    config: Path = CONFIG,
    weights: Path | None = weights_option(extra=TEXT_WEIGHTS),
    overrides: list[str] = SET,
    prompt: str = typer.Option(..., "--prompt", "-p", show_default=False,
                               help="The text to continue: characters or words of the "
                               "model's vocabulary."),
    length: int = length_option(80),
    temperature: float = typer.Option(1.0, "--temperature", "-t", metavar="T",
                                      help="Sample from P^(1/T): below 1 safer, above 1 "
                                      "wilder; 0 is greedy (always the most likely token)."),
    top_k: int | None = typer.Option(None, "--top-k", "-k", metavar="K",
                                     help="Sample only among the K most likely tokens; "
                                     "--explain shows K candidates (default 5)."),
    seed: int = typer.Option(0, "--seed", metavar="S", help="Seed of the sampling: the same "
                             "seed and options give the same text."),
    explain: bool = typer.Option(False, "--explain", help="For every generated token, a "
                                 "row of the most likely candidates and their probabilities."),
    skip_unknown: bool = typer.Option(False, "--skip-unknown", help="Drop prompt characters "
                                      "or words the vocabulary lacks (default: an error "
                                      "naming them)."),
    as_json: bool = JSON,
) -> None:
    """Continue a prompt with a trained text model, one sampled token at a time.

    The model reads at most its input length ('window') of tokens, the context it was
    trained on: a longer prompt or text is cut to its last window tokens, and each step
    runs the recurrent layer from state 0 over them, as in training.

    Tokens the vocabulary lacks are an error (exit 2) naming them and the nearest known
    ones; --skip-unknown drops them instead. The vocabulary is stored with the weights.

    [bold]Examples[/]

      nncli complete runs/chars --prompt "Shall I compare thee" --length 120

      nncli complete runs/chars --prompt "From fairest" -n 20 -t 0 --explain

      nncli complete runs/agreement -p "the dogs that the cat" -n 3 --explain
    """
    from nncli import text
    from nncli.render.text import dropped_note

    if length < 1:
        raise InputError(f"--length: expected an integer >= 1, got {length}")
    if not math.isfinite(temperature) or temperature < 0:
        raise InputError(f"--temperature: expected a number >= 0 (0 = greedy), got "
                         f"{temperature}")
    if top_k is not None and top_k < 1:
        raise InputError(f"--top-k: expected an integer >= 1, got {top_k}")
    if seed < 0:
        raise InputError(f"--seed: expected an integer >= 0, got {seed}")
    loaded = load_text_model(config, weights, overrides=overrides)
    spec, model, vocab, weights = loaded.spec, loaded.model, loaded.vocab, loaded.weights
    tokens = text.prompt_tokens(prompt, vocab, skip_unknown,
                                dropped=lambda unknown: dropped_note(unknown, vocab.mode))
    k = top_k if top_k is not None else EXPLAIN_K
    result = text.complete(model, vocab, tokens, length, temperature, top_k, seed,
                           candidates=min(k, len(vocab)))
    payload: dict[str, Any] = {
        "schema": "nncli.complete/1", "model": spec.name, "weights": str(weights),
        "tokens": vocab.mode, "window": result.window, "seed": seed,
        "temperature": temperature, "top_k": top_k, "length": length,
        "prompt": text.detokenize(result.prompt, vocab.mode),
        "completion": result.text,
        "text": text.detokenize([*result.prompt, *result.tokens], vocab.mode),
        "steps": [{"token": s.token, "p": s.p, "p_sample": s.p_sample,
                   **({"candidates": [{"token": t, "p": p, "p_sample": q}
                                      for t, p, q in s.candidates]} if explain else {})}
                  for s in result.steps]}
    if as_json:
        from nncli.output import write_json

        write_json(payload)
        return
    from nncli.render.text import show_completion

    show_completion(payload, result, loaded.epoch, explain)


# =========================================================================== agreement

@app.command("agreement")
@draws
def agreement_cmd(
    models: list[Path] = typer.Argument(..., metavar="MODEL...", show_default=False,
                                        help="Run folders of models trained on data: {name: "
                                        "agreement}, or spec files, each with a --weights in "
                                        "the same order."),
    weights: list[Path] | None = weights_option(extra="Repeat it: one for each spec file "
                                                "among MODEL, in order."),
    overrides: list[str] = SET,
    pairs: int = typer.Option(200, "--pairs", metavar="N", help="Test sentences per number "
                              "of modifiers."),
    max_modifiers: int = typer.Option(4, "--max-modifiers", metavar="M", help="Test 0..M "
                                      "modifiers between subject and verb."),
    fillers: str | None = typer.Option(None, "--fillers", metavar="K,K,...", help="Instead "
                                       "of modifiers, test K number-neutral filler words "
                                       "after the subject, a row per K (for models trained "
                                       "with data.fillers), e.g. 0,1,2,5,10,20,40."),
    seed: int = typer.Option(0, "--seed", metavar="S", help="Seed of the test sentences "
                             "(their own random stream, apart from the training text's)."),
    as_json: bool = JSON,
) -> None:
    """Score subject-verb agreement at increasing distances between subject and verb.

    Does the model give the right verb form a higher probability than the wrong one? The
    test sentences come from the agreement grammar with every noun between the
    subject and its verb of the other number ("the dog near the cats that the birds chase
    [runs / run]"), so a model that agrees with the nearest noun scores 0%. Each modifier
    adds 3 words (a prepositional phrase) or 4 (a relative clause). Accuracy is the share
    of sentences with P(right) > P(wrong); mean P is P(right) / (P(right) + P(wrong)).

    [bold]Examples[/]

      nncli agreement runs/agreement_rnn runs/agreement_gru_lite

      nncli agreement configs/agreement_rnn.yaml -w rnn.npz --pairs 500 --json

      nncli agreement runs/far_rnn runs/far_lstm --fillers 0,1,2,5,10,20,40

    With --fillers the test sentences are "the dog very still often [runs / run]": K filler
    words (no nouns, no number) between subject and verb, so the model must carry the
    subject's number K steps. A model sees its last `window` words: keep K + 3 within it.
    """
    from nncli import text

    if pairs < 1:
        raise InputError(f"--pairs: expected an integer >= 1, got {pairs}")
    if not 0 <= max_modifiers <= 20:
        raise InputError(f"--max-modifiers: expected 0..20, got {max_modifiers}")
    if seed < 0:
        raise InputError(f"--seed: expected an integer >= 0, got {seed}")
    counts = _filler_counts(fillers, text.MAX_FILLERS) if fillers is not None else []
    specs = [m for m in models if not m.is_dir()]
    given = list(weights or [])
    if len(given) != len(specs):
        raise InputError(f"--weights: {len(specs)} spec file(s) among MODEL need as many "
                         f"--weights, got {len(given)} (run folders need none)")
    test = text.agreement_pairs(seed, pairs, max_modifiers, counts)
    results = []
    for m in models:
        w = None if m.is_dir() else given.pop(0)
        loaded = load_text_model(m, w, "MODEL", overrides)
        rows = text.score_agreement(loaded.model, loaded.vocab, test, f"MODEL {m}")
        results.append({"model": loaded.spec.name, "source": str(m),
                        "weights": str(loaded.weights),
                        "rows": [_row_json(r, bool(counts)) for r in rows]})
    if as_json:
        from nncli.output import write_json

        write_json({"schema": "nncli.agreement/1", "seed": seed, "pairs_per_row": pairs,
                    "models": results})
        return
    from nncli.render.text import show_agreement

    show_agreement(results, test, bool(counts))


def _row_json(row, far: bool) -> dict:
    """A row of --json; `fillers` only with --fillers (the rows of modifiers are unchanged)."""
    out = vars(row) | {"distance": list(row.distance)}
    if not far:
        del out["fillers"]
    return out


def _filler_counts(raw: str, most: int) -> list[int]:
    """--fillers: distinct comma-separated integers 0..most, sorted."""
    try:
        counts = [int(v) for v in raw.split(",")]
    except ValueError:
        counts = []
    if not counts or any(not 0 <= k <= most for k in counts) or len(set(counts)) != len(counts):
        raise InputError(f"--fillers: expected distinct integers 0..{most} separated by "
                         f"commas (e.g. 0,1,2,5,10,20), got {raw!r}")
    return sorted(counts)
