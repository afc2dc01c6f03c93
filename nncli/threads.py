"""How many BLAS threads `nncli train` uses, and where that number came from.

The matrices of the models nncli is for are small: a recurrent step multiplies (32, 128) by
(128, 128), 64 times per pass, and a digits conv multiplies (16, 9) by (9, 2048). OpenBLAS
splits such a product over every core; when other programs keep the cores busy, each split
waits for a thread that is not running, and an epoch gets many times slower.
benchmarks/train_speed.py --only policies measured four candidates on the 2-core machine
(README, "Training speed"): one thread for the whole run; the BLAS default; one thread
inside the recurrent layers only; one thread for layers whose largest product is below
M*N*K = 2^24. One thread was the fastest in every case, idle and under load (chars rnn:
0.53 s an epoch against 7.0 s with the BLAS default at load average 4.6; gru with two busy
helpers: 1.8 s against 91 s); on a quieter moment (load 3) the BLAS default was at most
~10% faster (chars rnn 0.33 s against 0.35 s) for twice the CPU time, and 3x slower with
the helpers running. Two threads for the per-batch products only (one inside the loops)
was slower than one thread even idle, and gives results that are not bit-identical to one
thread's, so choosing the count by load as a run goes would break bit-exact resume.
So training runs with ONE BLAS thread unless told otherwise:

    --threads N  (or NNCLI_THREADS=N)    N BLAS threads for the whole run
    --threads 0  (or NNCLI_THREADS=0)    the BLAS library's own default (all cores)

The option wins over the variable. threadpoolctl, which sets the limit, is imported only
when a run starts, never at start-up.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from nncli.errors import InputError
from nncli.formatting import plural

ENV = "NNCLI_THREADS"
DEFAULT_THREADS = 1          # the measured choice: see the module docstring
MAX_THREADS = 1024           # more is a typo (BLAS libraries cap far lower anyway)


@dataclass(frozen=True)
class Policy:
    """threads: BLAS threads while training (None: the library's default); origin: what
    chose it, "policy", "--threads" or NNCLI_THREADS."""

    threads: int | None
    origin: str

    def describe(self) -> str:
        """For the training header: '1 BLAS thread', '2 BLAS threads (--threads 2)',
        'BLAS default threads (NNCLI_THREADS=0)'."""
        count = ("BLAS default threads" if self.threads is None
                 else plural(self.threads, "BLAS thread"))
        if self.origin == "policy":
            return count
        if self.origin == ENV:
            return f"{count} ({ENV}={os.environ.get(ENV, '').strip()})"
        return f"{count} ({self.origin} {0 if self.threads is None else self.threads})"


def _count(text: str, what: str) -> int | None:
    try:
        value = int(str(text).strip())
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_THREADS:
        raise InputError(f"{what}: expected a whole number of BLAS threads from 1 to "
                         f"{MAX_THREADS} (0: the library's default), got '{text}'")
    return value or None


def choose(threads: int | None = None) -> Policy:
    """The policy of a run: --threads (`threads`), else NNCLI_THREADS, else one thread."""
    if threads is not None:
        return Policy(_count(str(threads), "--threads"), "--threads")
    env = os.environ.get(ENV, "").strip()
    if env:
        return Policy(_count(env, ENV), ENV)
    return Policy(DEFAULT_THREADS, "policy")


@contextmanager
def limited(policy: Policy) -> Iterator[None]:
    """Run the block with the policy's BLAS thread count (the previous count afterwards)."""
    if policy.threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=policy.threads, user_api="blas"):
        yield


def blas_summary() -> str:
    """One line for `nncli --version`: the BLAS library, its default thread count and what
    training uses."""
    import numpy  # noqa: F401  (loads the BLAS library threadpoolctl inspects)
    from threadpoolctl import threadpool_info

    blas = [lib for lib in threadpool_info() if lib.get("user_api") == "blas"]
    library = (f"{blas[0].get('internal_api', 'BLAS')} {blas[0].get('version') or ''}".strip()
               + f", {blas[0]['num_threads']} threads by default") if blas else \
        "no BLAS library found"
    try:
        policy = choose().describe()
    except InputError as err:
        return f"BLAS: {library}; {err}"
    return f"BLAS: {library}; nncli train uses {policy} ({ENV} or --threads to change)"
