"""Step 2: sdpa — softmax(q kᵀ / √d) v with masks: weights sum to 1, masked weights are 0, no peeking at the future."""

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dojo.testing import arrays, assert_close, floats, gradcheck
from tinytorch.attention import scaled_dot_product_attention as sdpa
from tinytorch.tensor import Tensor


def tril(T):
    return np.tril(np.ones((T, T), dtype=bool))


def reference(q, k, v, mask=None):
    """softmax(q kᵀ / √d) v in float64, straight from the definition: masked weights are 0 and
    the other weights of the row are renormalised (a fully masked row is all 0)."""
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    allowed = np.ones(scores.shape, bool) if mask is None else np.broadcast_to(mask, scores.shape)
    e = np.where(allowed, np.exp(scores - scores.max(axis=-1, keepdims=True)), 0.0)
    total = e.sum(axis=-1, keepdims=True)
    w = e / np.where(total > 0, total, 1.0)
    return w @ v, w


def qkv(shape_q, T_k=None, d_v=None, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    *batch, T, d = shape_q
    T_k = T if T_k is None else T_k
    d_v = d if d_v is None else d_v
    return (rng.normal(size=shape_q).astype(dtype), rng.normal(size=(*batch, T_k, d)).astype(dtype),
            rng.normal(size=(*batch, T_k, d_v)).astype(dtype))


@st.composite
def attention_inputs(draw):
    """q (B, T_q, d), k (B, T_k, d), v (B, T_k, d_v) with small sizes and values in ±3."""
    B, Tq, Tk, d, dv = (draw(st.integers(1, 4), label=name) for name in ("B", "T_q", "T_k", "d", "d_v"))
    return (draw(arrays((B, Tq, d)), label="q"), draw(arrays((B, Tk, d)), label="k"),
            draw(arrays((B, Tk, dv)), label="v"))


@given(inputs=attention_inputs())
@example(inputs=qkv((1, 2, 4), T_k=3, d_v=1, seed=1))  # T_q != T_k, d != d_v: scale by sqrt(d) = 2
@example(inputs=qkv((2, 1, 1), T_k=1, d_v=2, seed=2))  # one key: every weight is 1
@example(inputs=qkv((1, 3, 3), seed=3))  # T == d: sqrt(T) and sqrt(d) agree here only
def test_matches_the_definition(inputs):
    """Without a mask, the output and the weights equal softmax(q kᵀ / √d) v computed in float64.

    Hint: scale by 1/sqrt(d) with d = q.shape[-1] (the query/key width, not T or d_v), take the softmax over
    the LAST axis (the keys), and multiply the weights by v; transpose only the last two axes of k.
    """
    q, k, v = inputs
    out, w = sdpa(Tensor(q), Tensor(k), Tensor(v), return_weights=True)
    ref_out, ref_w = reference(q, k, v)
    assert_close(w, ref_w, rtol=1e-6, atol=1e-9, what="attention weights")
    assert_close(out, ref_out, rtol=1e-6, atol=1e-9, what="attention output")


def test_returns_only_the_output_by_default():
    """sdpa(q, k, v) returns one Tensor shaped (..., T_q, d_v); float32 in gives float32 out.

    Hint: return a single Tensor, not a tuple, unless return_weights=True; its last axis is v's width d_v (6
    here, while d is 4), and float32 inputs must give float32 (no float64 arrays mixed into the Tensor ops).
    """
    q, k, v = qkv((2, 3, 4), T_k=5, d_v=6, dtype=np.float32)
    out = sdpa(Tensor(q), Tensor(k), Tensor(v))
    assert out.shape == (2, 3, 6) and out.dtype == np.float32, f"got {out.shape} {out.dtype}"


def test_weights_sum_to_one_over_keys():
    """Every row of the weights (one query) sums to 1, with or without a causal mask.

    Hint: the softmax must run over axis=-1 (keys), not over the queries; with a mask, fill the disallowed
    scores before the softmax rather than zeroing weights after it, so each row still sums to 1.
    """
    q, k, v = qkv((2, 3, 5, 4))
    for mask in (None, tril(5)):
        _, w = sdpa(Tensor(q), Tensor(k), Tensor(v), mask=mask, return_weights=True)
        assert_close(w.data.sum(axis=-1), np.ones((2, 3, 5)), what=f"row sums of the weights (mask={'causal' if mask is not None else None})")


def test_masked_weights_are_exactly_zero():
    """Under a causal mask, every weight above the diagonal is exactly 0.0 (not just small).

    Hint: apply masked_fill(scores, ~mask, MASKED_SCORE) BEFORE the softmax: exp(-1e9 - max) is exactly 0.0.
    Note the ~: the mask's True means 'may attend', masked_fill's True means 'fill here'.
    """
    q, k, v = qkv((2, 6, 4), dtype=np.float32)
    _, w = sdpa(Tensor(q), Tensor(k), Tensor(v), mask=tril(6), return_weights=True)
    future = np.triu(np.ones((6, 6), bool), k=1)
    assert np.all(w.data[:, future] == 0.0), f"largest future weight {np.abs(w.data[:, future]).max()}"


def test_causal_output_matches_the_definition():
    """With a causal mask, the output equals the masked definition (masked scores → -inf).

    Hint: the masked definition renormalises over the allowed keys: fill masked scores with MASKED_SCORE, then
    softmax, then multiply by v; multiplying the unmasked softmax by the mask gives rows that sum to less than
    1.
    """
    q, k, v = qkv((2, 5, 3))
    out = sdpa(Tensor(q), Tensor(k), Tensor(v), mask=tril(5))
    assert_close(out, reference(q, k, v, tril(5))[0], rtol=1e-6, atol=1e-9, what="causal attention output")


@pytest.mark.parametrize("t", [0, 2, 4])
def test_output_at_t_ignores_later_tokens(t):
    """With a causal mask, changing q, k and v at positions after t leaves the output at 0..t unchanged.

    Hint: the output at t may only depend on keys and values at positions <= t: the mask must reach the scores
    before the softmax (masked_fill with ~mask), and True in causal_mask means 'may attend'.
    """
    q, k, v = qkv((2, 6, 4), seed=1)
    q2, k2, v2 = (a.copy() for a in (q, k, v))
    noise = np.random.default_rng(2).normal(size=(3, 2, 6 - t - 1, 4)) * 10
    q2[:, t + 1:] += noise[0]
    k2[:, t + 1:] += noise[1]
    v2[:, t + 1:] += noise[2]
    a = sdpa(Tensor(q), Tensor(k), Tensor(v), mask=tril(6)).data
    b = sdpa(Tensor(q2), Tensor(k2), Tensor(v2), mask=tril(6)).data
    assert_close(b[:, : t + 1], a[:, : t + 1], rtol=0, atol=1e-12, what=f"output at positions 0..{t} after changing later tokens")


@pytest.mark.parametrize("t", [0, 3])
def test_no_gradient_reaches_future_keys_and_values(t):
    """The output at t has exactly zero gradient with respect to the keys and values after t.

    Hint: the mask has to act on the scores before the softmax (masked_fill(scores, ~mask, MASKED_SCORE));
    zeroing the weights after the softmax still lets future keys in through the row's normalisation, so they
    get a gradient.
    """
    q, k, v = (Tensor(a, requires_grad=True) for a in qkv((2, 5, 3), seed=3))
    out = sdpa(q, k, v, mask=tril(5))
    upstream = np.zeros(out.shape)
    upstream[:, t] = np.random.default_rng(4).normal(size=(2, 3))
    out.backward(upstream)
    assert np.all(k.grad[:, t + 1:] == 0), f"keys after {t} got gradient {np.abs(k.grad[:, t + 1:]).max()}"
    assert np.all(v.grad[:, t + 1:] == 0), f"values after {t} got gradient {np.abs(v.grad[:, t + 1:]).max()}"
    assert np.abs(v.grad[:, : t + 1]).max() > 0, "the values up to t should get a gradient"


@pytest.mark.parametrize("masked", [False, True])
@given(T=st.integers(1, 3), d=st.integers(1, 3), seed=st.integers(0, 2**16))  # every coordinate is checked: keep few
@example(T=1, d=1, seed=0)  # one token: the causal mask hides nothing
@example(T=4, d=1, seed=1)  # the pins reach 4
@example(T=2, d=4, seed=2)
@settings(max_examples=10)
def test_gradcheck_q_k_v(masked, T, d, seed):
    """Autograd's gradients with respect to q, k and v equal central differences (float64; T and d are drawn
    from 1 to 3 and pinned up to 4).

    Hint: build the whole function from differentiable Tensor ops (matmul, k.transpose(-2, -1), multiply,
    softmax, masked_fill) so autograd reaches q, k and v; any .data or NumPy call in the middle cuts the
    graph.
    """
    q, k, v = qkv((2, T, d), seed=seed)
    mask = tril(T) if masked else None
    gradcheck(lambda q, k, v: sdpa(q, k, v, mask=mask), [q, k, v], seed=seed)


def test_padding_mask_hides_padded_keys():
    """Keys masked by padding get weight 0, and their values cannot change any output.

    Hint: the (B, 1, T) mask must broadcast against the (B, T_q, T_k) scores: convert it with _mask_array and
    pass ~mask to masked_fill without reshaping it; padded keys then get weight exactly 0.
    """
    q, k, v = qkv((2, 4, 3), seed=5)
    mask = (np.arange(4) < np.array([2, 4])[:, None])[:, None, :]  # (B, 1, T): lengths 2 and 4
    out, w = sdpa(Tensor(q), Tensor(k), Tensor(v), mask=mask, return_weights=True)
    assert np.all(w.data[0, :, 2:] == 0), "padded keys of sequence 0 got weight"
    v2 = v.copy()
    v2[0, 2:] = 1e3
    assert_close(sdpa(Tensor(q), Tensor(k), Tensor(v2), mask=mask), out, rtol=0, atol=1e-12, what="output after changing padded values")


def test_fully_masked_rows_give_zero_weights_and_output():
    """A query with no key allowed attends to nothing: weights 0, output 0, no nan, no warning.

    Hint: a row filled entirely with MASKED_SCORE softmaxes to a uniform 1/T_k, not 0: compute has_key =
    np.broadcast_to(mask, scores.shape).any(axis=-1, keepdims=True) and multiply the weights by it.
    """
    q, k, v = qkv((1, 3, 2), seed=6)
    mask = np.array([[True, False, False], [False, False, False], [True, True, False]])
    out, w = sdpa(Tensor(q), Tensor(k), Tensor(v), mask=mask, return_weights=True)
    assert np.all(w.data[0, 1] == 0) and np.all(out.data[0, 1] == 0), f"row 1: weights {w.data[0, 1]}, output {out.data[0, 1]}"
    assert_close(out.data[0, [0, 2]], reference(q, k, v, mask)[0][0, [0, 2]], rtol=1e-6, atol=1e-9, what="the other rows")


def test_fully_masked_rows_pass_no_gradient():
    """A fully masked query contributes no gradient to q, k or v, and every gradient is finite.

    Hint: zero the fully masked rows inside the graph, weights = weights * has_key (a constant array), so the
    backward of weights @ v sends nothing to v from them; editing .data afterwards leaves the uniform row's
    gradient.
    """
    q, k, v = (Tensor(a, requires_grad=True) for a in qkv((1, 3, 2), seed=7))
    mask = np.array([[True, False, False], [False, False, False], [True, True, False]])
    out = sdpa(q, k, v, mask=mask)
    upstream = np.zeros(out.shape)
    upstream[0, 1] = [1.0, -2.0]  # only the fully masked row
    out.backward(upstream)
    for name, t in (("q", q), ("k", k), ("v", v)):
        assert t.grad is None or np.all(t.grad == 0), f"{name} got gradient {t.grad} from a fully masked row"


@given(scale=floats(100, 1000))
@example(scale=1000.0)  # the largest scores: exp overflows without the max subtracted
@settings(max_examples=5)
def test_large_scores_stay_finite(scale):
    """Scores in the thousands (peaked attention) give finite weights that still sum to 1.

    Hint: your softmax from kata 02 subtracts the row max, so use it (softmax(scores, axis=-1)) rather than
    np.exp(scores) / sum, which overflows for scores in the thousands.
    """
    q, k, v = qkv((1, 4, 2), seed=8)
    _, w = sdpa(Tensor(q * scale), Tensor(k * scale), Tensor(v), mask=tril(4), return_weights=True)
    assert np.isfinite(w.data).all()
    assert_close(w.data.sum(axis=-1), np.ones((1, 4)), what="row sums")


def test_batch_and_head_dimensions_broadcast():
    """Leading dimensions (batch, heads) broadcast: k, v of shape (1, 1, T, d) serve every q in (B, H, T, d).

    Hint: use q @ k.transpose(-2, -1) and weights @ v, which broadcast leading (batch, head) dimensions; k.T
    or a transpose that swaps axes 0 and 1 breaks for 4-d inputs.
    """
    rng = np.random.default_rng(9)
    q = rng.normal(size=(2, 3, 4, 5))
    k, v = rng.normal(size=(1, 1, 4, 5)), rng.normal(size=(1, 1, 4, 5))
    out = sdpa(Tensor(q), Tensor(k), Tensor(v), mask=tril(4))
    assert_close(out, reference(q, k, v, tril(4))[0], rtol=1e-6, atol=1e-9, what="broadcast attention")
