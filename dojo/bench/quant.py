"""Kata 17's figures: int8 quantization measured, float32 baseline measured in the same run.

Four tables, every number computed here and now (nothing copied, nothing assumed):

1. **Accuracy and size** — milestone 03's MLP (64-128-64-10, Adam 1e-3, batch 64) trained
   briefly on the bundled 8×8 digits (offline, seeded), then quantized with
   ``tinytorch.quantization.quantize_model`` in several ways (per-channel or per-tensor weights;
   static activation scales calibrated on 4 training batches with the min/max or the percentile
   observer; dynamic scales). Test accuracy of the float model and of each int8 model, the
   agreement of their predictions, and the weight bytes (``model_size_bytes``). Goal: lose at
   most 0.5 percentage points, store ≥ 3.5× fewer bytes.
2. **Size of larger models** — the MNIST-sized MLP 784-256-128-10 and milestone 05's GPT
   (4 layers, 4 heads, 128 wide): whole models shrink less than 4× because embeddings, LayerNorms,
   biases and scales stay float32.
3. **Per-tensor vs per-channel** — the relative output error ``‖x Ŵᵀ − x Wᵀ‖ / ‖x Wᵀ‖`` of weight
   quantization alone, on the trained MLP's layers (with their real test-set inputs) and on a
   synthetic 256×256 weight whose rows differ in size by 1000×.
4. **Latency** — a float ``Linear`` forward against a ``QuantizedLinear`` forward of the same
   layer (the reference solutions), interleaved, median of repeats, one BLAS thread by default.
   NumPy has no int8 matrix multiply: ``int_matmul`` feeds the int8 values to float32 BLAS
   (exact up to K = 1024) or, for longer rows, to NumPy's integer matmul, which is much slower.
   Here int8 is smaller, *not* faster: the table says by how much.

Fifth table (``--gpt-steps N``, default :data:`GPT_STEPS`; 0 skips it): milestone 05's GPT — its
shape and training recipe, ``milestones.shakespeare.FULL``: 3 layers × 4 heads × 128 wide,
context 64, batch 32, AdamW 3e-3 — trained N steps on the bundled Shakespeare excerpt (offline,
seeded), then its validation loss in float32 vs int8 per-channel vs int8 per-tensor weights
(static activation scales from 4 training batches; also per-channel with dynamic scales), on the
same 24 fixed validation windows, in the same run. The claim it checks: per-channel int8 costs
the M05 GPT at most ~0.02 nats. About 1–2 minutes of the section on a quiet 2-core machine
(~0.2 s a training step); ``--quick`` trains 60 steps.

Run: ``python -m dojo.bench.quant [--impl solutions] [--quick] [--threads 1] [--gpt-steps 200]``.
Functions: :func:`accuracy_figures`, :func:`size_figures`, :func:`error_figures`,
:func:`latency_figures`, :func:`gpt_figures`, :func:`run` (all of them, a dict) and
:func:`loss_figures` (float vs int8 loss of any model returning ``(logits, loss)``, e.g. milestone
05's GPT).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time

DIGITS_EPOCHS = 20
CALIBRATION_BATCHES = 4
BATCH = 64
ACCURACY_GOAL_PP = 0.5  # percentage points lost at most
SIZE_GOAL = 3.5  # times fewer bytes at least
GPT_STEPS = 200  # the M05 GPT's training steps in the default run (make bench ONLY=quant)
GPT_QUICK_STEPS = 60
GPT_VAL_BATCHES = 24
GPT_LOSS_GOAL = 0.02  # nats: per-channel int8 should cost the M05 GPT at most this much


def _modules():
    """The active tinytorch (chosen with dojo.impl before this is called) and the milestone helpers."""
    import importlib

    from dojo import ROOT

    if str(ROOT) not in sys.path:
        sys.path.append(str(ROOT))  # after the tinytorch implementation chosen by dojo.impl
    names = ("activations", "layers", "optim", "rng", "quantization", "tensor", "autograd", "transformer")
    tt = {name: importlib.import_module(f"tinytorch.{name}") for name in names}
    tt["common"] = importlib.import_module("milestones.common")
    return tt


def digits_data(tt):
    """The bundled 8×8 digits as milestone 03 prepares them: flattened, scaled, standardised."""
    import numpy as np

    _, _, (xtr, ytr), (xte, yte), scale = tt["common"].load_digits_data(True, lambda *a: None, {"digits": 0.95})
    xtr = xtr.reshape(len(xtr), -1).astype(np.float32) / np.float32(scale)
    xte = xte.reshape(len(xte), -1).astype(np.float32) / np.float32(scale)
    mean, std = xtr.mean(), xtr.std()
    return ((xtr - mean) / std, ytr), ((xte - mean) / std, yte)


def train_digits_mlp(tt, epochs=DIGITS_EPOCHS, seed=0):
    """Milestone 03's offline MLP 64-128-64-10 trained for ``epochs``; returns (model, train, test, seconds)."""
    L, A = tt["layers"], tt["activations"]
    (xtr, ytr), (xte, yte) = digits_data(tt)
    tt["rng"].manual_seed(seed)
    model = L.Sequential(L.Linear(64, 128), A.ReLU(), L.Linear(128, 64), A.ReLU(), L.Linear(64, 10))
    optimizer = tt["optim"].Adam(model.parameters(), lr=1e-3)
    start = time.perf_counter()
    tt["common"].train_classifier(model, optimizer, xtr, ytr, epochs=epochs, batch_size=BATCH, seed=seed,
                                  quick=True, log=lambda *a: None)
    return model, (xtr, ytr), (xte, yte), time.perf_counter() - start


def _predictions(tt, model, x):
    import numpy as np

    Tensor = tt["tensor"].Tensor
    model.eval()
    with tt["autograd"].no_grad():
        out = model(Tensor(x)).data
    return np.asarray(out).argmax(axis=-1)


def accuracy_figures(tt, model, train, test) -> list:
    """One dict per variant: name, float and int8 test accuracy, drop (pp), agreement, bytes, ratio."""
    import numpy as np

    Q = tt["quantization"]
    (xtr, _), (xte, yte) = train, test
    calibration = [xtr[i * BATCH:(i + 1) * BATCH] for i in range(CALIBRATION_BATCHES)]
    variants = [
        ("per-channel, static (min/max)", dict(calibration_batches=calibration)),
        ("per-channel, static (percentile 99.99)", dict(calibration_batches=calibration, observer="percentile")),
        ("per-channel, dynamic", dict()),
        ("per-tensor, static (min/max)", dict(calibration_batches=calibration, per_channel=False)),
    ]
    float_predictions = _predictions(tt, model, xte)
    rows = []
    for name, options in variants:
        quantized = Q.quantize_model(model, **options)
        report = Q.quantization_report(model, quantized, xte, yte)
        agreement = float(np.mean(_predictions(tt, quantized, xte) == float_predictions))
        rows.append({"variant": name, **report, "agreement": agreement})
    return rows


def size_figures(tt) -> list:
    """Float vs int8 (per-channel, dynamic) bytes of the MNIST-sized MLP and milestone 05's GPT."""
    L, A, Q = tt["layers"], tt["activations"], tt["quantization"]
    tt["rng"].manual_seed(0)
    models = [
        ("MLP 784-256-128-10", L.Sequential(L.Linear(784, 256), A.ReLU(), L.Linear(256, 128), A.ReLU(),
                                             L.Linear(128, 10))),
        ("GPT 4 layers × 128 wide, vocab 65, context 64",
         tt["transformer"].GPT(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128)),
    ]
    rows = []
    for name, model in models:
        quantized = Q.quantize_model(model)
        float_bytes, int8_bytes = Q.model_size_bytes(model), Q.model_size_bytes(quantized)
        rows.append({"model": name, "float_bytes": float_bytes, "int8_bytes": int8_bytes,
                     "size_ratio": float_bytes / int8_bytes})
    return rows


def error_figures(tt, model, test, seed=0) -> list:
    """Relative output error of weight quantization, per tensor and per channel (dicts)."""
    import numpy as np

    Q, L = tt["quantization"], tt["layers"]
    rows = []

    def relative(x, w, w_hat):
        exact = x.astype(np.float64) @ w.T.astype(np.float64)
        return float(np.linalg.norm(x.astype(np.float64) @ w_hat.T.astype(np.float64) - exact) / np.linalg.norm(exact))

    def both(name, x, w):
        rows.append({
            "weights": name,
            "per_tensor": relative(x, w, Q.dequantize(*Q.quantize_per_tensor(w))),
            "per_channel": relative(x, w, Q.dequantize(*Q.quantize_per_channel(w))),
        })

    x = test[0]
    Tensor = tt["tensor"].Tensor
    with tt["autograd"].no_grad():
        for i, layer in enumerate(model):
            if isinstance(layer, L.Linear):
                both(f"trained digits MLP, layer {i} {layer.in_features}→{layer.out_features}", x, layer.weight.data)
            x = np.asarray(layer(Tensor(x)).data)
    rng = np.random.default_rng(seed)
    w = (rng.standard_normal((256, 256)) * np.logspace(-3, 0, 256)[:, None]).astype(np.float32)
    both("synthetic 256×256, row sizes 1e-3…1", rng.standard_normal((64, 256)).astype(np.float32), w)
    return rows


def _loop_length(fn, at_least=0.002):
    """How many calls of ``fn`` one timing sample makes (enough for the timer's resolution)."""
    start, number = time.perf_counter(), 0
    while time.perf_counter() - start < at_least:
        fn()
        number += 1
    return number


def _sample_ms(fn, number):
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number * 1e3


def latency_figures(tt, repeats=15, shapes=None) -> list:
    """Float Linear vs QuantizedLinear forward, interleaved; medians in ms and the ratio int8 / float."""
    import numpy as np

    L, Q, Tensor = tt["layers"], tt["quantization"], tt["tensor"].Tensor
    shapes = shapes or [(64, 784, 256), (1, 784, 256), (1, 128, 512), (64, 2048, 256)]
    rows = []
    rng = np.random.default_rng(0)
    for batch, n_in, n_out in shapes:
        tt["rng"].manual_seed(0)
        linear = L.Linear(n_in, n_out)
        x = rng.standard_normal((batch, n_in)).astype(np.float32)
        quantized = Q.QuantizedLinear.from_linear(linear, input_scale=float(np.abs(x).max() / 127))
        xt = Tensor(x)
        with tt["autograd"].no_grad():
            fns = {"float": lambda: linear(xt), "int8": lambda: quantized(xt)}
            numbers = {name: _loop_length(fn) for name, fn in fns.items()}  # also the warm-up
            times = {name: [] for name in fns}
            for r in range(repeats):  # interleaved: a noisy neighbour hurts both alike
                for name in (list(fns) if r % 2 == 0 else list(fns)[::-1]):
                    times[name].append(_sample_ms(fns[name], numbers[name]))
        medians = {name: float(np.median(t)) for name, t in times.items()}
        path = "float32 BLAS (exact)" if n_in <= Q.FLOAT32_EXACT_K else "int32 np.matmul (no BLAS)"
        rows.append({"shape": f"({batch}, {n_in}) → {n_out}", "int_matmul": path, "float_ms": medians["float"],
                     "int8_ms": medians["int8"], "ratio": medians["int8"] / medians["float"]})
    return rows


def loss_figures(tt, model, batches, calibration=None, per_channel=True) -> dict:
    """Mean loss of ``model(x, targets)`` (a model returning ``(logits, loss)``) float vs int8.

    ``batches``: ``(inputs, targets)`` pairs; ``calibration``: inputs for static scales (None:
    dynamic). Returns ``float_loss``, ``int8_loss``, ``delta`` (nats), ``float_bytes``, ``int8_bytes``.
    """
    import numpy as np

    Q, Tensor = tt["quantization"], tt["tensor"].Tensor
    quantized = Q.quantize_model(model, calibration, per_channel=per_channel)

    def mean_loss(m):
        m.eval()
        with tt["autograd"].no_grad():
            return float(np.mean([float(m(Tensor(x), Tensor(y))[1].item()) for x, y in batches]))

    float_loss, int8_loss = mean_loss(model), mean_loss(quantized)
    return {"float_loss": float_loss, "int8_loss": int8_loss, "delta": int8_loss - float_loss,
            "float_bytes": Q.model_size_bytes(model), "int8_bytes": Q.model_size_bytes(quantized)}


def gpt_figures(tt, steps, seed=0) -> dict:
    """Milestone 05's GPT (``milestones.shakespeare.FULL``: 3 layers × 4 heads × 128 wide, context 64,
    batch 32) trained ``steps`` steps on the bundled Shakespeare excerpt; its validation loss float
    vs int8 (per channel with static scales from 4 training batches, per channel with dynamic
    scales, per tensor with static scales), all on the same :data:`GPT_VAL_BATCHES` fixed windows."""
    import importlib

    import numpy as np

    sh = importlib.import_module("milestones.shakespeare")
    Q = tt["quantization"]
    cfg = sh.FULL
    text = sh.load_bundled()
    trained = sh.train(text, cfg=cfg, steps=steps, seed=seed, quick=True, samples=0, progress=False, log=lambda *a: None)
    model, tokenizer = trained["model"], trained["tokenizer"]
    train_ids, val_ids = sh.split_ids(text, tokenizer)
    batch_rng = np.random.default_rng(seed + 7)
    calibration = [sh.get_batch(train_ids, cfg, batch_rng)[0] for _ in range(CALIBRATION_BATCHES)]
    float_loss = sh.evaluate(model, val_ids, cfg, GPT_VAL_BATCHES, seed + 1)
    figures = {"steps": steps, "train_seconds": trained["train_seconds"], "bigram_loss": trained["bigram_loss"],
               "shape": f"{cfg.n_layer} × {cfg.n_head} × {cfg.n_embd}, context {cfg.block_size}",
               "float_loss": float_loss, "float_bytes": Q.model_size_bytes(model)}
    variants = (("per_channel", True, calibration), ("per_channel_dynamic", True, None), ("per_tensor", False, calibration))
    for key, per_channel, scales_from in variants:
        quantized = Q.quantize_model(model, scales_from, per_channel=per_channel)
        loss = sh.evaluate(quantized, val_ids, cfg, GPT_VAL_BATCHES, seed + 1)
        figures[key] = {"int8_loss": loss, "delta": loss - float_loss, "int8_bytes": Q.model_size_bytes(quantized)}
    return figures


def run(quick=False, seed=0, gpt_steps=0, log=print) -> dict:
    """Every figure, measured now: {"train_seconds", "accuracy", "sizes", "errors", "latency"} and,
    with ``gpt_steps``, "gpt" (:func:`gpt_figures`)."""
    tt = _modules()
    model, train, test, seconds = train_digits_mlp(tt, epochs=5 if quick else DIGITS_EPOCHS, seed=seed)
    figures = {
        "train_seconds": seconds,
        "accuracy": accuracy_figures(tt, model, train, test),
        "sizes": size_figures(tt),
        "errors": error_figures(tt, model, test, seed),
        "latency": latency_figures(tt, repeats=5 if quick else 15),
    }
    if gpt_steps:
        figures["gpt"] = gpt_figures(tt, gpt_steps, seed)
    return figures


def report(figures, log=print) -> bool:
    """Print the four tables; return True when the default variant (the first) meets both goals."""
    from tabulate import tabulate

    def kib(n):
        return f"{n / 1024:,.1f} KiB"

    rows, ok = [], None
    for r in figures["accuracy"]:
        good = r["accuracy_drop"] <= ACCURACY_GOAL_PP and r["size_ratio"] >= SIZE_GOAL
        ok = good if ok is None else ok  # the goal is the first (default) variant's
        rows.append([r["variant"], f"{r['float_accuracy']:.2%}", f"{r['int8_accuracy']:.2%}",
                     f"{r['accuracy_drop']:+.2f}", f"{r['agreement']:.2%}", kib(r["float_bytes"]),
                     kib(r["int8_bytes"]), f"{r['size_ratio']:.2f}×", "✓" if good else "✗"])
    log(f"1. Milestone 03 MLP 64-128-64-10 on the bundled digits (trained {figures['train_seconds']:.1f} s), "
        f"test set; goal: lose ≤ {ACCURACY_GOAL_PP} pp, ≥ {SIZE_GOAL}× smaller")
    log(tabulate(rows, headers=["int8 variant", "float acc", "int8 acc", "lost pp", "same prediction",
                                "float bytes", "int8 bytes", "smaller", "goal"], disable_numparse=True))
    log("")
    log("2. Whole models (per-channel int8 Linears; embeddings, LayerNorms, biases and scales stay float32)")
    log(tabulate([[r["model"], kib(r["float_bytes"]), kib(r["int8_bytes"]), f"{r['size_ratio']:.2f}×"]
                  for r in figures["sizes"]], headers=["model", "float32", "int8", "smaller"], disable_numparse=True))
    log("")
    log("3. Relative output error of the quantized weights ‖xŴᵀ − xWᵀ‖ / ‖xWᵀ‖")
    log(tabulate([[r["weights"], f"{r['per_tensor']:.3%}", f"{r['per_channel']:.3%}"] for r in figures["errors"]],
                 headers=["weights", "per-tensor", "per-channel"], disable_numparse=True))
    log("")
    log("4. Forward latency, float Linear vs QuantizedLinear (median ms, interleaved). NumPy has no int8 GEMM:")
    log("   int8 here saves memory, not time.")
    log(tabulate([[r["shape"], r["int_matmul"], f"{r['float_ms']:.3f}", f"{r['int8_ms']:.3f}", f"{r['ratio']:.2f}×"]
                  for r in figures["latency"]],
                 headers=["(batch, in) → out", "int_matmul path", "float ms", "int8 ms", "int8 / float"],
                 disable_numparse=True))
    gpt = figures.get("gpt")
    if gpt:
        log("")
        log(f"5. Milestone 05's GPT ({gpt['shape']}) trained {gpt['steps']} steps ({gpt['train_seconds']:.0f} s) on "
            f"the bundled excerpt: validation loss on {GPT_VAL_BATCHES} fixed windows (bigram baseline "
            f"{gpt['bigram_loss']:.3f}); goal: per-channel int8 within +{GPT_LOSS_GOAL} nats")
        names = {"per_channel": "int8 per-channel, static scales", "per_channel_dynamic": "int8 per-channel, dynamic scales",
                 "per_tensor": "int8 per-tensor, static scales"}
        log(tabulate([["float32", f"{gpt['float_loss']:.4f}", "", kib(gpt["float_bytes"]), ""]]
                     + [[names[key], f"{gpt[key]['int8_loss']:.4f}", f"{gpt[key]['delta']:+.4f}", kib(gpt[key]["int8_bytes"]),
                         ("✓" if gpt[key]["delta"] <= GPT_LOSS_GOAL else "✗") if key.startswith("per_channel") else ""]
                        for key in names if key in gpt],
                     headers=["weights", "val loss (nats/char)", "Δ", "bytes", "goal"], disable_numparse=True))
    return ok


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dojo.bench.quant", description=__doc__.split("\n\n")[0])
    parser.add_argument("--impl", default="solutions", help="which tinytorch to measure (default: solutions)")
    parser.add_argument("--quick", action="store_true", help="5 training epochs and fewer latency repeats")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--gpt-steps", type=int, default=None,
                        help=f"train milestone 05's GPT this many steps and compare its validation loss float vs int8 "
                             f"(~0.2 s a step on an idle machine; default {GPT_STEPS}, {GPT_QUICK_STEPS} with --quick; "
                             "0 skips it)")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1; 0 keeps NumPy's choice)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when the accuracy or size goal is missed")
    args = parser.parse_args(argv)

    if args.threads and os.environ.get("OPENBLAS_NUM_THREADS") != str(args.threads):
        env = dict(os.environ)  # BLAS reads its thread count when NumPy loads: a fresh interpreter
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[name] = str(args.threads)
        argv = sys.argv[1:] if argv is None else list(argv)
        return subprocess.call([sys.executable, "-m", "dojo.bench.quant", *argv], env=env)

    from dojo import impl

    impl.activate(impl.resolve(args.impl))
    import numpy as np

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    print(f"Python {platform.python_version()} · NumPy {np.__version__} · {args.threads or 'default'} BLAS thread(s) · "
          f"{os.cpu_count()} CPUs · load {load:.1f} · tinytorch: {args.impl}")
    start = time.perf_counter()
    try:
        gpt_steps = args.gpt_steps if args.gpt_steps is not None else (GPT_QUICK_STEPS if args.quick else GPT_STEPS)
        figures = run(quick=args.quick, seed=args.seed, gpt_steps=gpt_steps)
    except NotImplementedError as error:  # the student's kata 17 (or an earlier one) is not done yet
        print(f"int8 figures: n/a ({error})")
        return 1 if args.strict else 0
    print()
    ok = report(figures)
    print(f"\n({time.perf_counter() - start:.1f} s)")
    return 1 if args.strict and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
