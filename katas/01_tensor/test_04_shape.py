"""Step 4: shape — reshape (ints, a tuple, -1), transpose, permute, .T; views share memory."""

import numpy as np
import pytest

from dojo.testing import assert_close
from tinytorch.tensor import Tensor


def _grid():
    return np.arange(24.0).reshape(2, 3, 4)


def test_reshape_with_ints_or_a_tuple():
    """t.reshape(4, 6) and t.reshape((4, 6)) both give the same elements in row-major order.

    Hint: reshape(*shape) receives (4, 6) or ((4, 6),): when len(shape) == 1 and shape[0] is a tuple or list,
    unpack it before calling self.data.reshape; a single int like 24 must still work.
    """
    x = _grid()
    assert_close(Tensor(x).reshape(4, 6), x.reshape(4, 6), what="reshape(4, 6)")
    assert_close(Tensor(x).reshape((4, 6)), x.reshape(4, 6), what="reshape((4, 6))")
    assert_close(Tensor(x).reshape(24), x.reshape(24), what="reshape(24)")


def test_reshape_infers_minus_one():
    """One size may be -1: it is inferred from the others (24 elements into (-1, 8) gives (3, 8)).

    Hint: NumPy infers one -1 for you: your own size check must leave the -1 out of the product of known sizes
    (that product must divide self.size), or it rejects valid requests.
    """
    x = _grid()
    assert_close(Tensor(x).reshape(-1, 8), x.reshape(3, 8), what="reshape(-1, 8)")
    assert_close(Tensor(x).reshape((2, -1)), x.reshape(2, 12), what="reshape((2, -1))")
    assert_close(Tensor(x).reshape(-1), x.reshape(24), what="reshape(-1)")


def test_reshape_wrong_size_names_both_shapes():
    """(2, 3) has 6 elements: reshape(4, 2) and reshape(4, -1) raise a ValueError naming
    the tensor's shape "(2, 3)" and the requested one ("(4, 2)", "(4, -1)").

    Hint: Check sizes before self.data.reshape: the product of the known sizes must equal self.size, or divide
    it when there is a -1 (6 elements into (4, -1) fails); raise a ValueError naming self.shape and the
    request.
    """
    t = Tensor(np.zeros((2, 3)))
    for request in [(4, 2), (4, -1)]:
        with pytest.raises(ValueError) as error:
            t.reshape(*request)
        message = str(error.value)
        assert "(2, 3)" in message and str(request) in message, f"reshape{request}: got message: {message}"


def test_reshape_two_minus_ones_names_both_shapes():
    """Only one size can be inferred: reshape(-1, -1) raises a ValueError naming "(2, 3)" and "(-1, -1)".

    Hint: Count the -1 entries first: more than one is a ValueError whose message names self.shape and the
    requested tuple; NumPy's own error ('can only specify one unknown dimension') names neither.
    """
    with pytest.raises(ValueError) as error:
        Tensor(np.zeros((2, 3))).reshape(-1, -1)
    message = str(error.value)
    assert "(2, 3)" in message and "(-1, -1)" in message, f"got message: {message}"


def test_transpose_defaults_to_last_two_dims():
    """t.transpose() swaps the last two dimensions: (2, 3, 4) → (2, 4, 3); for a matrix, the transpose.

    Hint: transpose(dim0=-2, dim1=-1) swaps two axes: np.swapaxes(self.data, dim0, dim1);
    np.transpose(self.data) or .T reverses every axis, which is only right for a matrix.
    """
    x = _grid()
    assert_close(Tensor(x).transpose(), np.swapaxes(x, -2, -1), what="transpose()")
    m = x[0]
    assert_close(Tensor(m).transpose(), m.T, what="matrix.transpose()")


def test_transpose_explicit_dims():
    """t.transpose(0, 2) swaps dims 0 and 2: (2, 3, 4) → (4, 3, 2); negative dims count from the end.

    Hint: np.swapaxes accepts negative dims: pass dim0 and dim1 as given (no hard-coded pair, no reversal of
    all axes).
    """
    x = _grid()
    assert_close(Tensor(x).transpose(0, 2), np.swapaxes(x, 0, 2), what="transpose(0, 2)")
    assert_close(Tensor(x).transpose(0, -2), np.swapaxes(x, 0, 1), what="transpose(0, -2)")


def test_permute_reorders_dims():
    """t.permute(2, 0, 1): output dim i is input dim dims[i]; (2, 3, 4) → (4, 2, 3). A tuple works too.

    Hint: Output dim i is input dim dims[i], which is np.transpose(self.data, dims) (not its inverse);
    permute((1, 2, 0)) arrives as one tuple in dims, so unpack it as reshape does.
    """
    x = _grid()
    assert_close(Tensor(x).permute(2, 0, 1), np.transpose(x, (2, 0, 1)), what="permute(2, 0, 1)")
    assert_close(Tensor(x).permute((1, 2, 0)), np.transpose(x, (1, 2, 0)), what="permute((1, 2, 0))")


def test_permute_accepts_negative_dims():
    """Negative dims count from the end, as everywhere else: for (2, 3, 4), permute(-1, 0, 1) is
    permute(2, 0, 1) and permute(1, -1, 0) is permute(1, 2, 0).

    Hint: np.transpose accepts negative axes, but your permutation check must normalise them first (d %
    self.ndim) before comparing with range(self.ndim).
    """
    x = _grid()
    assert_close(Tensor(x).permute(-1, 0, 1), np.transpose(x, (2, 0, 1)), what="permute(-1, 0, 1)")
    assert_close(Tensor(x).permute((1, -1, 0)), np.transpose(x, (1, 2, 0)), what="permute((1, -1, 0))")


def test_permute_that_is_not_a_permutation_is_a_value_error():
    """Each dim exactly once: permute(0, 0, 1), permute(0, -3, 1) (-3 is 0 again) and
    permute(0, 1) on a 3-D tensor raise a ValueError.

    Hint: Each dim must appear exactly once after normalising (d % self.ndim), and there must be self.ndim of
    them: compare sorted normalised dims with list(range(self.ndim)) and raise ValueError otherwise.
    """
    t = Tensor(_grid())
    for dims in [(0, 0, 1), (0, -3, 1), (0, 1)]:
        with pytest.raises(ValueError):
            t.permute(*dims)


def test_T_reverses_all_dims():
    """t.T reverses every dimension (a matrix's transpose; (2, 3, 4) → (4, 3, 2)).

    Hint: .T is written as permute(*reversed(range(ndim))): it fails when permute does, so check your permute
    with dims (1, 0) and (2, 1, 0).
    """
    x = _grid()
    assert_close(Tensor(x).T, x.T, what=".T")
    assert_close(Tensor(x[0]).T, x[0].T, what="matrix.T")


def test_shape_ops_are_views():
    """reshape, transpose, permute and .T return views: their data shares memory with the source
    (np.shares_memory), as documented on Tensor. Writing through a view changes the source.

    Hint: Return NumPy's result directly: self.data.reshape, np.swapaxes and np.transpose give views, while
    .copy(), np.array(...) or np.ascontiguousarray make copies.
    """
    t = Tensor(_grid())
    for name, view in [("reshape", t.reshape(6, 4)), ("transpose", t.transpose(0, 1)),
                       ("permute", t.permute(2, 0, 1)), (".T", t.T)]:
        assert np.shares_memory(view.data, t.data), f"{name} copied the data; return a NumPy view instead"
    t.reshape(-1).data[0] = -1.0
    assert t.data[0, 0, 0] == -1.0


def test_shape_ops_record_args():
    """With requires_grad, the node records what the backward needs: permute(2, 0, 1) →
    args {"dims": (2, 0, 1)}; transpose(0, 2) → {"dim0": 0, "dim1": 2}; reshape → op "reshape".

    Hint: args are recorded by parameter name as you were called: keep the given signatures reshape(self,
    *shape), transpose(self, dim0=-2, dim1=-1) and permute(self, *dims), and return a NumPy array from each.
    """
    t = Tensor(_grid(), requires_grad=True)
    p = t.permute(2, 0, 1)
    assert p.node.op == "permute" and p.node.args == {"dims": (2, 0, 1)}, f"recorded {p.node!r}"
    s = t.transpose(0, 2)
    assert s.node.op == "transpose" and s.node.args == {"dim0": 0, "dim1": 2}, f"recorded {s.node!r}"
    d = t.transpose()
    assert d.node.args == {"dim0": -2, "dim1": -1}, f"recorded {d.node!r}"
    r = t.reshape(4, 6)
    assert r.node.op == "reshape" and r.node.inputs[0] is t, f"recorded {r.node!r}"
