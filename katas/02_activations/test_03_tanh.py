"""Step 3: tanh — values, odd symmetry, range [-1, 1], finite at ±1000, and the Tanh layer."""

import warnings

import numpy as np
import pytest
from hypothesis import example, given

from dojo.testing import arrays, assert_close, floats, small_shapes
from tinytorch.activations import Tanh, tanh
from tinytorch.tensor import Tensor


def test_tanh_known_values():
    """tanh(0) = 0, tanh(1) ≈ 0.76159, tanh(-1) ≈ -0.76159.

    Hint: tanh(1) should be about 0.76159: if you build it yourself, check the formula (e^x - e^-x) / (e^x +
    e^-x); np.tanh(x.data) is allowed and simplest.
    """
    out = tanh(Tensor(np.array([0.0, 1.0, -1.0])))
    assert_close(out, [0.0, 0.7615941559557649, -0.7615941559557649], what="tanh([0, 1, -1])")


@given(x=arrays(small_shapes(), elements=floats(-20, 20)))
@example(x=np.array(0.0))
@example(x=np.array([-20.0, -1e-8, 0.0, 1e-8, 20.0]))
def test_tanh_matches_numpy(x):
    """tanh(x) equals np.tanh(x), any shape.

    Hint: tanh must equal np.tanh for every shape (0-d too) and at ±1e-8: a hand-made formula that loses
    precision near 0 or only handles 1-D fails here; np.tanh(x.data) works on anything.
    """
    assert_close(tanh(Tensor(x)), np.tanh(x), what="tanh(x)")


@given(x=arrays(small_shapes(), elements=floats(-1e4, 1e4)))
@example(x=np.array([-1e4, -400.0, 0.0, 400.0, 1e4]))  # where e^x overflows
@example(x=np.array(1e4))
def test_tanh_is_odd_and_stays_in_range(x):
    """tanh(-x) = -tanh(x), and every output is in [-1, 1], even for inputs up to ±1e4.

    Hint: At ±400 and ±1e4 e^x overflows to inf and (e^x - e^-x) / (e^x + e^-x) is nan: use np.tanh, or 2 *
    sigmoid(2x) - 1 with a stable sigmoid, never raw exponentials of x.
    """
    out = tanh(Tensor(x)).data
    assert np.all(np.abs(out) <= 1), f"tanh left [-1, 1]: {out}"
    assert_close(tanh(Tensor(-x)), -out, what="tanh(-x)")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tanh_is_plus_minus_1_at_plus_minus_1000_without_warnings(dtype):
    """tanh(±1000) is ±1 with no overflow warning ((e^x - e^-x) / (e^x + e^-x) gives inf / inf
    = nan there).

    Hint: Any np.exp(1000) in tanh raises the overflow warning this test turns into an error: np.tanh handles
    ±1000 silently and gives exactly ±1.
    """
    x = Tensor(np.array([-1000.0, 1000.0], dtype=dtype))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = tanh(x)
    assert_close(out, [-1.0, 1.0], rtol=0, atol=0, dtype=dtype, what="tanh([-1000, 1000])")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tanh_keeps_shape_and_dtype(dtype):
    """A (4, 3) float32 input gives a (4, 3) float32 output (float64 stays float64).

    Hint: float32 in must stay float32: np.tanh keeps the dtype, but mixing in Python-built float64 arrays or
    a float64 sigmoid does not; cast back with .astype(x.dtype, copy=False).
    """
    x = np.random.default_rng(0).normal(size=(4, 3)).astype(dtype)
    assert_close(tanh(Tensor(x)), np.tanh(x), dtype=dtype, what="tanh(x)")


def test_tanh_layer_calls_tanh():
    """Tanh() is a layer with no parameters: Tanh()(x) equals tanh(x).

    Hint: The Tanh class only calls your tanh; if this fails, tanh itself is wrong on a 2-D input: compare
    tanh(Tensor([[3.0, -0.5]])).data with np.tanh.
    """
    x = np.array([[-1.0, 0.0], [3.0, -0.5]])
    layer = Tanh()
    assert layer.parameters() == []
    assert_close(layer(Tensor(x)), np.tanh(x), what="Tanh()(x)")
