"""Step 3: attention — one MultiHeadAttention layer on new tokens, past keys and values from the cache."""

import numpy as np

from dojo.testing import assert_close, count_rows
from tinytorch import rng
from tinytorch.attention import MultiHeadAttention, causal_mask
from tinytorch.kv_cache import KVCache, cached_attention
from tinytorch.tensor import Tensor

B, T_ALL, DIM, HEADS = 2, 9, 16, 2
CHUNKS = (4, 1, 3, 1)  # a prefill, a decode step, a chunk, a decode step


def setup(seed=0, n_layer=1, layer=0):
    rng.manual_seed(seed)
    attn = MultiHeadAttention(DIM, HEADS)
    x = Tensor(np.random.default_rng(seed).standard_normal((B, T_ALL, DIM)).astype(np.float32))
    cache = KVCache(n_layer, B, HEADS, T_ALL, DIM // HEADS)
    return attn, x, cache


def run_in_chunks(attn, x, cache, layer=0):
    outs, start = [], 0
    for size in CHUNKS:
        pos = cache.pos
        outs.append(cached_attention(attn, x[:, start:start + size], cache, layer).data)
        assert cache.pos == pos, "cached_attention must not move cache.pos (cached_forward advances once for all layers)"
        cache.advance(size)
        start += size
    return np.concatenate(outs, axis=1)


def test_chunks_equal_full_attention():
    """Chunk after chunk through the cache gives what attn(x, causal_mask) gives on the whole sequence.

    Hint: in cached_attention read past = cache.pos first, project only x, write with cache.update(layer, k,
    v) and attend to the keys and values it returns with cached_causal_mask(T, past); do not call
    cache.advance here.
    """
    attn, x, cache = setup()
    got = run_in_chunks(attn, x, cache)
    expected = attn(x, causal_mask(T_ALL)).data
    assert_close(got, expected, rtol=0, atol=1e-5, what="cached attention, chunk by chunk")


def test_one_new_token_reads_the_whole_past():
    """A decode step (T = 1) after a prefill equals the last row of full attention over the sequence so far.

    Hint: a decode step (T = 1) attends to all past + 1 keys that cache.update returns; its mask is one row of
    True (cached_causal_mask(1, past), or None), while a square causal_mask(past + 1) gives the output the
    wrong shape.
    """
    attn, x, cache = setup(seed=1)
    cached_attention(attn, x[:, :6], cache, 0)
    cache.advance(6)
    got = cached_attention(attn, x[:, 6:7], cache, 0).data
    expected = attn(x[:, :7], causal_mask(7)).data[:, -1:]
    assert_close(got, expected, rtol=0, atol=1e-5, what="output of the 7th token")


def test_keys_and_values_land_in_the_cache():
    """After the chunks, the cache holds k_proj(x) and v_proj(x), split into heads, at positions 0 .. 8.

    Hint: pass the keys and values to cache.update already split into heads, i.e.
    attn.split_heads(attn.k_proj(x)) of shape (B, n_head, T, head_dim), so they land in the cache's layout.
    """
    attn, x, cache = setup(seed=2)
    run_in_chunks(attn, x, cache)
    assert_close(cache.k[0].data, attn.split_heads(attn.k_proj(x)).data, rtol=0, atol=1e-6, what="cache.k[0]")
    assert_close(cache.v[0].data, attn.split_heads(attn.v_proj(x)).data, rtol=0, atol=1e-6, what="cache.v[0]")


def test_writes_only_its_own_layer():
    """cached_attention(..., layer=1) writes layer 1 of the cache and leaves layer 0 alone.

    Hint: use the layer argument in cache.update(layer, k, v); a hard-coded 0 writes every block into the same
    layer.
    """
    attn, x, cache = setup(seed=3, n_layer=2)
    run_in_chunks(attn, x, cache, layer=1)
    assert not cache.k[0].data.any() and not cache.v[0].data.any(), "layer 0 was written"
    assert_close(cache.k[1].data, attn.split_heads(attn.k_proj(x)).data, rtol=0, atol=1e-6, what="cache.k[1]")


def test_only_the_new_tokens_are_projected():
    """q_proj, k_proj and v_proj see B·T rows for a chunk of T new tokens, never the cached past.

    Hint: call attn.q_proj, attn.k_proj and attn.v_proj (the modules, not copies of their weights) on the new
    tokens x only; the past keys and values come from the cache, never from projecting the past again.
    """
    attn, x, cache = setup(seed=4)
    attn.q_proj, attn.k_proj, attn.v_proj = (count_rows(attn.q_proj), count_rows(attn.k_proj), count_rows(attn.v_proj))
    run_in_chunks(attn, x, cache)
    expected = [B * size for size in CHUNKS]
    for name in ("q_proj", "k_proj", "v_proj"):
        calls = getattr(attn, name).calls
        assert calls == expected, f"{name} projected {calls} rows per chunk, expected {expected}"


def test_the_past_is_read_from_the_cache():
    """Changing the cached keys and values changes the output: the past really comes from the cache.

    Hint: the keys and values you attend to must be the ones cache.update returns (views of the cache), not
    the k and v of the new chunk alone: then changing the cached values changes the output.
    """
    attn, x, cache = setup(seed=5)
    cached_attention(attn, x[:, :5], cache, 0)
    cache.advance(5)
    before = cached_attention(attn, x[:, 5:6], cache, 0).data
    cache.v[0].data[:, :, :5] *= -1.0
    after = cached_attention(attn, x[:, 5:6], cache, 0).data
    assert np.abs(after - before).max() > 1e-3, "the output ignores the values in the cache"
