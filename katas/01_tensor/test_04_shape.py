"""Step 4: shape — reshape (ints, a tuple, -1), transpose, permute, .T; views share memory."""

import numpy as np
import pytest

from dojo.testing import assert_close
from tinytorch.tensor import Tensor


def _grid():
    return np.arange(24.0).reshape(2, 3, 4)


def test_reshape_with_ints_or_a_tuple():
    """t.reshape(4, 6) and t.reshape((4, 6)) both give the same elements in row-major order."""
    x = _grid()
    assert_close(Tensor(x).reshape(4, 6), x.reshape(4, 6), what="reshape(4, 6)")
    assert_close(Tensor(x).reshape((4, 6)), x.reshape(4, 6), what="reshape((4, 6))")
    assert_close(Tensor(x).reshape(24), x.reshape(24), what="reshape(24)")


def test_reshape_infers_minus_one():
    """One size may be -1: it is inferred from the others (24 elements into (-1, 8) gives (3, 8))."""
    x = _grid()
    assert_close(Tensor(x).reshape(-1, 8), x.reshape(3, 8), what="reshape(-1, 8)")
    assert_close(Tensor(x).reshape((2, -1)), x.reshape(2, 12), what="reshape((2, -1))")
    assert_close(Tensor(x).reshape(-1), x.reshape(24), what="reshape(-1)")


def test_reshape_wrong_size_names_both_shapes():
    """(2, 3) has 6 elements: reshape(4, 2) and reshape(4, -1) raise a ValueError naming
    the tensor's shape "(2, 3)" and the requested one ("(4, 2)", "(4, -1)")."""
    t = Tensor(np.zeros((2, 3)))
    for request in [(4, 2), (4, -1)]:
        with pytest.raises(ValueError) as error:
            t.reshape(*request)
        message = str(error.value)
        assert "(2, 3)" in message and str(request) in message, f"reshape{request}: got message: {message}"


def test_reshape_two_minus_ones_names_both_shapes():
    """Only one size can be inferred: reshape(-1, -1) raises a ValueError naming "(2, 3)" and "(-1, -1)"."""
    with pytest.raises(ValueError) as error:
        Tensor(np.zeros((2, 3))).reshape(-1, -1)
    message = str(error.value)
    assert "(2, 3)" in message and "(-1, -1)" in message, f"got message: {message}"


def test_transpose_defaults_to_last_two_dims():
    """t.transpose() swaps the last two dimensions: (2, 3, 4) → (2, 4, 3); for a matrix, the transpose."""
    x = _grid()
    assert_close(Tensor(x).transpose(), np.swapaxes(x, -2, -1), what="transpose()")
    m = x[0]
    assert_close(Tensor(m).transpose(), m.T, what="matrix.transpose()")


def test_transpose_explicit_dims():
    """t.transpose(0, 2) swaps dims 0 and 2: (2, 3, 4) → (4, 3, 2); negative dims count from the end."""
    x = _grid()
    assert_close(Tensor(x).transpose(0, 2), np.swapaxes(x, 0, 2), what="transpose(0, 2)")
    assert_close(Tensor(x).transpose(0, -2), np.swapaxes(x, 0, 1), what="transpose(0, -2)")


def test_permute_reorders_dims():
    """t.permute(2, 0, 1): output dim i is input dim dims[i]; (2, 3, 4) → (4, 2, 3). A tuple works too."""
    x = _grid()
    assert_close(Tensor(x).permute(2, 0, 1), np.transpose(x, (2, 0, 1)), what="permute(2, 0, 1)")
    assert_close(Tensor(x).permute((1, 2, 0)), np.transpose(x, (1, 2, 0)), what="permute((1, 2, 0))")


def test_permute_accepts_negative_dims():
    """Negative dims count from the end, as everywhere else: for (2, 3, 4), permute(-1, 0, 1) is
    permute(2, 0, 1) and permute(1, -1, 0) is permute(1, 2, 0)."""
    x = _grid()
    assert_close(Tensor(x).permute(-1, 0, 1), np.transpose(x, (2, 0, 1)), what="permute(-1, 0, 1)")
    assert_close(Tensor(x).permute((1, -1, 0)), np.transpose(x, (1, 2, 0)), what="permute((1, -1, 0))")


def test_permute_that_is_not_a_permutation_is_a_value_error():
    """Each dim exactly once: permute(0, 0, 1), permute(0, -3, 1) (-3 is 0 again) and
    permute(0, 1) on a 3-D tensor raise a ValueError."""
    t = Tensor(_grid())
    for dims in [(0, 0, 1), (0, -3, 1), (0, 1)]:
        with pytest.raises(ValueError):
            t.permute(*dims)


def test_T_reverses_all_dims():
    """t.T reverses every dimension (a matrix's transpose; (2, 3, 4) → (4, 3, 2))."""
    x = _grid()
    assert_close(Tensor(x).T, x.T, what=".T")
    assert_close(Tensor(x[0]).T, x[0].T, what="matrix.T")


def test_shape_ops_are_views():
    """reshape, transpose, permute and .T return views: their data shares memory with the source
    (np.shares_memory), as documented on Tensor. Writing through a view changes the source."""
    t = Tensor(_grid())
    for name, view in [("reshape", t.reshape(6, 4)), ("transpose", t.transpose(0, 1)),
                       ("permute", t.permute(2, 0, 1)), (".T", t.T)]:
        assert np.shares_memory(view.data, t.data), f"{name} copied the data; return a NumPy view instead"
    t.reshape(-1).data[0] = -1.0
    assert t.data[0, 0, 0] == -1.0


def test_shape_ops_record_args():
    """With requires_grad, the node records what the backward needs: permute(2, 0, 1) →
    args {"dims": (2, 0, 1)}; transpose(0, 2) → {"dim0": 0, "dim1": 2}; reshape → op "reshape"."""
    t = Tensor(_grid(), requires_grad=True)
    p = t.permute(2, 0, 1)
    assert p.node.op == "permute" and p.node.args == {"dims": (2, 0, 1)}, f"recorded {p.node!r}"
    s = t.transpose(0, 2)
    assert s.node.op == "transpose" and s.node.args == {"dim0": 0, "dim1": 2}, f"recorded {s.node!r}"
    d = t.transpose()
    assert d.node.args == {"dim0": -2, "dim1": -1}, f"recorded {d.node!r}"
    r = t.reshape(4, 6)
    assert r.node.op == "reshape" and r.node.inputs[0] is t, f"recorded {r.node!r}"
