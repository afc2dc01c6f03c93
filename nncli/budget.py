"""The memory budget: how many bytes one command may allocate for arrays.

Anything that would allocate more (an input, a model's parameters, a batch, a generated
dataset, the arrays inside an .npz) is refused up front with the estimate in the message,
instead of the process being killed by the operating system. The budget is a quarter of
the available RAM, or NNCLI_MEMORY_BUDGET (bytes, or 512M, 2G, ...).
"""

from __future__ import annotations

import os
import re
from contextlib import suppress

from nncli.errors import InputError

BUDGET_ENV = "NNCLI_MEMORY_BUDGET"
BUDGET_FRACTION = 0.25          # of the available RAM


def parse_size(text: str, name: str = BUDGET_ENV) -> int:
    """'1048576', '512K', '64M', '2G', '1.5GB' -> bytes."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*", text, re.IGNORECASE)
    if not m:
        raise InputError(f"{name}: expected a size like 512M or 2G, got '{text}'")
    power = "kmgt".find(m.group(2).lower()) + 1 if m.group(2) else 0
    return int(float(m.group(1)) * 1024**power)


def _available_memory() -> int:
    with suppress(OSError, ValueError), open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    with suppress(AttributeError, ValueError, OSError):
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return 4 * 1024**3


def memory_budget() -> int:
    """Bytes one command may allocate for arrays: NNCLI_MEMORY_BUDGET or 1/4 of free RAM."""
    env = os.environ.get(BUDGET_ENV)
    if env:
        return parse_size(env)
    return max(int(_available_memory() * BUDGET_FRACTION), 64 * 1024**2)


def human_bytes(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PB"  # pragma: no cover


def check_budget(nbytes: int, name: str, what: str, fix: str = "") -> None:
    """Raise InputError if `what` (e.g. 'the 9000x9000 input') needs more than the budget."""
    budget = memory_budget()
    if nbytes > budget:
        hint = f"{fix}, or set {BUDGET_ENV}" if fix else f"set {BUDGET_ENV} to raise it"
        raise InputError(f"{name}: {what} needs about {human_bytes(nbytes)}, over the memory "
                         f"budget of {human_bytes(budget)}; {hint}")
