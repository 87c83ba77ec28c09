"""Step 1: dataset — TensorDataset: rows of arrays that share their first dimension."""

import numpy as np

from dojo.testing import assert_close, raises
from tinytorch.data import TensorDataset
from tinytorch.tensor import Tensor


def test_length_is_the_shared_first_dimension():
    """len(TensorDataset(x, y)) is the number of rows.

    Hint: TensorDataset.__len__ in tinytorch/data.py returns the first dimension of the stored arrays
    (len(self.arrays[0])), not the number of arrays or their total size.
    """
    assert len(TensorDataset(np.zeros((7, 3)), np.arange(7))) == 7


def test_a_sample_is_one_row_of_each_array():
    """ds[i] is the tuple (x[i], y[i]): the i-th row of every array, in order.

    Hint: ds[i] must be a tuple with row i of every array, in the order they were given: tuple(a[index] for a
    in self.arrays), not a list and not row i of the first array only.
    """
    x, y = np.arange(12.0).reshape(4, 3), np.array([5, 6, 7, 8])
    sample = TensorDataset(x, y)[2]
    assert isinstance(sample, tuple) and len(sample) == 2
    assert_close(sample[0], x[2], what="ds[2][0]")
    assert sample[1] == 7


def test_negative_index_and_out_of_range():
    """ds[-1] is the last row; ds[N] and ds[-N - 1] raise IndexError (so `for s in ds` stops).

    Hint: ds[5] and ds[-6] must raise IndexError (that is what ends for s in ds): do not wrap the index with %
    n, clamp it or catch the error; check -n <= index < n in __getitem__ and raise IndexError yourself.
    """
    ds = TensorDataset(np.arange(5.0), np.arange(5))
    assert ds[-1][1] == 4
    with raises(IndexError):
        ds[5]
    with raises(IndexError):
        ds[-6]
    assert len(list(ds)) == 5, "iterating a dataset must stop at its end"


def test_arrays_of_different_lengths_are_refused():
    """Arrays whose first dimensions differ are a ValueError naming the lengths.

    Hint: In TensorDataset.__init__ compare the first dimension of every array and raise ValueError listing
    the lengths (here 3 and 4) when they are not all equal.
    """
    with raises(ValueError, match="3"):
        TensorDataset(np.zeros((3, 2)), np.zeros(4))


def test_tensors_are_accepted():
    """Tensors are read through their data: samples are the same as for the arrays.

    Hint: Store a Tensor's .data (a NumPy array) in __init__, so that indexing returns NumPy rows; the helper
    _array(value) already does this for Tensors and array-likes.
    """
    x = np.arange(6.0).reshape(3, 2)
    ds = TensorDataset(Tensor(x), Tensor([0, 1, 2]))
    assert_close(ds[1][0], x[1], what="ds[1][0]")
    assert int(ds[1][1]) == 1


def test_transform_applies_to_the_input_only():
    """transform= changes the first field of every sample; labels stay as they were; the arrays are not
    modified.

    Hint: Apply self.transform to the first field of the sample only, building a new tuple (transformed input,
    *rest), and never assign the result back into the stored arrays.
    """
    x, y = np.ones((3, 2)), np.array([1, 2, 3])
    ds = TensorDataset(x, y, transform=lambda v: v * 10)
    xi, yi = ds[0]
    assert_close(xi, [10.0, 10.0], what="transformed input")
    assert yi == 1
    assert_close(x, np.ones((3, 2)), what="the stored array after a transformed read")
