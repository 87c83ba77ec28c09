"""Step 1: cache — KVCache preallocates K and V per layer, writes in place, advances, resets."""

import numpy as np

from dojo.testing import assert_close, raises
from tinytorch.kv_cache import KVCache
from tinytorch.tensor import Tensor

SHAPE = dict(n_layer=2, batch_size=3, n_head=2, max_len=10, head_dim=4)


def make(**overrides):
    return KVCache(**{**SHAPE, **overrides})


def chunk(T, seed=0):
    return np.random.default_rng(seed).standard_normal((3, 2, T, 4)).astype(np.float32)


def test_arrays_are_preallocated_per_layer():
    """k and v hold one zero Tensor (batch_size, n_head, max_len, head_dim) per layer, all distinct; pos is 0.

    Hint: in KVCache.__init__ (tinytorch/kv_cache.py) build a fresh np.zeros((batch_size, n_head, max_len,
    head_dim), dtype) for EACH layer and for K and V separately, wrap each in a Tensor, and set self.pos = 0;
    [Tensor(z)] * n_layer would share one array between layers.
    """
    cache = make()
    assert cache.pos == 0, f"pos is {cache.pos} after __init__"
    assert len(cache.k) == 2 and len(cache.v) == 2, f"{len(cache.k)} K and {len(cache.v)} V for 2 layers"
    tensors = [*cache.k, *cache.v]
    for t in tensors:
        assert isinstance(t, Tensor), f"got {type(t).__name__}, expected a Tensor"
        assert t.shape == (3, 2, 10, 4) and t.dtype == np.float32, f"got {t.shape} {t.dtype}"
        assert not t.requires_grad and not t.data.any()
    for i, a in enumerate(tensors):
        for b in tensors[i + 1:]:
            assert not np.shares_memory(a.data, b.data), "two layers (or K and V) share one array"


def test_nbytes_counts_the_arrays_held():
    """nbytes is the size of every K and V array held: 2 · layers · B · heads · max_len · head_dim · itemsize.

    Hint: nbytes should add up t.data.nbytes over self.k and self.v, and __init__ must honour the dtype
    argument (float64 doubles the bytes); a formula with a hard-coded 4 bytes per float fails for float64.
    """
    for dtype, itemsize in ((np.float32, 4), (np.float64, 8)):
        cache = make(dtype=dtype)
        held = sum(t.data.nbytes for t in [*cache.k, *cache.v])
        assert cache.k[0].dtype == dtype
        assert cache.nbytes == held == 2 * 2 * 3 * 2 * 10 * 4 * itemsize, f"nbytes {cache.nbytes}, arrays hold {held}"


def test_update_writes_in_place_and_returns_views():
    """update(layer, k, v) writes positions pos .. pos+T-1 of that layer in place and returns views of 0 .. pos+T-1.

    Hint: write with a slice assignment into the existing array, self.k[layer].data[:, :, pos:pos + T] = k (k
    may be a Tensor: take its .data), and return self.k[layer][:, :, :pos + T], a view; do not move pos in
    update.
    """
    cache = make()
    arrays = [t.data for t in cache.k]
    k1, v1 = chunk(3, seed=1), chunk(3, seed=2)
    keys, values = cache.update(1, k1, v1)
    assert keys.shape == values.shape == (3, 2, 3, 4), f"got {keys.shape}, {values.shape}"
    assert_close(keys, k1, what="keys returned")
    assert_close(values, v1, what="values returned")
    assert_close(cache.k[1].data[:, :, :3], k1, what="cache.k[1] at positions 0..2")
    assert_close(cache.v[1].data[:, :, :3], v1, what="cache.v[1] at positions 0..2")
    assert not cache.k[0].data.any() and not cache.v[0].data.any(), "layer 0 was written by update(1, ...)"
    assert np.shares_memory(keys.data, cache.k[1].data), "keys must be a view of the cache, not a copy"
    assert np.shares_memory(values.data, cache.v[1].data), "values must be a view of the cache, not a copy"
    assert cache.pos == 0, "update must not move pos (advance does)"
    cache.advance(3)
    k2, v2 = chunk(2, seed=3), chunk(2, seed=4)
    keys, values = cache.update(1, Tensor(k2), Tensor(v2))
    assert keys.shape == (3, 2, 5, 4), f"after 3 cached + 2 new, keys have shape {keys.shape}"
    assert_close(keys, np.concatenate([k1, k2], axis=2), what="keys 0..4")
    assert_close(values, np.concatenate([v1, v2], axis=2), what="values 0..4")
    assert all(t.data is a for t, a in zip(cache.k, arrays)), "the cache arrays were replaced"


def test_advance_and_reset_keep_the_arrays():
    """advance(T) adds T to pos; reset() sets it back to 0 without a new allocation; the next update writes at 0.

    Hint: advance(T) only adds T to self.pos and reset() only sets it back to 0: neither may allocate new
    arrays (re-running __init__ or np.zeros in reset replaces them).
    """
    cache = make()
    held = [(t, t.data) for t in [*cache.k, *cache.v]]
    cache.update(0, chunk(4), chunk(4))
    cache.advance(4)
    cache.advance(1)
    assert cache.pos == 5, f"pos {cache.pos} after advance(4) and advance(1)"
    cache.reset()
    assert cache.pos == 0, f"pos {cache.pos} after reset()"
    assert all(a is b and a.data is d for a, (b, d) in zip([*cache.k, *cache.v], held)), "reset() must keep the same arrays"
    new = chunk(2, seed=5)
    keys, _ = cache.update(0, new, new)
    assert keys.shape[2] == 2, f"after reset, a chunk of 2 returned {keys.shape[2]} positions"
    assert_close(keys, new, what="keys after reset")


def test_a_full_cache_raises():
    """Writing or advancing past max_len is a ValueError, and a refused update writes nothing.

    Hint: check pos + T > max_len in update BEFORE the slice assignment (NumPy would silently write a shorter
    slice or fail halfway), and check the same in advance; pos + T == max_len is allowed.
    """
    cache = make(max_len=4)
    cache.update(0, chunk(3), chunk(3))
    cache.advance(3)
    before = cache.k[0].data.copy()
    with raises(ValueError):
        cache.update(0, chunk(2, seed=9), chunk(2, seed=9))
    assert np.array_equal(cache.k[0].data, before), "a refused update changed the cache"
    with raises(ValueError):
        cache.advance(2)
    assert cache.pos == 3
    cache.update(0, chunk(1), chunk(1))  # exactly full is fine
    cache.advance(1)
    assert cache.pos == 4


def test_a_chunk_of_the_wrong_shape_raises():
    """k and v must be (batch_size, n_head, T, head_dim): anything else is a ValueError.

    Hint: compare k.shape and v.shape with (batch_size, n_head, T, head_dim), T taken from k, and raise
    ValueError before writing; broadcasting in the slice assignment would otherwise accept some wrong shapes.
    """
    cache = make()
    with raises(ValueError):
        cache.update(0, np.zeros((3, 2, 1, 5), np.float32), np.zeros((3, 2, 1, 5), np.float32))
    with raises(ValueError):
        cache.update(0, np.zeros((2, 2, 1, 4), np.float32), np.zeros((2, 2, 1, 4), np.float32))
    with raises(ValueError):
        cache.update(0, chunk(2), chunk(3))
