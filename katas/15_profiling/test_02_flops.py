"""Step 2: flops — the FLOPs of Linear, Conv2d and attention from the input shape (a multiply-add = 2)."""

import math

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

from tinytorch import rng
from tinytorch.attention import MultiHeadAttention, causal_mask
from tinytorch.layers import Linear
from tinytorch.profiling import attention_flops, conv2d_flops, linear_flops
from tinytorch.spatial import Conv2d
from tinytorch.tensor import Tensor

sides = st.integers(1, 4)


@given(st.lists(sides, min_size=0, max_size=3), sides, sides)
@example([], 3, 5)  # a single vector: B = 1
@example([2, 1, 3], 4, 1)
def test_linear_flops_is_2_B_in_out(leading, fan_in, fan_out):
    """Linear(in, out) on (..., in): 2·B·in·out, B = the product of all leading dims — and that is
    2 × (number of outputs) × in: one multiply-add per input feature per output.

    Hint: B is the product of ALL leading dimensions of the input shape, shape[:-1], and is 1 when there are
    none: use math.prod(shape[:-1]) (shape[0] alone misses (N, T, in) inputs).
    """
    rng.manual_seed(0)
    layer = Linear(fan_in, fan_out)
    shape = (*leading, fan_in)
    got = linear_flops(layer, shape)
    assert got == 2 * math.prod(leading) * fan_in * fan_out, f"linear_flops(Linear({fan_in}, {fan_out}), {shape}) = {got}"
    out = layer(Tensor(np.zeros(shape, dtype=np.float32)))
    assert got == 2 * out.data.size * fan_in


def test_linear_flops_is_an_exact_int():
    """Big counts stay exact: Linear(64, 1000) on (64, 8192, 64) is 67,108,864,000 FLOPs (more
    than a 32-bit integer holds), as a Python int.

    Hint: compute with Python ints (math.prod and the layer's in_features/out_features): np.prod gives a float
    for an empty shape and can wrap at 32 bits, and a float result fails the isinstance(int) check.
    """
    rng.manual_seed(0)
    got = linear_flops(Linear(64, 1000), (64, 8192, 64))  # a small layer (cheap to build), a big input
    assert isinstance(got, int) and got == 2 * 64 * 8192 * 64 * 1000 == 67_108_864_000, f"{got!r} ({type(got).__name__})"


def test_conv2d_flops_with_stride_2_and_padding_1():
    """Conv2d(3, 8, 3, stride=2, padding=1) on (2, 3, 9, 9): Ho = Wo = (9 + 2 - 3)//2 + 1 = 5, so
    2·N·Cout·Ho·Wo·Cin·kh·kw = 2·2·8·5·5·3·3·3 = 21600.

    Hint: the output size depends on stride and padding: Ho = conv_output_size(H, kh, sh, ph) from kata 09,
    likewise Wo; then 2·N·Cout·Ho·Wo·Cin·kh·kw, with Cin taken from the input shape.
    """
    rng.manual_seed(0)
    conv = Conv2d(3, 8, 3, stride=2, padding=1)
    assert conv2d_flops(conv, (2, 3, 9, 9)) == 21600


@given(st.integers(1, 2), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3),
       st.integers(1, 2), st.integers(1, 2), st.integers(0, 1), st.integers(0, 1), st.integers(3, 7), st.integers(3, 7))
@example(1, 1, 1, 1, 1, 1, 1, 0, 0, 3, 3)
@example(2, 3, 2, 3, 2, 2, 1, 1, 0, 7, 4)  # non-square kernel, stride and padding
def test_conv2d_flops_match_the_layer_output(n, cin, cout, kh, kw, sh, sw, ph, pw, h, w):
    """2 × (number of outputs) × Cin·kh·kw, the outputs counted by running the layer
    (kernel, stride and padding given as pairs).

    Hint: kernel_size, stride and padding are (height, width) pairs on the layer: unpack each into its h and w
    part (kh, kw), (sh, sw), (ph, pw) and use the height ones for Ho and the width ones for Wo.
    """
    rng.manual_seed(0)
    conv = Conv2d(cin, cout, (kh, kw), stride=(sh, sw), padding=(ph, pw))
    out = conv(Tensor(np.zeros((n, cin, h, w), dtype=np.float32)))
    got = conv2d_flops(conv, (n, cin, h, w))
    assert got == 2 * out.data.size * cin * kh * kw, f"conv2d_flops = {got}, output shape {out.shape}"


def test_attention_flops_is_4_B_H_T2_d():
    """MultiHeadAttention(16, 4) on (2, 10, 16): scores 2·B·H·T·T·d + mixing 2·B·H·T·T·d = 4·2·4·100·4.

    Hint: count both products of the attention core: q kᵀ (2·T·T·d per head) and weights·v (2·T·T·d per head),
    so 4·B·H·T²·d with d = module.head_dim; the projections are not part of it.
    """
    rng.manual_seed(0)
    assert attention_flops(MultiHeadAttention(16, 4), (2, 10, 16)) == 12800


@given(st.integers(1, 3), st.integers(1, 6), st.sampled_from([(8, 1), (8, 2), (12, 3), (16, 4)]))
@example(1, 1, (8, 1))
def test_attention_flops_count_both_matrix_products(batch, T, dims):
    """scores (B, H, T, T) each a length-d dot product, outputs (B, H, T, d) each a length-T one:
    2·d·(scores) + 2·T·(outputs), whatever the mask (the full square is computed).

    Hint: take B and T from the input shape (shape[0], shape[1]) and H, d from the module (num_heads,
    head_dim); do not halve for the causal mask: the full T×T square is computed.
    """
    embed, heads = dims
    rng.manual_seed(0)
    mha = MultiHeadAttention(embed, heads)
    d = embed // heads
    scores, outputs = batch * heads * T * T, batch * heads * T * d
    got = attention_flops(mha, (batch, T, embed))
    assert got == 2 * d * scores + 2 * T * outputs, f"attention_flops = {got}"
    mha(Tensor(np.zeros((batch, T, embed), dtype=np.float32)), causal_mask(T))  # the shape is one it accepts
