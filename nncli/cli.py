"""The command line's entry point: registers every command on the app, then runs it.

The app itself and the mapping of errors to exit codes live in `nncli.app`; the commands
(`nncli.commands.*`) import `app` from there, so nothing imports this module but the
console script and `python -m nncli`.
"""

from __future__ import annotations

import importlib
import sys

from nncli.app import app


def _register_commands() -> None:
    # Each module adds its commands to `app`; they import numpy/rich lazily inside.
    from nncli.commands import (
        layers,  # noqa: F401
        matrix,  # noqa: F401
        model,  # noqa: F401
        schema,  # noqa: F401
        text,  # noqa: F401
        trace,  # noqa: F401
        train,  # noqa: F401
    )
    importlib.import_module("nncli.commands.export")   # listed after train
    importlib.import_module("nncli.commands.runs")     # runs, compare
    importlib.import_module("nncli.commands.report")
    importlib.import_module("nncli.commands.inspect")  # weights, data
    # Registered last, so `nncli --help` lists them after the commands above.
    importlib.import_module("nncli.commands.examples")


_register_commands()


def main() -> None:
    sys.exit(app())
