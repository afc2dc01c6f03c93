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

    def get_params(self, ctx):
        return _plain_coercion(super().get_params(ctx))

    def get_command(self, ctx, name):
        cmd = super().get_command(ctx, name)
        if cmd is not None:
            _plain_coercion(cmd.get_params(ctx))
        return cmd

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


def _plain_coercion(params):
    """Parse str/int/float/bool/list[str] parameters without typer's pydantic adapters.

    typer 0.29 coerces every parameter through a pydantic TypeAdapter: importing pydantic and
    building the adapters costs ~80 ms per run, a third of the 0.3 s start-up budget. Plain
    conversion gives the same values and click-style messages. This uses typer internals,
    guarded: with a typer without `_coercion.RuntimeParam` nothing changes. Parameters of
    other types (Path, Enum, ...) keep typer's own coercion.
    """
    runtime = _plain_runtime_param()
    for param in params:
        desc = getattr(param, "type_descriptor", None)
        if runtime is None or desc is None or getattr(param, "_runtime_param", 0) is not None:
            continue
        if desc.annotation in (str, int, float, bool) or desc.annotation == list[str]:
            param._runtime_param = runtime(parameter_info=desc.parameter_info,
                                           annotation=desc.annotation)
    return params


_PLAIN: list = []


def _plain_runtime_param():
    if _PLAIN:
        return _PLAIN[0]
    try:
        from dataclasses import dataclass

        from typer._coercion import RuntimeParam
    except ImportError:  # pragma: no cover - another typer version: keep its coercion
        _PLAIN.append(None)
        return None

    truth = {"1": True, "true": True, "yes": True, "on": True,
             "0": False, "false": False, "no": False, "off": False}

    @dataclass(frozen=True)
    class PlainRuntimeParam(RuntimeParam):
        def _coerce_value(self, value, param, ctx):
            kind = self.annotation
            if kind is str:
                return value if isinstance(value, str) else str(value)
            if kind is bool:
                if isinstance(value, bool) or str(value).lower() in truth:
                    return value if isinstance(value, bool) else truth[str(value).lower()]
                raise typer.BadParameter(f"{value!r} is not a valid boolean.", ctx=ctx,
                                         param=param)
            if kind in (int, float):
                try:
                    return kind(value)
                except (TypeError, ValueError):
                    what = "integer" if kind is int else "number"
                    raise typer.BadParameter(f"{value!r} is not a valid {what}.", ctx=ctx,
                                             param=param) from None
            return [str(v) for v in value]  # list[str]

    _PLAIN.append(PlainRuntimeParam)
    return PlainRuntimeParam


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
        text,  # noqa: F401
        trace,  # noqa: F401
        train,  # noqa: F401
    )


_register_commands()


def main() -> None:
    sys.exit(app())
