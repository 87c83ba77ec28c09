"""Step 5: threads — the BLAS thread count, chosen and restored, with a clear fallback."""

import sys

import pytest

from dojo.testing import raises
from tinytorch.acceleration import blas_threads, thread_count


def blas_counts():
    """The test's own reading, straight from threadpoolctl."""
    from threadpoolctl import threadpool_info

    return {info["num_threads"] for info in threadpool_info() if info.get("user_api") == "blas"}


def test_thread_count_reads_threadpoolctl():
    """thread_count() is the number of threads NumPy's BLAS uses now.

    Hint: thread_count: from threadpoolctl import threadpool_info (inside the function) and return the largest
    num_threads among the entries whose user_api is 'blas'.
    """
    assert thread_count() == max(blas_counts())


def test_blas_threads_sets_the_count_inside_the_block_and_restores_it():
    """Inside blas_threads(n) BLAS uses n threads; afterwards the previous count is back.

    Hint: make blas_threads a @contextlib.contextmanager that yields inside threadpool_limits(limits=n,
    user_api='blas'); that context manager restores the previous count itself.
    """
    before = max(blas_counts())
    target = 2 if before == 1 else 1
    with blas_threads(target):
        assert blas_counts() == {target}, f"inside blas_threads({target}) BLAS uses {blas_counts()} thread(s)"
        assert thread_count() == target
    assert max(blas_counts()) == before, f"after the block BLAS uses {blas_counts()} thread(s), {before} before"


def test_blas_threads_restores_the_count_when_the_block_raises():
    """An exception inside the block still restores the count, and is not swallowed.

    Hint: yield inside the 'with threadpool_limits(...)' block (no try/except around the yield that swallows
    the exception): the with statement restores the count and lets the exception through.
    """
    before = max(blas_counts())
    with raises(KeyError):
        with blas_threads(2 if before == 1 else 1):
            raise KeyError("inside the block")
    assert max(blas_counts()) == before


def test_blas_threads_rejects_fewer_than_one_thread():
    """blas_threads(0) is a ValueError.

    Hint: check n >= 1 at the top of blas_threads and raise ValueError before yielding.
    """
    with raises(ValueError):
        with blas_threads(0):
            pass


def test_without_threadpoolctl_it_warns_and_still_runs_the_block(monkeypatch):
    """No threadpoolctl: a RuntimeWarning saying what to do, the block runs, the count comes from the environment.

    Hint: import threadpoolctl inside the functions and catch ImportError: blas_threads then warns a
    RuntimeWarning mentioning threadpoolctl and still yields once; thread_count reads OPENBLAS_NUM_THREADS
    (then OMP_/MKL_) from os.environ.
    """
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # `import threadpoolctl` now raises ImportError
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")
    ran = []
    with pytest.warns(RuntimeWarning, match="threadpoolctl"):
        with blas_threads(1):
            ran.append(True)
    assert ran == [True], "the block did not run"
    assert thread_count() == 3, "without threadpoolctl thread_count() should read OPENBLAS_NUM_THREADS"
