"""Step 4: memory — activation bytes without double counting, and the peak tracemalloc sees."""

import tracemalloc

import numpy as np

from tinytorch import rng
from tinytorch.activations import ReLU
from tinytorch.layers import Dropout, Linear, Module, Sequential
from tinytorch.profiling import activation_bytes, peak_memory
from tinytorch.spatial import Conv2d, Flatten, MaxPool2d
from tinytorch.tensor import Tensor
from tinytorch.transformer import GPT

MB8 = 8_000_000  # 1,000,000 float64 numbers


class Scratch(Module):
    """Builds an 8 MB scratch array, returns a single number."""

    def forward(self, x):
        scratch = np.ones(1_000_000, dtype=np.float64)
        return Tensor(np.float32(scratch.sum()) + x.data.sum())


def test_activation_bytes_count_views_and_identities_once():
    """conv out (2, 2, 4, 4) float32 = 256 B, pool (2, 2, 2, 2) = 64 B, Flatten a view of it (0 B),
    eval-mode Dropout returns its input (0 B), Linear (2, 3) = 24 B, the model returns the last
    array (0 B): 344 B. Summing every output's nbytes would say 704.

    Hint: activation_bytes passes every call's outputs to distinct_nbytes: Flatten's view, eval Dropout's
    input and the model's own return share buffers with earlier outputs and must add nothing.
    """
    rng.manual_seed(0)
    model = Sequential(Conv2d(1, 2, 3, padding=1), MaxPool2d(2), Flatten(), Dropout(0.5), Linear(8, 3))
    model.eval()
    got = activation_bytes(model, Tensor(np.zeros((2, 1, 4, 4), dtype=np.float32)))
    assert got == 344, f"activation_bytes = {got}, expected 344"


def test_activation_bytes_of_a_gpt():
    """GPT with B=2, T=5, C=16, V=11, 1 layer: token embeddings, positions (T, C), the dropout's
    input itself, per block ln1, q, k, v, attn out, ln2, fc (4C), proj and the block's sum, then
    ln_f and the logits; attention's internal arrays are not outputs of a module.

    Hint: collect the outputs of ALL calls of the trace (nested ones too, not only tracer.roots) and count
    each buffer once with distinct_nbytes.
    """
    rng.manual_seed(0)
    model = GPT(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=16)
    ids = np.random.default_rng(0).integers(0, 11, size=(2, 5))
    B, T, C, V, f = 2, 5, 16, 11, 4
    emb, pos = B * T * C * f, T * C * f
    summed = B * T * C * f  # tok + pos (dropout p=0 returns it)
    block = (B * T * C * f) * 4 + B * T * C * f + B * T * C * f + B * T * 4 * C * f + B * T * C * f + B * T * C * f
    #        ln1, q, k, v          attn out        ln2             fc                 proj (mlp out)  block sum
    expected = emb + pos + summed + block + B * T * C * f + B * T * V * f  # ln_f, logits
    assert activation_bytes(model, ids) == expected


def test_peak_memory_sees_a_numpy_scratch_array():
    """A layer that builds an 8 MB scratch array and returns one number: the peak is at least 8 MB
    (and not much more), while its activations are a few bytes.

    Hint: use tracemalloc: start it if needed, tracemalloc.reset_peak(), note get_traced_memory()[0], run fn,
    and return get_traced_memory()[1] minus that start; comparing memory before and after misses freed
    temporaries.
    """
    model = Sequential(Scratch())
    x = Tensor(np.zeros(4, dtype=np.float32))
    peak = peak_memory(model, x)
    assert MB8 <= peak < MB8 + 500_000, f"peak_memory = {peak:,} bytes, expected a little over {MB8:,}"
    assert activation_bytes(model, x) < 100


def test_peak_memory_is_measured_from_where_the_call_starts():
    """Memory already allocated before the call (a live 16 MB array) is not part of its peak.

    Hint: subtract the traced size at the start (after reset_peak) from the peak, and if tracemalloc was
    already tracing, leave it running: stop it only when peak_memory started it.
    """
    tracemalloc.start()
    try:
        before = np.ones(2_000_000, dtype=np.float64)
        peak = peak_memory(lambda: np.ones(125_000, dtype=np.float64).sum())  # 1 MB
        assert before.size and 1_000_000 <= peak < 1_500_000, f"peak_memory = {peak:,} bytes, expected about 1 MB"
        assert tracemalloc.is_tracing(), "peak_memory stopped tracemalloc that the caller had started"
    finally:
        tracemalloc.stop()


def test_peak_memory_leaves_tracemalloc_off_if_it_was_off():
    """Tracing slows every allocation down: peak_memory stops what it started (and passes arguments on).

    Hint: remember started = not tracemalloc.is_tracing() and call tracemalloc.stop() in a finally only when
    started; also pass *args and **kwargs on to fn.
    """
    assert not tracemalloc.is_tracing()
    seen = []
    peak = peak_memory(lambda n, dtype: seen.append(np.zeros(n, dtype=dtype)), 250_000, dtype=np.float32)
    assert not tracemalloc.is_tracing()
    assert len(seen) == 1 and peak >= 1_000_000


def test_the_mlp_peak_is_bigger_than_its_output():
    """Linear(64, 256) then ReLU then Linear(256, 64) on 500 rows: the (500, 256) hidden arrays
    (512,000 bytes each) are freed by the end, but the peak saw them.

    Hint: the peak must come from tracemalloc.get_traced_memory()[1] (the highest point during fn), measured
    after reset_peak(); the size after fn returns no longer includes the freed hidden arrays.
    """
    rng.manual_seed(0)
    model = Sequential(Linear(64, 256), ReLU(), Linear(256, 64))
    x = Tensor(np.zeros((500, 64), dtype=np.float32))
    assert peak_memory(model, x) >= 2 * 500 * 256 * 4
