"""Kata 11 — Embeddings: from token ids to vectors, and telling the model where each token is.

A tokenizer (kata 10) gives integers; a network needs vectors. An *embedding* is a learnable
table with one row per id: looking ids up is a gather, ``weight[ids]``, and its gradient is the
opposite, a *scatter-add* — each row receives the sum of the gradients of every position that
used it (an id used three times gets three contributions; a row nobody used gets exactly zero).

Attention (kata 12) treats its input as a *set*: shuffle the tokens and every output is
shuffled the same way. Word order must therefore be added to the vectors themselves:

* :class:`PositionalEmbedding` — a second learned table, indexed by position (GPT-2);
* :func:`sinusoidal_encoding` — fixed sines and cosines of many wavelengths ("Attention Is All
  You Need", 2017), nothing to learn and defined for any position.

Example
-------
>>> rng.manual_seed(0)
>>> emb = Embedding(10, 4)
>>> emb(Tensor([[1, 2, 1]])).shape
(1, 3, 4)
>>> sinusoidal_encoding(2, 4).data[0]
array([0., 1., 0., 1.], dtype=float32)
"""

from __future__ import annotations

import numpy as np

from tinytorch import rng
from tinytorch.autograd import rule
from tinytorch.layers import Module, Parameter
from tinytorch.tensor import Tensor, op

__all__ = ["embedding", "Embedding", "PositionalEmbedding", "sinusoidal_encoding", "SinusoidalEncoding"]


# ---------------------------------------------------------------------------------------------
# Step 1: the embedding op and its layer
# ---------------------------------------------------------------------------------------------


def _ids_array(ids) -> np.ndarray:
    """Scaffolding: token ids (a Tensor, array, list or int) as an integer NumPy array."""
    array = np.asarray(ids.data if isinstance(ids, Tensor) else ids)
    if array.dtype.kind not in "iu":
        raise TypeError(f"embedding: ids must be integers, got dtype {array.dtype}")
    return array


@op("embedding", constants=("ids",))
def embedding(weight, ids):
    """Look up rows of ``weight``: ``out[..., :] = weight[ids[...], :]``.

    Parameters
    ----------
    weight : Tensor
        Shape ``(num_embeddings, embedding_dim)``: one row per id.
    ids : Tensor, array or list of ints
        Any shape ``S``; every id must be in ``[0, num_embeddings)``. The ids are a constant of
        the op (``node.args["ids"]``), not an input: they have no gradient.

    Returns
    -------
    Tensor
        Shape ``S + (embedding_dim,)``, the dtype of ``weight``.

    Raises
    ------
    IndexError
        An id is negative or ``>= num_embeddings``; the message names the id and the table size
        (NumPy would silently read ``weight[-1]`` for ``-1``).

    >>> w = Tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])
    >>> embedding(w, [[2, 0, 2]]).data
    array([[[2., 2.],
            [0., 0.],
            [2., 2.]]], dtype=float32)
    """
    raise NotImplementedError("not implemented yet: embedding (kata 11, step 1: embedding)")


@rule("embedding")
def embedding_backward(node, grad):
    """Scatter-add ``grad`` (shape ``ids.shape + (dim,)``) into a zero table shaped like ``weight``.

    Row ``r`` receives the sum of ``grad[p]`` over every position ``p`` with ``ids[p] == r``;
    rows that no id picked stay exactly 0. ``np.add.at`` adds at repeated indices (plain
    ``out[ids] += grad`` would keep only one of them). Return a 1-tuple: the gradient of
    ``weight``.
    """
    raise NotImplementedError("not implemented yet: embedding_backward (kata 11, step 1: embedding)")


class Embedding(Module):
    """A learnable lookup table: ``Embedding(num_embeddings, embedding_dim)(ids)``.

    Attributes
    ----------
    weight : Parameter, shape ``(num_embeddings, embedding_dim)``, float32
        Drawn from the standard normal distribution N(0, 1) (PyTorch's default) with
        ``tinytorch.rng.generator()``, so ``rng.manual_seed`` repeats it.

    Shapes: ids ``(B, T)`` → ``(B, T, embedding_dim)``; any shape ``S`` → ``S + (dim,)``.

    >>> Embedding(100, 8)(Tensor([3, 1, 4])).shape
    (3, 8)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int):
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        raise NotImplementedError("not implemented yet: Embedding.__init__ (kata 11, step 1: embedding)")

    def forward(self, ids) -> Tensor:
        raise NotImplementedError("not implemented yet: Embedding.forward (kata 11, step 1: embedding)")

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}"


# ---------------------------------------------------------------------------------------------
# Step 2: learned positions
# ---------------------------------------------------------------------------------------------


class PositionalEmbedding(Module):
    """A learned vector per position ``0 .. max_len - 1`` (GPT-2's ``wpe``).

    ``forward(T)`` returns the vectors of positions ``0 .. T-1``, shape ``(T, dim)``, still
    connected to ``weight`` (so the rows ``>= T`` get a zero gradient). Add it to token
    embeddings ``(B, T, dim)`` and broadcasting does the rest.

    Attributes
    ----------
    weight : Parameter, shape ``(max_len, dim)``, float32, drawn from N(0, 1) with
        ``tinytorch.rng.generator()``.

    Raises
    ------
    ValueError
        ``T > max_len`` (the model has no vector for those positions) or ``T < 0``.

    >>> PositionalEmbedding(16, 8)(5).shape
    (5, 8)
    """

    def __init__(self, max_len: int, dim: int):
        super().__init__()
        self.max_len, self.dim = max_len, dim
        raise NotImplementedError("not implemented yet: PositionalEmbedding.__init__ (kata 11, step 2: positional)")

    def forward(self, T: int) -> Tensor:
        raise NotImplementedError("not implemented yet: PositionalEmbedding.forward (kata 11, step 2: positional)")

    def extra_repr(self):
        return f"max_len={self.max_len}, dim={self.dim}"


# ---------------------------------------------------------------------------------------------
# Step 3: sinusoidal positions
# ---------------------------------------------------------------------------------------------


def sinusoidal_encoding(max_len: int, dim: int, base: float = 10000.0) -> Tensor:
    """The fixed positional encodings of "Attention Is All You Need" (2017).

    For position ``p`` and ``i = 0 .. dim/2 - 1``::

        PE[p, 2i]     = sin(p / base^(2i / dim))
        PE[p, 2i + 1] = cos(p / base^(2i / dim))

    Each pair of columns is a clock at its own speed: column pair 0 turns once every 2π
    positions, the last one ``base`` times slower. ``PE[p] · PE[p + k]`` depends only on ``k``.

    Parameters
    ----------
    max_len : int
        Number of positions (rows).
    dim : int
        Width, must be even (else ``ValueError``).

    Returns
    -------
    Tensor
        Shape ``(max_len, dim)``, float32, not requiring grad (nothing to learn).

    >>> sinusoidal_encoding(2, 4).data.round(4)
    array([[0.    , 1.    , 0.    , 1.    ],
           [0.8415, 0.5403, 0.01  , 1.    ]], dtype=float32)
    """
    raise NotImplementedError("not implemented yet: sinusoidal_encoding (kata 11, step 3: sinusoidal)")


class SinusoidalEncoding(Module):
    """:func:`sinusoidal_encoding` as a layer with no parameters: ``forward(T)`` → ``(T, dim)``.

    The table for ``max_len`` positions is computed once, in ``__init__`` (scaffolding);
    ``T > max_len`` raises ``ValueError`` like :class:`PositionalEmbedding`.
    """

    def __init__(self, max_len: int, dim: int):
        super().__init__()
        self.max_len, self.dim = max_len, dim
        self.table = sinusoidal_encoding(max_len, dim)  # a plain Tensor: not a parameter

    def forward(self, T: int) -> Tensor:
        if not 0 <= T <= self.max_len:
            raise ValueError(f"SinusoidalEncoding: {T} positions asked for, but it has only {self.max_len}")
        return self.table[:T]
