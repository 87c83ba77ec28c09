"""Milestone 03 — a multi-layer perceptron reads handwritten digits (Rumelhart, Hinton & Williams, 1986).

Backpropagation made hidden layers trainable. Here your whole stack trains an MLP end to end:
``Linear`` and ``Sequential`` (kata 03), ``relu`` (02), ``cross_entropy`` (04), ``backward`` (05)
and ``Adam`` (06).

Data, best first:

* MNIST (28×28, 60,000 + 10,000 images) from the data folder (``TINYTORCH_DATA``, default
  ``~/.cache/tinytorch``), downloaded there if missing — MLP 784-256-128-10, target ≥ 97%.
  A reduced MNIST in the same four files (a folder you name with ``TINYTORCH_DATA``, e.g.
  8,000 + 2,000 images) is used the same way, target ≥ 96%.
* offline, the bundled UCI 8×8 digits (1,797 images, 80/20 seeded split) — MLP 64-128-64-10,
  target ≥ 95%.

Training: Adam (lr 1e-3), batch 64, 10 epochs (30 on the small digits set), pixels scaled to
[0, 1] then standardised with the training set's mean and standard deviation. Quick mode (``make test``) uses the bundled digits with a few epochs and never touches
the network.
"""

from __future__ import annotations

import time

import numpy as np

from milestones.common import accuracy, load_digits_data, train_classifier

TARGETS = {"mnist": 0.97, "mnist-reduced": 0.96, "digits": 0.95}


def run(quick: bool = False, seed: int = 0, log=print) -> dict:
    from tinytorch import activations, layers, optim, rng

    start = time.perf_counter()
    name, target, (xtr, ytr), (xte, yte), scale = load_digits_data(quick, log, TARGETS)
    xtr = xtr.reshape(len(xtr), -1).astype(np.float32) / np.float32(scale)
    xte = xte.reshape(len(xte), -1).astype(np.float32) / np.float32(scale)
    mean, std = xtr.mean(), xtr.std()  # standardise with the training set's statistics
    xtr, xte = (xtr - mean) / std, (xte - mean) / std
    d = xtr.shape[1]
    hidden = (256, 128) if d == 784 else (128, 64)
    epochs = 10 if d == 784 else 30
    if quick:
        epochs = 10
    rng.manual_seed(seed)
    model = layers.Sequential(
        layers.Linear(d, hidden[0]), activations.ReLU(),
        layers.Linear(hidden[0], hidden[1]), activations.ReLU(),
        layers.Linear(hidden[1], 10),
    )
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    log(f"MLP {d}-{hidden[0]}-{hidden[1]}-10 on {name}: Adam lr=1e-3, batch 64, {epochs} epochs")
    losses = train_classifier(model, optimizer, xtr, ytr, epochs=epochs, batch_size=64, seed=seed,
                              quick=quick, log=log, desc="epoch")
    train_accuracy = accuracy(model, xtr, ytr)
    test_accuracy = accuracy(model, xte, yte)
    seconds = time.perf_counter() - start
    log(f"loss {losses[0]:.3f} → {losses[-1]:.3f}; train accuracy {train_accuracy:.2%}, test accuracy {test_accuracy:.2%} ({seconds:.1f} s)")
    return {
        "metric": test_accuracy,
        "dataset": name,
        "seconds": seconds,
        "target": target,
        "train_accuracy": train_accuracy,
        "epochs": epochs,
        "losses": losses,
    }


if __name__ == "__main__":
    print(run())
