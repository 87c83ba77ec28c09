"""Step 5: avg_pool — the mean of each window, its gradient shared equally."""

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dojo.testing import assert_close, assert_shape, gradcheck
from tinytorch.spatial import AvgPool2d, avg_pool2d
from tinytorch.tensor import Tensor


def pair(v):
    return tuple(v) if isinstance(v, tuple) else (v, v)


def windows(x_shape, k, s):
    """Every window as (y, x0, row slice, column slice); ``k`` and ``s`` are an int or (height, width)."""
    (kh, kw), (sh, sw) = pair(k), pair(s)
    ho, wo = (x_shape[2] - kh) // sh + 1, (x_shape[3] - kw) // sw + 1
    return [(y, x0, slice(y * sh, y * sh + kh), slice(x0 * sw, x0 * sw + kw)) for y in range(ho) for x0 in range(wo)]


def naive_avg_pool(x, k, s):
    (kh, kw), (sh, sw) = pair(k), pair(s)
    n, c, h, w = x.shape
    out = np.zeros((n, c, (h - kh) // sh + 1, (w - kw) // sw + 1))
    for y, x0, rows, cols in windows(x.shape, k, s):
        out[:, :, y, x0] = x[:, :, rows, cols].mean(axis=(2, 3))
    return out


@st.composite
def pool_case(draw):
    """An input shape, a kernel and a stride, each an int or a (height, width) pair; the kernel fits."""
    n, c = draw(st.integers(1, 2), label="N"), draw(st.integers(1, 3), label="C")
    h, w = draw(st.integers(2, 7), label="H"), draw(st.integers(2, 7), label="W")
    kh, kw = draw(st.integers(1, min(3, h)), label="kh"), draw(st.integers(1, min(3, w)), label="kw")
    k = draw(st.sampled_from([(kh, kw), kh]) if kh <= w else st.just((kh, kw)), label="kernel")
    s = draw(st.integers(1, 3) | st.tuples(st.integers(1, 3), st.integers(1, 3)), label="stride")
    return (n, c, h, w), k, s


@settings(max_examples=15)  # a Python-loop reference per example: keep the kata fast
@given(case=pool_case())
@example(case=((1, 1, 4, 6), (2, 3), (2, 3)))  # a non-square kernel
@example(case=((2, 2, 5, 4), (3, 2), (1, 2)))  # ... with a stride per axis, overlapping
@example(case=((1, 2, 6, 5), 2, (2, 1)))
@example(case=((1, 1, 7, 5), 3, 2))  # a leftover row and column
def test_avg_pool_forward_equals_the_naive_loop(case):
    """avg_pool2d(x, k, s) equals each window's mean computed with loops; k and s are an int or
    (height, width), and a non-square window divides by kh·kw.

    Hint: AvgPool2dFunction.forward adds the kh·kw strided slices (one per window offset) into a zero output
    of shape (N, C, Ho, Wo) and divides by kh·kw, the window's area, not by kh² or by the number of windows.
    """
    shape, k, s = case
    x = np.random.default_rng(0).normal(size=shape)
    assert_close(avg_pool2d(Tensor(x), k, s), naive_avg_pool(x, k, s), what=f"avg_pool2d(x, {k}, {s})")


def test_avgpool_layer_shape_and_dtype():
    """AvgPool2d(2) halves height and width and keeps float32.

    Hint: AvgPool2d(2) must halve H and W and keep float32: create the output with np.zeros(...,
    dtype=x.dtype) and divide by a number that does not upcast (x.dtype.type(kh * kw) or a Python int).
    """
    out = AvgPool2d(2)(Tensor(np.ones((2, 3, 6, 4), dtype=np.float32)))
    assert_shape(out, (2, 3, 3, 2))
    assert out.dtype == np.float32, f"dtype {out.dtype}"


def test_every_input_of_a_window_gets_an_equal_share():
    """With stride 1 and all-ones upstream gradient, each input receives (windows covering it) / (k·k).

    Hint: Backward: each input of a window receives grad / (kh·kw), and an input in several windows the sum:
    add the share into each offset's strided slice of a zero dx with +=.
    """
    x = Tensor(np.zeros((1, 1, 4, 4)), requires_grad=True)
    out = avg_pool2d(x, 2, 1)
    out.backward(np.ones(out.shape))
    cover = np.outer([1, 2, 2, 1], [1, 2, 2, 1])[None, None] / 4.0
    assert_close(x.grad, cover, what="x.grad")


def test_avg_pool_gradcheck():
    """Central differences agree with the average-pool gradient (3×3 windows, stride 2, a leftover column).

    Hint: With stride 2 and 3×3 windows the windows overlap and a column is left over: backward slices must
    use the forward's bounds, the leftover column gets 0, and the shared pieces add up.
    """
    x = np.random.default_rng(1).uniform(-3, 3, size=(1, 2, 7, 6))
    gradcheck(lambda t: avg_pool2d(t, 3, 2), [x])


def test_avg_pool_gradcheck_with_a_non_square_kernel_and_stride():
    """Central differences agree for 2×3 windows moving (1, 2) and 3×1 windows moving (2, 1):
    each input gets grad / (kh·kw) from every window it is in.

    Hint: For 2×3 and 3×1 windows divide by kh·kw, and slice rows with sh and columns with sw in both forward
    and backward.
    """
    r = np.random.default_rng(2)
    gradcheck(lambda t: avg_pool2d(t, (2, 3), (1, 2)), [r.uniform(-3, 3, size=(1, 2, 4, 7))])
    gradcheck(lambda t: avg_pool2d(t, (3, 1), (2, 1)), [r.uniform(-3, 3, size=(1, 1, 7, 3))])
