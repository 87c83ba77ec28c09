"""Fork CI (``python -m dojo ci``), end to end in throwaway mini repositories that carry the real
kata 01 and 02 tests: honest forks pass, false claims and tampering fail, upstream tests win.

A fork-CI run costs seconds of subprocesses (the probes and pytest), so each situation below is a
*scenario*: a function that builds a fork (a copy of one template) and runs fork CI on it. The
scenarios the selected tests use start when the module does, two at a time (one per core); each
test asserts on its scenario's result, and tests that assert different things about the same
situation share one run. A scenario about one kata verifies only that kata (``--katas``: the
judge still decides it fully: manifest of the whole fork, hashes, probes, canaries)."""

import base64
import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

import pytest

from dojo import ROOT
from dojo.classroom import ci, judge, manifest
from dojo.curriculum import Kata, Step
from tests import minirepo

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]  # whole pytest sessions in subprocesses

KATAS = {"01_tensor": minirepo.STEPS01, "02_activations": minirepo.STEPS02}


def _build(tmp: Path) -> Path:
    """The mini repository with the real tests of katas 01 and 02 and a fresh manifest."""
    root = minirepo.copy_of(minirepo.template("stubs", minirepo.build), tmp)
    for folder, steps in KATAS.items():
        target = root / "katas" / folder
        for old in target.glob("test_*.py"):
            old.unlink()
        for number, step in enumerate(steps, start=1):
            source = ROOT / "katas" / folder / f"test_{number:02d}_{step}.py"
            assert source.exists(), f"the mini curriculum's step {step} has no real test file {source.name}"
            shutil.copy2(source, target / source.name)
    done = minirepo.run(root, "-m", "dojo", "manifest")
    assert done.returncode == 0, done.stderr
    minirepo.warm(root)
    return root


def make_repo(tmp: Path) -> Path:
    """A private copy (``tmp/repo``) of the mini repository with the real kata 01 and 02 tests."""
    return minirepo.copy_of(minirepo.template("ci", _build), tmp)


def run_ci(root, *args, env=None):
    return minirepo.run(root, "-m", "dojo", "ci", *args, env=env, timeout=300)


def claim(root, **statuses):
    lines = ["format_version = 1", ""]
    for kata, status in statuses.items():
        lines += [f'[katas."{kata[1:]}"]', f'status = "{status}"', "passed = 1", "total = 1", ""]
    (root / "progress.toml").write_text("\n".join(lines), encoding="utf-8")


def results(root) -> dict:
    return json.loads((root / "results.json").read_text(encoding="utf-8"))


# -- scenarios: built and run two at a time ------------------------------------------------------

scenarios = minirepo.Scenarios(workers=2)
scenario_runs = scenarios.runner()


def _build_upstream(tmp: Path) -> Path:
    root = make_repo(tmp)
    (root / "dojo" / "classroom" / "judge.py").write_text(
        (root / "dojo" / "classroom" / "judge.py").read_text(encoding="utf-8") + "\nprint('UPSTREAM JUDGE')\n", encoding="utf-8"
    )
    return root


def upstream_repo() -> Path:
    """The upstream course, shared by the scenarios that only read it; its judge says when it runs."""
    return minirepo.template("ci-upstream", _build_upstream)


# `python -m dojo ci ...`, then the modules the judge's process loaded: tinytorch must not be one
# (it runs the probes and pytest in other processes).
CI_THEN_MODULES = (
    "import sys\nfrom dojo.cli import main\ncode = main(sys.argv[1:])\n"
    "print('LOADED', sorted(m for m in sys.modules if m.split('.')[0] in ('tinytorch', 'solutions', 'pytest', '_pytest', 'hypothesis')))\n"
    "sys.exit(code)\n"
)


@scenarios.add
def honest(tmp):
    """Kata 01 solved and recorded green by the student's own run, kata 02's relu step revealed
    (the rest of it a stub); one CI run with the GitHub step summary, --classroom, POINTS=5,
    --out and $GITHUB_OUTPUT, through the CLI, listing the judge's modules afterwards."""
    repo = make_repo(tmp)
    minirepo.solve(repo, "tensor.py")
    recorded = minirepo.run(repo, "-m", "dojo", "kata", "01")  # the student's own run records 01 green
    revealed = minirepo.run(repo, "-m", "dojo", "reveal", "02", "1")  # relu only
    out, summary, output = tmp / "out", tmp / "step-summary.md", tmp / "github-output"
    done = minirepo.run(repo, "-c", CI_THEN_MODULES, "ci", "--classroom", "--out", str(out), timeout=300,
                        env={"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(output), "POINTS": "5"})
    return SimpleNamespace(repo=repo, recorded=recorded, revealed=revealed, done=done, out=out, summary=summary, output=output)


def test_honest_fork_part_way_exits_0_and_writes_the_step_summary(honest):
    assert honest.recorded.returncode == 0, honest.recorded.stdout
    assert honest.revealed.returncode == 0, honest.revealed.stderr
    done = honest.done
    assert done.returncode == 0, done.stdout + done.stderr
    assert "CI OK: 1/2 katas verified green" in done.stdout
    text = honest.summary.read_text(encoding="utf-8")
    assert "| kata | claimed (progress.toml) | verified | tests | |" in text
    assert re.search(r"\| 01 Tensor \| ✅ green (\d+)/\1 \| ✅ green \| \1/\1 \|", text), text
    relu = re.search(r"\| 02 Activations \| - \| ❌ red \| (\d+)/(\d+) \|", text)
    assert relu and 0 < int(relu.group(1)) < int(relu.group(2)), text  # the revealed relu step passes, the rest is red
    data = results(honest.out)
    assert data["format_version"] == 1 and data["exit_code"] == 0 and data["tests_from"] == "fork"
    assert data["katas"]["01"]["status"] == "green" and data["katas"]["02"]["status"] == "red"
    assert data["katas"]["01"]["verdict"] == "ok" and data["katas"]["01"]["claimed"] == "green"
    assert data["summary"]["regressions"] == [] and data["tampering"] == []
    suites = {s.get("name"): s for s in ET.parse(honest.out / "junit.xml").getroot()}
    assert int(suites["pytest"].get("tests")) > 100 and suites["dojo-ci"].get("failures") == "0"
    assert not (honest.repo / "results.json").exists()  # --out: nothing written into the fork


def test_classroom_result_gives_partial_points(honest):
    assert honest.done.returncode == 0, honest.done.stdout
    line = honest.output.read_text(encoding="utf-8").strip()
    assert line.startswith("result=")
    result = json.loads(base64.b64decode(line[len("result="):]))
    assert result == json.loads((honest.out / "classroom.json").read_text(encoding="utf-8"))
    assert result["version"] == 1 and result["status"] == "fail" and result["max_score"] == 10
    tensor, activations = result["tests"]
    assert tensor["name"] == "kata 01 Tensor" and tensor["status"] == "pass" and tensor["score"] == 5
    assert activations["status"] == "fail" and 0 < activations["score"] < 5
    assert set(tensor) >= {"name", "status", "score", "message", "test_code"}


def test_the_judge_never_imports_student_code(honest):
    """The judge runs the probes and pytest in other processes: tinytorch never enters its own
    (nor pytest or hypothesis: nothing that runs the student's code)."""
    assert "LOADED []" in honest.done.stdout, honest.done.stdout


# -- claims and tampering ----------------------------------------------------------------------


@scenarios.add
def false_claim(tmp):
    """Kata 01 solved; progress.toml claims 01 and 02 green (02 is still the stub)."""
    repo = make_repo(tmp)
    minirepo.solve(repo, "tensor.py")
    claim(repo, k01="green", k02="green")
    before = (repo / "progress.toml").read_bytes()
    return SimpleNamespace(repo=repo, before=before, done=run_ci(repo))


def test_a_false_claim_is_reported_and_fails(false_claim):
    repo, done = false_claim.repo, false_claim.done
    assert done.returncode == 1
    assert "REGRESSION: claimed green, verified red" in done.stdout
    assert "CI FAILED: kata 02 claimed green in progress.toml but verified red" in done.stdout
    assert "first failure: test_01_relu.py::" in done.stdout
    data = results(repo)
    assert data["summary"]["regressions"] == ["02"] and data["katas"]["01"]["verdict"] == "ok"
    failures = [c.get("name") for c in ET.parse(repo / "junit.xml").getroot().iter("testcase") if c.find("failure") is not None and c.get("classname") == "dojo-ci"]
    assert failures == ["kata 02 claimed green is green"]
    assert (repo / "progress.toml").read_bytes() == false_claim.before  # never trusted, never written


@scenarios.add
def build_files(tmp):
    """A fork whose dojo/classroom/ci.py always says OK, which commits a setup.py, a Makefile, a pytest.ini
    and conftest.py files that would install or load a plugin (each writes a marker when it
    runs), adds katas/conftest.py, replaces its relu test by `assert True` and claims 01 and 02
    green. First graded by the upstream's harness (`--fork`, as the workflow does); then, with
    its dojo/classroom/ci.py and conftest.py restored, by its own (fork mode, kata 02 only)."""
    upstream, fork = upstream_repo(), make_repo(tmp)
    marker = tmp / "fork-code-ran"
    original = {name: (fork / name).read_text(encoding="utf-8") for name in ("dojo/classroom/ci.py", "conftest.py")}
    (fork / "dojo" / "classroom" / "ci.py").write_text(
        "def add_arguments(parser):\n    pass\n\n\ndef main(args):\n    print('CI OK: 2/2 katas verified green')\n    return 0\n", encoding="utf-8"
    )
    for name in ("setup.py", "conftest.py", "tinytorch/conftest.py"):
        (fork / name).write_text(f"open({str(marker)!r}, 'a').write({name!r})\n", encoding="utf-8")
    (fork / "Makefile").write_text("ci:\n\t@echo 'CI OK: 2/2 katas verified green'\n", encoding="utf-8")
    (fork / "pytest.ini").write_text("[pytest]\naddopts = -p no:dojo.student.plugin\n", encoding="utf-8")
    test = fork / "katas" / "02_activations" / "test_01_relu.py"
    source = test.read_text(encoding="utf-8")
    body = source.index('    """', source.index("def test_"))
    test.write_text(source[:body] + "    assert True\n", encoding="utf-8")
    (fork / "katas" / "conftest.py").write_text("ANSWER = 42\n", encoding="utf-8")
    claim(fork, k01="green", k02="green")
    graded = minirepo.run(upstream, "-m", "dojo", "ci", "--fork", str(fork), "--out", str(tmp / "out"), timeout=300)
    marker_after_upstream = marker.read_text() if marker.exists() else None
    for name, text in original.items():
        (fork / name).write_text(text, encoding="utf-8")
    own = run_ci(fork, "--katas", "02")
    return SimpleNamespace(fork=fork, upstream=upstream, out=tmp / "out", graded=graded, marker=marker_after_upstream, own=own)


def test_a_kata_test_replaced_by_assert_true_is_tampering(build_files):
    done = build_files.own
    assert done.returncode == 1
    assert "TAMPERING" in done.stdout and "katas/02_activations/test_01_relu.py: changed" in done.stdout
    assert "CI FAILED: the kata tests were changed" in done.stdout
    assert results(build_files.fork)["tampering"]


def test_an_added_conftest_is_tampering(build_files):
    done = build_files.own
    assert done.returncode == 1 and "katas/conftest.py: added" in done.stdout


@scenarios.add
def deleted_manifest(tmp):
    """A fork without katas/MANIFEST.json (kata 02 verified)."""
    repo = make_repo(tmp)
    (repo / "katas" / "MANIFEST.json").unlink()
    return SimpleNamespace(repo=repo, done=run_ci(repo, "--katas", "02"))


def test_a_deleted_manifest_is_tampering(deleted_manifest):
    done = deleted_manifest.done
    assert done.returncode == 1 and "katas/MANIFEST.json is missing" in done.stdout


# -- upstream mode -----------------------------------------------------------------------------


@scenarios.add
def handed_over(tmp):
    """`KATAS_UPSTREAM=path make ci` from a fork that solved kata 01 (claimed) and replaced its
    relu test by `assert True`."""
    upstream, fork = upstream_repo(), make_repo(tmp)
    minirepo.solve(fork, "tensor.py")
    claim(fork, k01="green")
    test = fork / "katas" / "02_activations" / "test_01_relu.py"
    test.write_text("def test_relu_clips_negatives():\n    assert True\n", encoding="utf-8")
    return SimpleNamespace(fork=fork, upstream=upstream, done=run_ci(fork, env={"KATAS_UPSTREAM": str(upstream)}))


def test_upstream_tests_are_used_instead_of_the_forks(handed_over):
    done = handed_over.done
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"upstream tests from {handed_over.upstream.resolve()}" in done.stdout and "TAMPERING" not in done.stdout
    data = results(handed_over.fork)
    assert data["tests_from"] == "upstream" and data["katas"]["01"]["status"] == "green"
    relu = next(s for s in data["katas"]["02"]["steps"] if s["name"] == "relu")
    assert relu["passed"] == 0 and relu["total"] > 1  # the upstream's relu tests, not the fork's `assert True`


def test_the_fork_harness_hands_upstream_mode_over_to_the_upstream_harness(handed_over):
    """`KATAS_UPSTREAM=path make ci` from the fork: the upstream's `dojo ci --fork` decides."""
    done = handed_over.done
    assert done.returncode == 0, done.stdout + done.stderr
    assert "upstream mode: the upstream's harness" in done.stdout and "UPSTREAM JUDGE" in done.stdout
    assert results(handed_over.fork)["tests_from"] == "upstream"


def test_upstream_mode_ignores_the_forks_harness_and_build_files(build_files):
    """The workflow runs the upstream's own harness (`make -C .upstream ci FORK=...`): the fork's
    always-OK dojo/classroom/ci.py, setup.py, Makefile, pytest.ini and conftest.py files never run and it
    gets the honest verdict; in fork mode (its own tests and harness) each one is named as
    tampering."""
    done = build_files.graded
    assert done.returncode == 1, done.stdout + done.stderr  # both claims are false: the stubs are red
    assert f"upstream tests from {build_files.upstream.resolve()}" in done.stdout and "TAMPERING" not in done.stdout
    assert "CI FAILED: kata 01, 02 claimed green in progress.toml but verified red" in done.stdout
    assert build_files.marker is None, build_files.marker
    data = json.loads((build_files.out / "results.json").read_text(encoding="utf-8"))
    assert data["tests_from"] == "upstream" and data["summary"]["green"] == 0
    relu = next(s for s in data["katas"]["02"]["steps"] if s["name"] == "relu")
    assert relu["passed"] == 0 and relu["total"] > 1  # the upstream's relu tests, not the fork's `assert True`
    own = build_files.own
    assert own.returncode == 1, own.stdout + own.stderr
    for name in ("setup.py: added", "tinytorch/conftest.py: added", "Makefile: added", "pytest.ini: added"):
        assert name in own.stdout, name
    assert "CI FAILED: the kata tests were changed" in own.stdout


# -- runs that end badly -----------------------------------------------------------------------


@scenarios.add
def infinite_loop(tmp):
    """Kata 01 solved except an endless loop in Tensor.__matmul__, TIMEOUT=1."""
    repo = make_repo(tmp)
    minirepo.solve(repo, "tensor.py")
    tensor = repo / "tinytorch" / "tensor.py"
    source = tensor.read_text(encoding="utf-8")
    tensor.write_text(source.replace("    def __matmul__(self, other):\n", "    def __matmul__(self, other):\n        while True:\n            pass\n", 1), encoding="utf-8")
    return SimpleNamespace(repo=repo, done=run_ci(repo, env={"TIMEOUT": "1"}))


def test_an_infinite_loop_does_not_hide_the_later_katas(infinite_loop):
    assert infinite_loop.done.returncode == 0, infinite_loop.done.stdout
    data = results(infinite_loop.repo)
    assert data["katas"]["01"]["status"] == "red" and data["katas"]["02"]["status"] == "red"
    assert data["katas"]["02"]["total"] > 10  # run in a second session after kata 01's timeout


@scenarios.add
def killed(tmp):
    """Kata 01 solved and claimed; kata 02's relu calls os._exit(3)."""
    repo = make_repo(tmp)
    minirepo.solve(repo, "tensor.py")
    claim(repo, k01="green")
    activations = repo / "tinytorch" / "activations.py"
    source = activations.read_text(encoding="utf-8")
    activations.write_text(source.replace('raise NotImplementedError("not implemented yet: relu', 'import os; os._exit(3)  # "not implemented yet: relu', 1), encoding="utf-8")
    return SimpleNamespace(repo=repo, done=run_ci(repo))


def test_a_kata_that_kills_the_test_process_is_isolated(killed):
    assert killed.done.returncode == 0, killed.done.stdout + killed.done.stderr
    data = results(killed.repo)
    assert data["katas"]["01"]["status"] == "green"
    assert data["katas"]["02"]["status"] == "broken" and "died without results" in data["katas"]["02"]["message"]


# -- verdicts the student's code cannot forge ------------------------------------------------

PATCH_PYTEST = '''

# Added by a student who wants green without the work: every test reports as passed.
import sys as _sys

if "_pytest" in _sys.modules:
    import _pytest.reports as _reports
    import _pytest.runner as _runner

    _original = _reports.TestReport.from_item_and_call.__func__

    def _always_passed(cls, item, call):
        report = _original(cls, item, call)
        if report.when == "call" and ({only_katas} or True):
            report.outcome = "passed"
            report.longrepr = None
        return report

    _reports.TestReport.from_item_and_call = classmethod(_always_passed)
    _runner.TestReport = _reports.TestReport
'''



@scenarios.add
def patched_pytest(tmp):
    """The attack of issue 9: ~25 lines in tinytorch/__init__.py turn every report into a pass
    (claims 01 and 02 green; kata 02 verified, with --classroom)."""
    repo = make_repo(tmp)
    claim(repo, k01="green", k02="green")
    init = repo / "tinytorch" / "__init__.py"
    init.write_text(init.read_text(encoding="utf-8") + PATCH_PYTEST.replace("{only_katas}", "False"), encoding="utf-8")
    return SimpleNamespace(repo=repo, done=run_ci(repo, "--classroom", "--katas", "02", env={"CLASSROOM": "1"}))


def test_a_fork_that_patches_pytest_at_import_time_verifies_no_kata(patched_pytest):
    """The canaries (tests that must fail) come back passed: the run is tampered, nothing verified."""
    repo, done = patched_pytest.repo, patched_pytest.done
    assert done.returncode == 1, done.stdout + done.stderr
    assert "TAMPERED RUN" in done.stdout and "a test that fails with a plain assert, was reported passed" in done.stdout
    assert "CI FAILED: the test run was tampered with" in done.stdout
    data = results(repo)
    assert data["summary"]["green"] == 0 and all(k["status"] != "green" and not k["verified"] for k in data["katas"].values())
    assert data["katas"]["02"]["pytest_status"] == "green"  # what the forged run claimed
    assert any("canary" in p for p in data["tampering"])
    classroom = json.loads((repo / "classroom.json").read_text(encoding="utf-8"))
    assert classroom["status"] == "error" and sum(t["score"] for t in classroom["tests"]) == 0


@scenarios.add
def spared_canaries(tmp):
    """A subtler patch passes only the tests under katas/ (kata 02 verified)."""
    repo = make_repo(tmp)
    init = repo / "tinytorch" / "__init__.py"
    patch = PATCH_PYTEST.replace("({only_katas} or True)", '"/katas/" in str(item.fspath).replace("\\\\\\\\", "/")')
    init.write_text(init.read_text(encoding="utf-8") + patch, encoding="utf-8")
    return SimpleNamespace(repo=repo, done=run_ci(repo, "--katas", "02"))


def test_a_patch_that_spares_the_canaries_is_caught_by_the_probes(spared_canaries):
    """The canaries fail as they should, but the probes, run in another process on fresh inputs,
    disagree with the reference."""
    repo, done = spared_canaries.repo, spared_canaries.done
    assert done.returncode == 1, done.stdout + done.stderr
    assert "TAMPERED RUN" not in done.stdout
    assert "pytest reports green but the probes disagree with the reference" in done.stdout
    data = results(repo)
    entry = data["katas"]["02"]
    assert entry["pytest_status"] == "green" and entry["status"] == "red" and not entry["verified"]
    assert entry["probes"]["agree"] == 0 and entry["probes"]["total"] > 0
    assert data["summary"]["green"] == 0


@scenarios.add
def loads_solutions(tmp):
    """tensor.py: `from solutions.tinytorch.tensor import *`; activations.py: the same hidden
    behind importlib and a computed name; both katas claimed green."""
    repo = make_repo(tmp)
    (repo / "tinytorch" / "tensor.py").write_text(
        "from solutions.tinytorch.tensor import *  # noqa\nfrom solutions.tinytorch.tensor import _check_axis, op, record_op  # noqa\n",
        encoding="utf-8")
    hidden = repo / "tinytorch" / "activations.py"
    hidden.write_text(
        "import importlib, os, sys\n"
        "sys.path.insert(0, os.getcwd())\n"
        "_ref = importlib.import_module('sol' + 'utions.tinytorch.activations')\n"
        "globals().update({k: v for k, v in vars(_ref).items() if not k.startswith('__')})\n",
        encoding="utf-8")
    claim(repo, k01="green", k02="green")
    return SimpleNamespace(repo=repo, hidden=hidden, done=run_ci(repo))


def test_code_that_loads_the_solutions_is_not_counted(loads_solutions):
    """The plain import is caught by the static scan and refused at run time; the importlib one
    only at run time. Each kata is reported as not the student's work, naming its own file, and
    neither is verified."""
    assert judge.scan_file(loads_solutions.hidden) == []  # only the run-time guard can catch this one
    repo, done = loads_solutions.repo, loads_solutions.done
    assert done.returncode == 1, done.stdout + done.stderr
    for kid, title in (("01", "Tensor"), ("02", "Activations")):
        assert f"kata {kid} {title} is not counted: its code imports or loads the reference solutions/" in done.stdout
    data = results(repo)
    for kid, own in (("01", "tinytorch/tensor.py"), ("02", "tinytorch/activations.py")):
        entry = data["katas"][kid]
        assert entry["status"] != "green" and not entry["verified"] and entry["not_student_work"]
        assert all(own in m for m in entry["not_student_work"]), entry["not_student_work"]
    assert data["checks"]["solutions_loaded"] == ["01", "02"]


@scenarios.add
def one_example(tmp):
    """Katas 01 and 02 solved, but tinytorch/__init__.py loads a hypothesis profile of one example
    per property (kata 02 verified)."""
    repo = make_repo(tmp)
    minirepo.solve(repo, "tensor.py", "activations.py")
    init = repo / "tinytorch" / "__init__.py"
    init.write_text(
        init.read_text(encoding="utf-8")
        + "\nfrom hypothesis import settings as _settings\n\n_settings.register_profile('quick', max_examples=1)\n_settings.load_profile('quick')\n",
        encoding="utf-8",
    )
    return SimpleNamespace(repo=repo, done=run_ci(repo, "--katas", "02"))


def test_a_hypothesis_profile_with_one_example_is_caught(one_example):
    """The hypothesis canary (fails only after 20 examples) passes, so the run verifies nothing."""
    repo, done = one_example.repo, one_example.done
    assert done.returncode == 1, done.stdout + done.stderr
    assert "hypothesis ran fewer examples than the ci profile" in done.stdout
    data = results(repo)
    assert data["katas"]["02"]["pytest_status"] == "green" and data["katas"]["02"]["status"] == "red"
    assert data["summary"]["green"] == 0


# -- pure parts ------------------------------------------------------------------------------


def _row(kid, status, passed, total, claimed=""):
    kata = Kata(id=kid, slug=f"k{kid}", title=f"Kata {kid}", owns=(), requires=(), steps=(Step(1, "s", "S", ()),))
    return ci.Row(kata, status=status, passed=passed, total=total, claimed=claimed)


def test_verdicts_and_exit_codes():
    run = ci.Run(rows=[_row("01", "green", 3, 3, "green"), _row("02", "red", 1, 4, "")], mode="fork", tests_root=Path("."), fork=Path("."))
    assert run.exit_code == 0 and [r.verdict for r in run.rows] == ["ok", "ok"]
    run.rows.append(_row("03", "broken", 0, 0, "green"))
    assert run.exit_code == 1 and run.rows[2].verdict == "regression"
    run.rows.pop()
    run.rows.append(_row("04", "green", 2, 2, "red"))
    assert run.exit_code == 0 and run.rows[2].verdict == "green, not yet claimed"
    run.error = "pytest wrote no results"
    assert run.exit_code == 2
    run.tampering = ["katas/x.py: changed"]
    assert run.exit_code == 1  # tampering is the news even when the run then failed
    run.tampering, run.error = [], ""
    run.altered = ["canary test_c1_assert, a test that fails with a plain assert, was reported passed"]
    assert run.exit_code == 1
    run.altered = []
    row = _row("05", "green", 2, 2)
    row.not_student_work = ["tinytorch/tensor.py:1: import solutions.tinytorch.tensor"]
    run.rows.append(row)
    assert run.exit_code == 1 and run.borrowed == [row] and row.credited == 0


def test_classroom_scores_are_proportional_and_zero_when_tampered():
    run = ci.Run(rows=[_row("01", "green", 3, 3), _row("02", "red", 1, 4), _row("03", "red", 0, 0)], mode="fork", tests_root=Path("."), fork=Path("."))
    result = ci.classroom_result(run, points=10)
    assert [t["score"] for t in result["tests"]] == [10.0, 2.5, 0.0]
    assert result["max_score"] == 30 and result["status"] == "fail"
    decoded = json.loads(base64.b64decode(ci.encode_classroom(result)))
    assert decoded == result
    run.tampering = ["katas/x.py: changed"]
    tampered = ci.classroom_result(run, points=10)
    assert tampered["status"] == "error" and all(t["score"] == 0 for t in tampered["tests"])


def test_claims_never_raise(tmp_path):
    path = tmp_path / "progress.toml"
    assert ci.read_claims(path) == ({}, "no progress.toml: nothing claimed")
    path.write_text("format_version = 1\n[katas.01\n", encoding="utf-8")
    claims, warning = ci.read_claims(path)
    assert claims == {} and "cannot be read" in warning
    path.write_text("format_version = 7\n", encoding="utf-8")
    assert "format_version 7" in ci.read_claims(path)[1]
    path.write_text('format_version = 1\n[katas.01]\nstatus = "green"\n', encoding="utf-8")
    assert ci.read_claims(path) == ({"01": {"status": "green"}}, "")


def test_kata_selection():
    from dojo import curriculum

    c = curriculum.load()
    ids = [k.id for k in c.katas]
    assert [k.id for k in ci.select_katas(c, None)] == ids
    assert [k.id for k in ci.select_katas(c, "01-03")] == [i for i in ids if 1 <= int(i) <= 3]
    assert [k.id for k in ci.select_katas(c, "2, 1")] == [i for i in ids if i in ("01", "02")]


def test_manifest_detects_changes_additions_and_deletions_but_not_line_endings(tmp_path):
    root = tmp_path / "r"
    (root / "katas" / "01_x").mkdir(parents=True)
    (root / "dojo" / "student").mkdir(parents=True)
    (root / "katas" / "curriculum.toml").write_text("format_version = 1\n", encoding="utf-8")
    test = root / "katas" / "01_x" / "test_01_a.py"
    test.write_text("def test_a():\n    assert 1 + 1 == 2\n", encoding="utf-8")
    (root / "dojo" / "student" / "plugin.py").write_text("x = 1\n", encoding="utf-8")
    manifest.write(root)
    assert manifest.verify(root).ok and manifest.stale(root) == []
    test.write_bytes(test.read_bytes().replace(b"\n", b"\r\n"))  # a Windows checkout
    assert manifest.verify(root).ok
    test.write_text("def test_a():\n    assert True\n", encoding="utf-8")
    (root / "katas" / "01_x" / "helper.py").write_text("", encoding="utf-8")
    (root / "dojo" / "student" / "plugin.py").unlink()
    verdict = manifest.verify(root)
    assert verdict.modified == ["katas/01_x/test_01_a.py"]
    assert verdict.unexpected == ["katas/01_x/helper.py"] and verdict.missing == ["dojo/student/plugin.py"]
    assert manifest.stale(root)[0].startswith("katas/MANIFEST.json is stale")


def test_manifest_covers_what_changes_a_run_but_not_a_students_scratch_file(tmp_path):
    root = tmp_path / "r"
    (root / "katas").mkdir(parents=True)
    (root / "dojo" / "student").mkdir(parents=True)
    (root / "solutions" / "tinytorch").mkdir(parents=True)
    (root / "tinytorch").mkdir()
    (root / "katas" / "curriculum.toml").write_text("format_version = 1\n", encoding="utf-8")
    (root / "dojo" / "student" / "plugin.py").write_text("x = 1\n", encoding="utf-8")
    (root / "solutions" / "tinytorch" / "tensor.py").write_text("X = 1\n", encoding="utf-8")
    (root / "milestones" / "data").mkdir(parents=True)
    (root / "milestones" / "m06_systems.py").write_text("STEPS = 500\n", encoding="utf-8")
    (root / "milestones" / "data" / "excerpt.txt").write_text("To be\n", encoding="utf-8")
    manifest.write(root)
    assert manifest.verify(root).ok
    (root / "scratch.py").write_text("print('trying things')\n", encoding="utf-8")  # a student's experiment
    (root / "tinytorch" / "tensor.py").write_text("X = 2\n", encoding="utf-8")  # the student's own work
    assert manifest.verify(root).ok
    for name in ("numpy.py", "setup.py", "setup.cfg", "tox.ini", "pytest.ini", "Makefile", "evil.pth",
                 "tinytorch/conftest.py", "katas/pytest.ini", ".github/workflows/katas.yml", "hypothesis/__init__.py"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("# added\n", encoding="utf-8")
    (root / "solutions" / "tinytorch" / "tensor.py").write_text("X = 3\n", encoding="utf-8")
    (root / "milestones" / "m06_systems.py").write_text("STEPS = 1\n", encoding="utf-8")  # a shorter baseline training
    (root / "milestones" / "data" / "excerpt.txt").write_text("Not to be\n", encoding="utf-8")
    verdict = manifest.verify(root)
    assert verdict.modified == ["milestones/data/excerpt.txt", "milestones/m06_systems.py", "solutions/tinytorch/tensor.py"]
    assert set(verdict.unexpected) == {"numpy.py", "setup.py", "setup.cfg", "tox.ini", "pytest.ini", "Makefile", "evil.pth",
                                       "tinytorch/conftest.py", "katas/pytest.ini", ".github/workflows/katas.yml", "hypothesis/__init__.py"}
