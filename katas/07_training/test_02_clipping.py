"""Step 2: clipping — clip_grad_norm rescales all gradients together to a maximum global norm."""

import math

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

from dojo.testing import arrays, assert_close, small_shapes
from tinytorch.layers import Parameter
from tinytorch.training import clip_grad_norm


def with_grads(*grads):
    params = []
    for g in grads:
        p = Parameter(np.zeros_like(g))
        p.grad = np.array(g)
        params.append(p)
    return params


def test_returns_the_global_norm_before_clipping():
    """Gradients (3, 4) and (12,) have global norm sqrt(9 + 16 + 144) = 13; that is what it returns.

    Hint: One norm for all parameters together: math.sqrt of the sum over every p.grad of its squared entries
    (not a sum of per-parameter norms); return it as a float, before any scaling.
    """
    params = with_grads(np.array([3.0, 4.0]), np.array([12.0]))
    assert clip_grad_norm(params, 100.0) == 13.0


def test_clipping_scales_every_gradient_by_the_same_factor():
    """With max_norm 1.3 the gradients (3, 4) and (12,) of norm 13 become (0.3, 0.4) and (1.2,): one factor
    for all.

    Hint: When the global norm exceeds max_norm, multiply every gradient by the same max_norm / (norm + 1e-6);
    clipping each parameter by its own norm changes the direction.
    """
    params = with_grads(np.array([3.0, 4.0]), np.array([12.0]))
    clip_grad_norm(params, 1.3)
    assert_close(params[0].grad, [0.3, 0.4], rtol=1e-6, what="first gradient")
    assert_close(params[1].grad, [1.2], rtol=1e-6, what="second gradient")


def documented_factor(norm, max_norm):
    """The documented rule: scale by max_norm / (norm + 1e-6) only when norm EXCEEDS max_norm;
    a norm equal to max_norm (or below it) is left alone."""
    return max_norm / (norm + 1e-6) if norm > max_norm else 1.0


@st.composite
def grads_and_max_norm(draw):
    """One to three gradients of small shapes, and a max_norm in [0.1, 5]."""
    shapes = draw(st.lists(small_shapes(min_dims=1, max_side=3), min_size=1, max_size=3), label="shapes")
    grads = [draw(arrays(shape), label=f"grad {i}") for i, shape in enumerate(shapes)]
    return grads, draw(st.floats(0.1, 5.0), label="max_norm")


@given(case=grads_and_max_norm())
@example(case=([np.array([3.0, 4.0])], 5.0))  # the boundary: norm == max_norm exactly, nothing changes
@example(case=([np.array([1.0])], 1.0))  # the same boundary at norm 1
@example(case=([np.array([3.0, 4.0])], 4.999999))  # just above the boundary: clipped
@example(case=([np.array([3.0]), np.array([[4.0]])], 2.5))  # one global norm (5) for two gradients
@example(case=([np.zeros(3)], 0.1))  # a zero gradient stays zero
def test_direction_is_kept_and_norm_is_capped(case):
    """For any gradients, afterwards the global norm is min(norm, max_norm) and each gradient is the
    original times one shared factor (the direction of the whole vector is unchanged). Scaling
    happens only when the norm exceeds max_norm: at norm == max_norm nothing changes.

    Hint: Scale only when norm > max_norm (strictly: at norm == max_norm, [3, 4] with 5.0, nothing may
    change), use the factor max_norm / (norm + 1e-6), and compute the norm in float64 (np.square(g,
    dtype=np.float64)).
    """
    grads, max_norm = case
    norm = math.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads))
    params = with_grads(*grads)
    assert np.isclose(clip_grad_norm(params, max_norm), norm, rtol=1e-12)
    after = float(np.sqrt(sum(np.sum(p.grad**2) for p in params)))
    assert np.isclose(after, min(norm, max_norm), rtol=1e-5, atol=1e-9)
    factor = documented_factor(norm, max_norm)
    for p, g in zip(params, grads):
        assert_close(p.grad, g * factor, rtol=1e-9, atol=1e-12, what=f"clipped gradient (norm {norm!r}, max_norm {max_norm!r})")


def test_small_gradients_are_left_alone_and_none_is_skipped():
    """Below max_norm nothing changes; a parameter without a gradient is skipped (its grad stays None).

    Hint: Filter out parameters whose grad is None before computing the norm and before scaling; below
    max_norm leave every gradient as it is.
    """
    params = with_grads(np.array([0.3, 0.4]))
    params.append(Parameter(np.zeros(2)))
    assert np.isclose(clip_grad_norm(params, 1.0), 0.5)
    assert_close(params[0].grad, [0.3, 0.4], rtol=0, atol=0, what="gradient below max_norm")
    assert params[1].grad is None


def test_float32_gradients_stay_float32():
    """Clipping keeps each gradient's dtype.

    Hint: a factor that is a NumPy float64 (from np.sqrt or np.linalg.norm) turns float32 gradients into
    float64 under NumPy 2: cast back with (p.grad * scale).astype(p.grad.dtype, copy=False).
    """
    params = with_grads(np.array([30.0, 40.0], dtype=np.float32))
    clip_grad_norm(params, 5.0)
    assert params[0].grad.dtype == np.float32, f"dtype became {params[0].grad.dtype}"
    assert_close(params[0].grad, [3.0, 4.0], rtol=1e-5, what="clipped float32 gradient")
