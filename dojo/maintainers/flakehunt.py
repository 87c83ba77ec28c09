"""Flake hunt: the kata tests against the solutions under random hypothesis seeds.

`make test` and fork CI run hypothesis derandomized (the ``ci`` profile): the same draws every
run, so a property test that fails on *some* draws can stay green there for ever while students,
who run the ``dev`` profile (random draws), get a random red on correct code. The hunt closes
that gap: it runs every kata's property tests against ``solutions/`` under the ``dev`` profile
once per fresh random seed (``--hypothesis-seed=N``: a seeded run reads and writes no example
database, and hypothesis's files go to ``.dojo/cache/hypothesis``, away from the student's
``.hypothesis/``), one pytest process per seed holding every kata, two at a time, inside a
time budget.

Only the property tests run per seed (``-m hypothesis``): a hypothesis seed changes nothing
else, and every other test already runs once against the solutions in ``make test``.

Same seed, same draws. A seeded run reads and writes no example database (hypothesis gives a
``--hypothesis-seed`` run no database key), so no cached state steers it. But hypothesis also
mixes into its draws the literal constants of every *local* module loaded at the time (all of
dojo/ and solutions/, found by path): left on, which seeds catch a flake changed with any edit
anywhere in dojo/ or solutions/, with the checkout's path (a folder named ``tests`` or ``test``
hides the modules under it) and with which other katas ran in the same process, so a replay of
one test could miss what the hunt saw. Every hunt process (and the replay command) loads this
module as a pytest plugin (``-p dojo.maintainers.flakehunt``), which turns those local constants off: a
test's draws then depend only on the seed, the test's own source and the hypothesis version.

Seed count. A flake that fails a fraction ``q`` of the seeds escapes ``n`` seeds with
probability ``(1 - q) ** n``. Kata 07's old boundary flake (a clipped norm equal to max_norm)
failed 15 of seeds 1-40 (q ≈ 0.375; 7 of 20 before local constants were turned off): 16 seeds
miss it with probability 0.625 ** 16 ≈ 0.05 %, 8 seeds with 2 %, one seed 62 % of the time.
One seed costs about 6 CPU-seconds (every kata's property tests, interpreter start and
collection included), so 16 seeds take about 50 s on two idle cores; the budget
(``FLAKE_BUDGET``, 60 s) stops starting new seeds once spent (a busy machine gets fewer seeds:
4 to 6 at a load average of 5.5 on two cores, which still catch that flake with 85-94 %), and
the note says how many ran. ``make soak`` runs longer: every test, the
``thorough`` profile (500 examples), ``SEEDS`` seeds (8), no budget.

Each failure is one line: kata, test, the seeds it failed with, the message, where it was raised,
the example hypothesis drew, and the command that replays it (a flake that depends on more than
the seed may pass on replay: where and what then still say where to look).
``FLAKE_SEEDS=3,17`` replays given seeds instead of drawing new ones.

>>> result = hunt(curriculum.load(), seeds=[1, 2], profile="dev")     # doctest: +SKIP
>>> print("\\n".join(result.lines()))                                   # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dojo import ROOT

SEEDS = 16  # see the module docstring for the choice
BUDGET = 60.0  # seconds of wall time for the hunt inside `make test` (2 workers)
SOAK_SEEDS = 8
SOAK_PROFILE = "thorough"
SOAK_TIMEOUT = 300  # seconds per test under the thorough profile (students' limit: 10 s under dev)
WORKERS = 2


@dataclass
class SeedRun:
    """One pytest process: every kata's tests under one hypothesis seed."""

    seed: int
    failed: list = field(default_factory=list)  # [(kata id, "test_file.py::test_name")]
    reasons: dict = field(default_factory=dict)  # (kata id, test) -> first line of the failure message
    details: dict = field(default_factory=dict)  # (kata id, test) -> (where it was raised, the example drawn)
    passed: int = 0
    seconds: float = 0.0
    finished: bool = True  # False: stopped at the budget, or pytest ended without a report
    stopped: bool = False  # stopped at the budget (not a failure of the tests)
    output: str = ""


@dataclass
class HuntResult:
    profile: str
    seeds: list
    runs: list = field(default_factory=list)
    skipped: list = field(default_factory=list)  # seeds not started: the budget was spent
    seconds: float = 0.0
    property_only: bool = True

    def failures(self) -> dict:
        """{(kata id, test): [seeds it failed with]} in kata, test order."""
        found = {}
        for run in sorted(self.runs, key=lambda r: self.seeds.index(r.seed)):
            for kata, test in run.failed:
                found.setdefault((kata, test), []).append(run.seed)
        return dict(sorted(found.items()))

    def reason(self, key) -> str:
        """The failure message of ``key``'s first failing seed, on one line."""
        run = next((r for r in sorted(self.runs, key=lambda r: self.seeds.index(r.seed)) if key in r.reasons), None)
        text = " ".join((run.reasons[key] if run else "").split())
        text = text[:117] + "..." if len(text) > 120 else text
        where, drawn = run.details.get(key, ("", "")) if run else ("", "")
        if where:
            text += f" · raised at {where}"
        if drawn:
            text += f" · drawn: {drawn[:157] + '...' if len(drawn) > 160 else drawn}"
        return text.lstrip(" ·")

    def broken_runs(self) -> list:
        """Runs that ended without a test report (a crash, not a budget stop)."""
        return [r for r in self.runs if not r.finished and not r.stopped]

    def lines(self, katas_dir: Path = ROOT / "katas") -> list:
        """One line per failing test: kata, test, seeds, message, where raised, example drawn, replay command."""
        out = []
        for (kata, test), seeds in self.failures().items():
            file, _, name = test.partition("::")
            folder = next((p.name for p in sorted(katas_dir.glob(f"{kata}_*")) if p.is_dir()), kata)
            node = f"katas/{folder}/{file}::{name}"
            reason = self.reason((kata, test))
            out.append(
                f"kata {kata} · {test} · failed with seed {', '.join(map(str, seeds))} "
                f"({len(seeds)} of {len(self.runs)} seeds, {self.profile} profile)"
                + (f" · {reason}" if reason else "")
                + f" · replay: {replay_command(node, seeds[0], self.profile)}"
            )
        return out

    def note(self) -> str:
        ran = len(self.runs)
        done = sum(r.finished for r in self.runs)
        what = "property tests" if self.property_only else "all tests"
        tests = max((r.passed + len(r.failed) for r in self.runs), default=0)
        text = f"{done}/{len(self.seeds)} seeds × {tests} {what} ({self.profile}) in {self.seconds:.0f} s"
        if self.skipped or done < ran:
            text += f"; budget spent, {len(self.skipped) + ran - done} seed(s) not (fully) run"
        return text


PLUGIN = "dojo.maintainers.flakehunt"  # loaded into every hunt process: see pytest_configure below
_NO_CONSTANTS = []  # the one empty pool handed to hypothesis once local constants are off


def no_local_constants() -> bool:
    """Stop hypothesis from drawing the literal constants of local modules (see the module
    docstring): the draws of a seeded run then depend on the seed and the test alone. True when
    done; False on a hypothesis without that feature (before 6.131: nothing to turn off) or one
    that moved it (the hunt still runs, as before this switch)."""
    try:
        from hypothesis.internal.conjecture import providers
        from hypothesis.internal.constants_ast import Constants
    except ImportError:
        return False
    if not callable(getattr(providers, "_get_local_constants", None)):
        return False
    if not _NO_CONSTANTS:
        _NO_CONSTANTS.append(Constants())
    providers._get_local_constants = lambda: _NO_CONSTANTS[0]
    return True


def pytest_configure(config):
    """As a pytest plugin (``-p dojo.maintainers.flakehunt``, hunt and replay processes only): local constants off."""
    no_local_constants()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test carries ``raised_at`` in its junit XML properties: the deepest frame of the
    repository's own code, past the shared assertion helpers (dojo/testing.py), as ``path:line``.
    The dojo's reports for students keep only the message, and a flake that passes on replay
    has to be found from what the hunt saw."""
    report = yield
    if report.failed and call.excinfo is not None:
        root = Path(str(item.config.rootpath))
        for entry in reversed(call.excinfo.traceback):
            path = Path(str(entry.path))
            try:
                relative = path.relative_to(root)
            except ValueError:
                continue  # the standard library, site-packages
            if relative.as_posix() == "dojo/testing.py" or ".venv" in relative.parts:
                continue
            item.user_properties.append(("raised_at", f"{relative.as_posix()}:{entry.lineno + 1}"))
            break
    return report


def replay_command(node: str, seed: int, profile: str) -> str:
    """The command a maintainer pastes to see the failure again (the hunt's draws: ``-p dojo.maintainers.flakehunt``)."""
    return (f".venv/bin/python -m pytest '{node}' --impl=solutions --no-gate --dojo-progress=none "
            f"--hypothesis-profile={profile} --hypothesis-seed={seed} -p no:cacheprovider -p {PLUGIN}")


def fresh_seeds(count: int) -> list:
    """``FLAKE_SEEDS=1,2,3`` when set (to replay), else ``count`` fresh random 32-bit seeds."""
    given = os.environ.get("FLAKE_SEEDS", "").replace(",", " ").split()
    if given:
        return [int(s) for s in given]
    seeds = []
    while len(seeds) < count:
        seed = secrets.randbelow(2**32)
        if seed not in seeds:
            seeds.append(seed)
    return seeds


def _kata_and_test(classname: str, name: str, kata_ids) -> tuple:
    """``katas.07_training.test_02_clipping`` + ``test_x[a]`` → ("07", "test_02_clipping.py::test_x[a]")."""
    parts = classname.split(".")
    kata = next((p.split("_", 1)[0] for p in parts if p.split("_", 1)[0] in kata_ids), "?")
    module = next((p for p in reversed(parts) if p.startswith("test_")), parts[-1])
    return kata, f"{module}.py::{name}"


def _storage(root, tmp) -> Path:
    """Hypothesis's folder for these runs: never the student's ``.hypothesis/`` (a seeded run keeps
    no examples anyway), but kept between runs in ``.dojo/cache/hypothesis`` so that hypothesis's
    unicode tables are built once, not once per seed (about 1.5 s each); a temporary one when
    that folder cannot be written."""
    folder = Path(root) / ".dojo" / "cache" / "hypothesis"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    except OSError:
        return Path(tmp) / "hypothesis"


WARM_UP = (  # hypothesis's unicode tables, built in the storage folder before any seed starts
    "import warnings\n"
    "from hypothesis import strategies as st\n"
    "warnings.simplefilter('ignore')\n"
    "st.text().example()\n"
    "st.text(st.characters(codec='utf-8')).example()\n"
)


def warm_storage(root=ROOT) -> bool:
    """Build hypothesis's unicode tables in the hunt's storage folder once, before the seeds run.

    In a cold folder (a fresh clone's first `make test`) the first text-drawing test of a seed
    builds them itself, inside its 10 s per-test limit: measured 6 s on a busy machine, and the two
    first seeds building them at once ran past the limit, so kata 10's BPE test was reported as a
    flake ("Timeout (>10s)") that was only the cold cache. True when the tables are there."""
    folder = Path(root) / ".dojo" / "cache" / "hypothesis"
    if _storage(root, tempfile.gettempdir()) != folder:  # not writable: each seed uses its own temporary one
        return False
    tables = folder / "unicode_data"
    if list(tables.glob("*/charmap.json.gz")) and list(tables.glob("*/codec-*utf-8*")):
        return True
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["HYPOTHESIS_STORAGE_DIRECTORY"] = str(folder)
    try:
        subprocess.run([sys.executable, "-c", WARM_UP], cwd=root, env=env, capture_output=True, timeout=300)
    except (OSError, subprocess.SubprocessError):  # best effort: the seeds build the tables themselves
        return False
    return bool(list(tables.glob("*/charmap.json.gz")))


def run_seed(seed, paths, profile, impl_root, kata_ids, property_only=True, timeout=None, root=ROOT, extra=()) -> SeedRun:
    """Run ``paths`` once under ``--hypothesis-seed=seed`` in a fresh pytest process (``extra``:
    more pytest arguments); ``timeout`` bounds the whole process."""
    started = time.perf_counter()
    result = SeedRun(seed)
    with tempfile.TemporaryDirectory(prefix="dojo-flakehunt-") as tmp:
        xml = Path(tmp) / "junit.xml"
        command = [
            sys.executable, "-m", "pytest", *[str(p) for p in paths], f"--impl={impl_root}", "--no-gate",
            "--dojo-progress=none", "--dojo-quiet", f"--hypothesis-profile={profile}", f"--hypothesis-seed={seed}",
            f"--junitxml={xml}", "-o", "junit_family=xunit2", "-p", "no:cacheprovider", "-p", PLUGIN, "-q",
        ]
        if property_only:
            command += ["-m", "hypothesis"]
        command += list(extra)
        drop = ("IMPL", "UNLOCK", "PYTEST_ADDOPTS", "HYPOTHESIS_PROFILE", "PYTHONDONTWRITEBYTECODE", "DOJO_CURRICULUM")
        env = {k: v for k, v in os.environ.items() if k not in drop}
        env["HYPOTHESIS_STORAGE_DIRECTORY"] = str(_storage(root, tmp))
        try:
            proc = subprocess.run(command, cwd=root, capture_output=True, text=True, env=env, timeout=timeout)
            result.output = proc.stdout[-3000:] + proc.stderr[-2000:]
        except subprocess.TimeoutExpired:
            result.finished, result.stopped = False, True
            result.output = f"stopped at the budget after {timeout:.0f} s"
        if xml.exists():
            for case in ET.parse(xml).getroot().iter("testcase"):
                kinds = {child.tag for child in case}
                if "skipped" in kinds:
                    continue
                if kinds & {"failure", "error"}:
                    key = _kata_and_test(case.get("classname", ""), case.get("name", ""), kata_ids)
                    result.failed.append(key)
                    element = next(child for child in case if child.tag in ("failure", "error"))
                    result.reasons[key] = (element.get("message") or "").splitlines()[0] if element.get("message") else ""
                    raised = [p.get("value") for p in case.iter("property") if p.get("name") == "raised_at"]
                    result.details[key] = (raised[0] if raised else "", drawn_example(element.get("message") or ""))
                else:
                    result.passed += 1
        elif result.finished:
            result.finished = False
            result.output = "pytest wrote no report:\n" + result.output
    result.seconds = time.perf_counter() - started
    return result


def drawn_example(message) -> str:
    """The example hypothesis drew, ``test(x=..., y=...)`` on one line, from a failure's message
    ("" when it names none)."""
    for marker in ("Falsifying example:", "Failing test case:"):
        if marker in message:
            lines = message.split(marker, 1)[1].splitlines()
            drawn = " ".join(" ".join(re.sub(r"\s#.*$", "", line) for line in lines).split())
            return drawn.replace("( ", "(").replace(", )", ")").replace(" )", ")")
    return ""


def hunt(c, seeds, profile="dev", budget=None, katas=None, property_only=True, workers=WORKERS,
         impl_root=ROOT / "solutions", root=ROOT) -> HuntResult:
    """Every kata (or ``katas``) against ``impl_root``, one pytest process per seed, ``workers``
    at a time. With ``budget`` (seconds): no seed starts after it is spent, and a run still going
    at 1.5 × budget is stopped (reported as not finished, never as a failure)."""
    chosen = [c.kata(k) for k in katas] if katas else list(c.katas)
    paths = [c.kata_dir(k) for k in chosen if c.kata_dir(k).is_dir()]  # a missing folder is the layout check's to report
    kata_ids = {k.id for k in c.katas}
    result = HuntResult(profile=profile, seeds=list(seeds), property_only=property_only)
    warm_storage(root)  # before the budget's clock starts: see warm_storage
    started = time.perf_counter()

    def one(seed):
        elapsed = time.perf_counter() - started
        if budget is not None and elapsed >= budget:
            result.skipped.append(seed)
            return None
        timeout = None if budget is None else max(5.0, 1.5 * budget - elapsed)
        return run_seed(seed, paths, profile, impl_root, kata_ids, property_only, timeout, root)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        result.runs = [r for r in pool.map(one, seeds) if r is not None]
    result.seconds = time.perf_counter() - started
    return result


def part_flake_hunt(c, part) -> None:
    """`make test`'s flake hunt (same contract as dojo.maintainers.integrity's parts): a failing test is a
    problem, with its kata, test, seeds and replay command; the note says what ran and how long."""
    seeds = fresh_seeds(int(os.environ.get("FLAKE_SEEDS_COUNT") or SEEDS))
    budget = float(os.environ.get("FLAKE_BUDGET") or BUDGET)
    result = hunt(c, seeds, profile="dev", budget=budget)
    part.problems += result.lines()
    for run in result.broken_runs():
        part.problems.append(f"seed {run.seed}: the run ended without a test report:\n{run.output[-1500:]}")
    if not result.runs:
        part.problems.append("no seed ran within the budget")
    part.note = result.note()


def soak_main(c, katas=(), seeds=None, profile=None) -> int:
    """``make soak``: every test of every kata (or ``katas``) against the solutions, under the
    ``thorough`` profile (or ``HYPOTHESIS_PROFILE``), ``SEEDS`` fresh seeds (default 8), no budget.
    Prints one line per seed as it finishes, then one line per failing test."""
    profile = profile or os.environ.get("HYPOTHESIS_PROFILE") or SOAK_PROFILE
    count = seeds or int(os.environ.get("SEEDS") or SOAK_SEEDS)
    chosen = list(katas) or None
    seed_list = fresh_seeds(count)
    print(f"soak: {len(seed_list)} seeds × every test of {len(chosen or c.katas)} kata(s), {profile} profile, "
          f"{WORKERS} at a time (each seed is one pytest process)", flush=True)
    result = HuntResult(profile=profile, seeds=seed_list, property_only=False)
    warm_storage()
    started = time.perf_counter()
    kata_ids = {k.id for k in c.katas}
    paths = [c.kata_dir(k) for k in (chosen or c.katas) if c.kata_dir(k).is_dir()]

    def one(seed):  # the thorough profile runs 25 times the examples: the per-test limit grows to match
        run = run_seed(seed, paths, profile, ROOT / "solutions", kata_ids, property_only=False, extra=[f"--timeout={SOAK_TIMEOUT}"])
        status = "ok" if run.finished and not run.failed else ("FAILED" if run.failed else "BROKEN")
        print(f"  seed {seed:>10}  {status:<6} {run.passed + len(run.failed)} tests  {run.seconds:5.1f} s", flush=True)
        return run

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        result.runs = list(pool.map(one, seed_list))
    result.seconds = time.perf_counter() - started
    lines = result.lines()
    for line in lines:
        print(line)
    for run in result.broken_runs():
        print(f"seed {run.seed}: the run ended without a test report:\n{run.output[-1500:]}")
    bad = bool(lines or result.broken_runs())
    print(f"soak {'FAILED' if bad else 'ok'}: {result.note()}")
    return 1 if bad else 0
