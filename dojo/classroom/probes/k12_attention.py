"""Probes for kata 12 (Attention): masks and masked_fill, scaled dot-product attention (with
masks, a fully masked row, gradients) and multi-head attention with weights set from the seed."""

import numpy as np

from dojo.classroom.probes import probe


def _t(rng, shape, grad=False):
    from tinytorch.tensor import Tensor

    return Tensor(rng.normal(size=shape), requires_grad=grad)


@probe("masks")
def masks_and_masked_fill(rng):
    from tinytorch.attention import causal_mask, masked_fill, padding_mask

    T = int(rng.integers(3, 7))
    lengths = rng.integers(1, T + 1, size=3)
    x = _t(rng, (3, T), grad=True)
    mask = rng.random((3, T)) > 0.5
    out = masked_fill(x, mask, -7.0)
    out.backward(rng.normal(size=out.shape))
    return {"causal": causal_mask(T), "padding": padding_mask(lengths, T), "filled": out, "grad": x.grad}


@probe("sdpa")
def attention(rng):
    from tinytorch.attention import causal_mask, scaled_dot_product_attention

    q, k, v = _t(rng, (2, 4, 3), True), _t(rng, (2, 5, 3), True), _t(rng, (2, 5, 2), True)
    mask = rng.random((2, 4, 5)) > 0.3
    mask[1, 2] = False  # a query that may attend to nothing: weights and output 0
    out, weights = scaled_dot_product_attention(q, k, v, mask=mask, return_weights=True)
    out.backward(rng.normal(size=out.shape))
    causal = scaled_dot_product_attention(_t(rng, (4, 3)), _t(rng, (4, 3)), _t(rng, (4, 3)), mask=causal_mask(4))
    return {"out": out, "weights": weights, "dq": q.grad, "dk": k.grad, "dv": v.grad, "causal": causal}


@probe("multihead")
def multi_head_attention(rng):
    from tinytorch.attention import MultiHeadAttention, causal_mask, padding_mask

    mha = MultiHeadAttention(embed_dim=6, num_heads=3)
    for layer in (mha.q_proj, mha.k_proj, mha.v_proj, mha.out_proj):
        layer.weight.data[...] = rng.normal(scale=0.5, size=layer.weight.shape)
        layer.bias.data[...] = rng.normal(scale=0.1, size=layer.bias.shape)
    x = _t(rng, (2, 4, 6))
    split = mha.split_heads(x)
    mask = causal_mask(4) & padding_mask(np.array([4, 2]), 4)
    return {"out": mha(x), "masked": mha(x, mask=mask), "split": split, "merged": mha.merge_heads(split)}
