"""``make bench`` rows for kata 18: what pruning costs in accuracy, buys in speed and saves in bytes.

Everything is measured in one run, against a baseline measured in that same run:

1. **Accuracy** — the milestone-03 MLP (64-128-64-10, ReLU, Adam 1e-3, batch 64, 30 epochs on the
   bundled UCI 8×8 digits, with the milestone's 80/20 seeded split and standardisation) is
   trained here, once per seed. A copy is pruned to 90% sparsity by global magnitude
   (:func:`magnitude_prune`) gradually — 10 rounds on Zhu & Gupta's cubic schedule, 4 epochs
   of fine-tuning after each, the masks kept throughout — and another copy at once, without
   fine-tuning, for contrast. The sparsity is counted from the weights at the end. The test
   set has 359 digits (one digit is 0.28 percentage points), so each seed is shown and the goal
   (at most 1 pp lost) is judged on their mean.
2. **Speed** — 50% of the hidden units removed (:func:`prune_hidden_units`: 64-64-32-10, 2.6×
   fewer multiply-adds), then 10 epochs of fine-tuning (its accuracy is in table 1). Inference
   (``no_grad``) at batch 64, 256 and 1024, every model timed in turns call by call on the same
   input; the speedup is the ratio of median times (goal ≥ 1.5× at batch 1024). Beside them,
   the 90%-pruned model, masked and after ``remove_pruning``: unstructured zeros in dense arrays
   buy no time, and the mask costs some.
3. **Storage** — the trained first layer pruned to 50% and to 90%, and all the weights of the
   90%-pruned model: dense bytes against CSR bytes (float32 values and int32 column indices,
   8 bytes per non-zero, plus row pointers). At 50% CSR saves nothing.

One BLAS thread by default, and on Linux large freed blocks stay in the process (see
``MALLOC_ENV``): the command re-runs itself with those settings, as ``dojo.bench`` does.

Part of ``make bench`` (``make bench ONLY=compress``), or on its own:
``python -m dojo.bench.compress [--impl solutions] [--repeats 200] [--seeds 3]``. The functions
:func:`train_baseline`, :func:`pruning_accuracy`, :func:`structured_accuracy`,
:func:`structured_speed` and :func:`storage_rows` return the numbers; :func:`run` returns them all.
"""

from __future__ import annotations

import argparse
import copy
import os
import subprocess
import sys
import time

from dojo import ROOT  # NumPy is imported inside the functions: BLAS reads its thread count when NumPy loads

HIDDEN = (128, 64)
EPOCHS = 30
BATCH = 64
LR = 1e-3
FINETUNE_EPOCHS = 10  # after structured pruning
SPARSITY = 0.9
ROUNDS, EPOCHS_PER_ROUND = 10, 4  # gradual magnitude pruning to SPARSITY: 40 fine-tuning epochs in all
# glibc gives freed blocks above 128 KiB back to the OS, so a forward at batch 1024 (512 KiB
# activations) page-faults fresh memory on every call, by an amount that depends on what the
# previous call allocated: the dense model's time moved by ±40% with the model timed before it,
# and a masked model (which does strictly more work) came out faster than the dense one. Keeping
# those blocks in the process makes the timings measure the arithmetic. (Linux only.)
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(64 << 20), "MALLOC_TRIM_THRESHOLD_": str(128 << 20)}
SEEDS = (0, 1, 2)  # 359 test digits: one digit is 0.28 pp, so accuracy is reported per seed and averaged
STRUCTURED = 0.5
TIMING_BATCHES = (64, 256, 1024)  # rows per timed forward; the goal is judged at the largest (throughput)


def _tinytorch():
    import importlib

    return {name: importlib.import_module(f"tinytorch.{name}")
            for name in ("tensor", "layers", "activations", "optim", "autograd", "rng", "compression")}


def load_digits(log=print):
    """The milestone-03 offline data: bundled 8×8 digits, 80/20 split (seed 0), standardised with
    the training set's mean and std. Returns ``(x_train, y_train, x_test, y_test)``, float32 (N, 64)."""
    import numpy as np

    from milestones.common import load_digits_data

    _, _, (xtr, ytr), (xte, yte), scale = load_digits_data(True, log, {"digits": 0.95})
    xtr = xtr.reshape(len(xtr), -1).astype(np.float32) / np.float32(scale)
    xte = xte.reshape(len(xte), -1).astype(np.float32) / np.float32(scale)
    mean, std = xtr.mean(), xtr.std()
    return (xtr - mean) / std, ytr, (xte - mean) / std, yte


def _train(model, data, epochs, seed):
    from milestones.common import train_classifier

    tt = _tinytorch()
    xtr, ytr, _, _ = data
    optimizer = tt["optim"].Adam(model.parameters(), lr=LR)
    return train_classifier(model, optimizer, xtr, ytr, epochs=epochs, batch_size=BATCH, seed=seed, quick=True)


def _test_accuracy(model, data) -> float:
    from milestones.common import accuracy

    return accuracy(model, data[2], data[3])


def train_baseline(data, seed=0):
    """The milestone-03 MLP trained from ``tinytorch.rng.manual_seed(seed)``: ``(model, test accuracy)``."""
    tt = _tinytorch()
    L, A = tt["layers"], tt["activations"]
    tt["rng"].manual_seed(seed)
    d = data[0].shape[1]
    model = L.Sequential(L.Linear(d, HIDDEN[0]), A.ReLU(), L.Linear(HIDDEN[0], HIDDEN[1]), A.ReLU(),
                         L.Linear(HIDDEN[1], 10))
    _train(model, data, EPOCHS, seed)
    return model, _test_accuracy(model, data)


def counted_sparsity(model) -> float:
    """Zeros over all entries of the weight matrices the model's Linear / Pruned layers compute
    with, counted here with NumPy (not with the implementation being measured)."""
    import numpy as np

    C = _tinytorch()["compression"]
    weights = [np.asarray(layer.weight.data) for _, _, layer in C.prunable_layers(model)]
    return sum(int((w == 0).sum()) for w in weights) / sum(w.size for w in weights)


def sparsity_schedule(final=SPARSITY, rounds=ROUNDS) -> list:
    """Gradual pruning (Zhu & Gupta, 2017): after round ``i`` of ``rounds`` the sparsity is
    ``final · (1 − (1 − i/rounds)³)`` — big steps while many weights are redundant, small ones at the end."""
    return [final * (1 - (1 - i / rounds) ** 3) for i in range(1, rounds + 1)]


def pruning_accuracy(model, data, amount=SPARSITY, rounds=ROUNDS, epochs_per_round=EPOCHS_PER_ROUND, seed=0) -> dict:
    """Prune a copy of ``model`` by global magnitude to ``amount``, gradually, fine-tuning with the masks kept.

    ``rounds`` times: :func:`magnitude_prune` to the next sparsity of :func:`sparsity_schedule`
    (a re-prune never revives a weight), then ``epochs_per_round`` epochs of Adam. Returns
    ``{"dense", "one_shot", "finetuned"}`` test accuracies (``one_shot``: a second copy pruned to
    ``amount`` at once, not fine-tuned), ``"sparsity"`` (counted from the weights at the end),
    ``"drop_pp"`` (dense − fine-tuned, percentage points) and ``"model"`` (the fine-tuned copy,
    still masked).
    """
    C = _tinytorch()["compression"]
    dense = _test_accuracy(model, data)
    one_shot = copy.deepcopy(model)
    C.magnitude_prune(one_shot, amount, scope="global")
    pruned = copy.deepcopy(model)
    for i, target in enumerate(sparsity_schedule(amount, rounds)):
        C.magnitude_prune(pruned, target, scope="global")
        _train(pruned, data, epochs_per_round, seed + 1 + i)
    finetuned = _test_accuracy(pruned, data)
    return {"dense": dense, "one_shot": _test_accuracy(one_shot, data), "finetuned": finetuned,
            "sparsity": counted_sparsity(pruned), "drop_pp": 100 * (dense - finetuned), "model": pruned}


def structured_accuracy(model, data, amount=STRUCTURED, finetune_epochs=FINETUNE_EPOCHS, seed=0) -> dict:
    """Remove ``amount`` of ``model``'s hidden units (:func:`prune_hidden_units`) and fine-tune.

    Returns ``{"dense", "pruned", "finetuned"}`` test accuracies (``pruned``: right after the
    removal), ``"drop_pp"`` and ``"model"`` (the smaller, fine-tuned model).
    """
    C = _tinytorch()["compression"]
    small = C.prune_hidden_units(model, amount)
    right_after = _test_accuracy(small, data)
    _train(small, data, finetune_epochs, seed + 100)
    dense, finetuned = _test_accuracy(model, data), _test_accuracy(small, data)
    return {"dense": dense, "pruned": right_after, "finetuned": finetuned, "drop_pp": 100 * (dense - finetuned),
            "model": small}


def _time_interleaved(fns: dict, x, repeats: int, warmup: int = 5) -> dict:
    """Median seconds per call of every ``fn(x)``, the functions taking turns call by call
    (rotating who goes first), so a noisy neighbour slows them all alike."""
    import numpy as np

    names = list(fns)
    for _ in range(warmup):
        for name in names:
            fns[name](x)
    times = {name: [] for name in names}
    for r in range(repeats):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            start = time.perf_counter()
            fns[name](x)
            times[name].append(time.perf_counter() - start)
    return {name: float(np.median(t)) for name, t in times.items()}


def structured_speed(model, small, rows, masked=None, repeats=200, batches=TIMING_BATCHES) -> dict:
    """Time inference (``no_grad``) of ``model`` against ``small`` (its structurally pruned copy).

    For each batch size the models take turns call by call on the same input: that many rows
    of ``rows`` (real digits; repeated when there are fewer). ``masked``: a model with
    :class:`Pruned` layers, timed masked and after ``remove_pruning`` (on a copy) too —
    unstructured zeros in dense arrays. Returns the shapes, parameter counts and multiply-adds
    per row, ``"ms"`` = ``{batch: {model: median milliseconds per forward}}`` and
    ``"speedup"`` = ``{batch: dense median / structured median}``.
    """
    import numpy as np

    tt = _tinytorch()
    C, Tensor, no_grad, Linear = tt["compression"], tt["tensor"].Tensor, tt["autograd"].no_grad, tt["layers"].Linear
    dense_shapes = [m.weight.shape for m in model if isinstance(m, Linear)]
    pruned_shapes = [m.weight.shape for m in small if isinstance(m, Linear)]
    out = {
        "dense_shapes": dense_shapes, "pruned_shapes": pruned_shapes,
        "dense_params": sum(p.size for p in model.parameters()),
        "pruned_params": sum(p.size for p in small.parameters()),
        "dense_macs": sum(o * i for o, i in dense_shapes), "pruned_macs": sum(o * i for o, i in pruned_shapes),
        "structured": f"{1 - pruned_shapes[0][0] / dense_shapes[0][0]:.0%} hidden units removed",
        "ms": {}, "speedup": {}, "repeats": repeats,
    }
    models = {"dense": model, out["structured"]: small}
    if masked is not None:
        level = f"{counted_sparsity(masked):.0%}"
        models[f"{level} zeros, masked (Pruned)"] = masked
        models[f"{level} zeros, masks removed"] = C.remove_pruning(copy.deepcopy(masked))
    for m in models.values():
        m.eval()

    def forward(m):
        def call(inputs):
            with no_grad():
                return m(inputs)
        return call

    for batch in batches:
        x = Tensor(np.resize(np.asarray(rows, dtype=np.float32), (batch, rows.shape[1])))
        if masked is not None:  # same work: removing the masks must not change what the model computes
            with no_grad():
                a, b = (models[name](x).data for name in list(models)[2:])
            np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5)
        medians = _time_interleaved({name: forward(m) for name, m in models.items()}, x, repeats)
        out["ms"][batch] = {name: 1e3 * t for name, t in medians.items()}
        out["speedup"][batch] = medians["dense"] / medians[out["structured"]]
    return out


def storage_rows(model, masked=None) -> list:
    """Dense and CSR bytes: ``model``'s first Linear weight pruned (per layer) to 50% and to 90%, and
    every layer of ``masked`` (a globally pruned model) together. A list of dicts
    ``{"what", "sparsity", "dense_bytes", "csr_bytes", "ratio", "csr_saves"}``."""
    tt = _tinytorch()
    C, Linear = tt["compression"], tt["layers"].Linear
    first = next(m for m in model if isinstance(m, Linear))
    rows = []
    for amount in (0.5, 0.9):
        w = first.weight.data * C.magnitude_mask(first.weight.data, amount)
        s = C.storage(w)
        expected = int((w != 0).sum()) * (w.itemsize + 4) + (w.shape[0] + 1) * 4  # float32 values, int32 indices
        if (s.dense_bytes, s.csr_bytes) != (w.nbytes, expected):
            raise AssertionError(f"storage() counts {s.dense_bytes} / {s.csr_bytes} B, expected {w.nbytes} / {expected}")
        rows.append({"what": f"first layer {first.out_features}×{first.in_features}, {amount:.0%} pruned",
                     "sparsity": float((w == 0).mean()), "dense_bytes": s.dense_bytes, "csr_bytes": s.csr_bytes,
                     "ratio": s.ratio, "csr_saves": s.csr_saves})
    if masked is not None:
        parts = [C.storage(layer) for _, _, layer in C.prunable_layers(masked)]
        dense, csr = sum(p.dense_bytes for p in parts), sum(p.csr_bytes for p in parts)
        rows.append({"what": "all weights of the 90%-pruned model", "sparsity": counted_sparsity(masked),
                     "dense_bytes": dense, "csr_bytes": csr, "ratio": dense / csr, "csr_saves": csr < dense})
    return rows


def run(seeds=SEEDS, repeats=200, log=print) -> dict:
    """Everything, in one run: ``{"seeds": [per-seed dicts], "mean_drop_pp", "mean_structured_drop_pp",
    "speed", "storage", "seconds"}``. Each seed trains its own baseline, prunes it gradually to 90%
    (global) and removes 50% of its hidden units; the first seed's models are timed and stored."""
    import numpy as np

    start = time.perf_counter()
    data = load_digits(log=lambda *_: None)
    per_seed, first = [], None
    for seed in seeds:
        model, _ = train_baseline(data, seed)
        pruning = pruning_accuracy(model, data, seed=seed)
        structured = structured_accuracy(model, data, seed=seed)
        per_seed.append({"seed": seed, "pruning": pruning, "structured": structured})
        if first is None:
            first = (model, structured["model"], pruning["model"])
        log(f"  seed {seed}: dense {pruning['dense']:.2%}, 90% pruned and fine-tuned {pruning['finetuned']:.2%}, "
            f"50% units removed and fine-tuned {structured['finetuned']:.2%}")
    model, small, masked = first
    speed = structured_speed(model, small, np.concatenate([data[0], data[2]]), masked=masked, repeats=repeats)
    return {
        "seeds": per_seed,
        "mean_drop_pp": float(np.mean([r["pruning"]["drop_pp"] for r in per_seed])),
        "mean_structured_drop_pp": float(np.mean([r["structured"]["drop_pp"] for r in per_seed])),
        "speed": speed,
        "storage": storage_rows(model, masked),
        "seconds": time.perf_counter() - start,
    }


def _pp(value: float) -> str:
    return f"{value:.2f} pp lost" if value >= 0 else f"{-value:.2f} pp gained"


def report(result: dict, log=print) -> bool:
    """Print the three tables; return True when both goals are met (accuracy: the mean over seeds)."""
    from tabulate import tabulate

    speed = result["speed"]
    pruning_ok = result["mean_drop_pp"] <= 1.0
    speed_ok = speed["speedup"][max(speed["speedup"])] >= 1.5
    log(f"MLP 64-{HIDDEN[0]}-{HIDDEN[1]}-10 on the bundled 8×8 digits (1,438 train / 359 test; one digit = 0.28 pp), "
        f"trained {EPOCHS} epochs per seed. 90%: global magnitude, gradually in {ROUNDS} rounds × "
        f"{EPOCHS_PER_ROUND} epochs, masks kept. 50%: hidden units removed, {FINETUNE_EPOCHS} epochs")
    rows = []
    for r in result["seeds"]:
        p, s = r["pruning"], r["structured"]
        rows.append([r["seed"], f"{p['dense']:.2%}", f"{p['one_shot']:.2%}", f"{p['finetuned']:.2%}",
                     f"{p['sparsity']:.1%}", _pp(p["drop_pp"]), f"{s['pruned']:.2%}", f"{s['finetuned']:.2%}",
                     _pp(s["drop_pp"])])
    rows.append(["mean", "", "", "", "", _pp(result["mean_drop_pp"]) + (" ✅ ≤ 1" if pruning_ok else " ❌ > 1"),
                 "", "", _pp(result["mean_structured_drop_pp"])])
    log(tabulate(rows, headers=["seed", "dense", "90% at once", "90% gradual", "sparsity (counted)", "vs dense",
                                "50% units, at once", "fine-tuned", "vs dense"], disable_numparse=True))
    log("")
    batches = list(speed["ms"])
    log(f"Inference (no_grad), median ms of {speed['repeats']} interleaved calls per batch size: dense "
        f"{speed['dense_shapes']} → {speed['pruned_shapes']}, {speed['dense_params']:,} → {speed['pruned_params']:,} "
        f"parameters, {speed['dense_macs'] / speed['pruned_macs']:.2f}× fewer multiply-adds")
    rows = []
    for name in speed["ms"][batches[0]]:
        row = [name]
        for batch in batches:
            ms, base = speed["ms"][batch][name], speed["ms"][batch]["dense"]
            row.append(f"{ms:.3f} ({base / ms:.2f}×)")
        row.append(("✅ ≥ 1.5×" if speed_ok else "❌ < 1.5×") if name == speed["structured"] else "")
        rows.append(row)
    log(tabulate(rows, headers=["model", *(f"batch {b}" for b in batches), f"goal (batch {batches[-1]})"],
                 disable_numparse=True))
    log("")
    log("Storage of pruned weights (float32 values, int32 indices: CSR pays 8 bytes per non-zero, dense 4 per entry)")
    log(tabulate([[r["what"], f"{r['sparsity']:.1%}", f"{r['dense_bytes']:,}", f"{r['csr_bytes']:,}",
                   f"{r['ratio']:.2f}×", "smaller" if r["csr_saves"] else "saves nothing: keep it dense"]
                  for r in result["storage"]],
                 headers=["weights", "sparsity", "dense B", "CSR B", "dense / CSR", "CSR"], disable_numparse=True))
    log(f"({result['seconds']:.1f} s)")
    return pruning_ok and speed_ok


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dojo.bench.compress", description=__doc__.split("\n\n")[0])
    parser.add_argument("--impl", default="solutions", help="which tinytorch to measure (default: solutions)")
    parser.add_argument("--repeats", type=int, default=200, help="timed forward calls per model (default 200)")
    parser.add_argument("--seeds", type=int, default=len(SEEDS), help=f"seeds 0..N-1 (default {len(SEEDS)})")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1; 0 keeps NumPy's)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args(argv)

    wanted = dict(MALLOC_ENV) if sys.platform.startswith("linux") else {}
    if args.threads:
        wanted.update({name: str(args.threads) for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")})
    if any(os.environ.get(name) != value for name, value in wanted.items()):
        # BLAS and malloc read these when the process starts: run again in a fresh interpreter
        argv = sys.argv[1:] if argv is None else list(argv)
        return subprocess.call([sys.executable, "-m", "dojo.bench.compress", *argv], env={**os.environ, **wanted},
                               cwd=str(ROOT))

    from dojo import impl

    impl.activate(impl.resolve(args.impl))
    if str(ROOT) not in sys.path:
        sys.path.append(str(ROOT))  # milestones/ (after the chosen tinytorch)
    import numpy as np

    try:
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
        malloc = ", large freed blocks kept (MALLOC_MMAP_THRESHOLD_)" if wanted.get("MALLOC_MMAP_THRESHOLD_") else ""
        print(f"Compression (kata 18), tinytorch = {args.impl}: NumPy {np.__version__}, "
              f"{args.threads or 'default'} BLAS thread(s){malloc}, {os.cpu_count()} CPUs, load {load:.1f}")
        result = run(seeds=tuple(range(args.seeds)), repeats=args.repeats)
    except NotImplementedError as error:
        print(f"Compression (kata 18): n/a — {error}")
        return 0
    ok = report(result)
    return 1 if args.strict and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
