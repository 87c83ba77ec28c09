"""Step 1: params — every weight counted once, every buffer's bytes counted once."""

import numpy as np

from tinytorch import rng
from tinytorch.layers import Linear, Module, Parameter, Sequential
from tinytorch.profiling import buffer_of, count_parameters, distinct_nbytes, parameter_bytes
from tinytorch.tensor import Tensor
from tinytorch.transformer import GPT

V, BLOCK, L, C = 11, 8, 2, 16


def gpt(seed=0):
    rng.manual_seed(seed)
    return GPT(vocab_size=V, block_size=BLOCK, n_layer=L, n_head=2, n_embd=C)


def untied_count():
    return V * C + BLOCK * C + L * (12 * C * C + 13 * C) + 2 * C + C * V


def test_buffer_of_follows_views_to_the_owner():
    """A view (transpose, reshape, slice, and views of views) leads back to the array that owns the memory.

    Hint: buffer_of in tinytorch/profiling.py must loop, not look one level up: a view of a view has a view as
    its .base, so follow array.base while it is an np.ndarray; an array whose base is None owns its memory.
    """
    a = np.zeros((4, 6), dtype=np.float32)
    for view in (a, a.T, a.reshape(-1), a[1:, ::2], a[1:, ::2].T, a.reshape(2, 12)[:, 3:]):
        assert buffer_of(view) is a, f"buffer_of a view {view.shape} did not return the owner"
    copy = a.T.copy()
    assert buffer_of(copy) is copy, "a copy owns its own memory"


def test_distinct_nbytes_counts_views_once():
    """Views and aliases of one buffer add nothing; separate buffers (a copy too) add their nbytes.

    Hint: map every array to its owner with buffer_of, keep the owners in a dict keyed by id(owner), and sum
    owner.nbytes once each; summing a.nbytes of the views, or deduplicating by id(a), counts views again.
    """
    a = np.zeros((10, 100), dtype=np.float32)  # 4000 bytes
    b = np.zeros(7, dtype=np.float64)  # 56 bytes
    assert distinct_nbytes([a, a.T, a.reshape(-1), a[::2], a, b, b[1:]]) == 4056
    assert distinct_nbytes([a, a.copy()]) == 8000
    assert distinct_nbytes([]) == 0


def test_distinct_nbytes_accepts_tensors():
    """A Tensor counts as its .data array, so a Tensor and a view of its data count once.

    Hint: a Tensor in the list stands for its .data array: unwrap it (array.data if isinstance(array, Tensor))
    before buffer_of, so the Tensor and the views of its data share one owner.
    """
    t = Tensor(np.ones((3, 5), dtype=np.float32))
    assert distinct_nbytes([t, t.data.T, t.data[0]]) == 60


def test_count_parameters_of_linear_layers():
    """Linear(in, out) holds in·out + out numbers; without bias in·out.

    Hint: count_parameters sums the SIZE (number of elements) of each distinct parameter buffer over
    model.parameters(), not nbytes and not the number of Parameters; a Linear without bias has no bias to
    count.
    """
    rng.manual_seed(0)
    assert count_parameters(Sequential(Linear(4, 8), Linear(8, 2))) == 4 * 8 + 8 + 8 * 2 + 2
    assert count_parameters(Linear(3, 5, bias=False)) == 15


def test_gpt_parameter_count():
    """A GPT's count is GPT-2's layout: V·C + block·C + n_layer·(12·C² + 13·C) + 2·C + C·V.

    Hint: go over every model.parameters() (weights, biases, both embeddings, every LayerNorm) and add
    owner.size for each distinct buffer; a missing term in the GPT count usually means a parameter kind was
    skipped.
    """
    assert count_parameters(gpt()) == untied_count()


def test_a_shared_module_counts_once():
    """The same Linear used twice in a Sequential holds its weights once.

    Hint: the same Linear twice yields its Parameters twice if model.parameters() does not deduplicate; key
    the buffers by id(buffer_of(p.data)) so a repeated weight is counted once.
    """
    rng.manual_seed(0)
    layer = Linear(4, 4)
    assert count_parameters(Sequential(layer, layer)) == 20


def test_tied_head_counts_once():
    """Tying the output head to the token embedding (same Parameter) removes V·C parameters.

    Hint: with head.weight = tok_emb.weight the same Parameter appears twice: counting distinct buffers (keyed
    by id(buffer_of(p.data))) counts it once.
    """
    model = gpt()
    model.head.weight = model.tok_emb.weight
    assert count_parameters(model) == untied_count() - V * C


def test_parameters_sharing_memory_count_once():
    """Two Parameter objects over the same array (or a transposed view of it) are one weight.

    Hint: here two different Parameter objects share one buffer (even through a transpose), so deduplicating
    by id(p) is not enough: deduplicate by id(buffer_of(p.data)).
    """
    model = gpt()
    model.head.weight.data = model.tok_emb.weight.data  # two Parameters, one buffer
    assert count_parameters(model) == untied_count() - V * C
    rng.manual_seed(0)
    a, b = Linear(3, 5), Linear(5, 3, bias=False)
    b.weight.data = a.weight.data.T  # the decoder uses the encoder's weight transposed
    assert count_parameters(Sequential(a, b)) == 15 + 5


class Mixed(Module):
    def __init__(self):
        super().__init__()
        self.w = Parameter(np.zeros(10, dtype=np.float64))
        self.v = Parameter(np.zeros(5, dtype=np.float32))
        self.alias = self.w


def test_parameter_bytes_follow_the_dtype_and_count_buffers_once():
    """8 bytes per float64 number, 4 per float32 one; a tied weight's bytes once.

    Hint: parameter_bytes is distinct_nbytes over the parameters' arrays: it uses each buffer's real nbytes (8
    per float64, 4 per float32) once; size * 4 ignores the dtype.
    """
    assert parameter_bytes(Mixed()) == 10 * 8 + 5 * 4
    model = gpt()
    assert parameter_bytes(model) == 4 * untied_count()
    model.head.weight.data = model.tok_emb.weight.data
    assert parameter_bytes(model) == 4 * (untied_count() - V * C)
