"""Step 2: merges — pair_counts (overlapping adjacent pairs) and merge_pair (left to right, no overlap)."""

from hypothesis import example, given
from hypothesis import strategies as st

from tinytorch.tokenization import merge_pair, pair_counts

id_lists = st.lists(st.integers(0, 4), max_size=30)


def test_pair_counts_known():
    """[1, 2, 3, 1, 2] holds (1, 2) twice, (2, 3) and (3, 1) once.

    Hint: pair_counts counts each adjacent pair (ids[i], ids[i + 1]) as a tuple key in a dict: zip(ids,
    ids[1:]) walks them; the keys must be tuples, not lists or strings.
    """
    assert pair_counts([1, 2, 3, 1, 2]) == {(1, 2): 2, (2, 3): 1, (3, 1): 1}


def test_pair_counts_counts_overlapping_pairs():
    """[7, 7, 7] holds the pair (7, 7) twice (positions 0-1 and 1-2).

    Hint: Step through every position, one at a time: [7, 7, 7] has the pair at 0-1 and at 1-2; jumping two
    positions after a pair misses the overlap.
    """
    assert pair_counts([7, 7, 7]) == {(7, 7): 2}


def test_pair_counts_of_short_sequences_is_empty():
    """No pair in [] or in a single id.

    Hint: A list of length 0 or 1 has no pairs: zip(ids, ids[1:]) is empty then, so return {} without indexing
    ids[0].
    """
    assert pair_counts([]) == {} and pair_counts([5]) == {}


@given(ids=id_lists)
@example(ids=[])
@example(ids=[3])
@example(ids=[4, 4, 4, 4])  # overlapping pairs count each time
def test_pair_counts_add_up_to_length_minus_one(ids):
    """A sequence of n ids has n - 1 adjacent pairs, counted with repetition.

    Hint: Every one of the n - 1 adjacent positions must be counted once, repeats included: increment
    counts[pair] (counts.get(pair, 0) + 1) rather than setting it to 1.
    """
    assert sum(pair_counts(ids).values()) == max(len(ids) - 1, 0)


def test_merge_pair_known():
    """Merging (1, 2) into 99 in [1, 2, 3, 1, 2] gives [99, 3, 99].

    Hint: merge_pair scans left to right: where (ids[i], ids[i + 1]) equals pair, append new_id and move two
    places; otherwise append ids[i] and move one.
    """
    assert merge_pair([1, 2, 3, 1, 2], (1, 2), 99) == [99, 3, 99]


def test_merge_pair_does_not_overlap():
    """Merging (1, 1) in [1, 1, 1] consumes the first two ids: [99, 1], not [99, 99].

    Hint: After a merge the two ids are consumed: advance the index by 2 (a while loop, since a for loop
    cannot skip), so [1, 1, 1] gives [99, 1].
    """
    assert merge_pair([1, 1, 1], (1, 1), 99) == [99, 1]
    assert merge_pair([1, 1, 1, 1], (1, 1), 99) == [99, 99]


def test_merge_pair_without_occurrence_changes_nothing():
    """A pair that does not occur leaves the ids as they are; the input list is never modified.

    Hint: merge_pair must build and return a new list: removing or assigning items in ids changes the caller's
    list.
    """
    ids = [1, 2, 1]
    assert merge_pair(ids, (2, 2), 9) == [1, 2, 1]
    assert merge_pair(ids, (1, 2), 9) == [9, 1]
    assert ids == [1, 2, 1], "merge_pair changed its input"


@given(ids=id_lists, pair=st.tuples(st.integers(0, 4), st.integers(0, 4)))
@example(ids=[1, 1, 1], pair=(1, 1))  # no overlap: [99, 1]
@example(ids=[2, 2, 2, 2, 2], pair=(2, 2))
@example(ids=[1, 2, 1, 2], pair=(1, 2))  # at the very start and end
@example(ids=[0, 3], pair=(3, 0))  # the pair reversed is not the pair
@example(ids=[], pair=(0, 0))
def test_merge_pair_can_be_undone(ids, pair):
    """Expanding every new id back into the pair restores the original ids, and each merge
    shortens the sequence by one.

    Hint: Compare both ids of the pair in order (ids[i] == pair[0] and ids[i + 1] == pair[1]), keep the last
    id when no pair starts there (check i + 1 < len(ids)), and never drop an id.
    """
    merged = merge_pair(ids, pair, 99)
    restored = [x for i in merged for x in (pair if i == 99 else (i,))]
    assert restored == ids
    assert len(merged) == len(ids) - merged.count(99)
