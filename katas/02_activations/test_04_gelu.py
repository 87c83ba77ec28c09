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
    """gelu(0) = 0, gelu(1) ≈ 0.841192, gelu(-1) ≈ -0.158808, gelu(2) ≈ 1.954598 (tanh approximation).

    Hint: gelu(1) must be 0.841192: check each piece of the formula in gelu (0.5 * x * (1 + tanh(...))), the
    constant 0.044715, the cube x**3, and GELU_C = √(2/π) multiplying the whole bracket.
    """
    out = gelu(Tensor(np.array([0.0, 1.0, -1.0, 2.0])))
    assert_close(out, [0.0, 0.8411919906082768, -0.1588080093917233, 1.954597694087775], what="gelu([0, 1, -1, 2])")


@given(x=arrays(small_shapes(), elements=floats(-6, 6)))
@example(x=np.array(0.0))
@example(x=np.array([-6.0, -1.0, 0.0, 1.0, 6.0]))
def test_gelu_matches_formula(x):
    """gelu(x) = 0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³))), any shape.

    Hint: gelu must match the tanh formula on [-6, 6] for any shape: a wrong sign, x**2 instead of x**3, or
    GELU_C applied to x alone instead of (x + 0.044715 x³) shows up here.
    """
    assert_close(gelu(Tensor(x)), _gelu(x), what="gelu(x)")


def test_gelu_is_close_to_exact_gelu():
    """The tanh approximation stays within 1e-3 of the exact GELU x · Φ(x) (Φ: the normal CDF)
    on [-6, 6]: a wrong constant (say 0.44715, or π instead of 2/π) breaks this.

    Hint: More than 1e-3 away from x·Φ(x) means a wrong constant in gelu: 0.044715 (not 0.44715) and GELU_C =
    √(2/π) (not √π or 2/π).
    """
    x = np.linspace(-6, 6, 121)
    exact = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x])
    assert_close(gelu(Tensor(x)), exact, rtol=0, atol=1e-3, what="gelu(x) vs x·Φ(x)")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gelu_limits(dtype):
    """For large x gelu(x) ≈ x (10 → 10, 1000 → 1000); for very negative x it is ≈ 0; no warnings.

    Hint: gelu(±1000) must be 0 and 1000 with no warning: build gelu on np.tanh, not on a tanh or sigmoid
    made from np.exp (which overflows at this size), and check that gelu(-1000) is 0, not nan.
    """
    x = Tensor(np.array([-1000.0, -10.0, 10.0, 1000.0], dtype=dtype))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = gelu(x)
    assert_close(out, [0.0, 0.0, 10.0, 1000.0], atol=1e-6, dtype=dtype, what="gelu([-1000, -10, 10, 1000])")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gelu_keeps_shape_and_dtype(dtype):
    """A (2, 5) float32 input gives a (2, 5) float32 output (float64 stays float64).

    Hint: float32 in must give float32 out: a NumPy float64 constant (np.sqrt(2 / np.pi)) upcasts the result,
    so use GELU_C (a Python float) or finish with .astype(x.dtype, copy=False).
    """
    x = np.random.default_rng(0).normal(size=(2, 5)).astype(dtype)
    assert_close(gelu(Tensor(x)), _gelu(x), dtype=dtype, what="gelu(x)")


def test_gelu_layer_calls_gelu():
    """GELU() is a layer with no parameters: GELU()(x) equals gelu(x).

    Hint: The GELU class only calls your gelu; if this fails, gelu is wrong on a 2-D input with negatives:
    check gelu(Tensor([-1.0])) ≈ -0.158808.
    """
    x = np.array([[-1.0, 0.0], [3.0, -0.5]])
    layer = GELU()
    assert layer.parameters() == []
    assert_close(layer(Tensor(x)), _gelu(x), what="GELU()(x)")
