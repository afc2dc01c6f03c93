"""The charts of `nncli report`, drawn with matplotlib as inline SVG (text stays text, so
the page's titles, numbers and axis labels can be read, searched and tested).

Each function takes numbers the report gathered (nncli.report, metrics.jsonl records) and
returns an <svg> element without width or height, so the page's CSS scales it to the
screen. matplotlib is imported here, and only `nncli report` imports this module; a
missing matplotlib is one line naming the extra that installs it.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence

import numpy as np

from nncli.errors import InputError

TRAIN, VAL, BEST = "#1f77b4", "#ff7f0e", "#2ca02c"
FILTERS, CHANNELS = 32, 4        # conv filters and input channels drawn


def _matplotlib():
    try:
        import matplotlib
        from matplotlib.figure import Figure
    except ImportError:
        raise InputError('nncli report draws its charts with matplotlib, which is not '
                         'installed; pip install "nncli[report]"') from None
    matplotlib.rcParams.update({"svg.fonttype": "none", "font.size": 10,
                                "axes.spines.top": False, "axes.spines.right": False})
    return Figure


def svg(fig, chart_id: str, label: str) -> str:
    """The figure as an <svg> element: no XML prologue, no fixed size, ids unique to the
    chart (several SVGs share one page), an accessible name."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": chart_id}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"',
                  rf'<svg\1 role="img" aria-label="{label}"', text, count=1)
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    return text.replace('id="', f'id="{chart_id}-').replace("url(#", f"url(#{chart_id}-") \
        .replace('xlink:href="#', f'xlink:href="#{chart_id}-')


def _line_figure(height: float = 2.9):
    """A figure with one axes, fixed margins (no second layout pass: quicker) and whole
    numbers on the x axis."""
    fig = _matplotlib()(figsize=(5.2, height))
    from matplotlib.ticker import MaxNLocator

    fig.subplots_adjust(left=0.13, right=0.97, bottom=0.5 / height, top=1 - 0.15 / height)
    ax = fig.add_subplot()
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))     # epochs and steps
    return fig, ax


def _epochs(history: Sequence[dict]) -> list[int]:
    return [m["epoch"] for m in history]


def _values(history: Sequence[dict], key: str) -> list[float]:
    return [np.nan if m.get(key) is None else m[key] for m in history]


def _mark_best(ax, best: int | None) -> None:
    if best is not None:
        ax.axvline(best, color=BEST, linestyle="--", linewidth=1)
        ax.annotate(f"best epoch {best}", (best, 0.98), xycoords=("data", "axes fraction"),
                    xytext=(-3, 0), textcoords="offset points", ha="right", va="top",
                    rotation=90, color=BEST, fontsize=8)


def _spread(values: Sequence[float]) -> bool:
    """Do the finite positive values span more than a factor of 10 (a log axis)?"""
    v = np.array([x for x in values if np.isfinite(x)])
    return bool(v.size and v.min() > 0 and v.max() / v.min() > 10)


def curves(history: Sequence[dict], key: str, ylabel: str, best: int | None,
           chart_id: str, scale: float = 1.0) -> str:
    """train_<key> and val_<key> per epoch, the best epoch marked."""
    fig, ax = _line_figure()
    epochs = _epochs(history)
    drawn = []
    for split, colour in (("train", TRAIN), ("val", VAL)):
        ys = [v * scale for v in _values(history, f"{split}_{key}")]
        if any(np.isfinite(ys)):
            ax.plot(epochs, ys, marker="o", markersize=3, color=colour, label=split)
            drawn += ys
    if _spread(drawn):
        ax.set_yscale("log")
    _mark_best(ax, best)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.legend(loc="best", frameon=False)
    ax.grid(alpha=0.3)
    return svg(fig, chart_id, f"{ylabel} per epoch, train and val")


def grad_norms(history: Sequence[dict], chart_id: str) -> str:
    """Each layer's mean gradient norm per epoch (log axis)."""
    fig, ax = _line_figure()
    layers = list(dict.fromkeys(k for m in history for k in m.get("grad_norms", {})))
    for layer in layers:
        ys = [m.get("grad_norms", {}).get(layer, np.nan) for m in history]
        ax.plot(_epochs(history), ys, marker="o", markersize=3, label=layer)
    if _spread([v for m in history for v in m.get("grad_norms", {}).values()]):
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean |grad| per batch")
    ax.legend(loc="best", frameon=False, fontsize=8, ncol=2)
    ax.grid(alpha=0.3)
    return svg(fig, chart_id, "gradient norm per layer per epoch")


def learning_rate(history: Sequence[dict], chart_id: str) -> str:
    fig, ax = _line_figure(2.4)
    ax.plot(_epochs(history), _values(history, "lr"), marker="o", markersize=3, color=TRAIN)
    ax.set_xlabel("epoch")
    ax.set_ylabel("learning rate")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    return svg(fig, chart_id, "learning rate per epoch")


def confusion(matrix: Sequence[Sequence[int]], chart_id: str) -> str:
    """Counts per (true, predicted) class; the diagonal holds the right answers."""
    Figure = _matplotlib()
    m = np.asarray(matrix)
    k = len(m)
    side = min(5.2, 1.2 + 0.4 * k)
    fig = Figure(figsize=(side, side * 0.95))
    fig.subplots_adjust(left=0.7 / side, right=0.98, bottom=0.65 / side, top=0.98)
    ax = fig.add_subplot()
    ax.pcolormesh(np.arange(k + 1) - 0.5, np.arange(k + 1) - 0.5, m, cmap="Blues",
                  edgecolors="white", linewidth=0.5)
    ax.set_xlim(-0.5, k - 0.5)
    ax.set_ylim(k - 0.5, -0.5)                       # class 0 at the top, as in a table
    top = m.max() if m.size else 0
    for i in range(k):
        for j in range(k):
            if m[i, j]:
                ax.text(j, i, str(m[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if m[i, j] > top / 2 else "black")
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.spines[:].set_visible(False)
    return svg(fig, chart_id, "confusion matrix")


def filters(weight: np.ndarray, chart_id: str) -> str:
    """Each filter and input channel as a small image (a row of channels per filter, up
    to 8 filters a row), on one shared diverging scale: blue < 0 < red, white = 0 (the
    terminal heatmaps' colours). One mosaic in one axes: quick to draw, crisp (vector)."""
    Figure = _matplotlib()
    w = np.asarray(weight, dtype=float)[:FILTERS, :CHANNELS]
    n, c, kh, kw = w.shape
    per_row = max(1, 8 // c)
    rows = -(-n // per_row)
    gap = 1
    mosaic = np.full((rows * (kh + gap + 1), per_row * (c * kw + gap)), np.nan)
    labels = []
    for f in range(n):
        top, left = (f // per_row) * (kh + gap + 1) + 1, (f % per_row) * (c * kw + gap)
        for ch in range(c):
            mosaic[top:top + kh, left + ch * kw:left + (ch + 1) * kw] = w[f, ch]
        labels.append((left + c * kw / 2, top - 0.15, str(f)))
    scale = float(np.nanmax(np.abs(w))) or 1.0
    fig = Figure(figsize=(min(5.2, 0.2 * mosaic.shape[1] + 1.0), 0.2 * mosaic.shape[0] + 0.3))
    ax = fig.add_axes((0.02, 0.04, 0.8, 0.92))
    mesh = ax.pcolormesh(mosaic, cmap="RdBu_r", vmin=-scale, vmax=scale)
    for x, y, label in labels:
        ax.text(x, y, label, ha="center", va="bottom", fontsize=7, color="#555")
    ax.set_xlim(0, mosaic.shape[1])
    ax.set_ylim(mosaic.shape[0], 0)                  # row 0 at the top, as in the weights
    ax.set_aspect("equal")
    ax.axis("off")
    bar = fig.colorbar(mesh, ax=ax, shrink=0.8, pad=0.02)
    bar.solids.set_rasterized(False)                 # vector, not an embedded PNG
    return svg(fig, chart_id, "first-layer conv filters")


def grad_trace(trace, chart_id: str) -> str:
    """‖∂L/∂h_t‖ per step and the Jacobian product ‖∂z_T/∂z_t‖ beside its bound."""
    fig, ax = _line_figure()
    t = trace.t
    ax.plot(t, trace.grad_norm, marker="o", markersize=3, color=TRAIN,
            label="‖∂L/∂h_t‖ (gradient reaching step t)")
    ax.plot(t, trace.jacobian_product_norm, color=VAL, label="‖∂z_T/∂z_t‖ (Jacobian product)")
    bound = trace.bound.get("log10") if isinstance(trace.bound, dict) else None
    if bound and any(b is not None for b in bound):
        ax.plot(t, [10.0 ** b if b is not None else np.nan for b in bound], color="grey",
                linestyle=":", label="bound β^(T-t)")
    positive = [v for v in [*trace.grad_norm, *trace.jacobian_product_norm]
                if v is not None and v > 0]
    if positive:
        ax.set_yscale("log")
    ax.set_xlabel("step t")
    ax.set_ylabel("norm")
    ax.legend(loc="best", frameon=False, fontsize=8)
    ax.grid(alpha=0.3)
    return svg(fig, chart_id, "gradient through time")
