"""Step 1: embedding — gather forward, scatter-add backward (repeated ids add up, unused rows stay 0), clear errors."""

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dojo.testing import assert_close, gradcheck, raises
from tinytorch import rng
from tinytorch.embeddings import Embedding, embedding
from tinytorch.layers import Parameter
from tinytorch.tensor import Tensor


def table(n=6, d=3, dtype=np.float32):
    return np.random.default_rng(0).normal(size=(n, d)).astype(dtype)


@given(ids=hnp.arrays(np.int64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), elements=st.integers(0, 5)))
@example(ids=np.array([5, 0, 5]))  # the first and last rows, a repeat
@example(ids=np.array([[1, 2, 3], [3, 2, 1]]))  # (B, T), as a language model uses it
@example(ids=np.zeros((2, 1, 2), dtype=np.int64))  # 3-d, all the same id
def test_forward_gathers_rows(ids):
    """embedding(weight, ids) has shape ids.shape + (dim,) and row [...] equals weight[ids[...]].

    Hint: the forward of embedding in tinytorch/embeddings.py is one fancy-indexing expression,
    weight.data[ids], which works for ids of any shape; do not flatten ids or assume they are (B, T), and keep
    the weight's dtype.
    """
    w = table()
    out = embedding(Tensor(w), Tensor(ids))
    assert_close(out, w[ids], rtol=0, atol=0, dtype=np.float32, what="embedding(weight, ids)")


def test_forward_accepts_lists_and_arrays():
    """ids may be a Tensor, a NumPy array or a (nested) list of ints.

    Hint: do not assume ids has a .data attribute: call the _ids_array(ids) helper in tinytorch/embeddings.py
    (it accepts a Tensor, an array or a nested list) and index weight.data with the array it returns.
    """
    w = table()
    for ids in ([[2, 0, 2]], np.array([[2, 0, 2]])):
        assert_close(embedding(Tensor(w), ids), w[[[2, 0, 2]]], rtol=0, atol=0, what=f"embedding(weight, {type(ids).__name__})")


def test_repeated_ids_accumulate_gradients():
    """An id used at several positions receives the sum of their gradients.

    Hint: in embedding_backward, out[ids] += grad keeps only one of the repeated ids (fancy assignment is
    buffered); np.add.at(out, ids.reshape(-1), grad.reshape(-1, dim)) adds every use into its row.
    """
    w = Tensor(table(), requires_grad=True)
    upstream = np.random.default_rng(1).normal(size=(1, 4, 3)).astype(np.float32)
    embedding(w, Tensor([[1, 4, 1, 1]])).backward(upstream)
    assert_close(w.grad[1], upstream[0, 0] + upstream[0, 2] + upstream[0, 3], what="gradient of row 1 (used 3 times)")
    assert_close(w.grad[4], upstream[0, 1], what="gradient of row 4 (used once)")


def test_unused_rows_get_exactly_zero_gradient():
    """Rows that no id picked get a gradient of exactly 0 (and the gradient has weight's shape and dtype).

    Hint: start embedding_backward from out = np.zeros_like(weight.data), which has the weight's (n, dim)
    shape and dtype, add only into the rows an id picked, and return (out,).
    """
    w = Tensor(table(), requires_grad=True)
    embedding(w, Tensor([[1, 4], [4, 1]])).backward(np.ones((2, 2, 3), dtype=np.float32))
    assert w.grad.shape == (6, 3) and w.grad.dtype == np.float32
    assert np.all(w.grad[[0, 2, 3, 5]] == 0), f"unused rows have gradient {w.grad[[0, 2, 3, 5]]}"
    assert_close(w.grad[[1, 4]], np.full((2, 3), 2.0), what="rows 1 and 4 (each used twice)")


def test_gradcheck_with_repeated_ids():
    """Autograd's gradient of the weight equals central differences (float64, repeated ids).

    Hint: gradcheck uses a 2-d batch of ids with repeats: flatten ids and grad together (ids.reshape(-1),
    grad.reshape(-1, dim)) and accumulate with np.add.at; the ids come from node.args['ids'], not node.inputs.
    """
    ids = np.array([[0, 2, 2], [3, 0, 2]])
    gradcheck(lambda w: embedding(w, ids), [table(4, 3, np.float64)])


@pytest.mark.parametrize("bad", [6, 100, -1])
def test_out_of_range_ids_raise(bad):
    """An id outside [0, num_embeddings) — including -1, which NumPy would silently read as the
    last row — raises an IndexError naming the id and the table size.

    Hint: check ids.min() < 0 or ids.max() >= n before indexing and raise an IndexError whose message contains
    the bad id; -1 is the case NumPy lets through silently (it reads the last row).
    """
    with raises(IndexError, match=str(bad)):
        embedding(Tensor(table()), Tensor([0, bad, 1]))


def test_float_ids_raise():
    """Ids must be integers: float ids raise a TypeError.

    Hint: reject non-integer ids (dtype.kind not in 'iu') with a TypeError before indexing: the _ids_array
    helper in tinytorch/embeddings.py does exactly that, so make sure the forward goes through it.
    """
    with raises(TypeError):
        embedding(Tensor(table()), np.array([0.0, 1.0]))


def test_ids_are_not_a_graph_input():
    """The ids are a constant of the op: only the weight is an input of the node.

    Hint: keep the @op('embedding', constants=('ids',)) decorator and return a NumPy array (weight.data[ids])
    from its body; building the result with Tensor operations such as weight[ids] records another op with
    other inputs.
    """
    w = Tensor(table(), requires_grad=True)
    out = embedding(w, Tensor([1, 2]))
    assert out.node is not None and out.node.op == "embedding", "the result should be recorded as an 'embedding' op"
    assert len(out.node.inputs) == 1 and out.node.inputs[0] is w


def test_embedding_layer_has_a_normal_weight():
    """Embedding(n, d).weight is a float32 Parameter (n, d) drawn from N(0, 1) via tinytorch.rng.

    Hint: in Embedding.__init__ draw rng.generator().standard_normal((num_embeddings, embedding_dim)), cast it
    to float32 and assign Parameter(...) to self.weight; a uniform or scaled init (like Linear's) fails the
    std check.
    """
    rng.manual_seed(0)
    emb = Embedding(200, 50)
    w = emb.weight
    assert isinstance(w, Parameter) and w.shape == (200, 50) and w.dtype == np.float32
    assert [name for name, _ in emb.named_parameters()] == ["weight"]
    assert abs(float(w.data.mean())) < 0.02, f"mean {w.data.mean():.4f}, expected about 0"
    assert abs(float(w.data.std()) - 1.0) < 0.02, f"std {w.data.std():.4f}, expected about 1"


def test_embedding_layer_is_seeded():
    """rng.manual_seed(s) repeats the weight; another seed changes it.

    Hint: draw the weight from tinytorch.rng.generator(), which rng.manual_seed reseeds; np.random or a fresh
    np.random.default_rng() ignores the seed.
    """
    rng.manual_seed(3)
    a = Embedding(10, 4).weight.data.copy()
    rng.manual_seed(3)
    b = Embedding(10, 4).weight.data
    rng.manual_seed(4)
    c = Embedding(10, 4).weight.data
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_embedding_layer_forward_and_backward():
    """Embedding(10, 4)(ids (2, 3)) is weight[ids] with shape (2, 3, 4), connected to the weight.

    Hint: Embedding.forward should return embedding(self.weight, ids) so the output stays connected to the
    Parameter; indexing self.weight.data directly detaches it and weight.grad stays empty.
    """
    rng.manual_seed(5)
    emb = Embedding(10, 4)
    ids = np.array([[1, 2, 1], [9, 0, 0]])
    out = emb(Tensor(ids))
    assert_close(out, emb.weight.data[ids], rtol=0, atol=0, what="Embedding(10, 4)(ids)")
    out.sum().backward()
    counts = np.bincount(ids.ravel(), minlength=10).astype(np.float32)
    assert_close(emb.weight.grad, np.repeat(counts[:, None], 4, axis=1), what="gradient of sum() (how often each id was used)")
