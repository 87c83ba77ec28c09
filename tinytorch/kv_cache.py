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
        raise NotImplementedError("not implemented yet: KVCache.__init__ (kata 14, step 1: cache)")

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
        raise NotImplementedError("not implemented yet: KVCache.update (kata 14, step 1: cache)")

    def advance(self, T: int) -> None:
        """Count ``T`` more positions as filled (after every layer has called :meth:`update`).

        Raises ``ValueError`` if that would pass ``max_len``.
        """
        raise NotImplementedError("not implemented yet: KVCache.advance (kata 14, step 1: cache)")

    def reset(self) -> None:
        """Forget every position (``pos = 0``) for a new prompt, keeping the arrays (no new allocation)."""
        raise NotImplementedError("not implemented yet: KVCache.reset (kata 14, step 1: cache)")

    @property
    def nbytes(self) -> int:
        """Bytes held by the K and V arrays of every layer (measured from the arrays, not a formula).

        The whole preallocation counts, however many positions are filled:
        ``2 · n_layer · batch_size · n_head · max_len · head_dim · itemsize``.
        """
        raise NotImplementedError("not implemented yet: KVCache.nbytes (kata 14, step 1: cache)")

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
    raise NotImplementedError("not implemented yet: cached_causal_mask (kata 14, step 2: mask)")


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
    raise NotImplementedError("not implemented yet: cached_attention (kata 14, step 3: attention)")


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
    raise NotImplementedError("not implemented yet: cached_block (kata 14, step 4: forward)")


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
    raise NotImplementedError("not implemented yet: cached_forward (kata 14, step 4: forward)")


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
    raise NotImplementedError("not implemented yet: generate_cached (kata 14, step 5: generate)")
