"""Step 3: fused — GELU, softmax, LayerNorm, attention and Linear as fused kernels with their own backward,
and without any graph when nothing needs a gradient (generation)."""

from contextlib import nullcontext

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dojo.testing import assert_close, gradcheck, small_shapes
from tinytorch import acceleration, rng, tensor
from tinytorch.acceleration import backend, counters, reset_counters
from tinytorch.activations import gelu, softmax
from tinytorch.attention import MultiHeadAttention, causal_mask, padding_mask, scaled_dot_product_attention
from tinytorch.autograd import no_grad
from tinytorch.kv_cache import cached_causal_mask, generate_cached
from tinytorch.layers import Linear
from tinytorch.tensor import Tensor
from tinytorch.transformer import GPT, layer_norm


@pytest.fixture(autouse=True)
def reference_afterwards():
    yield
    try:
        acceleration.set_backend("reference")
    except Exception:
        pass
    tensor.set_dispatcher(None)


def run(name, f, arrays, upstream_seed=0):
    """f(*tensors) under backend ``name``: the output array(s) and every input's gradient."""
    tensors = [Tensor(a, requires_grad=True) for a in arrays]
    with backend(name):
        out = f(*tensors)
        outs = out if isinstance(out, tuple) else (out,)
        upstream = np.random.default_rng(upstream_seed).normal(size=outs[0].shape).astype(outs[0].dtype)
        outs[0].backward(upstream)
    return [o.data for o in outs], [t.grad for t in tensors]


def same_as_reference(f, arrays, what, rtol=1e-5, atol=1e-6):
    """The fast backend's outputs and gradients equal the reference's, in the inputs' dtype."""
    (ref_out, ref_grads), (fast_out, fast_grads) = run("reference", f, arrays), run("fast", f, arrays)
    for r, g in zip(ref_out, fast_out):
        assert_close(g, r, rtol=rtol, atol=atol, dtype=r.dtype, what=f"{what}: fast output")
    for i, (r, g) in enumerate(zip(ref_grads, fast_grads)):
        assert g is not None, f"{what}: no gradient reached input {i} under the fast backend"
        assert_close(g, r, rtol=rtol, atol=atol, dtype=arrays[i].dtype, what=f"{what}: fast gradient of input {i}")


def ran_fast(op):
    return counters().get((op, "fast"), 0)


def values(shape, seed, scale=3.0, dtype=np.float32):
    return (np.random.default_rng(seed).uniform(-scale, scale, shape)).astype(dtype)


# -- GELU ------------------------------------------------------------------------------------------


@given(shape=small_shapes(min_dims=1, max_dims=3, max_side=5), seed=st.integers(0, 2**16))
@example(shape=(1,), seed=0)
@example(shape=(2, 3, 4), seed=1)
@settings(max_examples=10)
def test_gelu_equals_the_reference_forward_and_backward(shape, seed):
    """The fused GELU's output and gradient equal kata 02's and kata 05's, float32 in, float32 out.

    Hint: FusedGELU.forward computes s = sigmoid(2u) = 1 / (1 + exp(-2u)) with u = c·(x + 0.044715·x³) and
    returns x·s; the backward is grad·(s + 2·x·P·s·(1 - s)) with P = c + 3·0.044715·c·x². Keep float32 by
    writing scalars as x.dtype.type(...).
    """
    reset_counters()
    same_as_reference(gelu, [values(shape, seed)], "gelu")
    assert ran_fast("gelu") == 1, "the fast backend did not run a registered 'gelu' kernel"


def test_gelu_at_the_edges():
    """0 and ±1000 (tanh saturates: gradient exactly 1 or 0): the same finite values and gradients as the reference.

    Hint: at ±1000 exp(-2u) overflows to inf, which is right (s = 0, or s = 1): silence it with
    np.errstate(over='ignore'); forms like exp(2u)/(1 + exp(2u)) become inf/inf = nan there.
    """
    x = np.array([0.0, 1000.0, -1000.0, 30.0, -30.0, 0.5], dtype=np.float32)
    same_as_reference(gelu, [x], "gelu at the edges")
    with backend("fast"):
        t = Tensor(x, requires_grad=True)
        gelu(t).backward(np.ones(6, np.float32))
    assert np.isfinite(t.grad).all() and t.grad[1] == 1 and t.grad[2] == 0, f"gelu'(±1000) should be 1 and 0, got {t.grad[1:3]}"


def test_gelu_gradcheck_under_the_fast_backend():
    """The fused backward equals central differences (float64).

    Hint: in float64 the tolerance is tight: check the derivative d gelu/dx = s + 2·x·P·s·(1 - s), and make
    sure backward does not modify the saved x or s in place (backward may run more than once).
    """
    with backend("fast"):
        gradcheck(gelu, [np.linspace(-3, 3, 12).reshape(3, 4)])


# -- softmax ---------------------------------------------------------------------------------------


@given(shape=small_shapes(min_dims=1, max_dims=3, max_side=5), axis=st.integers(-3, 2), seed=st.integers(0, 2**16))
@example(shape=(2, 3), axis=-1, seed=0)
@example(shape=(4, 1), axis=1, seed=1)  # an axis of size 1: every weight is 1, the gradient is 0
@example(shape=(2, 3, 4), axis=0, seed=2)
@settings(max_examples=10)
def test_softmax_equals_the_reference_on_any_axis(shape, axis, seed):
    """The fused softmax and its backward equal the reference along any axis.

    Hint: FusedSoftmax must use ctx.axis everywhere: max and sum with axis=axis, keepdims=True, in forward and
    backward; the backward is s·(grad - Σ(grad·s)) summed along that axis.
    """
    axis = axis % len(shape)
    reset_counters()
    same_as_reference(lambda x: softmax(x, axis=axis), [values(shape, seed)], f"softmax(axis={axis})")
    assert ran_fast("softmax") == 1


def test_softmax_with_huge_and_equal_logits():
    """Logits ±1e4 and equal rows: finite, the same as the reference.

    Hint: subtract the max along the axis before np.exp (into a buffer, in place) so ±1e4 does not overflow;
    equal logits then give exactly uniform weights.
    """
    x = np.array([[1e4, -1e4, 0.0], [5.0, 5.0, 5.0]], dtype=np.float32)
    same_as_reference(lambda t: softmax(t, axis=-1), [x], "softmax of huge and equal logits")


# -- LayerNorm -------------------------------------------------------------------------------------


@given(lead=small_shapes(min_dims=1, max_dims=2, max_side=4), d=st.integers(2, 8), seed=st.integers(0, 2**16))
@example(lead=(1,), d=2, seed=0)
@example(lead=(2, 3), d=8, seed=1)
@settings(max_examples=10)
def test_layer_norm_equals_the_reference(lead, d, seed):
    """The fused LayerNorm's output and the gradients of x, weight and bias equal kata 13's.

    Hint: FusedLayerNorm.backward returns (dx, dweight, dbias): dbias = Σ g and dweight = Σ g·xhat over every
    axis but the last, dx = rstd·(dxhat - mean(dxhat) - xhat·mean(dxhat·xhat)) with dxhat = g·weight.
    """
    # The ramp keeps every row's spread >= 2 whatever the draw (values are within ±3): a row whose
    # variance is near 0 is ill-conditioned in float32 (both kernels lose digits), not a bug; the
    # constant row has its own test below.
    x = values((*lead, d), seed) + np.linspace(-4, 4, d, dtype=np.float32)
    w, b = values(d, seed + 1, 2.0), values(d, seed + 2, 1.0)
    reset_counters()
    same_as_reference(layer_norm, [x, w, b], "layer_norm", rtol=1e-4, atol=1e-5)
    assert ran_fast("layer_norm") == 1


def test_layer_norm_of_a_constant_row_is_the_bias():
    """A constant row (variance 0) gives the bias, finite gradients, as in the reference.

    Hint: a constant row has variance 0: rstd = 1/sqrt(var + eps) with eps inside the square root keeps it
    finite, and xhat is then 0, so the output is the bias.
    """
    x = np.array([[7.0, 7.0, 7.0], [1.0, 2.0, 4.0]], dtype=np.float32)
    same_as_reference(layer_norm, [x, np.ones(3, np.float32), np.array([0.5, -1.0, 2.0], np.float32)],
                      "layer_norm with a constant row", rtol=1e-4, atol=1e-4)


def test_layer_norm_gradcheck_under_the_fast_backend():
    """x, weight and bias: the fused backward equals central differences (float64).

    Hint: the mean terms in dx are over the LAST axis with keepdims=True, and dweight/dbias sum over all
    leading axes (reshape grad to (-1, D)); inputs here are 3-d, so don't assume 2-d.
    """
    r = np.random.default_rng(3)
    x = r.uniform(-3, 3, (2, 3, 4)) + np.linspace(-1, 1, 4)
    with backend("fast"):
        gradcheck(layer_norm, [x, r.uniform(0.5, 2, 4), r.uniform(-1, 1, 4)])


# -- attention -------------------------------------------------------------------------------------


def attention_inputs(B, H, T, d, seed, past=0):
    """q (B, H, T, d) and k, v (B, H, past + T, d): T new queries against the keys of ``past`` cached tokens too."""
    return [values((B, H, T + (i > 0) * past, d), seed + i, 1.5) for i in range(3)]


@given(B=st.integers(1, 2), H=st.integers(1, 2), T=st.integers(1, 5), past=st.sampled_from([0, 0, 1, 3]),
       d=st.integers(1, 4), masking=st.sampled_from(["none", "causal", "padding"]), seed=st.integers(0, 2**16))
@example(B=1, H=1, T=1, past=0, d=1, masking="causal", seed=0)  # one token
@example(B=2, H=2, T=4, past=0, d=3, masking="causal", seed=1)
@example(B=2, H=1, T=3, past=0, d=2, masking="padding", seed=2)  # sequence 0 is fully padded: rows of zeros
@example(B=2, H=2, T=1, past=4, d=3, masking="none", seed=3)  # a KV-cached decode step: 1 query, 5 keys
@example(B=1, H=2, T=2, past=3, d=4, masking="causal", seed=4)  # a cached chunk: cached_causal_mask(2, 3)
@settings(max_examples=10)
def test_attention_equals_the_reference(B, H, T, past, d, masking, seed):
    """Fused scores + mask + softmax: the output, the weights and the gradients of q, k, v equal kata 12's,
    for T_q = T queries against T_k = past + T keys (kata 14's KV cache: past = 0 in training, T = 1 to decode).

    Hint: AttentionWeights.forward: s = q @ kᵀ · (1/sqrt(d)) with d = q.shape[-1], the head size, whatever T_q
    and T_k (a decode step's scores are (…, 1, T_k)), np.copyto(s, MASKED_SCORE, where=~mask), softmax over
    the keys, then zero the rows whose mask has no True (has_key); the backward is ds = w·(grad - Σ
    grad·w)·scale, dq = ds @ k, dk = dsᵀ @ q.
    """
    T_k = past + T
    mask = {"none": None, "causal": cached_causal_mask(T, past),
            "padding": padding_mask([0, T_k][:B], T_k)[:, None]}[masking]
    reset_counters()
    same_as_reference(lambda q, k, v: scaled_dot_product_attention(q, k, v, mask=mask, return_weights=True),
                      attention_inputs(B, H, T, d, seed, past), f"attention (T_q={T}, T_k={T_k}, {masking} mask)",
                      rtol=1e-4, atol=1e-5)
    assert ran_fast("scaled_dot_product_attention") == 1


def test_attention_gradcheck_under_the_fast_backend():
    """q, k and v through the fused kernel with a causal mask: central differences agree (float64).

    Hint: return one gradient per positional input (dq, dk) and sum each back to its input's shape with
    unbroadcast; remember the scale factor in ds, not only in the forward.
    """
    q, k, v = (a.astype(np.float64) for a in attention_inputs(1, 2, 3, 2, seed=5))
    with backend("fast"):
        gradcheck(lambda q, k, v: scaled_dot_product_attention(q, k, v, mask=causal_mask(3)), [q, k, v])


# -- Linear ----------------------------------------------------------------------------------------


def linear(x, weight, bias=None):
    """A kata 03 Linear holding ``weight`` and ``bias`` (Tensors), applied to ``x``."""
    layer = Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
    layer.weight, layer.bias = weight, bias
    return layer(x)


@given(lead=small_shapes(min_dims=0, max_dims=2, max_side=4), n_in=st.integers(1, 6), n_out=st.integers(1, 6),
       bias=st.booleans(), seed=st.integers(0, 2**16))
@example(lead=(), n_in=3, n_out=2, bias=True, seed=0)  # one vector in, one vector out
@example(lead=(2, 3), n_in=4, n_out=5, bias=False, seed=1)
@settings(max_examples=10)
def test_linear_equals_the_reference(lead, n_in, n_out, bias, seed):
    """A Linear layer under the fast backend is ONE op, FusedLinear: same output and gradients of x, weight, bias.

    Hint: FusedLinear.forward is np.matmul(x, weight.T, out=...) plus the bias in place; its backward flattens
    the leading axes into rows: dx = g @ weight, dweight = g2ᵀ @ x2 (out, in), dbias = g2.sum(axis=0), and
    returns three gradients (None for a missing bias).
    """
    arrays = [values((*lead, n_in), seed), values((n_out, n_in), seed + 1, 1.0)] + ([values(n_out, seed + 2, 1.0)] if bias else [])
    reset_counters()
    same_as_reference(linear, arrays, "Linear", rtol=1e-5, atol=1e-5)
    assert ran_fast("linear") == 1, f"a Linear layer should run one fast 'linear' kernel, counters() = {counters()}"
    assert counters().get(("matmul", "reference"), 0) == 0, "under the fast backend Linear should not record a matmul of its own"


def test_linear_gradcheck_under_the_fast_backend():
    """x, weight and bias through FusedLinear, with two leading axes: central differences agree (float64).

    Hint: dweight sums over EVERY row of every leading axis (reshape g and x to (-1, out) and (-1, in) before
    the product), and dx keeps x's shape: g @ weight on the unflattened g.
    """
    r = np.random.default_rng(4)
    reset_counters()
    with backend("fast"):
        gradcheck(linear, [r.uniform(-2, 2, (2, 3, 4)), r.uniform(-1, 1, (5, 4)), r.uniform(-1, 1, 5)])
    assert ran_fast("linear") >= 1


def test_linear_runs_float32_fast_and_leaves_mixed_dtypes_and_errors_to_the_reference():
    """float32 in, float32 out through FusedLinear; a float64 input to a float32 layer runs kata 03's forward
    (promotion rules, counted as "reference"); a wrong width raises kata 03's ValueError.

    Hint: the kernel declines what it does not handle (NotImplemented: the reference runs); for the rest,
    keep the dtype of x @ weight.T: allocate the output with np.result_type(x, weight), never float64.
    """
    rng.manual_seed(5)
    layer = Linear(3, 2)
    x32 = Tensor(values((4, 3), 5))
    x64 = Tensor(x32.data.astype(np.float64))
    want32, want64 = layer(x32), layer(x64)
    reset_counters()
    with backend("fast"):
        out32, out64 = layer(x32), layer(x64)
        with pytest.raises(ValueError):
            layer(Tensor(values((4, 5), 6)))
    ran = counters()
    assert ran.get(("linear", "fast"), 0) == 1 and ran.get(("linear", "reference"), 0) == 2, f"counters() = {ran}"
    assert_close(out32, want32, rtol=1e-6, atol=1e-6, dtype=np.float32, what="float32 x through FusedLinear")
    assert_close(out64, want64, rtol=1e-6, atol=1e-6, dtype=np.float64, what="float64 x through a float32 Linear")


# -- splitting and merging heads -------------------------------------------------------------------


@given(B=st.integers(1, 3), T=st.integers(1, 4), H=st.integers(1, 3), D=st.integers(1, 4), seed=st.integers(0, 2**16))
@example(B=1, T=1, H=4, D=2, seed=0)  # one token (a decode step)
@settings(max_examples=10)
def test_split_and_merge_heads_equal_the_reference(B, T, H, D, seed):
    """split_heads and merge_heads under the fast backend are one op each, with kata 12's values and gradients.

    Hint: SplitHeads.forward reshapes (B, T, C) to (B, T, H, C // H) and swaps axes 1 and 2 (transpose(0, 2, 1,
    3)); its backward does the inverse on grad. MergeHeads is the mirror image: keep the number of heads on
    ctx for its backward.
    """
    rng.manual_seed(seed)
    attn = MultiHeadAttention(H * D, H)
    reset_counters()
    same_as_reference(attn.split_heads, [values((B, T, H * D), seed)], "split_heads", rtol=0, atol=0)
    same_as_reference(attn.merge_heads, [values((B, H, T, D), seed + 1)], "merge_heads", rtol=0, atol=0)
    ran = counters()
    assert ran_fast("split_heads") == 1 and ran_fast("merge_heads") == 1, f"counters() = {ran}"
    assert ran.get(("reshape", "reference"), 0) == 0, f"the heads were split or merged with recorded reshapes: {ran}"


# -- inference: no graph when nothing needs a gradient ---------------------------------------------


@pytest.mark.parametrize("mode", ["no_grad", "no input requires grad"])
def test_fused_kernels_record_nothing_when_nothing_needs_a_gradient(mode):
    """Under no_grad (or with no input requiring grad) every fused kernel gives the reference's values, untracked.

    Hint: the kernels skip Function.apply when nothing would be recorded and call your forward directly with a
    fresh Context: forward must work on its own (save what backward needs with ctx.save_for_backward, never
    rely on apply having run) and return the finished array. A KV-cached decode step (one query against every
    cached key, no mask) takes this path too: the scale is still 1/sqrt(head size).
    """
    r = np.random.default_rng(6)
    x = r.uniform(-2, 2, (2, 3, 8)).astype(np.float32)
    w8, b8 = r.uniform(0.5, 2, 8).astype(np.float32), r.uniform(-1, 1, 8).astype(np.float32)
    q, k, v = (r.uniform(-1.5, 1.5, (2, 2, 3, 4)).astype(np.float32) for _ in range(3))
    W, b = r.uniform(-1, 1, (5, 8)).astype(np.float32), r.uniform(-1, 1, 5).astype(np.float32)
    ops = {
        "gelu": lambda: gelu(Tensor(x)),
        "softmax": lambda: softmax(Tensor(x), axis=1),
        "layer_norm": lambda: layer_norm(Tensor(x), Tensor(w8), Tensor(b8)),
        "scaled_dot_product_attention": lambda: scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v),
                                                                             mask=causal_mask(3), return_weights=True),
        "scaled_dot_product_attention (a decode step: 1 query, 3 keys)": lambda: scaled_dot_product_attention(
            Tensor(q[:, :, -1:]), Tensor(k), Tensor(v), return_weights=True),
        "linear": lambda: linear(Tensor(x), Tensor(W), Tensor(b)),
    }
    for label, f in ops.items():
        name = label.split()[0]
        want = f()
        reset_counters()
        with backend("fast"), (no_grad() if mode == "no_grad" else nullcontext()):
            got = f()
        assert ran_fast(name) == 1, f"{label}: the fast kernel did not run ({counters()})"
        for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
            assert g.node is None and not g.requires_grad, f"{label} ({mode}): the result was recorded for backward"
            assert_close(g, w, rtol=1e-5, atol=1e-6, dtype=w.dtype, what=f"{label} ({mode}) under the fast backend")


def test_cached_generation_under_the_fast_backend_gives_the_same_tokens_and_logits(monkeypatch):
    """Kata 14's generate_cached under backend("fast"): the reference's greedy tokens, and the fused kernels ran.

    Step 6's whole-block kernel is taken out of the registry here, so that every op of every block runs
    through this step's kernels.

    Hint: a decode step feeds ONE token: q is (B, heads, 1, head_dim) against every cached key, with no mask.
    AttentionWeights must handle T_q = 1 and T_k > 1, and FusedLinear a (B, 1, features) input.
    """
    monkeypatch.delitem(acceleration.KERNELS, ("cached_block", "fast"), raising=False)
    rng.manual_seed(3)
    model = GPT(vocab_size=13, block_size=16, n_layer=2, n_head=2, n_embd=16)
    prompt = np.random.default_rng(3).integers(0, 13, (2, 4))
    want = generate_cached(model, prompt, max_new_tokens=6, greedy=True).data
    reset_counters()
    with backend("fast"):
        got = generate_cached(model, prompt, max_new_tokens=6, greedy=True).data
    assert np.array_equal(got, want), f"fast backend: {got.tolist()}, reference: {want.tolist()}"
    ran = counters()
    # a prefill and 5 decode steps, 2 blocks: 6 Linear layers per block and the head; 5 LayerNorms
    assert ran.get(("linear", "fast"), 0) == 6 * (2 * 6 + 1), f"counters() = {ran}"
    assert ran.get(("layer_norm", "fast"), 0) == 6 * 5 and ran.get(("scaled_dot_product_attention", "fast"), 0) == 6 * 2
    assert ran.get(("split_heads", "fast"), 0) == 6 * 2 * 3 and ran.get(("merge_heads", "fast"), 0) == 6 * 2


# -- a whole model, built before the backend is chosen ---------------------------------------------


def test_a_gpt_built_before_gives_the_same_logits_loss_and_gradients_under_the_fast_backend():
    """Kata 13's GPT, unchanged: same logits, loss and parameter gradients, and the fast kernels really ran.

    Hint: the GPT is not rebuilt: its ops reach your kernels only through the dispatcher, so the fused
    Functions must match the reference for float32 inputs with batch and head axes and a (T, T) causal mask.
    """
    rng.manual_seed(0)
    model = GPT(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16)
    data = np.random.default_rng(0).integers(0, 11, (3, 9))
    x, y = data[:, :-1], data[:, 1:]

    def step():
        for p in model.parameters():
            p.grad = None
        logits, loss = model(x, targets=y)
        loss.backward()
        return logits.data, loss.item(), [p.grad for p in model.parameters()]

    logits, loss, grads = step()
    reset_counters()
    with backend("fast"):
        fast_logits, fast_loss, fast_grads = step()
    assert_close(fast_logits, logits, rtol=1e-4, atol=1e-5, dtype=np.float32, what="GPT logits under the fast backend")
    assert abs(fast_loss - loss) <= 1e-5 * max(1.0, abs(loss)), f"loss {fast_loss} under the fast backend, {loss} before"
    for (name, _), g, want in zip(model.named_parameters(), fast_grads, grads):
        assert_close(g, want, rtol=1e-4, atol=1e-5, dtype=np.float32, what=f"gradient of {name}")
    ran = counters()
    for op, calls in (("gelu", 2), ("layer_norm", 5), ("scaled_dot_product_attention", 2)):
        assert ran.get((op, "fast"), 0) == calls, f"counters() shows {ran.get((op, 'fast'), 0)} fast '{op}' call(s), expected {calls}"


def test_two_live_forward_passes_keep_their_own_buffers():
    """Two GPT forwards alive at once (gradient accumulation): outputs unchanged, gradients equal the reference's.

    Hint: take every buffer from _empty(shape, dtype), which recycles only arrays nobody holds, instead of
    keeping scratch arrays of your own on the class or module; never write into an array you saved or
    returned.
    """
    rng.manual_seed(2)
    model = GPT(vocab_size=7, block_size=6, n_layer=1, n_head=2, n_embd=8)
    data = np.random.default_rng(3).integers(0, 7, (2, 2, 7))

    def run(name):
        for p in model.parameters():
            p.grad = None
        with backend(name):
            results = [model(d[:, :-1], targets=d[:, 1:]) for d in data]
            kept = [logits.data.copy() for logits, _ in results]
            (results[0][1] + results[1][1]).backward()
        for (logits, _), k in zip(results, kept):
            assert np.array_equal(logits.data, k), "logits changed after they were computed: a buffer was reused while held"
        return kept, [p.grad.copy() for p in model.parameters()]

    (ref_logits, ref_grads), (logits, grads) = run("reference"), run("fast")
    for got, want in zip(logits, ref_logits):
        assert_close(got, want, rtol=1e-4, atol=1e-5, what="logits of one of two live forwards")
    for (name, _), g, want in zip(model.named_parameters(), grads, ref_grads):
        assert_close(g, want, rtol=1e-4, atol=1e-5, what=f"gradient of {name} after two forwards")
