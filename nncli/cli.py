"""The command line: a thin layer that parses options, calls the core, and renders.

Errors from the core (`NncliError`) become one red line on stderr and an exit code in one
place, `_Group.invoke`; numpy and rich are imported inside commands so `--help` is fast.
"""

from __future__ import annotations

import sys

import typer
from typer.core import TyperGroup

from nncli.errors import NncliError

EXIT_INTERRUPTED = 130


class _Group(TyperGroup):
    """Maps core errors to exit codes for every command (also under CliRunner)."""

    def list_commands(self, ctx):  # keep the order commands were registered in
        return list(self.commands)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except NncliError as err:
            if ctx.meta.get("nncli.debug"):
                raise
            _error_line(str(err))
            raise typer.Exit(err.exit_code) from None
        except KeyboardInterrupt:
            _error_line("interrupted")
            raise typer.Exit(EXIT_INTERRUPTED) from None


def _error_line(message: str) -> None:
    from rich.console import Console
    from rich.markup import escape

    # escape: messages quote user input, which may contain "[b]"-like markup.
    Console(stderr=True, highlight=False, soft_wrap=True).print(
        f"[bold red]error:[/] {escape(message)}", markup=True)


app = typer.Typer(
    cls=_Group,
    name="nncli",
    help="A workbench for running and inspecting small neural networks.\n\n"
    "Exit codes: 0 ok, 1 run failed, 2 bad input or usage, 130 interrupted.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    ctx: typer.Context,
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
) -> None:
    ctx.meta["nncli.debug"] = debug


def _register_commands() -> None:
    # Each module adds its commands to `app`; they import numpy/rich lazily inside.
    from nncli.commands import (
        matrix,  # noqa: F401
        model,  # noqa: F401
        trace,  # noqa: F401
    )


_register_commands()


def main() -> None:
    sys.exit(app())
