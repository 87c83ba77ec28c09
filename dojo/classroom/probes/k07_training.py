"""Probes for kata 07 (Training utilities): schedules, clipping, gradient accumulation, the
Trainer, early stopping and checkpoints."""

import numpy as np

from dojo.classroom.probes import probe


def _setup(rng, **trainer_options):
    from tinytorch.layers import Linear
    from tinytorch.losses import mse_loss
    from tinytorch.optim import SGD
    from tinytorch.training import Trainer

    model = Linear(3, 2)
    model.weight.data[...] = rng.normal(size=(2, 3))
    model.bias.data[...] = rng.normal(size=(2,))
    optimizer = SGD(model.parameters(), lr=0.1)
    return model, optimizer, Trainer(model, optimizer, mse_loss, progress=False, **trainer_options)


def _batches(rng, n=4, size=4):
    return [(rng.normal(size=(size, 3)).astype(np.float32), rng.normal(size=(size, 2)).astype(np.float32)) for _ in range(n)]


@probe("schedules")
def schedules(rng):
    from tinytorch.layers import Parameter
    from tinytorch.optim import SGD
    from tinytorch.training import CosineAnnealingLR, LinearWarmup, StepLR

    def lrs(make, steps=12):
        first, second = float(rng.uniform(0.05, 1.0)), float(rng.uniform(0.05, 1.0))
        optimizer = SGD([{"params": [Parameter(np.zeros(2))]}, {"params": [Parameter(np.zeros(2))], "lr": second}], lr=first)
        scheduler = make(optimizer)
        out = [[g["lr"] for g in optimizer.param_groups]]
        for _ in range(steps):
            scheduler.step()
            out.append([g["lr"] for g in optimizer.param_groups])
        return out

    return {"step": lrs(lambda o: StepLR(o, step_size=3, gamma=0.5)),
            "cosine": lrs(lambda o: CosineAnnealingLR(o, t_max=8, eta_min=0.01)),
            "warmup": lrs(lambda o: LinearWarmup(o, warmup_steps=5, start_factor=0.1))}


@probe("clipping")
def clipping(rng):
    from tinytorch.layers import Parameter
    from tinytorch.training import clip_grad_norm

    params = [Parameter(np.zeros((2, 3), dtype=np.float32)), Parameter(np.zeros(4, dtype=np.float32)), Parameter(np.zeros(1))]
    for p in params[:2]:
        p.grad = rng.normal(scale=3.0, size=p.shape).astype(np.float32)
    big = clip_grad_norm(params, max_norm=1.0)
    clipped = [p.grad.copy() for p in params[:2]]
    small = clip_grad_norm(params, max_norm=100.0)
    return {"norm": big, "clipped": clipped, "norm_after": small, "untouched": params[0].grad}


@probe("accumulation")
def accumulation_equals_one_big_batch(rng):
    model, _, trainer = _setup(rng, accumulation_steps=2)
    (x1, y1), (x2, y2) = _batches(rng, n=2)
    losses = [trainer.train_step(x1, y1), trainer.train_step(x2, y2)]
    return {"losses": losses, "weight": model.weight, "bias": model.bias, "pending": trainer.pending}


@probe("trainer")
def trainer_fit_and_evaluate(rng):
    from tinytorch.layers import Linear
    from tinytorch.losses import cross_entropy
    from tinytorch.optim import SGD
    from tinytorch.training import Trainer

    model, _, trainer = _setup(rng)
    history = trainer.fit(_batches(rng, n=3), epochs=2, val_data=_batches(rng, n=2, size=3))
    classifier = Linear(3, 4)
    classifier.weight.data[...] = rng.normal(size=(4, 3))
    classifier.bias.data[...] = 0.0
    scorer = Trainer(classifier, SGD(classifier.parameters(), lr=0.1), cross_entropy, progress=False)
    data = [(rng.normal(size=(5, 3)).astype(np.float32), rng.integers(0, 4, size=5)) for _ in range(2)]
    data.append((rng.normal(size=(2, 3)).astype(np.float32), rng.integers(0, 4, size=2)))  # a small last batch
    return {"train_loss": history["train_loss"], "val_loss": history["val_loss"], "lr": history["lr"],
            "weight": model.weight, "evaluate": scorer.evaluate(data), "back_in_training": classifier.training}


@probe("early_stopping")
def early_stopping(rng):
    from tinytorch.training import EarlyStopping

    values = list(np.round(rng.uniform(0.5, 1.5, size=8), 3))
    stopper = EarlyStopping(patience=2, min_delta=0.01)
    decisions = [stopper.step(v) for v in values]
    maximise = EarlyStopping(patience=3, mode="max")
    more = [maximise.step(v) for v in values]
    return {"min": decisions, "best": stopper.best, "best_epoch": stopper.best_epoch, "max": more, "max_best": maximise.best}


@probe("checkpoint")
def checkpoint_roundtrip(rng):
    import tempfile
    from pathlib import Path

    from tinytorch.optim import Adam
    from tinytorch.training import load_checkpoint, save_checkpoint

    model, _, trainer = _setup(rng)
    optimizer = Adam(model.parameters(), lr=0.01)
    trainer.optimizer = optimizer
    for x, y in _batches(rng, n=2):
        trainer.train_step(x, y)
    folder = Path(tempfile.mkdtemp())
    save_checkpoint(folder / "ckpt.npz", model, optimizer, epoch=3, note="probe")
    other, _, _ = _setup(rng)
    resumed = Adam(other.parameters(), lr=0.5)
    meta = load_checkpoint(folder / "ckpt.npz", other, resumed)
    return {"meta_epoch": meta["epoch"], "meta_note": meta["note"], "weight": other.weight, "lr": resumed.param_groups[0]["lr"],
            "state": resumed.state_dict()["state"][0]["exp_avg"]}
