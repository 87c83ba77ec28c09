"""Probes for kata 14 (KV caching): the preallocated cache (views, positions, refusals), the
(T, past + T) mask, one attention layer chunk by chunk through the cache, one block through the
cache, the cached GPT forward (prefill, decode, positions, the context limit) and cached generation (the uncached tokens, the
rows projected, the context limit). Every weight is set from the seed, by parameter name."""

import numpy as np

from dojo.classroom.probes import probe, raises


def _set_weights(rng, model, scale=0.3):
    for _, p in sorted(model.named_parameters(), key=lambda item: item[0]):
        p.data[...] = rng.normal(scale=scale, size=p.shape).astype(p.data.dtype)


def _gpt(rng, vocab=9, block=10, n_layer=2, n_head=2, n_embd=8):
    from tinytorch.transformer import GPT

    model = GPT(vocab_size=vocab, block_size=block, n_layer=n_layer, n_head=n_head, n_embd=n_embd)
    _set_weights(rng, model)
    model.eval()
    return model


@probe("cache")
def cache_update_advance_reset(rng):
    from tinytorch.kv_cache import KVCache
    from tinytorch.tensor import Tensor

    B, H, L, D = int(rng.integers(1, 3)), int(rng.integers(1, 3)), int(rng.integers(5, 8)), int(rng.integers(2, 4))
    cache = KVCache(n_layer=2, batch_size=B, n_head=H, max_len=L, head_dim=D)
    held = [t.data for t in [*cache.k, *cache.v]]
    fresh = {"shapes": [list(t.shape) for t in [*cache.k, *cache.v]], "dtypes": [str(t.dtype) for t in [*cache.k, *cache.v]],
             "zeros": bool(not any(t.data.any() for t in [*cache.k, *cache.v])), "pos": cache.pos,
             "nbytes": cache.nbytes, "nbytes64": KVCache(2, B, H, L, D, dtype=np.float64).nbytes,
             "distinct": bool(not any(np.shares_memory(a, b) for i, a in enumerate(held) for b in held[i + 1:]))}

    def chunk(T):
        return rng.normal(size=(B, H, T, D)).astype(np.float32)

    k1, v1 = chunk(3), chunk(3)
    keys, values = cache.update(1, k1, v1)
    first = {"keys": keys, "values": values, "pos": cache.pos, "layer0_untouched": bool(not cache.k[0].data.any()),
             "views": bool(np.shares_memory(keys.data, cache.k[1].data) and np.shares_memory(values.data, cache.v[1].data))}
    cache.advance(3)
    k2, v2 = chunk(2), chunk(2)
    keys, values = cache.update(1, Tensor(k2), Tensor(v2))
    second = {"keys": keys, "values": values}
    cache.advance(2)
    full = {"update": raises(cache.update, 1, chunk(L - 4), chunk(L - 4)), "advance": raises(cache.advance, L - 4),
            "pos": cache.pos, "unchanged": cache.k[1].data[:, :, :5].copy()}
    cache.reset()
    k3 = chunk(1)
    keys, _ = cache.update(0, k3, k3)
    after_reset = {"pos": cache.pos, "keys": keys, "same_arrays": bool(all(t.data is a for t, a in zip([*cache.k, *cache.v], held)))}
    bad = [raises(cache.update, 0, np.zeros((B, H, 1, D + 1), np.float32), np.zeros((B, H, 1, D + 1), np.float32)),
           raises(cache.update, 0, np.zeros((B + 1, H, 1, D), np.float32), np.zeros((B + 1, H, 1, D), np.float32)),
           raises(cache.update, 0, chunk(2), chunk(1))]
    return {"fresh": fresh, "first": first, "second": second, "full": full, "reset": after_reset, "bad_shapes": bad}


@probe("mask")
def cached_mask(rng):
    from tinytorch.kv_cache import cached_causal_mask

    pairs = [(int(rng.integers(1, 6)), int(rng.integers(0, 7))) for _ in range(3)] + [(1, int(rng.integers(1, 6))), (3, 0)]
    masks = [cached_causal_mask(T, past) for T, past in pairs]
    return {"masks": [m.astype(np.int8) for m in masks], "dtypes": [str(m.dtype) for m in masks]}


def _mha(rng, dim=8, heads=2):
    from tinytorch.attention import MultiHeadAttention

    attn = MultiHeadAttention(dim, heads)
    _set_weights(rng, attn)
    return attn


@probe("attention")
def attention_chunk_by_chunk(rng):
    from tinytorch.kv_cache import KVCache, cached_attention
    from tinytorch.tensor import Tensor

    B, dim, heads = 2, 8, 2
    attn = _mha(rng, dim, heads)
    chunks = [int(rng.integers(2, 5)), 1, int(rng.integers(2, 4)), 1]
    total = sum(chunks)
    x = Tensor(rng.normal(size=(B, total, dim)).astype(np.float32))
    cache = KVCache(2, B, heads, total + 1, dim // heads)
    outs, start, moved = [], 0, []
    for size in chunks:
        pos = cache.pos
        outs.append(cached_attention(attn, x[:, start:start + size], cache, 1))
        moved.append(cache.pos != pos)
        cache.advance(size)
        start += size
    return {"outs": outs, "k1": cache.k[1].data[:, :, :total], "v1": cache.v[1].data[:, :, :total],
            "layer0_untouched": bool(not cache.k[0].data.any() and not cache.v[0].data.any()), "moved_pos": moved}


@probe("forward")
def forward_prefill_and_decode(rng):
    from tinytorch.kv_cache import KVCache, cached_forward

    model = _gpt(rng)
    ids = rng.integers(0, 9, size=(2, 10))
    cache = KVCache.for_model(model, 2)
    T = int(rng.integers(2, 5))
    prefill = cached_forward(model, ids[:, :T], cache)
    decode = [cached_forward(model, ids[:, t:t + 1], cache) for t in range(T, 10)]
    chunked = KVCache.for_model(model, 2)
    parts = [cached_forward(model, ids[:, a:b], chunked) for a, b in ((0, 3), (3, 4), (4, 7))]
    lone = cached_forward(model, [[int(ids[0, 0])]], KVCache.for_model(model, 1))
    return {"prefill": prefill, "decode": decode, "pos": cache.pos, "chunked": parts, "chunked_k": chunked.k[1].data[:, :, :7],
            "lone_token": lone, "graph": bool(prefill.requires_grad or prefill.node is not None)}


@probe("forward")
def one_block_through_the_cache(rng):
    from tinytorch.autograd import no_grad
    from tinytorch.kv_cache import KVCache, cached_block
    from tinytorch.tensor import Tensor

    model = _gpt(rng)
    x = rng.normal(size=(2, 6, 8)).astype(np.float32)
    cache = KVCache.for_model(model, 2)
    outs, moved = [], []
    with no_grad():
        for a, b in ((0, 3), (3, 4), (4, 6)):
            outs.append(cached_block(model.blocks[1], Tensor(x[:, a:b]), cache, 1))
            moved.append(cache.pos != a)
            cache.advance(b - a)
    return {"outs": outs, "moved_pos": moved, "k1": cache.k[1].data[:, :, :6], "v1": cache.v[1].data[:, :, :6],
            "layer0_untouched": bool(not cache.k[0].data.any())}


@probe("forward")
def forward_refuses_past_the_context(rng):
    from tinytorch.kv_cache import KVCache, cached_forward

    model = _gpt(rng, block=6)
    cache = KVCache(2, 1, 2, 12, 4)
    cached_forward(model, rng.integers(0, 9, size=(1, 5)), cache)
    before = cache.k[0].data.copy()
    refused = raises(cached_forward, model, rng.integers(0, 9, size=(1, 2)), cache)
    return {"refused": refused, "pos": cache.pos, "unchanged": bool(np.array_equal(before, cache.k[0].data)),
            "last": cached_forward(model, [[int(rng.integers(0, 9))]], cache), "then": raises(cached_forward, model, [[1]], cache)}


@probe("generate")
def cached_generation(rng):
    from tinytorch.kv_cache import KVCache, generate_cached
    from tinytorch.layers import Module

    class CountRows(Module):
        def __init__(self, inner):
            super().__init__()
            self.inner, self.rows = inner, 0

        def forward(self, x):
            self.rows += int(np.prod(x.shape[:-1]))
            return self.inner(x)

    model = _gpt(rng, vocab=11, block=12)
    model.train()
    T, n = int(rng.integers(2, 5)), int(rng.integers(4, 8))
    prompt = rng.integers(0, 11, size=(2, T))
    greedy = generate_cached(model, prompt, max_new_tokens=n, greedy=True)
    restored = model.training
    model.eval()
    sampled = generate_cached(model, prompt, max_new_tokens=n, temperature=0.8, top_k=4, seed=int(rng.integers(0, 1000)))
    cache = KVCache.for_model(model, 2)
    again = generate_cached(model, prompt[:, :2], max_new_tokens=3, greedy=True, cache=cache)
    reused = {"tokens": again, "pos": cache.pos}
    full = generate_cached(model, prompt[:, :1], max_new_tokens=12, greedy=True)
    counters = []
    for block in model.blocks:
        block.attn.k_proj, block.attn.v_proj = CountRows(block.attn.k_proj), CountRows(block.attn.v_proj)
        counters += [block.attn.k_proj, block.attn.v_proj]
    generate_cached(model, prompt, max_new_tokens=n, greedy=True)
    return {"greedy": greedy, "dtype": str(greedy.dtype), "training_restored": restored, "sampled": sampled,
            "reused": reused, "full_context": full, "rows": [c.rows for c in counters]}


@probe("generate")
def generation_refuses_past_the_context(rng):
    from tinytorch.kv_cache import generate_cached

    model = _gpt(rng, block=8)
    T = int(rng.integers(2, 6))
    prompt = rng.integers(0, 9, size=(1, T))
    return {"too_long": raises(lambda: generate_cached(model, prompt, max_new_tokens=10 - T, greedy=True)),
            "fits": generate_cached(model, prompt, max_new_tokens=9 - T, greedy=True)}
