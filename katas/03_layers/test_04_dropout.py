"""Step 4: dropout — inverted dropout in training mode (mean kept), identity in eval mode."""

import numpy as np
import pytest

from dojo.testing import assert_close
from tinytorch import rng
from tinytorch.layers import Dropout
from tinytorch.tensor import Tensor


def ones(shape=(100, 200), dtype=np.float32):
    return Tensor(np.ones(shape, dtype=dtype))


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_keeps_the_mean(p):
    """In training mode about a fraction p of the elements become 0 and the rest 1/(1-p): the mean stays 1."""
    rng.manual_seed(0)
    out = Dropout(p)(ones((200, 500))).data  # 100,000 elements: both tolerances are over 9 standard deviations
    dropped = float((out == 0).mean())
    assert abs(dropped - p) < 0.03, f"dropped fraction {dropped:.4f}, expected about p = {p}"
    assert abs(float(out.mean()) - 1.0) < 0.06, f"mean {out.mean():.4f}, expected about 1 (inverted dropout scales by 1/(1-p))"


def test_dropout_scales_kept_elements_exactly():
    """Every element of the output is either 0 or x / (1 - p), with both cases present."""
    rng.manual_seed(1)
    x = np.random.default_rng(1).uniform(1.0, 2.0, size=(20, 30)).astype(np.float32)
    out = Dropout(0.25)(Tensor(x)).data
    kept = out != 0
    assert kept.any() and (~kept).any()
    assert_close(out[kept], x[kept] / 0.75, what="kept elements")


def test_dropout_keeps_dtype_and_shape():
    """The output has the input's shape and dtype (float32 stays float32, float64 stays float64)."""
    rng.manual_seed(2)
    for dtype in (np.float32, np.float64):
        out = Dropout(0.5)(ones((3, 4, 5), dtype))
        assert out.shape == (3, 4, 5) and out.dtype == dtype, f"got {out.shape} {out.dtype} for {dtype.__name__}"


def test_dropout_draws_a_fresh_mask_each_call():
    """Two calls in training mode zero different elements."""
    rng.manual_seed(3)
    drop = Dropout(0.5)
    a, b = drop(ones()).data, drop(ones()).data
    assert not np.array_equal(a == 0, b == 0), "the same mask twice"


def test_dropout_mask_is_repeatable_with_manual_seed():
    """The mask comes from tinytorch.rng.generator(): the same seed gives the same mask."""
    rng.manual_seed(4)
    a = Dropout(0.5)(ones()).data
    rng.manual_seed(4)
    b = Dropout(0.5)(ones()).data
    assert np.array_equal(a, b), "manual_seed(4) twice gave different masks"


def test_dropout_is_identity_in_eval_mode():
    """After eval() the input passes through unchanged."""
    x = np.random.default_rng(5).normal(size=(10, 10)).astype(np.float32)
    out = Dropout(0.9).eval()(Tensor(x))
    assert_close(out, x, rtol=0, atol=0, what="Dropout(0.9) in eval mode")


def test_dropout_with_p_zero_is_identity():
    """Dropout(0.0) in training mode changes nothing."""
    x = np.random.default_rng(6).normal(size=(10, 10)).astype(np.float32)
    assert_close(Dropout(0.0)(Tensor(x)), x, rtol=0, atol=0, what="Dropout(0.0)(x)")


def test_dropout_with_p_one_gives_zeros():
    """Dropout(1.0) in training mode drops everything: all zeros (no division by zero, no warning)."""
    out = Dropout(1.0)(ones((4, 5)))
    assert_close(out, np.zeros((4, 5), dtype=np.float32), what="Dropout(1.0)(x)")


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_dropout_rejects_p_outside_zero_one(p):
    """p must lie in [0, 1]: Dropout(-0.1) and Dropout(1.5) raise ValueError."""
    with pytest.raises(ValueError):
        Dropout(p)


def test_dropout_output_stays_in_the_graph():
    """Dropout multiplies with Tensor ops, so the output of a tensor that requires grad requires grad too."""
    x = Tensor(np.ones((4, 4), dtype=np.float32), requires_grad=True)
    out = Dropout(0.5)(x)
    assert out.requires_grad, "the output does not require grad: was it built from x.data?"
