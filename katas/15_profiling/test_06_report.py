"""Step 6: report — one profile: a row per layer (params, FLOPs, time, memory), totals, the bottleneck."""

import math

import numpy as np

from tinytorch import rng
from tinytorch.layers import Linear, Module, Sequential
from tinytorch.profiling import activation_bytes, count_flops, count_parameters, profile
from tinytorch.tensor import Tensor
from tinytorch.transformer import GPT


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


class Work(Module):
    """Takes `cost` fake seconds per call."""

    def __init__(self, clock, cost):
        super().__init__()
        self.clock, self.cost = clock, cost

    def forward(self, x):
        self.clock.advance(self.cost)
        return x * 1.0


def small():
    rng.manual_seed(0)
    clock = FakeClock()
    model = Sequential(Linear(4, 8), Work(clock, 0.003), Linear(8, 2), Work(clock, 0.001))
    return model, clock, Tensor(np.zeros((5, 4), dtype=np.float32))


def gpt():
    rng.manual_seed(0)
    model = GPT(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=16)
    return model, np.random.default_rng(0).integers(0, 11, size=(2, 5))


def test_one_row_per_layer_with_its_figures():
    """Rows in call order; Linear(4, 8): 40 params, 2·5·4·8 FLOPs, 160 B out; the 3 ms layer has 75% of the time.

    Hint: profile: one Row per call.name in call order with its type name, depth, calls, own parameters
    (_own_parameters), own FLOPs, times from time_layers and self_percent = 100 · self_time / sum of self
    times; bottleneck() is the row with the largest self_time.
    """
    model, clock, x = small()
    prof = profile(model, x, warmup=1, repeats=3, clock=clock)
    rows = {row.name: row for row in prof.rows}
    assert [row.name for row in prof.rows] == ["", "0", "1", "2", "3"]
    assert [row.type for row in prof.rows] == ["Sequential", "Linear", "Work", "Linear", "Work"]
    lin = rows["0"]
    assert (lin.params, lin.flops, lin.out_bytes, lin.depth, lin.calls) == (40, 320, 160, 1, 1), lin
    assert math.isclose(rows["1"].self_time, 0.003) and math.isclose(rows["1"].self_percent, 75.0), rows["1"]
    assert math.isclose(rows["3"].self_percent, 25.0) and math.isclose(prof.time, 0.004)
    assert prof.bottleneck() is rows["1"]


def test_the_columns_add_up_to_the_totals():
    """params, FLOPs, output bytes and self % add up to count_parameters, count_flops, activation_bytes and 100%.

    Hint: count each parameter buffer only on its first owner and each output buffer only once, so the params
    and out_bytes columns add up to count_parameters and activation_bytes; self % is over the sum of self
    times.
    """
    model, ids = gpt()
    prof = profile(model, ids, warmup=0, repeats=1)
    assert sum(r.params for r in prof.rows) == prof.params == count_parameters(model)
    assert sum(r.flops for r in prof.rows) == prof.flops == count_flops(model, ids)
    assert sum(r.out_bytes for r in prof.rows) == prof.activation_bytes == activation_bytes(model, ids)
    assert math.isclose(sum(r.self_percent for r in prof.rows), 100.0)


def test_an_output_belongs_to_the_layer_that_made_it():
    """The logits are the head's output (the GPT only passes them on); a tied weight sits on its first owner.

    Hint: give an output buffer to the innermost call that returned it: walk the calls children first
    (recursively from tracer.roots) when assigning out_bytes; with memory=False, peak_bytes is None.
    """
    model, ids = gpt()
    model.head.weight = model.tok_emb.weight
    prof = profile(model, ids, warmup=0, repeats=1, memory=False)
    rows = {row.name: row for row in prof.rows}
    assert rows["head"].out_bytes == 2 * 5 * 11 * 4 and rows[""].out_bytes == 0
    assert rows["tok_emb"].params == 11 * 16 and rows["head"].params == 0
    assert prof.params == count_parameters(model) and prof.peak_bytes is None


class Scratch(Module):
    def forward(self, x):
        return x + float(np.ones(1_000_000).sum())  # an 8 MB temporary


def test_the_peak_memory_is_measured():
    """A layer with an 8 MB temporary: the profile's peak is at least 8 MB.

    Hint: when memory=True, profile runs peak_memory(model, *args, **kwargs) once more, separately from the
    timed runs, and stores it in Profile.peak_bytes.
    """
    rng.manual_seed(0)
    prof = profile(Sequential(Linear(4, 4), Scratch()), Tensor(np.zeros((2, 4), dtype=np.float32)), repeats=1)
    assert prof.peak_bytes >= 8_000_000, prof.peak_bytes


def test_the_table_shows_every_layer_and_the_totals():
    """The table names each layer and type, the share of time (75.0%), the FLOP total, and switches to MACs.

    Hint: table() must show each row's type and self % as f'{row.self_percent:.1f}%', write the total as
    f'{flops:,}' under a 'FLOPs' header, and with macs=True divide by FLOPS_PER_MAC and say 'MACs'; __str__
    returns table().
    """
    model, clock, x = small()
    prof = profile(model, x, warmup=1, repeats=3, clock=clock)
    table = prof.table()
    for word in ("Sequential", "Linear", "Work", "75.0%", "25.0%", "FLOPs", f"{prof.flops:,}"):
        assert word in table, f"{word!r} missing from the table:\n{table}"
    macs = prof.table(macs=True)
    assert "MACs" in macs and f"{prof.flops // 2:,}" in macs, macs
    assert str(prof) == table
