"""The pieces of fork CI's judge (dojo.classroom.judge) and the guard (dojo.classroom.guard), one by one: comparing
probe results, the static scan for solutions/, the canaries, the before/after hashes, and the
audit hook that refuses what the student's code may not do."""

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from dojo import ROOT, curriculum
from dojo.classroom import judge

# Tests that start Python processes: seconds each on a busy machine, past the 10 s default limit.
SUBPROCESSES = pytest.mark.timeout(120)


def _record(values=None, status="ok", error=(), step="s", message=""):
    return {"step": step, "rtol": 1e-4, "atol": 1e-5, "status": status, "error": list(error), "message": message,
            "values": {k: (None if v is None else np.asarray(v)) for k, v in (values or {}).items()}}


def test_compare_agrees_within_tolerance_and_says_why_not():
    ref = {"a": _record({"y": [1.0, 2.0]}), "b": _record(status="raised", error=["ValueError", "Exception"], step="t"),
           "c": _record({"ids": [1, 2, 3], "name": "abc", "nothing": None}, step="u")}
    same = {"a": _record({"y": [1.0 + 1e-6, 2.0]}), "b": _record(status="raised", error=["MyError", "ValueError", "Exception"]),
            "c": _record({"ids": [1, 2, 3], "name": "abc", "nothing": None})}
    assert judge.compare(ref, same).ok
    wrong = {"a": _record({"y": [1.0, 2.1]}), "b": _record(status="raised", error=["NotImplementedError", "RuntimeError"]),
             "c": _record({"ids": [1, 2, 4], "name": "abc", "nothing": None})}
    result = judge.compare(ref, wrong)
    assert result.agree == 0 and result.total == 3 and result.steps_failing == {"s", "t", "u"}
    whys = {d["probe"]: d["why"] for d in result.disagree}
    assert "expected 2.0" in whys["a"] and "NotImplementedError" in whys["b"] and "ids" in whys["c"]
    shape = judge.compare(ref, {"a": _record({"y": [[1.0, 2.0]]})})
    assert "shape (1, 2), expected (2,)" in shape.disagree[0]["why"]
    assert "no result" in {d["why"] for d in shape.disagree}  # b and c are missing
    raised_instead = judge.compare({"b": ref["b"]}, {"b": _record({"y": [1.0]})})
    assert "returned a value; the reference raises ValueError" in raised_instead.disagree[0]["why"]
    other_error = judge.compare({"b": ref["b"]}, {"b": _record(status="raised", error=["TypeError", "Exception"])})
    assert "raised TypeError; the reference raises ValueError" in other_error.disagree[0]["why"]
    assert not judge.compare({}, {}).ok  # no probe at all verifies nothing


def test_probe_files_are_read_without_pickles(tmp_path):
    (tmp_path / "01.json").write_text(json.dumps({"kata": "01", "probes": {"p": {"status": "ok", "values": {"v": {"array": "a"}}}}}))
    np.savez(tmp_path / "01.npz", a=np.array([object()], dtype=object))
    try:
        judge.load_kata(tmp_path, "01")
    except ValueError as error:
        assert "pickle" in str(error).lower() or "object" in str(error).lower()
    else:
        raise AssertionError("an object array was loaded")
    np.savez(tmp_path / "01.npz", b=np.ones(2))
    try:
        judge.load_kata(tmp_path, "01")
    except ValueError as error:
        assert "no array" in str(error)
    else:
        raise AssertionError("a value without its array was accepted")


def test_static_scan_finds_imports_and_paths_of_the_solutions(tmp_path):
    package = tmp_path / "tinytorch"
    package.mkdir()
    (package / "tensor.py").write_text(
        '"""Unlike the solutions, this docstring mentions solutions/ harmlessly."""\n'
        "import numpy as np\nfrom solutions.tinytorch import tensor as _t\n", encoding="utf-8")
    (package / "activations.py").write_text("import importlib\nref = importlib.import_module('solutions.tinytorch.activations')\n", encoding="utf-8")
    (package / "layers.py").write_text("SOURCE = open('../solutions/tinytorch/layers.py').read()\n", encoding="utf-8")
    (package / "losses.py").write_text("# solutions are not used here\nx = 'resolutions'\n", encoding="utf-8")
    (package / "__init__.py").write_text("import sys\nsys.path.append('solutions')\n", encoding="utf-8")
    c = curriculum.load()
    katas = [c.kata(k) for k in ("01", "02", "03", "04")]
    found = judge.scan_for_solutions(package, c, katas)
    assert any("tensor.py:3: from solutions.tinytorch import" in m for m in found["01"])
    assert any("activations.py:2" in m for m in found["02"]) and any("layers.py:1" in m for m in found["03"])
    assert all("__init__.py:2" in " ".join(found[k.id]) for k in katas)  # an unowned file counts against every kata
    assert not any("losses.py" in m for m in found["04"])  # a comment and an unrelated word are fine
    assert not any("tensor.py:1" in m for m in found["01"])  # docstrings are fine


def test_static_scan_flags_a_link_out_of_the_package(tmp_path):
    package = tmp_path / "tinytorch"
    package.mkdir()
    (tmp_path / "solutions").mkdir()
    (tmp_path / "solutions" / "tensor.py").write_text("X = 1\n")
    try:
        (package / "tensor.py").symlink_to(tmp_path / "solutions" / "tensor.py")
    except OSError:  # Windows without the privilege to create links
        return
    c = curriculum.load()
    found = judge.scan_for_solutions(package, c, [c.kata("01")])
    assert "is a link to" in found["01"][0]


def test_canaries_must_fail_and_be_reported(tmp_path):
    first, last, names = judge.write_canaries(tmp_path)
    assert first.name != last.name and len(names) == 4
    source = first.read_text(encoding="utf-8")
    assert "@given" in source and f"< {judge.CANARY_EXAMPLES}" in source

    def suite(outcomes):
        root = ET.Element("testsuite")
        for name, outcome in outcomes.items():
            case = ET.SubElement(root, "testcase", name=name)
            if outcome != "passed":
                ET.SubElement(case, outcome)
        return [root]

    failing = {name: "failure" for name in names}
    assert judge.canary_problems(suite(failing), names, first.name) == []
    only_first = {n: "failure" for n, m in names.items() if m == first.name}
    assert judge.canary_problems(suite(only_first), names, first.name) == []  # a session stopped early
    assert len(judge.canary_problems(suite({}), names, first.name)) == 2  # the first module must be reported
    passed = dict(failing, **{n: "passed" for n in names if n.endswith("_examples")})
    problems = judge.canary_problems(suite(passed), names, first.name)
    assert len(problems) == 2 and all("hypothesis ran fewer examples" in p for p in problems)
    skipped = dict(failing, **{n: "skipped" for n in names if n.endswith("_assert")})
    assert all("plain assert, was reported skipped" in p for p in judge.canary_problems(suite(skipped), names, first.name))


@SUBPROCESSES
def test_canaries_fail_under_the_ci_profile_and_pass_with_one_example(tmp_path):
    """Run a canary module for real: under the ci profile both its tests fail; with a profile of
    one example (what a weakened run looks like) the hypothesis canary passes."""
    first, _, names = judge.write_canaries(tmp_path / "canaries")
    results = {}
    for profile in ("ci", "one"):
        xml = tmp_path / f"{profile}.xml"
        conftest = tmp_path / "canaries" / "conftest.py"
        conftest.write_text("from hypothesis import settings\nsettings.register_profile('one', max_examples=1)\n"
                            "settings.register_profile('ci', max_examples=30, derandomize=True, database=None)\n")
        subprocess.run([sys.executable, "-m", "pytest", str(first), f"--hypothesis-profile={profile}", "-q", "-p", "no:cacheprovider",
                        f"--junitxml={xml}", "--rootdir", str(tmp_path / "canaries"), "-c", os.devnull],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)
        results[profile] = judge.canary_problems(list(ET.parse(xml).getroot().iter("testsuite")), names, first.name)
    assert results["ci"] == []
    assert len(results["one"]) == 1 and "hypothesis ran fewer examples" in results["one"][0]


def test_the_ci_profile_runs_more_examples_than_the_canary_needs():
    """If the ci profile ran fewer examples than the hypothesis canary's threshold, every honest
    run would look tampered with."""
    from hypothesis import settings

    assert settings.get_profile("ci").max_examples >= judge.CANARY_EXAMPLES + 5


def test_snapshots_see_changed_added_and_deleted_files(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("A = 1\n")
    (tmp_path / "pkg" / "b.py").write_text("B = 1\n")
    before = judge.snapshot([tmp_path / "pkg", tmp_path / "missing.pth"])
    (tmp_path / "pkg" / "a.py").write_text("A = 2\n")
    (tmp_path / "pkg" / "b.py").unlink()
    (tmp_path / "pkg" / "c.py").write_text("C = 1\n")
    (tmp_path / "missing.pth").write_text("import evil\n")
    problems = judge.changed(before, judge.snapshot([tmp_path / "pkg", tmp_path / "missing.pth"]))
    assert any(p.endswith("a.py: changed during the run") for p in problems)
    assert any(p.endswith("b.py: deleted during the run") for p in problems)
    assert any(p.endswith("c.py: appeared during the run") for p in problems)
    assert any(p.endswith("missing.pth: changed during the run") or "missing.pth" in p for p in problems)


def test_the_watched_files_cover_pytest_hypothesis_and_the_harness():
    watched, installed = judge.watched_paths(ROOT)
    names = {Path(p).name for p in watched}
    assert {"_pytest", "pluggy", "hypothesis", "dojo", "katas", "conftest.py", "pyproject.toml"} <= names
    assert set(installed) <= set(watched) and any(Path(p).name == "_pytest" for p in installed)
    assert any(a == "pytest_timeout" for a in judge.plugin_arguments())


GUARDED = r'''
import json, os, sys
sys.path.insert(0, sys.argv[1])
from dojo.classroom import guard
root, package = sys.argv[2], sys.argv[3]
guard.install({"forbid_read": [os.path.join(root, "solutions")], "allow_read": [], "allow_write": [os.path.join(root, "scratch")],
               "student": [package], "report": os.path.join(root, "scratch", "guard.log")})
sys.path.insert(0, os.path.dirname(package))
outcomes = {}
for name in sorted(json.loads(sys.argv[4])):
    try:
        __import__("tinytorch." + name)
        outcomes[name] = "allowed"
    except PermissionError as error:
        outcomes[name] = "refused"
    except Exception as error:
        outcomes[name] = type(error).__name__
print(json.dumps(outcomes))
'''

STUDENT_MODULES = {
    "reads_solutions": "open({solutions!r}).read()\n",
    "imports_solutions": "import solutions.tinytorch.tensor\n",
    "writes_outside": "open({outside!r}, 'w').write('x')\n",
    "writes_scratch": "open({scratch!r}, 'w').write('x')\n",
    "spawns": "import subprocess\nsubprocess.run(['true'])\n",
    "gc_walk": "import gc\ngc.get_objects()\n",
    "deletes": "import os\nos.remove({victim!r})\n",
    "hard_links_solutions": "import os\nos.link({solutions!r}, {linked!r})\n",
    "symlinks_above": "import os\nos.symlink({root!r}, {linked!r})\n",
    "dir_fd_above": "import os\nfd = os.open({root!r}, os.O_RDONLY)\nos.open('solutions/tinytorch/tensor.py', os.O_RDONLY, dir_fd=fd)\n",
    "climbs": "import os\nopen(os.path.join('..', os.path.basename({root!r}), 'solutions', 'tinytorch', 'tensor.py')).read()\n",
}


@SUBPROCESSES
def test_the_guard_refuses_what_the_students_code_may_not_do(tmp_path):
    (tmp_path / "solutions" / "tinytorch").mkdir(parents=True)
    (tmp_path / "solutions" / "tinytorch" / "tensor.py").write_text("X = 1\n")
    (tmp_path / "scratch").mkdir()
    victim = tmp_path / "harness.py"
    victim.write_text("ok\n")
    package = tmp_path / "impl" / "tinytorch"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    paths = {"solutions": str(tmp_path / "solutions" / "tinytorch" / "tensor.py"), "outside": str(tmp_path / "outside.txt"),
             "scratch": str(tmp_path / "scratch" / "fine.txt"), "victim": str(victim), "linked": str(tmp_path / "scratch" / "copy.py"),
             "root": str(tmp_path)}
    for name, source in STUDENT_MODULES.items():
        (package / f"{name}.py").write_text(source.format(**paths))
    # Bytecode caching on, whatever the caller's environment: the import system would write
    # tinytorch/__pycache__/ (outside the scratch folder) with no student frame on the stack.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    done = subprocess.run([sys.executable, "-c", GUARDED, str(ROOT), str(tmp_path), str(package), json.dumps(sorted(STUDENT_MODULES))], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    outcomes = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcomes == {"reads_solutions": "refused", "imports_solutions": "refused", "writes_outside": "refused",
                        "writes_scratch": "allowed", "spawns": "refused", "gc_walk": "refused", "deletes": "refused",
                        "hard_links_solutions": "refused", "symlinks_above": "refused", "dir_fd_above": "refused", "climbs": "refused"}
    assert victim.exists() and not (tmp_path / "outside.txt").exists()
    findings = judge.guard_findings(tmp_path / "scratch" / "guard.log")
    assert {f["event"] for f in findings} >= {"open", "import", "subprocess.Popen", "gc.get_objects", "os.remove"}
    # every refusal names the student's file that asked (the import statement's own event aside)
    assert all("tinytorch" in f["where"] for f in findings if f["event"] != "import"), findings
    assert not (package / "__pycache__").exists()  # a guarded process caches no bytecode


@SUBPROCESSES
def test_the_guard_does_nothing_without_its_variable():
    code = "import sys; sys.path.insert(0, sys.argv[1]); import dojo.classroom.guard; print(getattr(sys, '_dojo_guarded', False))"
    env = {k: v for k, v in os.environ.items() if k != "DOJO_GUARD"}
    done = subprocess.run([sys.executable, "-c", code, str(ROOT)], capture_output=True, text=True, timeout=60, env=env)
    assert done.stdout.strip() == "False", done.stderr


def _tree_with(tmp_path, name, file, old, new):
    import shutil

    root = tmp_path / name
    shutil.copytree(ROOT / "solutions" / "tinytorch", root / "tinytorch", ignore=shutil.ignore_patterns("__pycache__"))
    path = root / "tinytorch" / file
    source = path.read_text(encoding="utf-8")
    assert old in source
    path.write_text(source.replace(old, new, 1), encoding="utf-8")
    return root


@SUBPROCESSES
def test_a_probe_that_loops_forever_is_cut_and_a_crash_loses_only_its_kata(tmp_path):
    looping = _tree_with(tmp_path, "loop", "tensor.py", "        _check_axis(axis, self.ndim)\n        return np.sum(",
                         "        while True:\n            pass\n        return np.sum(")
    run = judge.run_probes(ROOT, looping, ["01"], 5, tmp_path / "out-loop", tmp_path, timeout=1)
    records = run.katas["01"]
    assert records["reductions"]["status"] == "timeout" and "1 s" in records["reductions"]["message"]
    assert records["indexing_and_comparisons"]["status"] == "timeout"  # skipped after the first timeout
    assert records["creation_dtypes"]["status"] == "ok"
    crashing = _tree_with(tmp_path, "crash", "activations.py", "def relu(x):\n", "def relu(x):\n    import os; os._exit(3)\n")
    run = judge.run_probes(ROOT, crashing, ["02", "01"], 5, tmp_path / "out-crash", tmp_path)
    assert "exited with 3" in run.problems["02"] and "01" in run.katas and "02" not in run.katas
