"""Step 1: masks — causal and padding masks (boolean, True = may attend) and masked_fill with its backward."""

import numpy as np
import pytest

from dojo.testing import assert_close, gradcheck, raises
from tinytorch.attention import causal_mask, masked_fill, padding_mask
from tinytorch.tensor import Tensor


@pytest.mark.parametrize("T", [1, 2, 5])
def test_causal_mask_is_the_lower_triangle(T):
    """causal_mask(T)[i, j] is True exactly when j <= i: a query sees itself and the past, never the future.

    Hint: causal_mask in tinytorch/attention.py should return a (T, T) NumPy bool array, True on and below the
    diagonal: np.tril(np.ones((T, T), dtype=bool)); np.triu, or ones of dtype float, is the usual slip.
    """
    mask = causal_mask(T)
    mask = np.asarray(getattr(mask, "data", mask))
    assert mask.dtype == np.bool_ and mask.shape == (T, T), f"got {mask.dtype} {mask.shape}"
    i, j = np.indices((T, T))
    wrong = [tuple(int(a) for a in w) for w in np.argwhere(mask != (j <= i))]
    assert not wrong, f"causal_mask({T}) is wrong at (query, key) = {wrong[0]}: {mask[wrong[0]]}"


def test_causal_mask_lets_nothing_from_the_future_through():
    """Above the diagonal every entry is False, for a long sequence too.

    Hint: row i is the query and column j the key: True only where j <= i, so everything strictly above the
    diagonal is False and the diagonal itself is True (np.tril with k=0, not k=-1).
    """
    mask = np.asarray(causal_mask(64))
    assert not np.triu(mask, k=1).any(), f"future positions allowed at {np.argwhere(np.triu(mask, k=1))[:3].tolist()}"
    assert np.diag(mask).all(), "each position must be allowed to attend to itself"


def test_padding_mask_known():
    """Lengths [2, 3, 0] with T = 3: keys < length are True, shape (B, 1, T).

    Hint: compare key positions with lengths by broadcasting: np.arange(T)[None, None, :] < lengths[:, None,
    None] gives shape (B, 1, T); note the middle axis of size 1 and that length 0 gives an all-False row.
    """
    mask = np.asarray(padding_mask([2, 3, 0], 3))
    expected = np.array([[[True, True, False]], [[True, True, True]], [[False, False, False]]])
    assert mask.dtype == np.bool_ and mask.shape == (3, 1, 3), f"got {mask.dtype} {mask.shape}"
    assert np.array_equal(mask, expected), f"got {mask.tolist()}"


def test_causal_and_padding_masks_combine():
    """causal_mask(T) & padding_mask(lengths, T) broadcasts to (B, T, T): both conditions must hold.

    Hint: this only works if causal_mask is (T, T) and padding_mask is (B, 1, T), both bool: '&' then
    broadcasts to (B, T, T); a padding mask shaped (B, T) or (B, T, 1) lines up with the wrong axis.
    """
    both = np.asarray(causal_mask(4)) & np.asarray(padding_mask(np.array([2, 4]), 4))
    assert both.shape == (2, 4, 4)
    assert np.array_equal(both[0], np.tril(np.ones((4, 4), bool)) & (np.arange(4) < 2))
    assert np.array_equal(both[1], np.tril(np.ones((4, 4), bool)))


def test_masked_fill_forward():
    """masked_fill(x, mask, value) puts value where mask is True and keeps x elsewhere (and x's dtype).

    Hint: masked_fill's body is np.where(mask, value, x.data), with value cast to x's dtype (np.asarray(value,
    dtype=x.dtype)) so a float32 input stays float32; True means 'put value here'.
    """
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    mask = np.array([[False, True, False], [True, False, False]])
    out = masked_fill(Tensor(x), mask, -9.0)
    assert_close(out, [[0, -9, 2], [-9, 4, 5]], rtol=0, atol=0, dtype=np.float32, what="masked_fill")


def test_masked_fill_broadcasts_the_mask():
    """A (T, T) mask applies to every batch element of (B, T, T) scores.

    Hint: let np.where broadcast the (T, T) mask against the (B, T, T) data; do not index x.data[mask] or
    require mask.shape == x.shape.
    """
    x = np.random.default_rng(0).normal(size=(3, 4, 4)).astype(np.float32)
    upper = ~np.tril(np.ones((4, 4), bool))
    out = masked_fill(Tensor(x), upper, -1e9).data
    assert np.all(out[:, upper] == np.float32(-1e9)) and np.array_equal(out[:, ~upper], x[:, ~upper])


def test_masked_fill_backward_blocks_filled_positions():
    """The gradient passes where the mask is False and is exactly 0 where the value was filled.

    Hint: the masked_fill rule returns (np.where(mask, 0, grad),) with mask = _mask_array(node.args['mask']):
    filled positions did not come from x, so their gradient is 0; passing grad through unchanged is the usual
    slip.
    """
    x = Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    mask = np.array([[False, True, False], [True, True, False]])
    upstream = np.arange(1, 7, dtype=np.float32).reshape(2, 3)
    masked_fill(x, mask, 5.0).backward(upstream)
    assert_close(x.grad, np.where(mask, 0, upstream), rtol=0, atol=0, what="gradient of masked_fill")


def test_masked_fill_gradcheck():
    """Autograd's gradient of masked_fill equals central differences (float64, broadcast mask).

    Hint: here the mask is (3, 3) and x is (2, 3, 3): the rule's np.where(mask, 0, grad) must broadcast the
    mask the same way the forward did and return a gradient of grad's shape and dtype.
    """
    x = np.random.default_rng(1).normal(size=(2, 3, 3))
    mask = ~np.tril(np.ones((3, 3), bool))
    gradcheck(lambda t: masked_fill(t, mask, -3.0), [x])


def test_masked_fill_refuses_a_mask_that_grows_the_output():
    """The output keeps x's shape: a (2, 3) mask on a (3,) tensor raises ValueError.

    Hint: np.where would happily broadcast a (2, 3) mask with a (3,) x into a (2, 3) output; check
    np.broadcast_shapes(mask.shape, x.shape) == x.shape first and raise ValueError otherwise.
    """
    with raises(ValueError):
        masked_fill(Tensor(np.zeros(3, dtype=np.float32)), np.zeros((2, 3), bool), 1.0)


def test_masked_fill_requires_a_boolean_mask():
    """One convention, booleans only: a 0/1 float mask raises TypeError instead of being guessed at.

    Hint: convert the mask with the _mask_array helper in tinytorch/attention.py, which raises TypeError for
    any dtype other than bool; np.where on a 0/1 float mask would silently treat it as booleans.
    """
    with raises(TypeError):
        masked_fill(Tensor(np.zeros(3, dtype=np.float32)), np.array([0.0, 1.0, 0.0]), 1.0)
