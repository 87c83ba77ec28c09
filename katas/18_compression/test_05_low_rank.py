"""Step 5: low_rank — a Linear as two thin Linears from its truncated SVD (Eckart–Young)."""

import numpy as np
import pytest

from dojo.testing import assert_close, raises
from tinytorch import rng
from tinytorch.compression import linear_from_arrays, low_rank
from tinytorch.layers import Linear, Sequential
from tinytorch.tensor import Tensor


def layer64(out=7, inp=5, seed=0):
    g = np.random.default_rng(seed)
    return linear_from_arrays(g.normal(size=(out, inp)), g.normal(size=out))


def product(thin):
    return thin[1].weight.data @ thin[0].weight.data


def test_two_thin_layers():
    """low_rank(Linear(5 -> 7), 2) is Sequential(Linear(5 -> 2, no bias), Linear(2 -> 7) with the original bias).

    Hint: low_rank returns Sequential(first, second): first = linear_from_arrays(weight (rank, in)) with NO
    bias, second = linear_from_arrays(weight (out, rank), linear.bias.data).
    """
    layer = layer64()
    thin = low_rank(layer, 2)
    assert isinstance(thin, Sequential) and len(thin) == 2, f"got {type(thin).__name__}"
    first, second = thin
    assert first.weight.shape == (2, 5) and first.bias is None, f"first: {first.weight.shape}, bias {first.bias}"
    assert second.weight.shape == (7, 2), f"second: {second.weight.shape}"
    assert_close(second.bias, layer.bias, rtol=0, atol=0, what="bias of the second layer")
    assert sum(p.size for p in thin.parameters()) == 2 * (5 + 7) + 7


@pytest.mark.parametrize("rank", [1, 2, 3, 4])
def test_error_is_the_tail_of_the_singular_values(rank):
    """‖W − W₂W₁‖_F = √(s[r]² + s[r+1]² + ...): the best any rank-r matrix can do (Eckart–Young), in float64.

    Hint: u, s, vt = np.linalg.svd(w, full_matrices=False) in float64; keep the first r singular values (the
    largest), with first = sqrt(s[:r])[:, None] * vt[:r] and second = u[:, :r] * sqrt(s[:r]).
    """
    layer = layer64(seed=rank)
    s = np.linalg.svd(layer.weight.data, compute_uv=False)
    error = np.linalg.norm(layer.weight.data - product(low_rank(layer, rank)))
    expected = np.sqrt((s[rank:] ** 2).sum())
    assert expected > 0.1
    assert abs(error - expected) <= 1e-10 * expected, f"rank {rank}: error {error}, the singular-value tail {expected}"


def test_factors_have_the_requested_rank():
    """W₂W₁ has exactly rank r, and its singular values are W's first r.

    Hint: the product second.weight @ first.weight must be U_r diag(s_r) V_rᵀ: split sqrt(s) between the two
    factors (or put s on one of them), but do not apply s twice.
    """
    layer = layer64(out=6, inp=6, seed=7)
    s = np.linalg.svd(layer.weight.data, compute_uv=False)
    got = np.linalg.svd(product(low_rank(layer, 3)), compute_uv=False)
    assert_close(got[:3], s[:3], rtol=1e-10, what="the kept singular values")
    assert_close(got[3:], np.zeros(3), atol=1e-10, what="the dropped singular values")


def test_full_rank_reproduces_the_layer():
    """At rank min(out, in) the two layers compute the original layer (float32: to 1e-5), same dtype.

    Hint: run the SVD in float64 but cast both factors back to the weight's dtype (.astype(w.dtype)), so a
    float32 layer gives float32 factors.
    """
    rng.manual_seed(1)
    layer = Linear(12, 9)
    thin = low_rank(layer, 9)
    assert thin[0].weight.dtype == np.float32 and thin[1].weight.dtype == np.float32
    x = Tensor(np.random.default_rng(2).normal(size=(4, 12)).astype(np.float32))
    assert_close(thin(x), layer(x), atol=1e-5, what="rank-9 factorization of Linear(12, 9)")


def test_rank_out_of_range_is_an_error():
    """rank 0 or above min(out, in) is a ValueError.

    Hint: raise ValueError unless 1 <= rank <= min(w.shape) before computing anything.
    """
    layer = layer64()
    for bad in (0, 6):
        with raises(ValueError):
            low_rank(layer, bad)
