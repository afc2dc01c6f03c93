"""`nncli schema`: the JSON Schemas of nncli's --json outputs and of a YAML model spec.

The schemas ship in the package (nncli/schemas/<name>.json, draft 2020-12). Every object a
command prints with --json carries "schema": "nncli.<command>/<version>"; a change to an
output's shape comes with a new schema (and version). spec.json is generated from the
tables nncli validates specs with (python -m nncli.spec_schema).
"""

from __future__ import annotations

import typer

from nncli.app import app
from nncli.errors import InputError


def schema_names() -> list[str]:
    """'spec' first, then the commands in the order they were registered."""
    from importlib import resources

    folder = resources.files("nncli").joinpath("schemas")
    found = {p.name[:-5] for p in folder.iterdir() if p.name.endswith(".json")}
    registered = [c.name or c.callback.__name__.replace("_", "-")
                  for c in app.registered_commands if c.callback is not None]
    order = ["spec", *(n for n in registered if n in found)]
    return order + sorted(found - set(order))


def load_schema(name: str) -> dict:
    """The parsed JSON Schema called `name` (a command, or 'spec')."""
    names = schema_names()
    if name not in names:
        import difflib

        close = difflib.get_close_matches(name, names, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise InputError(f"NAME: no schema '{name}'{hint}; schemas: {', '.join(names)}")
    import json
    from importlib import resources

    text = resources.files("nncli").joinpath("schemas", f"{name}.json").read_text("utf-8")
    return json.loads(text)


@app.command("schema")
def schema_cmd(
    name: str | None = typer.Argument(None, metavar="[NAME]", show_default=False,
                                      help="A command with --json output (conv, train, ...) "
                                      "or 'spec' for the YAML model spec. Without it: the "
                                      "list."),
) -> None:
    """Print the JSON Schema of a command's --json output, or of a YAML model spec.

    Scripts can validate what nncli prints: every JSON object carries a
    "schema" field like "nncli.conv/1" (name/version) that names the
    schema it follows. `nncli train --json` prints one object per line. Point your
    editor's YAML extension at the spec's schema to check and complete specs.

    [bold]Examples[/]

      nncli schema

      nncli schema conv > conv.schema.json

      nncli schema spec > nncli-spec.schema.json
    """
    if name is None:
        for n in schema_names():
            title = load_schema(n).get("description", "").split(". ")[0].rstrip(".")
            typer.echo(f"{n:<11} {title}")
        return
    import json

    typer.echo(json.dumps(load_schema(name), indent=2, ensure_ascii=False))
