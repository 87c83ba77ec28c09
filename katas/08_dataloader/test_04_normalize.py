"""Step 4: normalize — per-channel standardisation, and Compose to chain transforms."""

import numpy as np

from dojo.testing import assert_close, raises
from tinytorch.data import Compose, Normalize


def test_normalize_standardises_each_channel():
    """With each channel's own mean and std, every channel of the result has mean 0 and std 1.

    Hint: mean and std hold one value per channel, and the channel is axis 0 of (C, H, W): reshape them to (C,
    1, 1) before subtracting and dividing, so they do not broadcast along the last axis.
    """
    r = np.random.default_rng(0)
    x = np.stack([r.normal(5, 2, (8, 8)), r.normal(-1, 0.5, (8, 8)), r.normal(0, 3, (8, 8))])
    out = Normalize(x.mean(axis=(1, 2)), x.std(axis=(1, 2)))(x)
    assert_close(out.mean(axis=(1, 2)), np.zeros(3), atol=1e-9, what="channel means")
    assert_close(out.std(axis=(1, 2)), np.ones(3), what="channel stds")


def test_normalize_values():
    """(x - mean[c]) / std[c] for each channel c (axis 0 of a (C, H, W) image).

    Hint: Normalize computes (x - mean[c]) / std[c]: check the order (subtract, then divide) and that channel
    c of axis 0 gets mean[c] and std[c] (reshape to (-1, 1, 1)).
    """
    x = np.ones((2, 1, 2))
    out = Normalize([1.0, 2.0], [1.0, 4.0])(x)
    assert_close(out, [[[0.0, 0.0]], [[-0.25, -0.25]]], what="Normalize(x)")


def test_normalize_scalar_mean_and_std_apply_to_every_channel():
    """A single mean and std (MNIST: 0.1307, 0.3081) apply to all channels.

    Hint: A single number for mean or std must work: turn them into 1-D arrays in __init__ (np.atleast_1d) so
    the (C, 1, 1) reshape works for length 1 and broadcasts over all channels.
    """
    x = np.full((3, 2, 2), 0.1307 + 0.3081)
    assert_close(Normalize(0.1307, 0.3081)(x), np.ones((3, 2, 2)), what="Normalize(0.1307, 0.3081)(x)")


def test_normalize_returns_a_new_float_array():
    """The input is never modified; uint8 pixels come out float32, float64 stays float64.

    Hint: Arithmetic with float64 mean and std turns uint8 pixels into float64: pick the output dtype (float32
    unless x is already a float array) and return a new array with .astype(dtype), never in-place -= or /= on
    x.
    """
    pixels = np.full((1, 2, 2), 255, dtype=np.uint8)
    out = Normalize(127.5, 127.5)(pixels)
    assert out.dtype == np.float32 and np.all(out == 1.0)
    x = np.ones((1, 2, 2))
    y = Normalize(0.5, 0.5)(x)
    assert y.dtype == np.float64 and np.all(x == 1.0) and np.all(y == 1.0)


def test_normalize_refuses_non_positive_std():
    """A std of 0 (or below) would divide by zero: ValueError.

    Hint: Check in Normalize.__init__ that every std is > 0 (np.any(std <= 0) raises ValueError), when the
    transform is created, not when it is called.
    """
    with raises(ValueError):
        Normalize([0.0, 0.0], [1.0, 0.0])


def test_compose_applies_in_order():
    """Compose([a, b])(x) is b(a(x)): first add 1, then double.

    Hint: Compose.__call__ must feed each transform the previous one's result, in list order: x = t(x) for
    each t, then return x (not the first or last result alone).
    """
    assert_close(Compose([lambda v: v + 1, lambda v: v * 2])(np.array([1.0, 2.0])), [4.0, 6.0], what="Compose")


def test_compose_with_normalize():
    """Compose([scale to [0, 1], Normalize]) equals doing both by hand; an empty Compose is the identity.

    Hint: An empty Compose returns its input unchanged, so start from x and loop; with Normalize in the list,
    the float64 from v / 255.0 must stay float64.
    """
    pixels = np.arange(12, dtype=np.uint8).reshape(3, 2, 2)
    pipeline = Compose([lambda v: v / 255.0, Normalize([0.1, 0.2, 0.3], [0.5, 0.5, 0.5])])
    expected = (pixels / 255.0 - np.array([0.1, 0.2, 0.3])[:, None, None]) / 0.5
    assert_close(pipeline(pixels), expected, what="pipeline(pixels)")
    assert_close(Compose([])(pixels), pixels, what="Compose([])(x)")
