"""Two cores for one kata run: the warm runs (``make kata``'s warm server, ``make watch``) split a
kata's test files between the run's own process and one forked worker.

A kata's tests spend most of their time in hypothesis's per-example work and pytest's per-test
work, which no test can skip: on a 2-core machine the second core halves it. After collection
(gates decided, every test placed in the summary in curriculum order), the test *files* are
shared out by their cost (what each took the last time, kept in ``.dojo/cache/shard-costs.json``,
else an estimate), so every step (one file) runs in one process, in order, with its module
fixtures. The worker runs its files
with the terminal silenced and leaves its pytest reports and the dojo's per-test results in a
file; the main process runs its own files, then replays the worker's reports (the dots, the
counts, the exit status) and puts the worker's results in their places. The summary, the first
failure, the hint, the recorded progress and the verdict are the ones a single process gives.

When the worker ends without finishing (``os._exit`` or a crash in the student's code), the run
ends the same way: no verdict, the same exit code or signal, nothing recorded. A Ctrl-C stops both,
and so does a timeout (the run stops early, as it always does then): a run stopped early counts
only the tests that finished on the main process's side, so its "RED n/N" can be lower than a
single process's, with the same verdict and the same first failure.

Used only where it pays and changes nothing else (:func:`wanted`): Linux fork, two free cores
(load average below ``cores - 0.5``), a plain kata run (no extra pytest arguments, not
``OUTPUT=1``). ``DOJO_SHARDS=0`` turns it off, ``DOJO_SHARDS=2`` forces it (tests).
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import sys
import tempfile

from dojo import ROOT

MIN_ITEMS = 30  # fewer tests: a fork costs more than it saves
COSTS = ROOT / ".dojo" / "cache" / "shard-costs.json"  # seconds per test file, from the last split run
PROPERTY_WEIGHT = 10  # a hypothesis test costs about as much as ten plain ones


def forced() -> bool:
    """``DOJO_SHARDS=2``: split every kata run with two test files or more (tests)."""
    return os.environ.get("DOJO_SHARDS", "").strip() == "2"


def wanted(args) -> bool:
    """Should this kata run use a worker? ``args``: the run's pytest arguments."""
    from dojo.student import runner

    forced = os.environ.get("DOJO_SHARDS", "").strip()
    if forced in ("0", "1", "off", "no", "false"):
        return False
    if forced == "2":
        return hasattr(os, "fork")
    if not hasattr(os, "fork") or "-s" in args or not runner.autoload_off(args):  # OUTPUT=1, or extra arguments
        return False
    try:
        cores = len(os.sched_getaffinity(0))
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return False
    return cores >= 2 and load < cores - 0.5


def _file(item) -> str:
    """The test file of an item, as its node id names it: katas/05_autograd/test_01_engine.py."""
    return str(getattr(item, "nodeid", "") or item.path).split("::")[0] or str(item.path)


def load_costs() -> dict:
    """{test file: seconds its tests took in the last split run} (:data:`COSTS`; {} if unreadable)."""
    try:
        found = json.loads(COSTS.read_text(encoding="utf-8"))
        return {str(k): float(v) for k, v in found.items()} if isinstance(found, dict) else {}
    except (OSError, ValueError, TypeError, AttributeError):
        return {}


def save_costs(costs) -> None:
    """Keep ``costs`` as the file's whole content (written, then renamed: never half a file)."""
    tmp = None
    try:
        COSTS.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix="shard-costs-", dir=COSTS.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(costs, handle, indent=0, sort_keys=True)
        os.replace(tmp, COSTS)
    except OSError:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def split(items, costs=None) -> tuple:
    """(the main process's items, the worker's): whole test files, in collection order, shared by
    cost (longest first onto the lighter side). A file's cost is what it took last time
    (``costs``), else an estimate: 2 ms a test, 20 ms a property test."""
    costs = costs or {}
    files = {}
    for item in items:
        files.setdefault(_file(item), []).append(item)
    cost = {path: costs[path] if path in costs else
            sum(PROPERTY_WEIGHT if getattr(getattr(i, "obj", None), "is_hypothesis_test", False) else 1 for i in group) * 0.002
            for path, group in files.items()}
    sides, load = ([], []), [0, 0]
    for path in sorted(files, key=lambda p: -cost[p]):
        side = 0 if load[0] <= load[1] else 1
        sides[side].append(path)
        load[side] += cost[path]
    mine, theirs = set(sides[0]), set(sides[1])
    return [i for i in items if _file(i) in mine], [i for i in items if _file(i) in theirs]


def _run(session, items) -> None:
    """pytest's own run loop over ``items``."""
    for i, item in enumerate(items):
        nextitem = items[i + 1] if i + 1 < len(items) else None
        item.config.hook.pytest_runtest_protocol(item=item, nextitem=nextitem)
        if session.shouldfail:
            raise session.Failed(session.shouldfail)
        if session.shouldstop:
            raise session.Interrupted(session.shouldstop)


class Shards:
    """The pytest plugin (see the module's docstring) for a run with pytest arguments ``args``.
    Whether to split is decided when the tests are about to run (:func:`wanted`: the load then),
    not when the process started (a run prepared ahead by make watch waits for a save).
    ``min_items``: smaller runs keep one process (default: :data:`MIN_ITEMS`, 0 under ``DOJO_SHARDS=2``)."""

    def __init__(self, args, min_items=None):
        self.args = list(args)
        self.min_items = min_items
        self.seconds = {}  # test file -> seconds its tests took in this run (both processes' reports)

    def pytest_runtest_logreport(self, report):
        path = report.nodeid.split("::")[0]
        self.seconds[path] = self.seconds.get(path, 0.0) + float(getattr(report, "duration", 0.0) or 0.0)

    def pytest_runtestloop(self, session):
        if not wanted(self.args):
            return None
        min_items = (0 if forced() else MIN_ITEMS) if self.min_items is None else self.min_items
        if session.testsfailed or session.config.option.collectonly or len(session.items) < max(2, min_items):
            return None  # pytest's own loop: collection errors, --collect-only, small runs
        costs = load_costs()
        mine, theirs = split(session.items, costs)
        capman = session.config.pluginmanager.get_plugin("capturemanager")
        if not mine or not theirs or getattr(capman, "_global_capturing", None) is None:
            return None
        factory = getattr(session.config, "_tmp_path_factory", None)
        if factory is not None:  # one base folder for both processes' tmp_path
            factory.getbasetemp()
        fd, path = tempfile.mkstemp(prefix="dojo-shard-", suffix=".pickle")
        os.close(fd)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _worker(session, theirs, path)  # never returns
        try:
            try:
                _run(session, mine)
                status = _wait(pid)
            except BaseException:  # a timeout here, a Ctrl-C: the worker stops too
                _stop(pid)
                raise
            self._merge(session, status, path)
            save_costs({**costs, **self.seconds})  # a run that finished: the next split uses what each file took
        finally:
            try:
                os.unlink(path)
            except OSError:
                pass
        return True

    def _merge(self, session, status, path) -> None:
        try:
            with open(path, "rb") as handle:
                found = pickle.load(handle)
        except (OSError, EOFError, pickle.UnpicklingError):
            found = None
        if found is None or not found.get("done"):  # the worker died in the student's code: so does this run
            _leave_like(status)
        config = session.config
        for data in found["reports"]:
            report = config.hook.pytest_report_from_serializable(config=config, data=data)
            config.hook.pytest_runtest_logreport(report=report)
        dojo = _dojo(config)
        if dojo is not None:
            for kata_id, position, fields in found["results"]:
                tests = dojo.results[kata_id].tests
                placeholder = tests[position]
                tests[position] = type(placeholder)(step=placeholder.step, **fields)
            if found["timed_out"] is not None and dojo.timed_out is None:
                kata_id, position = found["timed_out"]
                dojo.timed_out = dojo.results[kata_id].tests[position]
        if found["shouldstop"] and not session.shouldstop:
            session.shouldstop = found["shouldstop"]
            raise session.Interrupted(session.shouldstop)


def _dojo(config):
    from dojo.student import plugin

    return plugin._dojo(config)


def _worker(session, items, path) -> None:
    """The forked worker: run ``items`` silently, leave reports and results in ``path``, then end
    without any session teardown (the main process finishes the session)."""
    code = 1
    try:
        config = session.config
        # pytest captures each test's output in temporary files opened before the fork: shared
        # with the main process (one file offset), so this process takes its own, closing its
        # copies unread (reading them would move the offset under the main process's test).
        capman = config.pluginmanager.get_plugin("capturemanager")
        capman._global_capturing.stop_capturing()
        capman._global_capturing = None
        capman.start_global_capturing()
        capman.suspend_global_capture()
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:  # its dots and counts are the main process's to print
            from _pytest.terminal import TerminalWriter

            reporter._tw = TerminalWriter(open(os.devnull, "w", encoding="utf-8"))
        reports = []

        class Collect:
            def pytest_runtest_logreport(self, report):
                reports.append(config.hook.pytest_report_to_serializable(config=config, report=report))

        config.pluginmanager.register(Collect(), "dojo-shard-collect")
        shouldstop = None
        try:
            _run(session, items)
        except (session.Interrupted, session.Failed):
            shouldstop = session.shouldstop or session.shouldfail
        dojo = _dojo(config)
        results, timed_out = [], None
        if dojo is not None:
            wanted = {f"{os.path.basename(str(i.path))}::{i.name}" for i in items}
            for (kata_id, nodeid), position in dojo.positions.items():
                if nodeid in wanted:
                    test = dojo.results[kata_id].tests[position]
                    fields = {k: v for k, v in vars(test).items() if k != "step"}
                    results.append((kata_id, position, fields))
                    if test is dojo.timed_out:
                        timed_out = (kata_id, position)
        with open(path, "wb") as handle:
            pickle.dump({"done": True, "reports": reports, "results": results, "timed_out": timed_out,
                         "shouldstop": shouldstop or None}, handle)
        code = 0
    except KeyboardInterrupt:
        code = 130
    except BaseException:  # noqa: BLE001 - whatever happens, the worker must not return
        code = 1
    finally:
        os._exit(code)


def _wait(pid) -> int:
    """The worker's exit code (negative: the signal that ended it)."""
    while True:
        try:
            _, status = os.waitpid(pid, 0)
        except InterruptedError:  # pragma: no cover - retried by Python itself
            continue
        except ChildProcessError:
            return 1
        return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def _stop(pid) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
    _wait(pid)


def _leave_like(status) -> None:
    """End this process the way the worker ended: no verdict, nothing recorded."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001
            pass
    if status < 0:
        signal.signal(-status, signal.SIG_DFL)
        os.kill(os.getpid(), -status)
    os._exit(status & 0xFF)
