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
