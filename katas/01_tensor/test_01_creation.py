"""Step 1: creation — Tensor(data, dtype=None, requires_grad=False), the dtype rules, shape."""

import numpy as np
import pytest

from tinytorch.tensor import Tensor


def test_data_is_a_numpy_array_with_the_values():
    """Tensor(nested list).data is a NumPy array holding the same values in the same shape."""
    t = Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert isinstance(t.data, np.ndarray), f"t.data should be a numpy.ndarray, got {type(t.data).__name__}"
    np.testing.assert_array_equal(t.data, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])


def test_python_floats_default_to_float32():
    """Python floats (a list, a nested list or a scalar) become float32, the deep-learning default
    (np.array would give float64)."""
    for data in ([1.0, 2.5], [[1.0], [2.0]], 3.5, [1, 2.5]):
        assert Tensor(data).dtype == np.float32, f"Tensor({data!r}).dtype is {Tensor(data).dtype}, expected float32"


def test_numpy_float_arrays_keep_their_dtype():
    """A NumPy float64 array stays float64 (that is how you ask for precision), float32 and
    float16 arrays stay what they are."""
    for dtype in (np.float64, np.float32, np.float16):
        t = Tensor(np.array([1.5, -2.0], dtype=dtype))
        assert t.dtype == dtype, f"Tensor(array of {np.dtype(dtype)}).dtype is {t.dtype}, expected {np.dtype(dtype)}"


def test_python_ints_become_int64():
    """Python ints become int64 on every platform (class labels, indices): Tensor([0, 2, 1])."""
    for data in ([0, 2, 1], [[1, 2], [3, 4]], 7):
        assert Tensor(data).dtype == np.int64, f"Tensor({data!r}).dtype is {Tensor(data).dtype}, expected int64"


def test_bools_stay_bool():
    """Python bools give a bool tensor (masks)."""
    t = Tensor([True, False, True])
    assert t.dtype == np.bool_, f"Tensor([True, False, True]).dtype is {t.dtype}, expected bool"
    np.testing.assert_array_equal(t.data, [True, False, True])


def test_explicit_dtype_wins():
    """dtype= overrides every default: ints as float64, floats as float64, a float64 array as float32."""
    cases = [([1, 2], np.float64), ([1.5, 2.5], np.float64), (np.array([1.5, 2.5]), np.float32), ([1.0, 0.0], np.int64)]
    for data, dtype in cases:
        t = Tensor(data, dtype=dtype)
        assert t.dtype == dtype, f"Tensor({data!r}, dtype={np.dtype(dtype)}).dtype is {t.dtype}"
        np.testing.assert_array_equal(t.data, np.asarray(data).astype(dtype))


def test_shape_ndim_size_and_len():
    """shape is a tuple, ndim the number of dimensions, size the number of elements, len the first dimension."""
    t = Tensor(np.zeros((2, 3, 4)))
    assert t.shape == (2, 3, 4), f"shape is {t.shape}, expected (2, 3, 4)"
    assert t.ndim == 3, f"ndim is {t.ndim}, expected 3"
    assert t.size == 24, f"size is {t.size}, expected 24"
    assert len(t) == 2, f"len is {len(t)}, expected 2"


def test_scalar_tensor_has_empty_shape_and_item():
    """Tensor(3.5) is 0-dimensional: shape (), ndim 0, size 1; .item() gives the Python number back."""
    t = Tensor(3.5)
    assert t.shape == () and t.ndim == 0 and t.size == 1, f"Tensor(3.5): shape {t.shape}, ndim {t.ndim}, size {t.size}"
    assert t.item() == 3.5 and isinstance(t.item(), float)
    assert Tensor([[7]]).item() == 7


def test_item_of_many_elements_is_an_error():
    """.item() needs exactly one element: a ValueError otherwise."""
    t = Tensor([1.0, 2.0])
    with pytest.raises(ValueError):
        t.item()


def test_tensor_copies_its_input():
    """Tensor(data) copies, like torch.tensor: changing the array, list or Tensor you passed in
    afterwards must not change the new Tensor."""
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
    """Tensor(other_tensor) has the other tensor's values and dtype (float64 stays float64)."""
    t = Tensor(np.array([1.5, 2.5]))
    u = Tensor(t)
    assert u.dtype == np.float64, f"Tensor(float64 tensor).dtype is {u.dtype}, expected float64"
    np.testing.assert_array_equal(u.data, [1.5, 2.5])


def test_new_tensor_is_a_leaf():
    """A tensor you create has no gradient yet, no node, and requires_grad as given."""
    t = Tensor([1.0, 2.0], requires_grad=True)
    assert t.requires_grad is True and t.grad is None and t.node is None
    assert Tensor([1.0]).requires_grad is False


def test_requires_grad_only_for_floating_point():
    """Only floating-point tensors can require gradients: int and bool tensors raise a TypeError."""
    assert Tensor([1.0, 2.0], requires_grad=True).requires_grad
    with pytest.raises(TypeError):
        Tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError):
        Tensor([True, False], requires_grad=True)
