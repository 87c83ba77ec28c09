"""Step 4: max_pool — the maximum of each window forward, the gradient to the argmax only."""

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dojo.testing import assert_close, assert_shape, gradcheck
from tinytorch.spatial import MaxPool2d, max_pool2d
from tinytorch.tensor import Tensor


def pair(v):
    return tuple(v) if isinstance(v, tuple) else (v, v)


def windows(x_shape, k, s):
    """Every window as (y, x0, row slice, column slice); ``k`` and ``s`` are an int or (height, width)."""
    (kh, kw), (sh, sw) = pair(k), pair(s)
    ho, wo = (x_shape[2] - kh) // sh + 1, (x_shape[3] - kw) // sw + 1
    return [(y, x0, slice(y * sh, y * sh + kh), slice(x0 * sw, x0 * sw + kw)) for y in range(ho) for x0 in range(wo)]


def naive_max_pool(x, k, s):
    (kh, kw), (sh, sw) = pair(k), pair(s)
    n, c, h, w = x.shape
    out = np.zeros((n, c, (h - kh) // sh + 1, (w - kw) // sw + 1))
    for y, x0, rows, cols in windows(x.shape, k, s):
        out[:, :, y, x0] = x[:, :, rows, cols].max(axis=(2, 3))
    return out


def naive_max_pool_grad(x, k, s, g):
    """The reference backward: each window's upstream gradient to its first largest input (row-major)."""
    n, c = x.shape[:2]
    b, ch = np.indices((n, c))  # every (sample, channel) pair at once
    dx = np.zeros(x.shape)
    for y, x0, rows, cols in windows(x.shape, k, s):
        window = x[:, :, rows, cols]  # (N, C, kh, kw)
        i, j = np.unravel_index(window.reshape(n, c, -1).argmax(axis=-1), window.shape[2:])  # first max, row-major
        dx[b, ch, rows.start + i, cols.start + j] += g[:, :, y, x0]
    return dx


def distinct_values(shape, seed):
    """Values at least 0.1 apart (no ties, so the gradient is well defined), shuffled."""
    r = np.random.default_rng(seed)
    return (r.permutation(int(np.prod(shape))) * 0.1 - 2.0).reshape(shape)


@st.composite
def pool_case(draw):
    """An input shape, a kernel and a stride, each an int or a (height, width) pair; the kernel fits."""
    n, c = draw(st.integers(1, 2), label="N"), draw(st.integers(1, 3), label="C")
    h, w = draw(st.integers(2, 7), label="H"), draw(st.integers(2, 7), label="W")
    kh, kw = draw(st.integers(1, min(3, h)), label="kh"), draw(st.integers(1, min(3, w)), label="kw")
    k = draw(st.sampled_from([(kh, kw), kh]) if kh <= w else st.just((kh, kw)), label="kernel")
    s = draw(st.integers(1, 3) | st.tuples(st.integers(1, 3), st.integers(1, 3)), label="stride")
    return (n, c, h, w), k, s


# Non-square kernels and strides, overlapping windows, a leftover row or column, one window.
POOL_EDGE_CASES = [
    ((1, 1, 4, 6), (2, 3), (2, 3)), ((2, 2, 5, 4), (3, 2), (1, 2)), ((1, 2, 6, 5), 2, (2, 1)),
    ((1, 1, 7, 5), 3, 2), ((1, 1, 3, 3), 3, 1),
]


def pool_edge_cases(test):
    for case in POOL_EDGE_CASES:
        test = example(case=case)(test)
    return test


@settings(max_examples=15)  # a Python-loop reference per example: keep the kata fast
@given(case=pool_case())
@pool_edge_cases
def test_max_pool_forward_equals_the_naive_loop(case):
    """max_pool2d(x, k, s) equals the window maxima computed with loops, overlapping (s < k) or not,
    dropping a leftover row or column that no window covers; k and s are an int or (height, width).

    Hint: MaxPool2dFunction.forward: loop over the kh·kw window offsets and keep a running maximum of the
    strided slices x[:, :, i : i + sh·Ho : sh, j : j + sw·Wo : sw], with Ho and Wo from _pool_size so a
    leftover row or column is dropped.
    """
    shape, k, s = case
    x = np.random.default_rng(0).normal(size=shape)
    assert_close(max_pool2d(Tensor(x), k, s), naive_max_pool(x, k, s), what=f"max_pool2d(x, {k}, {s})")


@settings(max_examples=15)  # a Python-loop reference per example: keep the kata fast
@given(case=pool_case())
@pool_edge_cases
def test_max_pool_backward_equals_the_naive_loop(case):
    """For any kernel and stride (square or not, overlapping or not), each window's upstream
    gradient lands on its largest input, summed over the windows an input wins; the rest get 0.

    Hint: Backward: for each offset (i, j), add grad where the saved arg equals i·kw + j into the same strided
    slice of a zero dx (+=, so an input that wins several overlapping windows gets the sum).
    """
    shape, k, s = case
    x = distinct_values(shape, seed=7)
    t = Tensor(x, requires_grad=True)
    out = max_pool2d(t, k, s)
    g = np.random.default_rng(8).normal(size=out.shape)
    out.backward(g)
    assert_close(t.grad, naive_max_pool_grad(x, k, s, g), what=f"x.grad of max_pool2d(x, {k}, {s})")


def test_maxpool_layer_defaults_stride_to_kernel():
    """MaxPool2d(2) halves height and width (stride defaults to the kernel size); an odd 7 becomes 3.

    Hint: MaxPool2d(2) on (2, 3, 8, 7) must give (2, 3, 4, 3): the layer passes stride=None and max_pool2d
    uses the kernel as stride, so the output size must come from _pool_size (floor division).
    """
    assert_shape(MaxPool2d(2)(Tensor(np.zeros((2, 3, 8, 7)))), (2, 3, 4, 3))


def test_max_pool_keeps_the_dtype():
    """float32 in gives float32 out, float64 gives float64 (a running maximum started from a
    float64 -inf array would turn float32 into float64).

    Hint: Start the running maximum from a copy of the offset (0, 0) slice, which has x's dtype, not from
    np.full(..., -np.inf), which is float64.
    """
    for dtype in (np.float32, np.float64):
        out = max_pool2d(Tensor(distinct_values((1, 2, 4, 4), seed=9).astype(dtype)), 2)
        assert out.dtype == dtype, f"max_pool2d of a {np.dtype(dtype)} input has dtype {out.dtype}"


def test_gradient_goes_to_the_argmax_only():
    """Each window's upstream gradient lands on its largest input; every other input gets exactly 0.

    Hint: Only the window's maximum may receive the gradient: record which offset won (an arg array of i·kw +
    j) in forward and use it in backward, instead of sending grad to every input or to x == max.
    """
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
    """When a window's inputs tie, the first one in row-major order (top-left first) gets the whole gradient,
    like PyTorch.

    Hint: On a tie the first offset in row-major order keeps the win: update the running maximum only where
    the new slice is strictly greater (>), never >=, and do not share the gradient among ties.
    """
    x = Tensor(np.array([[[[5.0, 5.0], [5.0, 5.0]]]]), requires_grad=True)
    max_pool2d(x, 2).backward(np.array([[[[3.0]]]]))
    assert_close(x.grad, [[[[3.0, 0.0], [0.0, 0.0]]]], what="x.grad for a window of ties")
    y = Tensor(np.array([[[[1.0, 7.0], [7.0, 2.0]]]]), requires_grad=True)
    max_pool2d(y, 2).backward(np.array([[[[1.0]]]]))
    assert_close(y.grad, [[[[0.0, 1.0], [0.0, 0.0]]]], what="x.grad when (0, 1) and (1, 0) tie")


def test_overlapping_windows_add_their_gradients():
    """With stride 1 a peak that is the maximum of 4 overlapping 2×2 windows receives the sum of their 4
    gradients.

    Hint: With stride 1 the peak wins 4 windows and must get 1 + 2 + 3 + 4: accumulate into dx with += on each
    strided slice, instead of assigning, which keeps only the last window's gradient.
    """
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 9.0
    t = Tensor(x, requires_grad=True)
    max_pool2d(t, 2, 1).backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]))
    expected = np.zeros((1, 1, 3, 3))
    expected[0, 0, 1, 1] = 10.0
    assert_close(t.grad, expected, what="x.grad")


def test_max_pool_gradcheck():
    """Central differences agree with the max-pool gradient (distinct inputs, overlapping 3×3 windows, stride
    2).

    Hint: Overlapping 3×3 windows with stride 2 and a leftover column: the backward's slices must use the same
    i : i + sh·Ho : sh bounds as the forward, and dx must start as zeros of the saved input shape.
    """
    gradcheck(lambda x: max_pool2d(x, 3, 2), [distinct_values((1, 2, 7, 5), seed=3)])


def test_max_pool_gradcheck_with_a_non_square_kernel_and_stride():
    """Central differences agree with the max-pool gradient for 2×3 windows moving (1, 2): the
    window offset i·kw + j must use the kernel's width, and each axis its own stride.

    Hint: The offset number is i·kw + j with kw the kernel's width (not kh), and each axis uses its own stride
    (sh for rows, sw for columns) in both forward and backward.
    """
    gradcheck(lambda x: max_pool2d(x, (2, 3), (1, 2)), [distinct_values((1, 2, 4, 7), seed=4)])
    gradcheck(lambda x: max_pool2d(x, (3, 1), (2, 1)), [distinct_values((1, 1, 7, 3), seed=5)])


def test_maxpool_layer_takes_a_kernel_and_a_stride_per_axis():
    """MaxPool2d((2, 3), (2, 1)) on (1, 1, 4, 6) pools 2×3 windows moving 2 down and 1 across: (1, 1, 2, 4).

    Hint: MaxPool2d((2, 3), (2, 1)) passes pairs on: max_pool2d already turns them into (kh, kw) and (sh, sw),
    so the forward must unpack both pairs rather than use kernel_size[0] for both axes.
    """
    x = distinct_values((1, 1, 4, 6), seed=6)
    out = MaxPool2d((2, 3), (2, 1))(Tensor(x))
    assert_close(out, naive_max_pool(x, (2, 3), (2, 1)), what="MaxPool2d((2, 3), (2, 1))(x)")
