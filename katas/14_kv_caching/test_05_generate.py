"""Step 5: generate — generate_cached gives GPT.generate's tokens with a fraction of the work."""

import numpy as np

from dojo.testing import count_rows, raises
from tinytorch import rng
from tinytorch.kv_cache import KVCache, generate_cached
from tinytorch.tensor import Tensor
from tinytorch.transformer import GPT

# block_size 8 keeps every step count small (each step is one forward); the edge cases (a full context,
# one token too many) sit at block_size whatever its value.
CONFIG = dict(vocab_size=13, block_size=8, n_layer=2, n_head=2, n_embd=16)


def make(seed=0, **overrides):
    rng.manual_seed(seed)
    return GPT(**{**CONFIG, **overrides})


def prompts(B=3, T=4, seed=0):
    return np.random.default_rng(seed).integers(0, 13, size=(B, T))


def test_greedy_tokens_equal_uncached():
    """Greedy: exactly the tokens of model.generate(..., greedy=True), up to a full context.

    Hint: prefill with cached_forward on the whole prompt, pick each token with sample_next on the last
    position's logits (.data[:, -1, :]), feed back only that token (shape (B, 1)), and return an int64 Tensor
    (B, T + max_new_tokens); the check must allow T + n - 1 == block_size.
    """
    model = make()
    for T, n in ((3, 4), (1, 8), (5, 4)):  # the last two fill block_size: T + n - 1 = 8
        p = prompts(T=T, seed=T)
        got = generate_cached(model, p, max_new_tokens=n, greedy=True)
        expected = model.generate(p, max_new_tokens=n, greedy=True).data
        assert isinstance(got, Tensor) and got.dtype == np.int64 and got.shape == (3, T + n), \
            f"got {type(got).__name__} {getattr(got, 'shape', '')} {getattr(got, 'dtype', '')}"
        assert np.array_equal(got.data, expected), f"prompt of {T}: cached {got.data.tolist()}, uncached {expected.tolist()}"


def test_seeded_sampling_equals_uncached():
    """Sampling with temperature, top-k and a seed draws the same tokens as model.generate with that seed.

    Hint: use the same generator as GPT.generate: np.random.default_rng(seed) when a seed is given, else
    rng.generator(), created once before the loop and passed to sample_next with temperature and top_k.
    """
    model = make(seed=1)
    p = prompts(B=2, T=3, seed=1)
    for kwargs in (dict(temperature=0.8, top_k=5, seed=3), dict(temperature=1.5, seed=4)):
        got = generate_cached(model, p, max_new_tokens=5, **kwargs).data
        expected = model.generate(p, max_new_tokens=5, **kwargs).data
        assert np.array_equal(got, expected), f"{kwargs}: cached {got.tolist()}, uncached {expected.tolist()}"


def test_work_grows_linearly_not_quadratically():
    """Rows projected through every k_proj and v_proj: uncached B·ΣT (the whole prefix each step),
    cached B·(T + n - 1) (the prompt once, then one token per step).

    Hint: the last chosen token must not be fed back (nothing reads its logits): call cached_forward for the
    next step only when another token is still to come, so the K/V layers see B·(T + n - 1) rows.
    """
    model = make(seed=2)
    counters = []
    for block in model.blocks:
        block.attn.k_proj, block.attn.v_proj = count_rows(block.attn.k_proj), count_rows(block.attn.v_proj)
        counters += [block.attn.k_proj, block.attn.v_proj]
    B, T, n = 2, 3, 5
    p = prompts(B=B, T=T, seed=2)

    model.generate(p, max_new_tokens=n, greedy=True)
    uncached = [c.rows for c in counters]
    for c in counters:
        c.rows = 0
    generate_cached(model, p, max_new_tokens=n, greedy=True)
    cached = [c.rows for c in counters]

    sigma_t = sum(T + i for i in range(n))  # 3 + 4 + ... + 7
    assert uncached == [B * sigma_t] * 4, f"uncached rows per layer {uncached}, expected {B * sigma_t}"
    assert cached == [B * (T + n - 1)] * 4, f"cached rows per K/V layer {cached}, expected {B * (T + n - 1)} (the prompt once, then one token per step)"


def test_one_cache_serves_many_prompts():
    """A cache passed in is reset for each prompt and never reallocated: same arrays, same nbytes, right tokens.

    Hint: when a cache is passed in, call cache.reset() and reuse it; build KVCache.for_model(model, B) only
    when cache is None, and never allocate new arrays per prompt.
    """
    model = make(seed=3)
    cache = KVCache.for_model(model, 3)
    held = [(t, t.data) for t in [*cache.k, *cache.v]]
    nbytes = cache.nbytes
    for seed in (4, 5, 6):
        p = prompts(T=2 + seed % 3, seed=seed)
        got = generate_cached(model, p, max_new_tokens=4, greedy=True, cache=cache).data
        assert np.array_equal(got, model.generate(p, max_new_tokens=4, greedy=True).data), \
            f"prompt {seed - 3}: a reused cache gave other tokens (reset it for each prompt)"
        assert cache.pos == p.shape[1] + 3, f"cache.pos is {cache.pos}: the prompt ({p.shape[1]}) and 3 fed-back tokens"
    assert all(a is b and a.data is d for a, (b, d) in zip([*cache.k, *cache.v], held)), "the cache arrays were replaced"
    assert cache.nbytes == nbytes == sum(t.data.nbytes for t in [*cache.k, *cache.v])


def test_past_the_context_is_an_error():
    """T + max_new_tokens - 1 > block_size is a ValueError before any work (GPT.generate crops; a cache cannot).

    Hint: raise ValueError up front when T + max_new_tokens - 1 > model.block_size; T + max_new_tokens is one
    too strict (the last token is never fed back), and waiting for cached_forward to fail does work first.
    """
    model = make(seed=4)
    with raises(ValueError):
        generate_cached(model, prompts(T=5), max_new_tokens=5, greedy=True)
    with raises(ValueError):
        generate_cached(model, prompts(T=9), max_new_tokens=1, greedy=True)
    assert generate_cached(model, prompts(T=5), max_new_tokens=4, greedy=True).shape == (3, 9)


def test_eval_mode_inside_training_mode_restored():
    """With dropout, generate_cached still decodes in eval mode (greedy = the uncached tokens) and restores training mode.

    Hint: remember was_training = model.training, call model.eval() before the prefill, and restore
    model.train(was_training) in a finally block; do not force model.train() at the end.
    """
    model = make(seed=5, dropout=0.5)
    model.train()
    p = prompts(B=2, seed=5)
    got = generate_cached(model, p, max_new_tokens=4, greedy=True).data
    assert model.training, "generate_cached must restore training mode"
    assert np.array_equal(got, model.generate(p, max_new_tokens=4, greedy=True).data), "dropout was active while generating"
    model.eval()
    generate_cached(model, p, max_new_tokens=2, greedy=True)
    assert not model.training, "a model in eval mode must stay in eval mode"
