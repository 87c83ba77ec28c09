"""Helpers for writing kata tests: array assertions, gradient checks and hypothesis strategies.

Kata tests import from here so that every failure a student sees speaks the same language:
shape, dtype, the worst index and both values.

>>> assert_close(np.array([1.0, 2.0]), [1.0, 2.0])
>>> gradcheck(lambda x: (x * x).sum(), [np.array([1.0, -2.0])])   # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import re

import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

__all__ = [
    "as_array", "assert_close", "assert_shape", "raises", "gradcheck", "numeric_gradient", "GradcheckError",
    "floats", "nonzero_floats", "positive_floats", "small_shapes", "broadcastable_pairs", "arrays",
]


def as_array(value) -> np.ndarray:
    """The NumPy array inside a Tensor, an array, a list or a scalar."""
    data = getattr(value, "data", value)
    if isinstance(data, memoryview):  # np.ndarray.data is a memoryview: the value itself was an array
        data = value
    return np.asarray(data)


def _format_index(index) -> str:
    return "()" if index == () else str(tuple(int(i) for i in index))


def assert_close(actual, expected, rtol=1e-5, atol=1e-6, dtype=None, what="result"):
    """Assert that ``actual`` (a Tensor, array or number) equals ``expected`` within tolerance.

    Checks the shape first, then ``dtype`` when given, then the values (NaNs must match NaNs).
    The message names the shape, the result's dtype, how many positions differ, the worst index
    and both values there. The dtype of ``expected`` is never a requirement (tests often compute
    it in float64): pass ``dtype=`` to demand one.
    """
    got, want = as_array(actual), as_array(expected)
    if got.shape != want.shape:
        raise AssertionError(f"{what} has shape {got.shape}, expected shape {want.shape}")
    if dtype is not None and got.dtype != np.dtype(dtype):
        raise AssertionError(f"{what} has dtype {got.dtype}, expected dtype {np.dtype(dtype)}")
    if got.dtype.kind in "biu" and want.dtype.kind in "biu":
        bad = got != want
    else:
        g, w = got.astype(np.float64), want.astype(np.float64)
        with np.errstate(invalid="ignore", over="ignore"):
            bad = ~np.isclose(g, w, rtol=rtol, atol=atol, equal_nan=True)
    if not bad.any():
        return
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
    diff = np.where(bad, np.nan_to_num(diff, nan=np.inf), -1.0)
    worst = np.unravel_index(int(np.argmax(diff)), got.shape) if got.shape else ()
    # The dtype is named as a fact about the result, never as a mismatch: the expected values are
    # often computed in float64 by the test although float32 is right. A test that demands a dtype
    # says so with ``dtype=`` (checked above, with its own message).
    raise AssertionError(
        f"{what} differs at {int(bad.sum())} of {bad.size} position(s) (rtol={rtol:g}, atol={atol:g})\n"
        f"  shape {got.shape}, dtype {got.dtype}\n"
        f"  worst at index {_format_index(worst)}: got {got[worst].item()!r}, expected {want[worst].item()!r}"
    )


def assert_shape(actual, shape, what="result"):
    """Assert the shape of a Tensor or array, with a message naming both shapes."""
    got = as_array(actual).shape
    if tuple(got) != tuple(shape):
        raise AssertionError(f"{what} has shape {tuple(got)}, expected {tuple(shape)}")


@contextlib.contextmanager
def raises(expected, match=None):
    """Like ``pytest.raises``, except that a stub's NotImplementedError never counts as expected.

    ``NotImplementedError`` is a subclass of ``RuntimeError``, so ``pytest.raises(RuntimeError)``
    would pass on an unwritten stub; here the stub's error propagates (the student sees "not
    implemented yet"). ``match`` is a regular expression searched in the message.

    >>> with raises(ValueError, match="shape"):
    ...     raise ValueError("bad shape (2, 3)")
    """
    with pytest.raises(expected) as info:
        yield info
    if isinstance(info.value, NotImplementedError) and expected is not NotImplementedError:
        raise info.value
    if match is not None and not re.search(match, str(info.value)):
        raise AssertionError(
            f"{type(info.value).__name__} was raised as expected, but its message {str(info.value)!r} "
            f"does not match {match!r}"
        )


class GradcheckError(AssertionError):
    """Autograd's gradient disagrees with central differences (or the check would be vacuous)."""


def numeric_gradient(f, arrays, upstream, index, eps=1e-6) -> np.ndarray:
    """Central differences of ``sum(f(*arrays) * upstream)`` with respect to ``arrays[index]``."""
    from tinytorch.tensor import Tensor

    base = [np.array(a, dtype=np.float64) for a in arrays]
    x = base[index]
    grad = np.zeros_like(x)
    for i in np.ndindex(*x.shape):
        original = x[i]
        values = []
        for delta in (eps, -eps):
            x[i] = original + delta
            out = f(*[Tensor(a) for a in base])
            values.append(float(np.sum(as_array(out) * upstream)))
        x[i] = original
        grad[i] = (values[0] - values[1]) / (2 * eps)
    return grad


def _agrees_along_random_directions(f, arrays, tensors, wrt, upstream, rng, eps, directions=2) -> bool:
    """True when autograd's gradients agree with central differences along ``directions`` random
    directions u through all the inputs in ``wrt`` at once: sum_i <grad_i, u_i> against
    (F(x + eps u) - F(x - eps u)) / 2 eps, with F(x) = sum(f(x) * upstream). Two evaluations of ``f``
    per direction instead of two per input element (PyTorch's ``gradcheck(fast_mode=True)``).

    A wrong gradient (error vector e) agrees only if e is orthogonal to a Gaussian u to within the
    strict tolerance below (1e-7 of sum_i |grad_i u_i|). Central differences along u are exact to ~1e-10 of the
    function's scale here, far inside it, so a right gradient agrees; when it does not (a function
    with huge curvature, say), the caller runs the element-by-element check, which decides."""
    from tinytorch.tensor import Tensor

    grads = [getattr(tensors[i], "grad", None) for i in wrt]
    if any(g is None or as_array(g).shape != arrays[i].shape for g, i in zip(grads, wrt)):
        return False  # the element-by-element check names what is missing or misshapen
    grads = [as_array(g).astype(np.float64) for g in grads]

    def value(shift):
        inputs = [a + shift * u[i] if i in u else a for i, a in enumerate(arrays)]
        weighted = as_array(f(*[Tensor(a) for a in inputs])).astype(np.float64) * upstream
        return float(np.sum(weighted)), float(np.sum(np.abs(weighted)))

    for _ in range(directions):
        u = {i: rng.normal(size=arrays[i].shape) for i in wrt}
        analytic = sum(float(np.sum(g * u[i])) for g, i in zip(grads, wrt))
        scale = sum(float(np.sum(np.abs(g * u[i]))) for g, i in zip(grads, wrt))
        (plus, size), (minus, _) = value(eps), value(-eps)
        numeric = (plus - minus) / (2 * eps)
        if not np.isfinite(numeric) or abs(analytic - numeric) > 1e-7 * scale + 1e-9 * size + 1e-12:
            return False
    return True


def gradcheck(f, arrays, wrt=None, seed=0, eps=1e-6, atol=1e-5, rtol=1e-4, min_norm=1e-7):
    """Check autograd's gradients of ``f`` against float64 central differences.

    Parameters
    ----------
    f : callable
        ``f(*tensors) -> Tensor``, built from tinytorch ops.
    arrays : list of array_like
        Input values; converted to float64 tensors with ``requires_grad=True`` (for ``wrt``).
    wrt : list of int, optional
        Which inputs to check (default: all).
    seed : int
        Seeds the random upstream gradient ``g``: the check compares d(sum(f * g))/dx, so a rule
        that is only right for an all-ones upstream gradient fails.

    Raises
    ------
    GradcheckError
        When a gradient is missing, has the wrong shape, differs anywhere, or when the check
        could not fail: ``wrt`` is empty, the output does not require grad, or every reference
        gradient is ~0 (choose inputs away from kinks and flat regions, by construction).

    Notes
    -----
    First the gradients are compared along two random directions through all inputs (four
    evaluations of ``f``). Only if they disagree does the check difference every element of every
    input (two evaluations each), which finds the worst index for the message and decides: so a
    gradient fails exactly when it differs element by element, and a right one costs four
    evaluations instead of two per element.
    """
    from tinytorch.tensor import Tensor

    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    wrt = list(range(len(arrays))) if wrt is None else list(wrt)
    if not wrt:
        raise GradcheckError("wrt is empty: there is no gradient to check")
    tensors = [Tensor(a, requires_grad=i in wrt) for i, a in enumerate(arrays)]
    out = f(*tensors)
    if not getattr(out, "requires_grad", False):
        raise GradcheckError(
            "f's output does not require grad (it was not computed from the inputs by recorded ops): "
            "this check could not fail"
        )
    rng = np.random.default_rng(seed)
    upstream = rng.normal(size=as_array(out).shape)
    out.backward(upstream)
    if _agrees_along_random_directions(f, arrays, tensors, wrt, upstream, rng, eps):
        largest = max(float(np.abs(as_array(tensors[i].grad)).max(initial=0.0)) for i in wrt)
    else:
        largest = _check_every_element(f, arrays, tensors, wrt, upstream, seed, eps, atol, rtol)
    if largest < min_norm:
        raise GradcheckError("every reference gradient is ~0: this check could not fail; choose other inputs")
    return True


def _check_every_element(f, arrays, tensors, wrt, upstream, seed, eps, atol, rtol) -> float:
    """Compare each input's gradient with central differences element by element (raising
    GradcheckError at the first input that differs); the largest reference gradient."""
    largest = 0.0
    for i in wrt:
        expected = numeric_gradient(f, arrays, upstream, i, eps)
        largest = max(largest, float(np.abs(expected).max(initial=0.0)))
        got = tensors[i].grad
        if got is None:
            raise GradcheckError(f"input {i}: no gradient reached it (grad is None)")
        try:
            assert_close(got, expected, rtol=rtol, atol=atol, what=f"gradient of input {i}")
        except AssertionError as error:
            raise GradcheckError(
                f"{error}\n  (autograd vs float64 central differences of sum(f(x) * g), g a random upstream gradient, seed {seed})"
            ) from None
    return largest


# -- hypothesis strategies -----------------------------------------------------------------------
#
# Each strategy is built once per set of arguments and then reused: a strategy is immutable, and a
# composite that draws ``arrays(shape)`` for every example would otherwise build, and make
# hypothesis validate, a new one each time (a third of the time kata 01's property tests took).
# The values drawn are the same either way.

_STRATEGIES = {}


def _reused(build, *key):
    """``build()``, or the strategy it built before for the same ``key`` (unhashable: a new one)."""
    try:
        found = _STRATEGIES.get(key)
    except TypeError:
        return build()
    if found is None:
        found = _STRATEGIES[key] = build()
    return found


def floats(low=-3.0, high=3.0):
    """Finite float64 values in [low, high]."""
    return _reused(lambda: st.floats(low, high, allow_nan=False, allow_infinity=False, width=64), "floats", low, high)


def nonzero_floats(low=0.1, high=3.0):
    """Values with low <= |x| <= high, either sign: keeps inputs away from kinks at 0 by construction."""
    return _reused(
        lambda: st.tuples(st.sampled_from([-1.0, 1.0]), floats(low, high)).map(lambda t: t[0] * t[1]),
        "nonzero_floats", low, high,
    )


def positive_floats(low=0.5, high=3.0):
    """Values in [low, high] (for log, division, sqrt)."""
    return floats(low, high)


def small_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4):
    """Small array shapes: every coordinate of a gradient can be checked."""
    return _reused(
        lambda: hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side),
        "small_shapes", min_dims, max_dims, min_side, max_side,
    )


def broadcastable_pairs(max_dims=3, max_side=3):
    """Two shapes that broadcast together, including rank extension ((3, 1) with (4,)).

    Returns (shape_a, shape_b, result_shape).
    """
    return _reused(
        lambda: hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=max_dims, max_side=max_side).map(
            lambda s: (s.input_shapes[0], s.input_shapes[1], s.result_shape)
        ),
        "broadcastable_pairs", max_dims, max_side,
    )


def arrays(shape, elements=None, dtype=np.float64):
    """A float64 array of ``shape`` (a tuple, or a strategy of shapes such as ``small_shapes()``)
    with ``elements`` (default: ``floats()``)."""
    elements = elements if elements is not None else floats()
    if isinstance(shape, st.SearchStrategy):
        # hypothesis's own arrays() draws a shape, then builds and validates a new array strategy
        # for it, every example (a sixth of drawing a small array); this draws the same choices
        # (the same flatmap) and builds one array strategy per shape, reused
        return _reused(lambda: shape.flatmap(lambda drawn: arrays(drawn, elements, dtype)), "arrays", shape, elements, dtype)
    key = tuple(int(n) for n in shape) if isinstance(shape, (tuple, list)) else shape
    return _reused(lambda: hnp.arrays(dtype, shape, elements=elements), "arrays", key, elements, dtype)


# -- counting the rows a layer projects (katas 14 and 20: the work a KV cache saves) -----------------

_COUNT_ROWS: dict = {}  # tinytorch's Module class -> the CountRows class built on it


def count_rows(layer):
    """Wrap ``layer`` (a tinytorch Module such as ``attn.k_proj``) in a Module that counts the rows it projects.

    Every call passes through to ``layer`` unchanged; the wrapper records the number of rows
    (vectors: the product of every axis but the last) of each input in ``calls`` and their sum in
    ``rows`` (set ``rows = 0`` to start counting again). Work measured this way, not timed, is
    what the KV-cache tests compare: uncached generation projects the whole prefix at every step,
    cached generation only the new token. ``layer`` stays inside the wrapper (``.inner``), so its
    parameters are still the model's.

    >>> block.attn.k_proj = count_rows(block.attn.k_proj)      # doctest: +SKIP
    >>> model.generate(prompt, max_new_tokens=3); block.attn.k_proj.rows   # doctest: +SKIP
    """
    from tinytorch.layers import Module  # the tinytorch under test, imported only when used

    wrapper = _COUNT_ROWS.get(Module)
    if wrapper is None:

        class CountRows(Module):
            """A layer that counts the rows it projects (see :func:`dojo.testing.count_rows`)."""

            def __init__(self, inner):
                super().__init__()
                self.inner, self.calls, self.rows = inner, [], 0

            def forward(self, x):
                rows = int(np.prod(x.shape[:-1]))
                self.calls.append(rows)
                self.rows += rows
                return self.inner(x)

        wrapper = _COUNT_ROWS[Module] = CountRows
    return wrapper(layer)


__all__ += ["count_rows"]
