"""Step 4: environment — Python, NumPy, the BLAS and its threads, the CPUs and the load, captured with the numbers."""

import os
import platform
import sys
import types

import numpy as np

from tinytorch.benchmarking import environment


def fake_threadpoolctl(threads):
    module = types.ModuleType("threadpoolctl")
    module.threadpool_info = lambda: [
        {"user_api": "openmp", "internal_api": "openmp", "num_threads": 8},
        {"user_api": "blas", "internal_api": "fakeblas", "num_threads": threads},
    ]
    return module


def test_versions_and_cpus():
    """python, implementation, numpy and cpu_count are the running ones; cpus_usable at most cpu_count.

    Hint: environment() returns a dict with python (platform.python_version()), implementation, platform,
    machine, numpy (np.__version__), cpu_count (os.cpu_count()) and cpus_usable (len(os.sched_getaffinity(0)),
    falling back to cpu_count).
    """
    env = environment()
    assert env["python"] == platform.python_version() and env["implementation"] == platform.python_implementation()
    assert env["numpy"] == np.__version__ and env["cpu_count"] == os.cpu_count()
    assert 1 <= env["cpus_usable"] <= env["cpu_count"]
    assert env["platform"] == platform.platform() and env["machine"] == platform.machine()


def test_blas_and_threads_come_from_threadpoolctl(monkeypatch):
    """With threadpoolctl importable, the BLAS entry of threadpool_info() gives the name and the thread count.

    Hint: import threadpool_info inside environment() (so the test's replacement module is used) and take the
    first entry whose user_api == 'blas': blas = its internal_api, blas_threads = its num_threads.
    """
    monkeypatch.setitem(sys.modules, "threadpoolctl", fake_threadpoolctl(3))
    env = environment()
    assert env["blas"] == "fakeblas" and env["blas_threads"] == 3, (env["blas"], env["blas_threads"])


def test_without_threadpoolctl_numpy_names_the_blas(monkeypatch):
    """threadpoolctl missing: no thread count (None), the BLAS name from np.show_config, no crash.

    Hint: wrap 'from threadpoolctl import threadpool_info' in try/except ImportError; without it, blas_threads
    is None and blas comes from the given _blas_from_numpy().
    """
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # makes the import fail
    env = environment()
    assert env["blas_threads"] is None
    try:
        expected = np.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"]
    except Exception:
        expected = None
    assert env["blas"] == expected


def test_load_average_where_the_system_has_one(monkeypatch):
    """os.getloadavg() as three floats; None on a system without it (Windows).

    Hint: call os.getloadavg() at run time inside try/except (AttributeError, OSError) and return a tuple of 3
    floats, or None where it does not exist; do not cache it at import.
    """
    monkeypatch.setattr(os, "getloadavg", lambda: (1.5, 0.5, 0.25), raising=False)
    assert environment()["load_average"] == (1.5, 0.5, 0.25)
    monkeypatch.delattr(os, "getloadavg")
    assert environment()["load_average"] is None


def test_thread_variables_are_recorded(monkeypatch):
    """The thread-count environment variables that are set appear under env, the unset ones do not.

    Hint: env = {name: os.environ[name] for name in THREAD_VARIABLES if name in os.environ}, read when
    environment() is called; unset variables must not appear.
    """
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    env = environment()["env"]
    assert env.get("OMP_NUM_THREADS") == "3" and "MKL_NUM_THREADS" not in env
