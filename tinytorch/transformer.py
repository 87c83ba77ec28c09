"""Kata 13 — Transformers: stack attention and MLPs into a GPT that writes text.

Katas 10–12 gave tokens, embeddings and attention. A GPT is those pieces in a loop:

    ids (B, T) ─► token embedding + position embedding ─► N × TransformerBlock ─► LayerNorm ─► Linear ─► logits (B, T, vocab)

    TransformerBlock (pre-norm, as in GPT-2):
        x = x + attention(layer_norm_1(x), causal mask)     "communicate": tokens read earlier tokens
        x = x + mlp(layer_norm_2(x))                         "compute": each token on its own

* :class:`LayerNorm` keeps every token's vector at mean 0 and variance 1 (then a learned
  scale and shift), so deep stacks train;
* :class:`MLP` — ``Linear(d, 4d)``, GELU, ``Linear(4d, d)``;
* the residual connections (``x + ...``) give gradients a straight road to the embeddings;
* :meth:`GPT.generate` — predict the next token, append it, repeat.

Causality: thanks to the causal mask, the logits at position ``t`` depend only on tokens
``0 .. t``; that is what lets a GPT train on every position of a sequence at once.

Example
-------
>>> rng.manual_seed(0)
>>> model = GPT(vocab_size=10, block_size=8, n_layer=2, n_head=2, n_embd=16)
>>> model(Tensor([[1, 2, 3]])).shape
(1, 3, 10)
>>> model.generate([[1, 2, 3]], max_new_tokens=4, greedy=True).shape
(1, 7)
"""

from __future__ import annotations

import numpy as np

from tinytorch import rng
from tinytorch.activations import gelu
from tinytorch.attention import MultiHeadAttention, causal_mask
from tinytorch.autograd import no_grad
from tinytorch.embeddings import Embedding, PositionalEmbedding
from tinytorch.layers import Dropout, Linear, Module, ModuleList, Parameter
from tinytorch.losses import cross_entropy
from tinytorch.tensor import Tensor, composite

__all__ = ["layer_norm", "LayerNorm", "MLP", "TransformerBlock", "GPT", "sample_next"]


# ---------------------------------------------------------------------------------------------
# Step 1: layer normalisation
# ---------------------------------------------------------------------------------------------


@composite("layer_norm")
def layer_norm(x: Tensor, weight: Tensor, bias: Tensor, eps: float = 1e-5) -> Tensor:
    """Normalise each vector along the last axis, then scale and shift.

    With ``μ`` and ``σ²`` the mean and the (biased, divide-by-n) variance over the last axis::

        layer_norm(x) = (x - μ) / √(σ² + eps) · weight + bias

    Parameters
    ----------
    x : Tensor, shape ``(..., D)``
    weight, bias : Tensor, shape ``(D,)``
    eps : float
        Keeps the division finite when a row is constant.

    Build it from differentiable Tensor ops (``mean``, ``-``, ``*``, ``**``) and autograd
    differentiates it for you. Adding a constant to a row changes nothing.

    >>> x = Tensor([[1.0, 2.0, 3.0]])
    >>> layer_norm(x, Tensor([1.0, 1.0, 1.0]), Tensor([0.0, 0.0, 0.0])).data.round(4)
    array([[-1.2247,  0.    ,  1.2247]], dtype=float32)
    """
    raise NotImplementedError("not implemented yet: layer_norm (kata 13, step 1: layernorm)")


class LayerNorm(Module):
    """:func:`layer_norm` with learned ``weight`` (ones) and ``bias`` (zeros), float32, shape ``(dim,)``.

    >>> LayerNorm(4)(Tensor(np.arange(8, dtype=np.float32).reshape(2, 4))).data.mean(axis=-1)
    array([0., 0.], dtype=float32)
    """

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.dim, self.eps = dim, eps
        raise NotImplementedError("not implemented yet: LayerNorm.__init__ (kata 13, step 1: layernorm)")

    def forward(self, x: Tensor) -> Tensor:
        raise NotImplementedError("not implemented yet: LayerNorm.forward (kata 13, step 1: layernorm)")

    def extra_repr(self):
        return f"{self.dim}, eps={self.eps}"


# ---------------------------------------------------------------------------------------------
# Step 2: the MLP
# ---------------------------------------------------------------------------------------------


class MLP(Module):
    """The feed-forward half of a block: ``dropout(proj(gelu(fc(x))))``.

    ``fc = Linear(dim, hidden)`` then ``proj = Linear(hidden, dim)`` (created in that order),
    ``hidden = 4 * dim`` by default, GELU in between, and ``Dropout(dropout)`` at the end.
    Works on any leading shape: ``(..., dim) -> (..., dim)``, each vector on its own.

    >>> MLP(8)(Tensor(np.zeros((2, 3, 8), dtype=np.float32))).shape
    (2, 3, 8)
    """

    def __init__(self, dim: int, hidden: int | None = None, dropout: float = 0.0):
        super().__init__()
        raise NotImplementedError("not implemented yet: MLP.__init__ (kata 13, step 2: mlp)")

    def forward(self, x: Tensor) -> Tensor:
        raise NotImplementedError("not implemented yet: MLP.forward (kata 13, step 2: mlp)")


# ---------------------------------------------------------------------------------------------
# Step 3: the pre-norm transformer block
# ---------------------------------------------------------------------------------------------


class TransformerBlock(Module):
    """One GPT-2 block: normalise *before* each sub-layer, add its result to the residual stream.

    ::

        x = x + dropout(attn(ln1(x), mask))
        x = x + mlp(ln2(x))

    Sub-modules, created in this order: ``ln1 = LayerNorm(dim)``,
    ``attn = MultiHeadAttention(dim, n_head)``, ``ln2 = LayerNorm(dim)``,
    ``mlp = MLP(dim, dropout=dropout)``, ``drop = Dropout(dropout)``.

    ``forward(x, mask=None)``: ``x`` is ``(B, T, dim)``; ``mask`` is passed to the attention
    (boolean, True = may attend; the GPT passes ``causal_mask(T)``).
    """

    def __init__(self, dim: int, n_head: int, dropout: float = 0.0):
        super().__init__()
        raise NotImplementedError("not implemented yet: TransformerBlock.__init__ (kata 13, step 3: block)")

    def forward(self, x: Tensor, mask=None) -> Tensor:
        raise NotImplementedError("not implemented yet: TransformerBlock.forward (kata 13, step 3: block)")


# ---------------------------------------------------------------------------------------------
# Step 4: the GPT
# ---------------------------------------------------------------------------------------------


class GPT(Module):
    """A decoder-only transformer language model (GPT-2's architecture, in miniature).

    Parameters
    ----------
    vocab_size : int
        Number of token ids.
    block_size : int
        The longest context the model reads (number of learned positions).
    n_layer, n_head, n_embd : int
        Blocks, heads per block, width of the residual stream (a multiple of ``n_head``).
    dropout : float
        Dropout after the embeddings, after each attention and inside each MLP (training only).

    Sub-modules, created in this order: ``tok_emb = Embedding(vocab_size, n_embd)``,
    ``pos_emb = PositionalEmbedding(block_size, n_embd)``, ``drop = Dropout(dropout)``,
    ``blocks`` (a :class:`~tinytorch.layers.ModuleList` of ``n_layer`` :class:`TransformerBlock`:
    a plain list would hide their parameters, in PyTorch silently), ``ln_f = LayerNorm(n_embd)``,
    ``head = Linear(n_embd, vocab_size, bias=False)``. Parameters are named as PyTorch names
    them: ``"blocks.0.attn.q_proj.weight"``.

    ``forward(idx, targets=None)``: ``idx`` holds integer ids ``(B, T)`` with
    ``T <= block_size`` (else ``ValueError``). Returns the logits ``(B, T, vocab_size)``; with
    ``targets`` (ids ``(B, T)``: the next token at every position) returns
    ``(logits, loss)``, the mean cross-entropy over all ``B * T`` positions.

    >>> rng.manual_seed(0)
    >>> model = GPT(vocab_size=5, block_size=4, n_layer=1, n_head=1, n_embd=8)
    >>> logits, loss = model(Tensor([[0, 1, 2]]), targets=Tensor([[1, 2, 3]]))
    >>> logits.shape, loss.shape
    ((1, 3, 5), ())
    """

    def __init__(self, vocab_size: int, block_size: int, n_layer: int, n_head: int, n_embd: int,
                 dropout: float = 0.0):
        super().__init__()
        self.vocab_size, self.block_size = vocab_size, block_size
        self.n_layer, self.n_head, self.n_embd = n_layer, n_head, n_embd
        raise NotImplementedError("not implemented yet: GPT.__init__ (kata 13, step 4: gpt)")

    def forward(self, idx, targets=None):
        raise NotImplementedError("not implemented yet: GPT.forward (kata 13, step 4: gpt)")

    def generate(self, idx, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
                 greedy: bool = False, seed: int | None = None) -> Tensor:
        """Continue each sequence of ``idx`` by ``max_new_tokens`` tokens, one at a time.

        Each step feeds the last ``block_size`` tokens (at most) to the model in eval mode under
        ``no_grad``, takes the logits of the **last** position and picks the next token with
        :func:`sample_next`, then appends it. The model's training mode is restored afterwards.

        Parameters
        ----------
        idx : Tensor, array or list of ints, shape ``(B, T)``
            The prompts (at least one token each).
        temperature, top_k, greedy :
            See :func:`sample_next`.
        seed : int, optional
            Sampling draws from ``np.random.default_rng(seed)``; without a seed, from
            ``tinytorch.rng.generator()``. The same seed gives the same tokens.

        Returns
        -------
        Tensor of int64, shape ``(B, T + max_new_tokens)``: the prompts followed by the new tokens.
        """
        raise NotImplementedError("not implemented yet: GPT.generate (kata 13, step 5: generate)")


# ---------------------------------------------------------------------------------------------
# Step 5: choosing the next token
# ---------------------------------------------------------------------------------------------


def sample_next(logits, temperature: float = 1.0, top_k: int | None = None, greedy: bool = False,
                generator: np.random.Generator | None = None) -> np.ndarray:
    """Pick one next token per row of ``logits`` ``(B, V)``; returns int64 ids ``(B,)``.

    * ``greedy=True``: the arg-max of each row (the first one on ties); nothing random.
    * otherwise sample from ``softmax(logits / temperature)``: a temperature below 1 sharpens
      the distribution (towards greedy), above 1 flattens it. ``temperature <= 0`` raises
      ``ValueError``.
    * ``top_k``: before the softmax, keep only the logits ``>=`` the k-th largest of the row
      (ties with it are kept too) by setting the others to ``-inf``: tokens outside the top k
      can never be drawn. ``top_k=1`` is greedy.

    Draw with ``generator`` (default: ``tinytorch.rng.generator()``): one uniform number per
    row, mapped through the cumulative probabilities (inverse CDF).

    >>> sample_next(np.array([[0.0, 5.0, 1.0]]), greedy=True)
    array([1])
    """
    raise NotImplementedError("not implemented yet: sample_next (kata 13, step 5: generate)")
