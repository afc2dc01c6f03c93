"""What `nncli export` prints: the files written and, with --check, the comparison."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape


def print_export(done, name: str, out: Console) -> None:
    """'exported digits-cnn to torch (float64, 2,730 parameters):' + files + check line."""
    out.print(f"exported [bold]{escape(name)}[/] to {done.format} ({done.dtype}, "
              f"{done.params:,} parameters):")
    for path in done.files:
        out.print(f"  {escape(str(path))}")
    c = done.check
    if c is None:
        return
    verdict = "[green]ok[/]" if c.passed else "[bold red]FAIL[/]"
    relation = "<=" if c.passed else ">"
    bound = f"{c.base:g} × {c.scale:.3g}" if c.scale > 1 else f"{c.base:g}"
    out.print(f"check ({c.runtime}, {c.dtype}): max |Δ| {c.max_abs_diff:.2g} {relation} "
              f"{bound} {verdict}")
