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
  --dojo-verdict=PATH             write the session's exit status here when it ends (``dojo kata``
                                  runs pytest in a child and trusts no verdict without it)

Time limits: every kata test has ``--timeout`` seconds (``TIMEOUT=``; default 10, pyproject.toml)
for its test function. The dojo's own timer raises :class:`DojoTimeout` into the test at the limit
and again every half second until the test function returns, so neither hypothesis (which treats
an ordinary exception as a failing example and goes on generating and shrinking) nor an
``except Exception`` in the student's code can swallow it; the test is reported as a probable
infinite loop in the student's function and the session stops. pytest-timeout stays as the hard
backstop: a test still running well after its limit (stuck inside C code) ends the process.
"""

from __future__ import annotations

import _thread
import builtins
import importlib
import json
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path

import pytest

from dojo import curriculum as curriculum_module
from dojo import impl, report
from dojo.student.gating import Gatekeeper, unlocked_by_env
from dojo.progress import DEFAULT_PATH, Progress, files_digest
from dojo.student.runner import purge_fresh_bytecode
from dojo.stubs import STUB_PATTERN

_GROUP = getattr(builtins, "BaseExceptionGroup", ())  # Python 3.11+


_CURRICULUM = {}  # (path, mtime, size) -> Curriculum: the warm `make watch` process parses it once


def load_curriculum():
    """The curriculum, parsed again only when its file changed (it is ~1,000 lines of TOML)."""
    path = Path(os.environ.get("DOJO_CURRICULUM") or curriculum_module.DEFAULT_PATH)
    try:
        stat = path.stat()
    except OSError:
        return curriculum_module.load(path)  # it says what is wrong
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _CURRICULUM:
        _CURRICULUM.clear()
        _CURRICULUM[key] = curriculum_module.load(path)
    return _CURRICULUM[key]


def pytest_addoption(parser):
    group = parser.getgroup("dojo", "TinyTorch Katas")
    group.addoption("--impl", default=None, help="implementation to test: student (default), solutions, or a folder holding tinytorch/")
    group.addoption("--no-gate", action="store_true", default=False, help="open every kata (same as UNLOCK=1)")
    group.addoption("--dojo-progress", default=None, help="progress file to read and record (none: do not record)")
    group.addoption("--dojo-results", default=None, help="write results as JSON to this path")
    group.addoption("--dojo-quiet", action="store_true", default=False, help="print no dojo summary")
    group.addoption("--dojo-tb", action="store_true", default=False, help="keep pytest's tracebacks as well")
    group.addoption("--dojo-verdict", default=None, help="write the session's exit status (JSON) to this path when it ends")


class Dojo:
    """Per-session state of the plugin."""

    def __init__(self, config):
        self.config = config
        self.curriculum = load_curriculum()
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
        self.positions = {}  # (kata id, test nodeid) -> its index in that kata's results.tests
        self.timed_out = None
        self.announcements = []
        self.quiet = config.getoption("dojo_quiet")
        self.sym = report.symbols()
        self.package = os.path.realpath(self.impl_root / "tinytorch") + os.sep
        self.deadline = None  # the running test's Deadline, if any
        self.interrupted = False  # a real Ctrl-C (SIGINT) reached this session
        self._last_sigint = None
        self.session = None
        self._in_package = {}  # filename -> inside the student's tinytorch package
        self.backstop = Backstop()

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

    def in_package(self, filename) -> bool:
        """Is ``filename`` a file of the student's tinytorch package (the one under test)?"""
        found = self._in_package.get(filename)
        if found is None:
            found = self._in_package[filename] = os.path.realpath(filename).startswith(self.package)
        return found

    def student_function(self, frame) -> str:
        """'Tensor.sum in tinytorch/tensor.py:537' for the innermost frame of the student's package
        on the stack that ends at ``frame`` (empty when the student's code is not on it). The
        ``@op``/``@composite`` scaffolding in tensor.py is skipped: it names the op it wraps."""
        fallback = ""
        while frame is not None:
            if self.in_package(frame.f_code.co_filename):
                wrapped = self.scaffolding(frame)
                if wrapped is None:
                    return self.describe(frame.f_code, frame.f_lineno, frame)
                fallback = fallback or wrapped
            frame = frame.f_back
        return fallback

    def scaffolding(self, frame):
        """None for a frame of the student's own code; for a frame of tensor.py's ``@op``
        scaffolding, the op it wraps ('Tensor.sum in tinytorch/tensor.py:533', its def line)."""
        code = frame.f_code
        if os.path.basename(code.co_filename) != "tensor.py":
            return None
        qualname = getattr(code, "co_qualname", "")
        if code.co_name not in SCAFFOLDING and not qualname.startswith(SCAFFOLDING_DECORATORS):
            return None
        wrapped = frame.f_locals.get("forward") or frame.f_locals.get("fn")
        inner = getattr(wrapped, "__code__", None)
        if inner is None:
            return ""
        name = getattr(wrapped, "__qualname__", inner.co_name)
        return f"{name} in {self.relative(inner.co_filename)}:{inner.co_firstlineno}"

    def describe(self, code, lineno, frame=None) -> str:
        """'Tensor.sum in tinytorch/tensor.py:537'."""
        name = getattr(code, "co_qualname", None)
        if name is None:  # Python 3.10: no qualified names; add the class by hand
            owner = frame.f_locals.get("self") if frame is not None else None
            name = f"{type(owner).__name__}.{code.co_name}" if owner is not None else code.co_name
        return f"{name} in {self.relative(code.co_filename)}:{lineno}"

    def raised_in(self, tb) -> str:
        """'Tensor.sum in tinytorch/tensor.py:537': the deepest frame of the student's package in
        the traceback, skipping the ``@op`` scaffolding (a RecursionError in ``Tensor.sum`` points
        at ``sum``, not at the decorator's wrapper); the wrapped op when only scaffolding is there."""
        found, fallback = "", ""
        for frame, lineno in traceback.walk_tb(tb):
            if self.in_package(frame.f_code.co_filename):
                wrapped = self.scaffolding(frame)
                if wrapped is None:
                    found = self.describe(frame.f_code, lineno, frame)
                else:
                    fallback = wrapped
        return found or fallback

    def missing_test_files(self, kata) -> list:
        """The kata's step test files (``test_<NN>_<step>.py``) that are not on disk."""
        folder = self.curriculum.kata_dir(kata)
        base = self.curriculum.katas_dir.parent
        return [
            (folder / name).relative_to(base).as_posix()
            for name in expected_test_files(kata)
            if not (folder / name).is_file()
        ]

    def write_verdict(self, status: int, message: str = "") -> None:
        """``--dojo-verdict``: the session's exit status (and a message) for ``dojo kata``."""
        path = self.config.getoption("dojo_verdict")
        if path:
            data = {"exitstatus": status, "interrupted": self.interrupted, "message": message}
            Path(path).write_text(json.dumps(data), encoding="utf-8")

    def on_sigint(self, signum, frame):
        """SIGINT: the dojo's soft timer (Windows) or a real Ctrl-C."""
        __tracebackhide__ = True
        deadline = self.deadline
        if deadline is not None and deadline.sent:
            deadline.sent = False
            deadline.fire(frame)  # raises DojoTimeout while the test is still running
            return
        now = time.monotonic()
        if self._last_sigint is not None and now - self._last_sigint < 1.0:
            return  # the same Ctrl-C twice: from the terminal and forwarded by `dojo kata`
        self._last_sigint = now
        self.interrupted = True
        raise KeyboardInterrupt

    def deepest_frame(self, tb) -> str:
        """'tinytorch/tensor.py:88 in Tensor.__add__': :meth:`raised_in` the other way round."""
        where = self.raised_in(tb)
        return " in ".join(reversed(where.rsplit(" in ", 1))) if where else ""

    # -- outcomes ------------------------------------------------------------------------------

    def classify(self, item, call, rep, kata, step) -> report.TestResult:
        test = report.TestResult(
            nodeid=f"{Path(item.path).name}::{item.name}",
            name=item.name,
            step=step,
            outcome="passed",
        )
        test.doc, test.hint = report.split_hint(getattr(getattr(item, "obj", None), "__doc__", None) or "")
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
        if getattr(item, "_dojo_timeout_seconds", None) or isinstance(error, DojoTimeout) or "Timeout (>" in text:
            test.outcome = "timeout"
            where = getattr(item, "_dojo_timeout_frame", "")
            if not where and call.excinfo:
                where = self.raised_in(call.excinfo.tb)
            seconds = getattr(item, "_dojo_timeout_seconds", None) or timeout_seconds(item)
            test.message = (
                f"stopped after {seconds:g} s: this is probably an infinite loop"
                + (f" in {where}" if where else "")
                + ". Check that every loop ends (raise the limit with TIMEOUT=30 if your code is just slow)."
            )
            return test
        if isinstance(error, RaisedInterrupt):
            test.outcome = "failed"
            test.message = str(error)
            return test
        test.outcome = "failed"
        notes = "\n".join(getattr(error, "__notes__", []) or [])
        head = f"{type(error).__name__}: {text}" if not isinstance(error, AssertionError) else (text or "assertion failed")
        test.message = head + (f"\n{notes}" if notes else "")
        if error is not None and not isinstance(error, AssertionError):
            test.where = self.raised_in(error.__traceback__)
            if isinstance(error, RecursionError) and test.where:
                test.where += " (a function that calls itself, directly or through another op, without end?)"
        return test

    def test_location(self, item, call) -> str:
        path = Path(item.path).resolve()
        line = None
        if call.excinfo is not None:
            for entry in call.excinfo.traceback:
                if Path(str(entry.path)).resolve() == path:
                    line = entry.lineno + 1
        rel = path.relative_to(self.curriculum.katas_dir.parent.resolve()).as_posix() if self.curriculum.katas_dir.parent.resolve() in path.parents else path.name
        return f"{rel}:{line}" if line else rel

    def complete_run(self, kata) -> bool:
        """Did this session run every test of every step file of the kata, unfiltered, to the end?"""
        option = self.config.option
        if getattr(option, "keyword", "") or getattr(option, "markexpr", "") or getattr(option, "deselect", None):
            return False
        tests = self.results[kata.id].tests
        expected = set(expected_test_files(kata))
        seen = {t.nodeid.split("::")[0] for t in tests}
        return bool(expected) and expected <= seen and not any(t.outcome == "notrun" for t in tests)


def expected_test_files(kata) -> list:
    """One test file per step, named after it: test_01_creation.py, test_02_arithmetic.py, ..."""
    return [f"test_{step.number:02d}_{step.name}.py" for step in kata.steps]


# tensor.py's scaffolding around every op: the wrappers @op, @composite and @accepts_dim put
# around it (functions nested in those decorators) and the helpers they call. A frame there is
# never "your code": the error is shown in the op it wraps.
SCAFFOLDING = {"recorded_op", "binary_op", "dispatched", "arguments", "renamed", "record_op", "_untracked",
               "_rename_aliases", "_aliases_for", "_as_dtype"}
SCAFFOLDING_DECORATORS = ("op.", "composite.", "accepts_dim.")


def timeout_seconds(item) -> float:
    """The time limit of a test: its timeout marker, else --timeout (TIMEOUT=), else the ini value."""
    marker = item.get_closest_marker("timeout")
    if marker is not None and (marker.args or "timeout" in marker.kwargs):
        return float(marker.args[0] if marker.args else marker.kwargs["timeout"])
    option = item.config.getoption("timeout", None)
    if option is not None:
        return float(option)
    if os.environ.get("PYTEST_TIMEOUT"):  # pytest-timeout's own variable, between the option and the ini
        return float(os.environ["PYTEST_TIMEOUT"])
    try:
        return float(item.config.getini("timeout") or 0)
    except ValueError:  # pytest-timeout disabled (-p no:timeout): no such ini key
        return 0.0


class DojoTimeout(BaseException):
    """Raised into a kata test that ran past its time limit.

    A BaseException, and not pytest's ``Failed``: hypothesis catches ``Exception`` and ``Failed``
    as an ordinary failing example and goes on generating and shrinking (so a timer that fires
    once never ends the test); anything else it lets through at once. ``except Exception`` in the
    student's code cannot swallow it either, and a bare ``except:`` only until the next re-fire.
    """


class RaisedInterrupt(Exception):
    """The code under test raised KeyboardInterrupt itself (no Ctrl-C reached the session)."""


REFIRE_SECONDS = 0.5  # after the limit, DojoTimeout is raised again this often until the test returns


def backstop_seconds(limit: float) -> float:
    """When pytest-timeout ends the whole process: well after the dojo's own timer has fired."""
    return limit + max(5.0, limit / 2)


def soft_timeouts() -> bool:
    """Use a timer thread instead of SIGALRM (Windows has no alarm signal).

    The thread interrupts the main thread (like Ctrl-C) at the limit and again every half second;
    the dojo's SIGINT handler turns that into :class:`DojoTimeout`. ``DOJO_SOFT_TIMEOUT=1`` turns
    it on anywhere (tests).
    """
    return os.environ.get("DOJO_SOFT_TIMEOUT") == "1" or not hasattr(signal, "SIGALRM")


class Deadline:
    """The time limit of one kata test, enforced until its test function returns."""

    def __init__(self, dojo, limit: float):
        self.dojo = dojo
        self.limit = limit
        self.fired = False  # the limit has passed
        self.done = False  # the test function has returned: late signals are ignored
        self.sent = False  # the timer thread has interrupted the main thread (soft mode)
        self.where = ""  # the student's function the test was in when the limit passed
        self.soft = soft_timeouts()
        self._previous = None
        self._stop = threading.Event()
        self._thread = None

    def start(self) -> None:
        if self.soft:
            self._thread = threading.Thread(target=self._interrupt_later, name="dojo deadline", daemon=True)
            self._thread.start()
        else:
            self._previous = signal.signal(signal.SIGALRM, self._on_alarm)
            signal.setitimer(signal.ITIMER_REAL, self.limit, REFIRE_SECONDS)

    def _on_alarm(self, signum, frame):
        self.fire(frame)

    def _interrupt_later(self):
        if self._stop.wait(self.limit):
            return
        while not self._stop.is_set():
            self.fired = True
            self.sent = True
            _thread.interrupt_main()  # SIGINT in the main thread: Dojo.on_sigint -> fire()
            self._stop.wait(REFIRE_SECONDS)

    def fire(self, frame) -> None:
        """In the main thread: raise DojoTimeout into the running test (nothing once it returned)."""
        if self.done:
            return
        self.fired = True
        if not self.where:
            self.where = self.dojo.student_function(frame)
        raise DojoTimeout(f"the test ran past its {self.limit:g} s limit")

    def stop(self) -> None:
        if self.done:
            return
        self.done = True
        if self.soft:
            self._stop.set()
            self._thread.join()
        else:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._previous if self._previous is not None else signal.SIG_DFL)


def _contains(error, kind) -> bool:
    while _GROUP and isinstance(error, _GROUP) and error.exceptions:
        error = error.exceptions[0]
    return isinstance(error, kind)


def _timeable(dojo, item) -> bool:
    return dojo is not None and item.nodeid in dojo.items and threading.current_thread() is threading.main_thread()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    dojo = _dojo(item.config)
    if dojo is None or item.nodeid not in dojo.items:
        return (yield)
    limit = timeout_seconds(item) if _timeable(dojo, item) else 0
    deadline = Deadline(dojo, limit) if limit > 0 else None
    if deadline is not None:
        dojo.deadline = deadline
        deadline.start()
    try:
        result = yield
        if deadline is not None:
            deadline.stop()
            if deadline.fired:  # the test swallowed every DojoTimeout and still ran past its limit
                raise DojoTimeout(deadline.where)
        return result
    except BaseException as error:
        if deadline is not None:
            deadline.stop()
            if deadline.fired:
                item._dojo_timeout_frame = deadline.where
                item._dojo_timeout_seconds = limit
                raise pytest.fail.Exception(f"Timeout (>{limit:g}s) from the dojo's timer", pytrace=False) from None
        if _contains(error, KeyboardInterrupt) and not dojo.interrupted:
            where = dojo.raised_in(error.__traceback__) or "the test"
            raise RaisedInterrupt(
                f"KeyboardInterrupt raised by your code in {where} (nobody pressed Ctrl-C): "
                "code under test must not raise KeyboardInterrupt"
            ) from None
        raise
    finally:
        if deadline is not None:
            deadline.stop()
            dojo.deadline = None


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_timeout_set_timer(item, settings):
    """Kata tests: the dojo's Deadline is the timeout; pytest-timeout's thread method stays as the
    hard backstop (it dumps the stacks and ends the process) for code that cannot be interrupted."""
    dojo = _dojo(item.config)
    if not _timeable(dojo, item) or not settings.timeout:
        return None
    import pytest_timeout

    seconds = backstop_seconds(settings.timeout)

    def backstop():
        where = dojo.deadline.where if dojo.deadline is not None else ""
        dojo.write_verdict(1, (
            f"stopped: {where or item.name} was still running {seconds:g} s after the test started (limit "
            f"{settings.timeout:g} s) and could not be interrupted (stuck inside C code, or catching every "
            "exception in a loop?). Nothing was recorded."
        ))
        pytest_timeout.timeout_timer(item, settings._replace(timeout=seconds))  # dumps the stacks, os._exit(1)

    item.cancel_timeout = dojo.backstop.arm(seconds, backstop)  # pytest-timeout's pytest_timeout_cancel_timer calls it
    return True


class Backstop:
    """pytest-timeout's hard stop for kata tests: one watchdog thread for the whole session, armed
    for each test, instead of a timer thread started and joined per test (~1.5 ms a test: 0.25 s
    of kata 05's 171 tests). The action runs only if its test is still armed at its deadline.

    Arming and cancelling do not wake the watchdog unless it would otherwise wake too late: it
    sleeps until the deadline it last saw (or for :attr:`IDLE` seconds when nothing was armed) and
    then looks at what is armed now. (Waking it for every test made each test hand the
    interpreter lock to it and back: on a busy 2-core machine, a millisecond or more a test.)
    """

    IDLE = 1.0  # seconds the watchdog sleeps when no test is armed (backstops are 5 s or more)

    def __init__(self):
        self._condition = threading.Condition()
        self._armed = None  # (deadline on the monotonic clock, action) of the running test
        self._thread = None
        self._wakes_at = float("inf")  # when the watchdog wakes by itself next

    def arm(self, seconds, action):
        """Run ``action`` in ``seconds`` unless the returned ``cancel()`` is called first."""
        entry = (time.monotonic() + seconds, action)
        with self._condition:
            self._armed = entry
            if self._thread is None or not self._thread.is_alive():
                self._wakes_at = float("inf")
                self._thread = threading.Thread(target=self._watch, name="dojo backstop", daemon=True)
                self._thread.start()
            if entry[0] < self._wakes_at:  # the watchdog would wake after this deadline
                self._condition.notify()

        def cancel():
            with self._condition:
                if self._armed is entry:
                    self._armed = None  # found empty when the watchdog next wakes

        return cancel

    def _watch(self):
        while True:
            with self._condition:
                while True:
                    entry, now = self._armed, time.monotonic()
                    if entry is None:
                        self._wakes_at = now + self.IDLE
                        self._condition.wait(self.IDLE)
                    elif entry[0] > now:
                        self._wakes_at = entry[0]
                        self._condition.wait(entry[0] - now)
                    else:
                        break
                self._armed = None
            entry[1]()


class _Closed(pytest.File):
    """Stands in for a test module of a locked or broken kata: imports nothing, collects nothing."""

    def collect(self):
        return []


def _dojo(config) -> Dojo | None:
    return config.stash.get(_KEY, None)


_KEY = pytest.StashKey[Dojo]()
_ACTIVE = []  # the Dojo of each configured session (pytest_keyboard_interrupt gets no config)


_PINNED = []  # the BLAS thread count already applied in this process (a warm parent did it once)


def pin_blas_threads() -> int:
    """Kata tests use tiny arrays: more than one BLAS thread only adds wake-ups (and idle OpenBLAS
    threads spin on a busy machine). One thread, unless ``TINYTORCH_THREADS`` says otherwise."""
    from dojo import threads

    try:
        count = threads.choose(1)
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None
    if "numpy" not in sys.modules:
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[name] = str(count)  # read by the BLAS when NumPy loads it: no threadpoolctl needed
    elif _PINNED != [count]:  # NumPy's BLAS is loaded already (the warm `make watch` process)
        threads.apply(count)
        _PINNED[:] = [count]
    return count


def pytest_configure(config):
    pin_blas_threads()
    dojo = Dojo(config)
    config.stash[_KEY] = dojo
    _ACTIVE.append(dojo)
    impl.activate(dojo.impl_root)
    purge_fresh_bytecode(dojo.impl_root / "tinytorch")  # a save a moment ago: never its older bytecode
    if threading.current_thread() is threading.main_thread():
        dojo.previous_sigint = signal.signal(signal.SIGINT, dojo.on_sigint)
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
    steps = {}  # one lookup per test file, not per test
    for item in items:
        if item.path not in steps:
            steps[item.path] = dojo.curriculum.step_of_test_file(item.path)
        kata, step = steps[item.path]
        if kata is not None:
            dojo.items[item.nodeid] = (kata, step or kata.steps[0])
            tests = dojo.result_for(kata).tests
            nodeid = f"{Path(item.path).name}::{item.name}"
            dojo.positions[(kata.id, nodeid)] = len(tests)
            tests.append(  # until it runs (a run stopped early leaves it so)
                report.TestResult(nodeid=nodeid, name=item.name, step=step or kata.steps[0], outcome="notrun")
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
        if test.outcome != "passed":  # what the test printed (pytest -s: nothing is captured)
            test.output = rep.capstdout + rep.capstderr
        key = (kata.id, test.nodeid)
        position = dojo.positions.get(key)  # a lookup, not a scan: 171 tests would make it quadratic
        existing = result.tests[position] if position is not None and position < len(result.tests) else None
        if existing is None or existing.nodeid != test.nodeid:
            dojo.positions[key] = len(result.tests)
            result.tests.append(test)
        elif existing.outcome == "notrun" or (existing.outcome == "passed" and test.outcome != "passed"):
            result.tests[position] = test  # its result, or a teardown error
        if test.outcome == "timeout" and dojo.timed_out is None:
            dojo.timed_out = test
            item.session.shouldstop = "a test timed out (infinite loop?): stopping so you do not wait for every test"
    return rep


def pytest_keyboard_interrupt(excinfo):
    """A KeyboardInterrupt ended the session (also where the dojo's SIGINT handler is not installed).
    Not pytest's own Session.Interrupted (a collection error, or the stop after a timeout)."""
    if isinstance(excinfo.value, pytest.Session.Interrupted):
        return
    for dojo in _ACTIVE:
        dojo.interrupted = True


def pytest_sessionstart(session):
    dojo = _dojo(session.config)
    if dojo is not None:
        dojo.session = session


def pytest_sessionfinish(session, exitstatus):
    dojo = _dojo(session.config)
    if dojo is None:
        return
    interrupted = dojo.interrupted  # a Ctrl-C (not a session the harness stopped after a timeout)
    for kata_id, result in dojo.results.items():
        if result.status in ("locked", "broken"):
            continue
        kata = result.kata
        result.missing = dojo.missing_test_files(kata)
        result.interrupted = interrupted
        every_step_tested = all(tests for _, tests in result.steps())
        result.status = "green" if every_step_tested and result.passed == result.total and not result.missing else "red"
        if dojo.progress.path is not None and dojo.complete_run(kata) and not (dojo.timed_out or interrupted or result.missing):
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
    missing = any(getattr(r, "missing", None) for r in dojo.results.values())
    if dojo.timed_out or missing or any(r.status == "broken" for r in closed) or (closed and not ran):
        if dojo.timed_out or session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_unconfigure(config):
    """Restore SIGINT, then leave the verdict for ``dojo kata``: only a session that got this far
    (every test run or stopped by the harness, summary printed, progress recorded) writes it."""
    dojo = _dojo(config)
    if dojo is None:
        return
    if dojo in _ACTIVE:
        _ACTIVE.remove(dojo)
    previous = getattr(dojo, "previous_sigint", None)
    if previous is not None and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, previous)
    if dojo.session is not None:
        dojo.write_verdict(int(dojo.session.exitstatus))


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
        record = dojo.progress.kata(kata.id)
        was = "green" if dojo.gatekeeper.was_green.get(kata.id) else "recorded"
        now = f"{record.get('status', '?')} {record.get('passed', 0)}/{record.get('total', '?')}" if record.get("total") else "not recorded"
        tr.write_line(f"(re-checked kata {kata.id} {kata.title}: its files changed since it was {was}; now {now})")
