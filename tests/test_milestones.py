"""Milestones: the harness around them (dojo.student.milestones), M02's two halves, M03's choice of data.

Invariant 5 of DESIGN.md (every quick mode meets its quick target) is checked by `make test`
through the CLI. Nothing here uses the network (TINYTORCH_OFFLINE=1 and an empty data folder).
"""

from __future__ import annotations

import inspect
import types

import pytest

from dojo import ROOT, curriculum
from dojo.student import milestones as dm

CURRICULUM = curriculum.load()
IDS = [m.id for m in CURRICULUM.milestones]


@pytest.fixture
def solutions(solutions, monkeypatch, tmp_path):
    """The reference tinytorch, offline, with an empty data folder: nothing is downloaded."""
    monkeypatch.setenv("TINYTORCH_OFFLINE", "1")
    monkeypatch.setenv("TINYTORCH_DATA", str(tmp_path))


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_xor_single_layer_fails_while_mlp_succeeds(solutions):
    """M02 shows both halves of the story: the linear model <= 75%, the MLP 100%."""
    result = dm.run("02", quick=True, log=lambda *_: None)
    assert result.details["linear_accuracy"] <= 0.75
    assert result.metric == 1.0


# ---------------------------------------------------------------------------------------------
# The harness (fast: fake milestone modules)
# ---------------------------------------------------------------------------------------------


def fake(monkeypatch, returns, **fields):
    """A curriculum Milestone whose module's run() returns ``returns``; records the call."""
    calls = []

    def run(quick=False, seed=0, log=print):
        calls.append((quick, seed))
        log("training...")
        return dict(returns)

    monkeypatch.setattr(dm, "load_module", lambda milestone: types.SimpleNamespace(run=run))
    values = dict(id="09", title="Fake", year=2000, requires=(), module="m09_fake", metric="accuracy",
                  target=0.9, quick_target=0.5)
    values.update(fields)
    return curriculum.Milestone(**values), calls


def test_full_run_compares_with_target_and_prints_both(monkeypatch):
    """A full run uses the curriculum target, passes seed/quick through and prints metric and target."""
    milestone, calls = fake(monkeypatch, {"metric": 0.93, "dataset": "toy", "seconds": 1.5, "loss": 0.1})
    lines = []
    result = dm.run(milestone, quick=False, seed=7, log=lines.append)
    assert calls == [(False, 7)]
    assert (result.metric, result.target, result.achieved, result.seconds) == (0.93, 0.9, True, 1.5)
    assert result.details == {"dataset": "toy", "seconds": 1.5, "loss": 0.1}
    assert "93.00%" in lines[-1] and "target 90.00%" in lines[-1] and "toy" in lines[-1]


def test_quick_run_uses_quick_target(monkeypatch):
    """Quick mode is judged against quick_target, even when the module reports a dataset target."""
    milestone, _ = fake(monkeypatch, {"metric": 0.6, "dataset": "toy", "seconds": 0.1, "target": 0.99})
    result = dm.run(milestone, quick=True, log=lambda *_: None)
    assert result.target == 0.5 and result.achieved


def test_module_target_replaces_curriculum_target_in_full_run(monkeypatch):
    """A module that used another dataset reports that dataset's target, and it is the one used."""
    milestone, _ = fake(monkeypatch, {"metric": 0.955, "dataset": "digits", "seconds": 1, "target": 0.95})
    result = dm.run(milestone, log=lambda *_: None)
    assert result.target == 0.95 and result.achieved


def test_missed_target_is_not_achieved(monkeypatch):
    """A metric below its target is reported as not achieved."""
    milestone, _ = fake(monkeypatch, {"metric": 0.5, "dataset": "toy", "seconds": 1})
    lines = []
    assert not dm.run(milestone, log=lines.append).achieved
    assert "not yet" in lines[-1]


def test_module_condition_is_anded_with_metric(monkeypatch):
    """``achieved: False`` from the module (e.g. the single layer did not fail) fails the milestone."""
    milestone, _ = fake(monkeypatch, {"metric": 1.0, "dataset": "xor", "seconds": 1, "achieved": False})
    assert not dm.run(milestone, log=lambda *_: None).achieved


def test_missing_keys_are_a_clear_error(monkeypatch):
    """run() must return metric, dataset and seconds; a module that does not is named."""
    milestone, _ = fake(monkeypatch, {"metric": 1.0})
    with pytest.raises(ValueError, match="m09_fake"):
        dm.run(milestone, log=lambda *_: None)


def test_milestone_by_id(monkeypatch):
    """run('3') and run(3) resolve through the curriculum like `make milestone M=3`."""
    seen = []
    monkeypatch.setattr(dm, "load_module", lambda m: seen.append(m.id) or types.SimpleNamespace(
        run=lambda quick, seed, log: {"metric": 1.0, "dataset": "x", "seconds": 0.0}))
    dm.run("3", log=lambda *_: None)
    dm.run(3, log=lambda *_: None)
    assert seen == ["03", "03"]


@pytest.mark.parametrize("milestone_id", IDS)
def test_every_milestone_module_exists_with_run(milestone_id):
    """Each [[milestone]] names a milestones/<module>.py with run(quick, seed, log) and a docstring."""
    milestone = CURRICULUM.milestone(milestone_id)
    assert (ROOT / "milestones" / f"{milestone.module}.py").exists()
    module = dm.load_module(milestone)
    assert list(inspect.signature(module.run).parameters)[:3] == ["quick", "seed", "log"]
    assert module.__doc__ and milestone.requires
    assert 0 < milestone.quick_target and 0 < milestone.target
    if milestone.metric != "speedup":  # fractions (accuracy, exact match); M06's speedup is a ratio
        assert milestone.quick_target <= 1 and milestone.target <= 1


# ---------------------------------------------------------------------------------------------
# M03's choice of data in a full run
# ---------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_m03_full_run_reads_mnist_from_tinytorch_data(solutions, tmp_path, monkeypatch):
    """With the four MNIST files in TINYTORCH_DATA, M03 trains on them and uses the reduced-MNIST target."""
    import gzip
    import struct

    import numpy as np

    rng = np.random.default_rng(0)

    def idx(array):
        return gzip.compress(bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes())

    for split, n in (("train", 64), ("t10k", 16)):
        (tmp_path / f"{split}-images-idx3-ubyte.gz").write_bytes(idx(rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)))
        (tmp_path / f"{split}-labels-idx1-ubyte.gz").write_bytes(idx(rng.integers(0, 10, n, dtype=np.uint8)))
    result = dm.run("03", quick=False, log=lambda *_: None)
    assert result.details["dataset"].startswith("MNIST (reduced: 64 train, 16 test)")
    assert result.target == 0.96


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_m03_full_run_offline_falls_back_to_bundled_digits(solutions):
    """Offline and without MNIST files, M03 says why, then trains on the bundled digits (target 95%)."""
    lines = []
    result = dm.run("03", quick=False, log=lines.append)
    assert "TINYTORCH_OFFLINE" in "\n".join(lines) and "bundled" in result.details["dataset"]
    assert result.target == 0.95 and result.achieved
