"""The engine of ``make bench``'s tables: rows of the same work in several columns, timed in turns.

Each row is a workload (one MLP training step, :mod:`dojo.bench.mlp`; kata 09's Conv2d forward
and backward, :mod:`dojo.bench.conv`; ...) and each column an implementation of exactly that work:

* **raw NumPy** — hand-written forward and backward in float32, the baseline every ratio uses;
* **tinytorch** — the implementation chosen with ``--impl``/``IMPL`` (default: the student's
  ``tinytorch/``, for the rows whose katas are green), through its public API: modules, loss,
  ``backward()``, optimizer;
* **PyTorch** — CPU, with as many threads as NumPy's BLAS, when ``import torch`` works.

All columns start from the same weights and data, and their losses are compared before timing
(same work, not just similar work). Then, after a warm-up, the columns take turns step by step
(so a noisy neighbour hurts them all alike) and each reports the median time of ``--repeats``
steps with its interquartile range. The reference solutions should stay within 1.2× of raw
NumPy; ``--strict`` turns that into the exit code. ``--profile`` shows where tinytorch spends
its time.

Adding a row: write a ``Workload`` factory (the arrays every column shares) and one factory per
column ``make(workload) -> step`` where ``step()`` runs the work once and returns the loss;
list the :class:`Benchmark` in :data:`dojo.bench.ROWS` with the katas its tinytorch column needs.
A column that cannot run (PyTorch missing, the student's kata not done yet) raises
:class:`Unavailable` and shows as n/a.

This module imports no row: rows import it (one-way).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field

BUDGET = 1.2  # tinytorch (reference solutions) may cost at most this many times raw NumPy
BASELINE = "raw NumPy"


class Unavailable(Exception):
    """A column that cannot run here (its reason is shown in the table)."""


@dataclass
class Benchmark:
    key: str
    title: str
    workload: object  # () -> dict of shared arrays and settings
    columns: dict  # column name -> make(workload) -> step() -> loss
    notes: str = ""


@dataclass
class Timing:
    times: list = field(default_factory=list)
    loss: float = float("nan")  # the first step's loss (or check value)
    error: str = ""
    checks: list = field(default_factory=list)  # the first steps' losses, compared with the baseline's

    def stats(self):
        import numpy as np

        q1, median, q3 = np.percentile(np.asarray(self.times) * 1e3, [25, 50, 75])
        return median, q1, q3


def tinytorch_modules(*names):
    """tinytorch's modules by name, ``{name: module}`` (by default tensor, layers, activations, losses
    and optim); Unavailable if they do not import."""
    import importlib

    try:
        return {name: importlib.import_module(f"tinytorch.{name}")
                for name in names or ("tensor", "layers", "activations", "losses", "optim")}
    except ImportError as error:
        raise Unavailable(f"tinytorch cannot be imported: {error}") from None


def torch_module():
    """PyTorch, or Unavailable."""
    try:
        import torch
    except ImportError:
        raise Unavailable('PyTorch not installed (pip install -e ".[bench]")') from None
    return torch


# ---------------------------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------------------------


def measure(bench: Benchmark, repeats: int, warmup: int, log=print, baseline=BASELINE, checks=1,
            atol=1e-5) -> dict:
    """Build every column, check they agree, then time them in turns. Returns {column: Timing}.

    The first ``checks`` steps of every column (from the shared weights: with ``checks=2`` the
    second comes after an optimizer step, so the gradients are compared too) must agree with the
    ``baseline`` column's (rtol 1e-4, ``atol``) before anything is timed. A workload that is
    Unavailable makes every column n/a with its reason.
    """
    import numpy as np

    try:
        workload = bench.workload()
    except Unavailable as error:
        return {name: Timing(error=str(error)) for name in bench.columns}
    steps, results = {}, {}
    for name, make in bench.columns.items():
        timing = results[name] = Timing()
        try:
            steps[name] = make(workload)
            timing.checks = [steps[name]() for _ in range(checks)]  # the first steps, from the shared weights
            timing.loss = timing.checks[0]
        except Unavailable as error:
            timing.error = str(error)
        except NotImplementedError as error:
            timing.error = f"not implemented yet: {error}"
        except Exception as error:  # a broken implementation is a row in the table, not a crash
            timing.error = f"failed: {type(error).__name__}: {error}"
        if timing.error:
            steps.pop(name, None)
    if baseline in steps:
        want = results[baseline].checks
        for name in [n for n in steps if n != baseline]:
            got = results[name].checks
            if not np.allclose(got, want, rtol=1e-4, atol=atol):
                results[name].error = (f"computes something else: first loss {got[0]:.6f}, {baseline} {want[0]:.6f}"
                                       if checks == 1 else f"computes something else: {got} vs the {baseline}'s {want}")
                del steps[name]
    names = list(steps)
    if not names:
        return results
    for _ in range(warmup):
        for name in names:
            steps[name]()
    for r in range(repeats):
        order = names[r % len(names):] + names[: r % len(names)]  # rotate: no column always first
        for name in order:
            start = time.perf_counter()
            steps[name]()
            results[name].times.append(time.perf_counter() - start)
    return results


def report(bench: Benchmark, results: dict, log=print, baseline=BASELINE) -> float | None:
    """Print one row's table; return tinytorch's ratio to raw NumPy (None if either is missing).

    ``baseline=None`` leaves out the ratio column (a row whose ratios are printed by its caller).
    """
    from tabulate import tabulate

    base = results.get(baseline) if baseline else None
    base_median = base.stats()[0] if base and base.times else None
    rows = []
    for name, timing in results.items():
        if not timing.times:
            rows.append([name, "n/a", "", *([""] if baseline else []), timing.error])
            continue
        median, q1, q3 = timing.stats()
        ratio = [f"{median / base_median:.2f}×" if base_median else ""] if baseline else []
        rows.append([name, f"{median:.2f}", f"{q1:.2f}–{q3:.2f}", *ratio, f"{timing.loss:.6g}"])
    log(bench.title)
    headers = ["", "median ms", "IQR ms", *([f"vs {baseline}"] if baseline else []), "first step's loss (or check value)"]
    log(tabulate(rows, headers=headers, disable_numparse=True))
    tt = results.get("tinytorch")
    if base_median and tt is not None and tt.times:
        return tt.stats()[0] / base_median
    return None


def profile_tinytorch(bench: Benchmark, steps: int, log=print) -> None:
    """cProfile ``steps`` tinytorch steps of ``bench`` and print the costliest functions."""
    import cProfile
    import io
    import pstats

    step = bench.columns["tinytorch"](bench.workload())
    for _ in range(5):
        step()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(steps):
        step()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(20)
    log(f"Profile of {steps} tinytorch steps ({bench.key}), by own time:")
    log(out.getvalue())


def table_main(bench: Benchmark, argv=None) -> int:
    """Command line of one table row: ``python -m dojo.bench.<row> [--impl X] [--repeats N] ...``.

    ``--skip-tinytorch REASON`` shows the tinytorch column as n/a with that reason (``make bench``
    passes it when the student's katas for the row are not green yet) while the other columns run.
    """
    from dojo import impl, threads

    parser = argparse.ArgumentParser(prog=f"python -m dojo.bench.{bench.key}", description=bench.title)
    parser.add_argument("--impl", default=None, help="which tinytorch to time (default: IMPL or the student's)")
    parser.add_argument("--repeats", type=int, default=50, help="timed steps per column (default 50)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps per column first (default 10)")
    parser.add_argument("--threads", type=int, default=1, help="BLAS/PyTorch threads (default 1)")
    parser.add_argument("--skip-tinytorch", default="", metavar="REASON", help=argparse.SUPPRESS)
    parser.add_argument("--profile", action="store_true", help="also profile the tinytorch column")
    parser.add_argument("--strict", action="store_true", help=f"exit 1 when tinytorch costs more than {BUDGET}× raw NumPy")
    args = parser.parse_args(argv)
    root = impl.resolve(args.impl)
    impl.activate(root)
    threads.apply(args.threads)
    if args.skip_tinytorch:
        def skipped(workload, reason=args.skip_tinytorch):
            raise Unavailable(reason)

        bench = Benchmark(bench.key, bench.title, bench.workload, {**bench.columns, "tinytorch": skipped}, bench.notes)
    ratio = report(bench, measure(bench, args.repeats, args.warmup))
    if ratio is not None:
        verdict = "within" if ratio <= BUDGET else "OVER"
        print(f"tinytorch / {BASELINE} = {ratio:.2f}× — {verdict} the {BUDGET}× budget of the reference solutions")
    if args.profile and not args.skip_tinytorch and "tinytorch" in bench.columns:
        print()
        profile_tinytorch(bench, steps=args.repeats)
    return 1 if args.strict and ratio is not None and ratio > BUDGET else 0
