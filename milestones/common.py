"""Helpers the milestones share: the digits data, a progress bar, mini-batches, training loops and accuracy.

Everything that trains or evaluates uses only the public tinytorch API the katas build (Tensor, layers, losses,
optim, autograd.no_grad), so a milestone measures the student's own code.
"""

from __future__ import annotations

import sys

import numpy as np

from milestones import data


def load_digits_data(quick, log, targets):
    """(name, target, (x_train, y_train), (x_test, y_test), pixel scale) with images (N, H, W) uint8 as stored.

    Unless ``quick``: MNIST from the data folder (downloaded there if missing), with
    ``targets["mnist"]`` for the full 60,000 training images and ``targets["mnist-reduced"]``
    for fewer. Quick, or when MNIST cannot be had (the reason is logged): the bundled UCI 8×8
    digits, split 80/20 with seed 0, with ``targets["digits"]``.
    """
    if not quick:
        try:
            (xtr, ytr), (xte, yte) = data.load_mnist()
            full = len(xtr) >= 60_000
            name = "MNIST" if full else f"MNIST (reduced: {len(xtr):,} train, {len(xte):,} test)"
            return name, targets["mnist" if full else "mnist-reduced"], (xtr, ytr), (xte, yte), 255.0
        except data.DownloadError as error:
            log(getattr(error, "short", None) or str(error))  # one short line; str(error) has every detail
            log("→ falling back to the bundled 8×8 digits")
    images, labels = data.load_digits()
    train, test = data.split(images, labels, test_fraction=0.2, seed=0)
    return "UCI 8×8 digits (bundled: 1,438 train, 359 test)", targets["digits"], train, test, 16.0


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


def train_epoch(model, optimizer, pairs, *, quick=False, desc="train", total=None, log=None) -> float:
    """One pass of softmax cross-entropy training over ``pairs`` of (inputs, labels) Tensors, one
    optimizer step each, under a progress bar of ``total`` steps (``len(pairs)`` if not given) that
    shows the running loss and accuracy; with ``log``, one summary line at the end (what a
    non-terminal, such as CI, sees). Returns the mean loss per example."""
    from tinytorch.losses import cross_entropy

    loss_sum, count, correct = 0.0, 0, 0
    bar = progress(pairs, quick=quick, desc=desc, unit="batch", total=total)
    for x, y in bar:
        logits = model(x)
        loss = cross_entropy(logits, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        labels = np.asarray(y.data if hasattr(y, "data") else y)
        loss_sum += float(loss.item()) * len(labels)
        correct += int((logits.data.argmax(axis=-1) == labels).sum())
        count += len(labels)
        if hasattr(bar, "set_postfix_str"):
            bar.set_postfix_str(f"loss {loss_sum / count:.4f} · acc {correct / count:.2%}", refresh=False)
    if log is not None and not quick:
        log(f"  {desc}: loss {loss_sum / max(1, count):.4f} · train accuracy {correct / max(1, count):.2%}")
    return loss_sum / max(1, count)


def train_classifier(model, optimizer, x, y, *, epochs, batch_size, seed=0, quick=False, log=print,
                     desc="train"):
    """Mini-batch training with softmax cross-entropy; returns the mean loss of each epoch."""
    from tinytorch.tensor import Tensor

    rng = np.random.default_rng(seed)
    history = []
    for epoch in range(1, epochs + 1):
        order = batches(len(x), batch_size, rng)
        pairs = ((Tensor(x[idx]), Tensor(y[idx])) for idx in order)
        history.append(train_epoch(model, optimizer, pairs, quick=quick, desc=f"{desc} {epoch}/{epochs}",
                                   total=len(order), log=log))
    return history
