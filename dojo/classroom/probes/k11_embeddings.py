"""Probes for kata 11 (Embeddings): the lookup and its scatter-add gradient, learned positions and
the sinusoidal encoding. Tables are set from the seed (never the student's random init)."""

import numpy as np

from dojo.classroom.probes import probe


@probe("embedding")
def embedding_lookup_and_grad(rng):
    from tinytorch.embeddings import Embedding, embedding
    from tinytorch.tensor import Tensor

    layer = Embedding(7, 3)
    layer.weight.data[...] = rng.normal(size=(7, 3))
    ids = rng.integers(0, 7, size=(2, 5))
    ids[0, :2] = ids[1, 0]  # a repeated id: its gradients add up
    out = layer(Tensor(ids))
    out.backward(rng.normal(size=out.shape))
    table = Tensor(rng.normal(size=(4, 2)))
    return {"out": out, "grad": layer.weight.grad, "functional": embedding(table, [3, 0, 3]), "shape": list(layer.weight.shape)}


@probe("embedding")
def embedding_rejects_out_of_range_ids(rng):
    from tinytorch.embeddings import embedding
    from tinytorch.tensor import Tensor

    return embedding(Tensor(np.zeros((4, 2))), np.array([0, -int(rng.integers(1, 4))]))


@probe("positional")
def learned_positions(rng):
    from tinytorch.embeddings import PositionalEmbedding

    layer = PositionalEmbedding(8, 4)
    layer.weight.data[...] = rng.normal(size=(8, 4))
    out = layer(5)
    out.backward(rng.normal(size=out.shape))
    return {"out": out, "grad": layer.weight.grad}


@probe("positional")
def learned_positions_refuse_too_many(rng):
    from tinytorch.embeddings import PositionalEmbedding

    return PositionalEmbedding(4, 2)(4 + int(rng.integers(1, 5)))


@probe("sinusoidal")
def sinusoidal(rng):
    from tinytorch.embeddings import SinusoidalEncoding, sinusoidal_encoding

    n, dim = int(rng.integers(5, 20)), 2 * int(rng.integers(2, 6))
    table = sinusoidal_encoding(n, dim)
    return {"table": table, "dtype": str(table.dtype), "layer": SinusoidalEncoding(n, dim)(3), "base": sinusoidal_encoding(4, 4, base=100.0)}


@probe("sinusoidal")
def sinusoidal_needs_even_dim(rng):
    from tinytorch.embeddings import sinusoidal_encoding

    return sinusoidal_encoding(4, 2 * int(rng.integers(1, 5)) + 1)
