"""dojo.threads: a thread limit chosen before NumPy is imported still reaches NumPy's BLAS."""

import os
import subprocess
import sys

import pytest

from dojo import ROOT

BLAS_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "TINYTORCH_THREADS")

REPORT = (
    "from threadpoolctl import threadpool_info\n"
    "import numpy\n"
    "print(max(i['num_threads'] for i in threadpool_info() if i.get('user_api') == 'blas'))\n"
)


def _blas_threads_after(prelude: str) -> int:
    """BLAS threads that threadpoolctl reports in a fresh interpreter after ``prelude`` (no thread
    variable in its environment, so the BLAS would start one thread per core on its own)."""
    env = {k: v for k, v in os.environ.items() if k not in BLAS_ENV}
    proc = subprocess.run([sys.executable, "-c", prelude + REPORT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout.split()[-1])


def test_configure_before_numpy_is_imported_limits_its_blas():
    """``threads.configure(1)`` in a process that has not imported NumPy yet (the order a command
    naturally writes) still limits NumPy's BLAS to one thread: no ``import numpy`` needed first."""
    default = _blas_threads_after("")
    if default < 2:
        pytest.skip(f"NumPy's BLAS starts {default} thread here: a limit of 1 would not show")
    prelude = (
        "import sys\n"
        "from dojo import threads\n"
        "assert 'numpy' not in sys.modules, 'this test needs a process without NumPy'\n"
        "threads.configure(1)\n"
    )
    assert _blas_threads_after(prelude) == 1
