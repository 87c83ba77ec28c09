"""dojo.testing, the helpers every kata test uses: assertions, raises, gradcheck, strategies.

Run against the reference solutions (``--impl=solutions``). The negative controls show that
gradcheck rejects wrong gradients — off by a factor, wrong only when operands broadcast, right only
for an all-ones upstream gradient — and refuses checks that could not fail.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

from dojo import testing
from dojo.testing import (
    GradcheckError, arrays, as_array, assert_close, assert_shape, broadcastable_pairs, floats, gradcheck,
    nonzero_floats, numeric_gradient, positive_floats, raises, small_shapes,
)
from tinytorch.autograd import Function, unbroadcast
from tinytorch.tensor import Tensor


def _message(fn) -> str:
    with pytest.raises(AssertionError) as caught:
        fn()
    return str(caught.value)


# -- as_array ------------------------------------------------------------------------------------


def test_as_array_unwraps_tensors_arrays_lists_and_numbers():
    a = np.arange(3.0)
    assert as_array(Tensor(a)) is not None and np.array_equal(as_array(Tensor(a)), a)
    assert as_array(a) is a
    assert np.array_equal(as_array([1, 2]), [1, 2])
    assert as_array(2.5).shape == () and float(as_array(np.float64(2.5))) == 2.5


# -- assert_close ----------------------------------------------------------------------------------


def test_assert_close_accepts_values_within_tolerance_and_matching_nans():
    assert_close(np.array([1.0, 2.0 + 1e-7]), [1.0, 2.0])
    assert_close(Tensor(np.array([np.nan, 1.0])), [np.nan, 1.0])
    assert_close(np.array(3, dtype=np.int64), 3)


def test_assert_close_names_both_shapes():
    message = _message(lambda: assert_close(np.zeros((2, 3)), np.zeros((3, 2)), what="x.grad"))
    assert message == "x.grad has shape (2, 3), expected shape (3, 2)"


def test_assert_close_checks_the_dtype_when_asked():
    message = _message(lambda: assert_close(np.zeros(2, dtype=np.float64), np.zeros(2), dtype=np.float32))
    assert "dtype float64" in message and "expected dtype float32" in message
    assert_close(np.zeros(2, dtype=np.float32), np.zeros(2))  # not asked: values only


def test_assert_close_reports_count_shape_dtype_worst_index_and_both_values():
    got = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    want = np.array([[1.5, 2.0], [3.0, 9.0]])
    message = _message(lambda: assert_close(got, want, what="y"))
    assert message.startswith("y differs at 2 of 4 position(s)")
    assert "shape (2, 2), dtype float32\n" in message
    assert "expected float64" not in message and "(expected" not in message  # float64 is only the reference's arithmetic
    assert "worst at index (1, 1): got 4.0, expected 9.0" in message  # the largest difference, not the first


def test_assert_close_points_at_a_nan_where_a_number_was_expected():
    message = _message(lambda: assert_close(np.array([1.0, np.nan, 3.5]), [1.0, 2.0, 3.0]))
    assert "differs at 2 of 3" in message
    assert "worst at index (1,): got nan, expected 2.0" in message


def test_assert_close_on_0d_and_integer_values():
    assert "worst at index (): got 1.0, expected 2.0" in _message(lambda: assert_close(np.array(1.0), 2.0))
    assert "got 3, expected 4" in _message(lambda: assert_close(np.array([1, 3]), np.array([1, 4])))


def test_assert_shape_names_both_shapes():
    assert_shape(Tensor(np.zeros((2, 1))), (2, 1))
    assert _message(lambda: assert_shape(np.zeros(3), [3, 1], what="out")) == "out has shape (3,), expected (3, 1)"


# -- raises ----------------------------------------------------------------------------------------


def test_raises_accepts_the_expected_error_and_matches_its_message():
    with raises(RuntimeError, match=r"shape \(2, 3\)") as caught:
        raise RuntimeError("pass grad= with shape (2, 3)")
    assert isinstance(caught.value, RuntimeError)


def test_raises_lets_a_stubs_not_implemented_error_through():
    """NotImplementedError subclasses RuntimeError: pytest.raises(RuntimeError) would pass on a stub."""
    with pytest.raises(NotImplementedError, match="not implemented yet"):
        with raises(RuntimeError):
            raise NotImplementedError("not implemented yet: backward (kata 05, step 1: engine)")


def test_raises_fails_on_a_message_that_does_not_match_or_no_error():
    message = _message(lambda: _raise_in(raises(ValueError, match="shape"), ValueError("bad dtype")))
    assert "'bad dtype'" in message and "'shape'" in message
    with pytest.raises(pytest.fail.Exception, match="DID NOT RAISE"):
        with raises(ValueError):
            pass


def _raise_in(context, error):
    with context:
        raise error


# -- numeric_gradient --------------------------------------------------------------------------------


def test_numeric_gradient_of_a_known_function():
    """d/dx sum(x³ · u) = 3x² · u, and d/dy sum((x · y) · u) = x · u."""
    rng = np.random.default_rng(0)
    x, y, u = rng.normal(size=(2, 3)), rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    assert_close(numeric_gradient(lambda t: t**3, [x], u, 0), 3 * x**2 * u, rtol=1e-6, atol=1e-8)
    assert_close(numeric_gradient(lambda a, b: a * b, [x, y], u, 1), x * u, rtol=1e-6, atol=1e-8)


def test_numeric_gradient_leaves_its_inputs_unchanged():
    x = np.array([1.0, 2.0])
    numeric_gradient(lambda t: t * t, [x], np.ones(2), 0)
    assert np.array_equal(x, [1.0, 2.0])


# -- gradcheck: correct gradients pass --------------------------------------------------------------


def test_gradcheck_passes_for_correct_rules_with_broadcasting():
    rng = np.random.default_rng(1)
    assert gradcheck(lambda a, b: a * b - a / (b * b + 1), [rng.normal(size=(2, 3)), rng.normal(size=(3,))]) is True


def test_gradcheck_checks_only_the_inputs_in_wrt():
    rng = np.random.default_rng(2)
    assert gradcheck(lambda a, b: HalfWrongForB.apply(a, b), [rng.normal(size=3), rng.normal(size=3)], wrt=[0])
    with pytest.raises(GradcheckError, match="gradient of input 1"):
        gradcheck(lambda a, b: HalfWrongForB.apply(a, b), [rng.normal(size=3), rng.normal(size=3)])


# -- gradcheck: negative controls (deliberately wrong gradients must fail) ---------------------------


class OffByAFactor(Function):
    """x³ with a backward 10% too large."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved
        return 1.1 * 3 * x**2 * grad


class MulWrongUnderBroadcasting(Function):
    """a * b whose backward sums before multiplying: right when the shapes match, wrong otherwise."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        big_a, big_b = np.broadcast_to(a, grad.shape), np.broadcast_to(b, grad.shape)
        return unbroadcast(grad, a.shape) * unbroadcast(big_b, a.shape), unbroadcast(grad, b.shape) * unbroadcast(big_a, b.shape)


class IgnoresUpstream(Function):
    """x² whose backward forgets to multiply by grad: right only for an all-ones upstream gradient."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**2

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved
        return 2 * x


class HalfWrongForB(Function):
    """a * b with a correct gradient for a and a wrong one (sign) for b."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        return grad * b, -grad * a


def test_gradcheck_rejects_a_gradient_off_by_a_factor():
    x = np.array([[0.5, -1.0, 2.0]])
    with pytest.raises(GradcheckError) as caught:
        gradcheck(lambda t: OffByAFactor.apply(t), [x])
    message = str(caught.value)
    assert "gradient of input 0 differs at 3 of 3" in message
    assert "worst at index (0, 2)" in message and "random upstream gradient, seed 0" in message and "seeded with" not in message


def test_gradcheck_rejects_a_mul_rule_wrong_only_under_broadcasting():
    rng = np.random.default_rng(3)
    same = [rng.normal(size=(2, 3)), rng.normal(size=(2, 3))]
    assert gradcheck(lambda a, b: MulWrongUnderBroadcasting.apply(a, b), same)  # the bug hides without broadcasting
    for shape_a, shape_b in [((2, 3), (3,)), ((3, 1), (1, 2)), ((), (2, 2))]:
        pair = [rng.normal(size=shape_a), rng.normal(size=shape_b)]
        with pytest.raises(GradcheckError):
            gradcheck(lambda a, b: MulWrongUnderBroadcasting.apply(a, b), pair)


@settings(max_examples=10)
@given(shapes=broadcastable_pairs(), data=st.data())
def test_gradcheck_passes_the_real_mul_rule_on_drawn_pairs(shapes, data):
    """No false alarms: the reference mul rule passes on every drawn broadcastable pair."""
    shape_a, shape_b, _ = shapes
    a = data.draw(arrays(shape_a, nonzero_floats()), label="a")
    b = data.draw(arrays(shape_b, nonzero_floats()), label="b")
    gradcheck(lambda x, y: x * y, [a, b])


def test_gradcheck_rejects_a_rule_that_ignores_the_upstream_gradient():
    """gradcheck seeds a random upstream gradient; a rule that drops it fails, although a
    .sum().backward() check (upstream all ones) sees the right numbers."""
    x = np.array([0.5, -1.0, 2.0])
    t = Tensor(x, requires_grad=True)
    IgnoresUpstream.apply(t).sum().backward()
    assert_close(t.grad, 2 * x)  # the bug is invisible with an all-ones upstream gradient
    with pytest.raises(GradcheckError):
        gradcheck(lambda t: IgnoresUpstream.apply(t), [x])


def test_gradcheck_reports_an_input_no_gradient_reached():
    with pytest.raises(GradcheckError, match="input 1: no gradient reached it"):
        gradcheck(lambda a, b: a * 2, [np.ones(2), np.ones(2)])


# -- gradcheck: the check along random directions, and when the element-by-element one runs -------


class OneElementSlightlyWrong(Function):
    """x² whose backward is off by 0.1% at one element of many (a 5x5 input)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**2

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved
        wrong = 2 * x * grad
        wrong[3, 1] *= 1.001
        return wrong


def _counting(f):
    calls = []

    def counted(*tensors):
        calls.append(1)
        return f(*tensors)

    return counted, calls


def test_a_right_gradient_costs_four_evaluations_however_many_elements():
    """One forward for autograd and two directions of two evaluations each: the element-by-element
    check (2 per element, 2 * 30 here) runs only when the directions disagree."""
    rng = np.random.default_rng(3)
    f, calls = _counting(lambda a, b: a * b - a / (b * b + 1))
    assert gradcheck(f, [rng.normal(size=(5, 3)), rng.normal(size=(5, 3))]) is True
    assert len(calls) == 1 + 4, f"f ran {len(calls)} times"


def test_a_wrong_gradient_falls_back_to_every_element_and_names_the_index():
    """A 0.1% error at one element of 25 disagrees along the first random direction (the tolerance
    is 1e-7 of the projection) and the element-by-element check then decides and names that element."""
    x = np.random.default_rng(4).uniform(0.5, 2.0, size=(5, 5))
    f, calls = _counting(lambda t: OneElementSlightlyWrong.apply(t))
    with pytest.raises(GradcheckError) as caught:
        gradcheck(f, [x])
    assert "differs at 1 of 25" in str(caught.value) and "(3, 1)" in str(caught.value), str(caught.value)
    assert len(calls) == 1 + 2 + 2 * 25, f"f ran {len(calls)} times"


@pytest.mark.parametrize("seed", range(50))
def test_the_random_directions_alone_reject_each_negative_control(seed):
    """Without the element-by-element fallback, each deliberately wrong rule above (broadcasting
    case included) already disagrees along the random directions, for every seed tried."""
    from dojo.testing import _agrees_along_random_directions

    rng = np.random.default_rng(seed)
    cases = [
        (lambda t: OffByAFactor.apply(t), [rng.uniform(0.5, 2, size=(2, 3))], [0]),
        (lambda a, b: MulWrongUnderBroadcasting.apply(a, b), [rng.normal(size=(2, 3)), rng.normal(size=(3,))], [0, 1]),
        (lambda t: IgnoresUpstream.apply(t), [rng.uniform(0.5, 2, size=(4,))], [0]),
        (lambda a, b: HalfWrongForB.apply(a, b), [rng.normal(size=3), rng.normal(size=3)], [0, 1]),
        (lambda t: OneElementSlightlyWrong.apply(t), [rng.uniform(0.5, 2.0, size=(5, 5))], [0]),
    ]
    for f, arrays, wrt in cases:
        tensors = [Tensor(a, requires_grad=True) for a in arrays]
        out = f(*tensors)
        upstream = rng.normal(size=as_array(out).shape)
        out.backward(upstream)
        assert not _agrees_along_random_directions(f, arrays, tensors, wrt, upstream, rng, 1e-6), f
        right = lambda *ts: ts[0] * ts[0] if len(ts) == 1 else ts[0] * ts[1]  # noqa: E731
        tensors = [Tensor(a, requires_grad=True) for a in arrays]
        out = right(*tensors)
        out.backward(upstream)
        assert _agrees_along_random_directions(right, arrays, tensors, wrt, upstream, rng, 1e-6), "a right rule"


# -- gradcheck refuses checks that could not fail ----------------------------------------------------


def test_gradcheck_refuses_an_all_zero_reference_gradient():
    """relu of negative inputs has gradient 0 everywhere: a rule returning zeros would pass, so the
    check itself is refused."""
    from tinytorch.activations import relu

    with pytest.raises(GradcheckError, match="could not fail"):
        gradcheck(relu, [np.array([-1.0, -2.0])])
    with pytest.raises(GradcheckError, match="could not fail"):
        gradcheck(lambda t: t * 0.0, [np.array([1.0, 2.0])])


def test_gradcheck_refuses_an_output_that_does_not_depend_on_the_inputs():
    with pytest.raises(GradcheckError, match="does not require grad"):
        gradcheck(lambda t: Tensor(np.ones(2)), [np.array([1.0, 2.0])])


def test_gradcheck_refuses_an_empty_wrt():
    with pytest.raises(GradcheckError, match="wrt is empty"):
        gradcheck(lambda t: t * 2, [np.array([1.0])], wrt=[])


def test_gradcheck_error_is_an_assertion_error():
    """pytest reports it as a failed assertion (and the dojo plugin shows its message)."""
    assert issubclass(GradcheckError, AssertionError)


# -- strategies --------------------------------------------------------------------------------------


@given(x=floats(), nz=nonzero_floats(), pos=positive_floats())
def test_value_strategies_stay_in_their_domains(x, nz, pos):
    assert -3.0 <= x <= 3.0
    assert 0.1 <= abs(nz) <= 3.0
    assert 0.5 <= pos <= 3.0


def test_nonzero_floats_takes_both_signs():
    assert find(nonzero_floats(), lambda v: v < 0, settings=settings(database=None)) < 0
    assert find(nonzero_floats(), lambda v: v > 0, settings=settings(database=None)) > 0


@given(shape=small_shapes(max_side=3))
def test_small_shapes_respect_their_bounds(shape):
    assert len(shape) <= 3 and all(1 <= side <= 3 for side in shape)


@given(shapes=broadcastable_pairs())
def test_broadcastable_pairs_broadcast_to_their_result(shapes):
    shape_a, shape_b, result = shapes
    assert np.broadcast_shapes(shape_a, shape_b) == result
    assert max(len(shape_a), len(shape_b)) <= 3 and all(side <= 3 for side in shape_a + shape_b)


def test_broadcastable_pairs_include_rank_extension_and_size_one_axes():
    quiet = settings(database=None, max_examples=200)
    shape_a, shape_b, _ = find(broadcastable_pairs(), lambda s: len(s[0]) != len(s[1]), settings=quiet)
    assert len(shape_a) != len(shape_b)
    find(broadcastable_pairs(), lambda s: len(s[0]) == len(s[1]) and s[0] != s[1], settings=quiet)


@given(data=st.data())
def test_arrays_are_float64_of_the_given_shape(data):
    shape = data.draw(small_shapes(max_side=3))
    a = data.draw(arrays(shape, positive_floats()))
    assert a.dtype == np.float64 and a.shape == shape and np.all((a >= 0.5) & (a <= 3.0))


def test_public_names_exist():
    for name in testing.__all__:
        assert hasattr(testing, name), name


# -- the curriculum's own negative control ------------------------------------------------------------


@pytest.mark.slow
def test_kata_05_turns_red_when_mul_backward_is_wrong_only_under_broadcasting(tmp_path):
    """The must-show mutation: a multiplication rule that is right for equal shapes and wrong when
    the operands broadcast turns kata 05 red (and its same-shape tests stay green)."""
    from dojo import ROOT, curriculum
    from dojo.maintainers.checks import run_pytest
    from dojo.stubs import build_tree

    build_tree(curriculum.load(), tmp_path, stub_katas=set())
    autograd = tmp_path / "tinytorch" / "autograd.py"
    source = autograd.read_text(encoding="utf-8")
    right = re.compile(r"ga = unbroadcast\(grad \* b\.data, a\.shape\)(.*)\n(\s*)gb = unbroadcast\(grad \* a\.data, b\.shape\)")
    assert right.search(source), "mul_backward changed: update this mutation"
    mutant = right.sub(
        lambda m: (
            "ga = unbroadcast(grad, a.shape) * unbroadcast(np.broadcast_to(b.data, grad.shape), a.shape)"
            f"{m.group(1)}\n{m.group(2)}"
            "gb = unbroadcast(grad, b.shape) * unbroadcast(np.broadcast_to(a.data, grad.shape), b.shape)"
        ),
        source,
    )
    autograd.write_text(mutant, encoding="utf-8")
    outcomes = run_pytest([ROOT / "katas" / "05_autograd" / "test_02_arithmetic.py"], tmp_path)
    failed = sorted(name for name, outcome in outcomes.tests.items() if outcome == "failed")
    assert outcomes.tests, outcomes.output[-2000:]
    assert any("mul-rank extension" in name for name in failed), failed
    assert outcomes.tests["test_02_arithmetic.py::test_binary_op_gradients_with_broadcasting[mul-same shape]"] == "passed"
