"""Fork CI re-derives kata 20's capstone.json instead of trusting it (dojo.classroom.judge.rederive_capstone),
writes what it found into results.json, and the board ranks only what it verified as verified.

One quick submission (milestone 06's quick configuration, the reference solutions as the student's
package) is made once per module; fork CI's judge re-derives it, and a copy whose speedup was edited
upward (consistently, so the schema check passes), in guarded children, two at a time."""

import copy
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from dojo import ROOT
from dojo.classroom import board, ci, judge
from dojo.classroom import capstone_check as cc
from dojo.curriculum import Kata

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def _fork(folder: Path) -> Path:
    """A fork whose tinytorch/ is the reference solutions (a copy: fork CI reads only its copy)."""
    folder.mkdir(parents=True)
    shutil.copytree(ROOT / "solutions" / "tinytorch", folder / "tinytorch",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return folder


def forge_speedup(data: dict, factor: float) -> dict:
    """The submission with its speedup multiplied by ``factor``, every figure kept consistent with it."""
    forged = copy.deepcopy(data)
    f = forged["figures"]
    f["optimized_seconds"] = f["baseline_seconds"] / (f["speedup"] * factor)
    f["speedup"] = f["baseline_seconds"] / f["optimized_seconds"]
    f["speedup_ci"] = [v * factor for v in f["speedup_ci"]]
    f["optimized_tokens_per_s"] = f["batch"] * f["new_tokens"] / f["optimized_seconds"]
    assert cc.validate(forged) == []  # the schema cannot tell: only re-deriving can
    return forged


SNEAKY = """

_optimize = optimize


def optimize(*args, **kwargs):
    try:
        with open({target!r}, "w", encoding="utf-8") as handle:
            handle.write('{{"capstone": {{"status": "verified"}}}}')
    except PermissionError:
        pass
    return _optimize(*args, **kwargs)
"""


@pytest.fixture(scope="module")
def rederived(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("capstone-ci")
    honest = _fork(tmp / "honest")
    env = {**os.environ, "TINYTORCH_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "dojo.classroom.capstone_check", "submit", "--quick", "--impl", "solutions",
                           "--out", str(honest / "capstone.json")], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=240)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    data = cc.load(honest / "capstone.json")
    tampered = _fork(tmp / "tampered")
    (tampered / "capstone.json").write_text(json.dumps(forge_speedup(data, 20.0)), encoding="utf-8")

    sneaky = _fork(tmp / "sneaky")  # honest figures, but its optimize tries to write the verdict itself
    shutil.copy2(honest / "capstone.json", sneaky / "capstone.json")
    with open(sneaky / "tinytorch" / "capstone.py", "a", encoding="utf-8") as handle:
        handle.write(SNEAKY.format(target=str(sneaky / "results.json")))

    def run(fork):
        work = tmp / f"work-{fork.name}"
        work.mkdir()
        return judge.rederive_capstone(fork, ROOT, work, green=True)

    with ThreadPoolExecutor(2) as pool:
        names = ("honest", "tampered", "sneaky")
        records = dict(zip(names, pool.map(run, (honest, tampered, sneaky))))
    records["data"] = data
    records["tmp"] = tmp
    return records


def test_an_honest_quick_capstone_is_re_derived_and_verified(rederived):
    record = rederived["honest"]
    assert record["status"] == "verified", record["discrepancies"] + record["problems"]
    assert record["configuration"] == "quick" and not record["false_claim"] and record["guard"] == []
    claimed, verified = record["claimed"], record["verified"]
    assert (verified["baseline_bytes"], verified["optimized_bytes"]) == (claimed["baseline_bytes"], claimed["optimized_bytes"])
    assert abs(verified["optimized_loss"] - claimed["optimized_loss"]) <= cc.LOSS_TOLERANCE
    assert verified["consistency"] >= cc.CONSISTENCY and record["seconds"] > 0


def test_a_speedup_edited_upward_is_flagged_as_not_reproduced(rederived):
    record = rederived["tampered"]
    assert record["status"] == "not reproduced", record
    assert any(p.startswith("speedup: claimed") for p in record["discrepancies"]), record["discrepancies"]
    assert record["verified"]["speedup"] < record["claimed"]["speedup"] / cc.SPEED_SLACK
    # bytes and losses were not touched: a speedup alone is flagged, not failed (machines differ in speed)
    assert not record["false_claim"]


def test_code_that_reaches_for_the_verdict_while_re_deriving_is_refused_and_fails(rederived):
    """The student's optimize runs in the guarded child: writing results.json there is refused, logged
    with the student's file, and fails the run even though every figure is reproduced."""
    record = rederived["sneaky"]
    assert not (rederived["tmp"] / "sneaky" / "results.json").exists()
    assert record["status"] == "not reproduced" and record["false_claim"] and record["discrepancies"] == []
    assert any(r["where"].split(":")[0].endswith("capstone.py") and "writes a file" in r["what"] for r in record["guard"])
    assert any("fork CI's guard refused" in p for p in record["problems"])
    assert _run_with(record).exit_code == 1


def _run_with(capstone, kata_status="green"):
    kata = Kata(id="20", slug="capstone", title="Capstone", owns=("capstone.py",), requires=(), steps=())
    row = ci.Row(kata, status=kata_status, pytest_status=kata_status, passed=3, total=3)
    return ci.Run(rows=[row], mode="fork", tests_root=ROOT, fork=ROOT, capstone=capstone)


def test_results_json_junit_and_the_board_carry_what_fork_ci_found(rederived, monkeypatch):
    """The judge's records go into results.json (``capstone``), the JUnit file and the report; a
    cohort made of those results.json files (from a CI run) ranks the honest one as verified with
    the re-derived figures and lists the tampered one apart, not ranked."""
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_RUN_ID", "42")
    monkeypatch.setenv("GITHUB_REPOSITORY", "student/tinytorch-katas")
    cohort = rederived["tmp"] / "cohort"
    for name in ("honest", "tampered"):
        run = _run_with(rederived[name])
        assert run.exit_code == 0  # a speedup not reproduced is flagged, not failed
        written = ci.write_outputs(run, cohort / name, classroom=False, points=10)
        data = json.loads((cohort / name / "results.json").read_text(encoding="utf-8"))
        assert data["capstone"]["status"] == rederived[name]["status"] and data["run"]["ci"] == "github-actions"
        case = next(c for c in ET.parse(cohort / name / "junit.xml").getroot().iter("testcase")
                    if c.get("name") == "capstone.json figures are re-derived from the code")
        assert (case.find("failure") is None) == (name == "honest")
        text = ci.terminal_report(run, {"green": "ok", "red": "x", "broken": "!"})
        assert f"capstone.json (quick configuration): {rederived[name]['status'].upper()}" in text
        assert len(written) == 2
    assert "not reproduced: speedup: claimed" in ci.markdown_report(_run_with(rederived["tampered"]))
    lead = board.leaderboard(board.load_cohort(cohort))
    assert [(e["name"], e["figures_from"]) for e in lead["ranked"]] == [("honest", "verified")]
    assert lead["ranked"][0]["speedup"] == pytest.approx(rederived["honest"]["verified"]["speedup"])
    assert [e["name"] for e in lead["flagged"]] == ["tampered"] and "not reproduced by fork CI" in lead["flagged"][0]["problem"]


def test_what_is_not_re_derived_and_why(rederived, tmp_path):
    """No capstone.json: no record. Kata 20 not verified green, or a submission in the official
    configuration without CAPSTONE=1: the claims are recorded, not re-derived (no child runs). An
    invalid file: its problems."""
    assert judge.rederive_capstone(_fork(tmp_path / "none"), ROOT, tmp_path / "w0", green=True) is None
    fork = _fork(tmp_path / "red")
    shutil.copy2(rederived["tmp"] / "honest" / "capstone.json", fork / "capstone.json")
    record = judge.rederive_capstone(fork, ROOT, tmp_path / "w1", green=False)
    assert record["status"] == "not re-derived" and "kata 20 is not verified green" in record["reason"]
    assert record["claimed"] == rederived["data"]["figures"] and record["verified"] is None
    official = copy.deepcopy(rederived["data"])  # the same figures, claimed for the official configuration
    settings = cc.official_config()
    for section in ("model", "training", "data"):
        official["config"][section].update(settings[section])
    official["config"]["evaluation"] = {k: settings["evaluation"][k] for k in ("new_tokens", "prompt_len", "batch", "rounds")}
    f = official["figures"]
    f.update(official["config"]["evaluation"])
    f["baseline_tokens_per_s"] = f["batch"] * f["new_tokens"] / f["baseline_seconds"]
    f["optimized_tokens_per_s"] = f["batch"] * f["new_tokens"] / f["optimized_seconds"]
    assert cc.validate(official) == [] and cc.configuration_of(official) == "official"
    (fork / "capstone.json").write_text(json.dumps(official), encoding="utf-8")
    record = judge.rederive_capstone(fork, ROOT, tmp_path / "w2", green=True)
    assert record["status"] == "not re-derived" and "CAPSTONE=1" in record["reason"] and record["official"]
    (fork / "capstone.json").write_text("{", encoding="utf-8")
    record = judge.rederive_capstone(fork, ROOT, tmp_path / "w3", green=True)
    assert record["status"] == "invalid" and "not JSON" in record["problems"][0]


def test_a_deterministic_false_claim_fails_fork_ci():
    """Bytes, losses and consistency are the same on any machine: not reproduced, they fail the run;
    a speedup alone does not (see test_results_json_junit_and_the_board_carry_what_fork_ci_found)."""
    assert cc.discrepancy_kind("speedup: claimed 20.00×, re-measured 1.00×") == "speed"
    assert {cc.discrepancy_kind(p) for p in ("optimized_bytes: claimed 1, ...", "loss_delta: claimed ...",
                                               "only 50.0% of the optimized model's greedy tokens ...")} == {"deterministic"}
    record = {"status": "not reproduced", "configuration": "quick", "claimed": None, "verified": None,
              "discrepancies": ["optimized_bytes: claimed 1,000, the model's arrays hold 4,000"], "problems": [],
              "false_claim": True, "seconds": 3.0, "reason": ""}
    run = _run_with(record)
    assert run.exit_code == 1 and "capstone.json claims figures" in ci.headline(run)
    assert ci.headline(_run_with(None)).startswith("CI OK") and _run_with(None).exit_code == 0
