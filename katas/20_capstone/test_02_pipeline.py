"""Step 2: pipeline — OptimizedGPT runs its model on its backend, generating with or without the KV cache."""

import copy

import numpy as np

from dojo.testing import assert_close, count_rows, raises
from tinytorch import acceleration, rng
from tinytorch.capstone import OptimizedGPT
from tinytorch.tensor import Tensor
from tinytorch.transformer import GPT


def make(seed=0, **overrides):
    rng.manual_seed(seed)
    return GPT(**{**dict(vocab_size=13, block_size=20, n_layer=2, n_head=2, n_embd=16), **overrides})


def prompts(B=2, T=4, seed=0):
    return np.random.default_rng(seed).integers(0, 13, size=(B, T))


def counted(model):
    for block in model.blocks:
        block.attn.k_proj = count_rows(block.attn.k_proj)
    return [block.attn.k_proj for block in model.blocks]


def test_forward_runs_on_its_backend_and_restores_the_previous_one():
    """forward runs the model's kernels on self.backend ('fast': kata 16's fused GELU), then the previous backend is back.

    Hint: OptimizedGPT.forward (tinytorch/capstone.py) runs self.model inside `with use_backend(self.backend),
    no_grad():` and returns self.model(idx), or self.model(idx, targets=targets) when targets are given.
    """
    model = make()
    fast = OptimizedGPT(copy.deepcopy(model), kv_cache=True, backend="fast")
    x = prompts(T=6)
    previous = acceleration.set_backend("reference")
    try:
        acceleration.reset_counters()
        logits = fast(x)
        assert acceleration.get_backend() == "reference", "forward must restore the backend selected before it"
        assert acceleration.counters().get(("gelu", "fast"), 0) == 2, \
            f"one fused GELU per block expected on the fast backend, counted {acceleration.counters()}"
        assert isinstance(logits, Tensor) and logits.shape == (2, 6, 13)
        assert_close(logits.data, model(x).data, rtol=1e-4, atol=1e-5, what="logits (fast vs reference kernels)")
        _, loss = fast(x, targets=prompts(T=6, seed=1))
        assert loss.shape == () and np.isfinite(loss.item()), "with targets, forward returns (logits, loss) like GPT.forward"
        acceleration.reset_counters()
        OptimizedGPT(copy.deepcopy(model), backend="reference")(x)
        assert acceleration.counters() == {}, "on the reference backend nothing goes through the dispatcher"
    finally:
        acceleration.set_backend(previous)


def test_cached_generation_gives_the_models_tokens_with_linear_work():
    """kv_cache=True: the tokens of model.generate (greedy and seeded sampling), projecting B·(T + n - 1) rows per layer.

    Hint: with self.kv_cache, OptimizedGPT.generate must call kata 14's generate_cached(self.model, idx,
    ..., cache=self.cache_for(batch)) with every sampling argument passed through, inside
    use_backend(self.backend).
    """
    model = make(seed=1)
    fast = OptimizedGPT(copy.deepcopy(model), kv_cache=True, backend="fast")
    counters = counted(fast.model)
    p, n = prompts(seed=1), 6
    out = fast.generate(p, n, greedy=True)
    assert isinstance(out, Tensor) and out.shape == (2, 4 + n) and out.dtype == np.int64
    assert np.array_equal(out.data, model.generate(p, n, greedy=True).data), "cached greedy tokens differ from model.generate's"
    assert [c.rows for c in counters] == [2 * (4 + n - 1)] * 2, f"rows per layer {[c.rows for c in counters]}: not cached"
    sampled = fast.generate(p, n, temperature=0.9, top_k=5, seed=3).data
    assert np.array_equal(sampled, model.generate(p, n, temperature=0.9, top_k=5, seed=3).data)


def test_uncached_generation_reads_the_whole_prefix_each_step():
    """kv_cache=False: the model's own generate (every step re-reads the prefix: B·ΣT rows per layer).

    Hint: without the cache, OptimizedGPT.generate returns self.model.generate(idx, max_new_tokens,
    temperature=..., top_k=..., greedy=..., seed=...).
    """
    model = make(seed=2)
    slow = OptimizedGPT(copy.deepcopy(model), kv_cache=False, backend="reference")
    counters = counted(slow.model)
    p, n = prompts(seed=2), 6
    assert np.array_equal(slow.generate(p, n, greedy=True).data, model.generate(p, n, greedy=True).data)
    assert [c.rows for c in counters] == [2 * sum(4 + i for i in range(n))] * 2, [c.rows for c in counters]


def test_one_cache_per_batch_size_reused_and_no_cropping():
    """The cache is allocated once per batch size and reused; past the context the cached path refuses (a cache cannot crop).

    Hint: pass cache=self.cache_for(batch) to generate_cached (batch = the prompts' first dimension)
    instead of letting it allocate a new cache; generate_cached itself raises ValueError past the context.
    """
    fast = OptimizedGPT(make(seed=3), kv_cache=True, backend="fast")
    fast.generate(prompts(seed=3), 5, greedy=True)
    cache = fast.cache_for(2)
    held = [t.data for t in cache.k]
    fast.generate(prompts(seed=4, T=3), 8, greedy=True)
    assert fast.cache_for(2) is cache and all(t.data is a for t, a in zip(cache.k, held)), "the cache was reallocated"
    with raises(ValueError):
        fast.generate(prompts(T=10), 12, greedy=True)  # 10 + 12 - 1 > 20


def test_backend_restored_after_an_error():
    """Even when generation raises, the backend selected before is back.

    Hint: use kata 16's backend as a context manager (`with use_backend(self.backend):`): its __exit__
    restores the previous backend even when generation raises.
    """
    fast = OptimizedGPT(make(seed=4), kv_cache=True, backend="fast")
    previous = acceleration.set_backend("reference")
    try:
        with raises(ValueError):
            fast.generate(prompts(T=21), 1, greedy=True)
        assert acceleration.get_backend() == "reference"
    finally:
        acceleration.set_backend(previous)
