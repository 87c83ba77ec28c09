"""Step 6: submission — the report as a versioned JSON file, every figure taken from the report, nothing else invented."""

import json
import math

from dojo.classroom import capstone_check
from dojo.testing import raises
from tinytorch.capstone import FORMAT_VERSION, KIND, CapstoneReport, submission, write_submission

MODEL = {"vocab_size": 65, "block_size": 320, "n_layer": 3, "n_head": 4, "n_embd": 128}


def report(speedup=12.5, baseline_bytes=2_610_688, optimized_loss=2.031, **overrides):
    """A report as evaluate makes it (built by hand here, so that each figure is known)."""
    fields = dict(new_tokens=256, prompt_len=64, batch=4, rounds=3, baseline_seconds=10.0 * speedup / 12.5,
                  optimized_seconds=0.8, speedup=speedup, speedup_ci=(speedup * 0.9, speedup * 1.1),
                  baseline_bytes=baseline_bytes, optimized_bytes=684_040, baseline_loss=2.02,
                  optimized_loss=optimized_loss, token_agreement=0.93,
                  choices={"kv_cache": True, "backend": "fast", "weights": "int8", "low_rank": None},
                  model=dict(MODEL), settings={"new_tokens": 256, "prompt_len": 64, "batch": 4, "rounds": 3, "seed": 0},
                  environment={"python": "3.12.1", "numpy": "2.4.0", "blas_threads": 1, "load_average": [0.5, 0.4, 0.3]})
    return CapstoneReport(**{**fields, **overrides})


def test_the_submission_carries_the_reports_figures_choices_and_config():
    """format_version 1, kind, created; figures = report.figures(); choices; config = model + evaluation + the caller's meta; environment.

    Hint: submission (tinytorch/capstone.py) returns {'format_version': FORMAT_VERSION, 'kind': KIND,
    'created': UTC ISO time, 'figures': report.figures(), 'choices': ..., 'config': {'model':
    report.model, 'evaluation': report.settings, **meta}, 'environment': ...}.
    """
    r = report()
    data = submission(r, seed=3, training={"steps": 300, "corpus": "Tiny Shakespeare"})
    assert data["format_version"] == FORMAT_VERSION == 1 and data["kind"] == KIND == "tinytorch-capstone"
    assert isinstance(data["created"], str) and data["created"][:2] == "20" and "T" in data["created"], data.get("created")
    assert data["figures"] == r.figures()
    assert data["choices"] == r.choices and data["environment"] == r.environment
    assert data["config"] == {"model": MODEL, "evaluation": r.settings, "seed": 3,
                              "training": {"steps": 300, "corpus": "Tiny Shakespeare"}}, data["config"]
    assert json.loads(json.dumps(data, allow_nan=False)) == data, "plain JSON types only"


def test_other_figures_give_another_submission():
    """Nothing is hard-coded: a slower model, a bigger baseline or a worse loss changes the figures.

    Hint: take the figures from report.figures() every time; nothing in submission may be a constant.
    """
    base = submission(report())["figures"]
    for change, key, expected in ((dict(speedup=3.0), "speedup", 3.0),
                                  (dict(baseline_bytes=1_000_000), "size_ratio", 1_000_000 / 684_040),
                                  (dict(optimized_loss=2.5), "loss_delta", 2.5 - 2.02)):
        figures = submission(report(**change))["figures"]
        assert math.isclose(figures[key], expected) and figures[key] != base[key], (key, figures[key], expected)


def test_the_schema_check_accepts_it():
    """dojo.classroom.capstone_check.validate (what fork CI runs before re-deriving) finds no problem in it.

    Hint: dojo.classroom.capstone_check.validate lists what is wrong: look at the problems it names (a missing key, a
    figure of the wrong type, figures that disagree with each other).
    """
    problems = capstone_check.validate(submission(report(), seed=0, training={"steps": 1}))
    assert problems == [], problems


def test_what_json_cannot_hold_is_refused():
    """A NaN or infinite figure is a ValueError (JSON has no honest NaN); a meta value JSON cannot represent, a TypeError.

    Hint: raise ValueError when any figure is not finite (math.isfinite, speedup_ci is a list), then call
    json.dumps(data, allow_nan=False), which raises TypeError for objects JSON cannot hold.
    """
    with raises(ValueError):
        submission(report(optimized_loss=float("nan")))
    with raises(ValueError):
        submission(report(speedup_ci=(1.0, float("inf"))))
    with raises(TypeError):
        submission(report(), seed=object())


def test_write_submission_writes_the_json_and_nothing_else(tmp_path):
    """The file holds exactly the submission (indented, sorted keys, final newline); the folder holds nothing else.

    Hint: build the text first (json.dumps(submission(...), indent=2, sort_keys=True, allow_nan=False) +
    newline) so a refusal writes nothing, then write a temporary file in the same folder and os.replace it
    onto the path.
    """
    path = write_submission(tmp_path / "out" / "capstone.json", report(), seed=1)
    assert path == tmp_path / "out" / "capstone.json" and path.exists()
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n") and text.startswith("{\n  ")
    data = json.loads(text)
    expected = submission(report(), seed=1)
    assert {k: v for k, v in data.items() if k != "created"} == {k: v for k, v in expected.items() if k != "created"}
    assert list(data) == sorted(data), "keys sorted"
    assert [p.name for p in path.parent.iterdir()] == ["capstone.json"], "no temporary file left behind"
    with raises(ValueError):
        write_submission(path, report(speedup=float("nan")))
    assert json.loads(path.read_text(encoding="utf-8")) == data, "a failed write must leave the old file as it was"
    assert [p.name for p in path.parent.iterdir()] == ["capstone.json"]
