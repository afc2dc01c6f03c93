"""The tables of `nncli grad-trace`'s text output, and the formatting they share: the
per-step table, each state's path and the cell's series, per-parameter step contributions,
the Jacobian-product heatmap and the engine's gradients. Tables fit the width they are
given (columns move to a further table, per-step columns give way to a summary).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nncli.trace import Trace

SPARK = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 60
HEATMAP_SHOWN = 14
STEP_COLUMNS_UP_TO = 12    # per-parameter table: one column per step up to this T
ENGINE_GRADS_UP_TO = 64    # show every model gradient when the model is this small


def joint_symbol(run: Trace) -> str:
    """The symbol of the state the Jacobians act on: the one state's (s), else z (joint)."""
    states = run.states
    return next(iter(states.values()))["symbol"] if len(states) == 1 else "z"


def output_symbol(run: Trace) -> str:
    """The symbol of the state the layer outputs (the first)."""
    return next(iter(run.states.values()))["symbol"]


def joint_note(run: Trace) -> str:
    if len(run.states) == 1:
        return ""
    parts = ", ".join(f"{s['symbol']}_t" for s in run.states.values())
    return f"; z_t = ({parts}), all the cell's states"


def fmt(v: float | None, digits: int = 4) -> str:
    from nncli.render.tensor import format_float

    if v is None:
        return "-"
    return format_float(v, digits) if math.isfinite(v) else str(v)


def fmt_log10(v: float | None, digits: int = 4) -> str:
    """A norm given as log10, exact even beyond float range: 1.2e-400."""
    if v is None or v == -math.inf:
        return "0"
    if -300 < v < 300:
        return fmt(10.0 ** v, digits)
    exp = math.floor(v)
    return f"{10 ** (v - exp):.{min(digits, 3)}g}e{exp:+d}"


def precise(v: float | None) -> str:
    """Worked-example precision: 10 decimals, as in the notes (3.8620563504)."""
    if v is not None and math.isfinite(v) and (v == 0 or 1e-3 <= abs(v) < 1e6):
        return f"{v:.10f}"
    return fmt(v, 11)


def titled(heading: str, table):
    from rich.console import Group
    from rich.text import Text

    return Group(Text(heading, style="bold"), table)


def log10s(values: list[float]) -> list[float]:
    return [math.log10(v) if v > 0 else -math.inf for v in values]


def spark(logs: list[float], width: int = SPARK_WIDTH) -> str:
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


def shown_steps(steps: int, limit: int | None) -> list[int]:
    """0-based steps to list: all (limit None), or `limit` evenly spaced ones including both
    ends."""
    if limit is None or steps <= limit:
        return list(range(steps))
    return sorted({round(i * (steps - 1) / (limit - 1)) for i in range(limit)})


def rows_note(steps: int, limit: int | None) -> str:
    if limit is None or steps <= limit:
        return ""
    return f" — {limit} of {steps} steps, evenly spaced (--all-steps for every one)"


def _log_bar(v: float, lo: float, hi: float, width: int = 16) -> str:
    from nncli.render.tensor import bar

    if not math.isfinite(v):
        return " " * width
    return bar(1.0 if hi <= lo else (v - lo) / (hi - lo), width)


def new_table():
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


def steps_table(run: Trace, limit: int | None, width: int):
    """The main per-step table; the cell's series join it when it has one state and they
    fit in `width`, else `_states_tables` show them (and every state's own path)."""
    b = run.bound
    s, z = output_symbol(run), joint_symbol(run)
    logs = log10s(run.grad_norm)
    finite = [v for v in logs if math.isfinite(v)]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 0.0)
    bound = (f"\nbound = β^(T-t), β = {fmt(b['rate'])} (below)" if b["rate"] is not None
             else "")
    heading = (f"gradient per step (t = 1..{run.model['steps']}; {s}_0 = 0{joint_note(run)})"
               + rows_note(len(run.t), limit) + bound
               + ("; from y_t: the part arriving from the output at t"
                  if run.loss_at != "last" else ""))
    headers = ["t", f"‖∂L/∂{s}_t‖", "(log)"]
    if run.loss_at != "last":
        headers.append("from y_t")
    headers += [f"‖∂{z}_t/∂{z}_t-1‖", f"‖∂{z}_T/∂{z}_t‖", "bound"]
    rows = []
    for i in shown_steps(len(run.t), limit):
        row = [str(run.t[i]), fmt(run.grad_norm[i]), _log_bar(logs[i], lo, hi, 10)]
        if run.loss_at != "last":
            row.append(fmt(run.output_grad_norm[i]))
        row += [fmt(run.step_jacobian_norm[i]), fmt_log10(run.jacobian_product_log10[i]),
                fmt_log10(b["log10"][i]) if b["rate"] is not None else "-"]
        rows.append((i, row))
    if len(run.states) == 1 and run.series:
        table = new_table()
        _add_columns(table, headers + [f"{v['label']} [min,max]" for v in run.series.values()])
        for i, row in rows:
            table.add_row(*row, *_series_cells(run, i))
        if measure_width(table) <= width:
            return titled(heading, table), False
    table = new_table()
    _add_columns(table, headers)
    for _, row in rows:
        table.add_row(*row)
    return titled(heading, table), bool(run.series) or len(run.states) > 1


def states_tables(run: Trace, limit: int | None, width: int) -> list:
    """Per step: the other states' gradients, each state's own Jacobian (a diagonal block
    of J_t, e.g. an lstm's ∂c_t/∂c_t-1 = diag(f_t)), then the cell's series; packed into
    as many tables as it takes to fit `width`."""
    steps = shown_steps(len(run.t), limit)
    columns: list[tuple[str, list[str]]] = []
    if len(run.states) > 1:
        for i, st in enumerate(run.states.values()):
            x = st["symbol"]
            if i:                                  # the first is in the main table
                columns.append((f"‖∂L/∂{x}_t‖", [fmt(st["grad_norm"][j]) for j in steps]))
            columns.append((f"‖∂{x}_t/∂{x}_t-1‖",
                            [fmt(st["step_jacobian_norm"][j]) for j in steps]))
    for v in run.series.values():
        columns.append((f"{v['label']} [min,max]",
                        [f"{v['mean'][j]:.2f} [{v['min'][j]:.2f},{v['max'][j]:.2f}]"
                         for j in steps]))
    heading = ("per step: each state's own path back through time (its block of J_t) and "
               "the cell's series" if len(run.states) > 1 else "per step: the cell's series")
    tables, chunk = [], []

    def make(cols):
        table = new_table()
        _add_columns(table, ["t"] + [name for name, _ in cols])
        for k, j in enumerate(steps):
            table.add_row(str(run.t[j]), *[values[k] for _, values in cols])
        return table

    for col in columns:
        if chunk and measure_width(make([*chunk, col])) > width:
            tables.append(make(chunk))
            chunk = []
        chunk.append(col)
    if chunk:
        tables.append(make(chunk))
    return [titled(heading, tables[0]), *tables[1:]]


def measure_width(renderable) -> int:
    from rich.console import Console

    console = Console(width=10_000)
    return console.measure(renderable).maximum


def params_table(run: Trace, limit: int | None, width: int = 100):
    """One column per step when there are few steps and they fit in `width`; else the
    shares of the last step, the last 10% and the first half, and a sparkline."""
    steps = len(run.t)
    if steps <= STEP_COLUMNS_UP_TO or limit is None and steps <= 3 * STEP_COLUMNS_UP_TO:
        heading, table = _params_layout(run, per_step=True)
        if measure_width(table) <= width:
            return titled(heading, table)
    spark_width = min(steps, 32)
    heading, table = _params_layout(run, per_step=False, spark_width=spark_width)
    over = measure_width(table) - width
    if over > 0:                                 # the sparkline gives way first
        heading, table = _params_layout(run, per_step=False,
                                        spark_width=max(8, spark_width - over))
    return titled(heading, table)


def _params_layout(run: Trace, per_step: bool, spark_width: int = 32):
    steps = len(run.t)
    idx = run.model["layer"]
    table = new_table()
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
        for name in ("last step", "last 10%", "first half", "‖G_t‖ (log), t = 1→T"):
            table.add_column(name, justify="right" if name[0] != "‖" else "left",
                             no_wrap=True)
    for name, p in run.params.items():
        row = [f"{idx}.{name}", fmt(p.grad_norm) if p.step_value is None else
               precise(_flatten(run.grads[f"{idx}.{name}"]["value"])[0])]
        if per_step:
            row += ([precise(v) for v in p.step_value] if p.step_value is not None
                    else [f"{100 * s:.1f}%" for s in p.step_share])
        else:
            tail = max(1, steps // 10)
            row += [f"{100 * p.step_share[-1]:.1f}%", f"{100 * sum(p.step_share[-tail:]):.1f}%",
                    f"{100 * sum(p.step_share[:steps // 2]):.1f}%",
                    spark(log10s(p.step_norm), spark_width)]
        table.add_row(*row)
    return heading, table


def heatmap(run: Trace, width: int = 100, coloured: bool = True):
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
    z = joint_symbol(run)
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
    return titled(heading, table)


def engine_grads(run: Trace):
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
        text = (precise(flat[0]) if len(flat) == 1 else
                " ".join(fmt(x) for x in flat) if len(flat) <= 6 else f"norm {fmt(g['norm'])}")
        table.add_row(name, "x".join(map(str, g["shape"])) or "scalar", text)
    return titled(heading, table)


def _flatten(v) -> list[float]:
    if isinstance(v, list):
        return [x for item in v for x in _flatten(item)]
    return [v]
