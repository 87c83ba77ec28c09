"""Re-run a kata whenever a watched file changes: ``make watch N=05``.

On Linux a warm process imports NumPy, pytest, hypothesis and the harness once, then forks a
fresh child for every run (:class:`dojo.student.runner.ForkRunner`): the child imports your
``tinytorch`` as it is on disk and runs the kata, so a save shows its verdict without paying for
those imports again (and, with two idle cores, shares the kata's test files with a forked worker:
:mod:`dojo.student.shards`). Elsewhere (macOS, Windows, or ``DOJO_FORK=0``) each run is a fresh
``make kata``-style subprocess. Either way the verdict is the one the dojo plugin leaves.

While you edit, the next run's child is already forked and has done what every run repeats
(pytest's arguments, configuration and plugins: :meth:`ForkRunner.prepare`); it waits before
reading anything of yours, and a save lets it go on from there, to import your files.

Never the results of stale code: the files are snapshotted before each run; a save during the
run starts another run at once (the output says so), and each verdict names the file state it ran
on. Changed files are polled for 40 times a second (a few stat calls: about 1% of a core), and
the bytecode cached for a changed file is removed before the next run, so two saves within the
same second with the same size never run the older code.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from dojo.student.runner import purge_bytecode  # noqa: F401 - part of this module's interface

# From a save to the start of its run: half a poll on average, then the debounce (~25 ms in all).
POLL_SECONDS = 0.025  # a snapshot of tinytorch/ and a kata folder is ~0.3 ms of CPU
# An editor writes a file in a few milliseconds (truncate and write, or write and rename), and an
# IDE's "save all" writes its files one after the other: each counts once. A save that comes
# later re-runs anyway (the run's verdict is then called out as possibly stale).
DEBOUNCE_SECONDS = 0.012
SUFFIXES = (".py", ".toml", ".md")
CONFIG_FILES = ("conftest.py", "pyproject.toml", "pytest.ini", "tox.ini", "setup.cfg")  # read before a prepared run waits


def snapshot(paths) -> dict:
    """{file: (mtime_ns, size)} for every .py/.md/.toml file under ``paths`` (no __pycache__, no
    hidden folders)."""
    state = {}
    stack = [os.fspath(p) for p in paths]
    while stack:
        top = stack.pop()
        try:
            if not os.path.isdir(top):
                if top.endswith(SUFFIXES) and os.path.isfile(top):
                    st = os.stat(top)
                    state[top] = (st.st_mtime_ns, st.st_size)
                continue
            with os.scandir(top) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        if entry.name != "__pycache__" and not entry.name.startswith("."):
                            stack.append(entry.path)
                    elif entry.name.endswith(SUFFIXES):
                        try:
                            st = entry.stat()
                        except OSError:
                            continue
                        state[entry.path] = (st.st_mtime_ns, st.st_size)
        except OSError:  # deleted or unreadable while we looked: it shows as a change next time
            continue
    return state


def changes(before: dict, after: dict) -> list:
    """The files added, removed or modified between two snapshots, sorted."""
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


def wait_for_state(paths, poll=POLL_SECONDS, debounce=DEBOUNCE_SECONDS, since=None) -> tuple:
    """Block until the files under ``paths`` differ from ``since`` (default: now) and then stay
    quiet for ``debounce`` seconds. Returns ``(changed files, the settled snapshot)``."""
    before = snapshot(paths) if since is None else since
    while True:
        now = snapshot(paths)
        if now != before:
            while True:  # debounce: wait until the files stop changing
                time.sleep(debounce)
                settled = snapshot(paths)
                if settled == now:
                    break
                now = settled
            return changes(before, now), now
        time.sleep(poll)


def wait_for_change(paths, poll=POLL_SECONDS, debounce=DEBOUNCE_SECONDS, since=None) -> list:
    """Block until a file under ``paths`` changes and stays quiet for ``debounce`` seconds."""
    return wait_for_state(paths, poll, debounce, since)[0]


def saved_at(state: dict) -> str:
    """'10:31:02': when the newest watched file was saved."""
    newest = max((mtime for mtime, _ in state.values()), default=0)
    return time.strftime("%H:%M:%S", time.localtime(newest / 1e9)) if newest else "?"


def _names(files) -> str:
    names = [Path(f).name for f in files]
    return ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")


def watch_kata(kata_dir, paths, extra=(), runs=None, fork=None, out=print) -> int:
    """``make watch``: run the kata now and after every change until Ctrl-C.

    ``fork``: use the warm fork server (default: where it is safe, see
    :func:`dojo.student.runner.fork_available`); ``runs`` stops after that many runs (tests, benchmarks).
    """
    from dojo.student import runner

    args = runner.pytest_args(kata_dir, extra)
    if fork is None:
        fork = runner.fork_available()
    where = ", ".join(f"{Path(p).name}/" for p in paths)
    server = None
    try:
        if fork:
            try:
                server = runner.ForkRunner()
            except ValueError as error:  # TINYTORCH_THREADS=abc
                out(f"error: {error}")
                return 2
            out(f"make watch: NumPy, pytest and hypothesis imported once ({server.warm_seconds:.2f} s); "
                "each run is a fresh process with your files as they are on disk")

            def run():
                return server.run(args, interrupt=True)

            def prepare():
                server.prepare(args)  # the next run's child, configured while the student edits
        else:

            def run():
                return runner.run_with_verdict(args, interrupt=True)

            def prepare():
                pass

        count, changed = 0, []
        state = snapshot(paths)  # taken before the run: a save during it starts the next one
        while True:
            purge_bytecode(changed)
            label = f"your files as saved at {saved_at(state)}" + (f" ({_names(changed)} changed)" if changed else "")
            started = time.perf_counter()
            run()
            seconds = time.perf_counter() - started
            count += 1
            after = snapshot(paths)
            if after != state:
                changed, state = changes(state, after), after
                out(f"\n{_names(changed)} changed during this run: the verdict above may be for the older version. "
                    "Running again.\n")
                continue
            out(f"\n(run {count}: {label}, {seconds:.2f} s)")
            if runs is not None and count >= runs:
                return 0
            out(f"watching {where} for changes · Ctrl-C to stop")
            prepare()
            changed, state = wait_for_state(paths, since=state)
            if server is not None and any(Path(f).name in CONFIG_FILES for f in changed):
                server.cancel()  # it read its configuration before this change: the run starts afresh
            out(f"\nchanged: {_names(changed)}\n")
    except KeyboardInterrupt:
        out("\nstopped watching")
        return 0
    finally:
        if server is not None:
            server.cancel()


def run_once(command) -> int:
    """Run ``command``; on Ctrl-C let it stop by itself first (it got the Ctrl-C too, and a kata
    run then says that nothing was recorded), killing it only if it does not within 10 s."""
    child = subprocess.Popen(command)
    try:
        return child.wait()
    except KeyboardInterrupt:
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        raise


def watch(command, paths, runs=None) -> int:
    """Run ``command`` now and after every change; ``runs`` limits the number of runs (tests)."""
    count = 0
    try:
        state = snapshot(paths)
        while True:
            run_once(command)
            count += 1
            if runs is not None and count >= runs:
                return 0
            print(f"\nwatching {', '.join(str(Path(p).name) for p in paths)} for changes · Ctrl-C to stop")
            changed, state = wait_for_state(paths, since=state)
            print(f"\nchanged: {_names(changed)}\n")
    except KeyboardInterrupt:
        print("\nstopped watching")
        return 0
