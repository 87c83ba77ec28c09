"""Fixtures shared by the harness's own tests."""

import pytest

from dojo import impl


@pytest.fixture
def solutions():
    """``import tinytorch`` gives the reference implementation.

    tests/ runs with ``--impl=solutions`` already; activating it again changes nothing and purges
    nothing, so every test sees the same Tensor class (two copies of tinytorch in one process
    would make isinstance checks and the grad-mode flag disagree).
    """
    impl.activate(impl.resolve("solutions"))
