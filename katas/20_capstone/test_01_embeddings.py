"""Step 1: embeddings — QuantizedEmbedding stores int8 rows with one scale per row and rescales only the rows it looks up."""

import numpy as np

from dojo.testing import assert_close, raises
from tinytorch import rng
from tinytorch.capstone import QuantizedEmbedding
from tinytorch.embeddings import Embedding, PositionalEmbedding
from tinytorch.kv_cache import generate_cached
from tinytorch.tensor import Tensor
from tinytorch.transformer import GPT


def table(seed=0, rows=6, dim=5):
    """An Embedding whose rows differ in size by 1000x (per-row scales matter)."""
    rng.manual_seed(seed)
    emb = Embedding(rows, dim)
    emb.weight.data *= np.logspace(-2, 1, rows, dtype=np.float32)[:, None]
    return emb


def test_stores_int8_rows_and_one_scale_per_row():
    """weight_int8 is an int8 (V, D) array, weight_scale float32 (V,) = max|row| / 127; nothing is a Parameter.

    Hint: in QuantizedEmbedding.from_embedding (tinytorch/capstone.py) quantize the weight array per row with
    kata 17's quantize_per_channel(w, axis=0) and pass the scales flattened to shape (V,) to cls(q, scales);
    store no Parameter.
    """
    emb = table()
    q = QuantizedEmbedding.from_embedding(emb)
    assert isinstance(q.weight_int8, np.ndarray) and q.weight_int8.dtype == np.int8 and q.weight_int8.shape == (6, 5), \
        f"weight_int8: {type(q.weight_int8).__name__} {getattr(q.weight_int8, 'dtype', '')} {getattr(q.weight_int8, 'shape', '')}"
    assert q.weight_scale.dtype == np.float32 and q.weight_scale.shape == (6,)
    assert_close(q.weight_scale, np.abs(emb.weight.data).max(axis=1) / 127, rtol=1e-6, what="weight_scale")
    assert np.abs(q.weight_int8).max(axis=1).tolist() == [127] * 6, "each row's largest value maps to +-127"
    assert q.parameters() == [], "an int8 table has nothing to train: no Parameters"
    assert sum(a.nbytes for a in q.buffers().values()) == 6 * 5 + 4 * 6


def test_lookup_is_within_half_a_step_of_every_row():
    """Looking ids up gives float32 rows within scale/2 of the float table, for any ids shape.

    Hint: in QuantizedEmbedding.lookup gather first, self.weight_int8[ids] (any ids shape), cast to
    float32 and multiply by self.weight_scale[ids][..., None] so each row gets its own scale.
    """
    emb = table(seed=1)
    q = QuantizedEmbedding.from_embedding(emb)
    ids = np.array([[5, 0, 3], [3, 3, 1]])
    out = q(ids)
    assert isinstance(out, Tensor) and out.shape == (2, 3, 5) and out.dtype == np.float32, \
        f"got {type(out).__name__} {getattr(out, 'shape', '')} {getattr(out, 'dtype', '')}"
    error = np.abs(out.data - emb.weight.data[ids])
    bound = q.weight_scale[ids][..., None] / 2 * (1 + 1e-5)
    assert (error <= bound).all(), f"worst error {error.max():.3g} exceeds half a step of its row"
    assert_close(q.lookup(np.array(4)), emb.weight.data[4], atol=float(q.weight_scale[4]) / 2 * 1.0001, what="one id")


def test_the_int8_rows_are_what_is_read():
    """The output is computed from weight_int8 and weight_scale at every lookup: change them and it changes.

    Hint: QuantizedEmbedding.lookup must read self.weight_int8 and self.weight_scale at every call; do not
    keep a dequantized float copy of the table made in from_embedding.
    """
    q = QuantizedEmbedding.from_embedding(table(seed=2))
    before = q(np.array([1, 2])).data.copy()
    q.weight_int8[2] = 0
    after = q(np.array([1, 2])).data
    assert_close(after[0], before[0], what="row 1 (untouched)")
    assert np.array_equal(after[1], np.zeros(5, np.float32)), "row 2's int8 codes were zeroed: its vector must be 0"
    q.weight_scale[1] *= 2
    assert_close(q(np.array([1])).data[0], 2 * before[0], what="row 1 after doubling its scale")


def test_positions_and_weight_slices():
    """From a PositionalEmbedding: forward(T) gives positions 0..T-1, and weight[a:b] rows a..b-1 (kata 14 reads those).

    Hint: forward(T) and weight[a:b] both end in QuantizedEmbedding.lookup (with np.arange(T) and
    np.arange(V)[a:b]); if they fail, lookup is wrong for 1-D ids.
    """
    rng.manual_seed(3)
    pos = PositionalEmbedding(10, 4)
    q = QuantizedEmbedding.from_embedding(pos)
    step = float(q.weight_scale.max()) / 2 * 1.0001
    assert_close(q(7).data, pos.weight.data[:7], atol=step, what="forward(7)")
    rows = q.weight[3:6]
    assert isinstance(rows, Tensor) and rows.shape == (3, 4), f"weight[3:6] gave {type(rows).__name__} {getattr(rows, 'shape', '')}"
    assert_close(rows.data, pos.weight.data[3:6], atol=step, what="weight[3:6]")
    assert_close(rows.data, q(np.arange(3, 6)).data, what="weight[3:6] vs lookup")


def test_ids_out_of_range_are_errors():
    """An id >= num_embeddings, a negative id (NumPy would read from the end) and too many positions are ValueErrors.

    Hint: in QuantizedEmbedding.lookup raise ValueError when ids.min() < 0 or ids.max() >= self.num_embeddings
    (check ids.size first); NumPy would read row -1 from the end.
    """
    q = QuantizedEmbedding.from_embedding(table(seed=4))
    with raises(ValueError):
        q(np.array([0, 6]))
    with raises(ValueError):
        q(np.array([[-1, 2]]))
    with raises(ValueError):
        q(7)


def test_a_gpt_with_int8_embeddings_still_caches_exactly():
    """A GPT whose tok_emb and pos_emb are QuantizedEmbedding: kata 14's cached generation gives the uncached tokens.

    Hint: kata 14's cached_forward reads model.pos_emb.weight[past:past + T] and calls model.tok_emb(ids):
    both must return float32 rows from QuantizedEmbedding.lookup, the same rows forward gives.
    """
    rng.manual_seed(5)
    model = GPT(vocab_size=13, block_size=20, n_layer=1, n_head=2, n_embd=16)
    before = model(np.array([[1, 2, 3]])).data
    model.tok_emb = QuantizedEmbedding.from_embedding(model.tok_emb)
    model.pos_emb = QuantizedEmbedding.from_embedding(model.pos_emb)
    after = model(np.array([[1, 2, 3]])).data
    assert 0 < np.abs(after - before).max() < 0.1, "int8 embeddings change the logits a little, not a lot, not at all"
    prompt = np.random.default_rng(5).integers(0, 13, size=(2, 4))
    cached = generate_cached(model, prompt, max_new_tokens=6, greedy=True).data
    assert np.array_equal(cached, model.generate(prompt, max_new_tokens=6, greedy=True).data)
