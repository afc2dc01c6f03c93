"""Rendering of `nncli layers`: each layer's summary, then its options as a small table.

Takes the plain data of nncli.layers.registry.describe(); rich is imported where used.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


def default_text(option: dict) -> str:
    """An option's default as a spec would write it: 'required', 'true', 'null', 'max'."""
    if option["required"]:
        return "required"
    value = option["default"]
    return value if isinstance(value, str) else json.dumps(value)


def print_layers(layers: list[dict], console: Console) -> None:
    from rich.markup import escape
    from rich.table import Table

    for i, layer in enumerate(layers):
        if i:
            console.print()
        head = Table.grid(padding=(0, 2, 0, 0))        # a long summary wraps beside the name
        head.add_column(style="bold", no_wrap=True)
        head.add_column()
        head.add_row(escape(layer["kind"]), escape(layer["summary"]))
        console.print(head)
        if layer["recurrent"]:
            console.print(f"  a recurrent cell: nncli grad-trace --cell {layer['kind']} "
                          f"traces its gradients")
        if not layer["options"]:
            console.print("  no options")
            continue
        table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 2, 0, 0))
        table.add_column("option", style="cyan", no_wrap=True)
        table.add_column("default", no_wrap=True)
        table.add_column("help")
        for opt in layer["options"]:
            table.add_row(f"  {opt['name']}", default_text(opt),
                          f"{escape(opt['help'])} [dim]({escape(opt['type'])})[/]")
        console.print(table)
