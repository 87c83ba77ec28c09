"""Step 3: shuffle — every index exactly once per epoch, a new order each epoch, the same orders for the same seed."""

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

from tinytorch import rng
from tinytorch.data import DataLoader, TensorDataset


def epoch(loader):
    """The sample indices of one epoch, in the order the loader served them."""
    return np.concatenate([b.data for (b,) in loader]).tolist()


@given(n=st.integers(1, 60), batch_size=st.integers(1, 20), seed=st.integers(0, 2**16))
@example(n=1, batch_size=1, seed=0)
@example(n=3, batch_size=5, seed=1)  # one short batch
@example(n=13, batch_size=4, seed=2)  # a leftover sample
def test_each_index_exactly_once_per_epoch(n, batch_size, seed):
    """With shuffle=True, one epoch serves every index of the dataset exactly once, in ceil(N/B) batches.

    Hint: With shuffle=True, indices() must return a permutation of range(N) (generator.permutation(n)), not N
    random draws with repeats such as generator.integers(0, n, n).
    """
    loader = DataLoader(TensorDataset(np.arange(n)), batch_size=batch_size, shuffle=True, seed=seed)
    for _ in range(2):
        assert sorted(epoch(loader)) == list(range(n))


# n >= 10: two epochs agree by chance once in 10! (3.6 million) or more rarely; a larger n adds nothing but work.
@given(n=st.integers(10, 30), batch_size=st.integers(1, 20), seed=st.integers(0, 2**16))
@example(n=10, batch_size=20, seed=0)  # the whole epoch in one batch: its order still changes
@example(n=10, batch_size=1, seed=1)
def test_epochs_differ_but_runs_repeat(n, batch_size, seed):
    """Two epochs of one loader come in different orders; a second loader with the same seed repeats
    exactly the same sequence of orders.

    Hint: Draw each epoch's permutation from self.generator, the one generator the loader keeps; making a new
    np.random.default_rng(seed) in indices() gives every epoch the same order.
    """
    data = TensorDataset(np.arange(n))
    first = DataLoader(data, batch_size=batch_size, shuffle=True, seed=seed)
    again = DataLoader(data, batch_size=batch_size, shuffle=True, seed=seed)
    orders = [epoch(first) for _ in range(3)]
    assert orders[0] != orders[1], "every epoch got the same order: draw a new permutation per epoch"
    assert orders == [epoch(again) for _ in range(3)], "the same seed must give the same sequence of epochs"


def test_shuffle_actually_shuffles():
    """A shuffled epoch of 100 samples is not in the original order, and different seeds give different
    orders.

    Hint: indices() must shuffle when self.shuffle is True and use the loader's own generator, so seeds 0 and
    1 give different orders; returning np.arange(n) in both cases fails here.
    """
    data = TensorDataset(np.arange(100))
    a = epoch(DataLoader(data, batch_size=10, shuffle=True, seed=0))
    b = epoch(DataLoader(data, batch_size=10, shuffle=True, seed=1))
    assert a != list(range(100)) and a != b


def test_a_generator_can_be_passed_instead_of_a_seed():
    """generator=np.random.default_rng(7) gives the same orders as seed=7.

    Hint: The constructor already stores the generator (or default_rng(seed)) in self.generator: indices()
    must draw from self.generator instead of building its own from a seed.
    """
    data = TensorDataset(np.arange(30))
    by_seed = DataLoader(data, batch_size=4, shuffle=True, seed=7)
    by_generator = DataLoader(data, batch_size=4, shuffle=True, generator=np.random.default_rng(7))
    assert [epoch(by_seed) for _ in range(2)] == [epoch(by_generator) for _ in range(2)]


def test_without_seed_the_library_generator_decides():
    """With no seed and no generator, shuffles come from tinytorch.rng: manual_seed(3) makes them repeat.

    Hint: When self.generator is None, call rng.generator() (tinytorch's generator) at the moment of the draw
    in indices(), not np.random or a generator created once at import.
    """
    data = TensorDataset(np.arange(40))
    rng.manual_seed(3)
    first = epoch(DataLoader(data, batch_size=8, shuffle=True))
    rng.manual_seed(3)
    second = epoch(DataLoader(data, batch_size=8, shuffle=True))
    assert first == second and first != list(range(40))


@given(n=st.integers(1, 60), batch_size=st.integers(1, 20))
@example(n=3, batch_size=5)  # fewer samples than one batch: no batch at all
@example(n=13, batch_size=4)  # one left over, dropped
@example(n=12, batch_size=4)  # nothing to drop
def test_drop_last_with_shuffle_serves_full_batches_of_distinct_indices(n, batch_size):
    """With shuffle and drop_last, every batch is full and no index repeats within the epoch.

    Hint: Shuffle first, then cut the permutation into len(self) full batches: with drop_last the leftover N %
    B indices at the end of the permutation are the ones dropped.
    """
    loader = DataLoader(TensorDataset(np.arange(n)), batch_size=batch_size, shuffle=True, drop_last=True, seed=0)
    batches = [b.data.tolist() for (b,) in loader]
    assert all(len(b) == batch_size for b in batches)
    served = sum(batches, [])
    assert len(served) == len(set(served)) == n - n % batch_size
