"""The views of `nncli complete` and `nncli agreement`: the completed text and its
per-token candidates, the table of agreement accuracy by distance. The numbers come from
nncli.text; this module only draws them."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.table import Table
from rich.text import Text

from nncli import text
from nncli.render.tensor import console, flowed, plural, shows, titled

CONTEXT_CHARS = 18       # characters of context shown per step by --explain


def dropped_note(unknown: list[str], mode: str) -> None:
    """The note (on stderr) that --skip-unknown dropped prompt tokens."""
    console(stderr=True).print(f"note: dropped {len(unknown)} unknown "
                               f"{'characters' if mode == 'chars' else 'words'} "
                               f"from the prompt: "
                               f"{', '.join(map(repr, unknown))}",
                               style="yellow", markup=False, highlight=False)


def show_completion(p: dict, result, epoch: int | None, explain: bool) -> None:
    """The completed text (prompt bold, continuation green) under a line saying how it was
    sampled; with --explain, a row of candidates per generated token."""
    out = console()
    unit = "characters" if p["tokens"] == "chars" else "words"
    how = ("greedy (temperature 0)" if p["temperature"] == 0 else
           f"temperature {p['temperature']:g}, seed {p['seed']}")
    if p["top_k"] is not None:
        how += f", top-{p['top_k']}"
    where = f"{p['weights']}" + (f" (epoch {epoch})" if epoch is not None else "")
    pieces = [p["model"], f"weights {where}", f"context: last {p['window']} {unit}", how]
    line = flowed(pieces, out.width, indent=2)            # a long weights path wraps whole
    line.stylize("dim")
    out.print(line, soft_wrap=True)
    sep = "" if p["tokens"] == "chars" else " "
    out.print(Text.assemble((p["prompt"], "bold"), (sep + p["completion"], "green")),
              soft_wrap=True)
    if explain:
        out.print()
        out.print(explain_table(p, result, out.width, shows(out)))


def explain_table(p: dict, result, width: int, drawn: str) -> Table:
    """One line per generated token: its context, the token chosen, P, and the most likely
    candidates, cut to `width` (the least likely first). `drawn` (render.tensor.shows):
    how the chosen candidate stands out, if at all, which the caption says."""
    mode = p["tokens"]
    sampled = p["temperature"] != 0 and (p["temperature"] != 1 or p["top_k"] is not None)
    k = len(result.steps[0].candidates) if result.steps else 0
    mark = {"colour": "; the chosen one is green", "styles": "; the chosen one is bold"}
    notes = [f"candidates: the model's {k} most likely next tokens and their probabilities"
             + mark.get(drawn, "")]
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


def show_agreement(results: list[dict], test, far: bool = False) -> None:
    """Accuracy and mean P(right) per distance (a row) and model (a column), then an example
    test sentence per row kind."""
    from rich import box
    from rich.table import Table
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
    out.print(titled(table))
    if far:
        pair = max(test, key=lambda p: (p.fillers <= 6, p.fillers))
        out.print(_example(f"e.g. {pair.fillers} fillers:", pair, out.width), soft_wrap=True)
        return
    seen = set()
    for pair in test:
        if pair.modifiers in seen or pair.modifiers == 0 or len(seen) >= 3:
            continue
        seen.add(pair.modifiers)
        out.print(_example(f"e.g. {plural(pair.modifiers, 'modifier')}:", pair, out.width),
                  soft_wrap=True)


def _example(head: str, pair, width: int) -> Text:
    """'e.g. 2 modifiers: the dog near the cats [runs / run]' wrapped between words to
    `width`, the sentence's further lines under its first word, the pair kept whole."""
    words = [Text(head, style="dim"), *pair.context[1:],
             Text(f"[{pair.right} / {pair.wrong}]", style="bold")]
    return flowed(words, width, sep=" ", indent=len(head) + 1)
