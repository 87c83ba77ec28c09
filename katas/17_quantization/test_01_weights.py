"""Step 1: weights — symmetric int8 with scale max|x| / 127, per tensor and per output row."""

import warnings

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dojo.testing import assert_close
from tinytorch.quantization import (EPS, dequantize, quantize, quantize_per_channel, quantize_per_tensor,
                                    symmetric_scale)
from tinytorch.tensor import Tensor

# float32 values of any size a weight can have (no infinities), tiny and subnormal ones included
values = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, width=32)
matrices = hnp.arrays(np.float32, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=6), elements=values)

ZEROS = np.zeros((3, 4), np.float32)
CONSTANT = np.full((2, 5), 0.1, np.float32)
ONE_HUGE = np.array([[3e30, 1.0, -0.5], [1e-3, 0.0, 2.0]], np.float32)
TINY = np.array([[1e-30, -3e-31], [2e-38, 0.0]], np.float32)
HALVES = np.array([[1.0, 0.5 / 127, 1.5 / 127, -2.5 / 127]], np.float32)


def round_trip_bound(x, q, scale):
    """Largest |dequantize(q) - x| / scale, in float64 (must be <= 1/2 up to float32 rounding)."""
    error = np.abs(dequantize(q, scale).astype(np.float64) - x.astype(np.float64))
    return float(np.max(error / np.asarray(scale, np.float64), initial=0.0))


def test_known_values():
    """[0.5, -1.27, 0.2]: scale 0.01 and codes [50, -127, 20], stored as int8.

    Hint: quantize_per_tensor in tinytorch/quantization.py: scale = symmetric_scale(max|x|) = max|x| / 127 as
    a float32, codes = quantize(x, scale) = np.rint(x / scale) clipped to ±127 and cast with .astype(np.int8).
    """
    q, scale = quantize_per_tensor(np.array([0.5, -1.27, 0.2], np.float32))
    assert isinstance(q, np.ndarray) and q.dtype == np.int8, f"codes must be an int8 array, got {type(q)} {getattr(q, 'dtype', '')}"
    assert np.asarray(scale).dtype == np.float32, f"the scale must be float32, got {np.asarray(scale).dtype}"
    assert abs(float(scale) - 0.01) < 1e-8, f"scale of max|x| = 1.27 should be 1.27 / 127 = 0.01, got {float(scale)}"
    assert q.tolist() == [50, -127, 20]


def test_symmetric_range_never_uses_minus_128():
    """The largest magnitude maps to ±127 on both sides: -128 is never produced (symmetric grid).

    Hint: clip to [-127, 127] (QMAX), not to int8's own [-128, 127]; and clip BEFORE .astype(np.int8), or
    ±1000/0.1 wraps around instead of saturating.
    """
    q, _ = quantize_per_tensor(np.array([-2.0, 2.0, -1.0, 0.0], np.float32))
    assert q.tolist() == [-127, 127, -64, 0], q.tolist()
    saturated = quantize(np.array([-1000.0, 1000.0, -0.04, 0.06], np.float32), np.float32(0.1))
    assert saturated.dtype == np.int8 and saturated.tolist() == [-127, 127, 0, 1], saturated.tolist()


@given(x=matrices)
@example(x=ZEROS)
@example(x=CONSTANT)
@example(x=ONE_HUGE)
@example(x=TINY)
@example(x=HALVES)
def test_per_tensor_round_trip_within_half_a_step(x):
    """|dequantize(q, scale) - x| <= scale / 2 for every element, codes in [-127, 127], zero kept exactly.

    Hint: round to nearest with np.rint (not floor or astype, which truncates), compute x / scale in float32,
    and clamp the scale at EPS so tiny, subnormal and all-zero inputs still get a positive finite scale.
    """
    q, scale = quantize_per_tensor(x)
    assert q.dtype == np.int8 and q.shape == x.shape
    assert np.isfinite(scale) and scale > 0, f"scale must be positive and finite, got {scale}"
    assert q.min(initial=0) >= -127
    worst = round_trip_bound(x, q, scale)
    assert worst <= 0.5 + 1e-4, f"round-trip error {worst:.4f}·scale > scale/2 (scale={float(scale)!r})"
    assert np.all(q[x == 0] == 0), "zero must map exactly to zero"


@given(x=matrices)
@example(x=ZEROS)
@example(x=CONSTANT)
@example(x=ONE_HUGE)
@example(x=TINY)
def test_per_channel_round_trip_within_half_a_step(x):
    """Per output row: scales of shape (rows, 1), each row within its own scale / 2.

    Hint: reduce max|w| over every axis except the channel axis with keepdims=True (np.max(..., axis=others,
    keepdims=True, initial=0.0)), so scales are (rows, 1) float32 and broadcast against w.
    """
    q, scales = quantize_per_channel(x)
    assert q.dtype == np.int8 and q.shape == x.shape
    assert scales.shape == (x.shape[0], 1) and scales.dtype == np.float32, f"scales {scales.shape} {scales.dtype}"
    assert np.all(np.isfinite(scales)) and np.all(scales > 0)
    assert q.min(initial=0) >= -127
    worst = round_trip_bound(x, q, scales)
    assert worst <= 0.5 + 1e-4, f"round-trip error {worst:.4f}·scale > scale/2"
    assert np.all(q[x == 0] == 0) and np.all(dequantize(q, scales)[x == 0] == 0.0), "zero must map exactly to zero"


def test_each_row_gets_its_own_scale():
    """scale[i] = max_j |w[i, j]| / 127; the largest entry of every row becomes ±127.

    Hint: per channel means one scale per output ROW: take the max over axis 1 for a 2-d weight (the other
    axes than axis=0), not over axis 0, which gives one scale per column.
    """
    w = np.array([[1.27, -0.5, 0.0], [0.0, 0.0127, -0.00635], [-254.0, 1.0, 2.0]], np.float32)
    q, scales = quantize_per_channel(w)
    assert_close(scales.reshape(-1), [0.01, 0.0001, 2.0], rtol=1e-6, atol=0, what="per-row scales")
    assert np.abs(q).max(axis=1).tolist() == [127, 127, 127]
    assert q[1].tolist() == [0, 127, -64]


def test_constant_tensor_round_trips():
    """A constant 0.1 gets scale 0.1 / 127 (not 1.0, which would turn 0.1 into 0) and comes back as 0.1.

    Hint: the scale is max|x| / 127 even when every value is the same: do not special-case a zero range (max -
    min = 0) with scale 1.0, which rounds 0.1 to code 0.
    """
    q, scale = quantize_per_tensor(CONSTANT)
    assert_close(np.float64(scale), 0.1 / 127, rtol=1e-6, atol=0, what="scale of a constant 0.1")
    back = dequantize(q, scale)
    assert back.dtype == np.float32
    assert_close(back, CONSTANT, rtol=0, atol=float(scale) / 2, what="dequantized constant 0.1")


def test_all_zero_tensor_keeps_a_usable_scale():
    """All zeros: no division by zero (no warning), a positive finite scale (EPS), codes and values all 0.

    Hint: symmetric_scale must clamp with np.maximum(amax / 127, EPS) before anything divides by it; an
    all-zero tensor then gets scale EPS and codes 0, with no divide-by-zero warning.
    """
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        q, scale = quantize_per_tensor(ZEROS)
        qc, scales = quantize_per_channel(np.array([[0.0, 0.0], [1.0, -2.0]], np.float32))
        back = dequantize(q, scale)
    assert float(scale) == float(EPS) and float(symmetric_scale(0.0)) == float(EPS)
    assert q.dtype == np.int8 and not q.any() and not back.any()
    assert float(scales[0, 0]) == float(EPS) and qc[0].tolist() == [0, 0] and qc[1].tolist() == [64, -127]


def test_dequantize_broadcasts_and_returns_float32():
    """dequantize(q, scale) = q * scale in float32, for a scalar scale and for per-row (rows, 1) scales.

    Hint: dequantize is q.astype(np.float32) * scale with the scale as a float32 array; let it broadcast (a
    scalar or a (rows, 1) array) and make sure the result is float32, not float64.
    """
    q = np.array([[127, -64], [1, 0]], np.int8)
    assert_close(dequantize(q, np.float32(0.5)), [[63.5, -32.0], [0.5, 0.0]], dtype=np.float32, what="per tensor")
    assert_close(dequantize(q, np.array([[1.0], [2.0]], np.float32)), [[127.0, -64.0], [2.0, 0.0]],
                 dtype=np.float32, what="per row")


def test_accepts_tensors():
    """A Tensor weight quantizes like its array.

    Hint: unwrap a Tensor to its array first (the _array helper in tinytorch/quantization.py does it) before
    np.abs, np.max and np.rint.
    """
    w = np.array([[0.3, -0.6], [0.05, 0.1]], np.float32)
    q1, s1 = quantize_per_channel(Tensor(w))
    q2, s2 = quantize_per_channel(w)
    assert np.array_equal(q1, q2) and np.array_equal(s1, s2)


def test_per_channel_beats_per_tensor_on_rows_of_different_scales():
    """Rows whose sizes differ by 1000×: per-channel output error is far below per-tensor's (x @ Ŵᵀ vs x @ Wᵀ).

    Hint: if per-channel is not far better here, its scales are not really per row: check the reduction axes
    in quantize_per_channel and that quantize divides each row by its own (rows, 1) scale.
    """
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((16, 32)) * np.logspace(-3, 0, 16)[:, None]).astype(np.float32)
    x = rng.standard_normal((64, 32)).astype(np.float32)
    exact = x.astype(np.float64) @ w.T.astype(np.float64)

    def row_error(w_hat):  # relative output error of each output unit, averaged
        out = x.astype(np.float64) @ w_hat.T.astype(np.float64)
        return float(np.mean(np.linalg.norm(out - exact, axis=0) / np.linalg.norm(exact, axis=0)))

    per_tensor = row_error(dequantize(*quantize_per_tensor(w)))
    per_channel = row_error(dequantize(*quantize_per_channel(w)))
    assert per_channel < 0.01, f"per-channel relative output error {per_channel:.2%} should be below 1%"
    assert per_channel * 10 < per_tensor, f"per-channel {per_channel:.2%} vs per-tensor {per_tensor:.2%}"
