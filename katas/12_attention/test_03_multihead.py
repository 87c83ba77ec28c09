"""Step 3: multihead — MultiHeadAttention: heads by reshaping (no loop), equal to a loop over heads."""

import numpy as np
import pytest

from dojo.testing import assert_close
from tinytorch import rng
from tinytorch.attention import MultiHeadAttention
from tinytorch.tensor import Tensor


def tril(T):
    return np.tril(np.ones((T, T), dtype=bool))


def linear(layer, x):
    return x @ layer.weight.data.T.astype(np.float64) + layer.bias.data.astype(np.float64)


def per_head_loop(mha, x, mask=None):
    """The definition, one head at a time in float64: project, slice the head's columns, attend, concatenate."""
    q, k, v = linear(mha.q_proj, x), linear(mha.k_proj, x), linear(mha.v_proj, x)
    hd = mha.head_dim
    heads = []
    for h in range(mha.num_heads):
        cols = slice(h * hd, (h + 1) * hd)
        scores = q[..., cols] @ np.swapaxes(k[..., cols], -1, -2) / np.sqrt(hd)
        if mask is not None:
            scores = np.where(mask, scores, -np.inf)
        w = np.exp(scores - scores.max(axis=-1, keepdims=True))
        heads.append((w / w.sum(axis=-1, keepdims=True)) @ v[..., cols])
    return linear(mha.out_proj, np.concatenate(heads, axis=-1))


def make(embed_dim=8, num_heads=2, seed=0):
    rng.manual_seed(seed)
    return MultiHeadAttention(embed_dim, num_heads)


def inputs(shape, seed=1):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


@pytest.mark.parametrize("num_heads", [1, 2, 4])
def test_equals_a_loop_over_heads(num_heads):
    """The batched forward equals attention computed head by head and concatenated, then out_proj.

    Hint: MultiHeadAttention.forward: project with q_proj, k_proj, v_proj, split_heads each, one
    scaled_dot_product_attention call, merge_heads, then out_proj; check split_heads and merge_heads first.
    """
    mha = make(8, num_heads)
    x = inputs((2, 5, 8))
    assert_close(mha(Tensor(x)), per_head_loop(mha, x.astype(np.float64)), rtol=1e-4, atol=1e-5,
                 what=f"MultiHeadAttention(8, {num_heads})(x)")


def test_equals_a_loop_over_heads_with_a_causal_mask():
    """With causal_mask-style (T, T) masks the same holds, for every head.

    Hint: pass the mask on to scaled_dot_product_attention: a (T, T) mask broadcasts against the (B, H, T, T)
    scores as is; only a 3-d mask needs a head axis (mask[:, None]).
    """
    mha = make(12, 3)
    x = inputs((2, 6, 12), seed=2)
    assert_close(mha(Tensor(x), mask=tril(6)), per_head_loop(mha, x.astype(np.float64), tril(6)), rtol=1e-4, atol=1e-5,
                 what="causal MultiHeadAttention(12, 3)(x)")


def test_output_shape_and_dtype():
    """(B, T, embed_dim) in, (B, T, embed_dim) out, float32 kept.

    Hint: merge_heads must give (B, T, embed_dim) before out_proj, and float32 must survive: no float64 arrays
    (e.g. a mask turned into floats with astype(float)) mixed into the Tensor ops.
    """
    out = make(8, 2)(Tensor(inputs((3, 4, 8))))
    assert out.shape == (3, 4, 8) and out.dtype == np.float32, f"got {out.shape} {out.dtype}"


def test_split_heads_layout():
    """split_heads: (B, T, C) -> (B, H, T, hd) where head h holds columns h*hd .. (h+1)*hd - 1.

    Hint: split_heads is x.reshape(B, T, num_heads, head_dim).transpose(1, 2); reshaping straight to (B,
    num_heads, T, head_dim) mixes time steps and columns between heads.
    """
    mha = make(6, 3)
    x = inputs((2, 4, 6))
    split = mha.split_heads(Tensor(x))
    assert split.shape == (2, 3, 4, 2), f"got {split.shape}"
    for h in range(3):
        assert_close(split.data[:, h], x[:, :, 2 * h: 2 * h + 2], rtol=0, atol=0, what=f"head {h}")


def test_merge_heads_inverts_split_heads():
    """merge_heads(split_heads(x)) == x, and the gradient passes through both unchanged.

    Hint: merge_heads undoes the split in reverse order: x.transpose(1, 2) back to (B, T, H, hd), then
    reshape(B, T, embed_dim); use Tensor ops so the gradient flows through both.
    """
    mha = make(6, 3)
    x = Tensor(inputs((2, 4, 6)), requires_grad=True)
    out = mha.merge_heads(mha.split_heads(x))
    assert_close(out, x.data, rtol=0, atol=0, what="merge_heads(split_heads(x))")
    upstream = inputs((2, 4, 6), seed=3)
    out.backward(upstream)
    assert_close(x.grad, upstream, rtol=0, atol=0, what="gradient through split and merge")


def test_output_at_t_ignores_later_tokens():
    """With a causal mask, changing the input after position t leaves the output at 0..t unchanged.

    Hint: forward must hand its mask to scaled_dot_product_attention (an ignored mask parameter makes every
    position read the future); the (T, T) causal mask broadcasts over batch and heads.
    """
    mha = make(8, 2)
    x = inputs((2, 6, 8))
    x2 = x.copy()
    x2[:, 3:] = inputs((2, 3, 8), seed=9) * 5
    a, b = mha(Tensor(x), mask=tril(6)).data, mha(Tensor(x2), mask=tril(6)).data
    assert_close(b[:, :3], a[:, :3], rtol=0, atol=1e-6, what="output at positions 0..2 after changing positions 3..5")
    assert not np.allclose(b[:, 3:], a[:, 3:]), "the later outputs should change"


def test_padded_batch_equals_separate_sequences():
    """A (B, 1, T) padding mask combined with causal: each real position's output equals running
    that sequence alone, unpadded.

    Hint: this mask is (B, T, T); against the (B, H, T, T) scores it would line B up with H, so insert a head
    axis first: mask = _mask_array(mask)[:, None] when mask.ndim == 3.
    """
    mha = make(8, 2)
    x = inputs((2, 5, 8), seed=4)
    lengths = np.array([3, 5])
    mask = tril(5) & (np.arange(5) < lengths[:, None])[:, None, :]
    out = mha(Tensor(x), mask=mask).data
    for b, n in enumerate(lengths):
        alone = mha(Tensor(x[b:b + 1, :n]), mask=tril(n)).data
        assert_close(out[b, :n], alone[0], rtol=1e-5, atol=1e-6, what=f"sequence {b} (length {n})")


def test_gradients_reach_every_projection():
    """After backward, all four projections (weights and biases) and the input have gradients.

    Hint: all four Linear layers must be used in forward (q_proj, k_proj, v_proj and out_proj, in that role),
    with Tensor ops only: no .data or NumPy in the middle that would cut the graph.
    """
    mha = make(8, 2)
    x = Tensor(inputs((2, 3, 8)), requires_grad=True)
    mha(x, mask=tril(3)).sum().backward()
    names = [name for name, p in mha.named_parameters() if p.grad is None or not np.abs(p.grad).max() > 0]
    assert not names, f"no gradient reached {names}"
    assert x.grad is not None and np.abs(x.grad).max() > 0
