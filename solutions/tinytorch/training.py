"""Kata 07 — Training utilities: the loop you have written by hand, made reusable and safe.

By now you have written ``zero_grad / forward / loss / backward / step`` several times. Real
training wraps that loop in a handful of well-known tools, each a few lines, each easy to get
subtly wrong:

* **learning-rate schedules** (:class:`StepLR`, :class:`CosineAnnealingLR`,
  :class:`LinearWarmup`) — set ``group["lr"]`` of every parameter group from a closed form of the
  step count, exact at their endpoints;
* :func:`clip_grad_norm` — rescale all gradients together when their global norm is too large;
* **gradient accumulation** — several small batches, one optimizer step, the same update as one
  big batch (:meth:`Trainer.train_step`);
* :class:`Trainer` — ``fit`` / ``evaluate`` with a progress bar and a history of every epoch;
* :class:`EarlyStopping` — stop when the validation loss has not improved for a while;
* :func:`save_checkpoint` / :func:`load_checkpoint` — model **and** optimizer state in one
  NumPy ``.npz`` file (no pickle), restored bit for bit.

Example
-------
>>> trainer = Trainer(model, optimizer, cross_entropy, scheduler=StepLR(optimizer, 5))  # doctest: +SKIP
>>> history = trainer.fit(train_loader, epochs=10, val_data=val_loader)                 # doctest: +SKIP
>>> history["val_accuracy"][-1]                                                         # doctest: +SKIP
0.97
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np

from tinytorch.autograd import no_grad
from tinytorch.tensor import Tensor

__all__ = [
    "LRScheduler", "StepLR", "CosineAnnealingLR", "LinearWarmup", "clip_grad_norm",
    "Trainer", "EarlyStopping", "save_checkpoint", "load_checkpoint",
]


# ---------------------------------------------------------------------------------------------
# Step 1: learning-rate schedules
# ---------------------------------------------------------------------------------------------


class LRScheduler:
    """Base class: sets ``group["lr"] = self.lr_at(t, base_lr)`` for every parameter group of the
    optimizer, where ``t`` counts :meth:`step` calls and ``base_lr`` is that group's lr when the
    scheduler was created (as PyTorch's schedulers do: each group follows the schedule from its
    own starting lr).

    On creation it remembers ``base_lrs`` (one per group) and sets the lrs for ``t = 0``; each
    :meth:`step` advances ``t`` by one and sets them again. A subclass only writes
    :meth:`lr_at`, a closed form of ``t`` and ``base_lr`` (no running products, which drift in
    floating point). Call ``step()`` once per epoch or once per batch: ``t`` counts whatever you
    call it for. :meth:`get_last_lr` gives the lrs it set last, one per group.
    """

    def __init__(self, optimizer):
        self.optimizer = optimizer
        self.base_lrs = [float(group["lr"]) for group in optimizer.param_groups]
        self.last_step = 0
        self._apply()

    def lr_at(self, t: int, base_lr: float) -> float:
        raise NotImplementedError(f"{type(self).__name__} must define lr_at(t, base_lr)")

    def _apply(self) -> None:
        """Scaffolding: set every group's lr for ``self.last_step``."""
        for group, base_lr in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = self.lr_at(self.last_step, base_lr)

    def step(self) -> None:
        """Advance one step and set every group's new learning rate."""
        self.last_step += 1
        self._apply()

    def get_last_lr(self) -> list:
        """The learning rate of every group, as set by the last step (PyTorch's name)."""
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        return {"base_lrs": list(self.base_lrs), "last_step": self.last_step}

    def load_state_dict(self, state: dict) -> None:
        self.base_lrs = [float(lr) for lr in state["base_lrs"]]
        self.last_step = int(state["last_step"])
        self._apply()


class StepLR(LRScheduler):
    """Multiply the lr by ``gamma`` every ``step_size`` steps: ``base_lr · gamma ** (t // step_size)``
    (for each group, ``base_lr`` its starting lr).

    >>> # base 0.1, step_size 2, gamma 0.5: t = 0, 1, 2, 3, 4 → 0.1, 0.1, 0.05, 0.05, 0.025
    """

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1):
        if step_size < 1:
            raise ValueError(f"StepLR: step_size must be >= 1, got {step_size}")
        self.step_size, self.gamma = int(step_size), float(gamma)
        super().__init__(optimizer)

    def lr_at(self, t: int, base_lr: float) -> float:
        ### BEGIN SOLUTION schedules
        return base_lr * self.gamma ** (t // self.step_size)
        ### END SOLUTION


class CosineAnnealingLR(LRScheduler):
    """Half a cosine from ``base_lr`` down to ``eta_min`` over ``t_max`` steps, then ``eta_min``:

    ``eta_min + (base_lr - eta_min) · (1 + cos(π · t / t_max)) / 2`` for ``0 <= t <= t_max``.

    Exact at the endpoints: ``lr_at(0, base_lr) == base_lr`` and ``lr_at(t, base_lr) == eta_min``
    for ``t >= t_max``, bit for bit. (The formula alone is not: ``eta_min + (base_lr - eta_min)`` can
    differ from ``base_lr`` in the last bit. Return the endpoint values themselves.)
    """

    def __init__(self, optimizer, t_max: int, eta_min: float = 0.0):
        if t_max < 1:
            raise ValueError(f"CosineAnnealingLR: t_max must be >= 1, got {t_max}")
        self.t_max, self.eta_min = int(t_max), float(eta_min)
        super().__init__(optimizer)

    def lr_at(self, t: int, base_lr: float) -> float:
        ### BEGIN SOLUTION schedules
        if t <= 0:
            return base_lr
        if t >= self.t_max:
            return self.eta_min
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * t / self.t_max)) / 2
        ### END SOLUTION


class LinearWarmup(LRScheduler):
    """Ramp the lr linearly from ``start_factor · base_lr`` to ``base_lr`` over ``warmup_steps``,
    then hold ``base_lr``:

    ``base_lr · (start_factor + (1 - start_factor) · t / warmup_steps)`` for ``t < warmup_steps``.

    Exact at the endpoints: ``lr_at(0, base_lr) == start_factor · base_lr`` and
    ``lr_at(t, base_lr) == base_lr`` for ``t >= warmup_steps``. Large learning rates at the start of training (Adam's moment
    estimates are still noisy; transformers) can diverge: a warm-up avoids that.
    """

    def __init__(self, optimizer, warmup_steps: int, start_factor: float = 0.0):
        if warmup_steps < 1 or not 0.0 <= start_factor <= 1.0:
            raise ValueError(f"LinearWarmup: need warmup_steps >= 1 and 0 <= start_factor <= 1, got {warmup_steps}, {start_factor}")
        self.warmup_steps, self.start_factor = int(warmup_steps), float(start_factor)
        super().__init__(optimizer)

    def lr_at(self, t: int, base_lr: float) -> float:
        ### BEGIN SOLUTION schedules
        if t >= self.warmup_steps:
            return base_lr
        return base_lr * (self.start_factor + (1 - self.start_factor) * max(t, 0) / self.warmup_steps)
        ### END SOLUTION


# ---------------------------------------------------------------------------------------------
# Step 2: gradient clipping
# ---------------------------------------------------------------------------------------------


def clip_grad_norm(parameters, max_norm: float) -> float:
    """Rescale the gradients of ``parameters`` together so that their global norm is at most ``max_norm``.

    The global norm is ``sqrt(Σ_p Σ p.grad²)`` over every parameter that has a gradient
    (computed in float64). When it exceeds ``max_norm`` (``norm > max_norm``), every gradient is
    multiplied by the same factor ``max_norm / (norm + 1e-6)`` (PyTorch's), so the direction of
    the whole gradient vector is kept and only its length shrinks; otherwise, a norm equal to
    ``max_norm`` included, nothing changes. Gradients keep their dtype. Parameters whose ``grad``
    is None are skipped.

    Returns the norm **before** clipping (a float): worth logging, it tells you how often you clip.

    >>> p = Parameter([0.0, 0.0]); p.grad = np.array([3.0, 4.0], dtype=np.float32)    # doctest: +SKIP
    >>> clip_grad_norm([p], 1.0), p.grad                                               # doctest: +SKIP
    (5.0, array([0.6, 0.8], dtype=float32))
    """
    ### BEGIN SOLUTION clipping
    params = [p for p in parameters if p.grad is not None]
    norm = math.sqrt(sum(float(np.sum(np.square(p.grad, dtype=np.float64))) for p in params))
    if norm > max_norm:
        scale = max_norm / (norm + 1e-6)
        for p in params:
            p.grad = (p.grad * scale).astype(p.grad.dtype, copy=False)
    return norm
    ### END SOLUTION


# ---------------------------------------------------------------------------------------------
# Steps 3 and 4: the Trainer (gradient accumulation, fit, evaluate)
# ---------------------------------------------------------------------------------------------


def _as_tensor(value):
    return value if isinstance(value, Tensor) else Tensor(value)


class Trainer:
    """Train a model with an optimizer and a loss, batch after batch, epoch after epoch.

    Parameters
    ----------
    model : Module
    optimizer : Optimizer
    loss_fn : callable
        ``loss_fn(output, target) -> scalar Tensor`` with ``reduction="mean"`` (e.g. cross_entropy).
    scheduler : LRScheduler, optional
        Stepped once per epoch (``schedule="epoch"``, the default) or once per optimizer step
        (``schedule="step"``, usual for warm-up).
    clip_norm : float, optional
        Clip the global gradient norm to this before each optimizer step.
    accumulation_steps : int, default 1
        Micro-batches whose gradients are summed before one optimizer step (see :meth:`train_step`).
    progress : bool, default True
        Show a tqdm progress bar per epoch (on stderr).

    Attributes
    ----------
    history : dict of lists, one entry per epoch: ``"train_loss"`` (mean over the epoch's samples),
        ``"lr"`` (the first parameter group's lr during the epoch), and with validation data
        ``"val_loss"`` and ``"val_accuracy"``.
    """

    def __init__(self, model, optimizer, loss_fn, *, scheduler=None, schedule="epoch", clip_norm=None,
                 accumulation_steps=1, progress=True):
        if accumulation_steps < 1:
            raise ValueError(f"accumulation_steps must be >= 1, got {accumulation_steps}")
        if schedule not in ("epoch", "step"):
            raise ValueError(f"schedule must be 'epoch' or 'step', got {schedule!r}")
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.scheduler, self.schedule, self.clip_norm = scheduler, schedule, clip_norm
        self.accumulation_steps, self.progress = int(accumulation_steps), progress
        self.pending = 0  # micro-batches whose gradients wait for an optimizer step
        self.history = {"train_loss": [], "lr": []}

    def apply_gradients(self) -> None:
        """One optimizer step with the gradients gathered so far (scaffolding).

        Clip them (``clip_norm``), ``optimizer.step()``, ``optimizer.zero_grad()``, step the
        scheduler when ``schedule == "step"``, and reset ``self.pending``. Does nothing when no
        micro-batch is pending.
        """
        if self.pending == 0:
            return
        if self.clip_norm is not None:
            clip_grad_norm(self.optimizer.params, self.clip_norm)
        self.optimizer.step()
        self.optimizer.zero_grad()
        if self.scheduler is not None and self.schedule == "step":
            self.scheduler.step()
        self.pending = 0

    def train_step(self, x, y) -> float:
        """Forward and backward one (micro-)batch; step the optimizer every ``accumulation_steps`` calls.

        The loss is a **mean** over the micro-batch. Back-propagate ``loss / accumulation_steps``
        so that, after ``k`` micro-batches of equal size, the summed gradients equal the
        gradient of the mean loss over all of them — exactly one big batch's gradient. Count
        the call in ``self.pending``; when it reaches ``accumulation_steps``, call
        :meth:`apply_gradients`. Returns the micro-batch's (unscaled) loss as a float.

        ``x`` and ``y`` may be Tensors or arrays.
        """
        ### BEGIN SOLUTION accumulation
        self.model.train()
        loss = self.loss_fn(self.model(_as_tensor(x)), _as_tensor(y))
        scaled = loss / self.accumulation_steps if self.accumulation_steps > 1 else loss
        scaled.backward()
        self.pending += 1
        if self.pending == self.accumulation_steps:
            self.apply_gradients()
        return float(loss.item())
        ### END SOLUTION

    def evaluate(self, data) -> dict:
        """Mean loss and accuracy of the model over ``data`` (an iterable of ``(x, y)`` batches).

        Runs under ``no_grad`` in eval mode (Dropout off) and puts the model back in training
        mode afterwards. Both means are over **samples** (a batch counts ``len(y)`` times, so a
        small last batch does not weigh as much as a full one). ``"accuracy"`` is the fraction of
        rows whose arg-max output equals the integer target; it is only given when the outputs
        are 2-D ``(N, classes)`` and the targets integers.

        >>> trainer.evaluate([(x, y)])                                   # doctest: +SKIP
        {'loss': 0.31, 'accuracy': 0.9}
        """
        ### BEGIN SOLUTION trainer
        self.model.eval()
        total, correct, count, classify = 0.0, 0, 0, True
        try:
            with no_grad():
                for x, y in data:
                    x, y = _as_tensor(x), _as_tensor(y)
                    out = self.model(x)
                    n = len(y)
                    total += float(self.loss_fn(out, y).item()) * n
                    count += n
                    if out.ndim == 2 and y.dtype.kind in "iu":
                        correct += int((out.data.argmax(axis=1) == y.data).sum())
                    else:
                        classify = False
        finally:
            self.model.train()
        result = {"loss": total / max(count, 1)}
        if classify:
            result["accuracy"] = correct / max(count, 1)
        return result
        ### END SOLUTION

    def fit(self, train_data, epochs: int = 1, val_data=None, early_stopping=None) -> dict:
        """Train for ``epochs`` epochs; return :attr:`history`.

        Each epoch: record the lr (``optimizer.param_groups[0]["lr"]``), call :meth:`train_step` on every batch of ``train_data`` (any
        re-iterable of ``(x, y)``: a DataLoader, a list) inside a tqdm bar described
        ``"epoch 3/10"`` (shown when ``progress``), apply the gradients of a last incomplete
        accumulation, append the mean training loss over samples, evaluate ``val_data`` when
        given (``"val_loss"``, ``"val_accuracy"``), and step the scheduler when
        ``schedule == "epoch"``.

        With ``early_stopping``, after each epoch call ``early_stopping.step(val_loss, model)``
        (the training loss without validation data) and stop when it says so; when it stops and
        ``restore_best`` is set, load the best weights back into the model.
        """
        ### BEGIN SOLUTION trainer
        try:
            from tqdm.auto import tqdm
        except ImportError:  # tinytorch needs only NumPy: no bar then
            def tqdm(iterable, **kwargs):
                return iterable

        for epoch in range(1, epochs + 1):
            self.history["lr"].append(self.optimizer.param_groups[0]["lr"])
            total, count = 0.0, 0
            bar = tqdm(train_data, desc=f"epoch {epoch}/{epochs}", disable=not self.progress, leave=False)
            for x, y in bar:
                loss = self.train_step(x, y)
                total += loss * len(y)
                count += len(y)
                if self.progress:
                    bar.set_postfix(loss=f"{loss:.4f}")
            self.apply_gradients()
            self.history["train_loss"].append(total / max(count, 1))
            monitored = self.history["train_loss"][-1]
            if val_data is not None:
                metrics = self.evaluate(val_data)
                self.history.setdefault("val_loss", []).append(metrics["loss"])
                if "accuracy" in metrics:
                    self.history.setdefault("val_accuracy", []).append(metrics["accuracy"])
                monitored = metrics["loss"]
            if self.scheduler is not None and self.schedule == "epoch":
                self.scheduler.step()
            if early_stopping is not None and early_stopping.step(monitored, self.model):
                if early_stopping.restore_best and early_stopping.best_state is not None:
                    self.model.load_state_dict(early_stopping.best_state)
                break
        return self.history
        ### END SOLUTION


# ---------------------------------------------------------------------------------------------
# Step 5: early stopping
# ---------------------------------------------------------------------------------------------


class EarlyStopping:
    """Stop training when a monitored value (the validation loss) stops improving.

    Parameters
    ----------
    patience : int
        Stop after this many epochs in a row without improvement (Keras's and Lightning's meaning:
        ``patience=2`` trains the best epoch plus two more, then stops).
    min_delta : float
        An improvement must beat the best value by more than this.
    mode : "min" or "max"
        Lower is better (a loss) or higher is better (an accuracy).
    restore_best : bool
        Keep a copy of the best weights (``model.state_dict()``) so the trainer can restore them.

    Attributes
    ----------
    best : float or None — the best value so far; ``best_epoch`` (1-based);
    bad_epochs : int — epochs since the last improvement; ``best_state`` : dict or None.

    >>> stop = EarlyStopping(patience=2)
    >>> [stop.step(v) for v in (1.0, 0.5, 0.6, 0.7)]
    [False, False, False, True]
    """

    def __init__(self, patience: int = 3, min_delta: float = 0.0, mode: str = "min", restore_best: bool = True):
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if patience < 0 or min_delta < 0:
            raise ValueError("patience and min_delta must be >= 0")
        self.patience, self.min_delta, self.mode, self.restore_best = int(patience), float(min_delta), mode, restore_best
        self.best, self.best_epoch, self.best_state = None, 0, None
        self.bad_epochs, self.epochs = 0, 0

    def step(self, value: float, model=None) -> bool:
        """Record one epoch's ``value``; return True when training should stop.

        The first value is always an improvement. An improvement (``value < best - min_delta``
        in ``"min"`` mode, ``value > best + min_delta`` in ``"max"`` mode) updates ``best`` and
        ``best_epoch``, resets ``bad_epochs`` and, with ``model`` and ``restore_best``, stores
        ``model.state_dict()`` in ``best_state``. Otherwise ``bad_epochs`` grows by one; stop when
        it reaches ``patience``.
        """
        ### BEGIN SOLUTION early_stopping
        value = float(value)
        self.epochs += 1
        if self.best is None:
            improved = True
        elif self.mode == "min":
            improved = value < self.best - self.min_delta
        else:
            improved = value > self.best + self.min_delta
        if improved:
            self.best, self.best_epoch, self.bad_epochs = value, self.epochs, 0
            if model is not None and self.restore_best:
                self.best_state = model.state_dict()
            return False
        self.bad_epochs += 1
        return self.bad_epochs >= self.patience
        ### END SOLUTION


# ---------------------------------------------------------------------------------------------
# Step 6: checkpoints
# ---------------------------------------------------------------------------------------------

FORMAT = 1


def _json_default(value):
    """Scaffolding: NumPy scalars (``np.float32(0.1)``) are stored as the Python numbers they hold."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in a checkpoint: use numbers, strings, lists, dicts")


def save_checkpoint(path, model, optimizer=None, scheduler=None, **metadata) -> Path:
    """Save the model's weights, the optimizer's state (and a scheduler's) in one ``.npz`` file.

    No pickle anywhere, so loading a checkpoint can never run code: every array is stored as an
    array (``np.savez``), everything else (the parameter groups' hyperparameters, step counters,
    the scheduler, ``metadata`` such as ``epoch=3``) as one JSON text stored in the array
    ``"__json__"``. JSON keeps Python floats exactly (their repr round-trips), so the round trip
    is bit for bit.

    Keys: ``"model/<name>"`` for each weight, ``"optimizer/<index>/<name>"`` for each state
    array; the JSON holds ``{"format", "optimizer": {"type", "param_groups", "tuples",
    "scalars"}, "scheduler", "metadata"}`` where ``param_groups`` is the optimizer state_dict's
    list of groups (hyperparameters and parameter positions), ``tuples`` lists, per group, the
    names of the values that were tuples (Adam's ``betas``: JSON has no tuples, they come back as
    tuples) and ``scalars`` are the non-array state entries (Adam's ``"step"``).

    The file is written to a temporary name beside ``path`` and renamed into place, so an
    interrupted save never leaves a half-written checkpoint. Returns the path.
    """
    ### BEGIN SOLUTION checkpoint
    path = Path(path)
    arrays = {f"model/{name}": value for name, value in model.state_dict().items()}
    meta = {"format": FORMAT, "metadata": metadata, "scheduler": scheduler.state_dict() if scheduler else None}
    if optimizer is not None:
        state = optimizer.state_dict()
        scalars = {}
        for index, entry in state["state"].items():
            for name, value in entry.items():
                if isinstance(value, np.ndarray):
                    arrays[f"optimizer/{index}/{name}"] = value
                else:
                    scalars.setdefault(str(index), {})[name] = value
        groups = [{k: list(v) if isinstance(v, tuple) else v for k, v in g.items()} for g in state["param_groups"]]
        tuples = [[k for k, v in g.items() if isinstance(v, tuple)] for g in state["param_groups"]]
        meta["optimizer"] = {"type": type(optimizer).__name__, "param_groups": groups, "tuples": tuples,
                             "scalars": scalars}
    arrays["__json__"] = np.array(json.dumps(meta, default=_json_default))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return path
    ### END SOLUTION


def load_checkpoint(path, model, optimizer=None, scheduler=None) -> dict:
    """Restore what :func:`save_checkpoint` saved into ``model`` (and ``optimizer``, ``scheduler``).

    Reads the file with ``np.load(path, allow_pickle=False)``. The model gets its weights through
    ``load_state_dict`` (its checks apply); the optimizer must be of the same type as the saved
    one (ValueError otherwise) and gets its state and its groups' hyperparameters back, so training
    continues exactly as if it had never stopped. Returns the saved ``metadata`` dict.
    """
    ### BEGIN SOLUTION checkpoint
    with np.load(path, allow_pickle=False) as f:
        arrays = {key: f[key] for key in f.files}
    meta = json.loads(str(arrays.pop("__json__")))
    model.load_state_dict({k[len("model/"):]: v for k, v in arrays.items() if k.startswith("model/")})
    if optimizer is not None:
        saved = meta.get("optimizer")
        if saved is None or saved["type"] != type(optimizer).__name__:
            found = saved["type"] if saved else "no optimizer"
            raise ValueError(f"load_checkpoint: the checkpoint holds {found}, not {type(optimizer).__name__}")
        state = {}
        for index, entry in saved["scalars"].items():
            state.setdefault(int(index), {}).update(entry)
        for key, value in arrays.items():
            if key.startswith("optimizer/"):
                _, index, name = key.split("/", 2)
                state.setdefault(int(index), {})[name] = value
        groups = [{k: tuple(v) if k in tuples else v for k, v in g.items()}
                  for g, tuples in zip(saved["param_groups"], saved["tuples"])]
        optimizer.load_state_dict({"state": state, "param_groups": groups})
    if scheduler is not None and meta.get("scheduler") is not None:
        scheduler.load_state_dict(meta["scheduler"])
    return meta["metadata"]
    ### END SOLUTION
