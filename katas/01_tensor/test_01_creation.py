"""Step 1: creation — Tensor(data, dtype=None, requires_grad=False), the dtype rules, shape."""

import numpy as np
import pytest

from tinytorch.tensor import Tensor


def test_data_is_a_numpy_array_with_the_values():
    """Tensor(nested list).data is a NumPy array holding the same values in the same shape.

    Hint: Tensor.__init__ must leave self.data holding an np.ndarray with the values and shape of the nested
    list: np.array(data) builds one; storing the list itself (or a Tensor) fails here.
    """
    t = Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert isinstance(t.data, np.ndarray), f"t.data should be a numpy.ndarray, got {type(t.data).__name__}"
    np.testing.assert_array_equal(t.data, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])


def test_python_floats_default_to_float32():
    """Python floats (a list, a nested list or a scalar) become float32, the deep-learning default
    (np.array would give float64).

    Hint: np.array([1.0, 2.5]) is float64: for Python data (not a NumPy array) cast with .astype(np.float32)
    when array.dtype.kind == 'f'; a bare 3.5 and the mixed list [1, 2.5] take the same path.
    """
    for data in ([1.0, 2.5], [[1.0], [2.0]], 3.5, [1, 2.5]):
        assert Tensor(data).dtype == np.float32, f"Tensor({data!r}).dtype is {Tensor(data).dtype}, expected float32"


def test_numpy_float_arrays_keep_their_dtype():
    """A NumPy float64 array stays float64 (that is how you ask for precision), float32 and
    float16 arrays stay what they are.

    Hint: Only Python lists and numbers get the float32 default: check isinstance(data, (np.ndarray,
    np.generic)) before casting, and copy such data with np.array(data), which keeps float64 and float16.
    """
    for dtype in (np.float64, np.float32, np.float16):
        t = Tensor(np.array([1.5, -2.0], dtype=dtype))
        assert t.dtype == dtype, f"Tensor(array of {np.dtype(dtype)}).dtype is {t.dtype}, expected {np.dtype(dtype)}"


def test_python_ints_become_int64():
    """Python ints become int64 on every platform (class labels, indices): Tensor([0, 2, 1]).

    Hint: Only floats become float32: cast Python data with dtype.kind 'f' to np.float32 and kind 'iu' to
    np.int64 (np.array gives int32 on some platforms); casting every list to float32 turns labels into floats.
    """
    for data in ([0, 2, 1], [[1, 2], [3, 4]], 7):
        assert Tensor(data).dtype == np.int64, f"Tensor({data!r}).dtype is {Tensor(data).dtype}, expected int64"


def test_bools_stay_bool():
    """Python bools give a bool tensor (masks).

    Hint: Bools have dtype.kind 'b', neither 'f' nor 'iu': leave them out of your casts (a rule like 'not
    float means int64', or np.array(data, dtype=float), breaks masks).
    """
    t = Tensor([True, False, True])
    assert t.dtype == np.bool_, f"Tensor([True, False, True]).dtype is {t.dtype}, expected bool"
    np.testing.assert_array_equal(t.data, [True, False, True])


def test_explicit_dtype_wins():
    """dtype= overrides every default: ints as float64, floats as float64, a float64 array as float32.

    Hint: Check dtype= before the default rules: when it is not None, np.array(data, dtype=dtype) is the
    answer and the float32/int64 casts must not run afterwards (a float64 array asked as float32 must become
    float32).
    """
    cases = [([1, 2], np.float64), ([1.5, 2.5], np.float64), (np.array([1.5, 2.5]), np.float32), ([1.0, 0.0], np.int64)]
    for data, dtype in cases:
        t = Tensor(data, dtype=dtype)
        assert t.dtype == dtype, f"Tensor({data!r}, dtype={np.dtype(dtype)}).dtype is {t.dtype}"
        np.testing.assert_array_equal(t.data, np.asarray(data).astype(dtype))


def test_shape_ndim_size_and_len():
    """shape is a tuple, ndim the number of dimensions, size the number of elements, len the first dimension.

    Hint: shape, ndim, size and len are written and read self.data: if they are wrong, your __init__ did not
    store the full np.ndarray (e.g. kept the input object, flattened it, or wrapped it in an extra list).
    """
    t = Tensor(np.zeros((2, 3, 4)))
    assert t.shape == (2, 3, 4), f"shape is {t.shape}, expected (2, 3, 4)"
    assert t.ndim == 3, f"ndim is {t.ndim}, expected 3"
    assert t.size == 24, f"size is {t.size}, expected 24"
    assert len(t) == 2, f"len is {len(t)}, expected 2"


def test_scalar_tensor_has_empty_shape_and_item():
    """Tensor(3.5) is 0-dimensional: shape (), ndim 0, size 1; .item() gives the Python number back.

    Hint: Tensor(3.5) must be 0-d: np.array(3.5) has shape (), so do not wrap a number in a list
    (np.array([data])) or use np.atleast_1d; item() is already written.
    """
    t = Tensor(3.5)
    assert t.shape == () and t.ndim == 0 and t.size == 1, f"Tensor(3.5): shape {t.shape}, ndim {t.ndim}, size {t.size}"
    assert t.item() == 3.5 and isinstance(t.item(), float)
    assert Tensor([[7]]).item() == 7


def test_item_of_many_elements_is_an_error():
    """.item() needs exactly one element: a ValueError otherwise.

    Hint: item() is already written and raises for anything but one element: if it does not raise, your
    __init__ stored something other than the 2-element array (check Tensor([1.0, 2.0]).data.shape is (2,)).
    """
    t = Tensor([1.0, 2.0])
    with pytest.raises(ValueError):
        t.item()


def test_tensor_copies_its_input():
    """Tensor(data) copies, like torch.tensor: changing the array, list or Tensor you passed in
    afterwards must not change the new Tensor.

    Hint: np.asarray (and storing data as is) shares memory with an array or a Tensor's .data: use
    np.array(...), which always copies, on every path (lists, NumPy arrays, unwrapped Tensors and explicit
    dtypes).
    """
    source = np.array([1.0, 2.0, 3.0])
    t = Tensor(source)
    source[0] = 100.0
    assert t.data[0] == 1.0, "Tensor(array) shares memory with the array: copy it (np.array copies)"
    u = Tensor(t)
    t.data[1] = 100.0
    assert u.data[1] == 2.0, "Tensor(tensor) shares memory with the other tensor: copy it"
    rows = [[1.0, 2.0]]
    v = Tensor(rows)
    rows[0][0] = 100.0
    assert v.data[0, 0] == 1.0


def test_tensor_of_a_tensor_keeps_values_and_dtype():
    """Tensor(other_tensor) has the other tensor's values and dtype (float64 stays float64).

    Hint: Unwrap a Tensor first (data = data.data) so it takes the NumPy-array path and keeps float64; passing
    the Tensor object itself to np.array loses its values and dtype.
    """
    t = Tensor(np.array([1.5, 2.5]))
    u = Tensor(t)
    assert u.dtype == np.float64, f"Tensor(float64 tensor).dtype is {u.dtype}, expected float64"
    np.testing.assert_array_equal(u.data, [1.5, 2.5])


def test_new_tensor_is_a_leaf():
    """A tensor you create has no gradient yet, no node, and requires_grad as given.

    Hint: The lines after your code set grad, requires_grad and node: only set self.data in your part and fall
    through to them (no early return, no other attributes set by hand).
    """
    t = Tensor([1.0, 2.0], requires_grad=True)
    assert t.requires_grad is True and t.grad is None and t.node is None
    assert Tensor([1.0]).requires_grad is False


def test_requires_grad_only_for_floating_point():
    """Only floating-point tensors can require gradients: int and bool tensors raise a TypeError.

    Hint: The TypeError check after your code is written and reads self.data.dtype.kind: it only fires if
    Tensor([1, 2]) really is int64 and Tensor([True, False]) bool, and if you do not return before it.
    """
    assert Tensor([1.0, 2.0], requires_grad=True).requires_grad
    with pytest.raises(TypeError):
        Tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError):
        Tensor([True, False], requires_grad=True)
