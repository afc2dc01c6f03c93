"""Views of `nncli examples` (the shipped configs) and `nncli check` (a spec's report)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from nncli.formatting import plural


def show_examples(rows: list[tuple[str, Path, str]], copied: list[Path] | None,
                  folder: Path | None, out: Console) -> None:
    """A table of name and description; then what --copy wrote, or how to use a name."""
    table = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
    table.add_column("config", no_wrap=True, style="cyan")
    table.add_column("what it is", overflow="fold")
    for name, _, description in rows:
        table.add_row(name, escape(description))
    out.print(table)
    if copied is not None:
        out.print(f"wrote {plural(len(copied), 'file')} to "
                  f"{escape(str(folder))}/", soft_wrap=True)
    elif rows:
        names = [row[0] for row in rows]
        name = "digits_cnn" if "digits_cnn" in names else names[0]
        out.print(f"\nUse a name as CONFIG from any folder, e.g. [bold]nncli train {name}"
                  f"[/]; copy them out to edit with [bold]nncli examples --copy DIR[/].",
                  soft_wrap=False)


def show_check(report: dict, out: Console) -> None:
    """'ok: ...' and one line each for the model, data, training and overrides."""
    model = report["model"]
    name = escape(report["name"])
    source = escape(Path(report["config"]).name)
    if report["trainable"]:
        out.print(f"[green]ok:[/] {name} ({source}) is ready to train")
    else:
        out.print(f"[green]ok:[/] {name} ({source}): the model checks out; it has no data: "
                  f"or train: section, so it is for forward, backward and gradcheck, not "
                  f"for train")
    shape = f"{tuple(model['input_shape'])} -> {tuple(model['output_shape'])}"
    lines = [("model", f"{model['layers']} layers, {model['params']:,} parameters, "
              f"{shape}, loss {model['loss']}")]
    if report["data"] is not None:
        data, samples = report["data"], report["data"]["samples"]
        lines.append(("data", f"{escape(data['source'])}: {samples['train']:,} train, "
                      f"{samples['val']:,} val, {samples['test']:,} test samples of "
                      f"{tuple(data['sample_shape'])}"))
    if report["train"] is not None:
        s = report["train"]["settings"]
        optimizer = f"{s['optimizer']}, " if "optimizer" in s else ""
        lines.append(("train", f"{s['epochs']} epochs of {report['train']['batches_per_epoch']}"
                      f" batches of {s['batch_size']}; {optimizer}lr {s['lr']:g}"))
    if report["overrides"]:
        lines.append(("set", escape(", ".join(report["overrides"]))))
    for label, text in lines:
        out.print(f"  {label:<6} {text}", highlight=False)
