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
    """In training mode about a fraction p of the elements become 0 and the rest 1/(1-p): the mean stays 1.

    Hint: Keep each element with probability 1 - p (generator.random(x.shape) >= p) and scale the kept ones by
    1 / (1 - p); a mask with < p, or no scaling, moves the mean away from 1.
    """
    rng.manual_seed(0)
    out = Dropout(p)(ones((200, 500))).data  # 100,000 elements: both tolerances are over 9 standard deviations
    dropped = float((out == 0).mean())
    assert abs(dropped - p) < 0.03, f"dropped fraction {dropped:.4f}, expected about p = {p}"
    assert abs(float(out.mean()) - 1.0) < 0.06, f"mean {out.mean():.4f}, expected about 1 (inverted dropout scales by 1/(1-p))"


def test_dropout_scales_kept_elements_exactly():
    """Every element of the output is either 0 or x / (1 - p), with both cases present.

    Hint: Kept elements are x / (1 - p) exactly: multiply x by a mask holding 0 or 1 / (1 - p), not by 1 - p
    and not by p.
    """
    rng.manual_seed(1)
    x = np.random.default_rng(1).uniform(1.0, 2.0, size=(20, 30)).astype(np.float32)
    out = Dropout(0.25)(Tensor(x)).data
    kept = out != 0
    assert kept.any() and (~kept).any()
    assert_close(out[kept], x[kept] / 0.75, what="kept elements")


def test_dropout_keeps_dtype_and_shape():
    """The output has the input's shape and dtype (float32 stays float32, float64 stays float64).

    Hint: Build the mask in x's dtype (keep.astype(x.dtype)) and shape (x.shape): a float64 mask upcasts a
    float32 input, a random array drawn without x.shape changes the shape.
    """
    rng.manual_seed(2)
    for dtype in (np.float32, np.float64):
        out = Dropout(0.5)(ones((3, 4, 5), dtype))
        assert out.shape == (3, 4, 5) and out.dtype == dtype, f"got {out.shape} {out.dtype} for {dtype.__name__}"


def test_dropout_draws_a_fresh_mask_each_call():
    """Two calls in training mode zero different elements.

    Hint: Draw the mask inside forward on every call; a mask drawn once in __init__ (or cached) zeroes the
    same elements each time.
    """
    rng.manual_seed(3)
    drop = Dropout(0.5)
    a, b = drop(ones()).data, drop(ones()).data
    assert not np.array_equal(a == 0, b == 0), "the same mask twice"


def test_dropout_mask_is_repeatable_with_manual_seed():
    """The mask comes from tinytorch.rng.generator(): the same seed gives the same mask.

    Hint: Draw the mask from tinytorch.rng.generator(), which rng.manual_seed resets, not from np.random.
    """
    rng.manual_seed(4)
    a = Dropout(0.5)(ones()).data
    rng.manual_seed(4)
    b = Dropout(0.5)(ones()).data
    assert np.array_equal(a, b), "manual_seed(4) twice gave different masks"


def test_dropout_is_identity_in_eval_mode():
    """After eval() the input passes through unchanged.

    Hint: forward must check self.training first and return x unchanged when it is False (eval() sets it; no
    mask, no scaling).
    """
    x = np.random.default_rng(5).normal(size=(10, 10)).astype(np.float32)
    out = Dropout(0.9).eval()(Tensor(x))
    assert_close(out, x, rtol=0, atol=0, what="Dropout(0.9) in eval mode")


def test_dropout_with_p_zero_is_identity():
    """Dropout(0.0) in training mode changes nothing.

    Hint: With p == 0 return x itself; otherwise the mask and the 1 / (1 - p) scaling may still change bits.
    """
    x = np.random.default_rng(6).normal(size=(10, 10)).astype(np.float32)
    assert_close(Dropout(0.0)(Tensor(x)), x, rtol=0, atol=0, what="Dropout(0.0)(x)")


def test_dropout_with_p_one_gives_zeros():
    """Dropout(1.0) in training mode drops everything: all zeros (no division by zero, no warning).

    Hint: p == 1 keeps nothing and 1 / (1 - p) divides by zero: handle it before building the mask and return
    x * 0.0 (a Tensor op, zeros of x's shape and dtype).
    """
    out = Dropout(1.0)(ones((4, 5)))
    assert_close(out, np.zeros((4, 5), dtype=np.float32), what="Dropout(1.0)(x)")


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_dropout_rejects_p_outside_zero_one(p):
    """p must lie in [0, 1]: Dropout(-0.1) and Dropout(1.5) raise ValueError.

    Hint: Validate in Dropout.__init__: raise ValueError unless 0 <= p <= 1, before storing self.p.
    """
    with pytest.raises(ValueError):
        Dropout(p)


def test_dropout_output_stays_in_the_graph():
    """Dropout multiplies with Tensor ops, so the output of a tensor that requires grad requires grad too.

    Hint: Return x * mask, a Tensor op on x: building Tensor(x.data * mask) makes a new leaf cut from the
    graph, which does not require grad.
    """
    x = Tensor(np.ones((4, 4), dtype=np.float32), requires_grad=True)
    out = Dropout(0.5)(x)
    assert out.requires_grad, "the output does not require grad: was it built from x.data?"
