"""Step 1: magnitude — prune the weights of smallest |w|, per array or across arrays; count zeros."""

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dojo.testing import raises
from tinytorch import rng
from tinytorch.activations import ReLU
from tinytorch.compression import global_magnitude_masks, magnitude_mask, sparsity
from tinytorch.layers import Linear, Sequential
from tinytorch.tensor import Tensor


def weights(shape, seed=0, scale=1.0):
    return (np.random.default_rng(seed).normal(size=shape) * scale).astype(np.float32)


def test_mask_prunes_exactly_the_requested_count():
    """magnitude_mask(w, 0.3) on 60 weights is a bool array shaped like w with exactly 18 False (pruned).

    Hint: magnitude_mask in tinytorch/compression.py returns a bool KEEP mask (True = kept) shaped like w,
    with exactly k = _prune_count(amount, w.size) entries False; a float 0/1 array or an inverted mask fails.
    """
    w = weights((6, 10))
    mask = magnitude_mask(w, 0.3)
    assert isinstance(mask, np.ndarray) and mask.dtype == bool, f"got {type(mask).__name__} {getattr(mask, 'dtype', '')}"
    assert mask.shape == w.shape, f"mask shape {mask.shape}, weight shape {w.shape}"
    assert (~mask).sum() == 18, f"{(~mask).sum()} entries pruned, expected round(0.3 * 60) = 18"


def test_mask_prunes_by_absolute_value():
    """Large negative weights are important: [-3, 0.1, 0.5, -0.2] at 50% prunes 0.1 and -0.2.

    Hint: rank by np.abs(w), not by w: -3 is a large weight and must be kept, while a plain sort would prune
    it first.
    """
    mask = magnitude_mask(np.array([[-3.0, 0.1], [0.5, -0.2]]), 0.5)
    assert mask.tolist() == [[True, False], [True, False]], f"got {mask.tolist()}"


@given(shape=st.sampled_from([(1,), (5,), (3, 4), (2, 3, 4)]), amount=st.floats(0, 1), seed=st.integers(0, 100))
@example(shape=(3, 4), amount=0.0, seed=0)
@example(shape=(3, 4), amount=1.0, seed=0)
@example(shape=(1,), amount=0.5, seed=0)
@settings(max_examples=15)
def test_pruned_entries_are_never_larger_than_kept_ones(shape, amount, seed):
    """round(amount * size) entries pruned, and every pruned |w| <= every kept |w| (amount 0: none, 1: all).

    Hint: order = np.argsort(np.abs(w), axis=None, kind='stable') ranks the flattened entries; set
    keep[order[:k]] = False on a flat array of ones and reshape to w.shape; amount 0 prunes none and 1 prunes
    all.
    """
    w = weights(shape, seed)
    mask = magnitude_mask(w, amount)
    assert (~mask).sum() == round(amount * w.size), f"{(~mask).sum()} pruned, expected {round(amount * w.size)}"
    if mask.any() and (~mask).any():
        assert np.abs(w[~mask]).max() <= np.abs(w[mask]).min(), "a pruned weight is larger than a kept one"


def test_ties_still_prune_exactly_the_count():
    """All weights equal: pruning 50% of 8 prunes exactly 4 (a threshold test |w| <= t would prune all 8).

    Hint: a threshold test such as np.abs(w) <= t prunes every tied value; prune by rank instead (the first k
    indices of a stable argsort), which prunes exactly k even when all values are equal.
    """
    mask = magnitude_mask(np.ones((2, 4), dtype=np.float32), 0.5)
    assert (~mask).sum() == 4, f"{(~mask).sum()} pruned among 8 tied weights, expected 4"


def test_mask_accepts_a_tensor_and_rejects_bad_amounts():
    """A Tensor works like its array; an amount outside [0, 1] is a ValueError.

    Hint: unwrap a Tensor with .data before ranking, and compute k with the given _prune_count(amount, n),
    which raises ValueError for amounts outside [0, 1].
    """
    w = weights((4, 5), seed=1)
    assert (magnitude_mask(Tensor(w), 0.5) == magnitude_mask(w, 0.5)).all()
    for bad in (-0.1, 1.5):
        with raises(ValueError):
            magnitude_mask(w, bad)


def test_global_masks_rank_all_arrays_together():
    """One ranking across arrays: at 50%, a layer of tiny weights is pruned entirely, a layer of big ones not at all.

    Hint: global_magnitude_masks ranks ONE concatenation of np.abs(a).ravel() of every array and prunes the k
    smallest overall; per-array masks would prune half of the big layer too.
    """
    big, small = weights((4, 6), seed=2) + 10.0 * np.sign(weights((4, 6), seed=3)), weights((6, 4), seed=4, scale=0.01)
    masks = global_magnitude_masks([big, small], 0.5)
    assert [m.shape for m in masks] == [(4, 6), (6, 4)], f"mask shapes {[m.shape for m in masks]}"
    assert masks[0].all(), f"{(~masks[0]).sum()} big weights pruned, expected none"
    assert not masks[1].any(), f"{masks[1].sum()} tiny weights kept, expected none"


@given(amount=st.floats(0, 1), seed=st.integers(0, 100))
@example(amount=0.0, seed=0)
@example(amount=1.0, seed=0)
@example(amount=0.9, seed=0)
@settings(max_examples=15)
def test_global_masks_prune_the_count_with_one_threshold(amount, seed):
    """Arrays of different sizes and scales: round(amount * total) pruned overall, each pruned |w| <= each kept |w|.

    Hint: k = _prune_count(amount, total) over all entries together; after ranking the concatenated
    magnitudes, cut the flat keep array back into pieces of each array's size and reshape each to its array's
    shape.
    """
    arrays = [weights((3, 5), seed), weights((7,), seed + 1, scale=0.1), weights((2, 2, 2), seed + 2, scale=3.0)]
    masks = global_magnitude_masks(arrays, amount)
    total = sum(a.size for a in arrays)
    pruned = sum(int((~m).sum()) for m in masks)
    assert pruned == round(amount * total), f"{pruned} pruned, expected round({amount} * {total})"
    kept_values = np.concatenate([np.abs(a[m]) for a, m in zip(arrays, masks)])
    pruned_values = np.concatenate([np.abs(a[~m]) for a, m in zip(arrays, masks)])
    if kept_values.size and pruned_values.size:
        assert pruned_values.max() <= kept_values.min(), "a pruned weight is larger than a kept weight of another array"


def test_sparsity_counts_exact_zeros():
    """Zeros over all entries; a tiny value is not zero, -0.0 is: [[0, 1], [-0.0, 1e-30]] is 50% sparse.

    Hint: count exact zeros (a.size - np.count_nonzero(a)) over all arrays from _weight_arrays(weights), which
    accepts an array, a Tensor or a list; 1e-30 is not zero, -0.0 is.
    """
    assert sparsity(np.array([[0.0, 1.0], [-0.0, 1e-30]])) == 0.5
    assert sparsity(Tensor(np.zeros((3, 3)))) == 1.0
    assert sparsity([np.zeros(2), np.ones(6)]) == 0.25


def test_sparsity_of_a_model_counts_its_weight_matrices():
    """For a model: zeros over the weight matrices of all its Linear layers (biases are not counted).

    Hint: for a model, _weight_arrays gives the weight matrices of its Linear layers only (no biases): divide
    the zeros by the total size of those matrices, not by the number of parameters.
    """
    rng.manual_seed(0)
    model = Sequential(Linear(4, 6), ReLU(), Linear(6, 2))
    assert sparsity(model) == 0.0
    model[0].weight.data[:3] = 0  # 12 of the 24 + 12 = 36 weights
    model[2].bias.data[:] = 0  # biases do not count
    assert sparsity(model) == 12 / 36, f"got {sparsity(model)}, expected 12/36"
    assert sparsity(model[0]) == 0.5, f"one layer: got {sparsity(model[0])}, expected 0.5"
