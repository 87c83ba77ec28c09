"""Kata 19 — Benchmarking: is the speedup real?

Katas 14–18 made claims: the cache is faster, the fast backend is faster, int8 weights are
smaller, pruned layers are faster, and accuracy barely moved. A claim needs a measurement that
would have caught it being false. Timing one call with ``time.perf_counter`` twice does not:
the first call pays for cold caches, a timer tick can be longer than the call, another program
steals the CPU for a moment, the machine heats up and slows down while you measure A and then B.
This module is a small harness of the kind pyperf, pytest-benchmark and hyperfine are:

* :func:`benchmark` — warm-up calls first (not measured), then ``repeats`` samples, each the
  mean of ``loops`` calls with ``loops`` calibrated so that one sample is long compared with the
  clock's resolution;
* :class:`Stats` — median, quartiles and IQR, p90/p99 (the same numbers as ``np.percentile``),
  outliers by Tukey's fences: robust figures that one slow run cannot move;
* :func:`compare` — A and B **interleaved** (drift hits both alike), the ratio of their
  medians and a seeded bootstrap confidence interval: a 2× slowdown is *detected*, a no-change
  is *not* reported as a change;
* :func:`environment` — what the numbers depend on: Python, NumPy, the BLAS and its threads, the
  CPUs and the load;
* :func:`measure` and :func:`report` — accuracy and size beside latency, and a Pareto view: which
  candidates are beaten on every axis by another (dominated), and which are real trade-offs.

Every timing function takes ``clock`` (default ``time.perf_counter``): tests inject a fake
clock, so no test ever depends on how fast or busy the machine is.

Example
-------
>>> import numpy as np
>>> a, b = np.ones((64, 64), np.float32), np.ones((64, 64), np.float64)
>>> stats = benchmark(lambda: a @ a, repeats=10)                        # doctest: +SKIP
>>> print(stats)                                                          # doctest: +SKIP
median 9.81 µs · IQR 0.3 µs · p90 10.2 µs · p99 10.9 µs · 10 samples × 50 loops · 0 outliers
>>> cmp = compare(lambda: a @ a, lambda: b @ b, rounds=20)               # doctest: +SKIP
>>> cmp.ratio, cmp.ci                                                     # doctest: +SKIP
(2.04, (1.97, 2.11))
"""

from __future__ import annotations

import math
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field

import numpy as np
from tabulate import tabulate

__all__ = [
    "DEFAULT_MIN_TIME", "format_time",
    "percentile", "Stats",
    "timer_resolution", "calibrate", "benchmark",
    "bootstrap_ratio_ci", "Comparison", "compare",
    "environment",
    "Result", "measure", "dominates", "pareto_front", "DEFAULT_OBJECTIVES", "report",
]

DEFAULT_MIN_TIME = 1e-3  # seconds: the shortest sample worth timing when nothing else is said


def format_time(seconds: float) -> str:
    """``0.00123`` -> ``'1.23 ms'`` (ns, µs, ms or s, three significant digits)."""
    if seconds is None or not math.isfinite(seconds):
        return str(seconds)
    for factor, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if abs(seconds) >= factor:
            return f"{seconds / factor:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


# ---------------------------------------------------------------------------------------------
# Step 1: robust statistics
# ---------------------------------------------------------------------------------------------


def percentile(samples, q: float) -> float:
    """The ``q``-th percentile (0 ≤ q ≤ 100) of ``samples``, by linear interpolation.

    The same definition as ``np.percentile(samples, q)`` (its default, "linear"): sort the
    ``n`` values; the percentile sits at the fractional position ``h = (n - 1) · q / 100``;
    return ``x[⌊h⌋] + (h - ⌊h⌋) · (x[⌊h⌋ + 1] - x[⌊h⌋])`` (just ``x[⌊h⌋]`` at the last one).
    So the 0th is the minimum, the 100th the maximum, the 50th the median.

    Raises ``ValueError`` for no samples or ``q`` outside [0, 100].

    >>> percentile([1.0, 2.0, 3.0, 4.0], 50), percentile([1.0, 2.0, 3.0, 4.0], 90)
    (2.5, 3.7)
    """
    ### BEGIN SOLUTION stats
    x = np.sort(np.asarray(samples, dtype=np.float64).ravel())
    if x.size == 0:
        raise ValueError("percentile of no samples")
    if not 0 <= q <= 100:
        raise ValueError(f"q must be between 0 and 100, got {q}")
    h = (x.size - 1) * (q / 100)
    lower = min(int(math.floor(h)), x.size - 1)
    if lower == x.size - 1:
        return float(x[lower])
    return float(x[lower] + (h - lower) * (x[lower + 1] - x[lower]))
    ### END SOLUTION


@dataclass(frozen=True)
class Stats:
    """Timings of one benchmark: ``samples`` are **seconds per call**, one per timed sample.

    Parameters
    ----------
    samples : sequence of float
        At least one. Each is the time of ``loops`` calls divided by ``loops``.
    loops : int
        Calls per sample (see :func:`calibrate`).
    warmup : int
        Calls made before the first sample and not measured.

    The properties are computed from the samples: ``median``, ``q1``/``q3`` (25th and 75th
    percentiles) and ``iqr = q3 - q1``, ``p90``, ``p99``, ``mean``, ``stdev`` (n - 1), ``min``,
    ``max``, and :attr:`outliers`.

    >>> s = Stats([1.0, 2.0, 3.0, 4.0, 100.0])
    >>> s.median, s.iqr, s.outliers.tolist()
    (3.0, 2.0, [4])
    """

    samples: tuple
    loops: int = 1
    warmup: int = 0

    def __post_init__(self):
        samples = tuple(float(s) for s in np.asarray(self.samples, dtype=np.float64).ravel())
        if not samples:
            raise ValueError("Stats needs at least one sample")
        object.__setattr__(self, "samples", samples)

    @property
    def n(self) -> int:
        return len(self.samples)

    def percentile(self, q: float) -> float:
        return percentile(self.samples, q)

    @property
    def median(self) -> float:
        return self.percentile(50)

    @property
    def q1(self) -> float:
        return self.percentile(25)

    @property
    def q3(self) -> float:
        return self.percentile(75)

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1

    @property
    def p90(self) -> float:
        return self.percentile(90)

    @property
    def p99(self) -> float:
        return self.percentile(99)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.samples)

    @property
    def stdev(self) -> float:
        return statistics.stdev(self.samples) if self.n > 1 else 0.0

    @property
    def min(self) -> float:
        return min(self.samples)

    @property
    def max(self) -> float:
        return max(self.samples)

    @property
    def fences(self) -> tuple:
        """Tukey's fences ``(q1 - 1.5·IQR, q3 + 1.5·IQR)``: samples outside them are outliers."""
        ### BEGIN SOLUTION stats
        return self.q1 - 1.5 * self.iqr, self.q3 + 1.5 * self.iqr
        ### END SOLUTION

    @property
    def outliers(self) -> np.ndarray:
        """Indices (into ``samples``, ascending) of the samples outside :attr:`fences`.

        They are reported, not removed: an outlier is a fact about the machine (a context
        switch, a page fault, a frequency change). The median is robust to them already.
        """
        ### BEGIN SOLUTION stats
        low, high = self.fences
        x = np.asarray(self.samples)
        return np.flatnonzero((x < low) | (x > high))
        ### END SOLUTION

    def summary(self) -> dict:
        """The figures as a plain dict (seconds), e.g. for a JSON results file."""
        return {
            "median": self.median, "q1": self.q1, "q3": self.q3, "iqr": self.iqr, "p90": self.p90,
            "p99": self.p99, "mean": self.mean, "stdev": self.stdev, "min": self.min, "max": self.max,
            "samples": self.n, "loops": self.loops, "warmup": self.warmup, "outliers": len(self.outliers),
        }

    def __str__(self):
        return (f"median {format_time(self.median)} · IQR {format_time(self.iqr)} · p90 {format_time(self.p90)} · "
                f"p99 {format_time(self.p99)} · {self.n} samples × {self.loops} loops · {len(self.outliers)} outliers")


# ---------------------------------------------------------------------------------------------
# Step 2: timing — warm-up, calibration, samples
# ---------------------------------------------------------------------------------------------


def timer_resolution(clock=time.perf_counter, reads: int = 1000) -> float:
    """The smallest positive step between consecutive readings of ``clock`` over ``reads`` readings.

    ``time.perf_counter`` steps by well under a microsecond on Linux; other clocks by
    milliseconds. Returns 0.0 when the clock never moved (a fake clock): the caller falls back
    to a default then. Never loops forever.
    """
    ### BEGIN SOLUTION timing
    smallest = math.inf
    previous = clock()
    for _ in range(reads):
        now = clock()
        if now > previous:
            smallest = min(smallest, now - previous)
        previous = now
    return 0.0 if smallest == math.inf else float(smallest)
    ### END SOLUTION


def _loop_counts():
    """1, 2, 5, 10, 20, 50, 100, ... (the series of ``timeit``'s autorange)."""
    base = 1
    while True:
        for step in (1, 2, 5):
            yield base * step
        base *= 10


def calibrate(fn, *, min_time: float, clock=time.perf_counter, max_loops: int = 1_000_000) -> int:
    """How many calls one sample needs so that it lasts at least ``min_time`` seconds.

    Try ``loops`` = 1, 2, 5, 10, 20, 50, ... (``timeit``'s series): time ``loops`` calls of
    ``fn`` in a row with ``clock``, and return the first count whose time is ``>= min_time``
    (``max_loops`` if none is). A sample much longer than the clock's resolution makes the
    timer's rounding negligible; the calls made here are warm-up too, never samples.

    >>> calibrate(lambda: None, min_time=0.0)
    1
    """
    ### BEGIN SOLUTION timing
    for loops in _loop_counts():
        if loops >= max_loops:
            return max_loops
        start = clock()
        for _ in range(loops):
            fn()
        if clock() - start >= min_time:
            return loops
    ### END SOLUTION


def _sample(fn, loops, clock) -> float:
    """Scaffolding: seconds per call of ``loops`` calls of ``fn`` timed together."""
    start = clock()
    for _ in range(loops):
        fn()
    return (clock() - start) / loops


def benchmark(fn, *, warmup: int = 1, repeats: int = 20, loops: int | None = None, min_time: float | None = None,
              clock=time.perf_counter) -> Stats:
    """Time ``fn()`` (no arguments: use a lambda) and return its :class:`Stats`.

    1. ``warmup`` calls, not measured (the first calls fill caches and allocate);
    2. ``loops``: as given, else :func:`calibrate` with ``min_time`` (default: the larger of
       :data:`DEFAULT_MIN_TIME` and 1000 × :func:`timer_resolution`, so the clock's rounding is
       at most 0.1% of a sample);
    3. ``repeats`` samples, each ``loops`` calls timed together and divided by ``loops``.

    For a slow ``fn`` (a generation of 256 tokens) pass ``loops=1`` to skip the calibration.
    Raises ``ValueError`` when ``repeats < 1``, ``warmup < 0`` or ``loops < 1``.
    """
    ### BEGIN SOLUTION timing
    if repeats < 1 or warmup < 0 or (loops is not None and loops < 1):
        raise ValueError(f"need repeats >= 1, warmup >= 0, loops >= 1; got {repeats}, {warmup}, {loops}")
    for _ in range(warmup):
        fn()
    if loops is None:
        if min_time is None:
            min_time = max(DEFAULT_MIN_TIME, 1000 * timer_resolution(clock))
        loops = calibrate(fn, min_time=min_time, clock=clock)
    samples = [_sample(fn, loops, clock) for _ in range(repeats)]
    return Stats(samples, loops=loops, warmup=warmup)
    ### END SOLUTION


# ---------------------------------------------------------------------------------------------
# Step 3: A/B comparison
# ---------------------------------------------------------------------------------------------


def bootstrap_ratio_ci(a_samples, b_samples, *, confidence: float = 0.95, resamples: int = 2000,
                       seed: int = 0) -> tuple:
    """A bootstrap confidence interval for ``median(b) / median(a)`` from **paired** samples.

    ``a_samples[i]`` and ``b_samples[i]`` were measured in the same round (same length). Draw
    ``resamples`` sets of ``n`` round indices with replacement from
    ``np.random.default_rng(seed)`` (``rng.integers(0, n, size=(resamples, n))``), compute the
    ratio of medians for each, and return the ``(1 - confidence) / 2`` and
    ``(1 + confidence) / 2`` percentiles of those ratios (``np.percentile``, in percent).
    Resampling whole rounds keeps what a round shared (the machine's state at that moment).
    The same seed gives the same interval.
    """
    ### BEGIN SOLUTION compare
    a, b = np.asarray(a_samples, dtype=np.float64), np.asarray(b_samples, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or a.size == 0:
        raise ValueError(f"paired samples of the same length needed, got {a.shape} and {b.shape}")
    index = np.random.default_rng(seed).integers(0, a.size, size=(resamples, a.size))
    ratios = np.median(b[index], axis=1) / np.median(a[index], axis=1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(ratios, [tail, 100 - tail])
    return float(low), float(high)
    ### END SOLUTION


@dataclass
class Comparison:
    """The result of :func:`compare`: ``b`` against ``a``.

    Attributes
    ----------
    a, b : Stats
        Their samples, measured in the same interleaved rounds.
    ratio : float
        ``b.median / a.median``: how many times as long ``b`` takes (2.0: twice as slow).
    ci : (float, float)
        The bootstrap confidence interval of ``ratio`` at level ``confidence``.
    names : (str, str)
    """

    a: Stats
    b: Stats
    ratio: float
    ci: tuple
    confidence: float = 0.95
    names: tuple = ("a", "b")

    @property
    def speedup(self) -> float:
        """``a.median / b.median``: how many times faster ``b`` is (``compare(baseline, optimized).speedup``)."""
        return 1.0 / self.ratio

    @property
    def speedup_ci(self) -> tuple:
        return 1.0 / self.ci[1], 1.0 / self.ci[0]

    @property
    def significant(self) -> bool:
        """True when the interval excludes 1: the difference is not explained by the noise."""
        return not self.ci[0] <= 1.0 <= self.ci[1]

    def __str__(self):
        a, b = self.names
        level = f"{self.confidence:.0%} CI"
        if not self.significant:
            verdict = "no significant difference"
        elif self.ratio > 1:
            verdict = f"{b} is {self.ratio:.2f}× slower"
        else:
            verdict = f"{b} is {self.speedup:.2f}× faster"
        return (f"{b} / {a} = {self.ratio:.3f} ({level} {self.ci[0]:.3f}–{self.ci[1]:.3f}): {verdict} "
                f"[median {format_time(self.a.median)} vs {format_time(self.b.median)}, {self.a.n} interleaved rounds]")


def compare(a, b, *, rounds: int = 20, warmup: int = 1, loops: int | None = None, min_time: float | None = None,
            clock=time.perf_counter, seed: int = 0, confidence: float = 0.95, resamples: int = 2000,
            names=("a", "b")) -> Comparison:
    """Benchmark ``a()`` against ``b()`` in interleaved rounds; the ratio of medians and its CI.

    1. ``warmup`` calls of ``a`` then of ``b``, not measured;
    2. ``loops`` for each (given, or :func:`calibrate` for each with ``min_time`` as in
       :func:`benchmark`);
    3. ``rounds`` rounds, each one sample of ``a`` and one of ``b`` — ``a`` first in even rounds,
       ``b`` first in odd ones (A B, B A, A B, ...), so a machine that slowly speeds up or slows
       down favours neither. Measuring all of ``a`` and then all of ``b`` would report the
       drift as a difference;
    4. ``ratio = median(b) / median(a)`` and ``ci = bootstrap_ratio_ci(...)`` with ``seed``.

    Returns a :class:`Comparison` holding both :class:`Stats`.
    """
    ### BEGIN SOLUTION compare
    if rounds < 2 or warmup < 0:
        raise ValueError(f"need rounds >= 2 and warmup >= 0, got {rounds}, {warmup}")
    for _ in range(warmup):
        a()
    for _ in range(warmup):
        b()
    if min_time is None:
        min_time = max(DEFAULT_MIN_TIME, 1000 * timer_resolution(clock))
    loops_a = loops if loops is not None else calibrate(a, min_time=min_time, clock=clock)
    loops_b = loops if loops is not None else calibrate(b, min_time=min_time, clock=clock)
    samples_a, samples_b = [], []
    for i in range(rounds):
        if i % 2 == 0:
            samples_a.append(_sample(a, loops_a, clock))
            samples_b.append(_sample(b, loops_b, clock))
        else:
            samples_b.append(_sample(b, loops_b, clock))
            samples_a.append(_sample(a, loops_a, clock))
    stats_a = Stats(samples_a, loops=loops_a, warmup=warmup)
    stats_b = Stats(samples_b, loops=loops_b, warmup=warmup)
    ci = bootstrap_ratio_ci(samples_a, samples_b, confidence=confidence, resamples=resamples, seed=seed)
    return Comparison(stats_a, stats_b, stats_b.median / stats_a.median, ci, confidence, tuple(names))
    ### END SOLUTION


# ---------------------------------------------------------------------------------------------
# Step 4: the environment
# ---------------------------------------------------------------------------------------------

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "TINYTORCH_THREADS")


def _blas_from_numpy():
    """Scaffolding: the BLAS NumPy was built with, from ``np.show_config(mode="dicts")`` (NumPy >= 1.26)."""
    try:
        config = np.show_config(mode="dicts")
        return config["Build Dependencies"]["blas"]["name"]
    except Exception:  # older NumPy, or a build that does not say
        return None


def environment() -> dict:
    """What a timing depends on, captured now, as a plain dict (JSON-friendly).

    Keys:

    * ``python`` — ``platform.python_version()``; ``implementation`` — ``platform.python_implementation()``
    * ``platform`` — ``platform.platform()``; ``machine`` — ``platform.machine()``
    * ``numpy`` — ``np.__version__``
    * ``blas`` — the BLAS library's name: from threadpoolctl's ``threadpool_info()`` (the first
      entry whose ``user_api`` is ``"blas"``: its ``internal_api``, e.g. ``"openblas"``) when
      threadpoolctl can be imported, else from :func:`_blas_from_numpy`; None if unknown
    * ``blas_threads`` — that entry's ``num_threads``; None without threadpoolctl
    * ``cpu_count`` — ``os.cpu_count()``; ``cpus_usable`` — ``len(os.sched_getaffinity(0))``
      where it exists (Linux), else ``cpu_count``
    * ``load_average`` — ``os.getloadavg()`` as a tuple of 3 floats, None where it does not
      exist (Windows)
    * ``env`` — ``{name: value}`` of the thread variables in :data:`THREAD_VARIABLES` that are set

    Import threadpoolctl inside the function (``try: from threadpoolctl import threadpool_info``
    / ``except ImportError``): it is optional.
    """
    ### BEGIN SOLUTION environment
    blas, threads = None, None
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        threadpool_info = None
    if threadpool_info is not None:
        for info in threadpool_info():
            if info.get("user_api") == "blas":
                blas, threads = info.get("internal_api"), info.get("num_threads")
                break
    if blas is None:
        blas = _blas_from_numpy()
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count()
    try:
        load = tuple(float(v) for v in os.getloadavg())
    except (AttributeError, OSError):
        load = None
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "numpy": np.__version__,
        "blas": blas,
        "blas_threads": threads,
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "load_average": load,
        "env": {name: os.environ[name] for name in THREAD_VARIABLES if name in os.environ},
    }
    ### END SOLUTION


def _describe(env: dict) -> str:
    """Scaffolding: one line for the foot of a report."""
    threads = env.get("blas_threads")
    load = env.get("load_average")
    parts = [
        f"Python {env.get('python')} ({env.get('implementation')})",
        f"NumPy {env.get('numpy')}",
        f"BLAS {env.get('blas') or 'unknown'}" + (f" ({threads} thread{'s' if threads != 1 else ''})" if threads else ""),
        f"{env.get('cpus_usable')}/{env.get('cpu_count')} CPUs",
        "load " + ("/".join(f"{v:.2f}" for v in load) if load else "unknown"),
    ]
    if env.get("env"):
        parts.append(" ".join(f"{k}={v}" for k, v in env["env"].items()))
    return " · ".join(parts)


# ---------------------------------------------------------------------------------------------
# Step 5: accuracy beside latency, the Pareto view, the report
# ---------------------------------------------------------------------------------------------

# What is better on each axis: "min" (lower is better) or "max". "latency" is the median time.
DEFAULT_OBJECTIVES = {"latency": "min", "accuracy": "max", "size": "min"}


@dataclass
class Result:
    """One candidate: its timing and the other things measured about it.

    ``metrics`` holds the other figures by name (``{"accuracy": 0.97, "size": 412_000}``);
    ``value("latency")`` is ``stats.median``.
    """

    name: str
    stats: Stats | None = None
    metrics: dict = field(default_factory=dict)

    def value(self, key: str):
        """The figure ``key``: ``"latency"`` is the median time; otherwise ``metrics.get(key)``."""
        if key == "latency":
            return self.stats.median if self.stats is not None else None
        return self.metrics.get(key)


def measure(name: str, fn, *, metrics: dict | None = None, **benchmark_kwargs) -> Result:
    """Benchmark ``fn`` and measure the other figures **now**, in the same run: a :class:`Result`.

    ``metrics`` maps names to numbers or to zero-argument callables; each callable is called once
    here (``{"accuracy": lambda: evaluate(model)}``), so an accuracy is measured on the model
    being timed, never copied from somewhere else. ``benchmark_kwargs`` go to :func:`benchmark`.
    """
    ### BEGIN SOLUTION report
    stats = benchmark(fn, **benchmark_kwargs)
    values = {key: (value() if callable(value) else value) for key, value in (metrics or {}).items()}
    return Result(name, stats, values)
    ### END SOLUTION


def dominates(x: Result, y: Result, objectives: dict = DEFAULT_OBJECTIVES) -> bool:
    """True when ``x`` is at least as good as ``y`` on every objective and strictly better on one.

    ``objectives`` maps a figure's name to ``"min"`` or ``"max"``. An objective that either
    result lacks (None) is left out; with nothing left to compare, nothing dominates.
    Equal results do not dominate each other.
    """
    ### BEGIN SOLUTION report
    better = compared = 0
    for key, direction in objectives.items():
        if direction not in ("min", "max"):
            raise ValueError(f"objective {key!r}: direction must be 'min' or 'max', got {direction!r}")
        u, v = x.value(key), y.value(key)
        if u is None or v is None:
            continue
        compared += 1
        if direction == "max":
            u, v = -u, -v
        if u > v:
            return False
        better += u < v
    return compared > 0 and better > 0
    ### END SOLUTION


def pareto_front(results, objectives: dict = DEFAULT_OBJECTIVES) -> list:
    """The results no other result dominates, in their original order: the real trade-offs."""
    ### BEGIN SOLUTION report
    results = list(results)
    return [r for r in results if not any(dominates(other, r, objectives) for other in results if other is not r)]
    ### END SOLUTION


def report(results, *, objectives: dict = DEFAULT_OBJECTIVES, baseline: str | None = None, env=True) -> str:
    """A table (tabulate) of the candidates, their figures, and the Pareto verdict.

    Columns: name; median, IQR, p90, p99 (:func:`format_time`); samples as ``"20×5"``
    (samples × loops); outliers; with ``baseline`` (a result's name) ``speedup`` =
    ``baseline median / median`` as ``"2.00×"``; one column per other objective (the metric's
    value, ``-`` when missing); and ``pareto``: ``"front"`` or ``"dominated by A, B"`` (the
    names of the results that dominate it). Below the table, with ``env`` (True: capture
    :func:`environment` now; or a dict captured earlier), one line describing the machine.
    """
    ### BEGIN SOLUTION report
    results = list(results)
    base = None
    if baseline is not None:
        base = next((r for r in results if r.name == baseline), None)
        if base is None:
            raise ValueError(f"baseline {baseline!r} is not one of {[r.name for r in results]}")
    others = [key for key in objectives if key != "latency"]
    headers = ["name", "median", "IQR", "p90", "p99", "samples", "outliers"]
    headers += ([f"speedup vs {baseline}"] if base else []) + others + ["pareto"]
    rows = []
    for r in results:
        s = r.stats
        row = [r.name]
        if s is not None:
            row += [format_time(s.median), format_time(s.iqr), format_time(s.p90), format_time(s.p99),
                    f"{s.n}×{s.loops}", len(s.outliers)]
        else:
            row += ["-"] * 6
        if base:
            row.append(f"{base.stats.median / s.median:.2f}×" if s is not None and base.stats is not None else "-")
        for key in others:
            value = r.value(key)
            row.append("-" if value is None else (f"{value:.4g}" if isinstance(value, float) else f"{value:,}"))
        winners = [o.name for o in results if o is not r and dominates(o, r, objectives)]
        row.append("dominated by " + ", ".join(winners) if winners else "front")
        rows.append(row)
    text = tabulate(rows, headers=headers, disable_numparse=True)
    if env:
        text += "\n" + _describe(environment() if env is True else env)
    return text
    ### END SOLUTION
