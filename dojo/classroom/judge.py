"""The fork-CI judge: everything that decides a verdict, in a process that never imports student code.

``dojo.classroom.ci`` calls these pieces around the pytest run; none of them imports ``tinytorch`` (a test
checks it), so nothing the student's package does at import time can reach them:

- ``copy_impl``: the student's ``tinytorch/`` (and nothing else of the fork) copied to a private
  folder; symlinks stay links, so one pointing at ``solutions/`` still reads from there (and is
  refused by the guard).
- ``scan_for_solutions``: a static scan of the student's files for code that imports or opens the
  reference ``solutions/`` (import statements, and strings naming it, e.g. ``importlib`` calls,
  ``sys.path`` entries, ``open()`` paths); reported per kata.
- ``run_probes`` / ``compare``: the probe process (``dojo.classroom.probes.run``) on the reference, then on
  the student's copy under ``dojo.classroom.guard``, with the same fresh seed; the results are plain JSON and
  ``.npz`` files read with ``allow_pickle=False`` and compared here with each probe's tolerances.
- ``write_canaries`` / ``canary_problems``: tests that must fail, injected into the pytest run under
  random names (a plain failing assert, and a hypothesis property that fails only after its 20th
  example, so a profile with fewer examples loaded from the student's package is caught). A canary
  reported as passed means the run's reporting was tampered with.
- ``snapshot`` / ``changed``: SHA-256 of pytest, pluggy, hypothesis, pytest-timeout, numpy (the
  packages that run and report the tests), the ``.pth``/``sitecustomize`` files that run at start-up,
  the harness ``dojo/``, ``conftest.py``, ``pyproject.toml`` and the kata tests, taken before any
  student code runs and again after the last run.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

RUNNER = "dojo.classroom.probes.run"
BOOT = "import sys; sys.path.insert(0, sys.argv[1]); from dojo.classroom.probes.run import main; raise SystemExit(main(sys.argv[2:]))"
CANARY_EXAMPLES = 20  # the ci profile runs 30 examples per property; a run with fewer than 20 is caught
MAX_PROBE_FILE = 64 * 1024 * 1024
# The distributions whose files run and report the tests (hashed before and after the run).
WATCHED_DISTRIBUTIONS = ("pytest", "pluggy", "hypothesis", "pytest-timeout", "pytest-order", "numpy", "iniconfig", "packaging")
# pytest plugins fork CI loads (every other installed plugin is left out: PYTEST_DISABLE_PLUGIN_AUTOLOAD).
TRUSTED_PLUGINS = ("hypothesis", "pytest-timeout", "pytest-order")
SKIP_DIRS = {"__pycache__", ".git", ".venv", ".dojo", ".hypothesis", ".pytest_cache", "node_modules"}


def new_seed() -> int:
    """A fresh 32-bit seed per CI run: the probes' inputs cannot be known in advance."""
    return secrets.randbits(32)


# -- the student's package ---------------------------------------------------------------------


def copy_impl(fork: Path, destination: Path) -> Path:
    """Copy ``fork/tinytorch`` to ``destination/tinytorch`` (links kept as links); returns ``destination``."""
    destination = Path(destination)
    shutil.copytree(Path(fork) / "tinytorch", destination / "tinytorch", symlinks=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return destination


_SOLUTIONS_TEXT = re.compile(r"(^|[/\\.\s'\"])solutions($|[/\\.\s'\"])")


def _docstrings(tree) -> set:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
                found.add(id(body[0].value))
    return found


def scan_file(path: Path) -> list:
    """Lines of ``path`` that import or name the reference ``solutions/``: ['file:line: what']."""
    try:
        source = Path(path).read_text(encoding="utf-8", errors="replace")
        tree = ast.parse(source)
    except (OSError, SyntaxError, ValueError):
        return []
    found = []
    docs = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "solutions":
                    found.append((node.lineno, f"import {alias.name}"))
        elif isinstance(node, ast.ImportFrom):
            if (node.module or "").split(".")[0] == "solutions" and not node.level:
                found.append((node.lineno, f"from {node.module} import ..."))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            if _SOLUTIONS_TEXT.search(node.value):
                found.append((node.lineno, f"names {node.value[:60]!r}"))
    return [f"{line}: {what}" for line, what in sorted(set(found))]


def scan_for_solutions(package: Path, curriculum, katas) -> dict:
    """{kata id: [messages]}: files of the student's package that import or load ``solutions/``.

    A kata's own files count against it; a file no kata owns (``__init__.py``, helpers) counts
    against every kata. A symlink that leaves the package counts like an import.
    """
    package = Path(package)
    found = {}
    if not package.is_dir():
        return found
    for path in sorted(package.rglob("*")):
        if "__pycache__" in path.parts:
            continue
        rel = path.relative_to(package).as_posix()
        messages = []
        if path.is_symlink():
            target = os.path.realpath(path)
            if not target.startswith(os.path.realpath(package) + os.sep):
                messages.append(f"tinytorch/{rel} is a link to {target}")
        elif path.suffix == ".py" and path.is_file():
            messages += [f"tinytorch/{rel}:{line}" for line in scan_file(path)]
        if not messages:
            continue
        owner = curriculum.owner_of(rel)
        for kata in katas:
            if owner is None or owner.id == kata.id:
                found.setdefault(kata.id, []).extend(messages)
    return found


# -- probes ------------------------------------------------------------------------------------


@dataclass
class ProbeRun:
    """What one probe process produced: {kata: {probe: record with its arrays}}, and its problems."""

    katas: dict = field(default_factory=dict)
    problems: dict = field(default_factory=dict)  # kata id -> why its probes have no results
    findings: list = field(default_factory=list)  # guard refusals
    log: str = ""


def load_kata(out: Path, kata: str) -> dict:
    """Read ``<kata>.json`` and ``<kata>.npz`` (no pickles); raises ValueError on anything odd."""
    path_json, path_npz = out / f"{kata}.json", out / f"{kata}.npz"
    for path in (path_json, path_npz):
        if path.stat().st_size > MAX_PROBE_FILE:
            raise ValueError(f"{path.name} is too large")
    data = json.loads(path_json.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("kata") != kata or not isinstance(data.get("probes"), dict):
        raise ValueError("not a probe result")
    with np.load(path_npz, allow_pickle=False) as arrays:
        loaded = {name: arrays[name] for name in arrays.files}
    probes = {}
    for name, record in data["probes"].items():
        if not isinstance(record, dict) or not isinstance(record.get("values", {}), dict):
            raise ValueError(f"probe {name}: malformed")
        values = {}
        for key, where in record.get("values", {}).items():
            if isinstance(where, dict) and where.get("none"):
                values[key] = None
            elif isinstance(where, dict) and where.get("array") in loaded:
                values[key] = loaded[where["array"]]
            else:
                raise ValueError(f"probe {name}: value {key} has no array")
        probes[str(name)] = {**record, "values": values}
    return probes


def run_probes(harness: Path, impl: Path, katas, seed: int, out: Path, cwd: Path, guard_config=None,
               timeout: float | None = None, deadline: float | None = None) -> ProbeRun:
    """Run the probes of ``katas`` on the ``tinytorch`` inside ``impl`` and read the results.

    Each probe has ``timeout`` seconds (``TIMEOUT``, default 10, like a kata test); after one
    times out, the kata's other probes are skipped. A process that dies (``os._exit``, a crash)
    loses the kata it was in, and the remaining katas run again in a fresh process; one that runs
    past ``deadline`` (it swallowed the timeouts) loses every kata it had not finished.
    """
    if timeout is None:
        try:
            timeout = float(os.environ.get("TIMEOUT", "").strip() or 10)
        except ValueError:
            timeout = 10.0
    if deadline is None:
        deadline = 30.0 + 2 * timeout * max(1, len(katas))
    out.mkdir(parents=True, exist_ok=True)
    run = ProbeRun()
    remaining = [k for k in katas]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYTEST", "HYPOTHESIS", "DOJO_"))}
    env["DOJO_GUARD"] = json.dumps(guard_config) if guard_config else ""
    (Path(cwd) / "tmp").mkdir(parents=True, exist_ok=True)
    env.update({"TMPDIR": str(Path(cwd) / "tmp"), "TEMP": str(Path(cwd) / "tmp"), "TMP": str(Path(cwd) / "tmp")})
    logs = []
    while remaining:
        command = [sys.executable, "-I", "-B", "--check-hash-based-pycs", "always", "-c", BOOT, str(harness),
                   "--impl", str(impl), "--katas", ",".join(remaining), "--seed", str(seed), "--out", str(out),
                   "--timeout", str(timeout)]
        stuck = False
        try:
            proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env, timeout=deadline, errors="replace")
            logs.append(proc.stdout[-2000:] + proc.stderr[-4000:])
            died = f"the probe process exited with {proc.returncode}"
        except subprocess.TimeoutExpired as error:
            logs.append(str(error))
            died = f"the probe process ran past {deadline:g} s (an infinite loop that ignores timeouts?)"
            stuck = True
        done = [k for k in remaining if (out / f"{k}.json").exists()]
        for kata in done:
            try:
                run.katas[kata] = load_kata(out, kata)
            except (OSError, ValueError, KeyError) as error:
                run.problems[kata] = f"its probe results cannot be read ({error})"
        left = [k for k in remaining if k not in done]
        if not left:
            break
        tail = " | ".join(line.strip() for line in logs[-1].strip().splitlines()[-3:])
        if stuck:
            for kata in left:
                run.problems[kata] = f"{died} before these probes finished"
            break
        # written in order: the first missing kata is the one it died in
        run.problems[left[0]] = f"{died} during its probes" + (f": {tail}" if tail else "")
        remaining = left[1:]
    run.log = "\n".join(logs)
    if guard_config and guard_config.get("report") and Path(guard_config["report"]).exists():
        run.findings = guard_findings(Path(guard_config["report"]))
    return run


GUARD_PREFIX = "DOJO-GUARD "  # dojo.classroom.guard.PREFIX (not imported: the judge imports nothing that runs in a guarded process)


def guard_findings(path: Path) -> list:
    """The refusals a guarded process reported: [{event, what, target, where}]."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")[:1_000_000]
    except OSError:
        return []
    found = []
    for line in text.splitlines():
        if line.startswith(GUARD_PREFIX):
            try:
                entry = json.loads(line[len(GUARD_PREFIX):])
            except ValueError:
                continue
            if isinstance(entry, dict):
                found.append({k: str(entry.get(k, "")) for k in ("event", "what", "target", "where")})
    return found


def _same(ref, got, rtol, atol) -> str:
    """'' when ``got`` agrees with ``ref``, else why not."""
    if ref is None or got is None:
        return "" if ref is None and got is None else f"got {'None' if got is None else 'a value'}, expected {'None' if ref is None else 'a value'}"
    if ref.shape != got.shape:
        return f"shape {got.shape}, expected {ref.shape}"
    kinds = ref.dtype.kind + got.dtype.kind
    if ref.dtype.kind in "US" or got.dtype.kind in "US":
        if ref.dtype.kind != got.dtype.kind or not np.array_equal(ref, got):
            return f"got {_show(got)}, expected {_show(ref)}"
        return ""
    if all(k in "biu" for k in kinds):
        if not np.array_equal(ref, got):
            return f"got {_show(got)}, expected {_show(ref)}"
        return ""
    with np.errstate(all="ignore"):
        try:
            close = np.isclose(got.astype(np.complex128 if "c" in kinds else np.float64),
                               ref.astype(np.complex128 if "c" in kinds else np.float64), rtol=rtol, atol=atol, equal_nan=True)
        except (TypeError, ValueError):
            return f"got dtype {got.dtype}, expected {ref.dtype}"
    if not close.all():
        worst = np.unravel_index(int(np.argmin(close)), close.shape) if close.shape else ()
        return f"differs at {int((~close).sum())} of {close.size} position(s); at {tuple(int(i) for i in worst)} got {got[worst].item()!r}, expected {ref[worst].item()!r}"
    return ""


def _show(array) -> str:
    text = np.array2string(array, threshold=8) if array.ndim else repr(array.item())
    return text if len(text) < 80 else text[:77] + "..."


@dataclass
class KataProbes:
    """The comparison for one kata."""

    total: int = 0
    agree: int = 0
    disagree: list = field(default_factory=list)  # [{"probe", "step", "why"}]
    problem: str = ""  # the student's probes could not run or be read
    steps_failing: set = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return not self.problem and self.total > 0 and self.agree == self.total

    def to_json(self) -> dict:
        return {"agree": self.agree, "total": self.total, "disagree": self.disagree[:20], "problem": self.problem}


def compare(reference: dict, student: dict) -> KataProbes:
    """Compare one kata's probe records (``ProbeRun.katas[kata]``) with the reference's."""
    result = KataProbes()
    for name, ref in reference.items():
        if ref.get("status") != "ok" and not (ref.get("status") == "raised" and ref.get("error")):
            continue  # the reference itself could not run this probe: not the student's fault
        result.total += 1
        got = student.get(name)
        why = ""
        if got is None:
            why = "no result"
        elif ref["status"] == "ok":
            if got.get("status") != "ok":
                error = (got.get("error") or ["?"])[0]
                why = "timed out" if got.get("status") == "timeout" else f"raised {error}: {got.get('message', '')}".rstrip(": ")
            elif set(got["values"]) != set(ref["values"]):
                why = f"returned {sorted(got['values'])[:6]}, expected {sorted(ref['values'])[:6]}"
            else:
                rtol, atol = float(ref.get("rtol", 1e-4)), float(ref.get("atol", 1e-5))
                for key in ref["values"]:
                    problem = _same(ref["values"][key], got["values"][key], rtol, atol)
                    if problem:
                        why = problem if key == "value" else f"{key}: {problem}"
                        break
        else:
            expected = ref["error"][0]
            if got.get("status") != "raised":
                why = "timed out" if got.get("status") == "timeout" else f"returned a value; the reference raises {expected}"
            elif "NotImplementedError" in (got.get("error") or []):
                why = f"raised NotImplementedError: {got.get('message', '')}".rstrip(": ")
            elif expected not in (got.get("error") or []):
                why = f"raised {(got.get('error') or ['?'])[0]}; the reference raises {expected}"
        if why:
            result.disagree.append({"probe": name, "step": str(ref.get("step", "")), "why": why[:300]})
            result.steps_failing.add(str(ref.get("step", "")))
        else:
            result.agree += 1
    return result


def guard_config(kind: str, fork: Path, tests_root: Path, work: Path, impl: Path, scratch: Path, writable=()) -> dict:
    """The guard's rules for the probe process (``kind="probes"``) or the pytest run (``"pytest"``)."""
    fork, tests_root = Path(fork).resolve(), Path(tests_root).resolve()
    trees = {fork, tests_root}
    reference = [str(t / "solutions") for t in trees] + [str(t / ".git") for t in trees]
    python = {sys.prefix, sys.base_prefix, sys.exec_prefix, *(p for p in (sysconfig.get_paths().get(k) for k in ("stdlib", "purelib", "platlib")) if p)}
    config = {
        "student": [str(Path(impl) / "tinytorch")],
        "allow_write": [str(scratch), *map(str, writable)],
        "report": str(Path(scratch) / "guard.log"),
        "forbid_modules": reference,
    }
    if kind == "probes":
        config["forbid_read"] = [*map(str, trees), str(work)]
        config["allow_read"] = [str(impl), str(scratch), *map(str, writable), *sorted(python)]
    else:
        config["forbid_read"] = reference
        config["allow_read"] = []
    return config


# -- canaries ----------------------------------------------------------------------------------

CANARY = '''"""Fork-CI canary {tag}: every test here must FAIL. One reported as passed means the run's
reporting was tampered with (or hypothesis ran fewer than {examples} examples per property)."""

from hypothesis import given
from hypothesis import strategies as st

_SEEN = []


def test_{tag}_assert():
    assert {a} == {b}


@given(st.integers(), st.integers())
def test_{tag}_examples(x, y):
    _SEEN.append((x, y))
    assert len(_SEEN) < {examples}
'''


def write_canaries(folder: Path) -> tuple:
    """Two canary modules with random names: (first path, last path, {test name: module})."""
    folder.mkdir(parents=True, exist_ok=True)
    paths, names = [], {}
    for _ in range(2):
        tag = "c" + secrets.token_hex(6)
        a, b = secrets.randbelow(10**9), secrets.randbelow(10**9) + 10**9
        path = folder / f"test_{tag}.py"
        path.write_text(CANARY.format(tag=tag, a=a, b=b, examples=CANARY_EXAMPLES), encoding="utf-8")
        paths.append(path)
        names[f"test_{tag}_assert"] = path.name
        names[f"test_{tag}_examples"] = path.name
    return paths[0], paths[1], names


def canary_problems(suites, names: dict, first_module: str) -> list:
    """Problems with the canaries in one session's JUnit suites (pytest's XML, as ElementTree)."""
    seen, problems = {}, []
    for suite in suites:
        for case in suite.iter("testcase"):
            name = case.get("name")
            if name in names:
                tags = {child.tag for child in case}
                seen[name] = "failed" if tags & {"failure", "error"} else ("skipped" if "skipped" in tags else "passed")
    for name, module in names.items():
        outcome = seen.get(name)
        if outcome in ("passed", "skipped") and name.endswith("_examples"):
            problems.append(
                f"canary {name}, a hypothesis property that fails after its {CANARY_EXAMPLES}th example, was reported {outcome}: "
                "hypothesis ran fewer examples than the ci profile (a weaker profile loaded from the student's package?) "
                "or pytest's reporting was altered"
            )
        elif outcome in ("passed", "skipped"):
            problems.append(f"canary {name}, a test that fails with a plain assert, was reported {outcome}: pytest's reporting was altered")
        elif outcome is None and module == first_module:
            problems.append(f"canary {name}, a test that must fail, was not reported: pytest's reporting was altered")
    return problems


# -- the harness and the test machinery on disk -------------------------------------------------


def _distribution_roots(name: str) -> list:
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return []
    roots = set()
    base = Path(dist.locate_file(""))
    for entry in dist.files or ():
        parts = Path(str(entry)).parts
        if parts and parts[0] != "..":
            roots.add(base / parts[0])
    return sorted(roots)


def watched_paths(tests_root: Path) -> tuple:
    """(files and folders whose content must not change during a CI run, the installed ones among them)."""
    tests_root = Path(tests_root)
    paths = [tests_root / "dojo", tests_root / "katas", tests_root / "conftest.py", tests_root / "pyproject.toml",
             tests_root / "solutions"]
    installed = []
    for name in WATCHED_DISTRIBUTIONS:
        installed += _distribution_roots(name)
    paths += installed
    for key in ("purelib", "platlib"):
        folder = sysconfig.get_paths().get(key)
        if folder and Path(folder).is_dir():
            paths += sorted(Path(folder).glob("*.pth"))
            paths += [Path(folder) / "sitecustomize.py", Path(folder) / "usercustomize.py"]
    stdlib = sysconfig.get_paths().get("stdlib")
    if stdlib:
        paths += [Path(stdlib) / "sitecustomize.py", Path(stdlib) / "usercustomize.py"]
    return sorted(set(paths)), installed


def snapshot(paths, keep_pyc=()) -> dict:
    """{path: SHA-256} of every file under ``paths`` (missing paths recorded as absent).

    Compiled files (``__pycache__``) count only under ``keep_pyc`` (the installed packages: no
    process of the run writes them); elsewhere the judge itself may write them."""
    hashes = {}
    keep_pyc = [str(Path(p)) for p in keep_pyc]
    for root in paths:
        root = Path(root)
        if root.is_file():
            hashes[str(root)] = _sha(root)
            continue
        if not root.is_dir():
            hashes[str(root)] = None
            continue
        pyc = str(root) in keep_pyc
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS or (pyc and d == "__pycache__"))
            for name in sorted(files):
                if name.endswith((".pyc", ".pyo")) and not pyc:
                    continue
                path = Path(folder) / name
                hashes[str(path)] = _sha(path)
    return hashes


def _sha(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as error:
        return f"unreadable: {error.strerror}"
    return digest.hexdigest()


def changed(before: dict, after: dict) -> list:
    """Human-readable differences between two snapshots."""
    problems = []
    for path in sorted(set(before) | set(after)):
        old, new = before.get(path), after.get(path)
        if old == new:
            continue
        if old is None:
            problems.append(f"{path}: appeared during the run")
        elif new is None:
            problems.append(f"{path}: deleted during the run")
        else:
            problems.append(f"{path}: changed during the run")
    return problems


def plugin_arguments() -> list:
    """``-p module`` for each trusted pytest plugin installed (autoloading is off in fork CI)."""
    found = []
    for dist_name in TRUSTED_PLUGINS:
        try:
            dist = metadata.distribution(dist_name)
        except metadata.PackageNotFoundError:
            continue
        for entry in dist.entry_points:
            if entry.group == "pytest11":
                found += ["-p", entry.value.split(":")[0]]
    return found


# -- the capstone (kata 20) ----------------------------------------------------------------------

CAPSTONE_FILE = "capstone.json"
MAX_CAPSTONE_FILE = 1024 * 1024
CAPSTONE_TIMEOUT = {"quick": 600.0, "official": 3600.0, "other": 3600.0}  # seconds for the guarded child


def rederive_capstone(fork: Path, tests_root: Path, work: Path, *, green: bool, full: bool = False,
                      timeout: float | None = None) -> dict | None:
    """Fork CI's record of the fork's ``capstone.json`` (kata 20), re-derived, never trusted.

    ``None`` when the fork has no ``capstone.json``. Otherwise the file is copied (never read twice)
    and checked here (``dojo.classroom.capstone_check.validate`` / ``rederivable``); when kata 20 is verified
    green (``green``) and the submission's configuration is milestone 06's quick one (seconds), or
    any configuration with ``full`` (``make ci CAPSTONE=1``: the official one re-trains the
    baseline, minutes), the student's package (a private copy) re-derives every figure in a child
    process under ``dojo.classroom.guard`` (the probe run's rules: it reads only its own copy and the Python
    installation, writes only its scratch folder, starts no process), and the claims are compared
    with what it measured here, in the judge. The record (``results.json``'s ``capstone``):

    ``status``           verified | not reproduced | failed | invalid | not re-derived
    ``configuration``    quick | official | other (``capstone_check.configuration_of``)
    ``claimed``          the file's figures (None when invalid); ``verified``: the re-derived ones
    ``discrepancies``    claims the re-derivation did not reproduce (``capstone_check.compare_figures``)
    ``false_claim``      a deterministic figure (bytes, losses, consistency) not reproduced, or the
                         guard refused something the student's code asked for: fork CI fails (a speedup alone is
                         flagged, not failed: speed ratios differ somewhat between machines)
    ``problems``, ``reason``, ``guard``, ``meets_targets``, ``official``, ``choices``, ``environment``, ``seconds``
    """
    from dojo.classroom import capstone_check as cc

    source = Path(fork) / CAPSTONE_FILE
    if not source.exists() and not source.is_symlink():
        return None
    record = {"file": CAPSTONE_FILE, "status": "invalid", "configuration": None, "official": False, "reason": "",
              "claimed": None, "verified": None, "discrepancies": [], "problems": [], "false_claim": False,
              "meets_targets": False, "choices": None, "environment": None, "guard": [], "seconds": 0.0}
    folder = Path(work) / "capstone"
    scratch = folder / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    copy = scratch / CAPSTONE_FILE
    try:
        if source.is_symlink() or not source.is_file():
            raise ValueError("not a regular file")
        if source.stat().st_size > MAX_CAPSTONE_FILE:
            raise ValueError(f"larger than {MAX_CAPSTONE_FILE:,} bytes")
        copy.write_bytes(source.read_bytes())
        data = cc.load(copy)
    except (OSError, ValueError) as error:
        record["problems"] = [f"{CAPSTONE_FILE} cannot be read: {str(error)[:300]}"]
        return record
    problems = cc.validate(data)
    problems += cc.rederivable(data) if not problems else []
    if problems:
        record["problems"] = problems[:20]
        return record
    record.update(claimed=data["figures"], choices=data["choices"], official=cc.is_official(data),
                  configuration=cc.configuration_of(data))
    if not green:
        record.update(status="not re-derived", reason="kata 20 is not verified green in this run")
        return record
    if record["configuration"] != "quick" and not full:
        record.update(status="not re-derived", reason=(
            f"a submission in the {record['configuration']} configuration re-trains milestone 06's baseline "
            "(minutes): fork CI re-derives it with make ci CAPSTONE=1 (the workflow's capstone step); "
            "a quick one (make capstone QUICK=1) is re-derived on every run"))
        return record
    impl = copy_impl(fork, folder / "impl")
    config = guard_config("probes", fork, tests_root, work, impl, scratch)
    if timeout is None:
        timeout = CAPSTONE_TIMEOUT.get(record["configuration"], 3600.0)
    result = cc.rederive(copy, impl, guard=config, harness=tests_root, timeout=timeout)
    discrepancies = cc.compare_figures(data["figures"], result["verified"]) if result["verified"] else []
    record.update(verified=result["verified"], environment=result["environment"], guard=result["guard"][:20],
                  meets_targets=bool(result["meets_targets"]) if result["verified"] else False,
                  seconds=round(result["seconds"], 2), discrepancies=discrepancies,
                  problems=[p for p in result["problems"] if p not in discrepancies][:20])
    record["status"] = "verified" if result["ok"] else ("not reproduced" if result["verified"] else "failed")
    asked = [r for r in result["guard"] if r.get("where")]  # refusals the student's code asked for
    record["false_claim"] = bool(asked) or any(cc.discrepancy_kind(p) == "deterministic" for p in discrepancies)
    return record
