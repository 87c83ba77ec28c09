"""BLAS thread counts, chosen rather than left to chance.

NumPy's BLAS (OpenBLAS on most installs) starts one thread per core, and idle OpenBLAS threads
spin while they wait for work. On a quiet machine two threads make a large matmul faster; on a
busy one the spinning threads fight the other work for the cores, and a milestone measured here
ran 10× slower (193 s instead of 17 s) until BLAS was pinned to one thread.

So every command that computes picks its thread count on purpose:

* ``TINYTORCH_THREADS=N`` always wins (``N >= 1``);
* ``make kata`` / tests use 1 (their arrays are tiny: threads only add wake-up cost);
* ``make bench`` uses 1 (the anchors in DESIGN.md are one-thread figures; ``--threads`` changes it);
* milestones use ``auto``: the cores that are idle right now (``os.cpu_count()`` minus the 1-minute
  load average, rounded, at least 1, at most 4), so a quiet machine gets its cores and a busy one
  does not oversubscribe them.

The limit is applied in-process with threadpoolctl (no environment variables to get right before
NumPy starts) and, when PyTorch is imported, to ``torch.set_num_threads`` as well. threadpoolctl
only limits a BLAS that is loaded, so ``apply`` loads NumPy's first: a caller may configure
threads before it imports NumPy. (Kata processes are the exception that wants the environment:
the pytest plugin sets ``OPENBLAS_NUM_THREADS`` & co. when NumPy is not loaded yet, so that the
BLAS starts with the right count, and exec'd children inherit it.)
"""

from __future__ import annotations

import os
import sys

ENV = "TINYTORCH_THREADS"
MAX_AUTO = 4


def idle_cores() -> int:
    """Cores not busy right now: cpu_count minus the 1-minute load average (at least 1)."""
    cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # Windows has no load average: assume a quiet machine
        load = 0.0
    return max(1, min(cores, MAX_AUTO, int(round(cores - load))))


def choose(default: str | int = 1) -> int:
    """The thread count to use: ``$TINYTORCH_THREADS`` if set, else ``default`` (an int or "auto")."""
    value = os.environ.get(ENV, "").strip() or str(default)
    if value == "auto":
        return idle_cores()
    try:
        count = int(value)
    except ValueError:
        raise ValueError(f"{ENV}={value!r}: expected a number of threads (>= 1) or 'auto'") from None
    if count < 1:
        raise ValueError(f"{ENV}={value!r}: expected a number of threads (>= 1) or 'auto'")
    return count


_limiter = None  # keeps threadpoolctl's limit alive for the whole process


def apply(count: int) -> int:
    """Limit NumPy's BLAS (and PyTorch, if imported) to ``count`` threads; return ``count``.

    Loads NumPy first when it is not loaded yet (before that there is no BLAS to limit, and the
    call would silently do nothing)."""
    global _limiter
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - a declared dependency; still run without it
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[name] = str(count)
    else:
        try:
            import numpy  # noqa: F401  (loads the BLAS: threadpoolctl limits only a library that is loaded)
        except ImportError:  # pragma: no cover - a declared dependency
            pass
        _limiter = threadpool_limits(limits=count, user_api="blas")
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(count)
    return count


def configure(default: str | int = 1) -> int:
    """``apply(choose(default))``: the one call a command makes before it computes."""
    return apply(choose(default))


def blas_threads() -> int:
    """How many threads NumPy's BLAS uses now (threadpoolctl, else the environment, else 0 = unknown)."""
    try:
        from threadpoolctl import threadpool_info

        counts = [info["num_threads"] for info in threadpool_info() if info.get("user_api") == "blas"]
        if counts:
            return max(counts)
    except ImportError:  # pragma: no cover
        pass
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return 0
