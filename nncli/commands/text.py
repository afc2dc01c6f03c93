"""`nncli complete` and `nncli agreement`: look inside a trained text model's next-token
predictions. The core is nncli/text/; this file parses options and renders.
numpy and rich are imported inside the functions so `nncli --help` stays fast.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import typer

from nncli.app import app
from nncli.commands.options import CONFIG, JSON, SET, length_option, weights_option
from nncli.errors import InputError

TEXT_WEIGHTS = "They hold the vocabulary, as 'nncli train' writes them for a text dataset."
EXPLAIN_K = 5            # candidates shown per step by --explain without --top-k
CONTEXT_CHARS = 18       # characters of context shown per step by --explain


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

      nncli complete runs/chars --prompt "From fairest" -n 20 --temperature 0 --explain

      nncli complete runs/agreement --prompt "the dogs that the cat" -n 3 --explain
    """
    from nncli import text

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
    tokens = _prompt_tokens(prompt, vocab, skip_unknown)
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
    _render_completion(payload, result, loaded.epoch, explain)


def _prompt_tokens(prompt: str, vocab, skip_unknown: bool) -> list[str]:
    from nncli import text

    tokens = text.tokenize(prompt, vocab.mode)
    if not tokens:
        what = "character" if vocab.mode == "chars" else "word"
        raise InputError(f"--prompt: empty; give at least one {what} to continue, e.g. "
                         f"--prompt \"the\"")
    unknown = vocab.unknown(tokens)
    if unknown and not skip_unknown:
        shown = []
        for t in unknown[:6]:
            near = vocab.nearest(t)
            shown.append(repr(t) + (f" (nearest: {', '.join(map(repr, near))})" if near else ""))
        more = f" and {len(unknown) - 6} more" if len(unknown) > 6 else ""
        unit = "character" if vocab.mode == "chars" else "word"
        raise InputError(f"--prompt: {len(unknown)} {unit}"
                         f"{'s' if len(unknown) > 1 else ''} not in the model's vocabulary "
                         f"of {len(vocab)}: {'; '.join(shown)}{more}; rephrase, or pass "
                         f"--skip-unknown to drop them")
    if unknown:
        tokens = [t for t in tokens if t in vocab.index]
        from nncli.render.tensor import console

        console(stderr=True).print(f"note: dropped {len(unknown)} unknown "
                                   f"{'characters' if vocab.mode == 'chars' else 'words'} "
                                   f"from the prompt: "
                                   f"{', '.join(map(repr, unknown))}",
                                   style="yellow", markup=False, highlight=False)
        if not tokens:
            raise InputError("--prompt: no known characters or words left after dropping "
                             "the unknown ones")
    return tokens


def _render_completion(p: dict, result, epoch: int | None, explain: bool) -> None:
    from rich.text import Text

    from nncli.render.tensor import console

    out = console()
    unit = "characters" if p["tokens"] == "chars" else "words"
    how = ("greedy (temperature 0)" if p["temperature"] == 0 else
           f"temperature {p['temperature']:g}, seed {p['seed']}")
    if p["top_k"] is not None:
        how += f", top-{p['top_k']}"
    where = f"{p['weights']}" + (f" (epoch {epoch})" if epoch is not None else "")
    out.print(Text(f"{p['model']} · weights {where} · context: last {p['window']} {unit} · "
                   f"{how}", style="dim"), soft_wrap=True)
    sep = "" if p["tokens"] == "chars" else " "
    out.print(Text.assemble((p["prompt"], "bold"), (sep + p["completion"], "green")),
              soft_wrap=True)
    if explain:
        out.print()
        out.print(_explain_table(p, result, out.width))


def _explain_table(p: dict, result, width: int):
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from nncli import text

    mode = p["tokens"]
    sampled = p["temperature"] != 0 and (p["temperature"] != 1 or p["top_k"] is not None)
    k = len(result.steps[0].candidates) if result.steps else 0
    notes = [f"candidates: the model's {k} most likely next tokens and their probabilities; "
             "the chosen one is green"]
    if p["temperature"] != 0 and p["top_k"] is None:
        notes.append("a sampled token may lie outside them")
    if sampled:
        notes.append("P sampled: its probability after temperature and top-k")
    rows = []
    history = list(result.prompt)
    for i, s in enumerate(result.steps, start=1):
        full = text.detokenize(history, mode)
        context = full[-CONTEXT_CHARS:] if mode == "chars" else " ".join(history[-3:])
        if len(context) < len(full):
            context = "…" + context
        row: list[Any] = [str(i), text.show_token(context) if mode == "chars" else context,
                          text.show_token(s.token), _pct(s.p)]
        if sampled:
            row.append(_pct(s.p_sample))
        cands = Text()
        for j, (tok, prob, _q) in enumerate(s.candidates):
            if j:
                cands.append("  ")
            cands.append(f"{text.show_token(tok)} {_pct(prob)}",
                         style="bold green" if tok == s.token else "")
        rows.append([*row, cands])
        history.append(s.token)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                  caption="; ".join(notes), caption_justify="left")
    names = ["step", "after", "chosen", "P"] + (["P sampled"] if sampled else [])
    widths = [max([len(name), *(len(r[j]) for r in rows)]) for j, name in enumerate(names)]
    for name, w in zip(names, widths, strict=True):
        table.add_column(name, justify="left" if name == "chosen" else "right",
                         style={"step": "dim", "after": "dim", "chosen": "bold green"}.get(
                             name, ""), no_wrap=True, min_width=w)
    table.add_column("candidates", justify="left", no_wrap=True)
    # One line per step: on a narrow terminal the least likely candidates are cut ("…");
    # --json has them all. 3 = the padding and gap between two columns.
    room = max(12, width - sum(widths) - 3 * len(names) - 1)
    for r in rows:
        r[-1].truncate(room, overflow="ellipsis")
        table.add_row(*r)
    return table


def _pct(p: float) -> str:
    """A probability as a short percentage: 79%, 2.3%, 0.41%, <0.01%."""
    v = 100 * p
    if v >= 9.95:
        return f"{v:.0f}%"
    if v >= 0.995:
        return f"{v:.1f}%"
    return f"{v:.2f}%" if v >= 0.01 else "<0.01%"


# =========================================================================== agreement

@app.command("agreement")
def agreement_cmd(
    models: list[Path] = typer.Argument(..., metavar="MODEL...", show_default=False,
                                        help="Run folders of models trained on data: {name: "
                                        "agreement}, or spec files, each with a --weights in "
                                        "the same order."),
    weights: list[Path] | None = weights_option(extra="Repeat it: one for each spec file "
                                                "among MODEL, in order."),
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

      nncli agreement runs/agreement_far_rnn runs/agreement_far_gru_lite --fillers 0,1,2,5,10,20,40

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
        loaded = load_text_model(m, w, "MODEL")
        rows = text.score_agreement(loaded.model, loaded.vocab, test)
        results.append({"model": loaded.spec.name, "source": str(m),
                        "weights": str(loaded.weights),
                        "rows": [_row_json(r, bool(counts)) for r in rows]})
    if as_json:
        from nncli.output import write_json

        write_json({"schema": "nncli.agreement/1", "seed": seed, "pairs_per_row": pairs,
                    "models": results})
        return
    _render_agreement(results, test, bool(counts))


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


def _render_agreement(results: list[dict], test, far: bool = False) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from nncli.render.tensor import console

    out = console()
    if far:
        caption = ("fillers: number-neutral words between subject and verb (no nouns), so only "
                   "the subject's number, carried that many steps, tells the forms apart; "
                   "each cell: accuracy, then mean P(right) / (P(right) + P(wrong)); chance "
                   "is 50%")
    else:
        caption = ("mods: modifiers (3 words each for a prepositional phrase, 4 for a "
                   "relative clause); words: between subject and verb; each cell: accuracy, "
                   "then mean P(right) / (P(right) + P(wrong)). Every noun between subject "
                   "and verb has the other number: agreeing with the nearest noun scores 0%; "
                   "chance is 50%")
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                  title="subject-verb agreement: P(right form) > P(wrong form)?",
                  title_justify="left", caption=caption, caption_justify="left")
    for name in ("fillers" if far else "mods", "words", "pairs"):
        table.add_column(name, justify="right", no_wrap=True)
    for r in results:
        table.add_column(r["model"], justify="right", no_wrap=True)
    for i, row in enumerate(results[0]["rows"]):
        lo, hi = row["distance"]
        cells: list[Any] = [str(row["fillers"] if far else row["modifiers"]),
                            f"{lo}" if lo == hi else f"{lo}-{hi}", str(row["pairs"])]
        for r in results:
            acc, p = r["rows"][i]["accuracy"], r["rows"][i]["p_right"]
            style = "green" if acc >= 0.9 else ("red" if acc < 0.7 else "yellow")
            cells.append(Text.assemble((f"{100 * acc:5.1f}%", style), (f" {p:.3f}", "dim")))
        table.add_row(*cells)
    out.print(table)
    if far:
        pair = max(test, key=lambda p: (p.fillers <= 6, p.fillers))
        out.print(Text.assemble((f"e.g. {pair.fillers} fillers: ", "dim"),
                                " ".join(pair.context[1:]) + " ",
                                (f"[{pair.right} / {pair.wrong}]", "bold")), soft_wrap=True)
        return
    seen = set()
    for pair in test:
        if pair.modifiers in seen or pair.modifiers == 0 or len(seen) >= 3:
            continue
        seen.add(pair.modifiers)
        out.print(Text.assemble((f"e.g. {pair.modifiers} modifier"
                                 f"{'s' if pair.modifiers > 1 else ''}: ", "dim"),
                                " ".join(pair.context[1:]) + " ",
                                (f"[{pair.right} / {pair.wrong}]", "bold")), soft_wrap=True)
