"""Kata 17's figures (dojo.bench.quant): measured in the run, against the reference solutions. No timing asserted."""

from __future__ import annotations

import pytest

from dojo.bench import quant as bench_quant


@pytest.fixture(scope="module")
def figures():
    from dojo import impl

    impl.activate(impl.resolve("solutions"))
    return bench_quant.run(quick=True)


def test_run_measures_accuracy_size_error_and_latency(figures):
    """One quick run: every variant's accuracy measured on the test set, sizes >= 3.5x, per-channel wins on varied rows."""
    assert set(figures) >= {"train_seconds", "accuracy", "sizes", "errors", "latency"}
    default = figures["accuracy"][0]
    assert default["variant"].startswith("per-channel, static")
    assert 0.8 < default["float_accuracy"] <= 1.0 and 0.8 < default["int8_accuracy"] <= 1.0
    assert default["size_ratio"] >= bench_quant.SIZE_GOAL
    assert next(r for r in figures["sizes"] if r["model"].startswith("MLP 784"))["size_ratio"] >= 3.5
    synthetic = figures["errors"][-1]
    assert synthetic["per_channel"] * 2 < synthetic["per_tensor"]
    assert all(r["float_ms"] > 0 and r["int8_ms"] > 0 for r in figures["latency"])


def test_accuracy_is_recomputed_not_copied(solutions, monkeypatch):
    """A broken QuantizedLinear (all-zero int8 weights) shows up as a lower int8 accuracy in the figures."""
    tt = bench_quant._modules()
    model, train, test, _ = bench_quant.train_digits_mlp(tt, epochs=3)
    honest = bench_quant.accuracy_figures(tt, model, train, test)[0]
    original = tt["quantization"].QuantizedLinear.from_linear.__func__

    def zeroed(cls, *args, **kwargs):
        layer = original(cls, *args, **kwargs)
        layer.weight_int8[...] = 0
        return layer

    monkeypatch.setattr(tt["quantization"].QuantizedLinear, "from_linear", classmethod(zeroed))
    broken = bench_quant.accuracy_figures(tt, model, train, test)[0]
    assert broken["float_accuracy"] == honest["float_accuracy"]
    assert broken["int8_accuracy"] < honest["int8_accuracy"] - 0.3


def test_report_prints_every_table(figures):
    """report() prints the four tables and says whether the default variant meets both goals."""
    lines = []
    ok = bench_quant.report(figures, log=lines.append)
    text = "\n".join(lines)
    for heading in ("1. Milestone 03 MLP", "2. Whole models", "3. Relative output error", "4. Forward latency"):
        assert heading in text
    default = figures["accuracy"][0]
    assert ok == (default["accuracy_drop"] <= bench_quant.ACCURACY_GOAL_PP and default["size_ratio"] >= 3.5)
