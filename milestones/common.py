"""Helpers the milestones share: a progress bar, mini-batches, a training loop and accuracy.

Everything here uses only the public tinytorch API the katas build (Tensor, layers, losses,
optim, autograd.no_grad), so a milestone measures the student's own code.
"""

from __future__ import annotations

import sys

import numpy as np


def progress(iterable, *, quick=False, **kwargs):
    """A tqdm bar over ``iterable``; silent in quick mode and when stderr is not a terminal."""
    from tqdm.auto import tqdm

    disable = True if quick or not sys.stderr.isatty() else None
    return tqdm(iterable, disable=disable, leave=False, dynamic_ncols=True, **kwargs)


def batches(n, batch_size, rng=None):
    """Index arrays of ``batch_size`` covering ``range(n)``, shuffled when ``rng`` is given."""
    order = rng.permutation(n) if rng is not None else np.arange(n)
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]


def accuracy(model, x, y, batch_size=1000) -> float:
    """Fraction of rows of ``x`` whose arg-max logit equals ``y`` (evaluated without a graph)."""
    from tinytorch.autograd import no_grad
    from tinytorch.tensor import Tensor

    if hasattr(model, "eval"):
        model.eval()
    correct = 0
    with no_grad():
        for idx in batches(len(x), batch_size):
            logits = model(Tensor(x[idx]))
            correct += int((logits.data.argmax(axis=1) == y[idx]).sum())
    if hasattr(model, "train"):
        model.train()
    return correct / max(1, len(x))


def train_classifier(model, optimizer, x, y, *, epochs, batch_size, seed=0, quick=False, log=print,
                     desc="train"):
    """Mini-batch training with softmax cross-entropy; returns the mean loss of each epoch."""
    from tinytorch.losses import cross_entropy
    from tinytorch.tensor import Tensor

    rng = np.random.default_rng(seed)
    history = []
    for epoch in range(1, epochs + 1):
        total, count = 0.0, 0
        bar = progress(batches(len(x), batch_size, rng), quick=quick, desc=f"{desc} {epoch}/{epochs}", unit="batch")
        for idx in bar:
            loss = cross_entropy(model(Tensor(x[idx])), Tensor(y[idx]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.item()) * len(idx)
            count += len(idx)
        history.append(total / count)
    return history
