"""Step 4: forward — the whole GPT on a chunk of new tokens, with the cache, at the right positions."""

import numpy as np

from dojo.testing import assert_close, raises
from tinytorch import kv_cache, rng
from tinytorch.attention import causal_mask
from tinytorch.autograd import no_grad
from tinytorch.kv_cache import KVCache, cached_block, cached_forward
from tinytorch.tensor import Tensor
from tinytorch.transformer import GPT

CONFIG = dict(vocab_size=11, block_size=12, n_layer=2, n_head=2, n_embd=16)
ATOL = 1e-5  # float32: cached and uncached differ only by rounding (about 1e-7 measured)


def make(seed=0):
    rng.manual_seed(seed)
    model = GPT(**CONFIG)
    model.eval()
    return model


def ids_of(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 11, size=shape)


def full_logits(model, ids):
    with no_grad():  # the reference needs no graph: the same values, a third cheaper
        return model(Tensor(ids)).data


def test_one_block_on_new_tokens_equals_the_last_rows_of_the_block():
    """cached_block on 3 new tokens after 4 cached ones: the last 3 rows of block(all 7, causal_mask(7)),
    and cache.pos is not moved.

    Hint: cached_block is TransformerBlock.forward with the attention read through the cache:
    x = x + block.drop(cached_attention(block.attn, block.ln1(x), cache, layer)), then
    x + block.mlp(block.ln2(x)). Leave cache.advance to cached_forward.
    """
    model = make(seed=7)
    block = model.blocks[1]
    x = np.random.default_rng(7).normal(size=(2, 7, 16)).astype(np.float32)
    cache = KVCache.for_model(model, 2)
    with no_grad():
        cached_block(block, Tensor(x[:, :4]), cache, 1)
        assert cache.pos == 0, f"cached_block moved cache.pos to {cache.pos} (cached_forward advances, once)"
        cache.advance(4)
        got = cached_block(block, Tensor(x[:, 4:]), cache, 1)
        want = block(Tensor(x), causal_mask(7)).data[:, 4:]
    assert isinstance(got, Tensor), f"cached_block returned {type(got).__name__}, expected a Tensor"
    assert_close(got, want, rtol=0, atol=ATOL, what="cached_block on the 3 new tokens")


def test_cached_forward_runs_every_block_through_cached_block(monkeypatch):
    """cached_forward calls cached_block once per block, in order, with the block's index as the layer.

    Hint: in cached_forward's loop, x = cached_block(block, x, cache, layer) for layer, block in
    enumerate(model.blocks); do not inline the block's arithmetic: kata 16 runs cached_block as one kernel.
    """
    model = make(seed=8)
    seen, original = [], kv_cache.cached_block

    def spy(block, x, cache, layer):
        seen.append((block, layer))
        return original(block, x, cache, layer)

    monkeypatch.setattr(kv_cache, "cached_block", spy)
    ids = ids_of((1, 5), seed=8)
    got = cached_forward(model, ids, KVCache.for_model(model, 1))
    want = [(block, layer) for layer, block in enumerate(model.blocks)]
    assert len(seen) == len(want) and all(a is b and i == j for (a, i), (b, j) in zip(seen, want)), (
        f"cached_block was called with layers {[i for _, i in seen]}, expected {[j for _, j in want]} (one call per block)")
    assert_close(got, full_logits(model, ids), rtol=0, atol=ATOL, what="prefill logits")


def test_prefill_equals_the_full_forward():
    """One chunk from an empty cache: the logits of model(ids), and cache.pos moves by T.

    Hint: cached_forward repeats GPT.forward module by module (tok_emb + position rows, drop, each block with
    cached_attention on ln1(x) and the mlp on ln2(x), ln_f, head), returns the logits Tensor and ends with
    cache.advance(T).
    """
    model = make()
    ids = ids_of((2, 7))
    cache = KVCache.for_model(model, 2)
    got = cached_forward(model, ids, cache)
    assert isinstance(got, Tensor) and got.shape == (2, 7, 11), f"got {type(got).__name__} {getattr(got, 'shape', '')}"
    assert cache.pos == 7, f"cache.pos is {cache.pos} after a prefill of 7 tokens"
    assert_close(got, full_logits(model, ids), rtol=0, atol=ATOL, what="prefill logits")


def test_every_decode_step_equals_the_full_forward():
    """Prefill 3 tokens, then decode one token at a time up to block_size: at every step the logits
    equal the last row of model(sequence so far), |Δ| <= 1e-5. (The model is causal: that row is row t of
    model(all 12 tokens), so one full forward gives every step's reference.)

    Hint: a decode step feeds one token at position cache.pos: its position vector is
    model.pos_emb.weight[past:past + T] (pos_emb(T) gives rows 0 .. T-1), and every block must use its own
    index as the cache layer.
    """
    model = make(seed=1)
    ids = ids_of((2, 12), seed=1)
    full = full_logits(model, ids)  # row t: the last row of model(ids[:, :t + 1])
    cache = KVCache.for_model(model, 2)
    worst = np.abs(cached_forward(model, ids[:, :3], cache).data - full[:, :3]).max()
    for t in range(3, 12):
        got = cached_forward(model, ids[:, t:t + 1], cache).data
        assert got.shape == (2, 1, 11), f"decode step {t}: logits {got.shape}"
        step = np.abs(got[:, 0] - full[:, t]).max()
        assert step <= ATOL, f"decode step at position {t}: max |Δlogit| = {step:.2e} > {ATOL:g}"
        worst = max(worst, step)
    assert cache.pos == 12
    assert worst <= ATOL


def test_chunked_prefill_equals_one_shot():
    """Prefilling 10 tokens as chunks of 3, 1, 4 and 2 gives the same logits and the same cache as one chunk of 10.

    Hint: read past = cache.pos once at the start, use it for the position rows and leave the advancing to a
    single cache.advance(T) after all blocks; advancing inside each block shifts the later layers' positions.
    """
    model = make(seed=2)
    ids = ids_of((3, 10), seed=2)
    one = KVCache.for_model(model, 3)
    whole = cached_forward(model, ids, one).data
    chunked = KVCache.for_model(model, 3)
    parts, start = [], 0
    for size in (3, 1, 4, 2):
        parts.append(cached_forward(model, ids[:, start:start + size], chunked).data)
        start += size
    assert_close(np.concatenate(parts, axis=1), whole, rtol=0, atol=ATOL, what="chunked prefill logits")
    for layer in range(2):
        assert_close(chunked.k[layer].data[:, :, :10], one.k[layer].data[:, :, :10], rtol=0, atol=ATOL, what=f"cached K of layer {layer}")
        assert_close(chunked.v[layer].data[:, :, :10], one.v[layer].data[:, :, :10], rtol=0, atol=ATOL, what=f"cached V of layer {layer}")


def test_prompts_sharing_their_last_token_differ():
    """'1 2 3 9' and '4 5 6 9' decode the same token 9 at the same position: the logits differ,
    because each reads its own past from the cache (and each equals its full forward).

    Hint: each block's attention must be cached_attention(block.attn, block.ln1(x), cache, layer), which reads
    the past keys and values; calling block.attn(...) or block(x) directly sees only the new token.
    """
    model = make(seed=3)
    got = []
    for prompt in ([[1, 2, 3, 9]], [[4, 5, 6, 9]]):
        prompt = np.array(prompt)
        cache = KVCache.for_model(model, 1)
        cached_forward(model, prompt[:, :3], cache)
        last = cached_forward(model, prompt[:, 3:], cache).data[0, -1]
        assert_close(last, full_logits(model, prompt)[0, -1], rtol=0, atol=ATOL, what="logits of the shared last token")
        got.append(last)
    assert np.abs(got[0] - got[1]).max() > 1e-2, "two different pasts gave the same logits: the cache is not read"


def test_new_tokens_sit_after_the_cached_ones():
    """The same token decoded at position 5 or at position 0 gets different logits (positions past .. past+T-1).

    Hint: the new tokens are at positions past .. past + T - 1: add model.pos_emb.weight[past:past + T], not
    model.pos_emb(T), which always gives positions 0 .. T-1.
    """
    model = make(seed=4)
    cache = KVCache.for_model(model, 1)
    cached_forward(model, [[7, 7, 7, 7, 7]], cache)
    at_5 = cached_forward(model, [[7]], cache).data[0, -1]
    assert_close(at_5, full_logits(model, np.full((1, 6), 7))[0, -1], rtol=0, atol=ATOL, what="token 7 at position 5")
    at_0 = cached_forward(model, [[7]], KVCache.for_model(model, 1)).data[0, -1]
    assert_close(at_0, full_logits(model, [[7]])[0, -1], rtol=0, atol=ATOL, what="token 7 at position 0")
    assert np.abs(at_5 - at_0).max() > 1e-2, "position 5 and position 0 gave the same logits"


def test_past_the_context_is_an_error():
    """More tokens than block_size is a ValueError, raised before anything is written (no cropping).

    Hint: check cache.pos + T > model.block_size and raise ValueError before any work; the cache here is
    bigger than the model's context, so the model's block_size, not the cache, is the limit. Never crop.
    """
    model = make(seed=5)
    cache = KVCache(2, 1, 2, 20, 8)  # room for 20 positions: the model's 12 are the limit
    cached_forward(model, ids_of((1, 10), seed=5), cache)
    before = [t.data.copy() for t in cache.k]
    with raises(ValueError):
        cached_forward(model, ids_of((1, 3), seed=6), cache)
    assert cache.pos == 10, f"a refused chunk moved cache.pos to {cache.pos}"
    assert all(np.array_equal(a, t.data) for a, t in zip(before, cache.k)), "a refused chunk wrote into the cache"
    cached_forward(model, ids_of((1, 2), seed=7), cache)  # exactly block_size is fine
    with raises(ValueError):
        cached_forward(model, [[1]], cache)


def test_nothing_is_recorded_for_autograd():
    """cached_forward runs under no_grad: its logits are not connected to the parameters.

    Hint: wrap the computation in 'with no_grad():' (from tinytorch.autograd) so the logits have no node and
    do not require grad.
    """
    model = make(seed=6)
    logits = cached_forward(model, ids_of((1, 4)), KVCache.for_model(model, 1))
    assert not logits.requires_grad and logits.node is None, "cached_forward recorded a graph (use no_grad)"
