"""dojo.classroom.capstone_check: the submission schema, the claimed-vs-re-derived comparison, and one real re-derivation."""

import copy
import json
import math

import numpy as np
import pytest

from dojo.classroom import capstone_check as cc
from dojo import impl


def submission(**figure_changes) -> dict:
    """A consistent, re-derivable submission (the shape kata 20's write_submission produces)."""
    figures = {"new_tokens": 256, "prompt_len": 64, "batch": 8, "rounds": 3, "baseline_seconds": 18.6,
               "optimized_seconds": 1.5, "baseline_bytes": 2_610_688, "optimized_bytes": 684_116,
               "baseline_loss": 2.4284, "optimized_loss": 2.4285, "token_agreement": 0.97}
    figures.update(figure_changes)
    f = figures
    f.setdefault("speedup", f["baseline_seconds"] / f["optimized_seconds"])
    f.setdefault("speedup_ci", [f["speedup"] * 0.8, f["speedup"] * 1.1])
    f.setdefault("size_ratio", f["baseline_bytes"] / f["optimized_bytes"])
    f.setdefault("loss_delta", f["optimized_loss"] - f["baseline_loss"])
    f.setdefault("baseline_tokens_per_s", f["batch"] * f["new_tokens"] / f["baseline_seconds"])
    f.setdefault("optimized_tokens_per_s", f["batch"] * f["new_tokens"] / f["optimized_seconds"])
    return {
        "format_version": 1, "kind": "tinytorch-capstone", "created": "2026-01-01T00:00:00+00:00",
        "figures": f, "choices": {"kv_cache": True, "backend": "fast"},
        "config": {"model": {"vocab_size": 65, "block_size": 320, "n_layer": 3, "n_head": 4, "n_embd": 128},
                   "evaluation": {"new_tokens": 256, "prompt_len": 64, "batch": 8, "rounds": 3, "seed": 0},
                   "seed": 0,
                   "training": {"steps": 500, "batch_size": 8, "lr": 3e-3, "backend": "fast",
                                "corpus": "Tiny Shakespeare", "sha256": "ab" * 32},
                   "data": {"calibration_batches": 4, "val_batches": 8, "batch_size": 8}},
        "environment": {"python": "3.12"},
    }


def test_a_consistent_submission_has_no_problem():
    data = submission()
    assert cc.validate(data) == [] and cc.rederivable(data) == []
    assert cc.validate(json.loads(json.dumps(data))) == []


@pytest.mark.parametrize("change, words", [
    (lambda d: d.update(format_version=2), "format_version 2"),
    (lambda d: d.update(kind="something"), "kind"),
    (lambda d: d["figures"].pop("speedup"), "missing 'speedup'"),
    (lambda d: d["figures"].update(baseline_bytes=2.5e6), "baseline_bytes"),
    (lambda d: d["figures"].update(optimized_loss=float("nan")), "optimized_loss"),
    (lambda d: d["figures"].update(batch=True), "batch"),
    (lambda d: d["figures"].update(size_ratio=10.0), "size_ratio is 10.0"),
    (lambda d: d["figures"].update(loss_delta=-0.5), "loss_delta"),
    (lambda d: d["figures"].update(speedup_ci=[20.0, 30.0]), "outside its interval"),
    (lambda d: d["figures"].update(speedup_ci=[1.0]), "two finite numbers"),
    (lambda d: d["figures"].update(token_agreement=1.5), "token_agreement"),
    (lambda d: d["config"]["evaluation"].update(new_tokens=64), "config.evaluation.new_tokens"),
    (lambda d: d["config"]["model"].update(block_size=100), "do not fit block_size"),
    (lambda d: d.pop("choices"), "missing 'choices'"),
])
def test_schema_problems_are_named(change, words):
    data = submission()
    change(data)
    problems = cc.validate(data)
    assert problems and any(words in p for p in problems), problems


def test_what_re_deriving_needs():
    data = submission()
    del data["config"]["seed"], data["config"]["training"]["sha256"]
    data["config"].pop("data")
    problems = cc.rederivable(data)
    assert len(problems) == 3 and any("seed" in p for p in problems) and any("sha256" in p for p in problems)


def test_official_is_milestone_06s_configuration():
    assert cc.is_official(submission())
    other = submission()
    other["config"]["training"]["steps"] = 50
    assert not cc.is_official(other)


def test_claims_are_compared_with_what_was_re_derived():
    claimed = submission()["figures"]
    verified = {**claimed, "consistency": 1.0}
    assert cc.compare_figures(claimed, verified) == []
    slack = {**verified, "baseline_loss": claimed["baseline_loss"] + 0.015, "speedup_ci": [8.0, claimed["speedup"] / 1.4]}
    assert cc.compare_figures(claimed, slack) == [], "within the loss tolerance and the speed slack"
    bad = {**verified, "optimized_bytes": claimed["optimized_bytes"] + 4, "optimized_loss": claimed["optimized_loss"] + 0.1,
           "speedup": 3.0, "speedup_ci": [2.5, 3.5], "consistency": 0.5}
    problems = cc.compare_figures(claimed, bad)
    for words in ("optimized_bytes", "optimized_loss", "not reproduced", "generate and forward disagree"):
        assert any(words in p for p in problems), (words, problems)


def test_held_bytes_sees_every_array_a_model_holds(solutions):
    """Parameters once (a shared one too), plain arrays and numpy scalars in attributes, lists and dicts; not grads, not a KV cache."""
    from tinytorch.kv_cache import KVCache
    from tinytorch.layers import Linear, Module

    class Hiding(Module):
        def __init__(self):
            super().__init__()
            self.a = Linear(10, 10)
            self.shared = self.a
            self.extra = {"copy": np.zeros((10, 10), np.float32), "scale": np.float32(1.0)}
            self.views = [self.extra["copy"][:5], self.extra["copy"].T]
            self.cache = KVCache(1, 1, 1, 100, 10)

    model = Hiding()
    model.a.weight.grad = np.ones((10, 10), np.float32)
    assert cc.held_bytes(model) == 4 * 110 + 400 + 4


def test_interleaved_timing_on_a_fake_clock():
    """A 2x slower a: speedup 2, the interval collapses on it; A B, B A order."""
    now, order = [0.0], []

    def work(cost, name):
        def fn():
            now[0] += cost
            order.append(name)
        return fn

    result = cc.interleaved(work(2.0, "a"), work(1.0, "b"), rounds=4, clock=lambda: now[0])
    assert result["speedup"] == 2.0 and result["ci"] == [2.0, 2.0] and (result["a"], result["b"]) == (2.0, 1.0)
    assert order == ["a", "b", "b", "a", "a", "b", "b", "a"]


def test_unreadable_or_invalid_files_are_reported_not_run(tmp_path):
    path = tmp_path / "capstone.json"
    path.write_text("{not json", encoding="utf-8")
    result = cc.rederive(path)
    assert not result["ok"] and "not JSON" in result["problems"][0] and result["verified"] is None
    data = submission()
    data["figures"]["size_ratio"] = 9.0
    path.write_text(json.dumps(data), encoding="utf-8")
    result = cc.rederive(path)
    assert not result["ok"] and any("size_ratio" in p for p in result["problems"]) and result["verified"] is None
    assert cc.main(["validate", str(path)]) == 1


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_submit_then_rederive_with_the_solutions(solutions, tmp_path, monkeypatch):
    """The quick configuration end to end: submit writes a valid file; re-deriving it in a child process reproduces
    the bytes exactly and the losses; a file that claims fewer bytes than the model holds is caught."""
    monkeypatch.setenv("TINYTORCH_OFFLINE", "1")
    monkeypatch.setattr(cc, "SPEED_SLACK", 1e9)  # a tiny model's wall-clock speed on a shared machine is noise
    root = impl.resolve("solutions")
    path = cc.submit(tmp_path / "capstone.json", seed=0, quick=True, impl_root=root, log=lambda *a: None)
    data = cc.load(path)
    assert cc.validate(data) == [] and cc.rederivable(data) == [] and not cc.is_official(data)
    result = cc.rederive(path, root)
    assert result["ok"], result["problems"]
    claimed, verified = result["claimed"], result["verified"]
    assert (verified["baseline_bytes"], verified["optimized_bytes"]) == (claimed["baseline_bytes"], claimed["optimized_bytes"])
    assert math.isclose(verified["optimized_loss"], claimed["optimized_loss"], abs_tol=1e-6)
    assert verified["consistency"] >= cc.CONSISTENCY

    forged = copy.deepcopy(data)
    f = forged["figures"]
    f["optimized_bytes"] //= 2
    f["size_ratio"] = f["baseline_bytes"] / f["optimized_bytes"]
    forged_path = tmp_path / "forged.json"
    forged_path.write_text(json.dumps(forged), encoding="utf-8")
    result = cc.rederive(forged_path, root)
    assert not result["ok"] and any("optimized_bytes: claimed" in p for p in result["problems"]), result["problems"]
