"""Step 2: mask — the (T, past + T) mask of T new tokens that follow `past` cached ones."""

import numpy as np
import pytest

from tinytorch.attention import causal_mask
from tinytorch.kv_cache import cached_causal_mask


def test_known_values():
    """Two new tokens after three cached ones: the past is visible, the new tokens see each other causally.

    Hint: cached_causal_mask(T, past) is a (T, past + T) bool array: query i sits at position past + i and may
    read key j when j <= past + i; np.tril has a k argument that shifts the diagonal to the right.
    """
    expected = np.array([[1, 1, 1, 1, 0],
                         [1, 1, 1, 1, 1]], dtype=bool)
    got = cached_causal_mask(2, 3)
    assert got.dtype == np.bool_, f"got dtype {got.dtype}, expected bool"
    assert np.array_equal(got, expected), f"got\n{got.astype(int)}\nexpected\n{expected.astype(int)}"


@pytest.mark.parametrize("T", [1, 2, 5])
def test_no_past_is_the_causal_mask(T):
    """With nothing cached, the mask is kata 12's causal_mask(T).

    Hint: with past = 0 the result must be exactly kata 12's (T, T) lower triangle; if this fails, the
    diagonal offset of your np.tril (k=past) or the number of columns (past + T) is off.
    """
    got = cached_causal_mask(T, 0)
    assert got.shape == (T, T) and np.array_equal(got, causal_mask(T)), f"got\n{got.astype(int)}"


@pytest.mark.parametrize("T, past", [(1, 0), (1, 6), (3, 2), (4, 4), (2, 7)])
def test_zeros_beside_a_triangle(T, past):
    """Shape (T, past + T): the first `past` columns all True, the last T columns causal_mask(T).

    Hint: the shape is (T, past + T), not (T, T) or (past + T, past + T): the first past columns are all True
    and the last T columns are causal_mask(T); np.tril(np.ones((T, past + T), dtype=bool), k=...) builds both.
    """
    got = cached_causal_mask(T, past)
    assert got.shape == (T, past + T), f"cached_causal_mask({T}, {past}) has shape {got.shape}, expected {(T, past + T)}"
    assert got[:, :past].all(), "every new token may read every cached token"
    assert np.array_equal(got[:, past:], causal_mask(T)), f"the new tokens' block is\n{got[:, past:].astype(int)}"


@pytest.mark.parametrize("T, past", [(3, 5), (6, 1)])
def test_each_query_reads_exactly_its_prefix(T, past):
    """Query i (position past + i) may read positions 0 .. past + i and nothing after.

    Hint: row i must be True exactly for the columns 0 .. past + i: if the new tokens' block looks shifted by
    one, check the k offset you pass to np.tril (it is past, not past - 1 or past + 1).
    """
    got = cached_causal_mask(T, past)
    for i in range(T):
        expected = np.arange(past + T) <= past + i
        assert np.array_equal(got[i], expected), f"row {i}: {got[i].astype(int)}, expected {expected.astype(int)}"
