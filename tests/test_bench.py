"""`make bench`'s engine (dojo.bench): same work in every column, honest tables. No timing asserted."""

from __future__ import annotations


import numpy as np
import pytest

from dojo import bench
from dojo.bench import mlp


def row(**columns):
    return bench.Benchmark(key="toy", title="toy row", workload=lambda: {}, columns=columns)


def constant(value):
    return lambda workload: (lambda: value)


def test_numpy_and_tinytorch_do_the_same_work_step_after_step(solutions):
    """The hand-written NumPy step and tinytorch's step give the same loss for five steps in a row."""
    workload = mlp.mlp_workload()
    numpy_step, tinytorch_step = mlp.mlp_numpy(workload), mlp.mlp_tinytorch(workload)
    losses = [(numpy_step(), tinytorch_step()) for _ in range(5)]
    np.testing.assert_allclose(*zip(*losses), rtol=1e-5)
    assert losses[-1][0] < losses[0][0], "the SGD update must lower the loss on a fixed batch"


def test_measure_times_every_available_column(solutions):
    """measure() times each column `repeats` times after checking they agree."""
    row_ = mlp.MLP
    small = bench.Benchmark(row_.key, row_.title, row_.workload,
                            {k: v for k, v in row_.columns.items() if k != "PyTorch"})
    results = bench.measure(small, repeats=3, warmup=1)
    assert set(results) == {bench.BASELINE, "tinytorch"}
    for timing in results.values():
        assert len(timing.times) == 3 and not timing.error


def test_column_computing_something_else_is_excluded():
    """A column whose first loss differs from raw NumPy's is reported, not timed."""
    results = bench.measure(row(**{bench.BASELINE: constant(1.0), "tinytorch": constant(2.0)}), repeats=2, warmup=0)
    assert len(results[bench.BASELINE].times) == 2
    assert results["tinytorch"].times == [] and "computes something else" in results["tinytorch"].error


def test_unavailable_column_shows_as_na_with_its_reason():
    """A column that cannot run (PyTorch missing, kata not done) is n/a in the table, with why."""

    def missing(workload):
        raise bench.Unavailable("PyTorch not installed")

    def stub(workload):
        raise NotImplementedError("Linear.forward (kata 03)")

    lines = []
    results = bench.measure(row(**{bench.BASELINE: constant(1.0), "PyTorch": missing, "tinytorch": stub}), 2, 0)
    assert bench.report(row(), results, log=lines.append) is None
    table = "\n".join(lines)
    assert "PyTorch not installed" in table and "not implemented yet" in table and "n/a" in table


def test_report_gives_ratio_to_numpy():
    """report() returns tinytorch's median over raw NumPy's and prints both."""
    results = {bench.BASELINE: bench.Timing(times=[0.002] * 3, loss=1.0),
               "tinytorch": bench.Timing(times=[0.003] * 3, loss=1.0)}
    lines = []
    assert bench.report(row(), results, log=lines.append) == pytest.approx(1.5)
    assert "1.50×" in "\n".join(lines) and "2.00" in "\n".join(lines)


def test_bench_times_the_students_code_only_where_its_katas_are_green(tmp_path):
    """make bench defaults to the student's tinytorch: a section whose katas are not green (a fresh
    clone: nothing is) is not quietly timed with the reference; IMPL=solutions lifts that."""
    from dojo import ROOT
    from dojo.bench import SECTIONS, missing_katas

    conv = next(s for s in SECTIONS if s.key == "conv")
    assert missing_katas(conv, ROOT, progress_path=tmp_path / "progress.toml") == ["09"]
    assert missing_katas(conv, ROOT / "solutions", progress_path=tmp_path / "progress.toml") == []


def test_a_skipped_tinytorch_column_says_why_and_the_others_still_run(capsys):
    """The conv row on a tree whose kata 09 is not green: raw NumPy runs, tinytorch is n/a with the reason."""
    from dojo.bench import conv

    assert conv.main(["--impl", "solutions", "--repeats", "2", "--warmup", "0",
                      "--skip-tinytorch", "kata 09 not green yet"]) == 0
    out = capsys.readouterr().out
    assert "kata 09 not green yet" in out and "raw NumPy" in out
