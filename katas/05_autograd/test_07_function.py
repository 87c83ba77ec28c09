"""Step 7: no_grad (context manager and decorator) and the Function API for custom ops."""

import numpy as np
import pytest

from dojo.testing import assert_close, gradcheck, raises
from tinytorch.autograd import Function, no_grad
from tinytorch.tensor import Tensor, is_grad_enabled, set_grad_enabled


@pytest.fixture(autouse=True)
def grad_mode_restored():
    """Whatever a test does, the next one starts with recording on."""
    yield
    set_grad_enabled(True)


class Cube(Function):
    """y = x³, written forward and backward side by side."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved
        return 3 * x**2 * grad


class Scale(Function):
    """y = x * k for a Python number k: a non-tensor positional argument, whose gradient is None."""

    @staticmethod
    def forward(ctx, x, k):
        ctx.k = k
        return x * k

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.k, None


def _leaf(values):
    return Tensor(np.array(values, dtype=np.float64), requires_grad=True)


# -- no_grad -------------------------------------------------------------------------------------


def test_no_grad_context_manager_records_nothing():
    """Inside `with no_grad():` results have requires_grad False and node None, even from
    inputs that require grad; after the block, recording is back on.

    Hint: no_grad.__enter__ must turn recording off with set_grad_enabled(False) and keep the mode it returns
    on self; __exit__ sets that mode back.
    """
    x = _leaf([1.0, 2.0])
    with no_grad():
        y = x * 2 + 1
        assert not is_grad_enabled(), "recording should be off inside no_grad"
    assert y.requires_grad is False and y.node is None, "a result computed under no_grad must not be recorded"
    z = x * 2
    assert is_grad_enabled() and z.requires_grad and z.node is not None, "recording must be back on after the block"


def test_no_grad_as_a_decorator():
    """@no_grad() on a function: its results are not recorded, and recording is on again after.

    Hint: The decorator (__call__) is already written on top of __enter__ and __exit__: if this fails, one of
    them does not switch recording off on entry or back on at exit.
    """

    @no_grad()
    def evaluate(t):
        return (t * t).sum()

    x = _leaf([1.0, 2.0])
    out = evaluate(x)
    assert out.requires_grad is False and out.node is None, "a result of a @no_grad() function must not be recorded"
    assert is_grad_enabled(), "recording must be back on after the decorated function returns"
    assert_close(out, 5.0, what="the decorated function's result")


def test_no_grad_restores_the_mode_after_an_exception():
    """An exception inside the block propagates, and recording is back on afterwards (also for
    the decorator).

    Hint: __exit__ runs even when the block raises: it must restore the previous mode and return False (or
    None), so the exception still propagates; returning True swallows it.
    """
    with pytest.raises(ValueError):
        with no_grad():
            raise ValueError("boom")
    assert is_grad_enabled(), "recording must be back on after an exception in a no_grad block"

    @no_grad()
    def fails():
        raise KeyError("boom")

    with pytest.raises(KeyError):
        fails()
    assert is_grad_enabled(), "recording must be back on after an exception in a @no_grad() function"


def test_nested_no_grad_restores_the_previous_mode():
    """Leaving an inner no_grad inside an outer one keeps recording off: each block restores the
    mode it found, not simply 'on'.

    Hint: __exit__ must restore the mode saved in __enter__ (set_grad_enabled returns the previous one), not
    always set_grad_enabled(True): the inner block found recording already off.
    """
    with no_grad():
        with no_grad():
            pass
        assert not is_grad_enabled(), "the outer no_grad block is still active"
    assert is_grad_enabled()


# -- Function --------------------------------------------------------------------------------------


def test_function_apply_records_a_node_named_after_the_class():
    """Cube.apply(x) returns a Tensor with x³, requires_grad True, and node.op == 'Cube' whose
    inputs are (x,).

    Hint: Function.apply must return record_op(out, cls.__name__, tensor_inputs, kwargs, backward_fn): the op
    name is the class's name and the inputs are the Tensor arguments themselves.
    """
    x = _leaf([1.0, -2.0])
    y = Cube.apply(x)
    assert isinstance(y, Tensor), f"apply must return a Tensor, got {type(y).__name__}"
    assert_close(y, [1.0, -8.0], what="Cube.apply(x)")
    assert y.requires_grad and y.node is not None, "the result must be recorded"
    assert y.node.op == "Cube", f"node.op should be the class name 'Cube', got {y.node.op!r}"
    assert len(y.node.inputs) == 1 and y.node.inputs[0] is x, "node.inputs should be (x,)"


def test_function_forward_receives_arrays():
    """forward gets NumPy arrays (each Tensor's .data), never Tensors.

    Hint: Before calling cls.forward, replace every Tensor argument by its .data (leave other arguments as
    they are): forward works on NumPy arrays.
    """
    seen = []

    class Spy(Function):
        @staticmethod
        def forward(ctx, x):
            seen.append(type(x))
            return x + 1

        @staticmethod
        def backward(ctx, grad):
            return grad

    Spy.apply(_leaf([1.0]))
    assert seen == [np.ndarray], f"forward received {seen}, expected one numpy.ndarray"


def test_function_backward_gives_gradients():
    """y = Cube.apply(x): y.backward(g) gives x.grad = 3x² · g (the class's own backward runs).

    Hint: The node's backward function must call cls.backward(ctx, grad) with the same ctx that forward filled
    (ctx.saved), and wrap a single returned gradient in a 1-tuple for the engine.
    """
    x = _leaf([1.0, -2.0, 0.5])
    g = np.array([1.0, 2.0, -1.0])
    Cube.apply(x).backward(g)
    assert_close(x.grad, 3 * x.data**2 * g, what="x.grad")


def test_function_inside_a_larger_graph():
    """A custom op composes with built-in ones: (Cube(x * w) + x).sum() — gradients for x and w
    flow through Cube's backward and the built-in rules.

    Hint: Cube's input is x * w, an intermediate tensor: the gradients your backward function returns must
    line up with node.inputs so the engine passes them on through mul and add.
    """
    rng = np.random.default_rng(0)
    gradcheck(lambda x, w: Cube.apply(x * w) + x, [rng.normal(size=(2, 3)), rng.normal(size=(3,))])


def test_function_non_tensor_argument_gets_none():
    """Scale.apply(x, 2.5): the number 2.5 is not a tensor, so backward returns None for it; x
    gets grad · 2.5, and ctx.needs_input_grad is (True, False).

    Hint: Only Tensor arguments become node inputs: keep the positions of the Tensor arguments and return only
    their gradients (dropping the None for 2.5); set ctx.needs_input_grad to one bool per positional argument.
    """
    x = _leaf([1.0, 2.0])
    y = Scale.apply(x, 2.5)
    assert len(y.node.inputs) == 1, "only Tensor arguments are node inputs"
    y.backward(np.array([1.0, -1.0]))
    assert_close(x.grad, [2.5, -2.5], what="x.grad")

    class Peek(Function):
        @staticmethod
        def forward(ctx, x, k):
            assert ctx.needs_input_grad == (True, False), f"needs_input_grad is {ctx.needs_input_grad}"
            return x * k

        @staticmethod
        def backward(ctx, grad):
            return grad, None

    Peek.apply(x, 3.0)


def test_function_keyword_arguments_reach_forward_and_node_args():
    """Keyword arguments of apply go to forward and are recorded in node.args.

    Hint: apply must pass **kwargs on to cls.forward and record them as node.args (the args of record_op), so
    y.node.args == {'p': 3}.
    """

    class Power(Function):
        @staticmethod
        def forward(ctx, x, p=2):
            ctx.save_for_backward(x)
            ctx.p = p
            return x**p

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved
            return ctx.p * x ** (ctx.p - 1) * grad

    x = _leaf([2.0])
    y = Power.apply(x, p=3)
    assert_close(y, [8.0], what="Power.apply(x, p=3)")
    assert y.node.args == {"p": 3}, f"node.args should be {{'p': 3}}, got {y.node.args}"
    y.backward()
    assert_close(x.grad, [12.0], what="x.grad")


def test_function_backward_with_wrong_number_of_gradients_raises():
    """A backward that returns two gradients for a one-argument forward is a bug: backward()
    raises a RuntimeError instead of silently dropping one.

    Hint: In the backward function apply builds, compare len(grads) with the number of positional forward
    arguments and raise RuntimeError when they differ, rather than zipping and dropping the extra one.
    """

    class Broken(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return grad * 2, grad

    y = Broken.apply(_leaf([1.0]))
    with raises(RuntimeError):
        y.backward()


def test_function_without_grad_inputs_or_under_no_grad_records_nothing():
    """No input requires grad, or apply runs under no_grad: the result is a plain Tensor
    (requires_grad False, node None).

    Hint: Go through record_op: it already makes a plain Tensor (requires_grad False, node None) when no input
    requires grad or recording is off; building the node yourself skips that check.
    """
    plain = Cube.apply(Tensor(np.array([2.0])))
    assert plain.requires_grad is False and plain.node is None, "no input requires grad: nothing to record"
    with no_grad():
        quiet = Cube.apply(_leaf([2.0]))
    assert quiet.requires_grad is False and quiet.node is None, "under no_grad: nothing to record"
    assert_close(quiet, [8.0], what="Cube.apply under no_grad")


def test_function_forward_records_nothing_inside():
    """Recording is off while forward runs (it works on arrays) and back on after apply.

    Hint: Turn recording off around cls.forward (previous = set_grad_enabled(False)) and restore it in a
    finally block, before calling record_op.
    """
    modes = []

    class Probe(Function):
        @staticmethod
        def forward(ctx, x):
            modes.append(is_grad_enabled())
            return x.copy()

        @staticmethod
        def backward(ctx, grad):
            return grad

    Probe.apply(_leaf([1.0]))
    assert modes == [False], "recording should be off inside forward"
    assert is_grad_enabled(), "recording must be back on after apply"
