"""Step 2: positional — PositionalEmbedding: a learned vector per position 0 .. T-1."""

import numpy as np

from dojo.testing import assert_close, raises
from tinytorch import rng
from tinytorch.embeddings import Embedding, PositionalEmbedding
from tinytorch.layers import Parameter
from tinytorch.tensor import Tensor


def test_forward_is_the_first_T_rows():
    """PositionalEmbedding(16, 8)(5) is weight[:5], shape (5, 8).

    Hint: PositionalEmbedding.forward(T) is the embedding op applied to the positions np.arange(T): weight
    rows 0 .. T-1 in order, shape (T, dim); T is an int, not a tensor of ids.
    """
    rng.manual_seed(0)
    pos = PositionalEmbedding(16, 8)
    assert_close(pos(5), pos.weight.data[:5], rtol=0, atol=0, what="PositionalEmbedding(16, 8)(5)")


def test_weight_is_a_normal_parameter():
    """weight is a float32 Parameter (max_len, dim) from N(0, 1), repeatable with rng.manual_seed.

    Hint: draw the (max_len, dim) table in PositionalEmbedding.__init__ exactly like Embedding's:
    rng.generator().standard_normal(...), .astype(np.float32), wrapped in Parameter as self.weight.
    """
    rng.manual_seed(1)
    pos = PositionalEmbedding(300, 40)
    w = pos.weight
    assert isinstance(w, Parameter) and w.shape == (300, 40) and w.dtype == np.float32
    assert abs(float(w.data.mean())) < 0.03 and abs(float(w.data.std()) - 1.0) < 0.03, "expected N(0, 1) values"
    rng.manual_seed(1)
    assert np.array_equal(PositionalEmbedding(300, 40).weight.data, w.data), "not repeatable with manual_seed"


def test_only_the_used_positions_get_gradients():
    """With T = 3 of 6 positions, rows 0..2 receive the upstream gradient and rows 3..5 exactly 0.

    Hint: return embedding(self.weight, np.arange(T)), which stays in the graph; a slice of self.weight.data
    is detached, and the op's scatter-add is what leaves rows >= T at exactly 0.
    """
    rng.manual_seed(2)
    pos = PositionalEmbedding(6, 4)
    upstream = np.random.default_rng(2).normal(size=(3, 4)).astype(np.float32)
    pos(3).backward(upstream)
    assert_close(pos.weight.grad[:3], upstream, what="gradient of the used positions")
    assert np.all(pos.weight.grad[3:] == 0), "positions that were not used must get exactly 0"


def test_adds_to_token_embeddings_by_broadcasting():
    """tokens (B, T, d) + positions (T, d): each position's vector is summed over the batch in the backward.

    Hint: forward must return shape (T, dim), not (1, T, dim) or (B, T, dim), connected to self.weight; the
    add broadcasts it over the batch and its backward sums the batch's contributions per position.
    """
    rng.manual_seed(3)
    tok, pos = Embedding(10, 4), PositionalEmbedding(8, 4)
    ids = np.array([[1, 2, 3], [4, 5, 6]])
    x = tok(Tensor(ids)) + pos(3)
    assert_close(x, tok.weight.data[ids] + pos.weight.data[:3], what="token + position embeddings")
    x.sum().backward()
    assert_close(pos.weight.grad[:3], np.full((3, 4), 2.0), what="position gradient (batch of 2)")


def test_too_many_positions_raise():
    """Asking for more positions than max_len raises a ValueError (there is no vector for them).

    Hint: check T against self.max_len at the top of forward and raise ValueError when T > max_len; slicing
    weight[:T] would silently return fewer rows instead.
    """
    pos = PositionalEmbedding(4, 2)
    with raises(ValueError):
        pos(5)


def test_all_positions_and_none():
    """T = max_len gives the whole table; T = 0 gives an empty (0, dim) tensor.

    Hint: the bounds are inclusive: T == max_len is allowed (use <=, not <) and T == 0 gives np.arange(0), an
    empty (0, dim) result; only T outside 0 <= T <= max_len is an error.
    """
    rng.manual_seed(4)
    pos = PositionalEmbedding(4, 2)
    assert_close(pos(4), pos.weight.data, rtol=0, atol=0, what="all positions")
    assert pos(0).shape == (0, 2)
