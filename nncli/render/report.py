"""The page of `nncli report`: one self-contained HTML file (charts as inline SVG, its own
CSS, no script, nothing fetched), readable on a phone (the charts scale to the screen,
wide tables scroll sideways).

The numbers come from nncli.report and the run's metrics; the charts from
nncli.render.report_charts. Every chart is a <figure> whose <figcaption> is its title.
"""

from __future__ import annotations

from html import escape

from nncli.render import report_charts as charts
from nncli.report import Report
from nncli.runs import iso_time

CONFUSION_MAX = 30        # classes up to which the confusion matrix is drawn

CSS = """
:root { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
        color: #222; background: #fafafa; line-height: 1.45; }
body { margin: 0; }
main { max-width: 62rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.5rem; margin: .5rem 0; overflow-wrap: anywhere; }
h2 { font-size: 1.15rem; margin: 1.5rem 0 .5rem; }
figure { margin: 0 0 1rem; background: #fff; border: 1px solid #ddd; border-radius: 6px;
         padding: .5rem; }
figcaption { font-weight: 600; margin-bottom: .25rem; }
figure svg { display: block; width: 100%; height: auto; }
figure p { margin: .25rem 0 0; font-size: .9rem; color: #555; }
.grid { display: grid; grid-template-columns: 1fr; gap: 0 1rem; }
@media (min-width: 50rem) { .grid { grid-template-columns: 1fr 1fr; } }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: 0; }
dt { color: #555; }
dd { margin: 0; overflow-wrap: anywhere; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: .2rem .6rem; text-align: right; border-bottom: 1px solid #e5e5e5;
         white-space: nowrap; }
tr.best { background: #e8f5e9; font-weight: 600; }
pre { overflow-x: auto; background: #fff; border: 1px solid #ddd; border-radius: 6px;
      padding: .75rem; font-size: .85rem; }
.note { color: #8a5a00; }
.completion b { background: #fff3cd; font-weight: normal; }
"""


def _num(v, digits: int = 6) -> str:
    return "—" if v is None else f"{v:.{digits}g}"


def _pct(v) -> str:
    return "—" if v is None else f"{100 * v:.2f}%"


def _figure(chart_id: str, title: str, svg: str, note: str = "") -> str:
    extra = f"<p>{escape(note)}</p>" if note else ""
    return (f'<figure class="chart" id="{chart_id}">\n<figcaption>{escape(title)}</figcaption>'
            f"\n{svg}\n{extra}</figure>")


def page(report: Report) -> tuple[str, list[str]]:
    """(the HTML page, the titles of its charts)."""
    run, history = report.run, report.run.history
    best = run.best["epoch"] if run.best else None
    figures: list[tuple[str, str, str, str]] = []         # (id, title, svg, note)
    if history:
        figures.append(("chart-loss", "Loss per epoch",
                        charts.curves(history, "loss", "loss", best, "chart-loss"), ""))
        if any(m.get("val_accuracy") is not None or m.get("train_accuracy") is not None
               for m in history):
            figures.append(("chart-accuracy", "Accuracy per epoch",
                            charts.curves(history, "accuracy", "accuracy (%)", best,
                                          "chart-accuracy", scale=100), ""))
        if any(m.get("val_perplexity") is not None for m in history):
            figures.append(("chart-perplexity", "Perplexity per epoch",
                            charts.curves(history, "perplexity", "perplexity", best,
                                          "chart-perplexity"), ""))
        if any(m.get("grad_norms") for m in history):
            figures.append(("chart-grad-norms", "Gradient norm per layer",
                            charts.grad_norms(history, "chart-grad-norms"),
                            "the mean over an epoch's batches of each layer's gradient norm"))
        figures.append(("chart-lr", "Learning rate",
                        charts.learning_rate(history, "chart-lr"), ""))
    model_figures = _model_figures(report)
    body = [f"<h1>{escape(run.name)}</h1>", _summary(report)]
    for note in [*run.notes, *report.notes]:
        body.append(f'<p class="note">note: {escape(note)}</p>')
    if figures:
        body.append("<h2>Training</h2>\n<div class=\"grid\">")
        body += [_figure(*f) for f in figures]
        body.append("</div>")
    else:
        body.append("<p>No epoch has finished yet: no curves to draw.</p>")
    if model_figures:
        body.append("<h2>The trained model</h2>\n<div class=\"grid\">")
        body += [_figure(*f) for f in model_figures]
        body.append("</div>")
    if report.completions:
        body.append(_completions(report))
    if history:
        body.append(_epoch_table(report))
    body.append(f"<h2>Config</h2>\n<pre id=\"config\">{escape(report.config_text)}</pre>")
    titles = [f[1] for f in figures + model_figures]
    html = (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>nncli report: {escape(run.name)}</title>\n<style>{CSS}</style>\n"
            f"</head>\n<body>\n<main>\n" + "\n".join(body) + "\n</main>\n</body>\n</html>\n")
    return html, titles


def _model_figures(report: Report) -> list[tuple[str, str, str, str]]:
    out = []
    if report.confusion and len(report.confusion) <= CONFUSION_MAX:
        out.append(("chart-confusion", f"Confusion matrix ({report.split} split)",
                    charts.confusion(report.confusion, "chart-confusion"),
                    "rows: the true class; columns: the predicted class"))
    if report.filters is not None:
        name, weight = report.filters
        f, c = weight.shape[:2]
        cut = (f" (the first {min(f, charts.FILTERS)} filters, {min(c, charts.CHANNELS)} "
               f"channels)" if f > charts.FILTERS or c > charts.CHANNELS else "")
        out.append(("chart-filters", f"First-layer conv filters ({name})",
                    charts.filters(weight, "chart-filters"),
                    f"weight {' x '.join(map(str, weight.shape))}: one image per filter and "
                    f"input channel{cut}; blue < 0 < red"))
    if report.trace is not None:
        t = report.trace
        out.append(("chart-grad-trace", f"Gradient through time ({report.trace_sample})",
                    charts.grad_trace(t, "chart-grad-trace"),
                    f"grad-trace of the trained weights, layer {t.model['layer']} "
                    f"({t.model['cell']}): {t.fit['verdict']}"))
    return out


def _summary(report: Report) -> str:
    run = report.run
    rows = [("model", run.model), ("started", iso_time(run.started).replace("T", " ")),
            ("status", f"{run.status} ({run.where})"),
            ("epochs done", f"{run.epoch} of {run.epochs}")]
    if run.best:
        m = run.best
        parts = [f"val loss {_num(m.get('val_loss'))}" if m.get("val_loss") is not None
                 else f"train loss {_num(m['train_loss'])}"]
        if m.get("val_accuracy") is not None:
            parts.append(f"val accuracy {_pct(m['val_accuracy'])}")
        if m.get("val_perplexity") is not None:
            parts.append(f"val perplexity {_num(m['val_perplexity'])}")
        rows.append(("best epoch", f"{m['epoch']} ({', '.join(parts)}) → best.npz"))
    if report.source:
        rows.append(("weights", report.source))
    ev = report.evaluation
    if ev:
        parts = [f"loss {_num(ev['loss'])}"]
        if ev.get("accuracy") is not None:
            parts.append(f"accuracy {_pct(ev['accuracy'])}")
        if ev.get("perplexity") is not None:
            parts.append(f"perplexity {_num(ev['perplexity'])}")
        rows.append((f"{report.split} split", ", ".join(parts)))
    items = "\n".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows)
    return f'<dl id="summary">\n{items}\n</dl>'


def _completions(report: Report) -> str:
    items = "\n".join(f'<li class="completion">{escape(c.prompt)}{c.sep}'
                      f"<b>{escape(c.text)}</b></li>" for c in report.completions)
    return ("<h2>Greedy completions</h2>\n<p>The first words of test text, continued by the "
            "trained model with its most likely token at every step (highlighted).</p>\n"
            f'<ul id="completions">\n{items}\n</ul>')


# Columns of the epoch table: (metrics.jsonl key, header, format).
COLUMNS = (("epoch", "epoch", str), ("train_loss", "train loss", _num),
           ("train_accuracy", "train acc", _pct), ("train_perplexity", "train ppl", _num),
           ("val_loss", "val loss", _num), ("val_accuracy", "val acc", _pct),
           ("val_perplexity", "val ppl", _num), ("lr", "lr", _num),
           ("seconds", "time (s)", lambda v: "—" if v is None else f"{v:.2f}"))


def _epoch_table(report: Report) -> str:
    history = report.run.history
    best = report.run.best["epoch"] if report.run.best else None
    cols = [c for c in COLUMNS if any(m.get(c[0]) is not None for m in history)]
    head = "".join(f'<th data-key="{key}">{escape(name)}</th>' for key, name, _ in cols)
    rows = []
    for m in history:
        mark = ' class="best"' if m["epoch"] == best else ""
        cells = "".join(f"<td>{escape(fmt(m.get(key)))}{' ★' if key == 'epoch' and mark else ''}"
                        f"</td>" for key, _, fmt in cols)
        rows.append(f"<tr{mark}>{cells}</tr>")
    return ("<h2>Epochs</h2>\n<p>As metrics.jsonl records them; ★ the best epoch (lowest val "
            "loss), whose weights are best.npz.</p>\n"
            f'<div class="scroll"><table id="epochs">\n<thead><tr>{head}</tr></thead>\n'
            f"<tbody>\n" + "\n".join(rows) + "\n</tbody></table></div>")
