"""Step 5: softmax and log_softmax — probabilities along any axis, stable at ±1e4, and the layers."""

import warnings

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from dojo.testing import arrays, assert_close, floats, small_shapes
from tinytorch.activations import LogSoftmax, Softmax, log_softmax, softmax
from tinytorch.tensor import Tensor


def _softmax(x, axis=-1):
    """Reference softmax in float64 (fine for the moderate values it is used with)."""
    e = np.exp(np.asarray(x, dtype=np.float64))
    return e / e.sum(axis=axis, keepdims=True)


@st.composite
def array_and_axis(draw, low=-5.0, high=5.0):
    """An array of 1 to 3 dimensions and one of its axes (negative axes included)."""
    x = draw(arrays(small_shapes(min_dims=1), elements=floats(low, high)))
    axis = draw(st.integers(-x.ndim, x.ndim - 1))
    return x, axis


def _cube(scale=1.0):
    """A (2, 3, 4) array with distinct values: every axis gives different slices."""
    return np.random.default_rng(3).uniform(-scale, scale, size=(2, 3, 4))


def axis_edge_cases(test, scale=4.0):
    """Pin the axes the property is about: the first, a middle one, the last, each negative form
    (-1, -2, -3), a 1-D array, and an axis of size 1."""
    for axis in (0, 1, 2, -1, -2, -3):
        test = example(case=(_cube(scale), axis))(test)
    test = example(case=(np.array([scale, -scale, 0.0]), -1))(test)
    return example(case=(np.full((2, 1, 3), scale), 1))(test)


def test_softmax_known_values():
    """softmax([0, ln 2, ln 3]) = [1/6, 2/6, 3/6]: exponentiate, then divide by the total.

    Hint: softmax([0, ln 2, ln 3]) is [1, 2, 3] / 6: exponentiate, then divide by the sum along the axis;
    check that you divide by the sum of the exponentials, not of the raw logits.
    """
    out = softmax(Tensor(np.log(np.array([[1.0, 2.0, 3.0]]))))
    assert_close(out, [[1 / 6, 2 / 6, 3 / 6]], what="softmax(log([1, 2, 3]))")


@given(case=array_and_axis())
@axis_edge_cases
def test_softmax_matches_reference(case):
    """softmax(x, axis) = exp(x) / sum(exp(x), axis) for any shape and any axis (negative too).

    Hint: softmax must normalise along the given axis, negative ones too: pass axis to both the max and the
    sum with keepdims=True, so the division broadcasts back along that axis.
    """
    x, axis = case
    assert_close(softmax(Tensor(x), axis=axis), _softmax(x, axis), what=f"softmax(x, axis={axis})")


@given(case=array_and_axis(-50.0, 50.0))
@axis_edge_cases
@example(case=(_cube(50.0), -2))
def test_softmax_sums_to_one_along_axis(case):
    """Every slice along `axis` is a probability distribution: entries in [0, 1] that sum to 1.

    Hint: Slices along the wrong axis do not sum to 1: in softmax use axis (not a fixed -1 or 1) in every
    reduction, with keepdims=True so shapes like (2, 1, 4) broadcast against (2, 3, 4).
    """
    x, axis = case
    out = softmax(Tensor(x), axis=axis).data
    assert np.all((out >= 0) & (out <= 1)), f"softmax gave values outside [0, 1]: {out}"
    assert_close(out.sum(axis=axis), np.ones(np.delete(x.shape, axis % x.ndim)), what=f"softmax(x, axis={axis}).sum(axis)")


@given(case=array_and_axis(), shift=floats(-100, 100))
@example(case=(_cube(5.0), -2), shift=100.0)
@example(case=(_cube(5.0), 0), shift=-100.0)
def test_softmax_is_shift_invariant(case, shift):
    """softmax(x + c) = softmax(x) for any constant c: only differences between logits matter.

    Hint: softmax(x + 100) differs from softmax(x): subtract the maximum along the axis (keepdims=True) before
    np.exp, not the maximum of the whole array or along another axis.
    """
    x, axis = case
    assert_close(softmax(Tensor(x + shift), axis=axis), softmax(Tensor(x), axis=axis).data,
                 what=f"softmax(x + {shift}, axis={axis})")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_is_finite_and_right_at_large_logits(dtype):
    """Logits of ±1e4 are fine: no overflow warning, no nan, the right answer.

    np.exp(1e4) is inf and inf / inf is nan: subtract each row's maximum first (softmax is
    shift invariant, and then no exponent is positive).

    Hint: np.exp(1e4) overflows and inf / inf is nan: in softmax subtract m = x.max(axis=axis, keepdims=True)
    before np.exp, so every exponent is <= 0 and each row's sum is >= 1.
    """
    x = np.array([[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4 + 1], [1e4, 1e4, 1e4]], dtype=dtype)
    e = np.e
    expected = [[1.0, 0.0, 0.0], [1 / (2 + e), 1 / (2 + e), e / (2 + e)], [1 / 3, 1 / 3, 1 / 3]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = softmax(Tensor(x), axis=-1)
    assert_close(out, expected, dtype=dtype, what="softmax(x) at logits ±1e4")


def test_softmax_of_equal_logits_is_uniform():
    """A row of 5 equal logits gives 0.2 everywhere, whatever the value (0, 7.5 or -300).

    Hint: A row of -300s must give 0.2, not nan (0 / 0 after exp underflows): subtracting the row's maximum
    first turns every such row into exp(0) = 1s.
    """
    x = np.array([[0.0] * 5, [7.5] * 5, [-300.0] * 5])
    assert_close(softmax(Tensor(x), axis=1), np.full((3, 5), 0.2), what="softmax of equal logits")


def test_softmax_over_a_size_1_axis_is_1():
    """Along an axis of size 1 every entry is the whole distribution: exactly 1.

    Hint: Along axis=1 of a (3, 1, 4) array each entry is alone, so the answer is 1 everywhere: if you got
    other values, softmax reduced over another axis or without keepdims=True.
    """
    x = np.random.default_rng(0).normal(size=(3, 1, 4)) * 100
    assert_close(softmax(Tensor(x), axis=1), np.ones((3, 1, 4)), what="softmax(x, axis=1) with x.shape[1] == 1")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_keeps_shape_and_dtype(dtype):
    """A (2, 3, 4) float32 input gives a (2, 3, 4) float32 output, along any axis.

    Hint: float32 in must stay float32 along every axis: check nothing in softmax builds a float64 array
    (np.array(..., dtype=float), a Python list) and that the output has the input's shape.
    """
    x = np.random.default_rng(0).normal(size=(2, 3, 4)).astype(dtype)
    for axis in (0, 1, 2, -1):
        assert_close(softmax(Tensor(x), axis=axis), _softmax(x, axis), dtype=dtype, what=f"softmax(x, axis={axis})")


def test_softmax_default_axis_is_last():
    """softmax(x) normalises over the last axis, like softmax(x, axis=-1).

    Hint: softmax(x) without axis must normalise each row (the last axis): check the default in the signature
    is axis=-1 and that the body uses it, not None (which sums the whole array).
    """
    x = np.random.default_rng(1).normal(size=(3, 4))
    assert_close(softmax(Tensor(x)), _softmax(x, -1), what="softmax(x)")


@given(case=array_and_axis(-30.0, 30.0))
@axis_edge_cases
@example(case=(_cube(30.0), 1))
def test_log_softmax_is_log_of_softmax(case):
    """log_softmax(x, axis) equals log(softmax(x, axis)) wherever that is finite.

    Hint: log_softmax along any axis must equal log(softmax): (x - m) - log(sum(exp(x - m))) with m and the
    sum both taken along axis with keepdims=True.
    """
    x, axis = case
    assert_close(log_softmax(Tensor(x), axis=axis), np.log(_softmax(x, axis)), what=f"log_softmax(x, axis={axis})")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_log_softmax_is_finite_at_large_logits(dtype):
    """log_softmax([1e4, 0, -1e4]) = [0, -1e4, -2e4]: finite, where log(softmax) would be log(0) = -inf.

    Use log-sum-exp: log_softmax(x) = (x - m) - log(sum(exp(x - m))), m the maximum.

    Hint: np.log(softmax(x)) is log(0) = -inf where the softmax underflows: in log_softmax use log-sum-exp, (x
    - m) - np.log(np.exp(x - m).sum(axis, keepdims=True)), never the log of a probability.
    """
    x = np.array([[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4]], dtype=dtype)
    expected = [[0.0, -1e4, -2e4], [-np.log(3)] * 3]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = log_softmax(Tensor(x), axis=-1)
    assert_close(out, expected, dtype=dtype, what="log_softmax(x) at logits ±1e4")


def test_softmax_layers_use_their_axis():
    """Softmax(axis=0)(x) is softmax(x, axis=0): columns sum to 1; LogSoftmax(axis=0) likewise.
    Both are layers without parameters, and the default axis is the last one.

    Hint: Softmax(axis=0) and LogSoftmax(axis=0) are written and pass their axis on: if columns do not sum to
    1, your softmax or log_softmax ignores its axis argument.
    """
    x = np.random.default_rng(2).normal(size=(3, 4))
    assert Softmax().parameters() == [] and LogSoftmax().parameters() == []
    assert_close(Softmax(axis=0)(Tensor(x)), _softmax(x, 0), what="Softmax(axis=0)(x)")
    assert_close(Softmax()(Tensor(x)), _softmax(x, -1), what="Softmax()(x)")
    assert_close(LogSoftmax(axis=0)(Tensor(x)), np.log(_softmax(x, 0)), what="LogSoftmax(axis=0)(x)")


def test_dim_is_the_pytorch_spelling_of_axis():
    """softmax(x, dim=0), log_softmax(x, dim=0), Softmax(dim=0) and LogSoftmax(dim=0) (PyTorch's
    name; the scaffolding renames it to axis) are the axis=0 versions; dim= and axis= together
    raise a TypeError.

    Hint: dim= is renamed to axis= before your code runs (@op for the functions, @accepts_dim for the layers),
    and the TypeError is scaffolding too: if this fails, softmax or log_softmax ignores axis (a hard-coded -1
    in its max or sum) or drops keepdims=True.
    """
    x = np.random.default_rng(3).normal(size=(3, 4))
    assert_close(softmax(Tensor(x), dim=0), _softmax(x, 0), what="softmax(x, dim=0)")
    assert_close(log_softmax(Tensor(x), dim=0), np.log(_softmax(x, 0)), what="log_softmax(x, dim=0)")
    assert_close(Softmax(dim=0)(Tensor(x)), _softmax(x, 0), what="Softmax(dim=0)(x)")
    assert_close(LogSoftmax(dim=-2)(Tensor(x)), np.log(_softmax(x, 0)), what="LogSoftmax(dim=-2)(x)")
    with pytest.raises(TypeError):
        softmax(Tensor(x), dim=0, axis=0)
    with pytest.raises(TypeError):
        Softmax(dim=0, axis=0)


def test_softmax_of_an_int_tensor_is_float32():
    """Integer logits give float32 probabilities, as in PyTorch (the scaffolding hands your code
    float32 data): softmax(Tensor([[0, 0]])) is [[0.5, 0.5]] float32.

    Hint: Integer logits reach softmax and log_softmax as float32 (the scaffolding converts them): keep that
    dtype (NumPy on x.data, no astype(float), no float64 arrays), and equal logits must give 0.5 each, so
    subtract the max along axis with keepdims=True.
    """
    assert_close(softmax(Tensor([[0, 0], [1, 1]])), [[0.5, 0.5], [0.5, 0.5]], dtype=np.float32,
                 what="softmax of int logits")
    assert_close(log_softmax(Tensor([[0, 0]])), [[-np.log(2), -np.log(2)]], dtype=np.float32,
                 what="log_softmax of int logits")
