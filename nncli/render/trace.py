"""Rendering of `nncli grad-trace` results (nncli.trace.Trace): the per-step table with
log-scale bars and sparklines, the verdict, the bound, the scalar chain rule, per-parameter
step contributions and the Jacobian-product heatmap (the tables: render/trace_tables.py).
No maths beyond formatting, and no cell named: states, their symbols and the extra series
come with the Trace.
"""

from __future__ import annotations

import math
import string
from typing import TYPE_CHECKING

from nncli.render import trace_tables as tables

__all__ = ["show"]

if TYPE_CHECKING:
    from nncli.trace import Trace

VERDICT_STYLE = {"vanishing": "bold blue", "exploding": "bold red", "stable": "bold green",
                 "n/a": "dim", "too-short": "bold"}


# --------------------------------------------------------------------------- formulas

class _Values(string.Formatter):
    """Fills a cell's worked formula: {0:short} like 1.5, {0:precise} with 10 decimals,
    {0:square} like precise but (-0.5) in parentheses, as it is squared."""

    def format_field(self, value, format_spec):
        if format_spec == "short":
            return tables.fmt(value)
        text = tables.precise(value)
        return f"({text})" if format_spec == "square" and value < 0 else text


# --------------------------------------------------------------------------- rendering

def _verdict_text(run: Trace):
    from rich.text import Text

    fit = run.fit
    text = Text("verdict: ")
    text.append(fit["verdict"].upper().replace("-", " "), style=VERDICT_STYLE[fit["verdict"]])
    if fit["rate"] is None:
        text.append(" (one step: nothing to fit)")
        return text
    s, z = tables.output_symbol(run), tables.joint_symbol(run)
    basis = (f"‖∂L/∂{s}_t‖" if fit["basis"] == "grad_norm" else f"‖∂{z}_T/∂{z}_t‖")
    steps = run.model["steps"]
    if fit["verdict"] == "too-short":
        text.append(f" TO JUDGE — {steps} steps; a rate needs at least {fit['min_steps']} "
                    f"(a line through {steps} points always fits: r = {tables.fmt(fit['rate'])} "
                    f"per step back of {basis}); trace a longer sequence (--steps)")
        return text
    text.append(f" — {basis} changes by a factor r = {tables.fmt(fit['rate'])} per step back "
                f"(least-squares fit over {steps} steps; r^{steps - 1} = "
                f"{tables.fmt(fit['change'], 3)}); vanishing below {fit['thresholds'][0]}, "
                f"exploding above {fit['thresholds'][1]}")
    return text


def _header(run: Trace) -> str:
    from rich.markup import escape

    m = {k: escape(v) if isinstance(v, str) else v for k, v in run.model.items()}
    src = {"built-in": "built-in model", None: "model"}.get(m.get("source"), m.get("source"))
    scale = "" if m.get("scale") is None else f", U rescaled to λ1 = {m['scale']:g}"
    scale += f", weights {m['weights']}" if m.get("weights") else ""
    where = {"last": "the last step", "every": "every step"}.get(run.loss_at, "the output")
    layer_in = f"layers[{m['layer']}]'s input" if m["layer"] else "input"
    return (f"[bold]{escape(run.label)}[/]  {src}: layers[{m['layer']}] {m['cell']} "
            f"({m['describe']}), {layer_in} {m['steps']}x{m['input_size']}, "
            f"batch {m['batch']}"
            f"{scale}\ninput: {m.get('input', 'given')} · target: {m.get('target', 'given')} · "
            f"loss at {where}: "
            f"L = {tables.precise(run.loss)}")


def _bound_text(run: Trace) -> str:
    b = run.bound
    if b["rate"] is None:
        return b["rule"]                 # the cell says why it has no bound
    ok = "[green]holds at every step[/]" if b["holds"] else "[red]VIOLATED[/]"
    return (f"λ1 = {tables.fmt(b['sigma_max'])} (largest singular value of the recurrent "
            f"weights); bound {b['rule']}; β = {tables.fmt(b['rate'])}: {ok}")


def _chain_lines(run: Trace) -> list[str]:
    """The scalar chain of the notes: ∂L/∂s_t = (from y*_t) + ∂s_t+1/∂s_t · ∂L/∂s_t+1."""
    s = tables.output_symbol(run)
    lines = ["[bold]chain rule back through time[/] (scalar cell, sample 0): "
             f"∂L/∂{s}_t = (from the output at t) + ∂{s}_t+1/∂{s}_t · ∂L/∂{s}_t+1"]
    for c in reversed(run.chain):
        lines.append(f"  {s}_{c['t']} = {tables.precise(c['state'])}")
    for c in run.chain:
        t = c["t"]
        if c["factor"] is None:
            lines.append(f"  ∂L/∂{s}_{t} = {tables.precise(c['from_output'])} (from the output at "
                         f"{t})")
            continue
        how = c.get("explain")
        why = f"{_Values().format(how['formula'], *how['values'])} = " if how else ""
        lines.append(f"  ∂{s}_{t + 1}/∂{s}_{t} = {why}{tables.precise(c['factor'])}")
        lines.append(f"  ∂L/∂{s}_{t} = {tables.precise(c['from_output'])} + "
                     f"({tables.precise(c['factor'])})({tables.precise(_grad(run, t + 1))}) = "
                     f"{tables.precise(c['grad'])}")
    return lines


def _grad(run: Trace, t: int) -> float:
    return next(c["grad"] for c in run.chain if c["t"] == t)


def _show_one(console, run: Trace, limit: int | None) -> None:
    from nncli.render.tensor import shows

    console.print(_header(run))
    table, more = tables.steps_table(run, limit, console.width)
    console.print(table)
    if more:
        for table in tables.states_tables(run, limit, console.width):
            console.print(table)
    console.print(f"‖∂L/∂{tables.output_symbol(run)}_t‖ (log), t = 1 → {len(run.t)}:  "
                  f"{tables.spark(tables.log10s(run.grad_norm))}")
    console.print(_verdict_text(run))
    console.print(_bound_text(run))
    if run.chain:
        console.print()
        for line in _chain_lines(run):
            console.print(line)
    console.print()
    console.print(tables.params_table(run, limit, console.width))
    sc = run.sum_check
    console.print(f"checked: the per-step contributions sum to the engine's gradients "
                  f"(max |Σ_t G_t - G| = {sc['max_abs_error']:.2g}, tolerance "
                  f"{sc['tolerance']:.2g})")
    if run.heatmap:
        console.print()
        console.print(tables.heatmap(run, console.width, shows(console) == "colour"))
        if not run.heatmap["exact"]:
            console.print(f"[dim]computed on {len(run.heatmap['t'])} evenly spaced steps per "
                          f"axis (all values in --json)[/]")
    if sum(math.prod(g["shape"]) for g in run.grads.values()) <= tables.ENGINE_GRADS_UP_TO:
        console.print()
        console.print(tables.engine_grads(run))
    for note in run.notes:
        console.print(f"[dim]{note}[/]")


def _common(symbols: set[str], otherwise: str) -> str:
    return next(iter(symbols)) if len(symbols) == 1 else otherwise


def _show_many(console, runs: list[Trace], limit: int | None) -> None:
    from rich.markup import escape
    from rich.text import Text

    first = runs[0]
    m = first.model
    given = escape(m.get("input", "given"))
    s = _common({tables.output_symbol(r) for r in runs}, "h")
    z = _common({tables.joint_symbol(r) for r in runs}, "z")
    console.print(f"[bold]{len(runs)} runs[/] on the same input ({m['steps']} steps x "
                  f"{m['input_size']}, batch {m['batch']}; {given}); loss at "
                  f"{'every step' if first.loss_at == 'every' else 'the last step'}; rate r "
                  f"per step back: < 0.95 vanishing, > 1.05 exploding")
    if s != tables.output_symbol(first) or z != tables.joint_symbol(first):
        console.print(f"[dim]{s}: the state each cell outputs; {z}: all of a cell's "
                      f"states[/]")
    labels = {next(iter(r.series.values()))["label"] for r in runs if r.series}
    series = _common(labels, "series (mean)") if labels else "gate"
    summary = tables.new_table()
    for name in ("run", "λ1", "r", "verdict", f"‖∂L/∂{s}_1‖", f"‖∂{z}_T/∂{z}_1‖", "bound",
                 series):
        summary.add_column(name, justify="left" if name in ("run", "verdict") else "right",
                           no_wrap=True)
    for r in runs:
        v = r.fit["verdict"]
        summary.add_row(r.label, tables.fmt(r.bound["sigma_max"], 3), tables.fmt(r.fit["rate"], 3),
                        Text(v, style=VERDICT_STYLE[v]), tables.fmt(r.grad_norm[0], 3),
                        tables.fmt_log10(r.jacobian_product_log10[0], 3),
                        "-" if r.bound["rate"] is None
                        else tables.fmt_log10(r.bound["log10"][0], 3),
                        _series_mean(r, len(labels) > 1))
    console.print(summary)
    heading = f"‖∂L/∂{s}_t‖ side by side" + tables.rows_note(len(first.t), limit)
    table = tables.new_table()
    table.add_column("t", justify="right")
    for r in runs:
        table.add_column(r.label, justify="right")
    for i in tables.shown_steps(len(first.t), limit):
        table.add_row(str(first.t[i]), *[tables.fmt(r.grad_norm[i]) for r in runs])
    console.print(tables.titled(heading, table))
    width = max(len(r.label) for r in runs)
    console.print(f"‖∂L/∂{s}_t‖ (log, each run on its own scale), t = 1 → {len(first.t)}:")
    for r in runs:
        console.print(f"  {r.label:<{width}}  {tables.spark(tables.log10s(r.grad_norm))}")
    console.print("[dim]--json has every figure of every run; a single run shows the "
                  "full detail[/]")


def _series_mean(run: Trace, named: bool) -> str:
    """The mean over steps of the run's first series (its gate), named if labels differ."""
    if not run.series:
        return "-"
    name, first = next(iter(run.series.items()))
    mean = f"{sum(first['mean']) / len(first['mean']):.2f}"
    return f"{name} {mean}" if named else mean


def show(runs: list[Trace], limit: int | None) -> None:
    """Draw the runs; per-step tables list `limit` evenly spaced steps (None: every one)."""
    from nncli.render.tensor import console as make_console

    console = make_console()
    if len(runs) == 1:
        _show_one(console, runs[0], limit)
    else:
        _show_many(console, runs, limit)
