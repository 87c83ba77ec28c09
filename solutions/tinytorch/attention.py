"""Kata 12 — Attention: every token looks at the others and takes what it needs.

An embedding (kata 11) gives each token a vector of its own, blind to its neighbours. Attention
mixes them: each position asks a *query*, every position offers a *key* and a *value*, and the
output at a position is the average of the values weighted by how well its query matches each
key::

    attention(Q, K, V) = softmax(Q Kᵀ / √d) V

Masks: one convention everywhere
--------------------------------
A mask is a **boolean** array that broadcasts against the scores ``(..., T_q, T_k)``, and
**True means "may attend"** (PyTorch's ``attn_mask`` convention for booleans):

* :func:`causal_mask` — position ``t`` may attend to positions ``<= t`` only (a language model
  must not read the future it is asked to predict);
* :func:`padding_mask` — a query may attend only to the real tokens of its sequence, not to
  the padding that fills a batch up to a common length.

Combine masks with ``&``: ``causal_mask(T) & padding_mask(lengths, T)``.

A query whose mask row is all False has nothing to attend to: by this library's convention its
attention weights are all 0 and its output is the zero vector (and no gradient flows through
that row), as ``F.scaled_dot_product_attention`` gives; ``nn.MultiheadAttention`` returns NaN
there when it also returns the weights (its default ``need_weights=True``).

Example
-------
>>> causal_mask(3)
array([[ True, False, False],
       [ True,  True, False],
       [ True,  True,  True]])
>>> q = k = v = Tensor(np.eye(3, dtype=np.float32))
>>> out, w = scaled_dot_product_attention(q, k, v, mask=causal_mask(3), return_weights=True)
>>> w.data[0]
array([1., 0., 0.], dtype=float32)
"""

from __future__ import annotations

import math

import numpy as np

from tinytorch.activations import softmax
from tinytorch.autograd import rule
from tinytorch.layers import Linear, Module
from tinytorch.tensor import Tensor, composite, op

__all__ = [
    "causal_mask", "padding_mask", "masked_fill", "scaled_dot_product_attention", "MultiHeadAttention",
    "MASKED_SCORE",
]

# The score given to masked positions. Finite on purpose: a row of -inf would make softmax compute
# -inf - (-inf) = nan. exp(-1e9 - m) is exactly 0.0 in float32 and float64 for any sane score m.
MASKED_SCORE = -1e9


def _mask_array(mask) -> np.ndarray:
    """Scaffolding: a mask (Tensor, array or nested list of bools) as a boolean NumPy array."""
    array = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
    if array.dtype != np.bool_:
        raise TypeError(f"a mask must be boolean (True = may attend), got dtype {array.dtype}")
    return array


# ---------------------------------------------------------------------------------------------
# Step 1: masks and masked_fill
# ---------------------------------------------------------------------------------------------


def causal_mask(T: int) -> np.ndarray:
    """The ``(T, T)`` boolean mask of a language model: query ``t`` may attend to keys ``<= t``.

    True on and below the diagonal, False above it.

    >>> causal_mask(2)
    array([[ True, False],
           [ True,  True]])
    """
    ### BEGIN SOLUTION masks
    return np.tril(np.ones((T, T), dtype=bool))
    ### END SOLUTION


def padding_mask(lengths, T: int) -> np.ndarray:
    """The ``(B, 1, T)`` boolean mask of a padded batch: key ``j`` of sequence ``b`` is real iff
    ``j < lengths[b]``.

    The middle axis of size 1 lets it broadcast over the queries: against scores ``(B, T, T)``
    every query of sequence ``b`` sees the same keys.

    >>> padding_mask([2, 3], 3)
    array([[[ True,  True, False]],
    <BLANKLINE>
           [[ True,  True,  True]]])
    """
    ### BEGIN SOLUTION masks
    lengths = np.asarray(lengths.data if isinstance(lengths, Tensor) else lengths)
    return np.arange(T)[None, None, :] < lengths[:, None, None]
    ### END SOLUTION


@op("masked_fill", constants=("mask",))
def masked_fill(x, mask, value):
    """``value`` where ``mask`` is True, ``x`` elsewhere (PyTorch's ``Tensor.masked_fill``).

    Parameters
    ----------
    x : Tensor
    mask : boolean array or Tensor
        Broadcasts to ``x.shape`` (the output has ``x``'s shape and dtype; a mask that would
        make it bigger raises ``ValueError``). A constant of the op: ``node.args["mask"]``.
    value : float

    The gradient passes to ``x`` where the mask is False and is 0 where it was filled.

    >>> masked_fill(Tensor([1.0, 2.0, 3.0]), np.array([False, True, False]), -9.0).data
    array([ 1., -9.,  3.], dtype=float32)
    """
    ### BEGIN SOLUTION masks
    mask = _mask_array(mask)
    if np.broadcast_shapes(mask.shape, x.shape) != x.shape:
        raise ValueError(f"masked_fill: a mask of shape {mask.shape} does not broadcast to {x.shape}")
    return np.where(mask, np.asarray(value, dtype=x.dtype), x.data)
    ### END SOLUTION


@rule("masked_fill")
def masked_fill_backward(node, grad):
    """``grad`` where the mask is False, 0 where it is True (a 1-tuple)."""
    ### BEGIN SOLUTION masks
    return (np.where(_mask_array(node.args["mask"]), 0, grad).astype(grad.dtype, copy=False),)
    ### END SOLUTION


# ---------------------------------------------------------------------------------------------
# Step 2: scaled dot-product attention
# ---------------------------------------------------------------------------------------------


@composite("scaled_dot_product_attention")
def scaled_dot_product_attention(q, k, v, mask=None, return_weights=False):
    """``softmax(q kᵀ / √d, over keys) v``, with an optional boolean mask (True = may attend).

    Parameters
    ----------
    q : Tensor, shape ``(..., T_q, d)``
    k : Tensor, shape ``(..., T_k, d)``
    v : Tensor, shape ``(..., T_k, d_v)``
        The leading (batch, head) dimensions broadcast.
    mask : boolean array or Tensor, optional
        Broadcasts to the scores ``(..., T_q, T_k)``. Masked scores are replaced by
        :data:`MASKED_SCORE` before the softmax (:func:`masked_fill` with ``~mask``), so their
        weights come out exactly 0. A query row with no True at all gets weights 0 and output 0
        (multiply the weights by "this row has a True"; do it only when such a row exists).
    return_weights : bool
        Also return the attention weights.

    Returns
    -------
    Tensor ``(..., T_q, d_v)``, or ``(output, weights)`` with weights ``(..., T_q, T_k)``:
    each row of weights is non-negative and sums to 1 (or is all 0 when fully masked).
    Everything is built from differentiable Tensor ops.

    >>> q = Tensor(np.zeros((4, 2), dtype=np.float32))          # every score equal ...
    >>> v = Tensor(np.arange(8, dtype=np.float32).reshape(4, 2))
    >>> scaled_dot_product_attention(q, q, v).data[0]          # ... so the output is the mean value
    array([3., 4.], dtype=float32)
    """
    ### BEGIN SOLUTION sdpa
    scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.shape[-1]))
    if mask is not None:
        mask = _mask_array(mask)
        scores = masked_fill(scores, ~mask, MASKED_SCORE)
    weights = softmax(scores, axis=-1)
    if mask is not None:
        has_key = np.broadcast_to(mask, scores.shape).any(axis=-1, keepdims=True)
        if not has_key.all():
            weights = weights * has_key.astype(weights.dtype)
    out = weights @ v
    return (out, weights) if return_weights else out
    ### END SOLUTION


# ---------------------------------------------------------------------------------------------
# Step 3: multi-head attention
# ---------------------------------------------------------------------------------------------


class MultiHeadAttention(Module):
    """Self-attention with ``num_heads`` heads, each of size ``head_dim = embed_dim // num_heads``.

    Four ``Linear(embed_dim, embed_dim)`` layers, created in this order: ``q_proj``, ``k_proj``,
    ``v_proj`` and ``out_proj``. For an input ``x`` of shape ``(B, T, embed_dim)``:

    1. ``q, k, v = q_proj(x), k_proj(x), v_proj(x)``, each split into heads:
       ``(B, T, C) -> (B, num_heads, T, head_dim)`` (:meth:`split_heads`; head ``h`` takes the
       columns ``h*head_dim .. (h+1)*head_dim - 1``);
    2. :func:`scaled_dot_product_attention` on every head at once (batched matmuls, no loop);
    3. the heads joined back side by side, ``(B, T, C)`` (:meth:`merge_heads`), then ``out_proj``.

    ``forward(x, mask=None)``: ``mask`` is boolean, True = may attend, and broadcasts to
    ``(B, T, T)`` — e.g. ``causal_mask(T)`` ``(T, T)``, ``padding_mask(lengths, T)``
    ``(B, 1, T)``, or both combined with ``&``. A 3-D mask gets a head axis inserted
    (``(B, 1, T, T)``), so every head uses the same mask.

    Raises ``ValueError`` when ``embed_dim`` is not a multiple of ``num_heads``.

    >>> mha = MultiHeadAttention(8, num_heads=2)
    >>> mha(Tensor(np.zeros((3, 5, 8), dtype=np.float32)), mask=causal_mask(5)).shape
    (3, 5, 8)
    """

    def __init__(self, embed_dim: int, num_heads: int, bias: bool = True):
        super().__init__()
        if num_heads < 1 or embed_dim % num_heads:
            raise ValueError(f"embed_dim {embed_dim} must be a multiple of num_heads {num_heads}")
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.q_proj = Linear(embed_dim, embed_dim, bias=bias)
        self.k_proj = Linear(embed_dim, embed_dim, bias=bias)
        self.v_proj = Linear(embed_dim, embed_dim, bias=bias)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias)

    @composite("split_heads")  # scaffolding: a backend (kata 16) may run it as one op
    def split_heads(self, x: Tensor) -> Tensor:
        """``(B, T, embed_dim) -> (B, num_heads, T, head_dim)``: reshape, then swap axes 1 and 2."""
        ### BEGIN SOLUTION multihead
        B, T, _ = x.shape
        return x.reshape(B, T, self.num_heads, self.head_dim).transpose(1, 2)
        ### END SOLUTION

    @composite("merge_heads")  # scaffolding: a backend (kata 16) may run it as one op
    def merge_heads(self, x: Tensor) -> Tensor:
        """``(B, num_heads, T, head_dim) -> (B, T, embed_dim)``: the inverse of :meth:`split_heads`."""
        ### BEGIN SOLUTION multihead
        B, _, T, _ = x.shape
        return x.transpose(1, 2).reshape(B, T, self.embed_dim)
        ### END SOLUTION

    def forward(self, x: Tensor, mask=None) -> Tensor:
        ### BEGIN SOLUTION multihead
        q = self.split_heads(self.q_proj(x))
        k = self.split_heads(self.k_proj(x))
        v = self.split_heads(self.v_proj(x))
        if mask is not None:
            mask = _mask_array(mask)
            if mask.ndim == 3:
                mask = mask[:, None]
        out = scaled_dot_product_attention(q, k, v, mask)
        return self.out_proj(self.merge_heads(out))
        ### END SOLUTION

    def extra_repr(self):
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
