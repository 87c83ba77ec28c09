"""Step 4: trainer — fit and evaluate: epochs, a progress bar, a history."""

import numpy as np

from dojo.testing import assert_close
from tinytorch import rng
from tinytorch.activations import ReLU
from tinytorch.autograd import no_grad
from tinytorch.layers import Dropout, Linear, Sequential
from tinytorch.losses import cross_entropy
from tinytorch.optim import SGD, Adam
from tinytorch.tensor import Tensor
from tinytorch.training import StepLR, Trainer


def blobs(n=60, seed=0):
    """Three well separated clusters in 2-D: easy to learn."""
    r = np.random.default_rng(seed)
    y = r.integers(0, 3, n)
    centers = np.array([[2.0, 0.0], [-2.0, 2.0], [-2.0, -2.0]])
    x = (centers[y] + r.normal(scale=0.5, size=(n, 2))).astype(np.float32)
    return x, y


def batches(x, y, size):
    return [(x[i : i + size], y[i : i + size]) for i in range(0, len(x), size)]


def make(seed=0):
    rng.manual_seed(seed)
    model = Sequential(Linear(2, 16), ReLU(), Linear(16, 3))
    return model, Adam(model.parameters(), lr=0.05)


def test_fit_learns_and_records_one_entry_per_epoch():
    """fit(epochs=5) returns the history: 5 train losses (falling) and 5 learning rates; accuracy ends high.

    Hint: fit loops over the epochs, calling self.train_step(x, y) for every batch, and appends one train loss
    and one lr (self.optimizer.param_groups[0]['lr']) per epoch to self.history, then returns self.history
    itself.
    """
    x, y = blobs()
    model, opt = make()
    trainer = Trainer(model, opt, cross_entropy, progress=False)
    # 3 batches per epoch: a history that grew once per batch would have 15 entries, not 5
    history = trainer.fit(batches(x, y, 20), epochs=5)
    assert history is trainer.history
    assert len(history["train_loss"]) == 5 and len(history["lr"]) == 5
    assert history["train_loss"][-1] < 0.5 * history["train_loss"][0], f"losses {history['train_loss']}"
    assert trainer.evaluate(batches(x, y, 20))["accuracy"] > 0.95


def test_train_loss_is_a_mean_over_samples():
    """The epoch's train loss weighs each batch by its size: batches of 4 and 1 with losses a, b give (4a + b)
    / 5.

    Hint: Weigh each batch's loss by len(y): total += loss * len(y); count += len(y); the epoch's train loss
    is total / count, not the mean of the batch losses.
    """
    x, y = blobs(5)
    model, _ = make()
    trainer = Trainer(model, SGD(model.parameters(), lr=0.0), cross_entropy, progress=False)
    with no_grad():
        a = float(cross_entropy(model(Tensor(x[:4])), Tensor(y[:4])).item())
        b = float(cross_entropy(model(Tensor(x[4:])), Tensor(y[4:])).item())
    history = trainer.fit(batches(x, y, 4), epochs=1)
    assert np.isclose(history["train_loss"][0], (4 * a + b) / 5, rtol=1e-6)


def test_evaluate_matches_a_manual_computation():
    """evaluate returns {'loss', 'accuracy'}: means over samples (not over batches), computed in eval mode.

    Hint: evaluate sums loss * len(y) and the number of rows whose out.data.argmax(axis=1) equals y over the
    batches, then divides both by the total number of samples, in eval mode under no_grad().
    """
    x, y = blobs(7)
    model, opt = make()
    with no_grad():
        logits = model(Tensor(x))
        loss = float(cross_entropy(logits, Tensor(y)).item())
        accuracy = float((logits.data.argmax(axis=1) == y).mean())
    result = Trainer(model, opt, cross_entropy, progress=False).evaluate(batches(x, y, 3))
    assert np.isclose(result["loss"], loss, rtol=1e-6), f"loss {result['loss']} vs {loss}"
    assert np.isclose(result["accuracy"], accuracy)


def test_evaluate_changes_nothing():
    """evaluate leaves weights and gradients alone, turns Dropout off while it runs, and restores training
    mode.

    Hint: Call self.model.eval() before the loop and self.model.train() after it (in a finally), and run the
    forward passes under no_grad() with no backward(): no gradient, no update, Dropout off.
    """
    x, y = blobs(20)
    rng.manual_seed(0)
    model = Sequential(Linear(2, 32), Dropout(0.5), Linear(32, 3))
    before = model.state_dict()
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), cross_entropy, progress=False)
    first = trainer.evaluate(batches(x, y, 5))
    second = trainer.evaluate(batches(x, y, 5))
    assert first == second, "evaluation must be deterministic (Dropout off in eval mode)"
    assert model.training, "the model must be back in training mode"
    for name, p in model.named_parameters():
        assert p.grad is None, f"{name} got a gradient during evaluate"
        assert_close(p, before[name], rtol=0, atol=0, what=name)


def test_validation_metrics_are_recorded():
    """With val_data, every epoch also records val_loss and val_accuracy, from evaluate.

    Hint: With val_data, call self.evaluate(val_data) after each epoch's training and append its 'loss' and
    'accuracy' to history['val_loss'] and history['val_accuracy'] (create them with setdefault).
    """
    x, y = blobs()
    model, opt = make()
    trainer = Trainer(model, opt, cross_entropy, progress=False)
    history = trainer.fit(batches(x[:40], y[:40], 20), epochs=3, val_data=batches(x[40:], y[40:], 8))
    assert len(history["val_loss"]) == 3 and len(history["val_accuracy"]) == 3
    final = trainer.evaluate(batches(x[40:], y[40:], 8))
    assert np.isclose(history["val_loss"][-1], final["loss"]) and history["val_accuracy"][-1] == final["accuracy"]


def test_scheduler_steps_once_per_epoch():
    """With StepLR(step_size=1, gamma=0.5) the recorded lr halves every epoch: 0.05, 0.025, 0.0125.

    Hint: Record the lr at the start of the epoch, before training, and call self.scheduler.step() once at its
    end when self.schedule == 'epoch'.
    """
    x, y = blobs()
    model, opt = make()
    trainer = Trainer(model, opt, cross_entropy, scheduler=StepLR(opt, 1, 0.5), progress=False)
    assert trainer.fit(batches(x, y, 20), epochs=3)["lr"] == [0.05, 0.025, 0.0125]


def test_leftover_accumulation_is_applied_at_the_end_of_the_epoch():
    """3 batches with accumulation_steps=2: the third batch's gradient is still applied when the epoch ends.

    Hint: After the batch loop of each epoch, call self.apply_gradients(): it steps with the pending
    micro-batches and does nothing when none are pending.
    """
    x, y = blobs(6)
    model, _ = make()
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), cross_entropy, accumulation_steps=2, progress=False)
    trainer.fit(batches(x, y, 2), epochs=1)
    assert all(p.grad is None for p in model.parameters()), "gradients of the last incomplete accumulation were not applied"
    assert trainer.pending == 0


def test_progress_bar_shows_the_epoch(capsys):
    """With progress=True, a tqdm bar on stderr says which epoch is running ('epoch 2/2').

    Hint: Wrap the batches in tqdm(train_data, desc=f'epoch {epoch}/{epochs}', disable=not self.progress),
    with epoch counted from 1; tqdm writes to stderr.
    """
    x, y = blobs(20)
    model, opt = make()
    Trainer(model, opt, cross_entropy, progress=True).fit(batches(x, y, 5), epochs=2)
    assert "epoch 2/2" in capsys.readouterr().err
