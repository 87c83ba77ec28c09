"""Step 5: augment — RandomCrop with padding and RandomHorizontalFlip, seeded."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from dojo.testing import assert_close, raises
from tinytorch import rng
from tinytorch.data import Compose, RandomCrop, RandomHorizontalFlip


def offsets_of(crop, padded):
    """Every (top, left) at which ``crop`` appears in ``padded`` (brute force)."""
    size = crop.shape[-1]
    h, w = padded.shape[-2:]
    return [(t, l) for t in range(h - size + 1) for l in range(w - size + 1)
            if np.array_equal(padded[..., t : t + size, l : l + size], crop)]


@given(c=st.integers(1, 3), h=st.integers(2, 8), padding=st.integers(0, 3), data=st.data())
def test_crop_is_a_window_of_the_padded_image(c, h, padding, data):
    """RandomCrop(size, padding) returns (C, size, size): a window of the image zero-padded by
    `padding`, the same window for every channel."""
    size = data.draw(st.integers(1, h + 2 * padding), label="size")
    seed = data.draw(st.integers(0, 1000), label="seed")
    x = np.random.default_rng(seed).uniform(1, 2, size=(c, h, h))  # never 0: padding is recognisable
    crop = RandomCrop(size, padding, seed=seed)(x)
    assert crop.shape == (c, size, size)
    padded = np.pad(x, ((0, 0), (padding, padding), (padding, padding)))
    assert offsets_of(crop, padded), "the crop is not a window of the zero-padded image"


def test_every_window_position_is_used():
    """Over 400 crops of size 2 from a 3×3 image padded by 1 (16 positions), every position comes up, none more than 3× its share."""
    x = np.arange(1.0, 10.0).reshape(1, 3, 3)
    crop = RandomCrop(2, padding=1, seed=0)
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    counts = {}
    for _ in range(400):
        (position,) = offsets_of(crop(x), padded)
        counts[position] = counts.get(position, 0) + 1
    assert len(counts) == 16, f"positions used: {sorted(counts)}"
    assert max(counts.values()) < 3 * 400 / 16


def test_crop_is_seeded_and_leaves_the_input_alone():
    """The same seed gives the same sequence of crops; the input image is not modified."""
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
    """A 9×9 window cannot fit in a 4×4 image padded by 2 (8×8): ValueError."""
    with raises(ValueError):
        RandomCrop(9, padding=2, seed=0)(np.zeros((1, 4, 4)))


def test_flip_mirrors_the_last_axis():
    """p=1 always mirrors left-right (each row reversed, channels and rows in place); p=0 never does."""
    x = np.arange(12.0).reshape(2, 2, 3)
    assert_close(RandomHorizontalFlip(p=1.0, seed=0)(x), x[:, :, ::-1], what="p=1 flip")
    assert_close(RandomHorizontalFlip(p=0.0, seed=0)(x), x, what="p=0 flip")


def test_flip_happens_with_probability_p():
    """With p=0.3, about 30% of 2,000 calls flip (between 26% and 34%); the same seed flips the same calls."""
    x = np.array([[[0.0, 1.0]]])
    f = RandomHorizontalFlip(0.3, seed=5)
    results = [f(x)[0, 0, 0] == 1.0 for _ in range(2000)]
    assert 0.26 < np.mean(results) < 0.34, f"flipped {np.mean(results):.1%} of the time"
    g = RandomHorizontalFlip(0.3, seed=5)
    assert results[:50] == [g(x)[0, 0, 0] == 1.0 for _ in range(50)]


def test_flip_returns_a_copy():
    """Changing the output never changes the input (a flipped view would)."""
    x = np.zeros((1, 2, 2))
    for p in (0.0, 1.0):
        out = RandomHorizontalFlip(p, seed=0)(x)
        out[...] = 7.0
        assert np.all(x == 0.0), f"p={p}: the output shares memory with the input"


def test_augmentation_pipeline():
    """Compose([RandomCrop(32, 4), RandomHorizontalFlip()]) keeps a CIFAR-sized (3, 32, 32) image (3, 32, 32)."""
    pipeline = Compose([RandomCrop(32, padding=4, seed=0), RandomHorizontalFlip(seed=1)])
    out = pipeline(np.ones((3, 32, 32), dtype=np.float32))
    assert out.shape == (3, 32, 32) and out.dtype == np.float32
