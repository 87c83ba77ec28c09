"""Step 2: observers — calibrate one activation scale per tensor from real batches."""

import numpy as np
import pytest

from dojo.testing import assert_close
from tinytorch.quantization import EPS, MinMaxObserver, PercentileObserver
from tinytorch.tensor import Tensor


def batches(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((8, 5)).astype(np.float32) * s for s in (1.0, 3.0, 0.5)]


def test_minmax_tracks_every_batch():
    """min_val / max_val over all batches (not the last one); scale = max(|min|, |max|) / 127.

    Hint: MinMaxObserver.observe must update running values, self.min_val = min(self.min_val, a.min()) and the
    same for max, not overwrite them with the last batch; it returns x itself, and scale() is float32.
    """
    obs = MinMaxObserver()
    data = batches()
    for b in data:
        assert obs.observe(b) is b, "observe(x) must return x unchanged"
    everything = np.concatenate([b.ravel() for b in data])
    assert obs.min_val == pytest.approx(float(everything.min())) and obs.max_val == pytest.approx(float(everything.max()))
    assert_close(np.float64(obs.scale()), np.abs(everything).max() / 127, rtol=1e-6, atol=0,
                 what="MinMaxObserver scale over three batches")
    assert np.asarray(obs.scale()).dtype == np.float32


def test_minmax_uses_the_larger_side():
    """Negative side larger: [-2.54, 1.0] gives scale 2.54 / 127 = 0.02.

    Hint: amax = max(|min_val|, |max_val|): here the negative side (-2.54) is larger than max_val (1.0);
    observe must also accept a Tensor (use its .data).
    """
    obs = MinMaxObserver()
    obs.observe(Tensor([[0.5, -2.54]]))
    obs.observe(np.array([1.0], np.float32))
    assert (obs.min_val, obs.max_val) == (pytest.approx(-2.54), pytest.approx(1.0))
    assert float(obs.scale()) == pytest.approx(0.02, rel=1e-6)


def test_minmax_all_zero_and_nothing_observed():
    """All-zero activations give the EPS scale (no division by zero); asking before observing is an error.

    Hint: raise RuntimeError in scale() while nothing was observed (count == 0); for all-zero batches return
    symmetric_scale(0.0), which clamps to EPS.
    """
    obs = MinMaxObserver()
    with pytest.raises(RuntimeError) as info:
        obs.scale()
    assert not isinstance(info.value, NotImplementedError), "scale() is not written yet"
    obs.observe(np.zeros((4, 3), np.float32))
    assert float(obs.scale()) == float(EPS)


def test_percentile_is_the_percentile_of_all_magnitudes():
    """scale = np.percentile(|every value observed|, p) / 127.

    Hint: PercentileObserver keeps the absolute values of every batch (flattened) in a list and scale() takes
    np.percentile over ALL of them together, then symmetric_scale; observe returns x.
    """
    obs = PercentileObserver(percentile=90.0)
    data = batches(1)
    for b in data:
        assert obs.observe(Tensor(b)) is not None
    everything = np.abs(np.concatenate([b.ravel() for b in data]))
    assert_close(np.float64(obs.scale()), np.percentile(everything, 90.0) / 127, rtol=1e-5, atol=0,
                 what="PercentileObserver(90) scale")


def test_percentile_ignores_a_rare_outlier_and_100_is_minmax():
    """One 1000 among 2,000 ordinary values: the 99.9th percentile scale stays ~100× below min/max's; p=100 equals min/max.

    Hint: take the percentile of |x| (np.abs before np.percentile), pooled across batches; with percentile=100
    that is exactly the largest magnitude, the same as MinMaxObserver.
    """
    rng = np.random.default_rng(2)
    x = rng.standard_normal(2000).astype(np.float32)
    x[123] = 1000.0
    minmax, p999, p100 = MinMaxObserver(), PercentileObserver(99.9), PercentileObserver(100.0)
    for obs in (minmax, p999, p100):
        obs.observe(x[:1000])
        obs.observe(x[1000:])
    assert float(minmax.scale()) == pytest.approx(1000 / 127, rel=1e-6)
    assert float(p999.scale()) < float(minmax.scale()) / 100, f"{float(p999.scale())} vs {float(minmax.scale())}"
    assert float(p100.scale()) == pytest.approx(float(minmax.scale()), rel=1e-6)


def test_percentile_checks_its_arguments():
    """percentile must be in (0, 100]; a scale before any batch is a RuntimeError.

    Hint: in PercentileObserver.__init__ raise ValueError unless 0 < percentile <= 100, and in scale() raise
    RuntimeError when no values were observed (np.concatenate([]) would raise a ValueError instead).
    """
    for bad in (0.0, -1.0, 100.5):
        with pytest.raises(ValueError):
            PercentileObserver(bad)
    with pytest.raises(RuntimeError) as info:
        PercentileObserver(99.0).scale()
    assert not isinstance(info.value, NotImplementedError), "scale() is not written yet"
