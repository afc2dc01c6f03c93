"""nncli.allocator: after keep_freed_memory, repeating the allocations of a training step
maps no new memory (glibc only; elsewhere it says it did nothing)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from nncli import allocator

FAULTS = """
import resource, sys
import numpy as np
if sys.argv[1] == "keep":
    from nncli.allocator import keep_freed_memory
    assert keep_freed_memory()
def step():                        # a step's worth of 0.25-2 MB temporaries, freed again
    a = [np.ones(2**k) for k in range(15, 19)]
    return sum(float(x[-1]) for x in a)
step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def faults(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", FAULTS, mode], capture_output=True,
                         text=True, timeout=60, check=True)
    return int(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's")
def test_kept_memory_is_reused_without_page_faults():
    assert faults("default") > 400           # glibc maps (or trims) and faults them again
    assert faults("keep") < 50               # reused from the heap


def test_keep_freed_memory_answers_the_same_every_time():
    first = allocator.keep_freed_memory()
    assert allocator.keep_freed_memory() is first
