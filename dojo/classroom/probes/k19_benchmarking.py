"""Probes for kata 19 (Benchmarking): percentiles exactly as NumPy's, the robust figures and
Tukey's outliers, warm-ups, calibrated loops and samples per call, the timer's resolution, the
interleaved A/B comparison and its seeded bootstrap interval (through the properties the kata
pins: its value depends on how the resampling is drawn), the captured environment (with a fake
threadpoolctl and load average, put back afterwards), and the Pareto view and report.

Every time comes from an injected fake clock: nothing here reads the wall clock."""

import math

import numpy as np

from dojo.classroom.probes import probe, raises


class _Clock:
    """Moves only when a benchmarked function says it worked."""

    def __init__(self):
        self.now = 50.0
        self.calls = 0

    def __call__(self):
        return self.now


def _work(clock, *costs, log=None, name=None):
    """A function taking costs[i] fake seconds on its i-th call (the last cost repeats)."""
    state = {"calls": 0}

    def fn():
        clock.now += costs[min(state["calls"], len(costs) - 1)]
        state["calls"] += 1
        if log is not None:
            log.append(name)

    fn.state = state
    return fn


@probe("stats")
def robust_figures(rng):
    from tinytorch.benchmarking import Stats, percentile

    samples = [float(v) for v in rng.uniform(1e-6, 10.0, size=int(rng.integers(1, 25)))]
    qs = [0.0, 100.0, 50.0, float(rng.uniform(0, 100)), float(rng.uniform(0, 100))]
    ties = [2.0, 2.0, 2.0, 9.0, float(rng.choice([2.0, 9.0]))]
    clean = list(1e-3 * (1 + 0.02 * rng.uniform(-1, 1, 20)))
    at = int(rng.integers(0, 21))
    spoiled = clean[:at] + [0.1] + clean[at:]
    s = Stats(spoiled, loops=int(rng.integers(1, 9)), warmup=int(rng.integers(0, 4)))
    fenced = Stats([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, float(rng.uniform(-30, -15)), float(rng.uniform(25, 40))])
    return {"percentiles": [percentile(samples, q) for q in qs], "ties": [percentile(ties, q) for q in (25.0, 75.0, 90.0)],
            "one": percentile([samples[0]], float(rng.uniform(0, 100))),
            "figures": [s.median, s.q1, s.q3, s.iqr, s.p90, s.p99, s.min, s.max], "n": [s.n, s.loops, s.warmup],
            "outliers": s.outliers, "clean_outliers": Stats(clean).outliers, "fences": list(fenced.fences), "fenced": fenced.outliers,
            "summary_outliers": s.summary()["outliers"],
            "errors": [raises(lambda: percentile([], 50)), raises(lambda: percentile([1.0, 2.0], 101)),
                       raises(lambda: percentile([1.0, 2.0], -1)), raises(lambda: Stats([]))]}


@probe("timing")
def warmups_loops_and_samples(rng):
    from tinytorch.benchmarking import benchmark, calibrate, timer_resolution

    clock = _Clock()
    cold, warm = float(rng.uniform(0.05, 0.2)), float(rng.uniform(0.001, 0.003))
    warmup = int(rng.integers(1, 4))
    stats = benchmark(_work(clock, *([cold] * warmup), warm), warmup=warmup, repeats=5, loops=1, clock=clock)
    cold_stats = benchmark(_work(clock, cold, warm), warmup=0, repeats=5, loops=1, clock=clock)
    per_call = float(rng.uniform(0.001, 0.003))
    loops = int(rng.integers(2, 6))
    work = _work(clock, per_call)
    looped = benchmark(work, warmup=3, repeats=6, loops=loops, clock=clock)
    cost = float(rng.uniform(0.0002, 0.0004))
    calibrated = [calibrate(_work(clock, cost), min_time=t, clock=clock) for t in (0.001, 0.01, cost / 2)]
    noisy = [float(c) for c in 0.0003 * (1 + 0.1 * rng.uniform(-1, 1, 400))]
    auto = benchmark(_work(clock, *noisy), warmup=1, repeats=10, min_time=0.002, clock=clock)

    class Ticking:
        def __init__(self, step, tick):
            self.true, self.step, self.tick = 0.0, step, tick

        def __call__(self):
            self.true += self.step
            return math.floor(self.true / self.tick) * self.tick

    tick = float(rng.choice([0.001, 0.002, 0.005]))
    return {"warm_samples": list(stats.samples), "warmup": stats.warmup, "n": stats.n, "cold_first": cold_stats.samples[0],
            "cold_median": cold_stats.median, "per_call": list(looped.samples), "loops": looped.loops, "calls": work.state["calls"],
            "calibrated": calibrated, "auto_loops": auto.loops, "auto_long_enough": bool(all(s * auto.loops >= 0.002 * 0.999 for s in auto.samples)),
            "resolution": timer_resolution(Ticking(0.4 * tick, tick), reads=100), "still": timer_resolution(lambda: 7.0, reads=100),
            "errors": [raises(lambda kw=kw: benchmark(_work(clock, 0.001), clock=clock, **kw)) for kw in ({"repeats": 0}, {"warmup": -1}, {"loops": 0})]}


def _noisy(clock, cost, seed, noise=0.05, log=None, name=None):
    generator = np.random.default_rng(seed)

    def fn():
        clock.now += cost * (1 + noise * generator.standard_normal())
        if log is not None:
            log.append(name)

    return fn


@probe("compare")
def interleaved_comparison(rng):
    from tinytorch.benchmarking import bootstrap_ratio_ci, compare

    seeds = [int(v) for v in rng.integers(0, 2**31, size=4)]
    clock = _Clock()
    slower = compare(_noisy(clock, 1e-3, seeds[0]), _noisy(clock, 2e-3, seeds[1]), rounds=15, loops=1, clock=clock, seed=seeds[2])
    clock, log = _Clock(), []
    rounds = int(rng.integers(3, 7))
    compare(_noisy(clock, 1e-3, 0, log=log, name="a"), _noisy(clock, 1e-3, 1, log=log, name="b"), rounds=rounds, warmup=1, loops=1, clock=clock)
    a = 1e-3 * (1 + 0.05 * rng.standard_normal(12))
    b = 1.5 * a * (1 + 0.05 * rng.standard_normal(12))
    low, high = bootstrap_ratio_ci(a, 3 * a, seed=seeds[3])
    narrow = bootstrap_ratio_ci(a, b, confidence=0.90, seed=seeds[3])
    wide = bootstrap_ratio_ci(a, b, confidence=0.99, seed=seeds[3])
    ratio = float(np.median(b) / np.median(a))
    return {"ratio": slower.ratio, "ratio_is_of_medians": math.isclose(slower.ratio, slower.b.median / slower.a.median),
            "medians": [slower.a.median, slower.b.median], "samples": [sorted(slower.a.samples), sorted(slower.b.samples)],
            "detected": bool(slower.ci[0] > 1.0 and slower.ci[0] <= slower.ratio <= slower.ci[1]), "significant": slower.significant,
            "speedup": math.isclose(slower.speedup, 1 / slower.ratio), "n": [slower.a.n, slower.b.n], "order": log,
            "same_seed": bootstrap_ratio_ci(a, b, seed=seeds[3]) == bootstrap_ratio_ci(a, b, seed=seeds[3]),
            "constant_ratio": [math.isclose(low, 3.0), math.isclose(high, 3.0)],
            "nested": bool(wide[0] < narrow[0] <= ratio <= narrow[1] < wide[1])}


@probe("environment")
def captured_environment(rng):
    import os
    import platform
    import sys
    import types

    from tinytorch.benchmarking import environment

    threads, load = int(rng.integers(1, 9)), tuple(float(v) for v in np.round(rng.uniform(0, 4, size=3), 2))
    value = str(int(rng.integers(1, 9)))
    fake = types.ModuleType("threadpoolctl")
    fake.threadpool_info = lambda: [{"user_api": "openmp", "internal_api": "openmp", "num_threads": 8},
                                    {"user_api": "blas", "internal_api": "fakeblas", "num_threads": threads}]
    saved_module = sys.modules.get("threadpoolctl", "absent")
    saved_env = {name: os.environ.get(name) for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    had_load, saved_load = hasattr(os, "getloadavg"), getattr(os, "getloadavg", None)
    try:
        sys.modules["threadpoolctl"] = fake
        os.environ["OMP_NUM_THREADS"] = value
        os.environ.pop("MKL_NUM_THREADS", None)
        os.getloadavg = lambda: load
        env = environment()
        del os.getloadavg
        no_load = environment()["load_average"]
        sys.modules["threadpoolctl"] = None  # `import threadpoolctl` now raises ImportError
        without = environment()
    finally:
        if saved_module == "absent":
            sys.modules.pop("threadpoolctl", None)
        else:
            sys.modules["threadpoolctl"] = saved_module
        for name, old in saved_env.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old
        if had_load:
            os.getloadavg = saved_load
        elif hasattr(os, "getloadavg"):
            del os.getloadavg
    try:
        expected_blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"]
    except Exception:  # noqa: BLE001
        expected_blas = None
    return {"running": [env["python"] == platform.python_version(), env["implementation"] == platform.python_implementation(),
                        env["numpy"] == np.__version__, env["cpu_count"] == os.cpu_count(), env["platform"] == platform.platform(),
                        env["machine"] == platform.machine(), 1 <= env["cpus_usable"] <= env["cpu_count"]],
            "blas": [env["blas"], env["blas_threads"]], "load": list(env["load_average"]), "no_load": no_load is None,
            "env": [env["env"].get("OMP_NUM_THREADS"), "MKL_NUM_THREADS" in env["env"]],
            "without_threadpoolctl": [without["blas_threads"] is None, without["blas"] == expected_blas]}


@probe("report")
def pareto_and_report(rng):
    from tinytorch.benchmarking import Result, Stats, dominates, measure, pareto_front, report

    names = list("ABCDEF")
    latencies = rng.choice([0.5e-3, 1e-3, 2e-3, 3e-3], size=6)
    accuracies = rng.choice([0.80, 0.90, 0.95], size=6)
    sizes = rng.choice([100, 200, 400], size=6)
    results = [Result(n, Stats([float(t)] * 3), {"accuracy": float(a), "size": int(s)}) for n, t, a, s in zip(names, latencies, accuracies, sizes)]
    results.append(Result("G", Stats([float(latencies[0])] * 3), {"size": int(sizes[0]) * 2}))  # no accuracy
    matrix = [[dominates(x, y) for y in results] for x in results]
    front = [r.name for r in pareto_front(results)]
    loss_front = [r.name for r in pareto_front([Result("x", Stats([1e-3]), {"loss": 1.5}), Result("y", Stats([1e-3]), {"loss": 1.6})],
                                               {"latency": "min", "loss": "min"})]
    clock, calls = _Clock(), []
    step = float(rng.choice([0.002, 0.004, 0.008]))

    def fn():
        clock.now += step

    def accuracy():
        calls.append(1)
        return 0.875

    measured = measure("model", fn, metrics={"accuracy": accuracy, "size": 1234}, warmup=1, repeats=5, loops=1, clock=clock)
    env = {"python": "3.x", "implementation": "CPython", "numpy": np.__version__, "blas": "fakeblas", "blas_threads": 1,
           "cpu_count": 2, "cpus_usable": 2, "load_average": (0.5, 0.5, 0.5), "env": {}}
    base = results[int(rng.integers(0, 6))]
    text = report(results, baseline=base.name, env=env)
    lines = {r.name: next((line for line in text.splitlines() if line.startswith(r.name + " ")), "") for r in results}
    verdicts = []
    for j, r in enumerate(results):
        winners = [results[i].name for i in range(len(results)) if matrix[i][j]]
        verdicts.append(("dominated by " + ", ".join(winners)) in lines[r.name] if winners else "front" in lines[r.name])
    speedups = [f"{base.stats.median / r.stats.median:.2f}×" in lines[r.name] for r in results]
    return {"dominates": matrix, "front": front, "loss_front": loss_front, "measure": [len(calls), measured.metrics["accuracy"],
                                                                                       measured.metrics["size"], measured.stats.n, measured.value("latency")],
            "verdicts": verdicts, "speedups": speedups, "numpy_line": f"NumPy {np.__version__}" in text}
