"""Step 6: block — an inference fast path: one KV-cached transformer block as one NumPy kernel, and
the reference whenever the fast path would not be exact (a gradient needed, dropout active, float64)."""

from contextlib import nullcontext

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dojo.testing import assert_close
from tinytorch import acceleration, rng, tensor
from tinytorch.acceleration import backend, counters, reset_counters
from tinytorch.autograd import no_grad
from tinytorch.kv_cache import KVCache, cached_block, cached_forward, generate_cached
from tinytorch.tensor import Tensor
from tinytorch.transformer import GPT

ATOL = 1e-5  # float32 logits: the fused block and the reference differ only by rounding


@pytest.fixture(autouse=True)
def reference_afterwards():
    yield
    try:
        acceleration.set_backend("reference")
    except Exception:
        pass
    tensor.set_dispatcher(None)


def make(n_layer=2, n_head=2, head_dim=4, vocab=11, block_size=16, seed=0):
    rng.manual_seed(seed)
    return GPT(vocab_size=vocab, block_size=block_size, n_layer=n_layer, n_head=n_head, n_embd=n_head * head_dim).eval()


def run_chunks(model, ids, chunks, name):
    """cached_forward on consecutive chunks of ``ids`` under backend ``name``: the logits of each, and the cache."""
    cache = KVCache.for_model(model, ids.shape[0])
    logits, start = [], 0
    with backend(name):
        for size in chunks:
            logits.append(cached_forward(model, ids[:, start:start + size], cache).data)
            start += size
    return logits, cache


def ran(op, kind):
    return counters().get((op, kind), 0)


@given(B=st.integers(1, 2), n_layer=st.integers(1, 2), n_head=st.integers(1, 3), head_dim=st.integers(1, 4),
       prompt=st.lists(st.integers(1, 3), min_size=1, max_size=2), decode=st.integers(2, 5), seed=st.integers(0, 2**16))
@example(B=1, n_layer=2, n_head=2, head_dim=4, prompt=[4], decode=5, seed=0)  # the benchmark's case, in small
@example(B=2, n_layer=1, n_head=3, head_dim=1, prompt=[2, 3], decode=2, seed=1)  # a chunk after a cached past
@example(B=1, n_layer=1, n_head=1, head_dim=1, prompt=[1], decode=2, seed=2)  # one token from the start
@settings(max_examples=10, deadline=None)
def test_the_fused_block_equals_the_reference_over_prefill_and_decode(B, n_layer, n_head, head_dim, prompt, decode, seed):
    """Prefill (in one or two chunks) then one token at a time: under the fast backend every step's logits equal
    the reference's (|Δ| <= 1e-5, float32), the caches hold the same keys and values, and every block ran as ONE
    fast "cached_block" kernel. (The reference runs all the tokens as one chunk: kata 14 makes chunked and
    one-shot prefill equal, so its rows are every step's reference logits, at a fifth of the cost.)

    Hint: follow kata 13's block op for op on the arrays: h = layer norm of x; q, k, v = h @ W.T + b; write
    heads(k), heads(v) into cache.k[layer].data[:, :, pos:pos + T] (and v); scores = heads(q) @ K[:, :, :pos + T]
    transposed, / sqrt(head_dim); the (T, pos + T) mask only when T > 1; softmax over the keys; merge the heads;
    out_proj; add x; then y + proj(gelu(fc(layer norm of y))) with the tanh GELU. Return _untracked(out).
    """
    # LayerNorm over 2 or 3 features of random embeddings meets rows of near-zero variance, where two correct
    # float32 kernels differ by more than 1e-5 (measured: 10 of 8,790 random cases failed, all of width 2 or 3;
    # 0 of 8,508 at width >= 4). Width 1 stays: every row is constant, and both give exactly the bias.
    if 1 < n_head * head_dim < 4:
        head_dim = -(-4 // n_head)
    model = make(n_layer, n_head, head_dim, seed=seed)
    chunks = prompt + [1] * decode
    ids = np.random.default_rng(seed).integers(0, 11, (B, sum(chunks)))
    (whole,), want_cache = run_chunks(model, ids, [sum(chunks)], "reference")
    want = np.split(whole, np.cumsum(chunks)[:-1], axis=1)  # chunk i's rows of the one-shot logits
    reset_counters()
    got, cache = run_chunks(model, ids, chunks, "fast")
    for step, (g, w) in enumerate(zip(got, want)):
        assert_close(g, w, rtol=0, atol=ATOL, dtype=np.float32, what=f"logits of chunk {step} ({chunks[step]} token(s))")
    assert cache.pos == want_cache.pos == sum(chunks), f"cache.pos is {cache.pos}, expected {sum(chunks)}"
    for layer in range(n_layer):
        assert_close(cache.k[layer], want_cache.k[layer], rtol=0, atol=ATOL, dtype=np.float32, what=f"cached keys of layer {layer}")
        assert_close(cache.v[layer], want_cache.v[layer], rtol=0, atol=ATOL, dtype=np.float32, what=f"cached values of layer {layer}")
    assert ran("cached_block", "fast") == n_layer * len(chunks), f"counters() = {counters()}"
    assert ran("cached_block", "reference") == 0 and ran("linear", "fast") == len(chunks), (
        f"only the head should run as a Linear, every block as one cached_block kernel: counters() = {counters()}")


def test_greedy_generation_gives_the_same_tokens_through_the_fused_block():
    """generate_cached under backend("fast"): exactly the reference's greedy tokens, 1 prefill + 11 decode steps
    through the fused block of each layer.

    Hint: greedy tokens are an argmax: any difference beyond float32 rounding changes them. Check the GELU form
    (0.5·u·(1 + tanh(√(2/π)·(u + 0.044715·u³))), GELU_C is √(2/π)), the 1/√head_dim scale and the LayerNorm eps
    (block.ln1.eps, block.ln2.eps).
    """
    model = make(n_layer=2, n_head=2, head_dim=8, vocab=13, block_size=20, seed=3)
    prompt = np.random.default_rng(3).integers(0, 13, (2, 5))
    want = generate_cached(model, prompt, max_new_tokens=12, greedy=True).data
    reset_counters()
    with backend("fast"):
        got = generate_cached(model, prompt, max_new_tokens=12, greedy=True).data
    assert np.array_equal(got, want), f"fast backend: {got.tolist()}, reference: {want.tolist()}"
    assert ran("cached_block", "fast") == 2 * 12, f"counters() = {counters()}"


def test_the_cache_is_written_in_place_and_the_input_is_untouched():
    """The fused block writes the new keys and values into the cache's own arrays at positions pos .. pos+T-1 (the
    same array objects, nothing else changed, pos not moved), returns an untracked float32 Tensor and leaves x as
    it was.

    Hint: cache.update's contract without calling it: keys = cache.k[layer].data; keys[:, :, pos:pos + T] =
    heads(k) (a slice assignment into the existing array, never a new one), and attend over keys[:, :, :pos + T]
    (a view). Do the arithmetic in arrays you created: never += into x.data.
    """
    model = make(n_layer=1, n_head=2, head_dim=4, seed=4)
    block = model.blocks[0]
    x = Tensor(np.random.default_rng(4).normal(size=(1, 3, 8)).astype(np.float32))
    step = Tensor(np.random.default_rng(5).normal(size=(1, 1, 8)).astype(np.float32))
    ref_cache, cache = KVCache.for_model(model, 1), KVCache.for_model(model, 1)
    with no_grad():
        cached_block(block, x, ref_cache, 0)
        ref_cache.advance(3)
        want = cached_block(block, step, ref_cache, 0)
    keys, values = cache.k[0].data, cache.v[0].data
    before = x.data.copy()
    reset_counters()
    with backend("fast"), no_grad():
        cached_block(block, x, cache, 0)
        cache.advance(3)
        got = cached_block(block, step, cache, 0)
    assert ran("cached_block", "fast") == 2, f"counters() = {counters()}"
    assert cache.k[0].data is keys and cache.v[0].data is values, "the cache's arrays were replaced: write into them"
    assert cache.pos == 3, f"the kernel moved cache.pos to {cache.pos} (cached_forward advances it, once)"
    assert np.array_equal(x.data, before), "the fused block modified its input x"
    assert isinstance(got, Tensor) and got.node is None and not got.requires_grad, "the result should be an untracked Tensor"
    assert_close(got, want, rtol=0, atol=ATOL, dtype=np.float32, what="the decode step's output")
    assert_close(keys[:, :, :4], ref_cache.k[0].data[:, :, :4], rtol=0, atol=ATOL, what="keys at positions 0..3")
    assert_close(values[:, :, :4], ref_cache.v[0].data[:, :, :4], rtol=0, atol=ATOL, what="values at positions 0..3")
    assert not keys[:, :, 4:].any() and not values[:, :, 4:].any(), "positions past pos + T were written"


def test_weights_changed_between_steps_are_used():
    """A weight changed in place between two decode steps (an optimizer step, a fine-tune) is used at the next step:
    the fast path keeps no stale copy of the weights.

    Hint: read every weight from the block's Parameters at each call (p.data). If you concatenate Wq, Wk and Wv
    into one matrix, rebuild it at every call, or key any saved copy on something that changes when the weights
    do; three matmuls are the simple, safe choice.
    """
    model = make(n_layer=1, n_head=2, head_dim=4, seed=6)
    ids = np.random.default_rng(6).integers(0, 11, (1, 6))
    caches = {name: KVCache.for_model(model, 1) for name in ("reference", "fast")}
    for name, cache in caches.items():
        with backend(name):
            cached_forward(model, ids[:, :4], cache)
    attn = model.blocks[0].attn
    originals = [p.data.copy() for p in (attn.q_proj.weight, attn.v_proj.bias, model.blocks[0].mlp.fc.weight)]
    try:
        attn.q_proj.weight.data *= -1.5
        attn.v_proj.bias.data += 0.25
        model.blocks[0].mlp.fc.weight.data[:, :3] = 0.5
        got, want = {}, {}
        for name, cache in caches.items():
            with backend(name):
                (got if name == "fast" else want)[4] = cached_forward(model, ids[:, 4:5], cache).data
        assert_close(got[4], want[4], rtol=0, atol=ATOL, dtype=np.float32, what="logits after the weights changed")
    finally:
        for p, data in zip((attn.q_proj.weight, attn.v_proj.bias, model.blocks[0].mlp.fc.weight), originals):
            p.data[...] = data


def test_grad_mode_with_nothing_requiring_grad_takes_the_fast_path():
    """With grad mode on but no Parameter and no input requiring grad (a frozen model), nothing would be recorded:
    the fast path runs and gives the reference's values.

    Hint: the condition is "a gradient is needed", not "grad mode is on": return NotImplemented only when
    is_grad_enabled() and x or one of the block's Parameters requires grad.
    """
    model = make(n_layer=1, n_head=2, head_dim=4, seed=7)
    for p in model.parameters():
        p.requires_grad = False
    block = model.blocks[0]
    x = Tensor(np.random.default_rng(7).normal(size=(2, 3, 8)).astype(np.float32))
    want = cached_block(block, x, KVCache.for_model(model, 2), 0)
    reset_counters()
    with backend("fast"):
        got = cached_block(block, x, KVCache.for_model(model, 2), 0)
    assert ran("cached_block", "fast") == 1, f"counters() = {counters()}"
    assert_close(got, want, rtol=0, atol=ATOL, dtype=np.float32, what="a frozen block under grad mode")


@pytest.mark.parametrize("case", ["a gradient is needed", "training mode", "float64"])
def test_it_falls_back_to_the_reference_when_the_fast_path_would_not_be_exact(case):
    """The kernel returns NotImplemented — so the reference cached_block runs, with its graph, its dropout or its
    dtype — when a gradient is needed (grad mode on, Parameters requiring grad), when the block is in training
    mode, or when the arrays are float64; the results are then exactly the reference's.

    Hint: check before any work, and return NotImplemented (do not raise, do not compute): is_grad_enabled() and
    x or a Parameter requires grad; block.drop.training or block.mlp.drop.training; x.data, a weight or the cache
    arrays not float32. Nothing may be written into the cache when you decline.
    """
    model = make(n_layer=1, n_head=2, head_dim=4, seed=8)
    if case == "float64":
        for p in model.parameters():
            p.data = p.data.astype(np.float64)
    if case == "training mode":
        model.train()
    dtype = np.float64 if case == "float64" else np.float32
    block = model.blocks[0]
    x = Tensor(np.random.default_rng(8).normal(size=(1, 2, 8)).astype(dtype))
    grad = case == "a gradient is needed"

    def run(name):
        cache = KVCache.for_model(model, 1)
        with backend(name):
            if grad:
                return cached_block(block, x, cache, 0), cache
            with no_grad():
                return cached_block(block, x, cache, 0), cache

    want, want_cache = run("reference")
    cache = KVCache.for_model(model, 1)
    with nullcontext() if grad else no_grad():
        declined = acceleration.cached_block_kernel(block, x, cache, 0)
    assert declined is NotImplemented, f"{case}: the kernel returned {type(declined).__name__}, expected NotImplemented"
    assert not cache.k[0].data.any() and not cache.v[0].data.any(), f"{case}: the kernel wrote into the cache, then declined"
    reset_counters()
    got, got_cache = run("fast")
    assert ran("cached_block", "reference") == 1 and ran("cached_block", "fast") == 0, f"counters() = {counters()}"
    # the reference cached_block ran, its ops through step 3's kernels: equal to float rounding
    assert_close(got, want, rtol=0, atol=ATOL, dtype=dtype, what=f"{case}: the reference's output")
    assert_close(got_cache.k[0], want_cache.k[0], rtol=0, atol=ATOL, dtype=dtype, what=f"{case}: the reference's keys")
    if grad:
        assert got.requires_grad and got.node is not None, "a gradient is needed: the result must be recorded"
        got.sum().backward()
        assert block.mlp.fc.weight.grad is not None, "the recorded graph should reach the block's weights"
