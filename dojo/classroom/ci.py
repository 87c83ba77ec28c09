"""``make ci`` (``python -m dojo ci``): what a student's fork proves on every push. Headless.

The student's package runs inside every process that tests it, so no verdict is taken on trust
from such a process. This process (the judge) never imports the student's code; it:

1. Picks the tests. Fork mode: the fork's own, after checking every file that can change how tests
   run against the committed ``katas/MANIFEST.json`` (kata tests, curriculum, harness, reference
   solutions, conftest files, pyproject/setup/tox/pytest config, Makefile, workflows). Upstream
   mode (``KATAS_UPSTREAM=path``, ``--upstream``; or this checkout grading another tree with
   ``--fork``): the upstream's harness runs (a fork's ``dojo ci`` hands over to it) and only the
   fork's ``tinytorch/`` and ``progress.toml`` are read.
2. Copies the fork's ``tinytorch/`` (nothing else) to a private folder and scans it for code that
   imports or loads ``solutions/`` (``dojo.classroom.judge.scan_for_solutions``).
3. Hashes pytest, pluggy, hypothesis, numpy, the harness and the kata tests (``dojo.classroom.judge.snapshot``).
4. Runs every kata's probes (``dojo.classroom.probes``) on fresh inputs from a random seed, on the reference
   and on the student's copy (under ``dojo.classroom.guard``), in separate processes.
5. Runs every kata's tests (no gate) in pytest under ``dojo.classroom.guard``, with the ``ci`` hypothesis
   profile, no third-party plugin autoloading, and canary tests that must fail.
6. Hashes again; compares the probes; reads the canaries and the guard's refusals. A kata is
   verified green only when pytest says green, its probes agree with the reference, it does not
   load the solutions, the canaries failed and nothing was altered.
7. Kata 20 (the capstone): when it is verified green and the fork holds a ``capstone.json``, its
   figures are re-derived from the student's code in a guarded child and compared here
   (``dojo.classroom.judge.rederive_capstone``): a submission in milestone 06's quick configuration on every
   run (seconds), any other (the official one re-trains the baseline: minutes) with ``--capstone``
   (``make ci CAPSTONE=1``). The verified figures and the discrepancies go into ``results.json``
   (``capstone``), where ``make board`` ranks them as verified.
8. Compares with what ``progress.toml`` claims, without trusting it, and writes ``results.json``
   and ``junit.xml`` into the output folder (``OUT=``, default the fork's root), a markdown table to
   ``$GITHUB_STEP_SUMMARY`` when set and, with ``--classroom``, the GitHub Classroom reporter's
   result (points per kata) to ``$GITHUB_OUTPUT``.

Exit status: 0 for any honest fork, however far along; 1 when a kata that ``progress.toml`` claims
green is not verified green, when a kata loads the reference solutions, when pytest and the probes
disagree, when ``capstone.json`` claims a byte count, a loss or a consistency the re-derivation
does not reproduce (or the guard refused the student's code while re-deriving it; a speedup that
is not reproduced is flagged, not failed: speed ratios differ somewhat between machines), or when
the run or the tests were tampered with; 2 when the run itself failed.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from dojo import ROOT, report
from dojo.classroom import judge, manifest
from dojo import curriculum as curriculum_module
from dojo.curriculum import parse_toml


FORMAT_VERSION = 1
KIND = "tinytorch-katas-ci"
RUNNER_ID = "katas"  # GitHub Classroom reporter: `runners: katas` reads $KATAS_RESULTS
DROPPED_ENV = (
    "IMPL", "UNLOCK", "PYTEST_ADDOPTS", "PYTEST_PLUGINS", "DOJO_CURRICULUM", "PYTHONDONTWRITEBYTECODE", "HYPOTHESIS_PROFILE",
    "PYTHONPATH", "PYTHONSTARTUP", "PYTHONHOME", "PYTHONINSPECT", "DOJO_GUARD", "HYPOTHESIS_STORAGE_DIRECTORY",
)


@dataclass
class Row:
    kata: object
    status: str = "not run"  # green | red | broken | not run | unverified (pytest green, a check failed)
    passed: int = 0
    total: int = 0
    claimed: str = ""  # green | red | "" (no claim)
    claimed_passed: int | None = None
    claimed_total: int | None = None
    steps: list = field(default_factory=list)
    message: str = ""  # broken: the import error; red: the first failing test; unverified: why
    tests: dict = field(default_factory=dict)
    pytest_status: str = "not run"  # what the pytest run reported, before the judge's checks
    probes: object = None  # judge.KataProbes, or None when the kata has no probes
    not_student_work: list = field(default_factory=list)  # code that imports or loads solutions/
    notes: list = field(default_factory=list)  # the guard's other refusals
    unverified: list = field(default_factory=list)  # why a pytest green is not verified

    @property
    def regression(self) -> bool:
        # "not run": the tests have no folder for this kata (an older upstream), nothing to compare
        return self.claimed == "green" and self.status not in ("green", "not run")

    @property
    def verdict(self) -> str:
        if self.regression:
            return "regression"
        if self.status == "green" and self.claimed != "green":
            return "green, not yet claimed"
        return "ok"

    @property
    def credited(self) -> int:
        """Passing tests that count: those of steps whose probes agree (all, without probes)."""
        if self.not_student_work or self.status == "unverified":
            return 0
        if self.probes is None:
            return self.passed
        if self.probes.problem:
            return 0
        return sum(int(s.get("passed", 0)) for s in self.steps if s.get("name") not in self.probes.steps_failing)


@dataclass
class Run:
    rows: list
    mode: str  # fork | upstream
    tests_root: Path
    fork: Path
    tampering: list = field(default_factory=list)  # fork mode: files that differ from katas/MANIFEST.json
    altered: list = field(default_factory=list)  # the run itself: canaries reported passed, files changed during it
    claims_warning: str = ""
    error: str = ""  # the run itself failed
    seconds: float = 0.0
    upstream_commit: str = ""
    suites: list = field(default_factory=list)  # pytest's JUnit <testsuite> elements
    log: str = ""  # pytest's output
    seed: int = 0  # the probes' seed
    probes_note: str = ""  # why no probes ran, when none did
    capstone: dict | None = None  # kata 20's capstone.json, re-derived (dojo.classroom.judge.rederive_capstone); None: no file

    @property
    def regressions(self) -> list:
        return [r for r in self.rows if r.regression]

    @property
    def borrowed(self) -> list:
        """Katas whose code imports or loads the reference solutions."""
        return [r for r in self.rows if r.not_student_work]

    @property
    def disagreements(self) -> list:
        """Katas pytest calls green whose probes disagree with the reference."""
        return [r for r in self.rows if r.pytest_status == "green" and r.probes is not None and not r.probes.ok and not r.not_student_work]

    @property
    def exit_code(self) -> int:
        if self.tampering or self.altered:
            return 1  # even when the run then failed: the tampering is the news
        if self.error:
            return 2
        return 1 if (self.regressions or self.borrowed or self.disagreements or self.capstone_false_claim) else 0

    @property
    def capstone_false_claim(self) -> bool:
        return bool(self.capstone and self.capstone.get("false_claim"))


# -- claims ----------------------------------------------------------------------------------


def read_claims(path: Path) -> tuple:
    """({kata id: record}, warning) from a progress.toml; never raises, never trusted."""
    path = Path(path)
    if not path.exists():
        return {}, "no progress.toml: nothing claimed"
    try:
        data = parse_toml(path.read_text(encoding="utf-8"))
    except Exception as error:
        return {}, f"progress.toml cannot be read ({error}): nothing claimed"
    if hasattr(data, "unwrap"):
        data = data.unwrap()
    if not isinstance(data, dict):
        return {}, "progress.toml is not a table: nothing claimed"
    if data.get("format_version") != 1:
        return {}, f"progress.toml has format_version {data.get('format_version')!r} (expected 1): nothing claimed"
    katas = data.get("katas", {})
    return ({str(k): v for k, v in katas.items() if isinstance(v, dict)} if isinstance(katas, dict) else {}), ""


# -- running the tests -----------------------------------------------------------------------


def select_katas(curriculum, spec: str | None) -> list:
    """``None``/'' → every kata; '01-06' or '1,2,5' or '01 03' → those katas."""
    if not spec or not str(spec).strip():
        return list(curriculum.katas)
    chosen = []
    for part in re.split(r"[,\s]+", str(spec).strip()):
        if not part:
            continue
        if re.fullmatch(r"\d+-\d+", part):
            low, high = (int(x) for x in part.split("-"))
            chosen += [k for k in curriculum.katas if low <= int(k.id) <= high]
        else:
            chosen.append(curriculum.kata(part))
    return [k for k in curriculum.katas if k in chosen]


def _environment() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}
    env["CI"] = env.get("CI") or "true"
    return env


@dataclass
class Session:
    """What the pytest runs need besides the katas: where things go and the canaries."""

    work: Path
    impl: Path
    scratch: Path
    canaries: tuple = ()  # (first path, last path, {test name: module file name})
    guard: dict | None = None
    canary_problems: list = field(default_factory=list)


def _pytest_once(curriculum, katas, tests_root: Path, session: Session, out: Path, xml: Path) -> tuple:
    """One pytest session over ``katas``: (plugin results or None when it wrote none, output)."""
    first, last = (session.canaries[0], session.canaries[1]) if session.canaries else (None, None)
    paths = [*([str(first)] if first else []), *[str(curriculum.kata_dir(k)) for k in katas], *([str(last)] if last else [])]
    command = [
        sys.executable, "--check-hash-based-pycs", "always", "-m", "pytest", *paths,
        "-c", str(tests_root / "pyproject.toml"), "--rootdir", str(tests_root),
        f"--impl={session.impl}", "--no-gate", "--dojo-progress=none", "--dojo-quiet",
        f"--dojo-results={out}", f"--junitxml={xml}", "-o", "junit_family=xunit2",
        "--hypothesis-profile=ci", "-p", "no:cacheprovider", "-q", "--tb=no",
        f"--basetemp={session.scratch / 'basetemp'}", *judge.plugin_arguments(),
    ]
    if session.guard is not None:
        command += ["-p", "dojo.classroom.guard"]  # after the plugins it must not refuse anything to
    timeout = os.environ.get("TIMEOUT", "").strip()
    if timeout:
        command.append(f"--timeout={timeout}")
    env = _environment()
    env.update({
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",  # only the plugins named above: none a fork installed
        "HYPOTHESIS_NO_PLUGINS": "1",
        "HYPOTHESIS_STORAGE_DIRECTORY": str(session.scratch / "hypothesis"),
        "PYTHONDONTWRITEBYTECODE": "1",  # read the installed .pyc files, write none (and no refusals)
        "TMPDIR": str(session.scratch / "tmp"), "TEMP": str(session.scratch / "tmp"), "TMP": str(session.scratch / "tmp"),
        "DOJO_GUARD": json.dumps(session.guard) if session.guard is not None else "",
    })
    proc = subprocess.run(command, cwd=tests_root, capture_output=True, text=True, env=env, errors="replace")
    output = proc.stdout + proc.stderr
    if xml.exists() and session.canaries:
        try:
            suites = list(ET.parse(xml).getroot().iter("testsuite"))
        except ET.ParseError:
            suites = []
        session.canary_problems += judge.canary_problems(suites, session.canaries[2], Path(first).name)
    if not out.exists():
        return None, output + f"\n(pytest exit {proc.returncode}, no results written)"
    try:
        return json.loads(out.read_text(encoding="utf-8")).get("katas", {}), output
    except ValueError:
        return None, output + "\n(the results file cannot be read)"


def run_tests(curriculum, katas, tests_root: Path, session: Session) -> tuple:
    """Run the katas' tests; returns ({kata id: plugin result}, [junit paths], log, error).

    A test that times out stops a pytest session (the plugin does that so a student does not wait),
    so the katas it did not reach run again in a fresh session. A session that dies without
    results (code that calls os._exit, a crash, pytest-timeout's thread method on Windows) is
    retried kata by kata, so only the kata that kills it is lost: it is reported as broken.
    """
    results, junits, log = {}, [], []
    remaining = [k for k in katas if curriculum.kata_dir(k).is_dir()]
    attempt = 0
    outputs = session.work / "pytest"
    outputs.mkdir(parents=True, exist_ok=True)

    def run_session(group):
        nonlocal attempt
        attempt += 1
        out, xml = outputs / f"results-{attempt}.json", outputs / f"junit-{attempt}.xml"
        got, output = _pytest_once(curriculum, group, tests_root, session, out, xml)
        log.append(output)
        if got is not None and xml.exists():
            junits.append(xml)
        return got, output

    while remaining:
        got, output = run_session(remaining)
        if got is None:
            crashed = {}
            for kata in remaining if len(remaining) > 1 else []:
                alone, alone_output = run_session([kata])
                if alone is None:
                    crashed[kata.id] = alone_output
                else:
                    results.update({k: v for k, v in alone.items() if k not in results})
            if len(remaining) == 1:
                crashed[remaining[0].id] = output
            if len(crashed) == len(remaining) and not results:
                return results, junits, "\n".join(log), "pytest wrote no results"
            for kid, text in crashed.items():
                tail = " | ".join(line.strip() for line in text.strip().splitlines()[-3:])
                results[kid] = {"status": "broken", "passed": 0, "total": 0, "steps": [], "tests": {},
                                "message": f"the test run died without results (os._exit, a crash or a hard timeout?): {tail}"}
            break
        # a kata the session stopped before (a timeout elsewhere) comes back with no tests
        new = {k: v for k, v in got.items() if isinstance(v, dict) and k not in results and (v.get("total") or v.get("status") in ("locked", "broken"))}
        results.update(new)
        remaining = [k for k in remaining if k.id not in results]
        if not new:
            results.update({k: v for k, v in got.items() if k not in results})
            break
    return results, junits, "\n".join(log), ""


def first_failures(junits) -> dict:
    """{test file::name: first line of its failure message} from JUnit XML."""
    found = {}
    for path in junits:
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError:
            continue
        for case in root.iter("testcase"):
            for child in case:
                if child.tag in ("failure", "error"):
                    name = f"{Path(case.get('file') or '').name or case.get('classname', '').split('.')[-1] + '.py'}::{case.get('name')}"
                    lines = [line for line in (child.get("message") or "").splitlines() if line.strip()]
                    found[name] = lines[0][:200] if lines else child.tag
    return found


def git_commit(path: Path) -> str:
    try:
        proc = subprocess.run(["git", "rev-parse", "HEAD"], cwd=path, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return ""
    return proc.stdout.strip() if proc.returncode == 0 else ""


def _owner(curriculum, where: str, impl: Path):
    """The kata that owns the student's file named in a guard finding ('/.../tinytorch/x.py:12')."""
    path = where.rsplit(":", 1)[0] if where else ""
    package = os.path.normcase(os.path.realpath(Path(impl) / "tinytorch"))
    if not path.startswith(package + os.sep):
        return None, ""
    rel = Path(path[len(package) + 1:]).as_posix()
    return curriculum.owner_of(rel), f"tinytorch/{rel}:{where.rsplit(':', 1)[1]}"


def _is_reference_read(finding: dict) -> bool:
    return "solutions" in finding["what"] or "/solutions" in finding["target"].replace("\\", "/") or "/.git" in finding["target"].replace("\\", "/")


def verify(fork: Path = ROOT, upstream: Path | None = None, katas_spec: str | None = None, seed: int | None = None,
           capstone_full: bool = False) -> Run:
    """Everything except the output: run the checks and the tests, compare with the claims.
    ``capstone_full``: re-derive a capstone.json in any configuration, not only a quick one."""
    fork = Path(fork).resolve()
    tests_root = Path(upstream).resolve() if upstream else fork
    mode = "upstream" if tests_root != fork else "fork"
    if not (tests_root / "katas" / "curriculum.toml").exists():
        return Run(rows=[], mode=mode, tests_root=tests_root, fork=fork, error=f"no katas/curriculum.toml in {tests_root}")
    if not (fork / "tinytorch" / "__init__.py").exists():
        return Run(rows=[], mode=mode, tests_root=tests_root, fork=fork, error=f"no tinytorch/ package in {fork}")
    curriculum = curriculum_module.load(tests_root / "katas" / "curriculum.toml")
    katas = select_katas(curriculum, katas_spec)
    run = Run(rows=[Row(k) for k in katas], mode=mode, tests_root=tests_root, fork=fork)
    if mode == "fork":
        run.tampering = manifest.verify(fork).problems()
    else:
        run.upstream_commit = git_commit(tests_root)
    claims, run.claims_warning = read_claims(fork / "progress.toml")
    run.seed = judge.new_seed() if seed is None else int(seed)
    started = time.perf_counter()
    watched, installed = judge.watched_paths(tests_root)
    before = judge.snapshot(watched, keep_pyc=installed)
    reference, student, findings = None, None, []
    with tempfile.TemporaryDirectory(prefix="dojo-ci-") as tmp:
        work = Path(tmp).resolve()
        impl = judge.copy_impl(fork, work / "impl")
        borrowed = judge.scan_for_solutions(fork / "tinytorch", curriculum, katas)
        ids = [k.id for k in katas]
        solutions = tests_root / "solutions"
        if (solutions / "tinytorch" / "__init__.py").exists():
            # the reference first, read into memory and deleted before any student code runs
            (work / "reference-scratch").mkdir()
            reference = judge.run_probes(tests_root, solutions, ids, run.seed, work / "reference", work / "reference-scratch")
            shutil.rmtree(work / "reference", ignore_errors=True)
            scratch = work / "probes-scratch"
            scratch.mkdir()
            config = judge.guard_config("probes", fork, tests_root, work, impl, scratch, writable=[work / "probes"])
            student = judge.run_probes(tests_root, impl, ids, run.seed, work / "probes", scratch, guard_config=config)
            findings += student.findings
        else:
            run.probes_note = f"no reference solutions in {tests_root}: katas are verified by their tests and the canaries only"
        scratch = work / "pytest-scratch"
        (scratch / "tmp").mkdir(parents=True)
        session = Session(work=work, impl=impl, scratch=scratch, canaries=judge.write_canaries(work / "canaries"),
                          guard=judge.guard_config("pytest", fork, tests_root, work, impl, scratch, writable=[work / "pytest"]))
        results, junits, log, error = run_tests(curriculum, katas, tests_root, session)
        findings += judge.guard_findings(scratch / "guard.log")
        failures = first_failures(junits)
        for path in junits:
            try:
                run.suites += [s for s in ET.parse(path).getroot().iter("testsuite")]
            except ET.ParseError:
                pass
        run.suites = [_without_canaries(s, session.canaries[2]) for s in run.suites]
    run.altered += sorted(set(session.canary_problems))
    run.altered += judge.changed(before, judge.snapshot(watched, keep_pyc=installed))
    run.seconds = time.perf_counter() - started
    run.log = log
    if error:
        run.error = f"{error}\n{log[-3000:]}"
    if reference is not None and not any(reference.katas.get(k) for k in ids):
        run.probes_note = "the reference's probes did not run: " + (reference.log.strip().splitlines() or ["?"])[-1][:300]
    for finding in findings:
        owner, where = _owner(curriculum, finding.get("where", ""), impl)
        targets = [owner] if owner is not None and owner in katas else ([] if owner is not None else list(katas))
        target = f" ({_short(finding['target'], fork, tests_root)})" if finding["target"] else ""
        text = (where or "the student's code") + f" {finding['what']}{target}"
        for kata in targets:
            row = next(r for r in run.rows if r.kata is kata)
            if _is_reference_read(finding):
                row.not_student_work.append(text)
            else:
                row.notes.append(text)
    for row in run.rows:
        claim = claims.get(row.kata.id, {})
        row.claimed = str(claim.get("status", "")) if claim.get("status") in ("green", "red") else ""
        row.claimed_passed, row.claimed_total = claim.get("passed"), claim.get("total")
        row.not_student_work = list(dict.fromkeys(borrowed.get(row.kata.id, []) + row.not_student_work))[:10]
        row.notes = list(dict.fromkeys(row.notes))[:10]
        if reference is not None and reference.katas.get(row.kata.id):
            row.probes = judge.compare(reference.katas[row.kata.id], student.katas.get(row.kata.id, {}))
            if row.kata.id in student.problems:
                row.probes.problem = student.problems[row.kata.id]
        got = results.get(row.kata.id)
        if got is None:
            if not curriculum.kata_dir(row.kata).is_dir():
                row.message = f"no test folder katas/{row.kata.dirname}/"
            continue
        row.status = row.pytest_status = got.get("status") or "not run"
        row.passed, row.total = int(got.get("passed", 0) or 0), int(got.get("total", 0) or 0)
        row.steps = [s for s in got.get("steps", []) if isinstance(s, dict)]
        row.tests = got.get("tests", {}) if isinstance(got.get("tests"), dict) else {}
        if row.status == "broken":
            row.message = (got.get("message") or "").splitlines()[0] if got.get("message") else "cannot be imported"
        elif row.status == "red":
            first = next((t for t, outcome in row.tests.items() if outcome != "passed"), None)
            if first:
                row.message = f"{first}: {failures.get(first, row.tests[first])}"
        _judge_row(run, row)
    if not run.error and any(curriculum.kata_dir(k).is_dir() for k in katas) and all(r.status == "not run" for r in run.rows):
        run.error = "no kata ran\n" + log[-3000:]
    capstone_row = next((r for r in run.rows if r.kata.slug == "capstone"), None)
    if capstone_row is not None and not run.error:
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="dojo-ci-capstone-") as tmp:
            run.capstone = judge.rederive_capstone(
                fork, tests_root, Path(tmp).resolve(), full=capstone_full,
                green=capstone_row.status == "green" and not (run.tampering or run.altered))
        if run.capstone is not None and run.capstone.get("seconds"):
            run.altered += [a for a in judge.changed(before, judge.snapshot(watched, keep_pyc=installed)) if a not in run.altered]
            run.seconds += time.perf_counter() - started
    return run


def _short(path: str, fork: Path, tests_root: Path) -> str:
    for base in (tests_root, fork):
        prefix = str(base) + os.sep
        if path.startswith(prefix):
            return path[len(prefix):].replace(os.sep, "/")
    return path


def _without_canaries(suite, names: dict):
    """The suite without the canaries' test cases (they are reported as checks, not tests)."""
    removed = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for case in [c for c in suite if c.tag == "testcase" and c.get("name") in names]:
        suite.remove(case)
        removed["tests"] += 1
        for child in case:
            key = {"failure": "failures", "error": "errors", "skipped": "skipped"}.get(child.tag)
            if key:
                removed[key] += 1
    for key, count in removed.items():
        if count and (suite.get(key) or "").isdigit():
            suite.set(key, str(max(0, int(suite.get(key)) - count)))
    return suite


def _judge_row(run: Run, row: Row) -> None:
    """Downgrade a pytest green that a check does not confirm to ``unverified``, saying why."""
    if row.status != "green":
        return
    if run.tampering or run.altered:
        row.unverified.append("the run or the tests were tampered with (see above): no kata is verified")
    if row.not_student_work:
        row.unverified.append("not the student's work: " + row.not_student_work[0])
    if row.probes is not None and not row.probes.ok:
        if row.probes.problem:
            row.unverified.append(f"its probes did not run: {row.probes.problem}")
        else:
            first = row.probes.disagree[0] if row.probes.disagree else {"probe": "?", "step": "?", "why": "?"}
            row.unverified.append(
                f"pytest says green but {len(row.probes.disagree)} of {row.probes.total} probes disagree with the reference "
                f"(first: {first['probe']} [{first['step']}]: {first['why']})"
            )
    if row.unverified:
        row.status = "unverified"
        row.message = row.unverified[0]


# -- outputs ---------------------------------------------------------------------------------


def junit_xml(run: Run) -> bytes:
    """One JUnit file: pytest's suites (hypothesis statistics dropped) plus a ``dojo-ci`` suite
    whose cases fail on tampering and on each regression, so test reporters show them too."""
    root = ET.Element("testsuites", name="tinytorch-katas ci")
    for suite in run.suites:
        for props in suite.findall("properties"):
            for prop in list(props):
                if prop.get("name", "").startswith("hypothesis-statistics"):
                    props.remove(prop)
            if not len(props):
                suite.remove(props)
        root.append(suite)
    root.append(_dojo_suite(run))
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _dojo_suite(run: Run) -> ET.Element:
    suite = ET.Element("testsuite", name="dojo-ci")
    cases = []
    if run.mode == "fork":
        case = ET.SubElement(suite, "testcase", classname="dojo-ci", name="kata tests match katas/MANIFEST.json")
        if run.tampering:
            ET.SubElement(case, "failure", message="tampering: " + "; ".join(run.tampering[:5])).text = "\n".join(run.tampering)
        cases.append(case)
    case = ET.SubElement(suite, "testcase", classname="dojo-ci", name="canaries fail and pytest, the harness and the tests are not altered")
    if run.altered:
        ET.SubElement(case, "failure", message="the run was tampered with: " + "; ".join(run.altered[:5])).text = "\n".join(run.altered)
    cases.append(case)
    cap = run.capstone
    if cap and cap.get("status") in ("verified", "not reproduced", "failed"):
        case = ET.SubElement(suite, "testcase", classname="dojo-ci", name="capstone.json figures are re-derived from the code")
        if cap["status"] != "verified":
            why = "; ".join((cap.get("discrepancies") or []) + (cap.get("problems") or []))[:1000]
            ET.SubElement(case, "failure", message=f"capstone.json {cap['status']}: {why}")
        cases.append(case)
    for row in run.rows:
        if row.not_student_work:
            case = ET.SubElement(suite, "testcase", classname="dojo-ci", name=f"kata {row.kata.id} is the student's own work")
            ET.SubElement(case, "failure", message=f"kata {row.kata.id} loads the reference solutions: {row.not_student_work[0]}")
            cases.append(case)
        if row.pytest_status == "green" and row.probes is not None and not row.not_student_work:
            case = ET.SubElement(suite, "testcase", classname="dojo-ci", name=f"kata {row.kata.id} probes agree with the reference")
            if not row.probes.ok:
                ET.SubElement(case, "failure", message=row.message or "its probes disagree with the reference")
            cases.append(case)
        if row.claimed != "green":
            continue
        case = ET.SubElement(suite, "testcase", classname="dojo-ci", name=f"kata {row.kata.id} claimed green is green")
        if row.regression:
            ET.SubElement(case, "failure", message=f"kata {row.kata.id} is claimed green in progress.toml but verified {row.status} ({row.passed}/{row.total})")
        cases.append(case)
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
    suite.set("errors", "0")
    return suite


def milestones_unlocked(curriculum_milestones, rows) -> dict:
    green = {r.kata.id for r in rows if r.status == "green"}
    return {m.id: {"title": m.title, "unlocked": set(m.requires) <= green} for m in curriculum_milestones}


def to_json(run: Run, milestones=()) -> dict:
    from dojo.classroom.board import ci_run_record  # which CI run made this file (the board trusts only those)

    green = [r for r in run.rows if r.status == "green"]
    return {
        "format_version": FORMAT_VERSION,
        "kind": KIND,
        "generated": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "run": ci_run_record(),
        "tests_from": run.mode,
        "upstream_commit": run.upstream_commit,
        "tampering": run.tampering + run.altered,
        "checks": {
            "seed": run.seed,
            "probes": run.probes_note or "ran",
            "canaries_and_files": run.altered or "ok",
            "solutions_loaded": [r.kata.id for r in run.borrowed],
            "probes_disagree": [r.kata.id for r in run.disagreements],
            "no_probes": [r.kata.id for r in run.rows if r.probes is None],
        },
        "claims_warning": run.claims_warning,
        "error": run.error.splitlines()[0] if run.error else "",
        "exit_code": run.exit_code,
        "seconds": round(run.seconds, 2),
        "summary": {
            "katas": len(run.rows),
            "green": len(green),
            "passed": sum(r.passed for r in run.rows),
            "total": sum(r.total for r in run.rows),
            "regressions": [r.kata.id for r in run.regressions],
        },
        "katas": {
            r.kata.id: {
                "slug": r.kata.slug,
                "title": r.kata.title,
                "status": "red" if r.status == "unverified" else r.status,  # green means verified green
                "verified": r.status == "green",
                "pytest_status": r.pytest_status,
                "passed": r.passed,
                "total": r.total,
                "claimed": r.claimed,
                "verdict": r.verdict,
                "message": r.message,
                "not_verified": r.unverified,
                "not_student_work": r.not_student_work,
                "guard": r.notes,
                "probes": r.probes.to_json() if r.probes is not None else None,
                "steps": r.steps,
            }
            for r in run.rows
        },
        "milestones": milestones_unlocked(milestones, run.rows),
        "capstone": run.capstone,
    }


CAPSTONE_FIGURES = (("speedup", "{:.2f}×"), ("size_ratio", "{:.2f}×"), ("loss_delta", "{:+.4f}"),
                    ("optimized_bytes", "{:,}"), ("optimized_tokens_per_s", "{:,.0f}"))


def capstone_lines(cap: dict | None, markdown: bool = False) -> list:
    """The capstone's part of the report: its status, claimed vs re-derived, and why."""
    if not cap:
        return []
    bullet = "- " if markdown else "  - "
    head = f"capstone.json ({cap.get('configuration') or 'invalid'} configuration): {cap['status'].upper()}"
    if cap.get("seconds"):
        head += f", re-derived in {cap['seconds']:.0f} s"
    lines = ["", f"**{head}**" if markdown else head]
    if cap.get("reason"):
        lines.append(bullet + cap["reason"])
    claimed, verified = cap.get("claimed"), cap.get("verified")
    if claimed and verified:
        cells = []
        for key, form in CAPSTONE_FIGURES:
            try:
                cells.append(f"{key} {form.format(claimed[key])} claimed, {form.format(verified[key])} re-derived")
            except (KeyError, TypeError, ValueError):
                continue
        lines += [bullet + c for c in cells]
    for problem in (cap.get("discrepancies") or []) + (cap.get("problems") or []):
        lines.append(bullet + ("not reproduced: " if problem in (cap.get("discrepancies") or []) else "") + str(problem)[:300])
    if cap["status"] == "verified":
        lines.append(bullet + "the board ranks these figures as verified when this results.json comes from a CI run")
    return lines


def _status_text(status: str, sym: dict) -> str:
    icon = {"green": sym["green"], "red": sym["red"], "broken": sym["broken"], "unverified": sym["red"]}.get(status, "-")
    return f"{icon} {'not verified' if status == 'unverified' else status}"


def _claim_text(row: Row, sym: dict) -> str:
    if not row.claimed:
        return "-"
    counts = f" {row.claimed_passed}/{row.claimed_total}" if row.claimed_total else ""
    return f"{sym['green'] if row.claimed == 'green' else sym['red']} {row.claimed}{counts}"


def _verdict_text(row: Row) -> str:
    if row.regression:
        return f"REGRESSION: claimed green, verified {'not verified' if row.status == 'unverified' else row.status}".replace("verified not verified", "not verified")
    if row.verdict != "ok":
        return row.verdict
    return ""


def headline(run: Run) -> str:
    green = sum(r.status == "green" for r in run.rows)
    if run.error:
        return "CI ERROR: the kata tests could not run"
    if run.tampering:
        return f"CI FAILED: the kata tests were changed ({len(run.tampering)} file(s) differ from {manifest.RELATIVE_PATH})"
    if run.altered:
        return f"CI FAILED: the test run was tampered with ({run.altered[0]}); no kata is verified"
    if run.borrowed:
        ids = ", ".join(r.kata.id for r in run.borrowed)
        return f"CI FAILED: kata {ids} load(s) the reference solutions: not the student's work, not counted"
    if run.disagreements:
        ids = ", ".join(r.kata.id for r in run.disagreements)
        return f"CI FAILED: kata {ids}: pytest reports green but the probes disagree with the reference (a tampered run?)"
    if run.regressions:
        ids = ", ".join(r.kata.id for r in run.regressions)
        state = "verified red" if all(r.status == "red" for r in run.regressions) else "not verified green"
        return f"CI FAILED: kata {ids} claimed green in progress.toml but {state}"
    if run.capstone_false_claim:
        return "CI FAILED: capstone.json claims figures the student's code does not reproduce"
    cap = f"; capstone.json {run.capstone['status']}" if run.capstone else ""
    return f"CI OK: {green}/{len(run.rows)} katas verified green; progress.toml claims nothing false{cap}"


def terminal_report(run: Run, sym: dict) -> str:
    from tabulate import tabulate

    where = f"upstream tests from {run.tests_root}" + (f" @ {run.upstream_commit[:12]}" if run.upstream_commit else "") if run.mode == "upstream" else "the fork's own tests (checked against katas/MANIFEST.json)"
    lines = [f"TinyTorch Katas fork CI: {where}", f"implementation: {run.fork / 'tinytorch'}", ""]
    if run.tampering:
        lines.append("TAMPERING: these files differ from the committed manifest:")
        lines += [f"  - {p}" for p in run.tampering[:30]]
        lines.append("  Restore them (git checkout upstream/main -- <file>) or, if you are the maintainer, run make manifest.")
        lines.append("")
    if run.altered:
        lines.append("TAMPERED RUN: the test run cannot be trusted, so no kata is verified:")
        lines += [f"  - {p}" for p in run.altered[:30]]
        lines.append("")
    if run.claims_warning:
        lines += [f"note: {run.claims_warning}", ""]
    if run.probes_note:
        lines += [f"note: {run.probes_note}", ""]
    unprobed = [r.kata.id for r in run.rows if r.probes is None and r.pytest_status == "green"]
    if unprobed and not run.probes_note:
        lines += [f"note: kata {', '.join(unprobed)} ha{'s' if len(unprobed) == 1 else 've'} no probes yet: verified by the tests and the canaries only", ""]
    rows = [
        [r.kata.id, r.kata.title, _claim_text(r, sym), _status_text(r.status, sym), f"{r.passed}/{r.total}" if r.total else "", _verdict_text(r)]
        for r in run.rows
    ]
    lines.append(tabulate(rows, headers=["kata", "title", "claimed", "verified", "tests", ""], tablefmt="simple"))
    for r in run.rows:
        if r.status == "broken" and not r.regression:
            lines += ["", f"kata {r.kata.id} {r.kata.title} cannot run: {r.message}"]
        if r.not_student_work:
            lines += ["", f"kata {r.kata.id} {r.kata.title} is not counted: its code imports or loads the reference solutions/"]
            lines += [f"  - {m}" for m in r.not_student_work]
        elif r.status == "unverified" and not r.regression:
            lines += ["", f"kata {r.kata.id} {r.kata.title} is not verified: {r.message}"]
        if r.notes:
            lines += ["", f"kata {r.kata.id}: fork CI refused what the student's code tried to do:"] + [f"  - {m}" for m in r.notes]
    for r in run.regressions:
        lines.append("")
        if r.status == "unverified":
            lines.append(f"kata {r.kata.id} {r.kata.title}: progress.toml says green, pytest says green, but it is not verified.")
            lines += [f"  {why}" for why in r.unverified]
        else:
            lines.append(f"kata {r.kata.id} {r.kata.title}: progress.toml says green, the tests say {r.status} ({r.passed}/{r.total}).")
            if r.message:
                lines.append(f"  first failure: {r.message}")
        lines.append(f"  run it yourself: make kata N={r.kata.id}")
    lines += capstone_lines(run.capstone)
    if run.error:
        lines += ["", run.error]
    total = sum(r.total for r in run.rows)
    probed = [r for r in run.rows if r.probes is not None]
    agree = sum(r.probes.agree for r in probed)
    checks = f"; probes: {agree}/{sum(r.probes.total for r in probed)} agree with the reference (seed {run.seed})" if probed else ""
    lines += ["", f"{sum(r.passed for r in run.rows)}/{total} tests passed in {run.seconds:.1f} s{checks}", headline(run)]
    return "\n".join(lines)


def markdown_report(run: Run) -> str:
    sym = report.EMOJI
    green = sum(r.status == "green" for r in run.rows)
    lines = [f"## TinyTorch Katas: {green}/{len(run.rows)} katas green", ""]
    if run.mode == "upstream":
        commit = f" at `{run.upstream_commit[:12]}`" if run.upstream_commit else ""
        lines.append(f"Tests: the upstream course's{commit}. Nothing in this fork's katas/ was used.")
    else:
        lines.append("Tests: this fork's own, checked against `katas/MANIFEST.json`.")
    lines.append("")
    if run.tampering:
        lines.append(f"> **Tampering**: {len(run.tampering)} file(s) differ from the committed manifest:")
        lines += [f"> - `{p.split(':')[0]}`{p[len(p.split(':')[0]):]}" for p in run.tampering[:30]]
        lines.append("")
    if run.altered:
        lines.append("> **Tampered run**: no kata is verified:")
        lines += [f"> - {p}" for p in run.altered[:30]]
        lines.append("")
    if run.error:
        lines += [f"> **Error**: {run.error.splitlines()[0]}", ""]
    lines += ["| kata | claimed (progress.toml) | verified | tests | |", "|---|---|---|---|---|"]
    for r in run.rows:
        verdict = _verdict_text(r)
        lines.append(
            f"| {r.kata.id} {r.kata.title} | {_claim_text(r, sym)} | {_status_text(r.status, sym)} | "
            f"{f'{r.passed}/{r.total}' if r.total else ''} | {f'**{verdict}**' if r.regression else verdict} |"
        )
    for r in run.rows:
        if r.status == "unverified" or r.not_student_work:
            lines.append(f"- kata {r.kata.id}: " + "; ".join(r.unverified or r.not_student_work))
    cap = capstone_lines(run.capstone, markdown=True)
    if cap:
        lines += cap
    lines += ["", f"**{headline(run)}**", ""]
    return "\n".join(lines)


def classroom_result(run: Run, points: float = 10.0) -> dict:
    """The GitHub Classroom grading reporter's format: one test per kata, partial points.

    ``score`` = points × credited/total, so a kata half done earns half its points; a passing
    test is credited only when the probes of its step agree with the reference (``Row.credited``).
    A kata that loads the reference solutions, or a pytest green the probes contradict, earns
    nothing; tampering or a failed run gives ``status: error`` and no points at all.
    """
    tests = []
    broken_run = bool(run.error or run.tampering or run.altered)
    for r in run.rows:
        score = 0.0 if broken_run or not r.total else round(points * min(r.credited, r.passed) / r.total, 2)
        if broken_run:
            message = "not graded: " + (headline(run))
        elif r.status == "green":
            message = f"{r.passed}/{r.total} tests pass"
        elif r.not_student_work or r.status == "unverified":
            message = "not counted: " + (r.unverified or r.not_student_work)[0]
        else:
            message = f"{r.status}: {r.passed}/{r.total} tests pass" + (f"; first failure {r.message}" if r.message else "")
        tests.append({
            "name": f"kata {r.kata.id} {r.kata.title}",
            "status": "pass" if r.status == "green" and not broken_run else "fail",
            "score": score,
            "message": message,
            "test_code": f"python -m dojo kata {r.kata.id}",
            "filename": "",
            "line_no": 0,
            "execution_time": "",
        })
    status = "error" if broken_run else ("pass" if tests and all(t["status"] == "pass" for t in tests) else "fail")
    return {"version": 1, "status": status, "max_score": round(points * len(run.rows), 2), "tests": tests}


def encode_classroom(result: dict) -> str:
    return base64.b64encode(json.dumps(result, separators=(",", ":")).encode("utf-8")).decode("ascii")


def write_outputs(run: Run, out: Path, classroom: bool, points: float, milestones=()) -> list:
    """Write results.json, junit.xml (and classroom.json); append to the GitHub step summary and
    outputs when those variables are set. Returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    results = out / "results.json"
    results.write_text(json.dumps(to_json(run, milestones), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    written.append(results)
    junit = out / "junit.xml"
    junit.write_bytes(junit_xml(run))
    written.append(junit)
    summary = os.environ.get("GITHUB_STEP_SUMMARY", "").strip()
    if summary:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(markdown_report(run) + "\n")
        written.append(Path(summary))
    if classroom:
        result = classroom_result(run, points)
        path = out / "classroom.json"
        path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
        github_output = os.environ.get("GITHUB_OUTPUT", "").strip()
        if github_output:
            with open(github_output, "a", encoding="utf-8") as handle:
                handle.write(f"result={encode_classroom(result)}\n")
            written.append(Path(github_output))
    return written


WORKFLOWS = (".github/workflows/katas.yml", "docs/classroom.yml")


def _tool(name: str):
    """A console script from this interpreter's environment (the venv), else from PATH."""
    import shutil

    folder = Path(sys.executable).parent
    for candidate in (folder / name, folder / f"{name}.exe"):
        if candidate.exists():
            return str(candidate)
    return shutil.which(name)


def lint_workflows(root: Path = ROOT) -> tuple:
    """``make test``: the workflows pass GitHub's workflow schema (check-jsonschema's vendored
    ``vendor.github-workflows``) and zizmor's offline audit with no high-severity finding.
    Returns (problems, note)."""
    files = [root / w for w in WORKFLOWS if (root / w).exists()]
    problems = [f"{w} is missing" for w in WORKFLOWS if not (root / w).exists()]
    schema, zizmor = _tool("check-jsonschema"), _tool("zizmor")
    missing = [n for n, t in (("check-jsonschema", schema), ("zizmor", zizmor)) if not t]
    if missing:
        return problems + [f"{', '.join(missing)} not installed: pip install -e \".[lint]\" (make test installs it)"], "not run"
    if not files:
        return problems, "no workflow"
    proc = subprocess.run([schema, "--builtin-schema", "vendor.github-workflows", *map(str, files)], cwd=root, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        problems.append(f"GitHub workflow schema: {(proc.stdout + proc.stderr).strip()[-3000:]}")
    command = [zizmor, "--offline", "--no-progress", "--format", "json"]
    config = root / ".github" / "zizmor.yml"
    if config.exists():
        command += ["--config", str(config)]
    proc = subprocess.run([*command, *map(str, files)], cwd=root, capture_output=True, text=True, timeout=120)
    try:
        findings = json.loads(proc.stdout or "[]")
    except ValueError:
        return problems + [f"zizmor failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}"], "zizmor failed"
    counts = {}
    for finding in findings:
        severity = finding.get("determinations", {}).get("severity", "?")
        counts[severity] = counts.get(severity, 0) + 1
        if severity == "High":
            where = next((loc["symbolic"]["key"].get("Local", {}).get("verbatim_path", "") for loc in finding.get("locations", [])), "")
            row = next((loc["concrete"]["location"]["start_point"]["row"] + 1 for loc in finding.get("locations", [])), "?")
            problems.append(f"zizmor {finding.get('ident')} (high) in {where}:{row}: {finding.get('desc')}")
    found = ", ".join(f"{n} {s.lower()}" for s, n in sorted(counts.items())) or "no findings"
    return problems, f"{len(files)} workflows: schema ok{'' if not any('schema' in p for p in problems) else ' NOT'}; zizmor offline: {found}"


def add_arguments(parser) -> None:
    parser.add_argument("--upstream", default=None, help="a checkout of the upstream course whose tests to run (also KATAS_UPSTREAM=)")
    parser.add_argument("--fork", default=None, help="the tree whose tinytorch/ and progress.toml are checked (default: this repository)")
    parser.add_argument("--out", default=None, help="folder for results.json and junit.xml (also OUT=; default: the fork's root)")
    parser.add_argument("--katas", default=None,
                        help="verify only these katas: 01-06 or 01,02 (also KATAS=; default: all); each is still judged fully "
                             "(manifest of the whole fork, hashes, probes, canaries)")
    parser.add_argument("--classroom", action="store_true", default=os.environ.get("CLASSROOM", "") in ("1", "true"),
                        help="also write the GitHub Classroom reporter's result (classroom.json, and result= in $GITHUB_OUTPUT)")
    parser.add_argument("--points", type=float, default=None, help="Classroom points per kata (also POINTS=; default 10)")
    parser.add_argument("--capstone", action="store_true", default=os.environ.get("CAPSTONE", "").strip().lower() in ("1", "true", "yes"),
                        help="re-derive capstone.json whatever its configuration (also CAPSTONE=1; the official one "
                             "re-trains milestone 06's baseline: minutes). Without it only a quick submission is re-derived")


def main(args) -> int:
    upstream = args.upstream or os.environ.get("KATAS_UPSTREAM", "").strip() or None
    if upstream and not Path(upstream).is_dir():
        print(f"error: KATAS_UPSTREAM={upstream}: no such folder (check out the upstream course there)", file=sys.stderr)
        return 2
    fork = Path(args.fork).resolve() if args.fork else ROOT
    out = Path(args.out or os.environ.get("OUT", "").strip() or fork).resolve()
    points = float(args.points if args.points is not None else os.environ.get("POINTS") or 10)
    spec = args.katas or os.environ.get("KATAS", "").strip() or None
    if upstream and Path(upstream).resolve() != ROOT.resolve():
        return hand_over(Path(upstream).resolve(), fork, out, spec, args.classroom, points, args.capstone)
    if args.fork and not upstream:  # a facilitator verifying someone's fork with this checkout's tests
        upstream = str(ROOT)
    try:
        run = verify(fork, upstream, spec, capstone_full=args.capstone)
    except curriculum_module.UnknownKata as error:
        print(f"error: KATAS={spec}: {error.args[0]}", file=sys.stderr)
        return 2
    except curriculum_module.CurriculumError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    milestones = []
    if not run.error:
        milestones = curriculum_module.load(run.tests_root / "katas" / "curriculum.toml").milestones
    sym = report.symbols()
    print(terminal_report(run, sym))
    written = write_outputs(run, out, args.classroom, points, milestones)
    print("wrote " + ", ".join(_display(p) for p in written))
    return run.exit_code


def hand_over(upstream: Path, fork: Path, out: Path, spec, classroom: bool, points: float, capstone: bool = False) -> int:
    """Upstream mode from a fork's own harness: run the *upstream's* ``dojo ci --fork`` instead.

    Nothing of this fork but ``tinytorch/`` and ``progress.toml`` decides the verdict then. (This
    process is still the fork's, built by the fork's Makefile: graded CI runs the upstream's own
    Makefile directly, ``make -C .upstream ci FORK=$PWD``, as .github/workflows/katas.yml does.)
    """
    if not (upstream / "dojo" / "__main__.py").exists():
        print(f"error: KATAS_UPSTREAM={upstream}: no dojo/ harness there (check out the upstream course there)", file=sys.stderr)
        return 2
    print(f"upstream mode: the upstream's harness in {upstream} grades {fork / 'tinytorch'}", flush=True)
    command = [sys.executable, "-m", "dojo", "ci", "--fork", str(fork), "--out", str(out), "--points", str(points)]
    if spec:
        command += ["--katas", spec]
    if classroom:
        command.append("--classroom")
    if capstone:
        command.append("--capstone")
    env = {k: v for k, v in os.environ.items() if k not in ("KATAS_UPSTREAM", "PYTHONPATH", "KATAS", "CLASSROOM", "OUT", "POINTS", "CAPSTONE")}
    return subprocess.run(command, cwd=upstream, env=env).returncode


def _display(path: Path) -> str:
    try:
        return Path(path).resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)
