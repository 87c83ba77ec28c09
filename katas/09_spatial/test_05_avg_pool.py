"""Step 5: avg_pool — the mean of each window, its gradient shared equally."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dojo.testing import assert_close, assert_shape, gradcheck
from tinytorch.spatial import AvgPool2d, avg_pool2d
from tinytorch.tensor import Tensor


@settings(max_examples=15)  # a Python-loop reference per example: keep the kata fast
@given(
    n=st.integers(1, 2), c=st.integers(1, 3), h=st.integers(2, 7), w=st.integers(2, 7),
    k=st.integers(1, 3), s=st.integers(1, 3),
)
def test_avg_pool_forward_equals_the_naive_loop(n, c, h, w, k, s):
    """avg_pool2d(x, k, s) equals each window's mean computed with loops."""
    k = min(k, h, w)
    x = np.random.default_rng(0).normal(size=(n, c, h, w))
    ho, wo = (h - k) // s + 1, (w - k) // s + 1
    expected = np.zeros((n, c, ho, wo))
    for y in range(ho):
        for x0 in range(wo):
            expected[:, :, y, x0] = x[:, :, y * s : y * s + k, x0 * s : x0 * s + k].mean(axis=(2, 3))
    assert_close(avg_pool2d(Tensor(x), k, s), expected, what="avg_pool2d(x)")


def test_avgpool_layer_shape_and_dtype():
    """AvgPool2d(2) halves height and width and keeps float32."""
    out = AvgPool2d(2)(Tensor(np.ones((2, 3, 6, 4), dtype=np.float32)))
    assert_shape(out, (2, 3, 3, 2))
    assert out.dtype == np.float32, f"dtype {out.dtype}"


def test_every_input_of_a_window_gets_an_equal_share():
    """With stride 1 and all-ones upstream gradient, each input receives (windows covering it) / (k·k)."""
    x = Tensor(np.zeros((1, 1, 4, 4)), requires_grad=True)
    out = avg_pool2d(x, 2, 1)
    out.backward(np.ones(out.shape))
    cover = np.outer([1, 2, 2, 1], [1, 2, 2, 1])[None, None] / 4.0
    assert_close(x.grad, cover, what="x.grad")


def test_avg_pool_gradcheck():
    """Central differences agree with the average-pool gradient (3×3 windows, stride 2, a leftover column)."""
    x = np.random.default_rng(1).uniform(-3, 3, size=(2, 2, 7, 6))
    gradcheck(lambda t: avg_pool2d(t, 3, 2), [x])
