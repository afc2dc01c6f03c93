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


# ---- the suite never writes into the repository ------------------------------------------
# (a fuzz case once ran `init ... -o configs/seed_rnn.yaml --force`): the shipped configs and
# data are hashed before the session and checked after it.

def _snapshot() -> dict:
    import hashlib
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    files = [p for folder in ("configs", "data", "tests/oracle")
             for p in sorted((root / folder).rglob("*")) if p.is_file()]
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def pytest_sessionstart(session):
    session.config._nncli_snapshot = _snapshot()


def pytest_sessionfinish(session, exitstatus):
    before = getattr(session.config, "_nncli_snapshot", None)
    if before is None:
        return
    after = _snapshot()
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    if changed:
        session.config.get_terminal_writer().line(
            f"tests changed repository files: {', '.join(changed)}", red=True)
        session.exitstatus = 1
