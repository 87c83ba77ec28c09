"""Run a kata's tests in a child process and trust only the verdict the dojo plugin leaves.

Code under test runs in that child, so ``os._exit(0)`` in a student's function ends only the
child: a run without the plugin's verdict file is a failure, said in one line. Ctrl-C reaches the
child (from the terminal, or forwarded from here); the child records nothing then.

Two ways to start the child, with the same verdict rules:

* :func:`run_with_verdict` (``make kata``): a fresh interpreter, ``python -m dojo.student.runner``, which
  runs pytest and leaves with ``os._exit`` (the interpreter's teardown of NumPy, pytest and
  hypothesis is skipped: about a tenth of a second on a busy 2-core machine).
* :class:`ForkRunner` (``make watch`` on Linux): a warm parent that has imported NumPy, pytest,
  hypothesis and the harness once forks a child per run. The parent never imports ``tinytorch``,
  so every child imports the student's code as it is on disk now.

This module imports only the standard library, and only what every ``make kata`` needs at module
level (subprocess and tempfile where they are used): the warm server's thin client
(:mod:`dojo.student.warm_client`) imports it for the verdict rules.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

from dojo import ROOT

# pytest plugins a kata run never uses (kata tests use tmp_path, monkeypatch and capsys, not tmpdir,
# caplog, doctests, junit XML or the cache; unraisable and thread exceptions never decide a verdict).
# Not loading them saves a tenth of a second or more per run, much of it the two full garbage
# collections unraisableexception makes when the session ends.
QUIET_PLUGINS = tuple(
    arg
    for name in ("cacheprovider", "doctest", "pastebin", "junitxml", "legacypath", "logging", "stepwise",
                 "setuponly", "setupplan", "unittest", "unraisableexception", "threadexception")
    for arg in ("-p", f"no:{name}")
)

# The plugins a kata run does use, loaded by name, with pytest's entry-point autoloading turned off
# (PYTEST_DISABLE_PLUGIN_AUTOLOAD): finding them by reading every installed distribution's metadata,
# and marking their files for assertion rewriting, cost about a tenth of a second of CPU per run;
# and a pytest plugin installed for something else cannot change a kata's verdict.
KATA_PLUGINS = ("-p", "timeout", "-p", "hypothesispytest")

NO_VERDICT = (
    "error: the test run ended without the dojo's verdict (exit code {code}): something ended the test process "
    "before the harness could judge it (os._exit, or a crash, in the code under test). Nothing was recorded."
)

TRUE = ("1", "true", "yes", "on")


def show_all_output() -> bool:
    """``OUTPUT=1`` (``make kata N=05 OUTPUT=1``): every test's ``print()`` output, as it happens."""
    return os.environ.get("OUTPUT", "").strip().lower() in TRUE


def pytest_args(kata_dir, extra=()) -> list:
    """pytest's arguments for one kata: the folder first, then the dojo's options, then ``extra``.

    Without ``extra`` (the usual ``make kata``) the plugins a kata never needs are not loaded;
    with it (``--lf``, ``--pdb`` …) pytest keeps all of them.
    """
    args = [str(kata_dir), "-q"]
    timeout = os.environ.get("TIMEOUT", "").strip()
    if timeout:
        args.append(f"--timeout={timeout}")
    if show_all_output():
        args.append("-s")  # no capture: every print() appears as the tests run
    if not extra:
        args.extend(QUIET_PLUGINS)
        args.extend(KATA_PLUGINS)
    return args + list(extra)


def autoload_off(args) -> bool:
    """Do ``args`` name the kata plugins themselves (:data:`KATA_PLUGINS`)? Then the run turns
    pytest's plugin autoloading off (any other arguments keep it: ``--lf``, ``--pdb`` …; so does
    ``PYTEST_ADDOPTS``, which may use another plugin's options)."""
    if os.environ.get("PYTEST_ADDOPTS", "").strip():
        return False
    args, n = list(args), len(KATA_PLUGINS)
    return any(tuple(args[i:i + n]) == KATA_PLUGINS for i in range(len(args) - n + 1))


def purge_bytecode(files) -> None:
    """Remove the cached bytecode of these .py files (Python's and pytest's). A pyc is trusted when
    the source's mtime in whole seconds and its size match, which two quick saves can fool: the
    older code would run."""
    for name in files:
        path = Path(name)
        if path.suffix != ".py":
            continue
        for pyc in (path.parent / "__pycache__").glob(f"{path.stem}.*.pyc"):
            try:
                pyc.unlink()
            except OSError:
                pass


def purge_fresh_bytecode(package, seconds=2.0) -> None:
    """:func:`purge_bytecode` for the files of ``package`` saved in the last ``seconds``: whatever
    ran them a moment ago (a previous `make kata`), this run compiles what is on disk now."""
    now = time.time()
    try:
        entries = list(os.scandir(package))
    except OSError:
        return
    fresh = []
    for entry in entries:
        if entry.name.endswith(".py"):
            try:
                if now - entry.stat().st_mtime < seconds:
                    fresh.append(entry.path)
            except OSError:
                continue
    purge_bytecode(fresh)


def _with_verdict(args, verdict) -> list:
    return [*args[:2], f"--dojo-verdict={verdict}", *args[2:]]


def _read_verdict(path):
    try:
        found = json.loads(Path(path).read_text(encoding="utf-8"))
        return int(found["exitstatus"]), str(found.get("message") or "")
    except (OSError, ValueError, KeyError, TypeError):
        return None, ""


def conclude(status, message, code, received) -> int:
    """The exit code of a run, from the plugin's verdict (``status``, ``message``), else from how the
    child ended (``code``: its exit status, negative for a signal) and the signals ``received``."""
    if message:
        print("\n" + message, file=sys.stderr)
    if status is not None:
        return status
    if received:
        print("\ninterrupted: nothing was recorded", file=sys.stderr)
        return 130 if signal.SIGINT in received else 128 + received[0]
    code = 128 - code if code < 0 else code  # killed by a signal: the shell's convention
    print("\n" + NO_VERDICT.format(code=code), file=sys.stderr)
    return code or 1


class _Forwarding:
    """While a child runs: SIGINT, SIGTERM and SIGHUP sent to this process are passed on to it
    (a terminal's Ctrl-C reaches both; the plugin ignores the same Ctrl-C twice) and remembered."""

    SIGNALS = [signal.SIGINT] + [getattr(signal, n) for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n)]

    def __init__(self, send):
        self.send = send  # send(signum), or None where signals cannot be passed on (Windows)
        self.received = []
        self.previous = {}

    def __enter__(self):
        def forward(signum, frame):
            self.received.append(signum)
            if self.send is not None:
                try:
                    self.send(signum)
                except OSError:
                    pass

        self.previous = {s: signal.signal(s, forward) for s in self.SIGNALS}
        return self

    def __exit__(self, *exc):
        for s, handler in self.previous.items():
            signal.signal(s, handler)
        return False


def _interrupted(signals, interrupt) -> None:
    if interrupt and signal.SIGINT in signals.received:
        raise KeyboardInterrupt


def child_environment(args, environ=None) -> dict:
    """The environment of the process that runs pytest with ``args``: this one's, with a console
    that cannot print a character getting "?", and plugin autoloading off for a plain kata run."""
    env = dict(os.environ if environ is None else environ)
    encoding = env.get("PYTHONIOENCODING", "").split(":")[0]
    env["PYTHONIOENCODING"] = f"{encoding}:replace"
    if autoload_off(args):
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    return env


def run_with_verdict(args, interrupt=False) -> int:
    """Run pytest with ``args`` in a fresh interpreter and return the verdict the dojo plugin left.

    ``interrupt``: raise KeyboardInterrupt (after the child ended and its verdict was said) when a
    Ctrl-C came during the run, for callers that stop then (``make watch``)."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory(prefix="dojo-run-") as tmp:
        verdict = Path(tmp) / "verdict.json"
        env = child_environment(args)
        sys.stdout.flush()
        child = subprocess.Popen([sys.executable, "-m", "dojo.student.runner", *_with_verdict(args, verdict)], env=env)

        def send(signum):
            if os.name != "nt" and child.poll() is None:
                child.send_signal(signum)

        with _Forwarding(send) as signals:
            code = child.wait()
        status, message = _read_verdict(verdict)
    code = conclude(status, message, code, signals.received)
    _interrupted(signals, interrupt)
    return code


# -- the warm parent (make watch) ----------------------------------------------------------------

# Imported once by the warm parent, in this order: everything a kata run needs except the
# student's code. (The kata test modules import tinytorch, so they are not among them.)
WARM_MODULES = (
    "numpy", "pytest", "_pytest.python", "_pytest.runner", "_pytest.terminal", "_pytest.capture",
    "_pytest.fixtures", "_pytest.skipping", "_pytest.warnings", "_pytest.assertion.rewrite",
    "hypothesis", "hypothesis.strategies", "hypothesis.extra.numpy", "_hypothesis_pytestplugin",
    "pytest_timeout", "pytest_order", "tabulate", "tomlkit", "filelock", "threadpoolctl",
    # what every run imported after the fork (pytest's configure and pdb support, NumPy's random
    # module that the tests and tinytorch use, hypothesis's target phase)
    "numpy.random", "numpy.testing", "_pytest.helpconfig", "_pytest.faulthandler", "_pytest.debugging",
    "_pytest._argcomplete", "faulthandler", "pdb", "readline", "packaging.version", "concurrent.futures", "statistics",
    "tracemalloc", "hypothesis.internal.conjecture.optimiser",
    # what kata runs import on first use: numpy.ma (np.percentile, np.median: katas 17-20), tqdm's
    # progress bars (the Trainer: kata 07, ~40 ms with the asyncio and multiprocessing it pulls in),
    # and what the harness's assertion messages and getpass need
    "numpy.ma", "tqdm.auto", "getpass", "encodings.unicode_escape",
    "dojo.curriculum", "dojo.impl", "dojo.report", "dojo.progress", "dojo.student.gating", "dojo.stubs",
    "dojo.threads", "dojo.testing", "dojo.student.plugin", "dojo.student.shards",
)


def fork_available() -> bool:
    """The warm fork server runs on Linux (fork without exec is not safe with macOS's system
    libraries, and Windows has no fork). ``DOJO_FORK=0`` turns it off, ``DOJO_FORK=1`` forces it."""
    forced = os.environ.get("DOJO_FORK", "").strip().lower()
    if forced in ("0", "false", "no", "off"):
        return False
    return hasattr(os, "fork") and (sys.platform.startswith("linux") or forced in TRUE)


class ForkRunner:
    """A warm process that imports the heavy modules once and forks a fresh child for every run.

    The child runs ``pytest.main`` and leaves with ``os._exit``; it never returns into the caller.
    ``tinytorch`` must never be imported in the parent (:meth:`run` refuses): each child imports
    the student's files as they are on disk at that moment.
    """

    def __init__(self, warm=WARM_MODULES):
        import importlib

        from dojo import threads

        count = threads.choose(1)  # TINYTORCH_THREADS, else 1: set before NumPy starts its BLAS threads
        if "numpy" not in sys.modules:
            for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
                os.environ[name] = str(count)
        self.warmed = []
        started = time.perf_counter()
        for name in warm:
            try:
                importlib.import_module(name)
            except ImportError:
                continue
            self.warmed.append(name)
        self.warm_seconds = time.perf_counter() - started
        plugin = sys.modules.get("dojo.student.plugin")
        if plugin is not None:
            plugin.pin_blas_threads()  # once here (threadpoolctl): the children inherit the limit
            plugin.load_curriculum()  # parsed once here; each child re-reads it only if it changed
        _prepare_child_work()
        import gc

        gc.collect()
        gc.freeze()  # the children's collections skip everything imported here (and leave those pages shared)
        self.prepared = None  # the next run's child, forked ahead by prepare()

    def run(self, args, interrupt=False) -> int:
        """Like :func:`run_with_verdict`, in a child forked from this warm process (the one
        :meth:`prepare` made for the same ``args``, if any: it goes on from its configuration)."""
        self._refuse_if_tinytorch_imported()
        prepared, self.prepared = self.prepared, None
        if prepared is not None and prepared["args"] != list(args):
            self._end(prepared)
            prepared = None
        reaped, child = False, []

        def send(signum):
            if child:
                os.kill(child[0], signum)

        try:
            with _Forwarding(send) as signals:  # before the child goes on: no Ctrl-C can fall in between
                if prepared is not None:
                    try:
                        os.write(prepared["go"], b"g")
                    except OSError:  # it ended while it waited (its configuration failed): a fresh one
                        self._end(prepared)
                        prepared = None
                if prepared is None:
                    prepared = self._fork(args, ahead=False)
                child.append(prepared["pid"])
                code = _wait(prepared["pid"])
                reaped = True
            status, message = _read_verdict(prepared["verdict"])
        finally:
            if prepared is not None:
                self._end(prepared, reaped=reaped)
        code = conclude(status, message, code, signals.received)
        _interrupted(signals, interrupt)
        return code

    def prepare(self, args) -> None:
        """Fork the next run's child ahead (make watch, while it waits for a save): it parses
        pytest's arguments and configuration and loads the plugins, then waits (:func:`gate`)
        before reading anything of the student's. :meth:`run` with the same ``args`` lets it go
        on; :meth:`cancel` ends it quietly."""
        self.cancel()
        self._refuse_if_tinytorch_imported()
        self.prepared = self._fork(args, ahead=True)

    def cancel(self) -> None:
        """End the child :meth:`prepare` made, if any (it exits without a word)."""
        prepared, self.prepared = self.prepared, None
        if prepared is not None:
            self._end(prepared)

    def _fork(self, args, ahead) -> dict:
        import tempfile

        tmp = tempfile.TemporaryDirectory(prefix="dojo-run-")
        verdict = Path(tmp.name) / "verdict.json"
        # modules the parent imported cannot be rewritten for assertions: pytest would say so
        child_args = [*_with_verdict(args, verdict), "-W", "ignore::pytest.PytestAssertRewriteWarning"]
        read, go = os.pipe() if ahead else (None, None)
        sys.stdout.flush()
        sys.stderr.flush()
        # a Ctrl-C during the fork (prepare() forks outside _Forwarding) waits until it is done:
        # raised inside the at-fork hooks (filelock has some), it leaves them half run
        masked = hasattr(signal, "pthread_sigmask")
        if masked:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            pid = os.fork()
        finally:
            if masked:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        if pid == 0:  # the child: run, then leave without returning into the parent's code
            if go is not None:
                os.close(go)
            _child(child_args, gate=None if read is None else gate(lambda: _read_go(read)))
        if read is not None:
            os.close(read)
        return {"pid": pid, "go": go, "args": list(args), "tmp": tmp, "verdict": verdict}

    @staticmethod
    def _end(prepared, reaped=False) -> None:
        """Close the child's gate (a child still waiting there ends), reap it, remove its folder."""
        if prepared["go"] is not None:
            try:
                os.close(prepared["go"])
            except OSError:
                pass
        if not reaped:
            try:
                _wait(prepared["pid"])
            except ChildProcessError:
                pass
        prepared["tmp"].cleanup()

    @staticmethod
    def _refuse_if_tinytorch_imported() -> None:
        stale = sorted(m for m in sys.modules if m == "tinytorch" or m.startswith("tinytorch."))
        if stale:
            raise RuntimeError(f"the warm parent has imported {stale[0]}: a child would not see the code on disk")


def _prepare_child_work() -> None:
    """Work every child would repeat, done once in the warm parent (none of it reads the student's code):

    * hypothesis looks for constants in every "local" module loaded (to try them as examples): the
      ones loaded now (the harness, the standard library's paths) are scanned here, so a child
      scans only what it imports itself (the student's tinytorch, read fresh in each child);
    * pytest and hypothesis list the installed distributions' entry points: read once here, the
      children find them in the import system's caches;
    * hypothesis's first property test in a process sets up its engine (about 25 ms of the first
      property test of every run): :func:`_exercise_hypothesis` does it once here.
    """
    import warnings

    # hypothesis counts the warm parent as still inside pytest's plugin set-up (its pytest plugin is
    # imported, never configured here) and warns "slow code in plugin" for the constants it scans
    # and every strategy the warm-up builds (make watch printed eight such warnings as it started):
    # slow here, once, is the point
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            from hypothesis.internal.conjecture.providers import _get_local_constants

            _get_local_constants()
        except Exception:  # noqa: BLE001 - a private helper of hypothesis: a newer one may lack it
            pass
        try:
            import importlib.metadata

            for dist in importlib.metadata.distributions():
                dist.entry_points
        except Exception:  # noqa: BLE001 - only a warm-up
            pass
        try:
            _exercise_hypothesis()
        except Exception:  # noqa: BLE001 - only a warm-up
            pass


def _exercise_hypothesis() -> None:
    """Run one throwaway property test (three examples, no database: nothing written, nothing
    read from the kata), then drop the random generator it made hypothesis create: seeded from
    os.urandom, it would be inherited by every child, which would then draw the same "random"
    examples run after run. Each child makes its own, as in a fresh interpreter."""
    import hypothesis.core
    import numpy as np
    from hypothesis import Phase, given, settings
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp

    @settings(max_examples=3, database=None, deadline=None, phases=[Phase.explicit, Phase.generate])
    @given(x=hnp.arrays(np.float64, hnp.array_shapes(max_dims=2, max_side=2), elements=st.floats(-1, 1)), n=st.integers(0, 3))
    def warm_up(x, n):
        pass

    warm_up()
    hypothesis.core.threadlocal._hypothesis_global_random = None


def _wait(pid) -> int:
    """The child's exit code (negative: the signal that ended it)."""
    while True:
        try:
            _, status = os.waitpid(pid, 0)
        except InterruptedError:  # pragma: no cover - Python retries waitpid itself (PEP 475)
            continue
        except KeyboardInterrupt:  # a handler raised while waiting: the child still has to end
            continue
        return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def _child(args, gate=None) -> None:
    """A forked kata run (never returns). ``gate``: a plugin where the run, prepared ahead, waits
    until it is let go (:func:`gate`)."""
    code = 1
    try:
        # a run prepared ahead ignores Ctrl-C while it waits (that one is for make watch itself)
        signal.signal(signal.SIGINT, signal.default_int_handler if gate is None else signal.SIG_IGN)
        for name in ("SIGTERM", "SIGHUP"):
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), signal.SIG_DFL)
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        import importlib

        importlib.invalidate_caches()  # directory listings the parent cached may be out of date
        if autoload_off(args):
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # this child's environment only
        from dojo.student import shards

        plugins = [shards.Shards(args)]  # two cores where they help: dojo/student/shards.py
        if gate is not None:
            plugins.append(gate)
        code = _pytest_main(args, plugins)
    except BaseException:  # noqa: BLE001 - whatever happens, the child must not return
        try:
            import traceback

            traceback.print_exc()
        except BaseException:  # noqa: BLE001
            pass
    finally:
        _leave(code)


def gate(wait, early=False):
    """A pytest plugin that holds a run prepared ahead until it is let go: ``wait()`` blocks, then
    says whether to go on (False: the process ends quietly, nothing ran, nothing was printed).
    Until then the run has parsed its arguments and configuration and loaded its plugins, the
    same for every run, and has read nothing of the student's: collection imports tinytorch,
    and the dojo plugin's configure purges fresh bytecode.

    ``early=False`` (make watch): it waits before any plugin is configured. ``early=True`` (the
    warm server of make kata): before pytest captures the standard streams, so that ``wait()``
    can put the terminal of the client that asked for the run on them."""
    import pytest

    def go_on():
        if not wait():
            _leave(0)
        import importlib

        signal.signal(signal.SIGINT, signal.default_int_handler)
        importlib.invalidate_caches()  # the save that let this run go may have added files

    if early:
        class EarlyGate:
            @pytest.hookimpl(wrapper=True, tryfirst=True)
            def pytest_load_initial_conftests(self, early_config, parser, args):
                go_on()
                return (yield)

        return EarlyGate()

    class Gate:
        @pytest.hookimpl(tryfirst=True)
        def pytest_configure(self, config):
            go_on()

    return Gate()


def _read_go(fd) -> bool:
    """make watch's gate: one byte on the pipe ``fd``, "g" to go on."""
    try:
        go = os.read(fd, 1)
    except OSError:
        go = b""
    os.close(fd)
    return go == b"g"


def _freeze_imports():
    """A pytest plugin: the garbage collector skips what a kata run imported, NumPy, pytest,
    hypothesis and the harness (frozen when pytest is configured), then the test modules and the
    student's code (frozen when collection ends). Those objects live until the process ends, yet
    every full collection walked them all again: a tenth of a second or more of a kata run on a
    busy machine. Objects the tests create are collected as usual."""
    import gc

    import pytest

    class FreezeImports:
        @pytest.hookimpl(trylast=True)
        def pytest_configure(self, config):
            gc.freeze()
            gc.enable()  # off while the interpreter imported pytest and its plugins (python -m dojo.student.runner)

        @pytest.hookimpl(trylast=True)
        def pytest_collection_finish(self, session):
            gc.freeze()

    return FreezeImports()


def _pytest_main(args, plugins=()) -> int:
    import pytest

    try:
        return int(pytest.main(list(args), plugins=[_freeze_imports(), *plugins]))
    except SystemExit as error:
        return error.code if isinstance(error.code, int) else 1


def _leave(code) -> None:
    """Flush and end the process now: no interpreter teardown (and, in a forked child, no return)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001 - a closed pipe: nothing more to say
            pass
    os._exit(int(code) & 0xFF)


if __name__ == "__main__":  # python -m dojo.student.runner <pytest args>: what run_with_verdict starts
    import gc

    gc.disable()  # until pytest is configured: everything allocated until then is imported modules
    _leave(_pytest_main(sys.argv[1:]))


def kata_results(curriculum, kata, impl_root=None) -> dict:
    """Run one kata quietly (no gate, nothing recorded, derandomized) and return its entry of
    the plugin's ``--dojo-results`` JSON (status, steps, per-test outcomes and details).

    Used by ``make hint``, ``make reveal`` and ``make present``. A run that wrote nothing (the
    interpreter died) gives ``{"status": "broken", "message": <its last lines>}``.
    """
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory(prefix="dojo-") as tmp:
        out = Path(tmp) / "results.json"
        command = [
            sys.executable, "-m", "pytest", str(curriculum.kata_dir(kata)), "-q", "--no-gate", "--dojo-progress=none",
            "--dojo-quiet", f"--dojo-results={out}", "--hypothesis-profile=ci", *QUIET_PLUGINS,
        ]
        if impl_root is not None:
            command.append(f"--impl={impl_root}")
        timeout = os.environ.get("TIMEOUT", "").strip()
        if timeout:
            command.append(f"--timeout={timeout}")
        env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTHONDONTWRITEBYTECODE")}
        proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env)
        if not out.exists():
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-5:])
            return {"status": "broken", "passed": 0, "total": 0, "message": f"the test run failed:\n{tail}", "steps": [], "details": []}
        return json.loads(out.read_text(encoding="utf-8"))["katas"].get(
            kata.id, {"status": "broken", "message": "kata did not run", "steps": [], "details": []}
        )
