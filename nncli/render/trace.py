"""Rendering of `nncli grad-trace` results (nncli.trace.Trace): the per-step table with
log-scale bars and sparklines, the verdict, the bound, the scalar chain rule, per-parameter
step contributions and the Jacobian-product heatmap. No maths beyond formatting, and no
cell named: states, their symbols and the extra series come with the Trace.
"""

from __future__ import annotations

import math
import string
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nncli.trace import Trace

ROWS_SHOWN = 24            # per-step table rows unless --all-steps
SPARK = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 60
HEATMAP_SHOWN = 14
STEP_COLUMNS_UP_TO = 12    # per-parameter table: one column per step up to this T
ENGINE_GRADS_UP_TO = 64    # show every model gradient when the model is this small
VERDICT_STYLE = {"vanishing": "bold blue", "exploding": "bold red", "stable": "bold green",
                 "n/a": "dim", "too-short": "bold"}


# --------------------------------------------------------------------------- symbols

def _sym(run: Trace) -> str:
    """The symbol of the state the Jacobians act on: the one state's (s), else z (joint)."""
    states = run.states
    return next(iter(states.values()))["symbol"] if len(states) == 1 else "z"


def _main(run: Trace) -> str:
    """The symbol of the state the layer outputs (the first)."""
    return next(iter(run.states.values()))["symbol"]


def _joint_note(run: Trace) -> str:
    if len(run.states) == 1:
        return ""
    parts = ", ".join(f"{s['symbol']}_t" for s in run.states.values())
    return f"; z_t = ({parts}), all the cell's states"


class _Values(string.Formatter):
    """Fills a cell's worked formula: {0:short} like 1.5, {0:precise} with 10 decimals,
    {0:square} like precise but (-0.5) in parentheses, as it is squared."""

    def format_field(self, value, format_spec):
        if format_spec == "short":
            return _fmt(value)
        text = _precise(value)
        return f"({text})" if format_spec == "square" and value < 0 else text


# --------------------------------------------------------------------------- rendering

def _fmt(v: float | None, digits: int = 4) -> str:
    from nncli.render.tensor import format_float

    if v is None:
        return "-"
    return format_float(v, digits) if math.isfinite(v) else str(v)


def _fmt_log10(v: float | None, digits: int = 4) -> str:
    """A norm given as log10, exact even beyond float range: 1.2e-400."""
    if v is None or v == -math.inf:
        return "0"
    if -300 < v < 300:
        return _fmt(10.0 ** v, digits)
    exp = math.floor(v)
    return f"{10 ** (v - exp):.{min(digits, 3)}g}e{exp:+d}"


def _precise(v: float | None) -> str:
    """Worked-example precision: 10 decimals, as in the notes (3.8620563504)."""
    if v is not None and math.isfinite(v) and (v == 0 or 1e-3 <= abs(v) < 1e6):
        return f"{v:.10f}"
    return _fmt(v, 11)


def _titled(heading: str, table):
    from rich.console import Group
    from rich.text import Text

    return Group(Text(heading, style="bold"), table)


def _log10s(values: list[float]) -> list[float]:
    return [math.log10(v) if v > 0 else -math.inf for v in values]


def _spark(logs: list[float], width: int = SPARK_WIDTH) -> str:
    """A log-scale sparkline, steps left to right; buckets average when T > width."""
    n = len(logs)
    if n > width:
        edges = [round(i * n / width) for i in range(width + 1)]
        logs = [_mean_finite(logs[a:b]) for a, b in zip(edges, edges[1:], strict=False)]
    finite = [v for v in logs if math.isfinite(v)]
    if not finite:
        return " " * len(logs)
    lo, hi = min(finite), max(finite)
    span = hi - lo
    return "".join(" " if not math.isfinite(v) else
                   SPARK[round((v - lo) / span * (len(SPARK) - 1)) if span else -1]
                   for v in logs)


def _mean_finite(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else -math.inf


def _rows(steps: int, all_steps: bool) -> list[int]:
    """0-based steps to list: all, or ROWS_SHOWN evenly spaced ones including both ends."""
    if all_steps or steps <= ROWS_SHOWN:
        return list(range(steps))
    return sorted({round(i * (steps - 1) / (ROWS_SHOWN - 1)) for i in range(ROWS_SHOWN)})


def _rows_note(steps: int, all_steps: bool) -> str:
    if all_steps or steps <= ROWS_SHOWN:
        return ""
    return f" — {ROWS_SHOWN} of {steps} steps, evenly spaced (--all-steps for every one)"


def _log_bar(v: float, lo: float, hi: float, width: int = 16) -> str:
    from nncli.render.tensor import bar

    if not math.isfinite(v):
        return " " * width
    return bar(1.0 if hi <= lo else (v - lo) / (hi - lo), width)


def _verdict_text(run: Trace):
    from rich.text import Text

    fit = run.fit
    text = Text("verdict: ")
    text.append(fit["verdict"].upper(), style=VERDICT_STYLE[fit["verdict"]])
    if fit["rate"] is None:
        text.append(" (one step: nothing to fit)")
        return text
    s, z = _main(run), _sym(run)
    basis = (f"‖∂L/∂{s}_t‖" if fit["basis"] == "grad_norm" else f"‖∂{z}_T/∂{z}_t‖")
    steps = run.model["steps"]
    if fit["verdict"] == "too-short":
        text.append(f" TO JUDGE — {steps} steps; a rate needs at least {fit['min_steps']} "
                    f"(a line through {steps} points always fits: r = {_fmt(fit['rate'])} "
                    f"per step back of {basis}); trace a longer sequence (--steps)")
        return text
    text.append(f" — {basis} changes by a factor r = {_fmt(fit['rate'])} per step back "
                f"(least-squares fit over {steps} steps; r^{steps - 1} = "
                f"{_fmt(fit['change'], 3)}); vanishing below {fit['thresholds'][0]}, "
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
            f"L = {_precise(run.loss)}")


def _table():
    from rich import box
    from rich.table import Table

    return Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)


def _add_columns(table, headers: list[str]) -> None:
    from rich.markup import escape

    for name in headers:
        table.add_column(escape(name), justify="left" if name == "(log)" else "right",
                         no_wrap=True, min_width=min(len(name), 13))


def _series_cells(run: Trace, i: int) -> list[str]:
    return [f"{v['mean'][i]:.2f} [{v['min'][i]:.2f},{v['max'][i]:.2f}]"
            for v in run.series.values()]


def _steps_table(run: Trace, all_steps: bool, width: int):
    """The main per-step table; the cell's series join it when it has one state and they
    fit in `width`, else `_states_tables` show them (and every state's own path)."""
    b = run.bound
    s, z = _main(run), _sym(run)
    logs = _log10s(run.grad_norm)
    finite = [v for v in logs if math.isfinite(v)]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 0.0)
    bound = (f"\nbound = β^(T-t), β = {_fmt(b['rate'])} (below)" if b["rate"] is not None
             else "")
    heading = (f"gradient per step (t = 1..{run.model['steps']}; {s}_0 = 0{_joint_note(run)})"
               + _rows_note(len(run.t), all_steps) + bound
               + ("; from y_t: the part arriving from the output at t"
                  if run.loss_at != "last" else ""))
    headers = ["t", f"‖∂L/∂{s}_t‖", "(log)"]
    if run.loss_at != "last":
        headers.append("from y_t")
    headers += [f"‖∂{z}_t/∂{z}_t-1‖", f"‖∂{z}_T/∂{z}_t‖", "bound"]
    rows = []
    for i in _rows(len(run.t), all_steps):
        row = [str(run.t[i]), _fmt(run.grad_norm[i]), _log_bar(logs[i], lo, hi, 10)]
        if run.loss_at != "last":
            row.append(_fmt(run.output_grad_norm[i]))
        row += [_fmt(run.step_jacobian_norm[i]), _fmt_log10(run.jacobian_product_log10[i]),
                _fmt_log10(b["log10"][i]) if b["rate"] is not None else "-"]
        rows.append((i, row))
    if len(run.states) == 1 and run.series:
        table = _table()
        _add_columns(table, headers + [f"{v['label']} [min,max]" for v in run.series.values()])
        for i, row in rows:
            table.add_row(*row, *_series_cells(run, i))
        if _width(table) <= width:
            return _titled(heading, table), False
    table = _table()
    _add_columns(table, headers)
    for _, row in rows:
        table.add_row(*row)
    return _titled(heading, table), bool(run.series) or len(run.states) > 1


def _states_tables(run: Trace, all_steps: bool, width: int) -> list:
    """Per step: the other states' gradients, each state's own Jacobian (a diagonal block
    of J_t, e.g. an lstm's ∂c_t/∂c_t-1 = diag(f_t)), then the cell's series; packed into
    as many tables as it takes to fit `width`."""
    steps = _rows(len(run.t), all_steps)
    columns: list[tuple[str, list[str]]] = []
    if len(run.states) > 1:
        for i, st in enumerate(run.states.values()):
            x = st["symbol"]
            if i:                                  # the first is in the main table
                columns.append((f"‖∂L/∂{x}_t‖", [_fmt(st["grad_norm"][j]) for j in steps]))
            columns.append((f"‖∂{x}_t/∂{x}_t-1‖",
                            [_fmt(st["step_jacobian_norm"][j]) for j in steps]))
    for v in run.series.values():
        columns.append((f"{v['label']} [min,max]",
                        [f"{v['mean'][j]:.2f} [{v['min'][j]:.2f},{v['max'][j]:.2f}]"
                         for j in steps]))
    heading = ("per step: each state's own path back through time (its block of J_t) and "
               "the cell's series" if len(run.states) > 1 else "per step: the cell's series")
    tables, chunk = [], []

    def make(cols):
        table = _table()
        _add_columns(table, ["t"] + [name for name, _ in cols])
        for k, j in enumerate(steps):
            table.add_row(str(run.t[j]), *[values[k] for _, values in cols])
        return table

    for col in columns:
        if chunk and _width(make([*chunk, col])) > width:
            tables.append(make(chunk))
            chunk = []
        chunk.append(col)
    if chunk:
        tables.append(make(chunk))
    return [_titled(heading, tables[0]), *tables[1:]]


def _width(renderable) -> int:
    from rich.console import Console

    console = Console(width=10_000)
    return console.measure(renderable).maximum


def _bound_text(run: Trace) -> str:
    b = run.bound
    if b["rate"] is None:
        return b["rule"]                 # the cell says why it has no bound
    ok = "[green]holds at every step[/]" if b["holds"] else "[red]VIOLATED[/]"
    return (f"λ1 = {_fmt(b['sigma_max'])} (largest singular value of the recurrent "
            f"weights); bound {b['rule']}; β = {_fmt(b['rate'])}: {ok}")


def _chain_lines(run: Trace) -> list[str]:
    """The scalar chain of the notes: ∂L/∂s_t = (from y*_t) + ∂s_t+1/∂s_t · ∂L/∂s_t+1."""
    s = _main(run)
    lines = ["[bold]chain rule back through time[/] (scalar cell, sample 0): "
             f"∂L/∂{s}_t = (from the output at t) + ∂{s}_t+1/∂{s}_t · ∂L/∂{s}_t+1"]
    for c in reversed(run.chain):
        lines.append(f"  {s}_{c['t']} = {_precise(c['state'])}")
    for c in run.chain:
        t = c["t"]
        if c["factor"] is None:
            lines.append(f"  ∂L/∂{s}_{t} = {_precise(c['from_output'])} (from the output at "
                         f"{t})")
            continue
        how = c.get("explain")
        why = f"{_Values().format(how['formula'], *how['values'])} = " if how else ""
        lines.append(f"  ∂{s}_{t + 1}/∂{s}_{t} = {why}{_precise(c['factor'])}")
        lines.append(f"  ∂L/∂{s}_{t} = {_precise(c['from_output'])} + "
                     f"({_precise(c['factor'])})({_precise(_grad(run, t + 1))}) = "
                     f"{_precise(c['grad'])}")
    return lines


def _grad(run: Trace, t: int) -> float:
    return next(c["grad"] for c in run.chain if c["t"] == t)


def _params_table(run: Trace, all_steps: bool, width: int = 100):
    """One column per step when there are few steps and they fit in `width`; else the
    shares of the last step, the last 10% and the first half, and a sparkline."""
    steps = len(run.t)
    if steps <= STEP_COLUMNS_UP_TO or all_steps and steps <= 3 * STEP_COLUMNS_UP_TO:
        heading, table = _params_layout(run, per_step=True)
        if _width(table) <= width:
            return _titled(heading, table)
    return _titled(*_params_layout(run, per_step=False))


def _params_layout(run: Trace, per_step: bool):
    steps = len(run.t)
    idx = run.model["layer"]
    table = _table()
    names = [f"{idx}.{name}" for name in run.params]
    table.add_column("parameter", no_wrap=True, min_width=max(map(len, names)))
    scalar = all(p.step_value is not None for p in run.params.values())
    some_scalar = any(p.step_value is not None for p in run.params.values())
    # The heading defines exactly what the cells show: G_t itself (scalars, per step) or
    # the share <G_t, G>/‖G‖² in percent.
    shares = "cells are the share <G_t, G>/‖G‖² in %, the shares summing to 100%"
    heading = "where each parameter's gradient comes from: per-step contributions G_t; "
    if per_step and scalar:
        heading += "the cells are G_t itself, summing to ∂L/∂θ"
    elif per_step and some_scalar:
        heading += f"a scalar's cells are G_t itself, summing to ∂L/∂θ; other {shares}"
    else:
        heading += f"the {shares}" + ("" if per_step else "; ‖G_t‖ per step as a sparkline")
    table.add_column("∂L/∂θ" if scalar else "‖∂L/∂θ‖", justify="right", no_wrap=True)
    if per_step:
        for t in run.t:
            table.add_column(f"t={t}", justify="right")
    else:
        for name in ("last step", "last 10%", "first half", "‖G_t‖ (log), t = 1 → T"):
            table.add_column(name, justify="right" if name[0] != "‖" else "left",
                             no_wrap=True)
    for name, p in run.params.items():
        row = [f"{idx}.{name}", _fmt(p.grad_norm) if p.step_value is None else
               _precise(_flatten(run.grads[f"{idx}.{name}"]["value"])[0])]
        if per_step:
            row += ([_precise(v) for v in p.step_value] if p.step_value is not None
                    else [f"{100 * s:.1f}%" for s in p.step_share])
        else:
            tail = max(1, steps // 10)
            row += [f"{100 * p.step_share[-1]:.1f}%", f"{100 * sum(p.step_share[-tail:]):.1f}%",
                    f"{100 * sum(p.step_share[:steps // 2]):.1f}%",
                    _spark(_log10s(p.step_norm), 32)]
        table.add_row(*row)
    return heading, table


def _heatmap(run: Trace, width: int = 100, coloured: bool = True):
    """log10 ‖∂z_t/∂z_k‖, row t, column k <= t, coloured blue (shrinks) to red (grows);
    without colour (NO_COLOR, a pipe) the heading describes only the numbers' signs."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from nncli.render.tensor import cell_style

    hm = run.heatmap
    ts, ks, vals = hm["t"], hm["k"], hm["log10"]

    def pick(n: int, limit: int) -> list[int]:
        if n <= limit:
            return list(range(n))
        return sorted({round(i * (n - 1) / (limit - 1)) for i in range(limit)})

    rows = cols = pick(len(ts), max(3, min(HEATMAP_SHOWN, (width - 7) // 7)))
    shown = [vals[i][j] for i in rows for j in cols
             if vals[i][j] is not None and math.isfinite(vals[i][j])]
    scale = max((abs(v) for v in shown), default=0.0)
    z = _sym(run)
    heading = (f"log10 ‖∂{z}_t/∂{z}_k‖ (row t, column k): 0 = unchanged, -3 = 1000x "
               f"smaller, 3 = 1000x larger" + ("; blue shrinks, red grows" if coloured else ""))
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    table.add_column("t \\ k", justify="right", style="dim")
    for j in cols:
        table.add_column(str(ks[j]), justify="right", no_wrap=True, min_width=5)
    for i in rows:
        cells: list[Any] = [str(ts[i])]
        for j in cols:
            v = vals[i][j]
            if v is None or (isinstance(v, float) and math.isnan(v)):
                cells.append("")
            elif not math.isfinite(v):
                cells.append(Text("-inf", style="dim"))
            else:
                text = f"{v:.1f}"
                cells.append(Text("0.0" if text == "-0.0" else text, style=cell_style(v, scale)))
        table.add_row(*cells)
    return _titled(heading, table)


def _engine_grads(run: Trace):
    from rich import box
    from rich.table import Table

    heading = "every gradient of the model (the engine's backward pass)"
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    table.add_column("parameter")
    table.add_column("shape")
    table.add_column("∂L/∂θ", justify="right")
    for name, g in run.grads.items():
        v = g["value"]
        flat = v if isinstance(v, float) else _flatten(v)
        text = (_precise(flat[0]) if len(flat) == 1 else
                " ".join(_fmt(x) for x in flat) if len(flat) <= 6 else f"norm {_fmt(g['norm'])}")
        table.add_row(name, "x".join(map(str, g["shape"])) or "scalar", text)
    return _titled(heading, table)


def _flatten(v) -> list[float]:
    if isinstance(v, list):
        return [x for item in v for x in _flatten(item)]
    return [v]


def _show_one(console, run: Trace, all_steps: bool) -> None:
    console.print(_header(run))
    table, more = _steps_table(run, all_steps, console.width)
    console.print(table)
    if more:
        for table in _states_tables(run, all_steps, console.width):
            console.print(table)
    console.print(f"‖∂L/∂{_main(run)}_t‖ (log), t = 1 → {len(run.t)}:  "
                  f"{_spark(_log10s(run.grad_norm))}")
    console.print(_verdict_text(run))
    console.print(_bound_text(run))
    if run.chain:
        console.print()
        for line in _chain_lines(run):
            console.print(line)
    console.print()
    console.print(_params_table(run, all_steps, console.width))
    sc = run.sum_check
    console.print(f"checked: the per-step contributions sum to the engine's gradients "
                  f"(max |Σ_t G_t - G| = {sc['max_abs_error']:.2g}, tolerance "
                  f"{sc['tolerance']:.2g})")
    if run.heatmap:
        console.print()
        coloured = console.color_system is not None and not console.no_color
        console.print(_heatmap(run, console.width, coloured))
        if not run.heatmap["exact"]:
            console.print(f"[dim]computed on {len(run.heatmap['t'])} evenly spaced steps per "
                          f"axis (all values in --json)[/]")
    if sum(math.prod(g["shape"]) for g in run.grads.values()) <= ENGINE_GRADS_UP_TO:
        console.print()
        console.print(_engine_grads(run))
    for note in run.notes:
        console.print(f"[dim]{note}[/]")


def _common(symbols: set[str], otherwise: str) -> str:
    return next(iter(symbols)) if len(symbols) == 1 else otherwise


def _show_many(console, runs: list[Trace], all_steps: bool) -> None:
    from rich.markup import escape
    from rich.text import Text

    first = runs[0]
    m = first.model
    given = escape(m.get("input", "given"))
    s = _common({_main(r) for r in runs}, "h")
    z = _common({_sym(r) for r in runs}, "z")
    console.print(f"[bold]{len(runs)} runs[/] on the same input ({m['steps']} steps x "
                  f"{m['input_size']}, batch {m['batch']}; {given}); loss at "
                  f"{'every step' if first.loss_at == 'every' else 'the last step'}; rate r "
                  f"per step back: < 0.95 vanishing, > 1.05 exploding")
    if s != _main(first) or z != _sym(first):
        console.print(f"[dim]{s}: the state each cell outputs; {z}: all of a cell's "
                      f"states[/]")
    labels = {next(iter(r.series.values()))["label"] for r in runs if r.series}
    series = _common(labels, "series (mean)") if labels else "gate"
    summary = _table()
    for name in ("run", "λ1", "r", "verdict", f"‖∂L/∂{s}_1‖", f"‖∂{z}_T/∂{z}_1‖", "bound",
                 series):
        summary.add_column(name, justify="left" if name in ("run", "verdict") else "right",
                           no_wrap=True)
    for r in runs:
        v = r.fit["verdict"]
        summary.add_row(r.label, _fmt(r.bound["sigma_max"], 3), _fmt(r.fit["rate"], 3),
                        Text(v, style=VERDICT_STYLE[v]), _fmt(r.grad_norm[0], 3),
                        _fmt_log10(r.jacobian_product_log10[0], 3),
                        "-" if r.bound["rate"] is None else _fmt_log10(r.bound["log10"][0], 3),
                        _series_mean(r, len(labels) > 1))
    console.print(summary)
    heading = f"‖∂L/∂{s}_t‖ side by side" + _rows_note(len(first.t), all_steps)
    table = _table()
    table.add_column("t", justify="right")
    for r in runs:
        table.add_column(r.label, justify="right")
    for i in _rows(len(first.t), all_steps):
        table.add_row(str(first.t[i]), *[_fmt(r.grad_norm[i]) for r in runs])
    console.print(_titled(heading, table))
    width = max(len(r.label) for r in runs)
    console.print(f"‖∂L/∂{s}_t‖ (log, each run on its own scale), t = 1 → {len(first.t)}:")
    for r in runs:
        console.print(f"  {r.label:<{width}}  {_spark(_log10s(r.grad_norm))}")
    console.print("[dim]--json has every figure of every run; a single run shows the "
                  "full detail[/]")


def _series_mean(run: Trace, named: bool) -> str:
    """The mean over steps of the run's first series (its gate), named if labels differ."""
    if not run.series:
        return "-"
    first = next(iter(run.series.values()))
    mean = f"{sum(first['mean']) / len(first['mean']):.2f}"
    return f"{first['label']} {mean}" if named else mean


def show(runs: list[Trace], all_steps: bool) -> None:
    from nncli.render.tensor import console as make_console

    console = make_console()
    if len(runs) == 1:
        _show_one(console, runs[0], all_steps)
    else:
        _show_many(console, runs, all_steps)
