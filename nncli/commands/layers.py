"""`nncli layers`: every layer a spec can use, with its options, defaults and help.

The list comes from the layer registry (nncli/layers/registry.py), so a new layer file
shows up here by itself.
"""

from __future__ import annotations

import typer

from nncli.app import app
from nncli.commands.options import JSON, complete_layer, draws


@app.command("layers")
@draws
def layers_cmd(
    kind: str | None = typer.Argument(None, metavar="KIND", show_default=False,
                                      autocompletion=complete_layer,
                                      help="One layer (dense, conv, rnn, ...). Without it: "
                                      "every layer."),
    as_json: bool = JSON,
) -> None:
    """List the layers a model spec can use: summary, options, defaults and help.

    Each option shows its default ("required" when a spec must give it),
    what it does and, in parentheses, the values it takes. In a spec:
    `- conv: {filters: 8, kernel: 3}`.

    [bold]Examples[/]

      nncli layers

      nncli layers gru-lite --json
    """
    from nncli.errors import InputError
    from nncli.layers import registry

    try:
        layers = registry.describe(kind)
    except InputError as err:
        raise InputError(f"KIND: {err}") from None
    if as_json:
        from nncli.output import write_json

        write_json({"schema": "nncli.layers/1", "layers": layers})
        return
    from nncli.render.layers import print_layers
    from nncli.render.tensor import console

    print_layers(layers, console())
