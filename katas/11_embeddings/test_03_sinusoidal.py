"""Step 3: sinusoidal — the fixed encodings of "Attention Is All You Need", checked at known positions."""

import numpy as np
import pytest

from dojo.testing import assert_close, raises
from tinytorch.embeddings import SinusoidalEncoding, sinusoidal_encoding


def naive(max_len, dim, base=10000.0):
    """The formula of the paper, one entry at a time."""
    pe = np.zeros((max_len, dim))
    for p in range(max_len):
        for i in range(dim // 2):
            pe[p, 2 * i] = np.sin(p / base ** (2 * i / dim))
            pe[p, 2 * i + 1] = np.cos(p / base ** (2 * i / dim))
    return pe


def test_position_zero_is_sin0_cos0():
    """At position 0 every angle is 0: the row is [0, 1, 0, 1, ...].

    Hint: even columns are sines and odd columns cosines (pe[:, 0::2] = np.sin(angles), pe[:, 1::2] =
    np.cos(angles)); at position 0 the row reads 0, 1, 0, 1, and swapping them gives 1, 0, 1, 0.
    """
    assert_close(sinusoidal_encoding(3, 6).data[0], [0, 1, 0, 1, 0, 1], what="PE[0]")


def test_position_one_known_values():
    """dim 4, position 1: [sin 1, cos 1, sin 0.01, cos 0.01] (the second pair turns 10000^(2/4) = 100 times slower).

    Hint: the frequency of pair i is base ** (-2i / dim), i.e. base ** (-np.arange(0, dim, 2) / dim); using
    np.arange(dim // 2) / dim instead makes the second pair's angle 0.1 where 0.01 is expected.
    """
    expected = [np.sin(1.0), np.cos(1.0), np.sin(0.01), np.cos(0.01)]
    assert_close(sinusoidal_encoding(2, 4).data[1], expected, what="PE[1] with dim 4")


def test_matches_the_formula_everywhere():
    """Every entry of a (50, 16) table equals the paper's formula.

    Hint: compute angles = np.arange(max_len)[:, None] * frequency (shape (max_len, dim/2)) in float64 and
    interleave: sin into columns 0, 2, 4 ..., cos into 1, 3, 5 ...; concatenating [sin | cos] halves is a
    different table.
    """
    assert_close(sinusoidal_encoding(50, 16), naive(50, 16), atol=1e-6, what="sinusoidal_encoding(50, 16)")


def test_shape_dtype_and_no_gradient():
    """The table is a float32 Tensor (max_len, dim) that does not require grad (nothing to learn).

    Hint: return Tensor(pe.astype(np.float32)) with shape (max_len, dim), not a Parameter and without
    requires_grad: the encoding is fixed, nothing learns it.
    """
    pe = sinusoidal_encoding(7, 10)
    assert pe.shape == (7, 10) and pe.dtype == np.float32 and not pe.requires_grad


def test_dot_product_depends_only_on_the_offset():
    """PE[p] · PE[p + k] = Σ cos(k·ω_i): the same for every p, which lets attention read relative positions.

    Hint: this property needs each sine column paired with the cosine of the same frequency (columns 2i and
    2i+1) and angles that are position times frequency; check the pairing and the formula of
    sinusoidal_encoding.
    """
    pe = sinusoidal_encoding(64, 16).data.astype(np.float64)
    omega = 10000.0 ** (-np.arange(0, 16, 2) / 16)
    for k in (1, 5, 20):
        dots = (pe[: 64 - k] * pe[k:]).sum(axis=1)
        assert_close(dots, np.full(64 - k, np.cos(k * omega).sum()), atol=1e-4, what=f"PE[p] · PE[p + {k}] for every p")


@pytest.mark.parametrize("dim", [3, 7])
def test_odd_dim_is_refused(dim):
    """dim must be even (sine and cosine come in pairs): ValueError.

    Hint: raise ValueError at the top of sinusoidal_encoding when dim % 2 != 0; do not rely on NumPy failing
    later (np.arange(0, dim, 2) still produces frequencies for an odd dim).
    """
    with raises(ValueError):
        sinusoidal_encoding(4, dim)


def test_layer_returns_the_first_T_rows():
    """SinusoidalEncoding(max_len, dim)(T) is the table's first T rows and has no parameters.

    Hint: SinusoidalEncoding is given and stores sinusoidal_encoding(max_len, dim) as a plain Tensor, so this
    fails when sinusoidal_encoding's values are wrong or it returns a Parameter (which parameters() would
    list).
    """
    layer = SinusoidalEncoding(10, 8)
    assert_close(layer(4), naive(10, 8)[:4], atol=1e-6, what="SinusoidalEncoding(10, 8)(4)")
    assert layer.parameters() == []
