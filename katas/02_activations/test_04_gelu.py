"""Step 4: gelu — the tanh approximation, known values, its limits, and the GELU layer."""

import math
import warnings

import numpy as np
import pytest
from hypothesis import example, given

from dojo.testing import arrays, assert_close, floats, small_shapes
from tinytorch.activations import GELU, gelu
from tinytorch.tensor import Tensor


def _gelu(x):
    """The formula, in float64: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    x = np.asarray(x, dtype=np.float64)
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))


def test_gelu_known_values():
    """gelu(0) = 0, gelu(1) ≈ 0.841192, gelu(-1) ≈ -0.158808, gelu(2) ≈ 1.954598 (tanh approximation)."""
    out = gelu(Tensor(np.array([0.0, 1.0, -1.0, 2.0])))
    assert_close(out, [0.0, 0.8411919906082768, -0.1588080093917233, 1.954597694087775], what="gelu([0, 1, -1, 2])")


@given(x=arrays(small_shapes(), elements=floats(-6, 6)))
@example(x=np.array(0.0))
@example(x=np.array([-6.0, -1.0, 0.0, 1.0, 6.0]))
def test_gelu_matches_formula(x):
    """gelu(x) = 0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³))), any shape."""
    assert_close(gelu(Tensor(x)), _gelu(x), what="gelu(x)")


def test_gelu_is_close_to_exact_gelu():
    """The tanh approximation stays within 1e-3 of the exact GELU x · Φ(x) (Φ: the normal CDF)
    on [-6, 6]: a wrong constant (say 0.44715, or π instead of 2/π) breaks this."""
    x = np.linspace(-6, 6, 121)
    exact = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x])
    assert_close(gelu(Tensor(x)), exact, rtol=0, atol=1e-3, what="gelu(x) vs x·Φ(x)")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gelu_limits(dtype):
    """For large x gelu(x) ≈ x (10 → 10, 1000 → 1000); for very negative x it is ≈ 0; no warnings."""
    x = Tensor(np.array([-1000.0, -10.0, 10.0, 1000.0], dtype=dtype))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = gelu(x)
    assert_close(out, [0.0, 0.0, 10.0, 1000.0], atol=1e-6, dtype=dtype, what="gelu([-1000, -10, 10, 1000])")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gelu_keeps_shape_and_dtype(dtype):
    """A (2, 5) float32 input gives a (2, 5) float32 output (float64 stays float64)."""
    x = np.random.default_rng(0).normal(size=(2, 5)).astype(dtype)
    assert_close(gelu(Tensor(x)), _gelu(x), dtype=dtype, what="gelu(x)")


def test_gelu_layer_calls_gelu():
    """GELU() is a layer with no parameters: GELU()(x) equals gelu(x)."""
    x = np.array([[-1.0, 0.0], [3.0, -0.5]])
    layer = GELU()
    assert layer.parameters() == []
    assert_close(layer(Tensor(x)), _gelu(x), what="GELU()(x)")
