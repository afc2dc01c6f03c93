"""The views of `nncli weights` (parameters as heatmaps with statistics), `nncli data`
(one sample: a digit as a heatmap, a sequence, a text window) and what `predict --sample`
and `eval --errors` add (the sample and its true class; the misclassified samples).
The numbers come from the core (nncli.samples, the model); the heatmaps are
nncli.render.tensor's."""

from __future__ import annotations

from typing import Any

import numpy as np
from rich import box
from rich.table import Table
from rich.text import Text

from nncli.formatting import shell_word
from nncli.render import tensor as render
from nncli.samples import Errors, Sample

MAPS = 16             # conv filters (per channel) drawn before '… more maps'
SEQUENCE_ROWS = 64    # steps of a sequence drawn


def _visible(tokens: list[str] | None, mode: str | None) -> str:
    """A text window on one line: newlines as ⏎ and tabs as ⇥ (spaces stay spaces)."""
    text = ("" if mode == "chars" else " ").join(tokens or [])
    return text.replace("\n", "⏎").replace("\t", "⇥")


# --------------------------------------------------------------------------- weights

def show_weights(source: str, layers: list[tuple[int, Any]]) -> None:
    """A statistics table of every parameter, then each as a heatmap: a conv weight per
    filter and input channel, a dense weight as its (out, in) matrix, a bias as a row."""
    out = render.console()
    out.print(Text(source, style="dim"), soft_wrap=True)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for name in ("parameter", "shape", "min", "max", "mean", "std", "L2 norm"):
        table.add_column(name, justify="left" if name == "parameter" else "right")
    for i, layer in layers:
        for key, w in layer.params.items():
            af = w.astype(np.float64, copy=False)
            table.add_row(f"{i}.{key}", render.shape_str(w.shape),
                          *(render.format_float(float(v), 4) for v in
                            (af.min(), af.max(), af.mean(), af.std(),
                             np.sqrt(np.vdot(af, af)))))
    out.print(table)
    for i, layer in layers:
        for key, w in layer.params.items():
            out.print()
            names = render.param_axes(w.ndim)
            what = {4: "filters x input channels x height x width",
                    2: "rows: outputs, columns: inputs"}.get(w.ndim, "")
            out.print(render.heatmap(w, f"{i}.{key} ({layer.kind}) "
                                        f"{render.shape_str(w.shape)}"
                                        + (f": {what}" if what else ""),
                                     axis_names=names, max_maps=MAPS))
    out.print(Text(render.legend(out), style="dim"))


# --------------------------------------------------------------------------- data

def sample_view(s: Sample) -> list:
    """The sample's input as it reads best: a digit or picture as an H x W heatmap per
    channel, a sequence as steps x features, a text window as its text."""
    x = s.x
    if s.kind == "tokens":
        return [Text.assemble(("text ", "bold"), (_visible(s.tokens, s.mode), "cyan")),
                Text(f"{len(x)} {s.mode or 'tokens'}; ids {render.format_number(x.min())}.."
                     f"{render.format_number(x.max())}", style="dim")]
    if s.kind == "image":
        shown = x[0] if x.shape[0] == 1 else x
        return [render.heatmap(shown, f"input {render.shape_str(x.shape)}",
                               axis_names=("channel",))]
    if s.kind == "sequence":
        return [render.heatmap(x, f"input {render.shape_str(x.shape)}: rows are steps t, "
                                  f"columns features", max_rows=SEQUENCE_ROWS)]
    return [render.heatmap(x, f"input {render.shape_str(x.shape)}")]


def target_view(s: Sample) -> Text | Any:
    if s.kind == "tokens":
        return Text.assemble(("target ", "bold"), _visible(s.target_tokens, s.mode),
                             (" (the next token at every step)", "dim"))
    y = np.asarray(s.y)
    if s.task == "classification" and y.ndim == 0:
        return Text.assemble(("label ", "bold"), (str(int(y)), "bold green"))
    if y.size <= 8:
        return Text.assemble(("target ", "bold"),
                             " ".join(render.format_number(v) for v in y.ravel()))
    return render.heatmap(y, f"target {render.shape_str(y.shape)}")


def show_sample(s: Sample, run_dir: str | None = None) -> None:
    out = render.console()
    out.print(Text.assemble((f"{s.dataset}", "bold"), f" · {s.split}[{s.index}] of "
                            f"{s.size:,} · {s.task}"), soft_wrap=True)
    for part in sample_view(s):
        out.print(part)
    out.print(target_view(s))
    if run_dir is not None:         # a run folder: its weights can predict this sample
        out.print(Text(f"its prediction: nncli predict {shell_word(run_dir)} --sample {s.index} "
                       f"--split {s.split}", style="dim"), soft_wrap=True)


# --------------------------------------------------------------------------- predict / eval

def show_truth(s: Sample, predicted: Any) -> None:
    """After predict --sample: the sample (a digit as its heatmap, ...) and its true class
    or target beside the prediction."""
    out = render.console()
    out.print()
    out.print(Text(f"sample {s.split}[{s.index}] of {s.dataset}", style="bold"))
    for part in sample_view(s):
        out.print(part)
    y = np.asarray(s.y)
    if s.task == "classification" and y.ndim == 0 and predicted is not None:
        right = int(np.ravel(predicted)[0]) == int(y)
        out.print(Text.assemble(("true class ", "bold"), str(int(y)), " · prediction ",
                                ("right", "bold green") if right else ("wrong", "bold red")))
    else:
        out.print(target_view(s))


def show_errors(errors: Errors, split: str, config: Any, weights: Any = None) -> None:
    """eval --errors: the misclassified samples, with what to run to look at one."""
    out = render.console()
    out.print()
    if errors.total == 0:
        out.print(Text(f"no misclassified samples in the {split} split", style="green"))
        return
    shown = len(errors.rows)
    more = f" (the first {shown}; --limit shows more)" if shown < errors.total else ""
    out.print(Text(f"{errors.total} misclassified samples{more}", style="bold"))
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for name in ("sample", "true", "predicted", "P(predicted)", "P(true)"):
        table.add_column(name, justify="right")
    for r in errors.rows:
        table.add_row(str(r["index"]), str(r["true"]), Text(str(r["predicted"]), style="red"),
                      f"{r['p_predicted']:.4f}", f"{r['p_true']:.4f}")
    out.print(table)
    first = errors.rows[0]["index"]
    model = shell_word(config) + (f" --weights {shell_word(weights)}"
                                  if weights is not None else "")
    out.print(Text(f"look at one: nncli data {shell_word(config)} --sample {first} "
                   f"--split {split} · nncli predict {model} --sample {first} --split {split}",
                   style="dim"),
              soft_wrap=True)
