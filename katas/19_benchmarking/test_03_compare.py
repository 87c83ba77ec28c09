"""Step 3: compare — interleaved A/B rounds, the ratio of medians, a seeded bootstrap confidence interval."""

import math

import numpy as np

from tinytorch.benchmarking import benchmark, bootstrap_ratio_ci, compare


class FakeClock:
    def __init__(self):
        self.now, self.calls = 0.0, 0

    def __call__(self):
        return self.now


def work(clock, cost, seed, noise=0.05, drift=0.0, log=None, name=None):
    """A function of `cost` seconds, ±noise (seeded); with drift, every call of anything on this
    clock makes later calls slower (a machine heating up)."""
    rng = np.random.default_rng(seed)

    def fn():
        clock.now += cost * (1 + drift * clock.calls) * (1 + noise * rng.standard_normal())
        clock.calls += 1
        if log is not None:
            log.append(name)

    return fn


def test_a_2x_slowdown_is_detected():
    """b takes twice as long as a (±5% noise each): the ratio is about 2 and its 95% CI excludes 1 —
    in every one of 20 seeded experiments (500 bootstrap resamples each: the same verdicts as 2000).

    Hint: compare returns Comparison(Stats(a), Stats(b), ratio = median(b) / median(a), ci, ...) with one
    sample of each per round; the ratio is b over a, not a over b.
    """
    for i in range(20):
        clock = FakeClock()
        result = compare(work(clock, 1e-3, 2 * i), work(clock, 2e-3, 2 * i + 1), rounds=15, loops=1, clock=clock, seed=i,
                         resamples=500)
        assert 1.8 < result.ratio < 2.2, result.ratio
        assert result.ci[0] > 1.0 and result.ci[0] <= result.ratio <= result.ci[1], (result.ratio, result.ci)
        assert result.significant and math.isclose(result.speedup, 1 / result.ratio)
        assert math.isclose(result.ratio, result.b.median / result.a.median)
        assert (result.a.n, result.b.n) == (15, 15)


def test_no_change_is_not_reported_as_one():
    """The same cost on both sides, 20 seeded experiments (500 bootstrap resamples each): the CI contains 1 in
    nearly all of them (a 95% interval misses in about 1 of 20 by design; at most 3 here), and the ratio stays
    near 1.

    Hint: the CI must come from bootstrap_ratio_ci on the paired per-round samples with the given seed and the
    (1 - confidence)/2 tails (2.5 and 97.5 for 95%); a too-narrow interval flags noise as a change.
    """
    misses = 0
    for i in range(20):
        clock = FakeClock()
        result = compare(work(clock, 1e-3, 2 * i), work(clock, 1e-3, 2 * i + 1), rounds=15, loops=1, clock=clock, seed=i,
                         resamples=500)
        assert 0.9 < result.ratio < 1.1, result.ratio
        assert result.significant == (not result.ci[0] <= 1.0 <= result.ci[1])
        misses += result.significant
    assert misses <= 3, f"{misses} of 20 no-change experiments reported a significant difference"


def test_interleaving_cancels_drift():
    """On a machine that slows down 5% per call, two identical functions measured one after the
    other differ by more than 1.5×; interleaved (A B, B A, ...) the CI still contains 1.

    Hint: interleave inside each round: even rounds sample a then b, odd rounds b then a; measuring all of a
    first and then all of b turns the drift into a fake difference.
    """
    clock = FakeClock()
    first = benchmark(work(clock, 1e-3, 5, noise=0.02, drift=0.05), warmup=1, repeats=20, loops=1, clock=clock)
    second = benchmark(work(clock, 1e-3, 6, noise=0.02, drift=0.05), warmup=1, repeats=20, loops=1, clock=clock)
    assert second.median / first.median > 1.5  # the drift, mistaken for a difference
    clock = FakeClock()
    result = compare(work(clock, 1e-3, 5, noise=0.02, drift=0.05), work(clock, 1e-3, 6, noise=0.02, drift=0.05),
                     rounds=20, loops=1, clock=clock, seed=0)
    assert result.ci[0] <= 1.0 <= result.ci[1], f"ratio {result.ratio}, CI {result.ci}"


def test_rounds_alternate_which_goes_first():
    """After the warm-ups (a, then b), round 0 runs a then b, round 1 b then a, and so on.

    Hint: order: warmup calls of a, then warmup calls of b, then round i: a, b when i is even and b, a when i
    is odd; no calibration calls when loops is given.
    """
    clock, log = FakeClock(), []
    compare(work(clock, 1e-3, 0, log=log, name="a"), work(clock, 1e-3, 1, log=log, name="b"),
            rounds=4, warmup=1, loops=1, clock=clock)
    assert log == ["a", "b", "a", "b", "b", "a", "a", "b", "b", "a"], log


def test_the_bootstrap_is_seeded_and_paired():
    """The same seed gives the same interval; identical ratios in every round give a zero-width one.

    Hint: draw ONE index matrix rng.integers(0, n, size=(resamples, n)) from np.random.default_rng(seed) and
    use it for both a and b (paired rounds); ratios = median(b[index], axis=1) / median(a[index], axis=1).
    """
    rng = np.random.default_rng(0)
    a = 1e-3 * (1 + 0.05 * rng.standard_normal(12))
    b = 1.5 * a * (1 + 0.05 * rng.standard_normal(12))
    assert bootstrap_ratio_ci(a, b, seed=3) == bootstrap_ratio_ci(a, b, seed=3)
    assert bootstrap_ratio_ci(a, b, seed=3) != bootstrap_ratio_ci(a, b, seed=4)
    low, high = bootstrap_ratio_ci(a, 3 * a, seed=0)
    assert math.isclose(low, 3.0) and math.isclose(high, 3.0), (low, high)


def test_the_interval_follows_the_confidence_level():
    """A 99% interval contains the 90% one, and both contain the ratio of medians.

    Hint: take np.percentile(ratios, [tail, 100 - tail]) with tail = (1 - confidence) / 2 · 100 (a percent,
    not a fraction), so a higher confidence gives a wider interval.
    """
    rng = np.random.default_rng(1)
    a = 1e-3 * (1 + 0.1 * rng.standard_normal(20))
    b = 1.2e-3 * (1 + 0.1 * rng.standard_normal(20))
    narrow = bootstrap_ratio_ci(a, b, confidence=0.90, seed=0)
    wide = bootstrap_ratio_ci(a, b, confidence=0.99, seed=0)
    ratio = np.median(b) / np.median(a)
    assert wide[0] < narrow[0] <= ratio <= narrow[1] < wide[1], (narrow, wide, ratio)
