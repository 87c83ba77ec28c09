"""Kata 14 — KV caching: generate without re-reading the whole prefix at every token.

Kata 13's :meth:`GPT.generate` feeds the *whole* sequence to the model for every new token.
At step ``t`` it projects ``t`` tokens through every layer, although the keys and values of the
first ``t - 1`` tokens are exactly the ones it computed at step ``t - 1``: thanks to the causal
mask, a token's keys and values never change once it is in the sequence. Generating ``n``
tokens after a prompt of ``T`` costs ``T + (T+1) + ... + (T+n-1)`` token-passes: quadratic.

A **KV cache** keeps each layer's keys and values. Generation then has two phases:

* **prefill** — the prompt (``T`` tokens) goes through the model once; every layer writes its
  ``K`` and ``V`` into the cache at positions ``0 .. T-1``;
* **decode** — each new token goes through alone (``T = 1``): its query reads the keys and
  values of *all* earlier tokens from the cache, and its own ``K``/``V`` are written at the
  next position.

A chunk of ``T`` new tokens with ``past`` tokens already cached attends with the mask
:func:`cached_causal_mask` of shape ``(T, past + T)``: every new token sees the whole past,
and the new tokens see each other causally.

The cache is **preallocated**: one ``(B, n_head, max_len, head_dim)`` array for K and one for V
per layer, filled in place. Growing it with ``np.concatenate`` at every step would copy the
whole cache each time, which is quadratic again.

Everything here walks the modules of kata 13's GPT (``tok_emb``, ``pos_emb``, ``blocks`` with
``ln1``, ``attn.q_proj`` …, ``ln_f``, ``head``) and leaves its file untouched. The cached model
computes the same function as the uncached one, so greedy tokens are identical and the logits
agree to float32 rounding.

Example
-------
>>> from tinytorch import rng
>>> from tinytorch.transformer import GPT
>>> rng.manual_seed(0)
>>> model = GPT(vocab_size=10, block_size=16, n_layer=2, n_head=2, n_embd=16)
>>> prompt = [[1, 2, 3]]
>>> fast = generate_cached(model, prompt, max_new_tokens=8, greedy=True).data
>>> slow = model.generate(prompt, max_new_tokens=8, greedy=True).data
>>> bool((fast == slow).all())
True
"""

from __future__ import annotations

import numpy as np

from tinytorch import rng
from tinytorch.attention import scaled_dot_product_attention
from tinytorch.autograd import no_grad
from tinytorch.tensor import Tensor, composite
from tinytorch.transformer import sample_next

__all__ = ["KVCache", "cached_causal_mask", "cached_attention", "cached_block", "cached_forward", "generate_cached"]


def _array(x) -> np.ndarray:
    """Scaffolding: the NumPy array behind a Tensor (or an array as it is)."""
    return x.data if isinstance(x, Tensor) else np.asarray(x)


# ---------------------------------------------------------------------------------------------
# Step 1: the preallocated cache
# ---------------------------------------------------------------------------------------------


class KVCache:
    """Keys and values of every layer, for up to ``max_len`` positions, preallocated.

    Parameters
    ----------
    n_layer : int
        One K array and one V array per layer.
    batch_size, n_head, max_len, head_dim : int
        Each array has shape ``(batch_size, n_head, max_len, head_dim)`` — the layout of
        ``MultiHeadAttention.split_heads``, with room for ``max_len`` positions.
    dtype : NumPy dtype
        float32 by default (the model's dtype).

    Attributes
    ----------
    k, v : list of ``n_layer`` Tensors, shape ``(batch_size, n_head, max_len, head_dim)``
        Allocated once, in ``__init__`` (zeros, not requiring grad), and then only written
        into (``self.k[layer].data[...] = ...``): never replaced, never grown.
    pos : int
        How many positions are filled (0 after ``__init__`` and :meth:`reset`). Positions
        ``>= pos`` hold stale values that nobody reads.

    Use, for one forward pass of ``T`` new tokens: every layer calls ``update(layer, k, v)``
    (which writes at positions ``pos .. pos+T-1`` and returns everything up to ``pos+T``), then
    the model calls ``advance(T)`` once.

    >>> cache = KVCache(n_layer=2, batch_size=1, n_head=2, max_len=8, head_dim=4)
    >>> cache.k[0].shape, cache.pos, cache.nbytes
    ((1, 2, 8, 4), 0, 1024)
    >>> keys, values = cache.update(0, np.ones((1, 2, 3, 4)), np.ones((1, 2, 3, 4)))
    >>> keys.shape, cache.pos
    ((1, 2, 3, 4), 0)
    """

    def __init__(self, n_layer: int, batch_size: int, n_head: int, max_len: int, head_dim: int,
                 dtype=np.float32):
        self.n_layer, self.batch_size, self.n_head = n_layer, batch_size, n_head
        self.max_len, self.head_dim, self.dtype = max_len, head_dim, np.dtype(dtype)
        ### BEGIN SOLUTION cache
        shape = (batch_size, n_head, max_len, head_dim)
        self.k = [Tensor(np.zeros(shape, dtype=self.dtype)) for _ in range(n_layer)]
        self.v = [Tensor(np.zeros(shape, dtype=self.dtype)) for _ in range(n_layer)]
        self.pos = 0
        ### END SOLUTION

    @classmethod
    def for_model(cls, model, batch_size: int) -> "KVCache":
        """Scaffolding: a cache sized for kata 13's ``GPT``: its layers, heads and ``block_size``."""
        attn = model.blocks[0].attn
        return cls(len(model.blocks), batch_size, attn.num_heads, model.block_size, attn.head_dim,
                   dtype=model.head.weight.dtype)

    def update(self, layer: int, k, v):
        """Write the keys and values of ``T`` new tokens for ``layer``; return all of them so far.

        Parameters
        ----------
        layer : int
        k, v : array or Tensor, shape ``(batch_size, n_head, T, head_dim)``
            Stored (as arrays, in the cache's dtype) at positions ``pos .. pos+T-1``.

        Returns
        -------
        keys, values : Tensors ``(batch_size, n_head, pos + T, head_dim)``
            Views of the cache (``self.k[layer][:, :, :pos + T]``, no copy): the past and the
            new tokens, in order. (``Tensor(array)`` would copy the whole past at every step.)

        Does not move ``pos`` (every layer writes the same positions; see :meth:`advance`).

        Raises
        ------
        ValueError
            If ``pos + T > max_len`` (the cache is full: name both numbers), or if ``k`` or
            ``v`` does not have the shape ``(batch_size, n_head, T, head_dim)`` (the same ``T``
            for both). Checked before anything is written.
        """
        ### BEGIN SOLUTION cache
        k, v = _array(k), _array(v)
        T = k.shape[2] if k.ndim == 4 else -1
        expected = (self.batch_size, self.n_head, T, self.head_dim)
        if k.shape != expected or v.shape != expected:
            raise ValueError(f"KVCache.update: keys {k.shape} and values {v.shape} must both have the shape "
                             f"(batch_size, n_head, T, head_dim) = {expected[:2]} + (T, {self.head_dim})")
        end = self.pos + T
        if end > self.max_len:
            raise ValueError(f"KVCache is full: {self.pos} positions cached + {T} new > max_len {self.max_len}")
        self.k[layer].data[:, :, self.pos:end] = k
        self.v[layer].data[:, :, self.pos:end] = v
        return self.k[layer][:, :, :end], self.v[layer][:, :, :end]
        ### END SOLUTION

    def advance(self, T: int) -> None:
        """Count ``T`` more positions as filled (after every layer has called :meth:`update`).

        Raises ``ValueError`` if that would pass ``max_len``.
        """
        ### BEGIN SOLUTION cache
        if self.pos + T > self.max_len:
            raise ValueError(f"KVCache is full: {self.pos} positions cached + {T} new > max_len {self.max_len}")
        self.pos += T
        ### END SOLUTION

    def reset(self) -> None:
        """Forget every position (``pos = 0``) for a new prompt, keeping the arrays (no new allocation)."""
        ### BEGIN SOLUTION cache
        self.pos = 0
        ### END SOLUTION

    @property
    def nbytes(self) -> int:
        """Bytes held by the K and V arrays of every layer (measured from the arrays, not a formula).

        The whole preallocation counts, however many positions are filled:
        ``2 · n_layer · batch_size · n_head · max_len · head_dim · itemsize``.
        """
        ### BEGIN SOLUTION cache
        return sum(t.data.nbytes for t in self.k) + sum(t.data.nbytes for t in self.v)
        ### END SOLUTION

    def __repr__(self):
        return (f"KVCache(n_layer={self.n_layer}, batch_size={self.batch_size}, n_head={self.n_head}, "
                f"max_len={self.max_len}, head_dim={self.head_dim}, pos={getattr(self, 'pos', '?')})")


# ---------------------------------------------------------------------------------------------
# Step 2: the mask of a chunk that follows a cached past
# ---------------------------------------------------------------------------------------------


def cached_causal_mask(T: int, past: int) -> np.ndarray:
    """The boolean mask ``(T, past + T)`` of ``T`` new tokens that follow ``past`` cached ones.

    Query ``i`` is the token at position ``past + i``; key ``j`` is the token at position ``j``.
    It may attend (True) when ``j <= past + i``: the first ``past`` columns are all True (the
    cache), and the last ``T`` columns are :func:`~tinytorch.attention.causal_mask` ``(T)``.
    ``past = 0`` is the ordinary causal mask; ``T = 1`` is a single row of True.

    >>> cached_causal_mask(2, 3)
    array([[ True,  True,  True,  True, False],
           [ True,  True,  True,  True,  True]])
    """
    ### BEGIN SOLUTION mask
    return np.tril(np.ones((T, past + T), dtype=bool), k=past)
    ### END SOLUTION


# ---------------------------------------------------------------------------------------------
# Step 3: one attention layer, reading and writing the cache
# ---------------------------------------------------------------------------------------------


def cached_attention(attn, x: Tensor, cache: KVCache, layer: int) -> Tensor:
    """Kata 12's ``MultiHeadAttention`` for ``T`` new tokens, with earlier tokens from the cache.

    Parameters
    ----------
    attn : MultiHeadAttention
        Its own ``q_proj``, ``k_proj``, ``v_proj``, ``out_proj``, ``split_heads`` and
        ``merge_heads`` do the work (call them: do not copy their weights).
    x : Tensor ``(B, T, embed_dim)``
        The new tokens only (already through ``ln1``), at positions ``cache.pos .. cache.pos+T-1``.
    cache : KVCache
    layer : int
        Which of the cache's layers this is.

    Only the ``T`` new tokens go through ``k_proj`` and ``v_proj``; their keys and values are
    written with ``cache.update``, which returns all keys and values so far. The queries of the
    new tokens attend to them with :func:`cached_causal_mask` ``(T, cache.pos)`` (through
    :func:`~tinytorch.attention.scaled_dot_product_attention`); a single new token (``T = 1``,
    a decode step) may read every key, so it needs no mask at all. ``cache.pos`` is not moved.

    Returns
    -------
    Tensor ``(B, T, embed_dim)``: equal (to float rounding) to the last ``T`` rows of
    ``attn(whole_sequence, causal_mask(pos + T))``.
    """
    ### BEGIN SOLUTION attention
    past, T = cache.pos, x.shape[1]
    q = attn.split_heads(attn.q_proj(x))
    k = attn.split_heads(attn.k_proj(x))
    v = attn.split_heads(attn.v_proj(x))
    keys, values = cache.update(layer, k, v)
    mask = cached_causal_mask(T, past) if T > 1 else None  # one new token may read everything
    out = scaled_dot_product_attention(q, keys, values, mask)
    return attn.out_proj(attn.merge_heads(out))
    ### END SOLUTION


# ---------------------------------------------------------------------------------------------
# Step 4: one block, then the whole GPT, one chunk at a time
# ---------------------------------------------------------------------------------------------


@composite("cached_block")  # scaffolding: a backend (kata 16) may run the whole block as one kernel
def cached_block(block, x: Tensor, cache: KVCache, layer: int) -> Tensor:
    """One of kata 13's ``TransformerBlock`` on ``T`` new tokens, its attention through the cache.

    Parameters
    ----------
    block : TransformerBlock
        Walked module by module, as its own ``forward`` does, except for the attention::

            x = x + block.drop(cached_attention(block.attn, block.ln1(x), cache, layer))
            x = x + block.mlp(block.ln2(x))

    x : Tensor ``(B, T, n_embd)``
        The residual stream of the new tokens (positions ``cache.pos .. cache.pos+T-1``).
    cache : KVCache
        This block's keys and values are written at those positions (through
        :func:`cached_attention`); ``cache.pos`` is not moved.
    layer : int
        The block's index in ``model.blocks``: its layer in the cache.

    Returns
    -------
    Tensor ``(B, T, n_embd)``: equal (to float rounding) to the last ``T`` rows of
    ``block(whole_sequence, causal_mask(pos + T))``.

    :func:`cached_forward` calls it once per block. It is a seam: under kata 16's fast backend a
    single kernel may run the whole block on the arrays (an inference fast path, like PyTorch's
    for ``nn.TransformerEncoderLayer``); with the reference backend, this body runs.

    >>> from tinytorch.transformer import GPT
    >>> rng.manual_seed(0)
    >>> model = GPT(vocab_size=10, block_size=8, n_layer=1, n_head=2, n_embd=8).eval()
    >>> cache = KVCache.for_model(model, batch_size=1)
    >>> out = cached_block(model.blocks[0], Tensor(np.ones((1, 3, 8), np.float32)), cache, 0)
    >>> out.shape, cache.pos
    ((1, 3, 8), 0)
    """
    ### BEGIN SOLUTION forward
    x = x + block.drop(cached_attention(block.attn, block.ln1(x), cache, layer))
    return x + block.mlp(block.ln2(x))
    ### END SOLUTION


def cached_forward(model, idx, cache: KVCache) -> Tensor:
    """Run kata 13's ``GPT`` on ``T`` new tokens that follow the ``cache.pos`` cached ones.

    Parameters
    ----------
    model : GPT
        Walked module by module: ``tok_emb``, ``pos_emb`` (its ``weight`` rows ``pos .. pos+T-1``:
        the new tokens sit at those positions, not at ``0 .. T-1``), ``drop``, each block
        through :func:`cached_block` (``x = cached_block(block, x, cache, layer)``, the block's
        index as the layer: call it, do not inline it, so that kata 16 can replace it whole),
        ``ln_f`` and ``head``.
    idx : array, list or Tensor of ints, shape ``(B, T)``
        The new tokens: the whole prompt (prefill), part of it (chunked prefill), or the one
        token just generated (decode).
    cache : KVCache
        Read and written; ``cache.pos`` moves by ``T`` at the end.

    Runs under ``no_grad`` (the cache stores plain arrays: nothing to differentiate). Dropout
    follows the model's mode: call it in eval mode.

    Returns
    -------
    Tensor ``(B, T, vocab_size)``: the logits of the new tokens, equal (to float rounding) to
    the last ``T`` rows of ``model(whole_sequence)``.

    Raises
    ------
    ValueError
        If ``cache.pos + T > model.block_size`` — checked before any work. The model has no
        position past its context; cropping the oldest tokens instead would shift every
        learned position and give other logits than the model computes.
    """
    ### BEGIN SOLUTION forward
    ids = np.asarray(_array(idx))
    B, T = ids.shape
    past = cache.pos
    if past + T > model.block_size:
        raise ValueError(f"cached_forward: {past} cached + {T} new tokens > the model's context "
                         f"(block_size {model.block_size})")
    with no_grad():
        x = model.drop(model.tok_emb(ids) + model.pos_emb.weight[past:past + T])
        for layer, block in enumerate(model.blocks):
            x = cached_block(block, x, cache, layer)
        logits = model.head(model.ln_f(x))
    cache.advance(T)
    return logits
    ### END SOLUTION


# ---------------------------------------------------------------------------------------------
# Step 5: cached generation
# ---------------------------------------------------------------------------------------------


def generate_cached(model, idx, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
                    greedy: bool = False, seed: int | None = None, cache: KVCache | None = None) -> Tensor:
    """:meth:`GPT.generate` with a KV cache: the same tokens, far less work.

    Prefill the prompts with one :func:`cached_forward`, then decode one token at a time, each
    step feeding only the token just chosen. The last new token is not fed (nothing would read
    its logits), so the cache ends holding ``T + max_new_tokens - 1`` positions, and the K/V
    layers project ``B · (T + max_new_tokens - 1)`` rows in all.

    Tokens are chosen exactly as ``model.generate`` does: :func:`~tinytorch.transformer.sample_next`
    on the logits of the last position, with ``np.random.default_rng(seed)`` (or
    ``tinytorch.rng.generator()`` without a seed). Eval mode and ``no_grad`` while generating;
    the model's training mode is restored afterwards.

    Parameters
    ----------
    model : GPT
    idx : Tensor, array or list of ints, shape ``(B, T)``
        The prompts (at least one token each).
    max_new_tokens, temperature, top_k, greedy, seed :
        As in ``GPT.generate``.
    cache : KVCache, optional
        Reused (after :meth:`KVCache.reset`) if given, so that no memory is allocated per
        prompt; else ``KVCache.for_model(model, B)``.

    Returns
    -------
    Tensor of int64 ``(B, T + max_new_tokens)``: the prompts followed by the new tokens.

    Raises
    ------
    ValueError
        Before any work, if the model would have to read more than ``block_size`` tokens:
        the last new token is never fed back, so that is when ``T + max_new_tokens - 1 >
        block_size``. (``GPT.generate`` crops the context there instead; a cache cannot,
        because its keys were computed at the old positions.)
    """
    ### BEGIN SOLUTION generate
    ids = np.array(_array(idx), dtype=np.int64)
    B, T = ids.shape
    if max_new_tokens <= 0:
        return Tensor(ids)
    if T + max_new_tokens - 1 > model.block_size:
        raise ValueError(f"generate_cached: {T} prompt tokens + {max_new_tokens} new ones need "
                         f"{T + max_new_tokens - 1} positions, more than the model's block_size "
                         f"{model.block_size} (a KV cache cannot crop the context)")
    if cache is None:
        cache = KVCache.for_model(model, B)
    cache.reset()
    generator = np.random.default_rng(seed) if seed is not None else rng.generator()
    out = np.empty((B, T + max_new_tokens), dtype=np.int64)
    out[:, :T] = ids
    was_training = model.training
    model.eval()
    try:
        logits = cached_forward(model, ids, cache).data[:, -1, :]  # prefill
        for i in range(max_new_tokens):
            nxt = sample_next(logits, temperature, top_k, greedy, generator)
            out[:, T + i] = nxt
            if i + 1 < max_new_tokens:
                logits = cached_forward(model, nxt[:, None], cache).data[:, -1, :]  # decode
    finally:
        model.train(was_training)
    return Tensor(out)
    ### END SOLUTION
