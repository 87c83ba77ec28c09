"""Step 5: reductions — sum, mean and max over axes (None, int, negative, tuple) with keepdims."""

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from dojo.testing import arrays, assert_close, small_shapes
from tinytorch.tensor import Tensor

# Hypothesis's "explain" phase re-runs a failing test many times to annotate the example; on a
# stub that raises at once it costs seconds and says nothing, so these tests skip it.

REDUCTIONS = {"sum": np.sum, "mean": np.mean, "max": np.max}


def _grid():
    return np.random.default_rng(0).uniform(-3, 3, size=(2, 3, 4))


@st.composite
def _axis_cases(draw):
    """A small array, and an axis for it: None, an int (possibly negative) or a tuple of distinct axes."""
    x = draw(arrays(draw(small_shapes(min_dims=1, max_dims=3))), label="x")
    ndim = x.ndim
    axis = draw(
        st.one_of(
            st.none(),
            st.integers(-ndim, ndim - 1),
            st.lists(st.integers(-ndim, ndim - 1), min_size=1, max_size=ndim, unique_by=lambda a: a % ndim).map(tuple),
        ),
        label="axis",
    )
    return x, axis


def _cube():
    """A (2, 3, 4) float64 array with distinct values: every axis form gives a different result."""
    return np.random.default_rng(1).uniform(-3, 3, size=(2, 3, 4))


# The axis forms the property is about, each pinned for sum, mean and max so that every profile
# (random or derandomized) checks them: no axis with keepdims (a 1x1x1 result, not a 0-d one),
# negative ints, tuples mixing signs, tuples of negative axes only, a 1-D array.
AXIS_EDGE_CASES = [
    (None, True), (None, False), (-1, False), (-3, True), ((0, -1), False), ((0, -1), True),
    ((-1, -3), False), ((-2,), True), ((2, 0, -2), False),
]


def _with_edge_cases(test):
    for name in REDUCTIONS:
        for axis, keepdims in AXIS_EDGE_CASES:
            test = example(case=(_cube(), axis), keepdims=keepdims, name=name)(test)
        test = example(case=(np.array([2.0, -1.0, 0.5]), (-1,)), keepdims=True, name=name)(test)
    return test


@given(case=_axis_cases(), keepdims=st.booleans(), name=st.sampled_from(list(REDUCTIONS)))
@_with_edge_cases
def test_reductions_match_numpy(case, keepdims, name):
    """t.sum / t.mean / t.max(axis, keepdims) equal NumPy's, shape and dtype included, for every
    axis form (None, an int, a negative int, a tuple mixing signs) and keepdims.

    Hint: Pass axis and keepdims straight to np.sum / np.mean / np.max (they accept None, negative ints and
    tuples); the pinned cases include axis=None with keepdims=True, tuples mixing signs and a 1-D array with
    axis=(-1,).
    """
    x, axis = case
    out = getattr(Tensor(x), name)(axis=axis, keepdims=keepdims)
    want = REDUCTIONS[name](x, axis=axis, keepdims=keepdims)
    assert_close(out, want, dtype=want.dtype, what=f"{name}(axis={axis}, keepdims={keepdims}) of shape {x.shape}")


@pytest.mark.parametrize("name", list(REDUCTIONS))
def test_negative_axes_inside_a_tuple_count_from_the_end(name):
    """Every axis in a tuple may be negative: for shape (2, 3, 4), axis=(0, -1) is axis (0, 2)
    and gives shape (3,); axis=(-1, -3) is (2, 0).

    Hint: NumPy accepts negative axes inside a tuple: don't rewrite a tuple axis yourself (or normalise only
    ints), and make sure any axis check of yours accepts [-ndim, ndim) for every entry (_check_axis does).
    """
    x = _cube()
    for axis, same in [((0, -1), (0, 2)), ((-1, -3), (2, 0))]:
        assert_close(getattr(Tensor(x), name)(axis=axis), REDUCTIONS[name](x, axis=same), what=f"{name}(axis={axis})")


@pytest.mark.parametrize("name", list(REDUCTIONS))
def test_no_axis_with_keepdims_keeps_every_axis_with_size_1(name):
    """axis=None with keepdims=True reduces everything but keeps the rank: (2, 3, 4) gives a
    (1, 1, 1) tensor, not a 0-d one.

    Hint: With axis=None still pass keepdims through: np.sum(x, axis=None, keepdims=True) has shape (1, 1, 1);
    a special case that calls np.sum(x) when axis is None drops it.
    """
    x = _cube()
    out = getattr(Tensor(x), name)(keepdims=True)
    assert_close(out, REDUCTIONS[name](x, keepdims=True), what=f"{name}(keepdims=True)")


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", list(REDUCTIONS))
def test_reductions_keep_the_float_dtype(name, dtype):
    """A reduction keeps the tensor's float dtype: float64 in gives float64 out (that is how a
    gradient check keeps its precision), float32 gives float32, with or without an axis.

    Hint: np.sum, np.mean and np.max keep float32 and float64: don't pass dtype=, cast with astype(float) or
    build the mean from a float64 count; return NumPy's result as is.
    """
    x = _cube().astype(dtype)
    for axis in (None, 1, (0, -1)):
        out = getattr(Tensor(x), name)(axis=axis)
        assert out.dtype == dtype, f"{name}(axis={axis}) of a {np.dtype(dtype)} tensor has dtype {out.dtype}"


@pytest.mark.parametrize("name", list(REDUCTIONS))
def test_reduce_everything_by_default(name):
    """With no axis, the reduction is over every element and gives a 0-d tensor (shape ()).

    Hint: With the defaults (axis=None, keepdims=False) NumPy reduces everything to a 0-d result: return it
    and let the decorator wrap it; don't index [0] or reshape it to (1,).
    """
    x = _grid()
    out = getattr(Tensor(x), name)()
    assert isinstance(out, Tensor)
    assert_close(out, REDUCTIONS[name](x), what=f"{name}()")


@pytest.mark.parametrize("name", list(REDUCTIONS))
def test_negative_axis_counts_from_the_end(name):
    """axis=-1 is the last axis: for shape (2, 3, 4), axis=-1 is axis 2 and gives shape (2, 3).

    Hint: axis=-1 must reach NumPy as -1 (or as axis % ndim): an axis check that only accepts 0 <= axis < ndim
    rejects it; _check_axis(axis, self.ndim) allows [-ndim, ndim).
    """
    x = _grid()
    out = getattr(Tensor(x), name)(axis=-1)
    assert_close(out, REDUCTIONS[name](x, axis=2), what=f"{name}(axis=-1)")


@pytest.mark.parametrize("name", list(REDUCTIONS))
def test_keepdims_keeps_size_one_axes(name):
    """keepdims=True keeps each reduced axis with size 1: (2, 3, 4) over axis (0, 2) → (1, 3, 1).

    Hint: Forward keepdims=keepdims to NumPy for tuple axes too: (2, 3, 4) over (0, 2) must give (1, 3, 1);
    reducing one axis at a time in a loop shifts the later axes unless each step keeps its dims.
    """
    x = _grid()
    out = getattr(Tensor(x), name)(axis=(0, 2), keepdims=True)
    assert_close(out, REDUCTIONS[name](x, axis=(0, 2), keepdims=True), what=f"{name}(axis=(0, 2), keepdims=True)")


def test_sum_of_ints_stays_integer():
    """Summing an int64 tensor gives int64 (labels counted stay exact).

    Hint: np.sum of an int64 array is int64: no astype(float) or dtype= in sum (only mean gives floats).
    """
    out = Tensor([[1, 2], [3, 4]]).sum(axis=0)
    assert_close(out, [4, 6], dtype=np.int64, what="sum(axis=0) of ints")


@pytest.mark.parametrize("name", list(REDUCTIONS))
def test_axis_out_of_range_is_a_value_error(name):
    """axis must lie in [-ndim, ndim): axis=2 or axis=-3 on a 2-D tensor raises a ValueError.

    Hint: Call _check_axis(axis, self.ndim) first in sum, mean and max (it checks each entry of a tuple);
    normalising with axis % ndim turns 2 into 0 and hides the error.
    """
    t = Tensor(np.ones((2, 3)))
    for axis in (2, -3, (0, 2)):
        with pytest.raises(ValueError):
            getattr(t, name)(axis=axis)


def test_max_of_empty_is_a_value_error():
    """There is no largest element of nothing: max of an empty tensor (or over an empty axis)
    raises a ValueError.

    Hint: Before np.max, raise a ValueError when an axis you reduce over (all of them for axis=None) has
    length 0; an initial= value or a -inf start would quietly return something instead.
    """
    with pytest.raises(ValueError):
        Tensor(np.zeros((0,))).max()
    with pytest.raises(ValueError):
        Tensor(np.zeros((2, 0))).max(axis=1)


def test_reductions_record_axis_and_keepdims():
    """With requires_grad the node records op and args {"axis": ..., "keepdims": ...} (defaults
    filled in): x.sum(1) → {"axis": 1, "keepdims": False}.

    Hint: args are recorded by parameter name with defaults filled in: keep the signatures (self, axis=None,
    keepdims=False) for sum, mean and max, and return a NumPy array from each.
    """
    x = Tensor(_grid(), requires_grad=True)
    cases = [
        (x.sum(1), "sum", {"axis": 1, "keepdims": False}),
        (x.mean(axis=(0, -1), keepdims=True), "mean", {"axis": (0, -1), "keepdims": True}),
        (x.max(), "max", {"axis": None, "keepdims": False}),
    ]
    for out, name, args in cases:
        assert out.node is not None and out.node.op == name, f"{name}: recorded {out.node!r}"
        assert out.node.args == args, f"{name}: recorded args {out.node.args}, expected {args}"
        assert out.node.inputs[0] is x


@pytest.mark.parametrize("name", list(REDUCTIONS))
def test_dim_and_keepdim_are_pytorch_spellings_of_axis_and_keepdims(name):
    """t.sum(dim=1, keepdim=True) is t.sum(axis=1, keepdims=True) (PyTorch's names; the @op
    scaffolding renames them for you), mixed spellings too, and t.argmax(dim=1) likewise.

    Hint: The @op scaffolding renames dim=/keepdim= to axis=/keepdims= before your code runs (argmax is done
    for you): if this fails, your sum, mean or max ignores keepdims or mishandles axis=None or a tuple.
    """
    x = _cube()
    t = Tensor(x)
    reduce = getattr(t, name)
    for axis in (1, -1, (0, 2), None):
        want = REDUCTIONS[name](x, axis=axis, keepdims=True)
        assert_close(reduce(dim=axis, keepdim=True), want, what=f"{name}(dim={axis}, keepdim=True)")
        assert_close(reduce(dim=axis, keepdims=True), want, what=f"{name}(dim={axis}, keepdims=True)")
        assert_close(reduce(axis=axis, keepdim=True), want, what=f"{name}(axis={axis}, keepdim=True)")
    assert_close(reduce(dim=0), REDUCTIONS[name](x, axis=0), what=f"{name}(dim=0)")
    assert_close(t.argmax(dim=1), np.argmax(x, axis=1), what="argmax(dim=1)")


@pytest.mark.parametrize("name", list(REDUCTIONS))
def test_dim_and_axis_together_are_a_type_error(name):
    """Both spellings of one argument (dim= and axis=, or keepdim= and keepdims=) raise a
    TypeError, as in PyTorch; the node records axis and keepdims only.

    Hint: The renaming and this TypeError come from @op, which finds PyTorch's names only if your parameters
    are called exactly axis and keepdims: keep the signature (self, axis=None, keepdims=False), without
    **kwargs.
    """
    x = Tensor(_grid(), requires_grad=True)
    out = getattr(x, name)(dim=1, keepdim=True)
    assert out.node is not None and out.node.args == {"axis": 1, "keepdims": True}, f"recorded {out.node!r}"
    with pytest.raises(TypeError):
        getattr(x, name)(dim=0, axis=0)
    with pytest.raises(TypeError):
        getattr(x, name)(axis=0, keepdim=True, keepdims=True)
