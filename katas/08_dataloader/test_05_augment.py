"""Step 5: augment — RandomCrop with padding and RandomHorizontalFlip, seeded."""

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from dojo.testing import assert_close, raises
from tinytorch import rng
from tinytorch.data import Compose, RandomCrop, RandomHorizontalFlip


def offsets_of(crop, padded):
    """Every (top, left) at which ``crop`` appears in ``padded``, in row-major order: every window
    ``padded[..., t : t + size, l : l + size]`` is compared with ``crop`` at once (a strided view)."""
    crop, padded = np.asarray(crop), np.asarray(padded)
    size = crop.shape[-1]
    h, w = padded.shape[-2:]
    rows, cols = h - size + 1, w - size + 1
    if crop.shape != padded.shape[:-2] + (size, size) or rows < 1 or cols < 1:
        return []  # no window has the crop's shape
    if crop.size == 0:
        return [(t, l) for t in range(rows) for l in range(cols)]  # every empty window matches
    # windows[t, l] is padded[..., t : t + size, l : l + size] (a view: nothing is copied)
    windows = np.lib.stride_tricks.as_strided(
        padded, (rows, cols) + crop.shape, padded.strides[-2:] + padded.strides, writeable=False
    )
    same = (windows == crop).reshape(rows * cols, -1).all(axis=1)
    return [divmod(int(i), cols) for i in np.flatnonzero(same)]


# A window size from 1 up to the padded image's smaller side (2 + 0 to 8 + 6), built once per bound
# rather than once per example (hypothesis validates every new strategy it is given).
SIZES = {largest: st.integers(1, largest) for largest in range(2, 15)}


@st.composite
def crop_case(draw):
    """(C, H, W) with H and W drawn apart (non-square images too), a padding, a window size that
    fits in the padded image, and a seed."""
    c, h, w = draw(st.integers(1, 3), label="C"), draw(st.integers(2, 8), label="H"), draw(st.integers(2, 8), label="W")
    padding = draw(st.integers(0, 3), label="padding")
    size = draw(SIZES[min(h, w) + 2 * padding], label="size")
    return (c, h, w), padding, size, draw(st.integers(0, 1000), label="seed")


@given(case=crop_case())
@example(case=((1, 8, 2), 0, 2, 3))  # a tall image: the window moves down only
@example(case=((2, 2, 8), 1, 4, 5))  # a wide image, padded
@example(case=((3, 4, 4), 2, 8, 0))  # the window is the whole padded image
@example(case=((1, 5, 3), 0, 1, 7))  # a 1x1 window
def test_crop_is_a_window_of_the_padded_image(case):
    """RandomCrop(size, padding) returns (C, size, size): a window of the image zero-padded by
    `padding`, the same window for every channel (square or not).

    Hint: RandomCrop must pad H and W (not the channels) with zeros by padding on each side, then cut the same
    size × size window from every channel (x[..., top:top+size, left:left+size]).
    """
    shape, padding, size, seed = case
    x = np.random.default_rng(seed).uniform(1, 2, size=shape)  # never 0: padding is recognisable
    c = shape[0]
    crop = RandomCrop(size, padding, seed=seed)(x)
    assert crop.shape == (c, size, size)
    padded = np.pad(x, ((0, 0), (padding, padding), (padding, padding)))
    assert offsets_of(crop, padded), "the crop is not a window of the zero-padded image"


def test_every_window_position_is_used():
    """Over 400 crops of size 2 from a 3×3 image padded by 1 (16 positions), every position comes up, none
    more than 3× its share.

    Hint: top and left must each range over all of 0..H + 2p - size inclusive: generator.integers(low, high)
    excludes high, so pass high + 1, or the last row and column of positions never come up.
    """
    x = np.arange(1.0, 10.0).reshape(1, 3, 3)
    crop = RandomCrop(2, padding=1, seed=0)
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    counts = {}
    for _ in range(400):
        (position,) = offsets_of(crop(x), padded)
        counts[position] = counts.get(position, 0) + 1
    assert len(counts) == 16, f"positions used: {sorted(counts)}"
    assert max(counts.values()) < 3 * 400 / 16


@pytest.mark.parametrize("shape", [(1, 2, 5), (1, 5, 2)], ids=["wide", "tall"])
def test_every_window_position_is_used_on_a_non_square_image(shape):
    """Top and left have their own ranges: a 2×2 window in a 2×5 image has 4 positions (left 0..3,
    top 0 only), in a 5×2 image 4 others (top 0..3, left 0 only); over 200 crops each comes up.

    Hint: Draw top from the padded height's range and left from the padded width's range separately: using one
    range (say from H) for both breaks tall and wide images.
    """
    x = np.arange(1.0, 11.0).reshape(shape)
    crop = RandomCrop(2, seed=1)
    seen = set()
    for _ in range(200):
        out = crop(x)
        assert out.shape == (1, 2, 2), f"a crop of a {shape} image has shape {out.shape}, expected (1, 2, 2)"
        seen.update(offsets_of(out, x))
    expected = {(0, left) for left in range(4)} if shape[2] == 5 else {(top, 0) for top in range(4)}
    assert seen == expected, f"positions used: {sorted(seen)}, expected {sorted(expected)}"


def test_crop_is_seeded_and_leaves_the_input_alone():
    """The same seed gives the same sequence of crops; the input image is not modified.

    Hint: Use self.generator when set, else rng.generator() at call time; pad into a new array (np.zeros plus
    a slice assignment) and return a copy, never write into x.
    """
    x = np.arange(25.0).reshape(1, 5, 5)
    a, b = RandomCrop(3, 2, seed=11), RandomCrop(3, 2, seed=11)
    for _ in range(5):
        assert_close(a(x), b(x), rtol=0, atol=0, what="crops with the same seed")
    assert_close(x, np.arange(25.0).reshape(1, 5, 5), what="the input after cropping")
    rng.manual_seed(4)
    first = [RandomCrop(3, 2)(x) for _ in range(3)]
    rng.manual_seed(4)
    second = [RandomCrop(3, 2)(x) for _ in range(3)]
    assert all(np.array_equal(p, q) for p, q in zip(first, second)), "without a seed, rng.manual_seed must decide"


def test_crop_larger_than_the_padded_image_is_refused():
    """A 9×9 window cannot fit in a 4×4 image padded by 2 (8×8): ValueError.

    Hint: Before drawing a position, check that size fits in the padded height and width (H + 2p and W + 2p)
    and raise ValueError otherwise.
    """
    with raises(ValueError):
        RandomCrop(9, padding=2, seed=0)(np.zeros((1, 4, 4)))


def test_flip_mirrors_the_last_axis():
    """p=1 always mirrors left-right (each row reversed, channels and rows in place); p=0 never does.

    Hint: A horizontal flip reverses the last axis only (x[..., ::-1]); np.flip(x) without axis or x[::-1]
    reverses the channels or rows instead.
    """
    x = np.arange(12.0).reshape(2, 2, 3)
    assert_close(RandomHorizontalFlip(p=1.0, seed=0)(x), x[:, :, ::-1], what="p=1 flip")
    assert_close(RandomHorizontalFlip(p=0.0, seed=0)(x), x, what="p=0 flip")


def test_flip_happens_with_probability_p():
    """With p=0.3, about 30% of 2,000 calls flip (between 26% and 34%); the same seed flips the same calls.

    Hint: Make exactly one draw per call from the transform's generator and flip when generator.random() < p;
    > p, or several draws per call, changes the rate or the sequence.
    """
    x = np.array([[[0.0, 1.0]]])
    f = RandomHorizontalFlip(0.3, seed=5)
    results = [f(x)[0, 0, 0] == 1.0 for _ in range(2000)]
    assert 0.26 < np.mean(results) < 0.34, f"flipped {np.mean(results):.1%} of the time"
    g = RandomHorizontalFlip(0.3, seed=5)
    assert results[:50] == [g(x)[0, 0, 0] == 1.0 for _ in range(50)]


def test_flip_returns_a_copy():
    """Changing the output never changes the input (a flipped view would).

    Hint: x[..., ::-1] is a view of the input, and so is returning x itself: return .copy() in both the flip
    and the no-flip case.
    """
    x = np.zeros((1, 2, 2))
    for p in (0.0, 1.0):
        out = RandomHorizontalFlip(p, seed=0)(x)
        out[...] = 7.0
        assert np.all(x == 0.0), f"p={p}: the output shares memory with the input"


def test_augmentation_pipeline():
    """Compose([RandomCrop(32, 4), RandomHorizontalFlip()]) keeps a CIFAR-sized (3, 32, 32) image (3, 32, 32).

    Hint: RandomCrop(32, 4) on a 32×32 image must give back (3, 32, 32) float32: pad with zeros of x's dtype
    (np.zeros(..., dtype=x.dtype)) and cut size rows and columns, so the dtype and shape survive.
    """
    pipeline = Compose([RandomCrop(32, padding=4, seed=0), RandomHorizontalFlip(seed=1)])
    out = pipeline(np.ones((3, 32, 32), dtype=np.float32))
    assert out.shape == (3, 32, 32) and out.dtype == np.float32
