"""Step 5: early_stopping — stop when the monitored value stops improving; keep the best weights."""

import numpy as np

from dojo.testing import assert_close
from tinytorch import rng
from tinytorch.layers import Linear
from tinytorch.losses import cross_entropy
from tinytorch.optim import SGD
from tinytorch.training import EarlyStopping, Trainer


def run(stopper, values):
    """What step() answers for each value, until it says stop."""
    answers = []
    for v in values:
        answers.append(stopper.step(v))
        if answers[-1]:
            break
    return answers


def test_stops_after_patience_epochs_without_improvement():
    """patience=2: after the best (0.5), the second epoch in a row without improvement stops training.

    Hint: Count epochs in step() (best_epoch is 1-based), reset bad_epochs on an improvement, otherwise add
    one and return bad_epochs >= patience.
    """
    stopper = EarlyStopping(patience=2)
    assert run(stopper, [1.0, 0.5, 0.6, 0.7, 0.8, 0.1]) == [False, False, False, True]
    assert stopper.best == 0.5 and stopper.best_epoch == 2


def test_an_improvement_resets_the_count():
    """A new best in between resets bad_epochs, so training goes on.

    Hint: On an improvement set bad_epochs back to 0 and update best: the count is of epochs in a row without
    improvement, not of all bad epochs.
    """
    stopper = EarlyStopping(patience=2)
    assert run(stopper, [1.0, 1.1, 0.9, 1.0, 0.8, 0.85, 0.86]) == [False] * 6 + [True]
    assert stopper.best == 0.8


def test_min_delta_ignores_tiny_improvements():
    """With min_delta=0.1, going from 1.0 to 0.95 does not count as an improvement.

    Hint: In 'min' mode an improvement is value < best - min_delta; a value that is lower but not by more than
    min_delta leaves best alone and counts as a bad epoch.
    """
    stopper = EarlyStopping(patience=2, min_delta=0.1)
    assert run(stopper, [1.0, 0.95, 0.92]) == [False, False, True]
    assert stopper.best == 1.0


def test_a_tie_is_not_an_improvement():
    """Improving means beating the best by MORE than min_delta: the best value again (min_delta 0),
    or a gain of exactly min_delta (1.0 then 0.75 with min_delta 0.25), does not reset the count;
    likewise in mode='max'.

    Hint: Use strict comparisons: value < best - min_delta in 'min' mode and value > best + min_delta in 'max'
    mode; <= or >= treats a tie (or a gain of exactly min_delta) as progress.
    """
    assert run(EarlyStopping(patience=1), [1.0, 1.0]) == [False, True]
    assert run(EarlyStopping(patience=1, min_delta=0.25), [1.0, 0.75]) == [False, True]
    assert run(EarlyStopping(patience=1, mode="max"), [0.5, 0.5]) == [False, True]
    assert run(EarlyStopping(patience=1, min_delta=0.25, mode="max"), [0.5, 0.75]) == [False, True]


def test_max_mode_for_accuracies():
    """mode='max' treats higher values as better.

    Hint: With mode='max' flip the comparison (value > best + min_delta); the first value is always the best
    whatever the mode.
    """
    stopper = EarlyStopping(patience=2, mode="max")
    assert run(stopper, [0.5, 0.8, 0.7, 0.79]) == [False, False, False, True]
    assert stopper.best == 0.8


def test_best_weights_are_kept_as_a_copy():
    """step(value, model) stores model.state_dict() when the value improves; later training does not change
    that copy.

    Hint: On an improvement with a model (and restore_best), store model.state_dict(), which copies; keeping
    the Parameters or their .data arrays follows later training.
    """
    rng.manual_seed(0)
    model = Linear(2, 2)
    stopper = EarlyStopping(patience=3)
    stopper.step(1.0, model)
    saved = model.weight.data.copy()
    model.weight.data += 1.0
    stopper.step(2.0, model)
    assert_close(stopper.best_state["weight"], saved, rtol=0, atol=0, what="best_state['weight']")


def test_trainer_stops_early_and_restores_the_best_weights():
    """fit(epochs=50, early_stopping=...) on a model that only gets worse (gradient ascent) stops after
    1 + patience epochs and puts the first epoch's weights back.

    Hint: Trainer.fit calls early_stopping.step(val_loss, model) each epoch and loads best_state when it
    returns True: check that step() stores the state on improvement and returns True after exactly patience
    bad epochs.
    """
    r = np.random.default_rng(0)
    x, y = r.normal(size=(20, 2)).astype(np.float32), r.integers(0, 2, 20)
    rng.manual_seed(0)
    model = Linear(2, 2)
    opt = SGD(model.parameters(), lr=0.5)
    opt.param_groups[0]["lr"] = -0.5  # gradient ascent: the loss grows every epoch
    stopper = EarlyStopping(patience=2)
    trainer = Trainer(model, opt, cross_entropy, progress=False)
    history = trainer.fit([(x, y)], epochs=50, val_data=[(x, y)], early_stopping=stopper)
    assert len(history["val_loss"]) == 3, f"ran {len(history['val_loss'])} epochs, expected 1 + patience = 3"
    assert stopper.best_epoch == 1
    assert np.isclose(trainer.evaluate([(x, y)])["loss"], history["val_loss"][0]), "the best weights were not restored"
