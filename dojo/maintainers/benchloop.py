"""How fast the student's loop answers: ``python -m dojo.maintainers.benchloop [--runs 7] [--katas 01 05] [--no-watch]``.

* ``make kata``: the wall time of ``python -m dojo kata NN`` against the solutions (``IMPL=solutions
  UNLOCK=1``), median and minimum of ``--runs`` runs, with the CPU time it used: through the warm
  server (its start is not timed; on systems without one this is a cold run too) and cold
  (``DOJO_WARM=0``: a fresh interpreter per run), interleaved. The servers it started are stopped.
* ``make watch``: from a save to the verdict line. A copy of the solutions is watched; each
  iteration appends a comment to the kata's own file and times until the closing GREEN/RED line
  appears; the warm fork server and the subprocess fallback (``DOJO_FORK=0``) are measured in the
  same session, kata by kata.
* ``--baseline PATH``: the same for another checkout (the commit before a change), interleaved
  run by run with this one (and save by save, both watchers running at once), for an honest
  before/after on a machine whose load changes.

The machine's load average is printed before and after: on a busy machine every figure grows.
A benchmark, never an assertion: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import queue
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from dojo import ROOT

VERDICT_PREFIXES = ("GREEN", "RED", "LOCKED", "PASS", "INTERRUPTED")


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTHONDONTWRITEBYTECODE", "IMPL", "OUTPUT")}
    env.update(UNLOCK="1", PYTHONUNBUFFERED="1", **extra)
    return env


def load() -> str:
    try:
        one, five, _ = os.getloadavg()
    except (AttributeError, OSError):
        return f"{os.cpu_count()} cores (no load average on this system)"
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


def time_kata(kata_id: str, runs: int, roots=(ROOT,), modes=("warm", "cold")) -> list:
    """Wall and CPU seconds of ``python -m dojo kata <id>`` against the solutions, ``runs`` times
    in each checkout of ``roots`` and each of ``modes`` ("warm": the warm server, "cold":
    ``DOJO_WARM=0``), all interleaved so a change in the machine's load hits all alike. A list per
    root of {mode: {"median", "min", "cpu"}}. CPU is the client's and its children's: a warm run's
    child belongs to the server, so its CPU shows only in the cold column."""
    slots = [(i, root, mode) for i, root in enumerate(roots) for mode in modes]
    walls, cpus = {slot: [] for slot in slots}, {slot: [] for slot in slots}
    command = [sys.executable, "-m", "dojo", "kata", kata_id]
    try:
        for _, root, mode in slots:  # warm the file cache and the pycs, and start the warm servers
            subprocess.run(command, cwd=root, env=_kata_env(mode), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(runs):
            for slot in slots:
                _, root, mode = slot
                before = os.times()
                started = time.perf_counter()
                subprocess.run(command, cwd=root, env=_kata_env(mode), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                walls[slot].append(time.perf_counter() - started)
                after = os.times()  # children's CPU time (0 on Windows)
                cpus[slot].append(after.children_user + after.children_system - before.children_user - before.children_system)
    finally:
        for root in roots:
            subprocess.run([sys.executable, "-m", "dojo", "warm", "stop"], cwd=root, env=_kata_env("warm"),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = [{} for _ in roots]
    for slot in slots:
        i, _, mode = slot
        results[i][mode] = {"median": statistics.median(walls[slot]), "min": min(walls[slot]),
                            "cpu": statistics.median(cpus[slot])}
    return results


def _kata_env(mode) -> dict:
    return _env(IMPL="solutions", DOJO_WARM="1" if mode == "warm" else "0")


class _Lines:
    """Lines of a child's stdout with the time each arrived."""

    def __init__(self, stream):
        self.queue = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream):
        for line in stream:
            self.queue.put((time.perf_counter(), line))
        self.queue.put((time.perf_counter(), None))

    def until(self, test, timeout=120.0):
        """The time of the first line for which ``test(line)`` is true (None: the child ended or timed out)."""
        end = time.monotonic() + timeout
        while True:
            try:
                when, line = self.queue.get(timeout=max(0.01, end - time.monotonic()))
            except queue.Empty:
                return None
            if line is None:
                return None
            if test(line):
                return when


class _Watcher:
    """``make watch`` of the checkout at ``root`` on a copy of its solutions, its lines timed."""

    def __init__(self, kata, fork: bool, root, tmp):
        shutil.copytree(Path(root) / "solutions" / "tinytorch", Path(tmp) / "tinytorch",
                        ignore=shutil.ignore_patterns("__pycache__"))
        self.target = Path(tmp) / "tinytorch" / kata.owns[0]
        env = _env(IMPL=tmp, DOJO_FORK="1" if fork else "0")
        self.child = subprocess.Popen([sys.executable, "-m", "dojo", "watch", kata.id], cwd=root, env=env, text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
        self.lines = _Lines(self.child.stdout)
        self.times = []
        self.error = None

    def started(self) -> bool:
        if self.lines.until(lambda line: line.startswith("watching")) is None:
            self.error = "the watcher did not start"
        return self.error is None

    def save(self, i) -> bool:
        """Append a comment to the kata's file; time until the verdict line, then wait until idle."""
        time.sleep(0.3)  # the watcher is idle, polling
        with open(self.target, "a", encoding="utf-8") as handle:
            handle.write(f"# benchloop save {i}\n")
        saved = time.perf_counter()
        shown = self.lines.until(lambda line: line.startswith(VERDICT_PREFIXES))
        if shown is None:
            self.error = "no verdict after a save"
            return False
        self.times.append(shown - saved)
        self.lines.until(lambda line: line.startswith("watching"))
        return True

    def stop(self):
        if self.child.poll() is None:
            os.killpg(self.child.pid, signal.SIGINT)
            try:
                self.child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.child.pid, signal.SIGKILL)
                self.child.wait()

    def result(self) -> dict:
        if self.error:
            return {"error": self.error}
        return {"median": statistics.median(self.times), "min": min(self.times)}


def time_watch(curriculum, kata, saves: int, fork: bool, root=ROOT, roots=None) -> list:
    """Seconds from a save of the kata's own file to the verdict line, ``saves`` times (``make
    watch`` of the checkout at ``root``, on a copy of its solutions). With ``roots``, one watcher
    per checkout, all started together and their saves interleaved (one save each in turn), so a
    change in the machine's load hits all alike; a list of results, one per checkout."""
    roots = [root] if roots is None else list(roots)
    with contextlib.ExitStack() as stack:
        watchers = []
        for r in roots:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="dojo-benchloop-"))
            watcher = _Watcher(kata, fork, r, tmp)
            stack.callback(watcher.stop)
            watchers.append(watcher)
        live = [w for w in watchers if w.started()]
        for i in range(saves):
            live = [w for w in live if w.save(i)]
        return [w.result() for w in watchers]


def main(argv=None) -> int:
    from dojo import curriculum as curriculum_module

    parser = argparse.ArgumentParser(prog="python -m dojo.maintainers.benchloop", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs (make kata) and saves (make watch) per kata")
    parser.add_argument("--katas", nargs="*", default=["01", "05"], help="kata ids, or 'all' (default: 01 05)")
    parser.add_argument("--no-watch", action="store_true", help="time make kata only")
    parser.add_argument("--no-kata", action="store_true", help="time make watch only")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="another checkout (e.g. the previous commit) timed the same way, interleaved, for a before/after")
    args = parser.parse_args(argv)
    c = curriculum_module.load()
    katas = c.katas if args.katas == ["all"] else [c.kata(k) for k in args.katas]
    trees = [("this", ROOT)] + ([("baseline", args.baseline.resolve())] if args.baseline else [])
    print(f"before: {load()}")
    print(f"{'kata':<6}{'tree':<10}{'make kata: warm':>16}{'min':>8}   {'cold':>6}{'min':>8}{'cpu':>8}"
          f"   {'watch: fork':>12}{'min':>8}   {'subprocess':>11}{'min':>8}")
    for kata in katas:
        rows = [f"{kata.id:<6}{name:<10}" for name, _ in trees]
        if not args.no_kata:
            for i, k in enumerate(time_kata(kata.id, args.runs, [root for _, root in trees])):
                w, c = k["warm"], k["cold"]
                rows[i] += f"{w['median']:>15.3f}s{w['min']:>7.3f}s   {c['median']:>5.3f}s{c['min']:>7.3f}s{c['cpu']:>7.3f}s"
        else:
            rows = [row + " " * 56 for row in rows]
        if not args.no_watch and os.name != "nt":
            for fork in (True, False):
                for i, w in enumerate(time_watch(c, kata, args.runs, fork, roots=[root for _, root in trees])):
                    rows[i] += f"   {w['error']:>20}" if "error" in w else f"   {w['median']:>11.3f}s{w['min']:>7.3f}s"
        for row in rows:
            print(row, flush=True)
    print(f"after: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
