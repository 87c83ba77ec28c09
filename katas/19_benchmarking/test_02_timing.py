"""Step 2: timing — warm-up excluded, loops calibrated to a minimum sample time, samples per call, an injected clock."""

import math

import numpy as np

from dojo.testing import raises
from tinytorch.benchmarking import benchmark, calibrate, timer_resolution


class FakeClock:
    """Moves only when the benchmarked function says it worked."""

    def __init__(self):
        self.now = 50.0

    def __call__(self):
        return self.now


class Work:
    """A function taking costs[i] fake seconds on its i-th call (the last cost repeats)."""

    def __init__(self, clock, *costs):
        self.clock, self.costs, self.calls = clock, costs, 0

    def __call__(self):
        self.clock.now += self.costs[min(self.calls, len(self.costs) - 1)]
        self.calls += 1


def close(a, b):
    return math.isclose(a, b, rel_tol=1e-9)


def test_warm_up_calls_are_not_measured():
    """Two cold calls of 100 ms, then 1 ms: with warmup=2 every sample is 1 ms; with warmup=0 the first is 100 ms.

    Hint: benchmark calls fn warmup times BEFORE any timing, then takes repeats samples; read only the clock
    passed in (clock=...), never time.perf_counter directly.
    """
    clock = FakeClock()
    stats = benchmark(Work(clock, 0.1, 0.1, 0.001), warmup=2, repeats=5, loops=1, clock=clock)
    assert all(close(s, 0.001) for s in stats.samples), stats.samples
    assert stats.warmup == 2 and stats.n == 5
    cold = benchmark(Work(clock, 0.1, 0.1, 0.001), warmup=0, repeats=5, loops=1, clock=clock)
    assert close(cold.samples[0], 0.1) and close(cold.median, 0.001)


def test_samples_are_seconds_per_call():
    """loops=4 calls of 2 ms per sample: each sample is 2 ms (not 8), and fn ran warmup + repeats·loops times.

    Hint: each sample times loops calls together and divides by loops (the given _sample(fn, loops, clock)
    does this); fn must run exactly warmup + repeats·loops times when loops is given, with no calibration.
    """
    clock = FakeClock()
    work = Work(clock, 0.002)
    stats = benchmark(work, warmup=3, repeats=6, loops=4, clock=clock)
    assert all(close(s, 0.002) for s in stats.samples) and stats.loops == 4
    assert work.calls == 3 + 6 * 4, work.calls


def test_calibrate_picks_the_first_loop_count_long_enough():
    """0.3 ms per call, 1 ms minimum: 1 call (0.3 ms) and 2 (0.6 ms) are too short, 5 (1.5 ms) is enough.

    Hint: calibrate tries the counts 1, 2, 5, 10, 20, 50 ... from _loop_counts(): time that many calls in a
    row with the clock and return the first count whose elapsed time is >= min_time.
    """
    clock = FakeClock()
    assert calibrate(Work(clock, 0.0003), min_time=0.001, clock=clock) == 5
    assert calibrate(Work(clock, 0.0003), min_time=0.01, clock=clock) == 50
    assert calibrate(Work(clock, 0.05), min_time=0.001, clock=clock) == 1


def test_benchmark_calibrates_so_every_sample_lasts_the_minimum():
    """Without loops, benchmark calibrates: every sample (loops × time per call) lasts at least min_time.

    Hint: when loops is None, call calibrate(fn, min_time=min_time, clock=clock) after the warm-up and use its
    result as loops for every sample; store loops in the returned Stats.
    """
    clock = FakeClock()
    costs = 0.0003 * (1 + 0.1 * np.random.default_rng(0).uniform(-1, 1, 400))
    stats = benchmark(Work(clock, *costs), warmup=1, repeats=10, min_time=0.002, clock=clock)
    assert stats.loops == 10, f"loops = {stats.loops}: 5 calls of about 0.3 ms are not 2 ms, 10 are"
    assert all(s * stats.loops >= 0.002 * 0.999 for s in stats.samples), [s * stats.loops for s in stats.samples]


def test_bad_arguments():
    """repeats < 1, warmup < 0 or loops < 1: ValueError.

    Hint: raise ValueError at the top of benchmark when repeats < 1, warmup < 0 or a given loops < 1, before
    calling fn.
    """
    clock = FakeClock()
    for kwargs in ({"repeats": 0}, {"warmup": -1}, {"loops": 0}):
        with raises(ValueError):
            benchmark(Work(clock, 0.001), clock=clock, **kwargs)


class TickingClock:
    """A clock that advances 0.4 ms per reading but only shows whole milliseconds."""

    def __init__(self):
        self.true = 0.0

    def __call__(self):
        self.true += 0.0004
        return math.floor(self.true / 0.001) * 0.001


def test_timer_resolution_is_the_smallest_step():
    """A clock showing whole milliseconds has a 1 ms resolution; a clock that never moves gives 0.0 (and returns).

    Hint: read the clock reads times and keep the smallest POSITIVE difference between consecutive readings;
    if it never moved return 0.0, and loop a fixed number of times (never 'until it changes').
    """
    assert math.isclose(timer_resolution(TickingClock(), reads=100), 0.001, rel_tol=1e-6)
    assert timer_resolution(lambda: 7.0, reads=100) == 0.0
