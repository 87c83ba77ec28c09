"""Step 1: stats — percentiles exactly as np.percentile, the median, IQR, and outliers by Tukey's fences."""

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

from dojo.testing import assert_close, raises
from tinytorch.benchmarking import Stats, percentile

times = st.lists(st.floats(1e-6, 10.0, allow_nan=False), min_size=1, max_size=30)
qs = st.floats(0.0, 100.0, allow_nan=False)


@given(times, qs)
@example([0.5], 50.0)  # one sample: every percentile is it
@example([3.0, 1.0, 2.0], 0.0)  # unsorted; the minimum
@example([3.0, 1.0, 2.0], 100.0)  # the maximum
@example([1.0, 2.0, 3.0, 4.0], 90.0)  # between two samples: 3.7
@example([2.0, 2.0, 2.0, 9.0], 75.0)  # ties
def test_percentile_equals_numpy(samples, q):
    """percentile(samples, q) == np.percentile(samples, q) (the default "linear" method), any order, ties too.

    Hint: in percentile (tinytorch/benchmarking.py) sort first, then h = (n - 1) · q / 100 and interpolate
    x[lo] + (h - lo) · (x[lo + 1] - x[lo]) with lo = floor(h); at the last index (q = 100, or one sample)
    return x[lo] without reading x[lo + 1].
    """
    got = percentile(samples, q)
    assert_close(np.float64(got), np.percentile(samples, q), rtol=1e-12, atol=1e-15, what=f"percentile(..., {q})")


def test_percentile_rejects_nonsense():
    """No samples, or q outside [0, 100]: ValueError.

    Hint: raise ValueError at the top of percentile when there are no samples or q is outside [0, 100]; NumPy
    would otherwise fail with an IndexError on an empty array.
    """
    with raises(ValueError):
        percentile([], 50)
    with raises(ValueError):
        percentile([1.0, 2.0], 101)
    with raises(ValueError):
        percentile([1.0, 2.0], -1)


@given(times)
@example([1.0])
@example([4.0, 1.0, 3.0, 2.0])
def test_stats_figures_equal_numpy(samples):
    """median, q1, q3, iqr, p90 and p99 of Stats are np.percentile's 50, 25, 75, 75-25, 90, 99.

    Hint: the Stats properties are given and all call your percentile: median is q=50, q1 25, q3 75, p90, p99;
    if this fails while test_percentile_equals_numpy passes, check unsorted and single-sample inputs.
    """
    s = Stats(samples)
    expected = dict(zip((25, 50, 75, 90, 99), np.percentile(samples, [25, 50, 75, 90, 99])))  # one call, same values
    for name, value, want in (("median", s.median, expected[50]), ("q1", s.q1, expected[25]), ("q3", s.q3, expected[75]),
                              ("p90", s.p90, expected[90]), ("p99", s.p99, expected[99]),
                              ("iqr", s.iqr, expected[75] - expected[25])):
        assert_close(np.float64(value), want, rtol=1e-12, atol=1e-15, what=f"Stats.{name}")


def noisy(n=20, seed=0):
    """n timings of about 1 ms, ±2% (seeded)."""
    return 1e-3 * (1 + 0.02 * np.random.default_rng(seed).uniform(-1, 1, n))


def test_one_100x_outlier_barely_moves_the_median_and_is_flagged():
    """20 runs of ~1 ms and one of 100 ms (the machine was busy): the median moves < 5% (the mean
    triples), and Tukey's fences flag exactly that run.

    Hint: outliers returns the INDICES (np.flatnonzero) of the samples outside the fences, in the original
    sample order, not the sorted order and not the values.
    """
    clean = list(noisy())
    spoiled = clean[:7] + [0.1] + clean[7:]
    before, after = Stats(clean), Stats(spoiled)
    assert abs(after.median - before.median) / before.median < 0.05, (before.median, after.median)
    assert after.mean > 3 * before.mean
    assert list(after.outliers) == [7], f"outliers {list(after.outliers)}, expected [7]"
    assert list(before.outliers) == [], f"no outlier among the clean runs, got {list(before.outliers)}"


def test_fences_are_one_and_a_half_iqr_beyond_the_quartiles():
    """fences = (q1 - 1.5·IQR, q3 + 1.5·IQR); a sample far below q1 is an outlier too.

    Hint: fences = (q1 - 1.5·iqr, q3 + 1.5·iqr) with the quartiles, not the min/max or the median; a sample is
    an outlier when it is strictly below the low fence or strictly above the high one.
    """
    s = Stats([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, -20.0, 30.0])
    q1, q3 = np.percentile(s.samples, [25, 75])
    assert_close(np.array(s.fences), np.array([q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)]), rtol=1e-12, what="fences")
    assert list(s.outliers) == [9, 10]


def test_stats_keep_loops_and_warmup_and_need_a_sample():
    """Stats(samples, loops, warmup) keeps them; no samples is a ValueError.

    Hint: Stats itself is given; this needs a working outliers property (summary() counts len(self.outliers)),
    so check that fences and outliers return a tuple and an index array.
    """
    s = Stats([2e-3, 1e-3], loops=5, warmup=2)
    assert (s.n, s.loops, s.warmup, s.min, s.max) == (2, 5, 2, 1e-3, 2e-3)
    assert s.summary()["outliers"] == 0
    with raises(ValueError):
        Stats([])
