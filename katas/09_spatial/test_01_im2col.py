"""Step 1: conv_output_size and im2col — how many windows fit, and every patch as a column."""

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dojo.testing import assert_close, assert_shape, raises
from tinytorch.spatial import conv_output_size, im2col


def pair(v):
    return tuple(v) if isinstance(v, tuple) else (v, v)


def naive_patches(x, kh, kw, stride, padding):
    """The reference: walk every output position with Python loops and copy each sample's patch there.
    ``stride`` and ``padding`` are an int or a (height, width) pair."""
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    ho = (h + 2 * ph - kh) // sh + 1
    wo = (w + 2 * pw - kw) // sw + 1
    cols = np.zeros((n, c * kh * kw, ho * wo), dtype=x.dtype)
    for y in range(ho):
        for x0 in range(wo):
            patch = xp[:, :, y * sh : y * sh + kh, x0 * sw : x0 * sw + kw]  # every sample's patch: (N, C, kh, kw)
            cols[:, :, y * wo + x0] = patch.reshape(n, -1)
    return cols


@st.composite
def axis_settings(draw):
    """(size, kernel, stride, padding) where the kernel fits at least once."""
    kernel = draw(st.integers(1, 5))
    padding = draw(st.integers(0, 3))
    size = draw(st.integers(max(1, kernel - 2 * padding), 12))
    stride = draw(st.integers(1, 4))
    return size, kernel, stride, padding


@given(settings=axis_settings())
@example(settings=(5, 5, 1, 0))  # the kernel fills the axis: one position
@example(settings=(1, 5, 1, 2))  # ... only thanks to the padding
@example(settings=(7, 2, 2, 0))  # a leftover element no window covers
@example(settings=(4, 1, 4, 0))  # a stride as long as the axis
@example(settings=(6, 3, 4, 3))  # padding larger than the stride
def test_output_size_counts_the_window_positions(settings):
    """conv_output_size equals the number of start positions 0, s, 2s, ... at which a window
    of the kernel's size still fits inside the padded axis: (size + 2p - k) // s + 1.

    Hint: conv_output_size in tinytorch/spatial.py is (size + 2·padding - kernel) // stride + 1: pad both
    sides (2·padding), use floor division, and add the 1 for the first position outside the division.
    """
    size, kernel, stride, padding = settings
    positions = len(range(0, size + 2 * padding - kernel + 1, stride))
    assert conv_output_size(size, kernel, stride, padding) == positions


def test_output_size_examples():
    """'Same' padding keeps the size (28, k=3, p=1 → 28), no padding shrinks it (28 → 26),
    stride 2 halves it (32, k=3, s=2, p=1 → 16), and a leftover that a window cannot cover is dropped (7, k=2,
    s=2 → 3).

    Hint: 28 with k=3, p=1 must stay 28 and 7 with k=2, s=2 give 3: check that padding counts twice and that
    the division floors (//), never rounds up a leftover no window covers.
    """
    assert conv_output_size(28, 3, 1, 1) == 28
    assert conv_output_size(28, 3) == 26
    assert conv_output_size(32, 3, 2, 1) == 16
    assert conv_output_size(7, 2, 2) == 3


def test_output_size_rejects_impossible_settings():
    """A stride below 1, negative padding, or a kernel larger than the padded input are ValueErrors.

    Hint: Before the formula, raise ValueError for stride < 1, padding < 0, and a kernel larger than the
    padded size (size + 2·padding < kernel_size); otherwise stride 0 divides by zero and the rest give
    nonsense sizes.
    """
    with raises(ValueError):
        conv_output_size(8, 3, stride=0)
    with raises(ValueError):
        conv_output_size(8, 3, padding=-1)
    with raises(ValueError):
        conv_output_size(2, 5, padding=1)


def test_im2col_top_left_patch():
    """On a 4×4 image with 2×2 windows and stride 2 there are 4 patches; the first column is the
    top-left patch [0, 1, 4, 5], the last the bottom-right [10, 11, 14, 15].

    Hint: Column p of im2col is the patch at output position p = oy·Wo + ox, rows of the patch first: with
    cols shaped (N, C, kh, kw, Ho, Wo), fill cols[:, :, i, j] from the strided slice at offset (i, j), then
    reshape to (N, C·kh·kw, Ho·Wo).
    """
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    cols = im2col(x, 2, stride=2)
    assert_shape(cols, (1, 4, 4))
    assert_close(cols[0, :, 0], [0.0, 1.0, 4.0, 5.0], what="column 0 (top-left patch)")
    assert_close(cols[0, :, 3], [10.0, 11.0, 14.0, 15.0], what="column 3 (bottom-right patch)")


def test_im2col_keeps_one_matrix_per_sample():
    """With a batch, cols[n] holds sample n's patches, and a patch lists channel 0's pixels, then channel 1's.

    Hint: The result is (N, C·kh·kw, Ho·Wo), one matrix per sample, with channel as the slowest index inside a
    patch: keep the axis order (N, C, kh, kw, Ho, Wo) before the reshape, not (C, kh, kw, N, ...).
    """
    x = np.arange(2 * 2 * 3 * 3, dtype=np.float64).reshape(2, 2, 3, 3)
    cols = im2col(x, 3)
    assert_shape(cols, (2, 18, 1))
    assert_close(cols[0, :, 0], x[0].reshape(-1), what="cols[0] (sample 0, both channels)")
    assert_close(cols[1, :, 0], x[1].reshape(-1), what="cols[1] (sample 1, both channels)")


def int_or_pair(low, high):
    """An int, or a (height, width) pair of ints (they may differ)."""
    return st.integers(low, high) | st.tuples(st.integers(low, high), st.integers(low, high))


@settings(max_examples=15)  # a Python-loop reference per example: keep the kata fast
@given(
    n=st.integers(1, 2), c=st.integers(1, 3), h=st.integers(3, 7), w=st.integers(3, 7),
    kh=st.integers(1, 3), kw=st.integers(1, 3), stride=int_or_pair(1, 3), padding=int_or_pair(0, 2),
)
@example(n=1, c=1, h=4, w=5, kh=2, kw=3, stride=1, padding=0)  # a non-square kernel
@example(n=2, c=2, h=5, w=6, kh=3, kw=2, stride=(1, 2), padding=1)  # a different stride per axis
@example(n=1, c=2, h=3, w=4, kh=2, kw=2, stride=(2, 1), padding=(0, 2))  # a different padding per axis
@example(n=1, c=1, h=3, w=3, kh=3, kw=3, stride=2, padding=0)  # one window
def test_im2col_matches_patches_copied_one_by_one(n, c, h, w, kh, kw, stride, padding):
    """For any shape, kernel, stride and padding (an int, or one per axis: (height, width)), im2col
    equals the patches copied with loops over every output position: cols[n, :, p] is
    sample n's patch at position p, flattened in (channel, row, column) order, zeros where padding was.

    Hint: Stride and padding may differ per axis: use sh, ph for the height and sw, pw for the width, both in
    the padding and in the slice xp[:, :, i : i + sh·Ho : sh, j : j + sw·Wo : sw].
    """
    x = np.random.default_rng(0).normal(size=(n, c, h, w))
    assert_close(im2col(x, (kh, kw), stride, padding), naive_patches(x, kh, kw, stride, padding), what="im2col(x)")


def test_im2col_pads_with_zeros_and_keeps_dtype():
    """With padding 1 the corner patch of a 3×3 image of ones has zeros on its outer row and column; float32
    stays float32.

    Hint: Build the padded array with np.zeros(..., dtype=x.dtype) and the columns with x's dtype too (np.pad
    also keeps it); np.zeros without dtype is float64 and turns float32 into float64.
    """
    x = np.ones((1, 1, 3, 3), dtype=np.float32)
    cols = im2col(x, 3, padding=1)
    assert cols.dtype == np.float32, f"im2col changed the dtype to {cols.dtype}"
    expected_corner = np.array([0, 0, 0, 0, 1, 1, 0, 1, 1], dtype=np.float32)
    assert_close(cols[0, :, 0], expected_corner, what="the top-left patch with padding 1")
