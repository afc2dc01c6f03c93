"""Keep the memory a training step frees, so that the next step reuses it.

Every batch allocates the same arrays again: activations, gradients and temporaries of
0.1 to 4 MB. glibc's malloc serves blocks above its mmap threshold (128 KB at first) with
fresh mappings, and gives the top of its heap back to the system once 128 KB of it is
free. Each batch then maps and zeroes the same memory again. On the chars rnn that cost
150 to 300 minor page faults and 0.5 to 1 ms of system time per 8 ms batch.

Raising both thresholds (mallopt) keeps freed blocks in the heap: no faults after the
first batch (benchmarks/train_speed.py measures the epochs). The cost is that the freed
memory stays with the process until it ends, and the peak is what it was anyway.

Only glibc has mallopt. Elsewhere this does nothing.
"""

from __future__ import annotations

import ctypes
import functools
import sys

# glibc's malloc.h parameter numbers
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD = 32 * 2**20   # glibc's largest mmap threshold on 64-bit: bigger stay mmaps
TRIM_THRESHOLD = 256 * 2**20  # give the heap's top back only past this much free

@functools.cache                     # once per process: later runs find it done
def keep_freed_memory() -> bool:
    """Tell malloc to keep freed memory for reuse. Returns whether it could (glibc)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):        # not glibc (musl has no mallopt symbol)
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    # Both, in this order: setting the trim threshold alone switches off glibc's adaptive
    # mmap threshold and makes every large block a fresh mapping.
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
