"""Step 6: flatten — a reshape that keeps the graph, and a whole small CNN that learns."""

import numpy as np

from dojo.testing import assert_close, assert_shape
from tinytorch import rng
from tinytorch.activations import ReLU
from tinytorch.layers import Linear, Sequential
from tinytorch.losses import cross_entropy
from tinytorch.optim import Adam
from tinytorch.spatial import Conv2d, Flatten, MaxPool2d
from tinytorch.tensor import Tensor


def test_flatten_merges_all_but_the_batch_dimension():
    """Flatten() maps (N, C, H, W) to (N, C·H·W) keeping the row-major order of each sample.

    Hint: Flatten() keeps dim 0 and merges the rest: x.reshape(N, -1) in row-major order, with no transpose
    before it.
    """
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    out = Flatten()(Tensor(x))
    assert_shape(out, (2, 60))
    assert_close(out, x.reshape(2, 60), what="Flatten()(x)")


def test_flatten_start_and_end_dims():
    """Flatten(start_dim, end_dim) merges exactly those dimensions (negative ones count from the end).

    Hint: Turn start_dim and end_dim into positive dims (d % x.ndim), then keep x.shape[:start], put -1 for
    the merged dims, and keep x.shape[end + 1:].
    """
    x = Tensor(np.zeros((2, 3, 4, 5)))
    assert_shape(Flatten(0)(x), (120,))
    assert_shape(Flatten(1, 2)(x), (2, 12, 5))
    assert_shape(Flatten(-2, -1)(x), (2, 3, 20))


def test_flatten_keeps_the_graph():
    """The output is recorded, and backward reaches the input with the upstream gradient put back in shape.

    Hint: Use the Tensor's own reshape (an op the graph records) in Flatten.forward, never
    Tensor(x.data.reshape(...)), which makes a new leaf and cuts the gradient.
    """
    x = Tensor(np.ones((2, 3, 2, 2)), requires_grad=True)
    out = Flatten()(x)
    assert out.requires_grad and out.node is not None, "Flatten cut the graph (a new Tensor from x.data?)"
    g = np.arange(24.0).reshape(2, 12)
    out.backward(g)
    assert_close(x.grad, g.reshape(2, 3, 2, 2), what="x.grad")


def test_a_small_cnn_learns_where_the_bright_spot_is():
    """Conv2d → ReLU → MaxPool2d → Flatten → Linear, trained with Adam, tells a bright spot in the
    left half of an image from one in the right half: 100% after 30 steps (it gets there in under 15).

    Hint: Each layer passes its own tests but the model does not learn: check that gradients reach the conv
    weights through MaxPool2d and Flatten (no new Tensor from .data in a forward) and that the conv's weight
    and bias gradients have the right shapes.
    """
    r = np.random.default_rng(0)
    n = 64
    x = r.normal(scale=0.1, size=(n, 1, 6, 6)).astype(np.float32)
    y = r.integers(0, 2, n)
    cols = np.where(y == 0, r.integers(0, 3, n), r.integers(3, 6, n))
    x[np.arange(n), 0, r.integers(0, 6, n), cols] += 3.0
    rng.manual_seed(0)
    model = Sequential(Conv2d(1, 4, 3, padding=1), ReLU(), MaxPool2d(2), Flatten(), Linear(36, 2))
    opt = Adam(model.parameters(), lr=0.02)
    xt, yt = Tensor(x), Tensor(y)
    for _ in range(30):
        loss = cross_entropy(model(xt), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()
    accuracy = float((model(xt).data.argmax(axis=1) == y).mean())
    assert accuracy == 1.0, f"training accuracy {accuracy:.2%} after 30 steps (loss {loss.item():.3f})"
