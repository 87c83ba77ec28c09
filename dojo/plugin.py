"""The dojo pytest plugin: gating, a step summary per kata, progress and milestone unlocks.

Registered by the repository's ``conftest.py``, so ``make kata N=05``, plain
``pytest katas/05_autograd`` and editors' test explorers all get the same behaviour.

Options (``pytest --help``, group "dojo"):
  --impl=student|solutions|PATH   which tinytorch to import (also ``IMPL=``)
  --no-gate                       open every kata (also ``UNLOCK=1``)
  --dojo-progress=PATH|none       where progress is recorded (default: progress.toml for the
                                  student's tree, nothing for any other tree)
  --dojo-results=PATH             write per-kata/per-test results as JSON
  --dojo-quiet                    no summary (the harness's own re-checks)
  --dojo-tb                       keep pytest's full tracebacks as well as the summary
"""

from __future__ import annotations

import _thread
import builtins
import importlib
import json
import os
import threading
import traceback
from pathlib import Path

import pytest

from dojo import curriculum as curriculum_module
from dojo import impl, report
from dojo.gating import Gatekeeper, unlocked_by_env
from dojo.progress import DEFAULT_PATH, Progress, files_digest
from dojo.stubs import STUB_PATTERN

_GROUP = getattr(builtins, "BaseExceptionGroup", ())  # Python 3.11+


def pytest_addoption(parser):
    group = parser.getgroup("dojo", "TinyTorch Katas")
    group.addoption("--impl", default=None, help="implementation to test: student (default), solutions, or a folder holding tinytorch/")
    group.addoption("--no-gate", action="store_true", default=False, help="open every kata (same as UNLOCK=1)")
    group.addoption("--dojo-progress", default=None, help="progress file to read and record (none: do not record)")
    group.addoption("--dojo-results", default=None, help="write results as JSON to this path")
    group.addoption("--dojo-quiet", action="store_true", default=False, help="print no dojo summary")
    group.addoption("--dojo-tb", action="store_true", default=False, help="keep pytest's tracebacks as well")


class Dojo:
    """Per-session state of the plugin."""

    def __init__(self, config):
        self.config = config
        self.curriculum = curriculum_module.load()
        self.impl_root = impl.resolve(config.getoption("impl"))
        self.student = impl.is_student(self.impl_root)
        option = config.getoption("dojo_progress")
        if option is None:
            path = DEFAULT_PATH if self.student else None
        else:
            path = None if option.lower() == "none" else Path(option)
        self.progress = Progress(path)
        self.gate_open_for_all = config.getoption("no_gate") or unlocked_by_env() or path is None
        self.gatekeeper = Gatekeeper(self.curriculum, self.progress, self.impl_root)
        self.results = {}  # kata id -> KataResult (katas touched by this session)
        self.items = {}  # nodeid -> (kata, step)
        self.timed_out = None
        self.announcements = []
        self.quiet = config.getoption("dojo_quiet")
        self.sym = report.symbols()

    # -- gates and imports ---------------------------------------------------------------------

    def result_for(self, kata) -> report.KataResult:
        if kata.id not in self.results:
            self.results[kata.id] = report.KataResult(kata)
            self.results[kata.id].next_katas = [k for k in self.curriculum.katas if kata.id in k.requires and not k.optional]
            if not self.gate_open_for_all:
                gate = self.gatekeeper.decide(kata)
                if not gate.open:
                    self.results[kata.id].status = "locked"
                    self.results[kata.id].message = gate.message
                    return self.results[kata.id]
            problem = self.import_problem(kata)
            if problem:
                self.results[kata.id].status = "broken"
                self.results[kata.id].message = problem
        return self.results[kata.id]

    def import_problem(self, kata):
        """Import the kata's files (and its prerequisites'); one clear message if that fails."""
        for k in [*self.curriculum.prerequisites(kata), kata]:
            for owned in k.owns:
                module = "tinytorch." + owned[:-3].replace("/", ".")
                try:
                    importlib.import_module(module)
                except SyntaxError as error:
                    where = self.relative(error.filename)
                    text = (error.text or "").rstrip("\n")
                    caret = ""
                    if text and error.offset:
                        caret = "\n    " + " " * (error.offset - 1 - (len(text) - len(text.lstrip()))) + "^"
                    code = f"\n    {text.strip()}{caret}" if text else ""
                    return f"{type(error).__name__} in {where}:{error.lineno}: {error.msg}{code}"
                except Exception as error:  # ImportError, NameError at import time, ...
                    frame = self.deepest_frame(error.__traceback__)
                    where = f" in {frame}" if frame else ""
                    return f"{type(error).__name__}{where} while importing {module}: {error}"
        return None

    def relative(self, filename) -> str:
        try:
            return Path(filename).resolve().relative_to(self.impl_root.resolve()).as_posix()
        except (ValueError, TypeError):
            return str(filename)

    def deepest_frame(self, tb) -> str:
        """'tinytorch/tensor.py:88 in Tensor.__add__' for the deepest frame inside the student's package."""
        package = (self.impl_root / "tinytorch").resolve()
        found = ""
        for frame, lineno in traceback.walk_tb(tb):
            path = Path(frame.f_code.co_filename).resolve()
            if package in path.parents:
                name = getattr(frame.f_code, "co_qualname", frame.f_code.co_name)
                found = f"{self.relative(path)}:{lineno} in {name}"
        return found

    # -- outcomes ------------------------------------------------------------------------------

    def classify(self, item, call, rep, kata, step) -> report.TestResult:
        test = report.TestResult(
            nodeid=f"{Path(str(item.fspath)).name}::{item.name}",
            name=item.name,
            step=step,
            outcome="passed",
            doc=(getattr(item, "obj", None).__doc__ or "").strip() if getattr(item, "obj", None) else "",
        )
        if rep.passed:
            return test
        if rep.skipped:
            test.outcome = "skipped"
            test.message = "skipped (a skipped test does not count as passed)"
            return test
        error = call.excinfo.value if call.excinfo else None
        while _GROUP and isinstance(error, _GROUP) and error.exceptions:
            error = error.exceptions[0]
        test.location = self.test_location(item, call)
        if isinstance(error, NotImplementedError):
            test.outcome = "todo"
            frame = self.deepest_frame(error.__traceback__)
            match = STUB_PATTERN.search(str(error))
            if match and frame:
                test.todo = f"{match.group('qualname')} in {frame.split(' in ')[0]}"
            else:
                test.todo = frame or str(error)
            test.message = str(error)
            return test
        text = str(error) if error is not None else str(rep.longrepr)
        if text.startswith("Timeout") or "Timeout (>" in text:
            test.outcome = "timeout"
            frame = getattr(item, "_dojo_timeout_frame", "") or (self.deepest_frame(call.excinfo.tb) if call.excinfo else "")
            seconds = getattr(item, "_dojo_timeout_seconds", None) or timeout_seconds(item)
            test.message = (
                f"stopped after {seconds:g} s: this is probably an infinite loop"
                + (f" in {frame}" if frame else "")
                + ". Check that every loop ends (raise the limit with TIMEOUT=30 if your code is just slow)."
            )
            return test
        test.outcome = "failed"
        notes = "\n".join(getattr(error, "__notes__", []) or [])
        head = f"{type(error).__name__}: {text}" if not isinstance(error, AssertionError) else (text or "assertion failed")
        test.message = head + (f"\n{notes}" if notes else "")
        if error is not None and not isinstance(error, AssertionError):
            test.where = self.deepest_frame(error.__traceback__)
        return test

    def test_location(self, item, call) -> str:
        path = Path(str(item.fspath)).resolve()
        line = None
        if call.excinfo is not None:
            for entry in call.excinfo.traceback:
                if Path(str(entry.path)).resolve() == path:
                    line = entry.lineno + 1
        rel = path.relative_to(self.curriculum.katas_dir.parent.resolve()).as_posix() if self.curriculum.katas_dir.parent.resolve() in path.parents else path.name
        return f"{rel}:{line}" if line else rel

    def complete_run(self, kata) -> bool:
        """Did this session run every test file of the kata, unfiltered?"""
        option = self.config.option
        if getattr(option, "keyword", "") or getattr(option, "markexpr", "") or getattr(option, "deselect", None):
            return False
        expected = {p.name for p in self.curriculum.kata_dir(kata).glob("test_*.py")}
        seen = {t.nodeid.split("::")[0] for t in self.results[kata.id].tests}
        return bool(expected) and expected <= seen


def timeout_seconds(item) -> float:
    """The pytest-timeout limit of a test: its marker, else --timeout, else the ini value."""
    marker = item.get_closest_marker("timeout")
    if marker is not None and (marker.args or "timeout" in marker.kwargs):
        return float(marker.args[0] if marker.args else marker.kwargs["timeout"])
    option = item.config.getoption("timeout", None)
    if option is not None:
        return float(option)
    return float(item.config.getini("timeout") or 0)


def soft_timeouts() -> bool:
    """Interrupt runaway tests ourselves where pytest-timeout cannot do it gently.

    On Windows (no alarm signals) pytest-timeout's thread method ends the whole process: no summary,
    no progress. There a timer thread interrupts the main thread instead (like Ctrl-C) a little
    before the limit, and the test fails with the usual timeout message; pytest-timeout stays as
    the backstop for code stuck inside C. ``DOJO_SOFT_TIMEOUT=1`` turns it on anywhere (tests).
    """
    return os.environ.get("DOJO_SOFT_TIMEOUT") == "1" or os.name == "nt"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    dojo = _dojo(item.config)
    limit = timeout_seconds(item) if dojo is not None and item.nodeid in dojo.items and soft_timeouts() else 0
    if not limit:
        return (yield)
    soft = round(limit * 0.9, 2)
    fired = threading.Event()

    def interrupt():
        fired.set()
        _thread.interrupt_main()

    timer = threading.Timer(soft, interrupt)
    timer.daemon = True
    timer.start()
    try:
        return (yield)
    except KeyboardInterrupt as error:
        if not fired.is_set():
            raise  # a real Ctrl-C
        item._dojo_timeout_frame = dojo.deepest_frame(error.__traceback__)
        item._dojo_timeout_seconds = soft
        raise pytest.fail.Exception(f"Timeout (>{soft:g}s) from the dojo's soft timeout", pytrace=False) from None
    finally:
        timer.cancel()


class _Closed(pytest.File):
    """Stands in for a test module of a locked or broken kata: imports nothing, collects nothing."""

    def collect(self):
        return []


def _dojo(config) -> Dojo | None:
    return config.stash.get(_KEY, None)


_KEY = pytest.StashKey[Dojo]()


def pytest_configure(config):
    dojo = Dojo(config)
    config.stash[_KEY] = dojo
    impl.activate(dojo.impl_root)
    if not config.getoption("dojo_tb") and _only_katas(config, dojo):
        config.option.tbstyle = "no"
        config.option.reportchars = ""


def _only_katas(config, dojo) -> bool:
    katas = dojo.curriculum.katas_dir.resolve()
    paths = [Path(str(a).split("::")[0]) for a in config.args] or [Path.cwd()]
    resolved = [(Path(config.invocation_params.dir) / p).resolve() for p in paths]
    return all(p == katas or katas in p.parents for p in resolved)


def pytest_pycollect_makemodule(module_path, parent):
    dojo = _dojo(parent.config)
    kata = dojo.curriculum.kata_for_path(module_path)
    if kata is None:
        return None
    result = dojo.result_for(kata)
    if result.status in ("locked", "broken"):
        return _Closed.from_parent(parent, path=module_path)
    return None


@pytest.hookimpl(trylast=True)  # after -k/-m deselection: only the tests that will run
def pytest_collection_modifyitems(session, config, items):
    dojo = _dojo(config)
    for item in items:
        kata, step = dojo.curriculum.step_of_test_file(item.fspath)
        if kata is not None:
            dojo.items[item.nodeid] = (kata, step or kata.steps[0])
            dojo.result_for(kata).tests.append(  # until it runs (a run stopped early leaves it so)
                report.TestResult(nodeid=f"{Path(str(item.fspath)).name}::{item.name}", name=item.name, step=step or kata.steps[0], outcome="notrun")
            )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    rep = yield
    dojo = _dojo(item.config)
    if item.nodeid not in dojo.items:
        return rep
    kata, step = dojo.items[item.nodeid]
    if call.when == "call" or (rep.failed or rep.skipped):
        result = dojo.results[kata.id]
        test = dojo.classify(item, call, rep, kata, step)
        existing = next((t for t in result.tests if t.nodeid == test.nodeid), None)
        if existing is None:
            result.tests.append(test)
        elif existing.outcome == "notrun" or (existing.outcome == "passed" and test.outcome != "passed"):
            result.tests[result.tests.index(existing)] = test  # its result, or a teardown error
        if test.outcome == "timeout" and dojo.timed_out is None:
            dojo.timed_out = test
            item.session.shouldstop = "a test timed out (infinite loop?): stopping so you do not wait for every test"
    return rep


def pytest_sessionfinish(session, exitstatus):
    dojo = _dojo(session.config)
    if dojo is None:
        return
    for kata_id, result in dojo.results.items():
        if result.status in ("locked", "broken"):
            continue
        kata = result.kata
        every_step_tested = all(tests for _, tests in result.steps())
        result.status = "green" if every_step_tested and result.passed == result.total else "red"
        if dojo.student or dojo.progress.path is not None:
            if dojo.progress.path is not None and dojo.complete_run(kata) and not dojo.timed_out:
                news = dojo.progress.record_kata(
                    kata, result.passed, result.total, files_digest(dojo.impl_root, kata.owns), dojo.curriculum,
                    green=result.status == "green",
                )
                if news["first_green"]:
                    dojo.announcements.extend(news["unlocked"])
    path = session.config.getoption("dojo_results")
    if path:
        Path(path).write_text(
            json.dumps({"impl": str(dojo.impl_root), "katas": {k: r.to_json() for k, r in dojo.results.items()}}, indent=2),
            encoding="utf-8",
        )
    ran = any(r.tests for r in dojo.results.values())
    closed = [r for r in dojo.results.values() if r.status in ("locked", "broken")]
    if dojo.timed_out or any(r.status == "broken" for r in closed) or (closed and not ran):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    dojo = _dojo(config)
    if dojo is None or dojo.quiet or not dojo.results:
        return
    tr = terminalreporter
    for result in dojo.results.values():
        tr.write_line("")
        colour = {"green": {"green": True}, "red": {"red": True}, "locked": {"yellow": True}, "broken": {"red": True}}
        text = report.kata_report(result, dojo.sym)
        body, _, last = text.rpartition("\n")
        if body:
            tr.write_line(body)
        tr.write_line(last, bold=True, **colour.get(result.status, {}))
    for milestone in dojo.announcements:
        tr.write_line(report.unlock_announcement(milestone, dojo.sym), bold=True, yellow=True)
    if dojo.progress.warning:
        tr.write_line(f"warning: {dojo.progress.warning}", yellow=True)
    for kata in dojo.gatekeeper.rechecked:
        tr.write_line(f"(re-checked kata {kata.id} {kata.title}: its files changed since it was green)")
