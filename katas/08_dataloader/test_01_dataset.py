"""Step 1: dataset — TensorDataset: rows of arrays that share their first dimension."""

import numpy as np

from dojo.testing import assert_close, raises
from tinytorch.data import TensorDataset
from tinytorch.tensor import Tensor


def test_length_is_the_shared_first_dimension():
    """len(TensorDataset(x, y)) is the number of rows."""
    assert len(TensorDataset(np.zeros((7, 3)), np.arange(7))) == 7


def test_a_sample_is_one_row_of_each_array():
    """ds[i] is the tuple (x[i], y[i]): the i-th row of every array, in order."""
    x, y = np.arange(12.0).reshape(4, 3), np.array([5, 6, 7, 8])
    sample = TensorDataset(x, y)[2]
    assert isinstance(sample, tuple) and len(sample) == 2
    assert_close(sample[0], x[2], what="ds[2][0]")
    assert sample[1] == 7


def test_negative_index_and_out_of_range():
    """ds[-1] is the last row; ds[N] and ds[-N - 1] raise IndexError (so `for s in ds` stops)."""
    ds = TensorDataset(np.arange(5.0), np.arange(5))
    assert ds[-1][1] == 4
    with raises(IndexError):
        ds[5]
    with raises(IndexError):
        ds[-6]
    assert len(list(ds)) == 5, "iterating a dataset must stop at its end"


def test_arrays_of_different_lengths_are_refused():
    """Arrays whose first dimensions differ are a ValueError naming the lengths."""
    with raises(ValueError, match="3"):
        TensorDataset(np.zeros((3, 2)), np.zeros(4))


def test_tensors_are_accepted():
    """Tensors are read through their data: samples are the same as for the arrays."""
    x = np.arange(6.0).reshape(3, 2)
    ds = TensorDataset(Tensor(x), Tensor([0, 1, 2]))
    assert_close(ds[1][0], x[1], what="ds[1][0]")
    assert int(ds[1][1]) == 1


def test_transform_applies_to_the_input_only():
    """transform= changes the first field of every sample; labels stay as they were; the arrays are not modified."""
    x, y = np.ones((3, 2)), np.array([1, 2, 3])
    ds = TensorDataset(x, y, transform=lambda v: v * 10)
    xi, yi = ds[0]
    assert_close(xi, [10.0, 10.0], what="transformed input")
    assert yi == 1
    assert_close(x, np.ones((3, 2)), what="the stored array after a transformed read")
