"""Kata 08 — Data loading: feed a model batches, shuffled, reproducibly.

Until now every training loop sliced its own arrays: ``x[i : i + 64]``, a hand-made permutation
per epoch, a forgotten last partial batch, a different shuffle every run. This file packages that
the way ``torch.utils.data`` does:

* a **Dataset** is anything with ``len(ds)`` and ``ds[i]`` (one sample);
* :class:`TensorDataset` wraps arrays that share their first dimension (inputs, labels, ...);
* :class:`DataLoader` groups samples into batches (stacked into Tensors), shuffles with its own
  seeded generator — every index exactly once per epoch, a new order each epoch, the same
  sequence of orders on every run — and keeps or drops the last partial batch;
* transforms (:class:`Normalize`, :class:`RandomCrop`, :class:`RandomHorizontalFlip`,
  :class:`Compose`) change one sample at a time; the random ones draw from a seeded generator.

Example
-------
>>> x, y = np.arange(10.0).reshape(5, 2), np.array([0, 1, 0, 1, 1])
>>> loader = DataLoader(TensorDataset(x, y), batch_size=2, shuffle=True, seed=0)
>>> len(loader)
3
>>> [yb.shape for xb, yb in loader]
[(2,), (2,), (1,)]
"""

from __future__ import annotations

import math

import numpy as np

from tinytorch import rng
from tinytorch.tensor import Tensor

__all__ = [
    "Dataset", "TensorDataset", "DataLoader", "default_collate",
    "Normalize", "RandomCrop", "RandomHorizontalFlip", "Compose",
]


def _array(value) -> np.ndarray:
    """Scaffolding: the NumPy array inside a Tensor, or ``np.asarray(value)``."""
    return value.data if isinstance(value, Tensor) else np.asarray(value)


def _generator(seed=None, generator=None) -> np.random.Generator | None:
    """Scaffolding: a private generator for ``seed``, else ``generator``, else None (meaning: use
    ``tinytorch.rng.generator()`` at the time of the draw, so ``rng.manual_seed`` controls it)."""
    if seed is not None and generator is not None:
        raise ValueError("give a seed or a generator, not both")
    if seed is not None:
        return np.random.default_rng(seed)
    return generator


# ---------------------------------------------------------------------------------------------
# Step 1: datasets
# ---------------------------------------------------------------------------------------------


class Dataset:
    """The dataset protocol: ``len(dataset)`` samples, ``dataset[i]`` the ``i``-th (0 <= i < len).

    Subclass it (or write any class with these two methods: the DataLoader only calls them).
    A sample is whatever ``__getitem__`` returns — usually a tuple ``(input, label)``.
    """

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")


class TensorDataset(Dataset):
    """Samples are rows of arrays that share their first dimension.

    Parameters
    ----------
    *arrays : array_like or Tensor
        At least one; all with the same length ``N`` (ValueError naming every length otherwise).
        Tensors are read through their ``.data``.
    transform : callable, optional
        Applied to the **first** field of every sample (the input), e.g. an augmentation.

    ``ds[i]`` is the tuple ``(arrays[0][i], arrays[1][i], ...)`` (NumPy values, with the
    transform applied to the first); negative ``i`` counts from the end and ``i`` outside
    ``[-N, N)`` raises IndexError.

    >>> ds = TensorDataset(np.zeros((3, 2)), np.array([7, 8, 9]))
    >>> len(ds), int(ds[-1][1])
    (3, 9)
    """

    def __init__(self, *arrays, transform=None):
        raise NotImplementedError("not implemented yet: TensorDataset.__init__ (kata 08, step 1: dataset)")

    def __len__(self) -> int:
        raise NotImplementedError("not implemented yet: TensorDataset.__len__ (kata 08, step 1: dataset)")

    def __getitem__(self, index):
        raise NotImplementedError("not implemented yet: TensorDataset.__getitem__ (kata 08, step 1: dataset)")


# ---------------------------------------------------------------------------------------------
# Step 2: batching
# ---------------------------------------------------------------------------------------------


def default_collate(samples: list):
    """Stack a list of samples into a batch of Tensors.

    Tuples (or lists) of fields give a tuple with one Tensor per field, each the field's values
    stacked along a new first axis; single arrays or numbers give one stacked Tensor. Dtypes
    follow NumPy's stacking, as PyTorch's ``default_collate`` does: float64 arrays and Python
    floats give float64, float32 arrays stay float32, Python ints give int64.

    >>> xb, yb = default_collate([(np.zeros(3), 1), (np.ones(3), 0)])
    >>> xb.shape, yb.data
    ((2, 3), array([1, 0]))
    """
    raise NotImplementedError("not implemented yet: default_collate (kata 08, step 2: dataloader)")


class DataLoader:
    """Iterate over a dataset in batches, optionally shuffled.

    Parameters
    ----------
    dataset : Dataset
        Anything with ``__len__`` and ``__getitem__``.
    batch_size : int, default 1
        ``>= 1`` (ValueError otherwise).
    shuffle : bool, default False
        Without shuffling, batches follow the dataset's order: ``[0..B), [B..2B), ...``.
        With it, every epoch (every ``iter(loader)``) draws a fresh permutation of
        ``range(N)`` from the loader's generator: each index exactly once per epoch, a new
        order each epoch, and the same sequence of orders for the same seed.
    drop_last : bool, default False
        Drop the last batch when it is smaller than ``batch_size``.
    seed : int, optional
        The loader gets its own generator ``np.random.default_rng(seed)``.
    generator : numpy.random.Generator, optional
        Or pass a generator to draw from. With neither, shuffles come from
        ``tinytorch.rng.generator()`` (so ``rng.manual_seed`` makes them repeatable).
    collate_fn : callable, default :func:`default_collate`
        Turns a list of samples into a batch.

    ``len(loader)`` is the number of batches: ``ceil(N / B)``, or ``floor(N / B)`` with
    ``drop_last``.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None, generator=None,
                 collate_fn=None):
        self.dataset, self.batch_size = dataset, batch_size
        self.shuffle, self.drop_last = bool(shuffle), bool(drop_last)
        self.generator = _generator(seed, generator)
        self.collate_fn = collate_fn or default_collate
        raise NotImplementedError("not implemented yet: DataLoader.__init__ (kata 08, step 2: dataloader)")

    def __len__(self) -> int:
        raise NotImplementedError("not implemented yet: DataLoader.__len__ (kata 08, step 2: dataloader)")

    def indices(self) -> np.ndarray:
        """The order of this epoch: ``arange(N)``, or a fresh permutation when shuffling.

        Shuffle with ``self.generator`` when it is set, else with ``rng.generator()``.
        """
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        raise NotImplementedError("not implemented yet: DataLoader.indices (kata 08, step 3: shuffle)")

    def __iter__(self):
        """Yield ``collate_fn([dataset[i] for i in batch])`` for each batch of :meth:`indices`."""
        raise NotImplementedError("not implemented yet: DataLoader.__iter__ (kata 08, step 2: dataloader)")


# ---------------------------------------------------------------------------------------------
# Step 4: Normalize and Compose
# ---------------------------------------------------------------------------------------------


class Compose:
    """Apply transforms one after another: ``Compose([a, b])(x)`` is ``b(a(x))``.

    >>> Compose([lambda x: x + 1, lambda x: x * 2])(np.array([1.0]))
    array([4.])
    """

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, x):
        raise NotImplementedError("not implemented yet: Compose.__call__ (kata 08, step 4: normalize)")

    def __repr__(self):
        return "Compose(" + ", ".join(repr(t) for t in self.transforms) + ")"


class Normalize:
    """Per-channel standardisation of one image ``(C, H, W)``: ``(x - mean[c]) / std[c]``.

    ``mean`` and ``std`` are numbers or sequences of length C (ValueError if a std is <= 0).
    Returns a new array, float32 for integer input (pixels 0..255), else the input's dtype;
    the input is never modified.

    >>> Normalize([1.0, 2.0], [1.0, 4.0])(np.ones((2, 1, 1)))[:, 0, 0]
    array([ 0.  , -0.25])
    """

    def __init__(self, mean, std):
        raise NotImplementedError("not implemented yet: Normalize.__init__ (kata 08, step 4: normalize)")

    def __call__(self, x):
        raise NotImplementedError("not implemented yet: Normalize.__call__ (kata 08, step 4: normalize)")

    def __repr__(self):
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


# ---------------------------------------------------------------------------------------------
# Step 5: random augmentation
# ---------------------------------------------------------------------------------------------


class RandomCrop:
    """Pad an image ``(C, H, W)`` with ``padding`` zeros on every side, then cut a random
    ``size × size`` window out of it (the same window for every channel).

    Every window position is equally likely: top ``∈ [0, H + 2p - size]``, left likewise, drawn
    from the transform's generator (``seed`` / ``generator``, else ``rng.generator()``).
    With ``padding=4`` and ``size=32`` on a 32×32 image this is CIFAR-10's classic
    augmentation: the image shifted by up to 4 pixels, the gap filled with zeros.
    ValueError when the window does not fit.

    >>> RandomCrop(2, seed=0)(np.arange(9.0).reshape(1, 3, 3)).shape
    (1, 2, 2)
    """

    def __init__(self, size, padding=0, seed=None, generator=None):
        self.size, self.padding = int(size), int(padding)
        self.generator = _generator(seed, generator)

    def __call__(self, x):
        raise NotImplementedError("not implemented yet: RandomCrop.__call__ (kata 08, step 5: augment)")

    def __repr__(self):
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip:
    """Mirror an image left–right (reverse the last axis) with probability ``p``.

    One draw per call from the transform's generator (``seed`` / ``generator``, else
    ``rng.generator()``): flip when ``generator.random() < p``. Returns a new array either way.

    >>> RandomHorizontalFlip(p=1.0)(np.array([[1, 2, 3]]))
    array([[3, 2, 1]])
    """

    def __init__(self, p=0.5, seed=None, generator=None):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomHorizontalFlip: p must be in [0, 1], got {p}")
        self.p = float(p)
        self.generator = _generator(seed, generator)

    def __call__(self, x):
        raise NotImplementedError("not implemented yet: RandomHorizontalFlip.__call__ (kata 08, step 5: augment)")

    def __repr__(self):
        return f"RandomHorizontalFlip(p={self.p})"
