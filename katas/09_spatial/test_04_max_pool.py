"""Step 4: max_pool — the maximum of each window forward, the gradient to the argmax only."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dojo.testing import assert_close, assert_shape, gradcheck
from tinytorch.spatial import MaxPool2d, max_pool2d
from tinytorch.tensor import Tensor


def naive_max_pool(x, k, s):
    n, c, h, w = x.shape
    ho, wo = (h - k) // s + 1, (w - k) // s + 1
    out = np.zeros((n, c, ho, wo))
    for y in range(ho):
        for x0 in range(wo):
            out[:, :, y, x0] = x[:, :, y * s : y * s + k, x0 * s : x0 * s + k].max(axis=(2, 3))
    return out


def distinct_values(shape, seed):
    """Values at least 0.1 apart (no ties, so the gradient is well defined), shuffled."""
    r = np.random.default_rng(seed)
    return (r.permutation(int(np.prod(shape))) * 0.1 - 2.0).reshape(shape)


@settings(max_examples=15)  # a Python-loop reference per example: keep the kata fast
@given(
    n=st.integers(1, 2), c=st.integers(1, 3), h=st.integers(2, 7), w=st.integers(2, 7),
    k=st.integers(1, 3), s=st.integers(1, 3),
)
def test_max_pool_forward_equals_the_naive_loop(n, c, h, w, k, s):
    """max_pool2d(x, k, s) equals the window maxima computed with loops, overlapping (s < k) or not,
    dropping a leftover row or column that no window covers."""
    k = min(k, h, w)
    x = np.random.default_rng(0).normal(size=(n, c, h, w))
    assert_close(max_pool2d(Tensor(x), k, s), naive_max_pool(x, k, s), what="max_pool2d(x)")


def test_maxpool_layer_defaults_stride_to_kernel():
    """MaxPool2d(2) halves height and width (stride defaults to the kernel size); an odd 7 becomes 3."""
    assert_shape(MaxPool2d(2)(Tensor(np.zeros((2, 3, 8, 7)))), (2, 3, 4, 3))


def test_gradient_goes_to_the_argmax_only():
    """Each window's upstream gradient lands on its largest input; every other input gets exactly 0."""
    x = Tensor(distinct_values((2, 2, 4, 6), seed=1), requires_grad=True)
    out = max_pool2d(x, 2)
    g = np.random.default_rng(2).normal(size=out.shape)
    out.backward(g)
    expected = np.zeros(x.shape)
    for y in range(2):
        for x0 in range(3):
            window = x.data[:, :, 2 * y : 2 * y + 2, 2 * x0 : 2 * x0 + 2].reshape(2, 2, 4)
            i, j = np.divmod(window.argmax(axis=-1), 2)
            for b in range(2):
                for ch in range(2):
                    expected[b, ch, 2 * y + i[b, ch], 2 * x0 + j[b, ch]] = g[b, ch, y, x0]
    assert_close(x.grad, expected, what="x.grad")


def test_tie_rule_first_maximum_in_window_order_wins():
    """When a window's inputs tie, the first one in row-major order (top-left first) gets the whole gradient, like PyTorch."""
    x = Tensor(np.array([[[[5.0, 5.0], [5.0, 5.0]]]]), requires_grad=True)
    max_pool2d(x, 2).backward(np.array([[[[3.0]]]]))
    assert_close(x.grad, [[[[3.0, 0.0], [0.0, 0.0]]]], what="x.grad for a window of ties")
    y = Tensor(np.array([[[[1.0, 7.0], [7.0, 2.0]]]]), requires_grad=True)
    max_pool2d(y, 2).backward(np.array([[[[1.0]]]]))
    assert_close(y.grad, [[[[0.0, 1.0], [0.0, 0.0]]]], what="x.grad when (0, 1) and (1, 0) tie")


def test_overlapping_windows_add_their_gradients():
    """With stride 1 a peak that is the maximum of 4 overlapping 2×2 windows receives the sum of their 4 gradients."""
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 9.0
    t = Tensor(x, requires_grad=True)
    max_pool2d(t, 2, 1).backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]))
    expected = np.zeros((1, 1, 3, 3))
    expected[0, 0, 1, 1] = 10.0
    assert_close(t.grad, expected, what="x.grad")


def test_max_pool_gradcheck():
    """Central differences agree with the max-pool gradient (distinct inputs, overlapping 3×3 windows, stride 2)."""
    gradcheck(lambda x: max_pool2d(x, 3, 2), [distinct_values((2, 2, 7, 5), seed=3)])
