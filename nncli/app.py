"""The typer app every command registers on, and the one place errors become exit codes.

Commands import `app` from here; `nncli.cli` imports the commands and runs the app, so
the two form no import cycle.

Errors from the core (`NncliError`) become one red line on stderr and an exit code in one
place, `_Group.invoke`. Any other exception becomes one line too, never a traceback: an
OSError is bad input (2), a MemoryError a failed run (1), anything else an internal error
(70, a bug; `nncli --debug ...` shows the traceback); nncli.render.messages draws it.
numpy and rich are imported inside commands so `--help` is fast.
"""

from __future__ import annotations

import errno
import warnings
from pathlib import Path

import typer
from typer.core import TyperGroup

from nncli.errors import NncliError

EXIT_INTERRUPTED = 130
INT64 = 2**63
EXIT_INTERNAL = 70      # sysexits.h EX_SOFTWARE: a bug in nncli, not in the input


# click's own exceptions (typer may vendor click, so found through typer's public names).
_CLICK_EXCEPTION = next(k for k in typer.BadParameter.__mro__ if k.__name__ == "ClickException")
_CLICK_ERRORS = (_CLICK_EXCEPTION, typer.Exit, typer.Abort)


class _Group(TyperGroup):
    """Maps core errors to exit codes for every command (also under CliRunner).

    Every command it hands out gets nncli.commands.help_format's help screens (reflowed
    text, plain metavars) and usage errors as one line."""

    def list_commands(self, ctx):  # keep the order commands were registered in
        return list(self.commands)

    def get_params(self, ctx):
        from nncli.commands.help_format import plain_params

        return plain_params(_plain_coercion(super().get_params(ctx)))

    def get_command(self, ctx, name):
        cmd = super().get_command(ctx, name)
        if cmd is not None:
            from nncli.commands.help_format import polish

            _plain_coercion(cmd.get_params(ctx))
            polish(cmd, ctx)
        return cmd

    def format_help(self, ctx, formatter):
        from nncli.commands.help_format import load_help_renderer, reflow

        load_help_renderer()
        self.help = reflow(self.help)
        return super().format_help(ctx, formatter)

    def make_context(self, info_name, args, parent=None, **extra):
        try:                               # `nncli --bogus`: a usage error of the group
            return super().make_context(info_name, args, parent=parent, **extra)
        except _CLICK_EXCEPTION as err:
            _usage_error(err, info_name or "nncli")

    def invoke(self, ctx):
        with warnings.catch_warnings():
            # numpy's RuntimeWarnings (overflow, ...) as one plain line, not a source quote.
            warnings.showwarning = _warning_line
            try:
                return super().invoke(ctx)
            except _CLICK_EXCEPTION as err:    # a command's usage error: one line, exit 2
                sub = ctx.invoked_subcommand
                _usage_error(err, f"{ctx.command_path} {sub}" if sub else ctx.command_path)
            except _CLICK_ERRORS:
                raise                      # Exit, Abort
            except NncliError as err:
                if ctx.meta.get("nncli.debug"):
                    raise
                _error_line(str(err))
                raise typer.Exit(err.exit_code) from None
            except KeyboardInterrupt:
                _error_line("interrupted")
                raise typer.Exit(EXIT_INTERRUPTED) from None
            except Exception as err:              # not an NncliError: never a traceback
                if ctx.meta.get("nncli.debug") or _is_broken_pipe(err):
                    raise                          # click exits quietly on a closed pipe
                code, message = _unexpected(err)
                _error_line(message)
                raise typer.Exit(code) from None


# The typer releases _plain_coercion was written for and tested with (pyproject.toml pins
# them; tests/test_layout.py fails if a parse imports pydantic again).
TYPER_RANGE = ("0.29", "0.30")


def _plain_coercion(params):
    """Parse str/int/float/bool/Path (and lists of str or Path) parameters without typer's
    pydantic adapters.

    typer 0.29 coerces every parameter through a pydantic TypeAdapter: importing pydantic and
    building the adapters costs ~80 ms per run, a third of the 0.3 s start-up budget. Plain
    conversion gives the same values and click-style messages; a Path still goes through
    typer's own path checks (`coerce_cli_path`), handed a Path so it needs no adapter. This
    uses typer internals (`typer._coercion`, pinned in pyproject.toml), guarded: with a typer
    without them nothing changes. Parameters of other types (Enum, ...) keep typer's own
    coercion.
    """
    runtime = _plain_runtime_param()
    for param in params:
        desc = getattr(param, "type_descriptor", None)
        if runtime is None or desc is None or getattr(param, "_runtime_param", 0) is not None:
            continue
        plain = desc.annotation in (str, int, float, bool) or desc.annotation == list[str]
        path = (desc.annotation in (Path, list[Path]) and desc.parameter_info.path_type is None
                and desc.parameter_info.parser is None)
        if plain or path:
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
        from typer._param_types import coerce_cli_path
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
                    number = kind(value)
                except (TypeError, ValueError):
                    what = "integer" if kind is int else "number"
                    raise typer.BadParameter(f"{value!r} is not a valid {what}.", ctx=ctx,
                                             param=param) from None
                if kind is int and not -INT64 <= number < INT64:   # numpy works in int64
                    raise typer.BadParameter(f"{value!r} is out of range (at most 2**63 - 1 "
                                             f"in size).", ctx=ctx, param=param)
                return number
            if kind is Path:
                return self._path(value, param, ctx)
            if kind == list[Path]:
                return [self._path(v, param, ctx) for v in value]
            return [str(v) for v in value]  # list[str]

        def _path(self, value, param, ctx):
            # A Path in hand: typer's checks (exists, readable, ...) without an adapter.
            value = value if isinstance(value, Path) else Path(value)
            return coerce_cli_path(value, self.parameter_info, path_type=Path, param=param,
                                   ctx=ctx)

    _PLAIN.append(PlainRuntimeParam)
    return PlainRuntimeParam


def _usage_error(err, command_path: str) -> None:
    """click's usage error as one red line with the fix, then exit 2 (its exit code); the
    help that `nncli` alone prints goes through as it is. `command_path` names the command
    when click's error does not."""
    if type(err).__name__ == "NoArgsIsHelpError":
        raise err
    from nncli.commands.help_format import usage_error_line

    _error_line(usage_error_line(err, command_path))
    raise typer.Exit(err.exit_code) from None


def _error_line(message: str, label: str = "error", style: str = "bold red") -> None:
    from nncli.render.messages import message_line

    message_line(message, label, style)


def warning_line(message: str) -> None:
    """One yellow 'warning: ...' line on stderr: a problem that does not stop the command."""
    _error_line(message, "warning", "yellow")


def _warning_line(message, category, filename, lineno, file=None, line=None) -> None:
    warning_line(str(message))


def _is_broken_pipe(err: BaseException) -> bool:
    return isinstance(err, OSError) and err.errno == errno.EPIPE


def _unexpected(err: Exception) -> tuple[int, str]:
    """(exit code, one line) for an exception the core did not turn into an NncliError.

    A file the system refuses (permissions, a missing folder) is bad input (2); running out
    of memory or disk is a run that failed (1); anything else is a bug in nncli (70)."""
    if isinstance(err, MemoryError):
        return 1, ("out of memory; the input or model needs more memory than the machine "
                   "has free (set NNCLI_MEMORY_BUDGET lower to have nncli refuse such "
                   "inputs up front)")
    if isinstance(err, OSError):
        where = f"'{err.filename}': " if err.filename is not None else ""
        reason = err.strerror or str(err) or type(err).__name__
        if err.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            return 1, f"cannot write {where}{reason}"
        return 2, f"cannot access {where}{reason}"
    text = " ".join(str(err).split())[:200]
    return EXIT_INTERNAL, (f"internal error ({type(err).__name__}{': ' + text if text else ''});"
                           f" this is a bug in nncli: run it again with 'nncli --debug ...' "
                           f"for the traceback and report it")


app = typer.Typer(
    cls=_Group,
    name="nncli",
    help="A workbench for running and inspecting small neural networks.\n\n"
    "Exit codes: 0 ok, 1 run failed, 2 bad input or usage, 130 interrupted, "
    "70 internal error (a bug).",
    no_args_is_help=True,
    add_completion=True,       # --install-completion / --show-completion
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from nncli import __version__

        typer.echo(f"nncli {__version__}")
        # How training computes (thread policy, kernels), on stderr: stdout stays the one
        # line scripts read.
        from nncli import kernels
        from nncli.threads import blas_summary

        typer.echo(blas_summary(), err=True)
        typer.echo(kernels.describe(), err=True)
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
    version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                 help="Print the version and exit."),
) -> None:
    ctx.meta["nncli.debug"] = debug
