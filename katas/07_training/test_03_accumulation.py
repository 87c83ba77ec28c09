"""Step 3: accumulation — Trainer.train_step sums micro-batch gradients into one big-batch step."""

import numpy as np

from dojo.testing import assert_close
from tinytorch import rng
from tinytorch.layers import Linear
from tinytorch.losses import cross_entropy, mse_loss
from tinytorch.optim import SGD
from tinytorch.tensor import Tensor
from tinytorch.training import Trainer


def data(n=8, seed=0):
    r = np.random.default_rng(seed)
    return r.normal(size=(n, 3)), r.integers(0, 4, n)


def model64():
    rng.manual_seed(0)
    model = Linear(3, 4)
    for p in model.parameters():
        p.data = p.data.astype(np.float64)
    return model


def test_two_half_batches_equal_one_full_batch():
    """accumulation_steps=2 over two halves of a batch gives the same SGD update as one step on the whole
    batch.

    Hint: Gradients add up across backward() calls, and each micro-batch loss is already a mean:
    back-propagate loss / self.accumulation_steps so two halves sum to the full batch's mean gradient.
    """
    x, y = data()
    big, small = model64(), model64()
    Trainer(big, SGD(big.parameters(), lr=0.5), cross_entropy, progress=False).train_step(x, y)
    trainer = Trainer(small, SGD(small.parameters(), lr=0.5), cross_entropy, accumulation_steps=2, progress=False)
    trainer.train_step(x[:4], y[:4])
    trainer.train_step(x[4:], y[4:])
    for (name, p), q in zip(big.named_parameters(), small.parameters()):
        assert_close(q, p.data, rtol=1e-12, atol=1e-14, what=f"{name} after accumulating 2 micro-batches")


def test_four_quarter_batches_equal_one_full_batch():
    """Also with 4 micro-batches (and mean-squared error).

    Hint: The same scaling must hold for any k: divide by self.accumulation_steps (not by 2 or by the batch
    size), and call self.apply_gradients() only when self.pending reaches it.
    """
    r = np.random.default_rng(1)
    x, target = r.normal(size=(8, 3)), r.normal(size=(8, 4))
    big, small = model64(), model64()
    Trainer(big, SGD(big.parameters(), lr=0.1), mse_loss, progress=False).train_step(x, target)
    trainer = Trainer(small, SGD(small.parameters(), lr=0.1), mse_loss, accumulation_steps=4, progress=False)
    for i in range(0, 8, 2):
        trainer.train_step(x[i : i + 2], target[i : i + 2])
    for p, q in zip(big.parameters(), small.parameters()):
        assert_close(q, p.data, rtol=1e-12, atol=1e-14, what="weights after accumulating 4 micro-batches")


def test_the_optimizer_steps_only_every_k_micro_batches():
    """With accumulation_steps=3 the weights do not move on calls 1 and 2, move on call 3, and the gradients
    are then cleared.

    Hint: Count each call in self.pending and call self.apply_gradients() (which steps, zero_grads and resets
    pending) only when pending == accumulation_steps; never zero_grad inside train_step otherwise.
    """
    x, y = data()
    model = model64()
    before = model.weight.data.copy()
    trainer = Trainer(model, SGD(model.parameters(), lr=0.5), cross_entropy, accumulation_steps=3, progress=False)
    trainer.train_step(x[:2], y[:2])
    trainer.train_step(x[2:4], y[2:4])
    assert_close(model.weight, before, rtol=0, atol=0, what="weights before the 3rd micro-batch")
    assert model.weight.grad is not None, "gradients must be kept between micro-batches"
    trainer.train_step(x[4:6], y[4:6])
    assert not np.allclose(model.weight.data, before), "the 3rd micro-batch should step the optimizer"
    assert model.weight.grad is None, "after the step, gradients are zeroed for the next accumulation"


def test_train_step_returns_the_unscaled_loss():
    """The returned loss is the micro-batch's own mean loss (not divided by accumulation_steps).

    Hint: Return float(loss.item()) of the loss itself; the division by accumulation_steps is only for what
    you call backward() on.
    """
    x, y = data()
    model = model64()
    expected = float(cross_entropy(model(Tensor(x[:4])), Tensor(y[:4])).item())
    trainer = Trainer(model, SGD(model.parameters(), lr=0.5), cross_entropy, accumulation_steps=2, progress=False)
    assert np.isclose(trainer.train_step(x[:4], y[:4]), expected, rtol=1e-12)
