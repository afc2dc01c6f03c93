"""The errors nncli's core raises. The CLI turns them into one red line and an exit code."""


class NncliError(Exception):
    """A user-facing problem. `str(err)` is the whole one-line message."""

    exit_code = 2


class InputError(NncliError):
    """Bad usage or bad input: a matrix, file, spec, weights or option (exit code 2)."""

    exit_code = 2


class RunFailed(NncliError):
    """A run that started but failed: divergence, a gradient check over tolerance (exit 1)."""

    exit_code = 1


def check_int(option: str, value: int, minimum: int) -> int:
    """`value` of an integer command-line option, or an InputError naming it if < minimum.

    The one check of an int option (--stride, --steps, ...) for commands and the core alike;
    option tables in specs are checked by nncli.options instead."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InputError(f"{option}: expected an integer >= {minimum}, got {value!r}")
    return value
