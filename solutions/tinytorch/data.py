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
        ### BEGIN SOLUTION dataset
        if not arrays:
            raise ValueError("TensorDataset needs at least one array")
        self.arrays = [_array(a) for a in arrays]
        lengths = [len(a) for a in self.arrays]
        if len(set(lengths)) != 1:
            raise ValueError(f"TensorDataset: every array needs the same first dimension, got lengths {lengths}")
        self.transform = transform
        ### END SOLUTION

    def __len__(self) -> int:
        ### BEGIN SOLUTION dataset
        return len(self.arrays[0])
        ### END SOLUTION

    def __getitem__(self, index):
        ### BEGIN SOLUTION dataset
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} is out of range for a dataset of {n} samples")
        sample = tuple(a[index] for a in self.arrays)
        if self.transform is not None:
            sample = (self.transform(sample[0]),) + sample[1:]
        return sample
        ### END SOLUTION


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
    ### BEGIN SOLUTION dataloader
    first = samples[0]
    if isinstance(first, (tuple, list)):
        return tuple(Tensor(np.stack([_array(s[k]) for s in samples])) for k in range(len(first)))
    return Tensor(np.stack([_array(s) for s in samples]))
    ### END SOLUTION


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
        ### BEGIN SOLUTION dataloader
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.batch_size = int(batch_size)
        ### END SOLUTION

    def __len__(self) -> int:
        ### BEGIN SOLUTION dataloader
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
        ### END SOLUTION

    def indices(self) -> np.ndarray:
        """The order of this epoch: ``arange(N)``, or a fresh permutation when shuffling.

        Shuffle with ``self.generator`` when it is set, else with ``rng.generator()``.
        """
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        ### BEGIN SOLUTION shuffle
        generator = self.generator if self.generator is not None else rng.generator()
        return generator.permutation(n)
        ### END SOLUTION

    def __iter__(self):
        """Yield ``collate_fn([dataset[i] for i in batch])`` for each batch of :meth:`indices`."""
        ### BEGIN SOLUTION dataloader
        order = self.indices()
        for batch in range(len(self)):
            idx = order[batch * self.batch_size : (batch + 1) * self.batch_size]
            yield self.collate_fn([self.dataset[int(i)] for i in idx])
        ### END SOLUTION


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
        ### BEGIN SOLUTION normalize
        for transform in self.transforms:
            x = transform(x)
        return x
        ### END SOLUTION

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
        ### BEGIN SOLUTION normalize
        self.mean = np.atleast_1d(np.asarray(mean, dtype=np.float64))
        self.std = np.atleast_1d(np.asarray(std, dtype=np.float64))
        if np.any(self.std <= 0):
            raise ValueError(f"Normalize: every std must be > 0, got {std}")
        ### END SOLUTION

    def __call__(self, x):
        ### BEGIN SOLUTION normalize
        x = _array(x)
        dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float32)
        shape = (-1,) + (1,) * (x.ndim - 1)
        return ((x - self.mean.reshape(shape)) / self.std.reshape(shape)).astype(dtype)
        ### END SOLUTION

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
        ### BEGIN SOLUTION augment
        x = _array(x)
        p, size = self.padding, self.size
        h, w = x.shape[-2] + 2 * p, x.shape[-1] + 2 * p
        if size > h or size > w:
            raise ValueError(f"RandomCrop: a {size}×{size} window does not fit in {h}×{w} (after padding {p})")
        generator = self.generator if self.generator is not None else rng.generator()
        top, left = generator.integers(0, h - size + 1), generator.integers(0, w - size + 1)
        if p:
            padded = np.zeros(x.shape[:-2] + (h, w), dtype=x.dtype)
            padded[..., p : h - p, p : w - p] = x
            x = padded
        return x[..., top : top + size, left : left + size].copy()
        ### END SOLUTION

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
        ### BEGIN SOLUTION augment
        x = _array(x)
        generator = self.generator if self.generator is not None else rng.generator()
        return x[..., ::-1].copy() if generator.random() < self.p else x.copy()
        ### END SOLUTION

    def __repr__(self):
        return f"RandomHorizontalFlip(p={self.p})"
