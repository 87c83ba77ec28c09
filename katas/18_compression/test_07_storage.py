"""Step 7: storage — dense bytes against CSR bytes, counted from the zeros and the arrays really built."""

import numpy as np

from dojo.testing import assert_close, raises
from tinytorch import rng
from tinytorch.compression import CSR, Pruned, magnitude_mask, storage, to_csr
from tinytorch.layers import Linear


def sparse(shape=(40, 30), fraction=0.5, seed=0, dtype=np.float32):
    """A random weight with exactly round(fraction * size) zeros at random places."""
    g = np.random.default_rng(seed)
    w = (g.uniform(0.5, 1.5, size=shape) * g.choice([-1, 1], size=shape)).astype(dtype)
    w.ravel()[g.permutation(w.size)[: round(fraction * w.size)]] = 0
    return w


def test_csr_holds_the_nonzeros_row_by_row():
    """to_csr([[0, 2, 0], [1, 0, 3]]): data [2, 1, 3], indices [1, 0, 2], indptr [0, 1, 3] (int32), shape (2, 3).

    Hint: to_csr: rows, cols = np.nonzero(w) (row-major order); data = w[rows, cols]; indices = cols as int32;
    indptr (rows + 1, int32) starts at 0 and holds the cumulative count of non-zeros per row.
    """
    c = to_csr(np.array([[0.0, 2.0, 0.0], [1.0, 0.0, 3.0]], dtype=np.float32))
    assert isinstance(c, CSR)
    assert_close(c.data, np.array([2.0, 1.0, 3.0], dtype=np.float32), dtype=np.float32, what="data")
    assert_close(c.indices, np.array([1, 0, 2], dtype=np.int32), dtype=np.int32, what="indices")
    assert_close(c.indptr, np.array([0, 1, 3], dtype=np.int32), dtype=np.int32, what="indptr")
    assert c.shape == (2, 3)


def test_csr_round_trip_is_exact():
    """to_csr(w).to_dense() == w exactly, with empty rows and a fully dense row too; nnz = non-zeros of w.

    Hint: build indptr from per-row counts with np.bincount(rows, minlength=n_rows) so empty rows still get an
    entry, then np.cumsum into indptr[1:].
    """
    w = sparse(fraction=0.7, seed=1)
    w[3] = 0
    w[5] = 1.0
    c = to_csr(w)
    assert c.nnz == np.count_nonzero(w), f"nnz {c.nnz}, w has {np.count_nonzero(w)} non-zeros"
    assert_close(c.to_dense(), w, rtol=0, atol=0, dtype=np.float32, what="to_csr(w).to_dense()")


def test_dense_and_csr_bytes():
    """Dense: size · 4 bytes. CSR float32/int32: 8 bytes per non-zero plus (rows + 1) · 4 for the row pointers.

    Hint: storage(w) builds csr = to_csr(w) and returns Storage(shape, str(dtype), csr.nnz, w.nbytes,
    csr.nbytes): bytes are measured from the arrays, with int32 indices and indptr.
    """
    w = sparse(fraction=0.9, seed=2)
    s = storage(w)
    nnz = np.count_nonzero(w)
    assert s.nnz == nnz and s.dense_bytes == 40 * 30 * 4, f"nnz {s.nnz}, dense {s.dense_bytes}"
    assert s.csr_bytes == nnz * 8 + 41 * 4, f"CSR bytes {s.csr_bytes}, expected {nnz * 8 + 41 * 4}"
    assert s.csr_bytes == to_csr(w).nbytes


def test_half_sparse_csr_saves_nothing():
    """At 50% zeros CSR is not smaller than dense, and storage() says so (csr_saves False).

    Hint: csr_bytes must come from to_csr's real arrays (8 bytes per float32 non-zero plus the row pointers);
    the given Storage then reports csr_saves False and 'saves nothing' by itself.
    """
    s = storage(sparse(fraction=0.5, seed=3))
    assert abs(s.sparsity - 0.5) < 1e-12
    assert s.csr_bytes >= s.dense_bytes, f"CSR {s.csr_bytes} B < dense {s.dense_bytes} B at 50% sparsity?"
    assert s.csr_saves is False and "nothing" in str(s), f"str(storage) = {str(s)!r}"


def test_ninety_percent_sparse_csr_is_about_five_times_smaller():
    """At 90% zeros CSR is smaller (csr_saves True), ratio dense/CSR between 4 and 5 for float32.

    Hint: keep the index arrays int32 (np.nonzero gives int64: cast with .astype(np.int32)); int64 indices
    make every non-zero cost 12 bytes and the ratio drops below 4.
    """
    s = storage(sparse(fraction=0.9, seed=4))
    assert s.csr_saves is True, f"CSR {s.csr_bytes} B vs dense {s.dense_bytes} B"
    assert 4.0 < s.ratio < 5.0, f"dense/CSR = {s.ratio}"


def test_float64_pays_twelve_bytes_per_nonzero():
    """float64 values with int32 indices: 12 bytes per non-zero, so at 50% zeros CSR already wins (dense pays 8).

    Hint: data keeps the weight's dtype (w[rows, cols]) while indices and indptr are int32, so a float64
    non-zero costs 8 + 4 bytes.
    """
    w = sparse(fraction=0.5, seed=5, dtype=np.float64)
    s = storage(w)
    assert s.csr_bytes == np.count_nonzero(w) * 12 + 41 * 4
    assert s.csr_saves is True


def test_zeros_are_counted_whatever_made_them():
    """A Pruned layer is stored from its masked weight; zeros no pruning made count too; non-2-D is a ValueError.

    Hint: get the array with the given _weight_arrays(weight), which for a Pruned layer is its masked weight;
    raise ValueError in to_csr when the array is not 2-D.
    """
    rng.manual_seed(0)
    layer = Linear(30, 40)
    layer.weight.data[:, :3] = 0  # 120 zeros nobody pruned
    pruned = Pruned(layer, magnitude_mask(layer.weight.data, 0.6))
    s = storage(pruned)
    assert s.nnz == np.count_nonzero(pruned.weight.data) == 480, f"nnz {s.nnz}, expected 480"
    with raises(ValueError):
        to_csr(np.ones(5, dtype=np.float32))
