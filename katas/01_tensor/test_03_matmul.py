"""Step 3: matmul — a @ b for 1-D, 2-D and batched operands, with errors that name both shapes."""

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from dojo.testing import arrays, assert_close
from tinytorch.tensor import Tensor

# Hypothesis's "explain" phase re-runs a failing test many times to annotate the example; on a
# stub that raises at once it costs seconds and says nothing, so these tests skip it.


def _random(*shape, seed=0):
    return np.random.default_rng(seed).uniform(-3, 3, size=shape)


@pytest.mark.parametrize(
    "shape_a, shape_b, result",
    [
        ((3,), (3,), ()),
        ((2, 3), (3,), (2,)),
        ((3,), (3, 4), (4,)),
        ((2, 3), (3, 4), (2, 4)),
    ],
    ids=["1d@1d", "2d@1d", "1d@2d", "2d@2d"],
)
def test_matmul_1d_and_2d(shape_a, shape_b, result):
    """(n,)@(n,) is the dot product (shape ()), (m,n)@(n,) → (m,), (n,)@(n,p) → (p,),
    (m,n)@(n,p) → (m,p): the same numbers as np.matmul.

    Hint: np.matmul already handles 1-D operands (a dot product gives shape ()): return its result after your
    checks; an inner-size check that reads b.shape[-2] for a 1-D b, or a reshape to 2-D, breaks these cases.
    """
    a, b = _random(*shape_a, seed=1), _random(*shape_b, seed=2)
    out = Tensor(a) @ Tensor(b)
    assert_close(out, np.matmul(a, b), dtype=np.float64, what=f"{shape_a} @ {shape_b}")
    assert out.shape == result


def test_matmul_batched():
    """(b, m, n) @ (n, p) multiplies each of the b matrices: shape (b, m, p).

    Hint: The inner sizes are a.shape[-1] and b.shape[-2] (b.shape[0] only when b is 1-D): comparing
    a.shape[1], or using np.dot, goes wrong once the left operand has a batch dimension.
    """
    a, b = _random(4, 2, 3, seed=1), _random(3, 5, seed=2)
    assert_close(Tensor(a) @ Tensor(b), np.matmul(a, b), what="(4, 2, 3) @ (3, 5)")
    c = _random(4, 3, 5, seed=3)
    assert_close(Tensor(a) @ Tensor(c), np.matmul(a, c), what="(4, 2, 3) @ (4, 3, 5)")


def test_matmul_broadcasts_batch_dimensions():
    """Batch dimensions (all but the last two) broadcast: (2, 1, 3, 4) @ (5, 4, 2) → (2, 5, 3, 2).

    Hint: Batch dimensions broadcast ((2, 1) with (5,) gives (2, 5)): let np.matmul do it and only check the
    last two dims yourself; requiring equal batch shapes or equal ndim rejects this case.
    """
    a, b = _random(2, 1, 3, 4, seed=1), _random(5, 4, 2, seed=2)
    out = Tensor(a) @ Tensor(b)
    assert_close(out, np.matmul(a, b), what="(2, 1, 3, 4) @ (5, 4, 2)")


@st.composite
def matmul_operands(draw):
    """(*batch, m, n) and (n, p) arrays: batch of 0 to 2 dimensions, sizes 1 to 3."""
    batch = draw(st.lists(st.integers(1, 2), max_size=2), label="batch")
    m, n, p = draw(st.integers(1, 3), label="m"), draw(st.integers(1, 3), label="n"), draw(st.integers(1, 3), label="p")
    return draw(arrays((*batch, m, n)), label="a"), draw(arrays((n, p)), label="b")


# Edge cases: no batch, sizes of 1 (an outer product, a dot product), a non-square batch.
@given(operands=matmul_operands())
@example(operands=(_random(2, 3, seed=1), _random(3, 1, seed=2)))
@example(operands=(_random(3, 1, seed=1), _random(1, 2, seed=2)))
@example(operands=(_random(1, 3, seed=1), _random(3, 1, seed=2)))
@example(operands=(_random(2, 1, 3, 2, seed=1), _random(2, 3, seed=2)))
def test_matmul_matches_numpy(operands):
    """For any batch shape and sizes, (*batch, m, n) @ (n, p) equals np.matmul.

    Hint: The pinned cases are an outer product (3, 1) @ (1, 2), a (1, 3) @ (3, 1) dot and size-1 batches:
    compare a.shape[-1] with b.shape[-2] only, and return np.matmul's result unchanged (no squeeze).
    """
    a, b = operands
    assert_close(Tensor(a) @ Tensor(b), np.matmul(a, b), what=f"{a.shape} @ {b.shape}")


def test_matmul_float32_stays_float32():
    """float32 @ float32 is float32.

    Hint: np.matmul of two float32 arrays is float32: a cast (astype(float), np.asarray(...,
    dtype=np.float64)) or a float64 buffer (np.zeros) in __matmul__ upcasts it.
    """
    a = Tensor([[1.0, 2.0], [3.0, 4.0]])
    assert (a @ a).dtype == np.float32, f"dtype is {(a @ a).dtype}"


def test_inner_size_mismatch_names_both_shapes():
    """(2, 3) @ (4, 5): the inner sizes 3 and 4 differ — a ValueError whose message contains
    "(2, 3)" and "(4, 5)" (NumPy's message speaks of gufunc signatures instead).

    Hint: Compare the inner sizes yourself before np.matmul (a.shape[-1] vs b.shape[-2]) and raise a
    ValueError whose f-string includes a.shape and b.shape (they print as '(2, 3)').
    """
    with pytest.raises(ValueError) as error:
        Tensor(np.ones((2, 3))) @ Tensor(np.ones((4, 5)))
    message = str(error.value)
    assert "(2, 3)" in message and "(4, 5)" in message, f"the message should name both shapes, got: {message}"


def test_vector_mismatch_names_both_shapes():
    """(3,) @ (4, 2) and (2, 3) @ (2,) also raise a ValueError naming both shapes.

    Hint: With a 1-D right operand the inner size is b.shape[0]; a 1-D left operand's is a.shape[-1]: check
    these before np.matmul so the message names both shapes ('(3,)' and '(4, 2)').
    """
    for shape_a, shape_b in [((3,), (4, 2)), ((2, 3), (2,))]:
        with pytest.raises(ValueError) as error:
            Tensor(np.ones(shape_a)) @ Tensor(np.ones(shape_b))
        message = str(error.value)
        assert str(shape_a) in message and str(shape_b) in message, f"{shape_a} @ {shape_b}: got message: {message}"


def test_batch_dimensions_that_do_not_broadcast_name_both_shapes():
    """(2, 2, 3) @ (3, 3, 4): the batch sizes 2 and 3 do not broadcast — a ValueError naming both shapes.

    Hint: The inner sizes match here (3 and 3): it is np.matmul that fails on batch sizes 2 vs 3, so wrap it
    in try/except ValueError and re-raise with both shapes in the message.
    """
    with pytest.raises(ValueError) as error:
        Tensor(np.ones((2, 2, 3))) @ Tensor(np.ones((3, 3, 4)))
    message = str(error.value)
    assert "(2, 2, 3)" in message and "(3, 3, 4)" in message, f"the message should name both shapes, got: {message}"


def test_zero_dimensional_operand_is_an_error():
    """A 0-d tensor cannot take part in a matmul (use * for scaling): a ValueError naming the shapes.

    Hint: Check a.ndim == 0 or b.ndim == 0 first (a.shape[-1] of shape () is an IndexError, and NumPy's
    message names no shapes) and raise a ValueError naming both shapes.
    """
    for left, right in [(Tensor(2.0), Tensor(np.ones((4, 5)))), (Tensor(np.ones((4, 5))), Tensor(2.0))]:
        with pytest.raises(ValueError) as error:
            left @ right
        assert "(4, 5)" in str(error.value), f"the message should name the shapes, got: {error.value}"


def test_matmul_records_node():
    """a @ b with a.requires_grad records op "matmul" with inputs (a, b).

    Hint: The node comes from @op('matmul') when __matmul__ returns a NumPy array: return np.matmul's array,
    not a Tensor, and do not build the product from other ops (a * b summed) that record something else.
    """
    a = Tensor(np.ones((2, 3)), requires_grad=True)
    b = Tensor(np.ones((3, 4)))
    out = a @ b
    assert out.node is not None and out.node.op == "matmul", f"node is {out.node!r}"
    assert out.node.inputs[0] is a and out.node.inputs[1] is b
