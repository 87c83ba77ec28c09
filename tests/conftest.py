"""Fixtures shared by the harness's own tests."""

import os

import pytest

from dojo import impl
from tests.httpserver import PROXY_VARIABLES, Server

# `make kata` in the harness's own test processes starts a fresh interpreter every time: no warm
# server outlives a test run. tests/test_warm.py and the warm runs of test_abnormal_runs.py turn it
# on for one mini repository at a time (tests/minirepo.py: warm_environment) and stop it after.
os.environ["DOJO_WARM"] = "0"


@pytest.fixture
def solutions():
    """``import tinytorch`` gives the reference implementation.

    tests/ runs with ``--impl=solutions`` already; activating it again changes nothing and purges
    nothing, so every test sees the same Tensor class (two copies of tinytorch in one process
    would make isinstance checks and the grad-mode flag disagree).
    """
    impl.activate(impl.resolve("solutions"))


@pytest.fixture
def server(monkeypatch):
    """A running :class:`tests.httpserver.Server` on 127.0.0.1, reached without a proxy and with
    TINYTORCH_OFFLINE unset; stopped when the test is over."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("TINYTORCH_OFFLINE", raising=False)
    s = Server()
    s.start()
    yield s
    s.stop()
