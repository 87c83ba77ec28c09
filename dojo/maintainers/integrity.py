"""``make test``: every invariant of DESIGN.md, each part timed.

1. curriculum and layout agree (folders, READMEs, one test file per step, real hints)
2. stubs fresh: tinytorch/ is exactly what the generator makes
3. the harness's own tests (tests/)
4. solutions green: every kata test passes against solutions/
5. stubs red: with a kata stubbed every test of it fails; with one step stubbed every test of
   that step fails (solutions everywhere else)
6. flake hunt: every kata's property tests against the solutions under the ``dev`` profile with
   fresh random seeds, within a time budget (``make soak`` is the long version)
7. fresh student view: with the committed stubs kata 01 is red with amber steps, every other
   kata is locked
8. milestones: each quick mode meets its quick target against the solutions
9. determinism: the hypothesis ci profile is derandomized and used by every run above
10. kata-test manifest fresh: katas/MANIFEST.json (what fork CI checks) matches the files
11. fork-CI workflows: GitHub's workflow schema and zizmor's offline audit (no high finding)
12. cohort board: 30 generated students render in headless Chromium (without one: not run, said
    plainly, and the suite still passes; under CI, where .ci/run installs one, a failure)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dojo import ROOT, stubs
from dojo.maintainers import checks, flakehunt


class Part:
    def __init__(self, name):
        self.name = name
        self.problems = []
        self.note = ""
        self.seconds = 0.0
        self.skipped = ""  # why this check did not run (not a failure)


def _print_part(part):
    status = "FAILED" if part.problems else "not run" if part.skipped else "ok"
    print(f"[{status:>7}] {part.name:<44} {part.seconds:6.1f} s  {part.note}", flush=True)
    for problem in part.problems[:30]:
        print("         - " + problem.replace("\n", "\n           "))
    if len(part.problems) > 30:
        print(f"         … and {len(part.problems) - 30} more")


def part_layout(c, part):
    part.problems += checks.layout_problems(c)
    part.note = f"{len(c.katas)} katas, {sum(len(k.steps) for k in c.katas)} steps, {len(c.milestones)} milestones"


def part_stubs_fresh(c, part):
    part.problems += [f"{p}: run `make stubs` and commit tinytorch/" for p in stubs.stale_files(c)]


def child_env(drop=(), **extra) -> dict:
    """The environment for a subprocess: ours, without ``drop``, with ``extra`` set, and without
    ``PYTHONDONTWRITEBYTECODE``, so pytest caches its assertion rewrites (about 1 s per run). Built
    per call: ``os.environ`` itself is left alone (``main`` runs in-process in the harness tests)."""
    gone = {"PYTHONDONTWRITEBYTECODE", *drop}
    return {**{k: v for k, v in os.environ.items() if k not in gone}, **extra}


def start_harness():
    """Start the harness's own tests in the background (one core) while the single-process parts run."""
    tests = ROOT / "tests"
    command = [sys.executable, "-m", "pytest", str(tests), "-q", "-p", "no:cacheprovider", "--hypothesis-profile=ci", "--impl=solutions"]
    log = tempfile.TemporaryFile(mode="w+", encoding="utf-8")
    env = child_env()
    return subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, text=True, env=env), log


def part_harness(c, part, state):
    proc, log = state.pop("harness", None) or start_harness()
    proc.wait()
    log.seek(0)
    output = log.read()
    log.close()
    last = [line for line in output.strip().splitlines() if line.strip()][-1:] or ["(no output)"]
    part.note = last[0].strip("= ")
    if proc.returncode != 0:
        part.problems.append(f"tests/ failed (exit {proc.returncode}):\n{output[-6000:]}")


def part_solutions(c, part, state):
    outcomes = checks.run_pytest([ROOT / "katas"], ROOT / "solutions")
    state["solutions"] = outcomes
    failed = {k: v for k, v in outcomes.tests.items() if v != "passed"}
    part.note = f"{len(outcomes.tests) - len(failed)}/{len(outcomes.tests)} kata tests pass"
    if not outcomes.tests:
        part.problems.append("no kata test ran against the solutions:\n" + outcomes.output[-3000:])
    for test, outcome in sorted(failed.items()):
        part.problems.append(f"{test}: {outcome}")


def part_stubs_red(c, part, state):
    runs = 0
    for kata in c.katas:
        result = checks.check_kata(c, kata, solutions_outcomes=state.get("solutions"))
        runs += result.runs
        part.problems += result.problems
    part.note = f"{runs} pytest runs (each kata, then each step, stubbed)"


def part_fresh_view(c, part):
    with tempfile.TemporaryDirectory(prefix="dojo-fresh-") as tmp:
        shutil.copytree(ROOT / "tinytorch", Path(tmp) / "tinytorch", ignore=shutil.ignore_patterns("__pycache__"))
        results = Path(tmp) / "results.json"
        command = [
            sys.executable, "-m", "pytest", str(ROOT / "katas"), "-q", "-p", "no:cacheprovider",
            f"--impl={tmp}", f"--dojo-progress={Path(tmp) / 'progress.toml'}", f"--dojo-results={results}",
            "--hypothesis-profile=ci",
        ]
        env = child_env(drop=("UNLOCK", "IMPL"))
        proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env)
        if not results.exists():
            part.problems.append(f"no results written:\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}")
            return
        katas = json.loads(results.read_text())["katas"]
    first, *later = c.katas
    got = katas.get(first.id, {})
    if got.get("status") != "red" or got.get("passed") != 0:
        part.problems.append(f"kata {first.id} should be red with 0 passing on the stubs, got {got.get('status')} {got.get('passed')}/{got.get('total')}")
    for step in got.get("steps", []):
        if step["status"] != "todo":
            part.problems.append(f"kata {first.id} step {step['number']} ({step['name']}) should be amber (not implemented yet), is {step['status']}")
    for kata in later:
        status = katas.get(kata.id, {}).get("status")
        if status != "locked":
            part.problems.append(f"kata {kata.id} should be locked for a new student, is {status}")
    if proc.returncode == 0:
        part.problems.append("pytest exited 0 on the fresh stubs")
    part.note = f"kata {first.id} red ({len(got.get('steps', []))} amber steps), {len(later)} locked"


def part_milestones(c, part):
    """Each milestone's quick mode, twice: it must meet its quick target and repeat its metric."""
    notes = []
    for m in c.milestones:
        command = [sys.executable, "-m", "dojo", "milestone", m.id, "--quick", "--no-record"]
        env = child_env(IMPL="solutions", UNLOCK="1", DOJO_ASCII="1", TINYTORCH_OFFLINE="1")
        metrics = []
        started = time.perf_counter()
        for _ in range(2):
            proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env)
            if proc.returncode != 0:
                part.problems.append(f"milestone {m.id} quick mode missed its target (exit {proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
                break
            lines = [line for line in proc.stdout.splitlines() if " target " in line]
            metrics.append(lines[-1].split(" target ")[0] if lines else proc.stdout[-200:])
        seconds = (time.perf_counter() - started) / max(1, len(metrics))
        if len(metrics) == 2 and metrics[0] != metrics[1]:
            part.problems.append(f"milestone {m.id} is not deterministic: {metrics[0]} then {metrics[1]}")
        notes.append(f"M{m.id} {seconds:.0f}s")
    part.note = ", ".join(notes) + " (each run twice)" if notes else "none yet"


def part_determinism(c, part):
    sys.path.insert(0, str(ROOT))
    import conftest  # noqa: F401  (registers the profiles)
    from hypothesis import settings

    ci = settings.get_profile("ci")
    if not ci.derandomize:
        part.problems.append("the hypothesis ci profile is not derandomized")
    if ci.database is not None:
        part.problems.append("the hypothesis ci profile keeps a database (results could depend on history)")
    part.note = f"ci profile: derandomize={ci.derandomize}, max_examples={ci.max_examples}"


def part_manifest(c, part):
    from dojo.classroom import manifest

    part.problems += manifest.stale()
    part.note = f"{len(manifest.tracked_files())} files hashed"


def part_workflows(c, part):
    from dojo.classroom import ci

    problems, part.note = ci.lint_workflows()
    part.problems += problems


def under_ci() -> bool:
    """True in CI (``CI`` set, as GitHub Actions and .ci/run do)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def part_board_browser(c, part):
    """Without a browser: a failure under CI, else not run (one plain line, and the suite passes)."""
    from dojo.classroom import board

    if not board.find_browser() and not under_ci():
        part.skipped = (
            "no Chromium here, so the cohort board was not checked in a browser. To run this check: "
            "install chromium (Debian/Ubuntu: apt-get install chromium) or set CHROMIUM=/path/to/chrome; "
            "CI (.ci/run) installs it and runs it"
        )
        part.note = "not run: no Chromium (see below)"
        return
    problems, part.note = board.browser_check(c)
    part.problems += problems


def main(c, plan=None) -> int:
    """Run every part (``plan``: [(name, run(part))], the whole suite by default); 0 when none failed."""
    state = {}
    if plan is None:
        state["harness"] = start_harness()  # overlaps the single-process parts below
    plan = plan if plan is not None else [
        ("curriculum and layout", lambda p: part_layout(c, p)),
        ("stubs fresh (tinytorch/ = generator output)", lambda p: part_stubs_fresh(c, p)),
        ("solutions green", lambda p: part_solutions(c, p, state)),
        ("fresh student view", lambda p: part_fresh_view(c, p)),
        ("milestones (quick mode, solutions, twice)", lambda p: part_milestones(c, p)),
        ("determinism (hypothesis ci profile)", lambda p: part_determinism(c, p)),
        ("kata-test manifest fresh (fork CI)", lambda p: part_manifest(c, p)),
        ("fork-CI workflows (schema + zizmor)", lambda p: part_workflows(c, p)),
        ("cohort board in headless Chromium", lambda p: part_board_browser(c, p)),
        ("harness tests (tests/, in the background since the start)", lambda p: part_harness(c, p, state)),
        ("stubs red, kata by kata and step by step", lambda p: part_stubs_red(c, p, state)),
        ("flake hunt (dev profile, fresh random seeds)", lambda p: flakehunt.part_flake_hunt(c, p)),
    ]
    started = time.perf_counter()
    parts = []
    print("make test: the integrity suite\n", flush=True)
    for name, run in plan:
        part = Part(name)
        t0 = time.perf_counter()
        try:
            run(part)
        except Exception as error:  # a crash in a check is a failure of that check, reported
            part.problems.append(f"{type(error).__name__}: {error}")
        part.seconds = time.perf_counter() - t0
        _print_part(part)
        parts.append(part)
    total = time.perf_counter() - started
    failed = sum(bool(p.problems) for p in parts)
    skipped = [p for p in parts if p.skipped and not p.problems]
    print(f"\ntotal {total:.1f} s")
    for part in skipped:
        print(f"not run: {part.name}: {part.skipped}")
    print(f"integrity: {len(parts) - failed - len(skipped)} passed, {failed} failed" + (f", {len(skipped)} skipped" if skipped else ""))
    return 1 if failed else 0
