"""Step 2: dispatch — a registry of kernels keyed by (op, backend), selected by tinytorch.backend(...)."""

import numpy as np
import pytest

import tinytorch
from dojo.testing import assert_close, gradcheck, raises
from tinytorch import acceleration, tensor
from tinytorch.acceleration import (
    KERNELS, available_backends, backend, counters, get_backend, register_kernel, reset_counters, set_backend,
)
from tinytorch.tensor import Tensor
from tinytorch.transformer import layer_norm

CALLS = []


@pytest.fixture(autouse=True)
def testing_backend():
    """A backend named "testing" with kernels of the test's own (none of step 3's); removed afterwards."""
    saved = dict(KERNELS)
    CALLS.clear()

    @register_kernel("mul", "testing")
    def mul(a, b):
        CALLS.append("mul")
        return a.data * b.data  # the right values: kata 05's "mul" rule differentiates them

    @register_kernel("sum", "testing")
    def total(x, axis=None, keepdims=False):
        CALLS.append("sum")
        return NotImplemented if axis is not None else np.sum(x.data)  # declines an axis

    @register_kernel("layer_norm", "testing")
    def ln(x, weight, bias, eps=1e-5):
        CALLS.append("layer_norm")
        return Tensor(np.full(x.shape, 7.0, dtype=x.dtype))

    yield
    try:
        set_backend("reference")
    except Exception:  # a broken set_backend must not leave later tests on another backend
        pass
    tensor.set_dispatcher(None)
    KERNELS.clear()
    KERNELS.update(saved)


def test_reference_is_selected_until_another_backend_is():
    """get_backend() is "reference" at first; the testing backend appears in available_backends().

    Hint: get_backend() returns the module global _backend, which starts as 'reference'; available_backends()
    is given scaffolding and already lists 'testing'.
    """
    assert get_backend() == "reference"
    assert "testing" in available_backends() and "reference" in available_backends()


def test_set_backend_runs_the_registered_kernel_and_returns_the_previous_backend():
    """set_backend("testing") returns "reference"; a * b then runs the registered kernel; back to "reference" after.

    Hint: set_backend must declare 'global _backend', return the previous name, and install your dispatch
    function with tensor's set_dispatcher(dispatch) (or set_dispatcher(None) for 'reference'); dispatch runs
    KERNELS[(name, _backend)](*args, **kwargs).
    """
    a, b = Tensor([1.0, 2.0]), Tensor([3.0, 4.0])
    assert set_backend("testing") == "reference"
    assert get_backend() == "testing"
    out = a * b
    assert CALLS == ["mul"], f"the registered kernel for ('mul', 'testing') ran {CALLS.count('mul')} time(s), expected once"
    assert_close(out, [3.0, 8.0], what="a * b through the testing kernel")
    assert set_backend("reference") == "testing"
    a * b
    assert CALLS == ["mul"], "with the reference backend selected, the testing kernel still ran"


def test_a_kernels_array_is_recorded_under_the_op_name_so_autograd_still_works():
    """Under the testing backend a * b records a node named "mul": kata 05's rule gives the right gradients.

    Hint: dispatch must return the kernel's NumPy array as it is: the @op scaffolding records it under the
    op's name, so kata 05's rule differentiates it; do not wrap it in a new Tensor.
    """
    a = Tensor([1.0, -2.0], requires_grad=True)
    with backend("testing"):
        out = a * Tensor([3.0, 5.0])
        assert out.node is not None and out.node.op == "mul"
        gradcheck(lambda x, y: x * y, [np.array([[0.5, -1.5], [2.0, 1.0]]), np.array([[1.5, 2.5], [-0.5, 3.0]])])
    assert "mul" in CALLS


def test_ops_without_a_kernel_and_declined_calls_run_the_reference_and_are_counted():
    """No kernel: the reference runs; a kernel that returns NotImplemented: the reference runs too; all counted.

    Hint: in dispatch, when KERNELS has no (name, backend) entry OR the kernel returns NotImplemented, call
    reference(*args, **kwargs) and count (name, 'reference'); count (name, backend) only when the kernel's
    result is used.
    """
    reset_counters()
    x = Tensor([[1.0, 2.0], [3.0, 4.0]])
    with backend("testing"):
        assert_close(x + x, [[2.0, 4.0], [6.0, 8.0]], what="x + x (no testing kernel)")
        assert_close(x.sum(), 10.0, what="x.sum() (testing kernel)")
        assert_close(x.sum(axis=0), [4.0, 6.0], what="x.sum(axis=0) (declined: the reference)")
        x * x
    got = counters()
    want = {("add", "reference"): 1, ("sum", "testing"): 1, ("sum", "reference"): 1, ("mul", "testing"): 1}
    assert got == want, f"counters() is {got}, expected {want}"


def test_counters_count_only_while_a_backend_is_selected_and_reset():
    """Nothing is counted under "reference" (no dispatcher, no cost); reset_counters() empties them.

    Hint: count only inside dispatch (which is not installed under 'reference'); counters() returns a plain
    dict copy of _counts and reset_counters() clears it.
    """
    reset_counters()
    x = Tensor([1.0, 2.0])
    x * x
    assert counters() == {}, f"under the reference backend counters() should stay empty, got {counters()}"
    with backend("testing"):
        x * x
    assert counters() == {("mul", "testing"): 1}
    reset_counters()
    assert counters() == {}


def test_the_reference_backend_removes_the_dispatcher():
    """Selecting "reference" uninstalls the dispatcher from tensor.py's seam: the ops pay nothing for it.

    Hint: set_backend('reference') must call set_dispatcher(None), and any other backend
    set_dispatcher(dispatch): leaving the dispatcher installed under 'reference' costs every op a call.
    """
    with backend("testing"):
        installed = tensor.set_dispatcher(None)
        tensor.set_dispatcher(installed)
        assert installed is not None, "with a backend selected no dispatcher is installed in tensor.py"
    assert tensor.set_dispatcher(None) is None, "after the block a dispatcher is still installed"


def test_composite_ops_are_dispatched_whole():
    """layer_norm (a composite op) runs the testing backend's kernel, which returns a Tensor.

    Hint: dispatch treats composite ops like any other name: look up KERNELS[('layer_norm', backend)] and
    return the Tensor the kernel returns; no special case is needed.
    """
    x, w, b = Tensor(np.ones((2, 3))), Tensor(np.ones(3)), Tensor(np.zeros(3))
    with backend("testing"):
        out = layer_norm(x, w, b)
    assert CALLS == ["layer_norm"]
    assert_close(out, np.full((2, 3), 7.0), what="layer_norm under the testing backend")


def test_backend_is_a_context_manager_that_restores_even_when_the_block_raises():
    """with backend(...) restores the previous backend at the end, also after an exception, and nests.

    Hint: backend.__init__ stores self.previous = set_backend(name); __exit__ calls set_backend(self.previous)
    and returns False, so the exception propagates and nested blocks restore the outer backend.
    """
    with raises(KeyError):
        with backend("testing"):
            assert get_backend() == "testing"
            raise KeyError("inside the block")
    assert get_backend() == "reference", "the backend was not restored after an exception in the block"
    with backend("testing"):
        with backend("reference"):
            assert get_backend() == "reference"
        assert get_backend() == "testing", "the inner block did not restore the outer block's backend"
    assert get_backend() == "reference"


def test_backend_called_alone_is_a_setter_and_tinytorch_exports_it():
    """tinytorch.backend("testing") on its own line switches (like torch.set_grad_enabled).

    Hint: switch in backend.__init__, not in __enter__: tinytorch.backend('testing') on its own line never
    enters a with block.
    """
    tinytorch.backend("testing")
    assert tinytorch.get_backend() == "testing"
    tinytorch.set_backend("reference")
    assert get_backend() == "reference"


def test_an_unknown_backend_is_a_value_error_and_changes_nothing():
    """set_backend("gpu") raises ValueError naming the available backends; the selection stays.

    Hint: check name in available_backends() before changing _backend or the dispatcher, and raise ValueError
    whose message lists the available backends ('reference' among them).
    """
    with raises(ValueError, match="reference"):
        set_backend("gpu")
    assert get_backend() == "reference"
    assert acceleration.get_backend() == "reference"
