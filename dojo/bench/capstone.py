"""``make bench`` section: kata 20's ``optimize`` against its baseline, with kata 20's ``evaluate``.

What runs: the tinytorch chosen with ``--impl`` (``make bench`` passes the student's ``tinytorch/``
only when kata 20 is green for it, else ``IMPL=solutions`` times the reference; the first line
says which). Everything is measured here and now, in one run:

1. **Baseline** — milestone 06's model (the milestone-05 GPT, 3 layers × 4 heads × 128 wide, with
   a 320-token context: a 64-token prompt + 256 new tokens) trained ``--steps`` AdamW steps
   (default :data:`STEPS`; milestone 06 trains 500 on Tiny Shakespeare) on the bundled
   Shakespeare excerpt, offline and seeded, on the fast backend, batch 8, learning rate 3e-3.
2. **Optimized** — ``tinytorch.capstone.optimize(model, calibration)`` with its default choices
   (calibration: milestone 06's 4 batches of training windows).
3. **Measured** — ``tinytorch.capstone.evaluate`` (kata 19's interleaved ``compare``): greedy
   generation of 256 new tokens after 8 prompts of 64 tokens (MLPerf's offline scenario, as
   milestone 06), ``--rounds`` interleaved rounds (default 3) after one optimized warm-up;
   weight bytes; validation loss on milestone 06's 8 validation batches. Printed: tokens/s,
   bytes, losses and the ratios next to milestone 06's targets (≥ 10× faster, ≥ 3.5× smaller,
   loss within +0.05 nats).

A short training run leaves the model far from milestone 06's: the speed and size figures do
not depend on it, the loss delta does a little (a barely trained model's logits are flatter).
Time: about 2–3 minutes on a quiet 2-core machine, most of it the baseline's uncached
generation (3 rounds + 8 × 256 tokens each) and the training; ``--steps 20 --rounds 2`` for a
quicker look.

Run: ``make bench ONLY=capstone [IMPL=solutions]`` or ``python -m dojo.bench.capstone
[--impl solutions] [--steps 100] [--rounds 3] [--threads 1]``. :func:`run` returns the figures.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

STEPS = 100
ROUNDS = 3
SEED = 0


def settings(steps=STEPS, rounds=ROUNDS) -> dict:
    """Milestone 06's full configuration with ``steps`` training steps on the bundled excerpt and ``rounds`` rounds."""
    from milestones import m06_systems as m06

    cfg = {key: dict(value) for key, value in m06.FULL.items()}
    cfg["training"].update(steps=int(steps), corpus="bundled")
    cfg["evaluation"]["rounds"] = int(rounds)
    return cfg


def run(steps=STEPS, rounds=ROUNDS, seed=SEED, log=print) -> dict:
    """Train the baseline, optimize it with kata 20's ``optimize``, measure both with its ``evaluate``.

    Returns ``{"report", "checks", "config", "train_seconds", "seconds", "targets"}`` (``report``:
    the CapstoneReport ``evaluate`` returned; ``checks``: its checks against milestone 06's targets)."""
    import importlib

    from milestones import m06_systems as m06

    start = time.perf_counter()
    cfg = settings(steps, rounds)
    quiet = lambda *a, **k: None  # noqa: E731 - the training's progress bar and samples are not the benchmark
    baseline = m06.train_baseline(cfg, seed=seed, log=quiet, quick=True)
    calibration, validation = m06.fixed_batches(baseline, cfg, seed)
    capstone = importlib.import_module("tinytorch.capstone")
    optimized = capstone.optimize(baseline["model"], calibration)
    ev = cfg["evaluation"]
    prompt = validation[0][0][:ev["batch"], :ev["prompt_len"]]
    optimized.generate(prompt, ev["new_tokens"], greedy=True)  # warm-up (allocates its cache), not timed
    log(f"measuring: {ev['rounds']} interleaved rounds of {ev['new_tokens']} greedy tokens after {ev['batch']} prompts "
        f"of {ev['prompt_len']} (baseline: uncached GPT.generate on the reference kernels)")
    report = capstone.evaluate(baseline["model"], optimized, validation, new_tokens=ev["new_tokens"],
                               prompt_len=ev["prompt_len"], batch=ev["batch"], rounds=ev["rounds"], warmup=0, seed=seed)
    return {"report": report, "checks": report.checks(dict(m06.TARGETS)), "config": cfg, "targets": dict(m06.TARGETS),
            "train_seconds": baseline["seconds"], "corpus": baseline["corpus"], "seconds": time.perf_counter() - start}


def report_text(figures) -> str:
    """The table: baseline vs optimized, then each ratio next to milestone 06's target."""
    from tabulate import tabulate

    r = figures["report"]
    low, high = r.speedup_ci
    rows = [["baseline (uncached, reference kernels)", f"{r.baseline_tokens_per_s:,.1f}", f"{r.baseline_seconds:.2f}",
             f"{r.baseline_bytes:,}", f"{r.baseline_loss:.4f}"],
            ["optimized (your optimize)", f"{r.optimized_tokens_per_s:,.1f}", f"{r.optimized_seconds:.3f}",
             f"{r.optimized_bytes:,}", f"{r.optimized_loss:.4f}"]]
    lines = [tabulate(rows, headers=["model", "tokens/s", f"s per {r.batch}×{r.new_tokens} tokens", "weight bytes",
                                     "val loss"], disable_numparse=True), ""]
    checks = [[c["name"], c["value"], c["target"], "✓" if c["ok"] else "✗"] for c in figures["checks"]]
    lines.append(tabulate(checks, headers=["milestone 06 figure", "measured", "target", ""], disable_numparse=True))
    lines.append(f"speedup 95% CI {low:.2f}–{high:.2f} · greedy tokens agree {r.token_agreement:.1%} · "
                 f"choices: {', '.join(f'{k}={v}' for k, v in r.choices.items()) or '-'}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dojo.bench.capstone", description=__doc__.split("\n\n")[0])
    parser.add_argument("--impl", default="solutions", help="which tinytorch to measure (default: solutions)")
    parser.add_argument("--steps", type=int, default=STEPS, help=f"training steps of the baseline (default {STEPS})")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help=f"interleaved timing rounds (default {ROUNDS})")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    args = parser.parse_args(argv)

    from dojo import impl, threads

    root = impl.resolve(args.impl)
    impl.activate(root)
    import numpy as np

    count = threads.apply(args.threads)
    os.environ.setdefault("TINYTORCH_OFFLINE", "1")  # the bundled excerpt: nothing to download
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    which = "your tinytorch/ (kata 20 is green)" if impl.is_student(root) else str(root / "tinytorch")
    print(f"capstone (kata 20): {which} · Python {platform.python_version()} · NumPy {np.__version__} · "
          f"{count} BLAS thread(s) · {os.cpu_count()} CPUs · load {load:.1f}")
    cfg = settings(args.steps, args.rounds)
    m = cfg["model"]
    print(f"baseline: milestone 06's GPT {m['n_layer']} layers × {m['n_head']} heads × {m['n_embd']} wide, context "
          f"{m['block_size']}, trained {args.steps} steps on the bundled excerpt (milestone 06: 500 on Tiny Shakespeare); "
          f"optimized: tinytorch.capstone.optimize with its default choices; measured by tinytorch.capstone.evaluate")
    try:
        figures = run(args.steps, args.rounds, args.seed)
    except NotImplementedError as error:
        print(f"capstone figures: n/a ({error})")
        return 0
    print(f"(trained in {figures['train_seconds']:.0f} s on {figures['corpus']})")
    print(report_text(figures))
    print(f"({figures['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
