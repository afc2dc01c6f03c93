"""What `nncli report RUN_DIR` shows about a run, gathered; nncli.render.report draws it.

From the run folder (nncli.runs): the resolved config and the history of metrics.jsonl.
From the run's best weights (best.npz, else last.npz) on its own data: the test split's
loss, accuracy and confusion matrix (the val split if there is no test split), the first
conv layer's filters, for a recurrent model the grad-trace of a test sample (nncli.trace),
and for a text model a few greedy completions of test text (nncli.text).

A part that cannot be made (no weights yet, the data moved, a model grad-trace cannot
follow) is left out with a note saying why; the curves and the config are always there.
Pure: nothing here prints or imports rich or matplotlib.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nncli.errors import InputError, RunFailed
from nncli.runs import Run
from nncli.train import CONFIG_FILE

COMPLETIONS = 3                                   # greedy completions of a text model
PROMPT = {"chars": 24, "words": 6}                # prompt tokens taken from test text
CONTINUE = {"chars": 48, "words": 8}              # tokens each completion adds


@dataclass
class Completion:
    prompt: str
    text: str                     # the greedy continuation
    sep: str                      # between prompt and text: '' for characters, ' ' for words


@dataclass
class Report:
    run: Run
    config_text: str
    source: str | None = None     # 'digits-cnn · weights runs/x/best.npz (epoch 13)'
    split: str | None = None      # the split evaluated: test, else val
    evaluation: dict | None = None      # nncli.evaluation.evaluate: loss, accuracy, confusion...
    confusion: list[list[int]] | None = None    # of a classifier with a class per sample
    filters: tuple[str, np.ndarray] | None = None      # ('0.conv', weight (F, C, kh, kw))
    trace: Any = None             # nncli.trace.Trace of a test sample (recurrent models)
    trace_sample: str | None = None
    completions: list[Completion] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)     # parts left out, and why



def gather(run: Run) -> Report:
    """Everything the report shows about `run` (nncli.runs.read_run)."""
    report = Report(run, (run.path / CONFIG_FILE).read_text(encoding="utf-8"))
    if run.weights is None:
        report.notes.append("no weights yet (the run stopped before its first epoch ended): "
                            "the model's pictures are left out")
        return report
    try:
        _from_weights(report)
    except (InputError, RunFailed) as err:
        report.notes.append(f"the trained model's pictures are left out: {err}")
    return report


def _from_weights(report: Report) -> None:
    from nncli.evaluation import evaluate
    from nncli.loading import load
    from nncli.train_setup import in_dtype, load_data

    loaded = load(report.run.path, need_weights=True, what="RUN_DIR", in_trained_dtype=True)
    model = loaded.model
    report.source = loaded.source
    report.filters = first_filters(model)
    try:
        data = load_data(loaded.spec, model)
    except InputError as err:
        report.notes.append(f"the run's data cannot be loaded ({err}); the evaluation, "
                            f"grad-trace and completions are left out")
        return
    name = "test" if len(data.test) else "val"
    split = data.split(name)
    if len(split) == 0:
        report.notes.append("the data has no test or val split: nothing to evaluate on")
        return
    report.split = name
    # Evaluated as `nncli eval` does, in the run's dtype; grad-trace and the completions
    # then run in float64, as `nncli grad-trace` and `nncli complete` do (the cast back is
    # exact: the weights came in that dtype).
    report.evaluation = evaluate(model, in_dtype(data, model).split(name))
    model.astype(np.float64)
    if len(model.output_shape) == 1:            # not a class at every step (a text model)
        report.confusion = report.evaluation.get("confusion")
    _trace(report, model, split, f"{data.name} {name}[0]")
    if loaded.vocab is not None:
        report.completions = completions(model, loaded.vocab, data.vocab or loaded.vocab,
                                         split)


def first_filters(model) -> tuple[str, np.ndarray] | None:
    """('i.conv', weight) of the model's first conv layer, or None."""
    for i, layer in enumerate(model.layers):
        if layer.kind == "conv" and "weight" in layer.params:
            return f"{i}.conv", layer.params["weight"]
    return None


def _trace(report: Report, model, split, sample: str) -> None:
    from nncli.layers.recurrent import Recurrent
    from nncli.trace import trace

    if not any(isinstance(layer, Recurrent) for layer in model.layers):
        return
    try:
        report.trace = trace(model, split.x[:1], split.y[:1], label=report.run.model)
        report.trace_sample = sample
    except (InputError, RunFailed) as err:
        report.notes.append(f"grad-trace is left out: {err}")


def completions(model, vocab, data_vocab, split) -> list[Completion]:
    """Greedy continuations (temperature 0) of the first tokens of a few test windows."""
    from nncli import text

    mode = vocab.mode
    picks = np.linspace(0, len(split) - 1, min(COMPLETIONS, len(split))).astype(int)
    out = []
    for i in dict.fromkeys(picks.tolist()):
        prompt = [data_vocab.tokens[int(t)] for t in split.x[i][:PROMPT[mode]]]
        prompt = [t for t in prompt if t in vocab.index]
        if not prompt:
            continue
        done = text.complete(model, vocab, prompt, CONTINUE[mode], temperature=0.0,
                             candidates=1)
        out.append(Completion(text.detokenize(prompt, mode), done.text,
                              "" if mode == "chars" else " "))
    return out
