"""Milestone 01 — the Perceptron (Rosenblatt, 1957).

Before backpropagation there was a learning *rule*: show the machine one example; if it answers
wrong, nudge the weights toward the right answer::

    prediction = sign(w · x + b)
    if prediction != y:   w += lr · y · x ;  b += lr · y        (y is +1 or -1)

Rosenblatt proved that on linearly separable data this rule stops making mistakes after a finite
number of updates (the perceptron convergence theorem). Here the weights live in your
``layers.Linear(2, 1)`` (kata 03) and the forward pass is your Tensor's matmul and add (kata 01);
there is no autograd yet, the rule updates ``weight.data`` and ``bias.data`` directly.

The data: points in the plane, labelled by which side of a random line they fall on, with a
margin around the line left empty, so the two classes are separable. The metric is the accuracy
on those training points once the rule has converged: 100%.
"""

from __future__ import annotations

import time

import numpy as np

from milestones.common import progress


def make_data(n, seed=0, margin=0.05):
    """``n`` points in [-1, 1]² labelled ±1 by a random line; none closer than ``margin`` to it."""
    rng = np.random.default_rng(seed)
    angle = rng.uniform(0, 2 * np.pi)
    normal = np.array([np.cos(angle), np.sin(angle)])
    offset = rng.uniform(-0.3, 0.3)
    points = []
    while sum(len(p) for p in points) < n:
        x = rng.uniform(-1, 1, size=(2 * n, 2))
        distance = x @ normal + offset
        points.append(x[np.abs(distance) >= margin])
    x = np.concatenate(points)[:n].astype(np.float32)
    y = np.where(x @ normal + offset > 0, 1, -1).astype(np.int64)
    return x, y


def predict(layer, x):
    """±1 for each row of ``x`` (shape (n, 2)) from ``layer(x)``: +1 where the score is > 0."""
    from tinytorch.tensor import Tensor

    scores = layer(Tensor(x)).data[:, 0]
    return np.where(scores > 0, 1, -1)


def run(quick: bool = False, seed: int = 0, log=print) -> dict:
    from tinytorch import layers, rng

    start = time.perf_counter()
    n = 60 if quick else 200
    x, y = make_data(n, seed=seed)
    rng.manual_seed(seed)
    layer = layers.Linear(2, 1)
    lr, max_epochs = 0.1, 100
    updates, epochs, mistakes = 0, 0, 0
    log(f"Perceptron on {n} linearly separable points (seed {seed}), Rosenblatt's rule, lr={lr}")
    for epoch in progress(range(1, max_epochs + 1), quick=quick, desc="epochs"):
        epochs = epoch
        mistakes = 0
        for i in np.random.default_rng(seed + epoch).permutation(n):
            if predict(layer, x[i : i + 1])[0] != y[i]:
                layer.weight.data += (lr * y[i] * x[i]).astype(layer.weight.data.dtype)[None, :]
                layer.bias.data += np.asarray(lr * y[i], dtype=layer.bias.data.dtype)
                mistakes += 1
        updates += mistakes
        if mistakes == 0:
            break
    accuracy = float((predict(layer, x) == y).mean())
    seconds = time.perf_counter() - start
    state = "converged" if mistakes == 0 else "still making mistakes"
    log(f"{state} after {epochs} epochs and {updates} updates: w={layer.weight.data.ravel()}, b={layer.bias.data}")
    return {
        "metric": accuracy,
        "dataset": f"separable 2-D points (n={n}, seed={seed})",
        "seconds": seconds,
        "epochs": epochs,
        "updates": updates,
        "converged": mistakes == 0,
    }


if __name__ == "__main__":
    print(run())
