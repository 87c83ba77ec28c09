"""Probes for kata 04 (Losses): MSE, cross-entropy from logits, BCE and BCE with logits."""

import numpy as np

from dojo.classroom.probes import probe


@probe("mse")
def mse(rng):
    from tinytorch.losses import MSELoss, mse_loss
    from tinytorch.tensor import Tensor

    pred, target = Tensor(rng.normal(size=(3, 4)).astype(np.float32)), Tensor(rng.normal(size=(3, 4)).astype(np.float32))
    return {"mean": mse_loss(pred, target), "sum": MSELoss(reduction="sum")(pred, target)}


@probe("mse")
def mse_shape_mismatch(rng):
    from tinytorch.losses import mse_loss
    from tinytorch.tensor import Tensor

    return mse_loss(Tensor(np.zeros((2, 3))), Tensor(np.zeros((int(rng.integers(4, 7)),))))


@probe("cross_entropy")
def cross_entropy(rng):
    from tinytorch.losses import CrossEntropyLoss, cross_entropy
    from tinytorch.tensor import Tensor

    logits = rng.normal(scale=3.0, size=(5, 4)).astype(np.float32)
    logits[0] = [1e4, -1e4, 0.0, 5.0]  # stable at the edges
    targets = Tensor(rng.integers(0, 4, size=5))
    return {"mean": cross_entropy(Tensor(logits), targets), "sum": CrossEntropyLoss(reduction="sum")(Tensor(logits), targets)}


@probe("cross_entropy")
def cross_entropy_rejects_out_of_range_targets(rng):
    from tinytorch.losses import cross_entropy
    from tinytorch.tensor import Tensor

    return cross_entropy(Tensor(rng.normal(size=(2, 3))), Tensor(np.array([0, int(rng.integers(3, 9))])))


@probe("bce")
def bce(rng):
    from tinytorch.losses import BCELoss, BCEWithLogitsLoss, binary_cross_entropy, binary_cross_entropy_with_logits
    from tinytorch.tensor import Tensor

    probs = rng.uniform(0.05, 0.95, size=(3, 4)).astype(np.float32)
    probs[0, :2] = [0.0, 1.0]  # the floor: log clamped at -100
    target = Tensor((rng.random((3, 4)) > 0.5).astype(np.float32))
    logits = rng.normal(scale=4.0, size=(3, 4)).astype(np.float32)
    logits[0, :2] = [1000.0, -1000.0]
    return {"bce": binary_cross_entropy(Tensor(probs), target), "bce_sum": BCELoss(reduction="sum")(Tensor(probs), target),
            "logits": binary_cross_entropy_with_logits(Tensor(logits), target),
            "logits_sum": BCEWithLogitsLoss(reduction="sum")(Tensor(logits), target)}


@probe("bce")
def bce_rejects_probabilities_outside_0_1(rng):
    from tinytorch.losses import binary_cross_entropy
    from tinytorch.tensor import Tensor

    return binary_cross_entropy(Tensor(np.array([0.5, 1.0 + float(rng.uniform(0.1, 1.0))])), Tensor(np.array([1.0, 0.0])))
