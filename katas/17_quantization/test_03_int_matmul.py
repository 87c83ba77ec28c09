"""Step 3: int_matmul — int8 × int8 accumulated exactly into int32 (NumPy's int8 @ int8 wraps)."""

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinytorch.quantization import FLOAT32_EXACT_K, int_matmul

int8s = st.integers(-128, 127)


def reference(a, b):
    """The exact product, accumulated in int64."""
    return a.astype(np.int64) @ b.astype(np.int64)


def check(a, b):
    out = int_matmul(a, b)
    assert isinstance(out, np.ndarray) and out.dtype == np.int32, f"expected an int32 array, got {type(out)} {getattr(out, 'dtype', '')}"
    expected = reference(a, b)
    assert out.shape == expected.shape, f"shape {out.shape}, expected {expected.shape}"
    wrong = np.argwhere(out != expected)
    assert not len(wrong), (f"{len(wrong)} wrong entries (K={a.shape[-1]}), e.g. at {tuple(wrong[0])}: "
                            f"{out[tuple(wrong[0])]} instead of {expected[tuple(wrong[0])]}")


@st.composite
def operands(draw):
    m, k, n = draw(st.integers(1, 5)), draw(st.integers(1, 40)), draw(st.integers(1, 5))
    a = draw(hnp.arrays(np.int8, (m, k), elements=int8s))
    b = draw(hnp.arrays(np.int8, (k, n), elements=int8s))
    return a, b


@given(ab=operands())
@example(ab=(np.full((2, 3), 127, np.int8), np.full((3, 2), 127, np.int8)))
@example(ab=(np.full((1, 4), -128, np.int8), np.full((4, 1), -128, np.int8)))
@example(ab=(np.array([[127, -128]], np.int8), np.array([[-128], [127]], np.int8)))
def test_exact_against_an_int64_reference(ab):
    """Every entry equals the int64 product; the result is int32.

    Hint: int_matmul must widen before multiplying, a.astype(np.float32) @ b.astype(np.float32) for K <=
    FLOAT32_EXACT_K, and return an int32 array (.astype(np.int32)); int8 @ int8 stays int8 and wraps.
    """
    check(*ab)


def test_no_wrap_around():
    """Sums beyond int8 and int16 (4·127² = 64,516) come out exact, where NumPy's int8 @ int8 wraps.

    Hint: NumPy's int8 @ int8 keeps int8 and wraps; widen both operands first (float32 or int32) and cast the
    result to int32.
    """
    a = np.full((2, 4), 127, np.int8)
    b = np.full((4, 3), 127, np.int8)
    assert (a @ b).dtype == np.int8 and int((a @ b)[0, 0]) != 64516  # what NumPy alone does
    out = int_matmul(a, b)
    assert out.dtype == np.int32 and out.tolist() == [[64516] * 3] * 2, out
    check(np.array([[100, 100]], np.int8), np.array([[100], [100]], np.int8))


def test_exact_just_beyond_float32s_exact_range():
    """K = 1041 terms of 127·127: 16,790,289 > 2**24 is odd, so float32 cannot hold it — the sum must still be exact.

    Hint: above K = FLOAT32_EXACT_K (1024) float32 partial sums can pass 2**24 and lose odd integers: switch
    to np.matmul(a.astype(np.int32), b.astype(np.int32)) for longer rows.
    """
    k = 1041
    out = int_matmul(np.full((2, k), 127, np.int8), np.full((k, 2), 127, np.int8))
    assert out.dtype == np.int32 and out.tolist() == [[k * 127 * 127] * 2] * 2, out


def test_minus_128_counts_in_the_bound():
    """int8 includes -128: with K = 1040 a sum of (-128)² terms passes 2**24 (K·127² would not): still exact.

    Hint: the float32 bound is K·128² (int8 includes -128), not K·127²: with K = 1040 use the integer path,
    i.e. the float path only when K <= FLOAT32_EXACT_K.
    """
    k = 1040
    a = np.full((1, k), -128, np.int8)
    b = np.full((k, 1), -128, np.int8)
    a[0, 7] = b[7, 0] = 127  # 1039·16384 + 16129 = 17,039,105: odd, above 2**24
    assert FLOAT32_EXACT_K * 128 * 128 <= 2**24
    check(a, b)


def test_long_rows_random():
    """K = 3000 random int8 values (far above the float32-exact bound): exact.

    Hint: for K = 3000 the float32 path is not exact; take K from a.shape[-1] and use the int32 np.matmul path
    beyond FLOAT32_EXACT_K.
    """
    rng = np.random.default_rng(0)
    a = rng.integers(-128, 128, (3, 3000)).astype(np.int8)
    b = rng.integers(-128, 128, (3000, 4)).astype(np.int8)
    b[:, 0] = a[0]  # one column correlated with a row: a large sum
    check(a, b)


def test_transposed_and_batched_operands():
    """Works on views (a weight's .T) and with a leading batch dimension, as np.matmul does.

    Hint: use np.matmul (which broadcasts batch dimensions and accepts views such as w.T) and take K from
    a.shape[-1], not a.shape[1].
    """
    rng = np.random.default_rng(1)
    w = rng.integers(-127, 128, (6, 9)).astype(np.int8)
    x = rng.integers(-127, 128, (2, 3, 9)).astype(np.int8)
    check(x, w.T)


def test_refuses_other_dtypes():
    """Operands that are not int8 are a TypeError (a float matmul is not what you think you computed).

    Hint: check a.dtype == np.int8 and b.dtype == np.int8 at the top of int_matmul and raise TypeError
    otherwise, instead of casting whatever arrives.
    """
    with pytest.raises(TypeError):
        int_matmul(np.ones((2, 2), np.float32), np.ones((2, 2), np.int8))
    with pytest.raises(TypeError):
        int_matmul(np.ones((2, 2), np.int8), np.ones((2, 2), np.int32))
