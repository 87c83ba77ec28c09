"""The curriculum's honesty checks: solutions green, stubs red kata by kata and step by step.

Each check runs pytest in a subprocess against a generated implementation tree and reads the
per-test outcomes from JUnit XML, so it sees exactly what a student would see.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from dojo import ROOT
from dojo.curriculum import STEP_FILE, Curriculum
from dojo.student.runner import QUIET_PLUGINS
from dojo.stubs import build_tree


@dataclass
class Outcomes:
    """Per-test outcomes of one pytest run: {test id: passed|failed|error|skipped}."""

    tests: dict = field(default_factory=dict)
    returncode: int = 0
    output: str = ""

    def by_file(self, filename: str) -> dict:
        return {k: v for k, v in self.tests.items() if k.split("::")[0] == filename}


def run_pytest(paths, impl_root, extra=(), env=None, timeout=600) -> Outcomes:
    """Run pytest on ``paths`` with ``--impl=impl_root`` (no gate, no progress) in a subprocess."""
    with tempfile.TemporaryDirectory(prefix="dojo-junit-") as tmp:
        xml = Path(tmp) / "junit.xml"
        command = [
            sys.executable, "-m", "pytest", *[str(p) for p in paths],
            f"--impl={impl_root}", "--no-gate", "--dojo-progress=none", "--dojo-quiet",
            "--hypothesis-profile=ci", f"--junitxml={xml}", "-o", "junit_family=xunit2",
            "-p", "no:cacheprovider", "-q", *extra,
        ]
        environment = {**os.environ, **(env or {})}
        environment.pop("IMPL", None)
        environment.pop("PYTHONDONTWRITEBYTECODE", None)  # cached assertion rewrites save ~1 s per run
        proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=environment, timeout=timeout)
        outcomes = Outcomes(returncode=proc.returncode, output=proc.stdout + proc.stderr)
        if xml.exists():
            for case in ET.parse(xml).getroot().iter("testcase"):
                name = f"{Path(case.get('file') or _file_from_classname(case.get('classname', ''))).name}::{case.get('name')}"
                kinds = {child.tag: child.get("message", "") for child in case}
                if "error" in kinds:
                    outcome = "collection error" if "collection" in kinds["error"] else "error"
                elif "failure" in kinds:
                    outcome = "failed"
                elif "skipped" in kinds:
                    outcome = "skipped"
                else:
                    outcome = "passed"
                outcomes.tests[name] = outcome
        return outcomes


def _file_from_classname(classname: str) -> str:
    """JUnit classnames look like ``katas.01_tensor.test_02_arithmetic`` (or ``...Class``)."""
    parts = classname.split(".")
    for i in range(len(parts) - 1, -1, -1):
        if parts[i].startswith("test_"):
            return parts[i] + ".py"
    return classname


def step_files(curriculum: Curriculum, kata) -> dict:
    """{step name: test file name} for a kata, with problems for misnamed or missing files."""
    folder = curriculum.kata_dir(kata)
    files = {}
    for path in sorted(folder.glob("test_*.py")):
        match = STEP_FILE.match(path.name)
        if match and 1 <= int(match.group(1)) <= len(kata.steps):
            files.setdefault(kata.steps[int(match.group(1)) - 1].name, []).append(path.name)
    return files


def layout_problems(curriculum: Curriculum) -> list:
    """Curriculum vs files: folders, READMEs, step files named after their steps, owned files."""
    problems = []
    solutions = ROOT / "solutions" / "tinytorch"
    for kata in curriculum.katas:
        folder = curriculum.kata_dir(kata)
        if not folder.is_dir():
            problems.append(f"kata {kata.id}: folder {folder.name}/ is missing")
            continue
        if not (folder / "README.md").exists():
            problems.append(f"kata {kata.id}: {folder.name}/README.md is missing")
        for owned in kata.owns:
            if not (solutions / owned).exists():
                problems.append(f"kata {kata.id}: owns {owned} but solutions/tinytorch/{owned} does not exist")
        for path in sorted(folder.glob("test_*.py")):
            match = STEP_FILE.match(path.name)
            if not match:
                problems.append(f"kata {kata.id}: {path.name} is not named test_<NN>_<step>.py")
                continue
            number, name = int(match.group(1)), match.group(2)
            if not 1 <= number <= len(kata.steps) or kata.steps[number - 1].name != name:
                expected = ", ".join(f"test_{s.number:02d}_{s.name}.py" for s in kata.steps)
                problems.append(f"kata {kata.id}: {path.name} matches no step (expected one of {expected})")
        covered = step_files(curriculum, kata)
        for step in kata.steps:
            if step.name not in covered:
                problems.append(f"kata {kata.id}: step {step.number} ({step.name}) has no test file")
            if not step.hints or any(h.strip() in ("", "TODO") for h in step.hints):
                problems.append(f"kata {kata.id}: step {step.number} ({step.name}) needs real hints")
    problems += missing_test_hints(curriculum)  # every test has a hint written for it
    return problems


def _is_fixture(node) -> bool:
    """A function decorated with ``@pytest.fixture`` (or ``@fixture(...)``): pytest never collects it
    as a test, even when its name starts with ``test`` (kata 16's ``testing_backend``)."""
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name == "fixture":
            return True
    return False


def docstrings_of_tests(path: Path) -> list:
    """``[(test name, line, docstring)]`` for the tests of one file, read with ``ast`` (the file is
    not imported): module-level ``test*`` functions and the ``test*`` methods of ``Test*`` classes."""
    tree = ast.parse(Path(path).read_text(encoding="utf-8"), filename=str(path))
    found = []
    functions = (ast.FunctionDef, ast.AsyncFunctionDef)
    for node in tree.body:
        if isinstance(node, functions) and node.name.startswith("test") and not _is_fixture(node):
            found.append((node.name, node.lineno, ast.get_docstring(node) or ""))
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            for inner in node.body:
                if isinstance(inner, functions) and inner.name.startswith("test"):
                    found.append((f"{node.name}::{inner.name}", inner.lineno, ast.get_docstring(inner) or ""))
    return found


def missing_test_hints(curriculum: Curriculum) -> list:
    """One problem per kata test whose docstring has no hint of its own: a paragraph starting with
    ``Hint:`` (by convention the last one), which the summary and ``make hint`` show when that
    test is the first to fail."""
    from dojo.report import HINT_PREFIX, split_hint

    problems = []
    base = curriculum.katas_dir.parent
    for kata in curriculum.katas:
        folder = curriculum.kata_dir(kata)
        for path in sorted(folder.glob("test_*.py")):
            where = path.relative_to(base).as_posix() if base in path.parents else path.name
            try:
                tests = docstrings_of_tests(path)
            except (SyntaxError, UnicodeDecodeError, OSError) as error:
                problems.append(f"kata {kata.id}: {where} cannot be read for its test hints ({type(error).__name__}: {error})")
                continue
            for name, line, doc in tests:
                if not split_hint(doc)[1]:
                    problems.append(
                        f"kata {kata.id}: {where}:{line} {name} has no hint of its own "
                        f"(end its docstring with a paragraph starting with {HINT_PREFIX!r})"
                    )
    return problems


@dataclass
class KataCheck:
    kata: object
    problems: list = field(default_factory=list)
    runs: int = 0


def check_kata(curriculum: Curriculum, kata, solutions_outcomes: Outcomes | None = None, workers: int = 2) -> KataCheck:
    """Solutions green; with the kata stubbed every test fails; with one step stubbed every test
    of that step fails. Returns the problems found (empty: honest)."""
    kata = curriculum.kata(kata)
    folder = curriculum.kata_dir(kata)
    result = KataCheck(kata)
    files = step_files(curriculum, kata)
    all_files = sorted(p.name for p in folder.glob("test_*.py"))

    if solutions_outcomes is None:
        solutions_outcomes = run_pytest([folder], ROOT / "solutions")
        result.runs += 1
    green = {k: v for k, v in solutions_outcomes.tests.items() if k.split("::")[0] in all_files}
    if not green:
        result.problems.append(f"kata {kata.id}: no tests ran against the solutions\n{solutions_outcomes.output[-2000:]}")
    for test, outcome in sorted(green.items()):
        if outcome != "passed":
            result.problems.append(f"kata {kata.id}: {test} is {outcome} against the solutions")

    with tempfile.TemporaryDirectory(prefix=f"dojo-stubs-{kata.id}-") as tmp:
        jobs = [("kata", None, build_tree(curriculum, Path(tmp) / "kata", stub_katas={kata.id}), [folder])]
        for step in kata.steps:
            tree = build_tree(curriculum, Path(tmp) / step.name, stub_katas={kata.id}, stub_steps={step.name})
            jobs.append(("step", step, tree, [folder / f for f in files.get(step.name, [])]))
        jobs = [j for j in jobs if j[3]]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            outcomes = list(pool.map(lambda job: run_pytest(job[3], job[2]), jobs))
        result.runs += len(jobs)
    for (kind, step, _, paths), out in zip(jobs, outcomes):
        where = f"kata {kata.id} stubbed" if kind == "kata" else f"kata {kata.id} step {step.number} ({step.name}) stubbed"
        expected = {f.name for p in paths for f in ([p] if p.is_file() else p.glob("test_*.py"))}
        ran = {k: v for k, v in out.tests.items() if k.split("::")[0] in expected}
        if not ran:
            result.problems.append(f"{where}: no test ran\n{out.output[-1500:]}")
        for test, outcome in sorted(ran.items()):
            if outcome == "passed":
                result.problems.append(f"{where}: {test} PASSES on the stub, so it checks nothing the student wrote")
            elif outcome == "skipped":
                result.problems.append(f"{where}: {test} is skipped on the stub (a skip is not a failure)")
            elif outcome == "collection error":
                result.problems.append(f"{where}: {test} fails to collect; build tensors inside tests, not at import time")
    return result
