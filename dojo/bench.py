"""``make bench``: tinytorch against raw NumPy (and PyTorch when installed), same work, one run.

Each row is a workload (one MLP training step; kata 09's Conv2d forward and backward, defined in
``dojo/bench_conv.py``) and each column an implementation of exactly that work:

* **raw NumPy** — hand-written forward and backward in float32, the baseline every ratio uses;
* **tinytorch** — the implementation chosen with ``--impl`` (default: the reference solutions),
  through its public API: modules, loss, ``backward()``, optimizer;
* **PyTorch** — CPU, with as many threads as NumPy's BLAS, when ``import torch`` works.

All columns start from the same weights and data, and their losses are compared before timing
(same work, not just similar work). Then, after a warm-up, the columns take turns step by step
(so a noisy neighbour hurts them all alike) and each reports the median time of ``--repeats``
steps with its interquartile range. The reference solutions should stay within 1.2× of raw
NumPy; ``--strict`` turns that into the exit code. ``--profile`` shows where tinytorch spends
its time.

Adding a row: write a ``Workload`` factory (the arrays every column shares) and one factory per
column ``make(workload) -> step`` where ``step()`` runs the work once and returns the loss;
append a :class:`Benchmark` to :data:`BENCHMARKS` (or list it in :func:`all_benchmarks`). A
column that cannot run (PyTorch missing, the student's kata not done yet) raises
:class:`Unavailable` and shows as n/a.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
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
    loss: float = float("nan")
    error: str = ""

    def stats(self):
        import numpy as np

        q1, median, q3 = np.percentile(np.asarray(self.times) * 1e3, [25, 50, 75])
        return median, q1, q3


# ---------------------------------------------------------------------------------------------
# Row 1: one training step of an MLP 784-256-128-10, batch 128, cross-entropy, plain SGD
# ---------------------------------------------------------------------------------------------

MLP_SIZES = (784, 256, 128, 10)
MLP_BATCH = 128
MLP_LR = 0.01


def mlp_workload(seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    params = []
    for n_in, n_out in zip(MLP_SIZES[:-1], MLP_SIZES[1:]):
        k = 1 / np.sqrt(n_in)  # nn.Linear's default initialisation
        params.append(rng.uniform(-k, k, (n_out, n_in)).astype(np.float32))
        params.append(rng.uniform(-k, k, n_out).astype(np.float32))
    x = rng.standard_normal((MLP_BATCH, MLP_SIZES[0])).astype(np.float32)
    y = rng.integers(0, MLP_SIZES[-1], MLP_BATCH).astype(np.int64)
    return {"params": params, "x": x, "y": y, "lr": MLP_LR}


def mlp_numpy(w):
    """Forward, backward and SGD update written out by hand, as a NumPy programmer would."""
    import numpy as np

    params = [p.copy() for p in w["params"]]
    x, y, lr = w["x"], w["y"], np.float32(w["lr"])
    n = len(y)
    rows = np.arange(n)

    def step():
        W1, b1, W2, b2, W3, b3 = params
        h1 = x @ W1.T + b1
        a1 = np.maximum(h1, 0)
        h2 = a1 @ W2.T + b2
        a2 = np.maximum(h2, 0)
        z = a2 @ W3.T + b3
        m = z.max(axis=1, keepdims=True)
        e = np.exp(z - m)
        s = e.sum(axis=1, keepdims=True)
        loss = np.mean(np.log(s[:, 0]) + m[:, 0] - z[rows, y])
        g3 = e / s
        g3[rows, y] -= 1
        g3 /= n
        g2 = (g3 @ W3) * (h2 > 0)
        g1 = (g2 @ W2) * (h1 > 0)
        grads = (g1.T @ x, g1.sum(axis=0), g2.T @ a1, g2.sum(axis=0), g3.T @ a2, g3.sum(axis=0))
        for p, g in zip(params, grads):
            p -= lr * g
        return float(loss)

    return step


def _tinytorch():
    import importlib

    try:
        return {name: importlib.import_module(f"tinytorch.{name}")
                for name in ("tensor", "layers", "activations", "losses", "optim")}
    except ImportError as error:
        raise Unavailable(f"tinytorch cannot be imported: {error}") from None


def mlp_tinytorch(w):
    tt = _tinytorch()
    try:
        L, A = tt["layers"], tt["activations"]
        model = L.Sequential(L.Linear(784, 256), A.ReLU(), L.Linear(256, 128), A.ReLU(), L.Linear(128, 10))
        for p, value in zip(model.parameters(), w["params"]):
            p.data[...] = value
        optimizer = tt["optim"].SGD(model.parameters(), lr=w["lr"])
    except NotImplementedError as error:
        raise Unavailable(f"not implemented yet: {error}") from None
    Tensor, cross_entropy = tt["tensor"].Tensor, tt["losses"].cross_entropy
    x, y = Tensor(w["x"]), Tensor(w["y"])

    def step():
        loss = cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return float(loss.item())

    return step


def mlp_torch(w):
    torch = _torch()
    layers = []
    for i in range(0, len(w["params"]), 2):
        out_features, in_features = w["params"][i].shape
        layer = torch.nn.Linear(in_features, out_features)
        with torch.no_grad():
            layer.weight.copy_(torch.from_numpy(w["params"][i]))
            layer.bias.copy_(torch.from_numpy(w["params"][i + 1]))
        layers += [layer, torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    optimizer = torch.optim.SGD(model.parameters(), lr=w["lr"])
    x, y = torch.from_numpy(w["x"]), torch.from_numpy(w["y"])

    def step():
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return float(loss.item())

    return step


def _torch():
    try:
        import torch
    except ImportError:
        raise Unavailable('PyTorch not installed (pip install -e ".[bench]")') from None
    return torch


BENCHMARKS = [
    Benchmark(
        key="mlp",
        title="MLP train step 784-256-128-10, batch 128 (forward, cross-entropy, backward, SGD)",
        workload=mlp_workload,
        columns={BASELINE: mlp_numpy, "tinytorch": mlp_tinytorch, "PyTorch": mlp_torch},
    ),
]


def all_benchmarks() -> list:
    """Every row: :data:`BENCHMARKS` plus those defined in their own modules (kata 09's conv)."""
    from dojo import bench_conv  # imported late: it builds on this module

    return [*BENCHMARKS, bench_conv.CONV]


# ---------------------------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------------------------


def blas_threads() -> int:
    """How many threads NumPy's BLAS uses (threadpoolctl when installed, else the environment)."""
    try:
        from threadpoolctl import threadpool_info

        counts = [info["num_threads"] for info in threadpool_info() if info.get("user_api") == "blas"]
        if counts:
            return max(counts)
    except ImportError:
        pass
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return os.cpu_count() or 1


def measure(bench: Benchmark, repeats: int, warmup: int, log=print) -> dict:
    """Build every column, check they agree, then time them in turns. Returns {column: Timing}."""
    import numpy as np

    workload = bench.workload()
    steps, results = {}, {}
    for name, make in bench.columns.items():
        timing = results[name] = Timing()
        try:
            steps[name] = make(workload)
            timing.loss = steps[name]()  # the first step, from the shared weights
        except Unavailable as error:
            timing.error = str(error)
        except NotImplementedError as error:
            timing.error = f"not implemented yet: {error}"
        except Exception as error:  # a broken implementation is a row in the table, not a crash
            timing.error = f"failed: {type(error).__name__}: {error}"
    if BASELINE in steps:
        reference = results[BASELINE].loss
        for name in list(steps):
            loss = results[name].loss
            if not np.isclose(loss, reference, rtol=1e-4, atol=1e-5):
                results[name].error = f"computes something else: first loss {loss:.6f}, raw NumPy {reference:.6f}"
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


def report(bench: Benchmark, results: dict, log=print) -> float | None:
    """Print one row's table; return tinytorch's ratio to raw NumPy (None if either is missing)."""
    from tabulate import tabulate

    base = results.get(BASELINE)
    base_median = base.stats()[0] if base and base.times else None
    rows = []
    for name, timing in results.items():
        if not timing.times:
            rows.append([name, "n/a", "", "", timing.error])
            continue
        median, q1, q3 = timing.stats()
        ratio = f"{median / base_median:.2f}×" if base_median else ""
        rows.append([name, f"{median:.2f}", f"{q1:.2f}–{q3:.2f}", ratio, f"{timing.loss:.6g}"])
    log(bench.title)
    headers = ["", "median ms", "IQR ms", f"vs {BASELINE}", "first step's loss (or check value)"]
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dojo bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--impl", default="solutions", help="which tinytorch to time (default: solutions)")
    parser.add_argument("--repeats", type=int, default=50, help="timed steps per column (default 50)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps per column first (default 10)")
    benchmarks = all_benchmarks()
    parser.add_argument("--only", action="append", choices=[b.key for b in benchmarks], help="run only this row (repeatable)")
    parser.add_argument(
        "--threads", type=int, default=1,
        help="BLAS/PyTorch threads (default 1: at these sizes a second BLAS thread makes every column "
        "erratic on a 2-core machine; 0 keeps what NumPy uses)",
    )
    parser.add_argument("--profile", action="store_true", help="also profile the tinytorch column")
    parser.add_argument("--strict", action="store_true", help=f"exit 1 when tinytorch costs more than {BUDGET}× raw NumPy")
    args = parser.parse_args(argv)

    if args.threads and os.environ.get("OPENBLAS_NUM_THREADS") != str(args.threads):
        # BLAS reads its thread count when NumPy loads: run again in a fresh interpreter
        env = dict(os.environ)
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[name] = str(args.threads)
        argv = sys.argv[1:] if argv is None else list(argv)
        return subprocess.call([sys.executable, "-m", "dojo.bench", *argv], env=env)

    from dojo import impl

    impl.activate(impl.resolve(args.impl))
    import numpy as np

    threads = args.threads or blas_threads()
    torch_version = "not installed"
    try:
        import torch

        torch.set_num_threads(threads)
        torch_version = torch.__version__
    except ImportError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    print(f"Python {platform.python_version()} · NumPy {np.__version__} · PyTorch {torch_version} · "
          f"{threads} BLAS/torch thread(s) · {os.cpu_count()} CPUs · load {load:.1f} · "
          f"median of {args.repeats} steps after {args.warmup} warm-up")
    if load > 0.5 * (os.cpu_count() or 1):
        print("warning: the machine is busy: times are inflated and BLAS threads that wait for a busy core make "
              "them erratic; the ratios, measured in turns, suffer less.")

    worst = None
    for bench in benchmarks:
        if args.only and bench.key not in args.only:
            continue
        print()
        ratio = report(bench, measure(bench, args.repeats, args.warmup))
        if ratio is not None:
            verdict = "within" if ratio <= BUDGET else "OVER"
            print(f"tinytorch ({args.impl}) / {BASELINE} = {ratio:.2f}× — {verdict} the {BUDGET}× budget")
            worst = ratio if worst is None else max(worst, ratio)
        if args.profile and "tinytorch" in bench.columns:
            print()
            profile_tinytorch(bench, steps=args.repeats)
    return 1 if args.strict and worst is not None and worst > BUDGET else 0


if __name__ == "__main__":
    sys.exit(main())
