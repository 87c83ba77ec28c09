"""Step 2: dataloader — batches in order, stacked into Tensors, the last one kept or dropped."""

import math

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

from dojo.testing import assert_close, raises
from tinytorch.data import DataLoader, Dataset, TensorDataset, default_collate
from tinytorch.tensor import Tensor


@given(n=st.integers(1, 60), batch_size=st.integers(1, 20), drop_last=st.booleans())
@example(n=1, batch_size=1, drop_last=False)
@example(n=3, batch_size=5, drop_last=False)  # fewer samples than one batch: one short batch
@example(n=3, batch_size=5, drop_last=True)  # ... or none at all
@example(n=12, batch_size=4, drop_last=True)  # divides evenly: nothing to drop
@example(n=13, batch_size=4, drop_last=False)  # one sample left over
@example(n=13, batch_size=4, drop_last=True)
def test_number_of_batches(n, batch_size, drop_last):
    """len(loader) = ceil(N / B), or floor(N / B) with drop_last, and iterating yields exactly that many
    batches.

    Hint: len(loader) is math.ceil(N / B), or N // B with drop_last, and __iter__ must yield exactly len(self)
    batches: with N = 3, B = 5 and drop_last there are none.
    """
    loader = DataLoader(TensorDataset(np.arange(n)), batch_size=batch_size, drop_last=drop_last)
    expected = n // batch_size if drop_last else math.ceil(n / batch_size)
    assert len(loader) == expected
    assert sum(1 for _ in loader) == expected


@given(n=st.integers(1, 60), batch_size=st.integers(1, 20), drop_last=st.booleans())
@example(n=1, batch_size=1, drop_last=False)
@example(n=3, batch_size=5, drop_last=False)  # fewer samples than one batch: one short batch
@example(n=3, batch_size=5, drop_last=True)  # ... or none at all
@example(n=12, batch_size=4, drop_last=True)  # divides evenly: nothing to drop
@example(n=13, batch_size=4, drop_last=False)  # one sample left over
@example(n=13, batch_size=4, drop_last=True)
def test_batches_cover_the_data_in_order(n, batch_size, drop_last):
    """Without shuffling, the batches concatenated are rows 0..N-1 in order (the first N - N % B with
    drop_last); every batch has B rows except possibly the last.

    Hint: Batch b holds order[b * B : (b + 1) * B] of self.indices(): check the slice bounds (no overlap, no
    gap) and that with drop_last the short last batch is left out, not the first.
    """
    loader = DataLoader(TensorDataset(np.arange(n)), batch_size=batch_size, drop_last=drop_last)
    batches = [b.data for (b,) in loader]
    kept = n - n % batch_size if drop_last else n
    seen = np.concatenate(batches) if batches else np.array([], dtype=np.int64)
    assert_close(seen, np.arange(kept), what="concatenated batches")
    assert all(len(b) == batch_size for b in batches[:-1])


def test_batches_are_tensors_with_stacked_fields():
    """Each batch of TensorDataset(x, y) is a tuple of Tensors (x_batch, y_batch): float32 inputs, int64
    labels.

    Hint: default_collate must return one Tensor per field, each np.stack of that field over the samples;
    stacking keeps float32 rows float32 and int64 labels int64, so do not pass a dtype.
    """
    x, y = np.arange(20, dtype=np.float32).reshape(10, 2), np.arange(10)
    xb, yb = next(iter(DataLoader(TensorDataset(x, y), batch_size=4)))
    assert isinstance(xb, Tensor) and isinstance(yb, Tensor)
    assert xb.shape == (4, 2) and yb.shape == (4,)
    assert xb.dtype == np.float32 and yb.dtype == np.int64
    assert_close(xb, x[:4], what="first input batch")


def test_default_collate_stacks_each_field():
    """default_collate turns [(x0, y0), (x1, y1)] into (Tensor([x0, x1]), Tensor([y0, y1])), and plain arrays
    into one Tensor.

    Hint: default_collate has two cases: samples that are tuples give a tuple of stacked Tensors (one per
    field), plain arrays give one stacked Tensor of shape (N, ...).
    """
    xb, yb = default_collate([(np.zeros(3), 1), (np.ones(3), 0)])
    assert_close(xb, [[0, 0, 0], [1, 1, 1]], what="stacked inputs")
    assert_close(yb, [1, 0], what="stacked labels")
    single = default_collate([np.zeros((2, 2)), np.ones((2, 2))])
    assert isinstance(single, Tensor) and single.shape == (2, 2, 2)


class Squares(Dataset):
    """A dataset that only defines the protocol: len and getitem."""

    def __len__(self):
        return 5

    def __getitem__(self, i):
        return np.float64(i), i * i


def test_any_dataset_with_len_and_getitem_works():
    """The loader relies only on the protocol: a Dataset subclass with __len__ and __getitem__ is batched like
    the others.

    Hint: The loader may use only len(dataset) and dataset[i], never dataset.arrays: build each batch as
    [self.dataset[int(i)] for i in idx] and pass it to self.collate_fn.
    """
    batches = list(DataLoader(Squares(), batch_size=2))
    assert [b[1].data.tolist() for b in batches] == [[0, 1], [4, 9], [16]]


def test_loader_can_be_iterated_again():
    """Iterating twice (two epochs) gives the full set of batches both times.

    Hint: __iter__ must start from self.indices() on every call (a generator function with yield does), rather
    than keep a position or an iterator on self that the first epoch used up.
    """
    loader = DataLoader(TensorDataset(np.arange(5)), batch_size=2)
    assert [len(b) for (b,) in loader] == [2, 2, 1]
    assert [len(b) for (b,) in loader] == [2, 2, 1]


def test_bad_batch_size_is_refused():
    """batch_size must be a positive integer: 0 is a ValueError.

    Hint: In DataLoader.__init__ raise ValueError unless batch_size is an integer >= 1; otherwise 0 fails
    later with a ZeroDivisionError in len.
    """
    with raises(ValueError):
        DataLoader(TensorDataset(np.arange(3)), batch_size=0)
