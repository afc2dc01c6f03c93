"""Shared pytest hooks: the fuzz suite's case counts appear in the terminal summary."""

from __future__ import annotations

import sys


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    fuzz = sys.modules.get("test_fuzz")
    cases = getattr(fuzz, "CASES", None)
    if not cases:
        return
    exits = fuzz.EXITS
    per_command = ", ".join(f"{name} {n}" for name, n in sorted(cases.items()))
    codes = ", ".join(f"{code}: {n}" for code, n in sorted(exits.items()))
    terminalreporter.write_sep("-", "fuzz")
    terminalreporter.write_line(f"fuzz: {sum(cases.values())} cases run through the CLI "
                                f"(exit codes {codes})")
    terminalreporter.write_line(f"fuzz cases per command: {per_command}")
