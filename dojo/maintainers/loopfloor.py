"""Where a kata run's time goes: pytest and hypothesis alone, the kata's strategies, the tests' work.

``python -m dojo.maintainers.loopfloor [--katas 01 05 | all] [--reps 6]`` (``make loopfloor [N="01 05"]``)

The student's loop has goals (``make kata`` ≤ 0.5 s, ``make watch`` save to verdict ≤ 0.3 s; the
figures come from :mod:`dojo.maintainers.benchloop`). Part of every run is paid whatever the tests
check: pytest's work per test and hypothesis's per example. This tool measures, in this run, on
this machine, how a kata's run divides, so that a missed goal can be told apart: pytest and
hypothesis themselves, the inputs the tests draw, or the work the tests (and the solutions) do.

* **Counts**, per kata, against the solutions with the ``dev`` profile (as ``make kata``): the tests
  collected and the examples their property tests ran (``@example`` ones included).
* **Unit costs**, in forked children of one warm process (set up as the warm server's and
  ``make watch``'s: :class:`dojo.student.runner.ForkRunner`), with ``make kata``'s pytest arguments, over synthetic files: one empty test
  (a run's fixed cost), 300 empty tests (the cost of a test), one property test with an empty body
  over one integer, 300 examples (the cost of an example). Medians of ``--reps`` interleaved runs.
* Per kata, one process (no worker), seconds, medians:

  - **floor** = fixed + tests × per test + examples × per example: what the kata's counts cost
    with nothing else (no import of its modules, no strategy beyond one integer, no fixture, no
    test's work). Also shown with the tests and examples shared by two processes, as the warm runs
    share a kata's files (:mod:`dojo.student.shards`): a goal below that is out of reach here
    whatever the tests do.
  - **hollow**: the kata's own run with every test's body doing nothing: pytest, the dojo plugin,
    collection (the kata's modules and the solutions imported), fixtures, and hypothesis drawing
    the kata's own inputs.
  - **real**: the kata's run as it is. real − hollow is the tests' own work.

* **The machine**: importing numpy, pytest and hypothesis in a fresh interpreter (median of 5),
  next to DESIGN's anchor machine (0.29 s), to compare figures between machines.

A benchmark, never an assertion: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dojo import ROOT

ANCHOR_IMPORT_SECONDS = 0.29  # DESIGN.md: "0.29 s of it imports" on the anchor machine
GOALS = (("make kata", 0.5), ("watch", 0.3))
SYNTHETIC_TESTS = 300
SYNTHETIC_EXAMPLES = 300

_EMPTY_TEST = "def test_{i}():\n    pass\n\n"
_PROPERTY = '''from hypothesis import Phase, given, settings, strategies as st


@settings(max_examples={n}, deadline=None, database=None, phases=[Phase.generate])
@given(st.integers())
def test_examples(x):
    pass
'''


class Counter:
    """A pytest plugin that counts the tests collected and the calls of their property bodies.

    ``hollow``: the tests' bodies do nothing (plain tests and property bodies alike), so a run
    costs pytest, the fixtures and hypothesis with the kata's own strategies, and no test's work."""

    def __init__(self, hollow=False):
        self.hollow = hollow
        self.tests = 0
        self.examples = 0

    def pytest_collection_modifyitems(self, items):
        self.tests = len(items)
        for item in items:
            handle = getattr(getattr(item, "obj", None), "hypothesis", None)
            inner = getattr(handle, "inner_test", None)
            if inner is None:
                if self.hollow and hasattr(item, "obj"):
                    item.obj = _nothing
                continue

            def counted(*args, __inner=inner, **kwargs):
                self.examples += 1
                return None if self.hollow else __inner(*args, **kwargs)

            handle.inner_test = counted  # hypothesis documents inner_test as replaceable by plugins


def _nothing(*args, **kwargs):
    return None


def _in_child(work, env=None, cwd=None):
    """``work()`` (returns floats) in a forked child with stdout and stderr silenced."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(read)
            if cwd is not None:
                os.chdir(cwd)
            os.environ.update(env or {})
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)
            os.dup2(null, 2)
            os.write(write, " ".join(repr(float(x)) for x in work()).encode())
        finally:
            os._exit(0)
    os.close(write)
    chunks = []
    while True:
        chunk = os.read(read, 4096)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read)
    os.waitpid(pid, 0)
    text = b"".join(chunks).decode()
    return [float(x) for x in text.split()] if text else None


def count(args, cwd=None, env=None, hollow=False):
    """(tests, examples, seconds) of ``pytest.main(args)`` run in a forked child (None if it died);
    ``hollow``: with every test's body doing nothing (:class:`Counter`)."""
    import pytest

    def work():
        counter = Counter(hollow)
        started = time.perf_counter()
        pytest.main(list(args), plugins=[counter])
        return counter.tests, counter.examples, time.perf_counter() - started

    found = _in_child(work, env=env, cwd=cwd)
    return None if not found else (int(found[0]), int(found[1]), found[2])


def kata_args(kata_dir) -> list:
    """``make kata``'s pytest arguments for a kata, against the solutions, nothing gated or recorded."""
    from dojo.student import runner

    return [*runner.pytest_args(kata_dir), "--impl=solutions", "--no-gate", "--dojo-progress=none", "--dojo-quiet",
            "--hypothesis-profile=dev"]


def unit_costs(reps=6) -> dict:
    """{"fixed", "per_test", "per_example"} seconds on this machine (medians of ``reps`` rounds)."""
    from dojo.student import runner

    with tempfile.TemporaryDirectory(prefix="dojo-loopfloor-") as tmp:
        files = {
            "one": "def test_one():\n    pass\n",
            "many": "".join(_EMPTY_TEST.format(i=i) for i in range(SYNTHETIC_TESTS)),
            "property": _PROPERTY.format(n=SYNTHETIC_EXAMPLES),
        }
        for name, text in files.items():
            (Path(tmp) / f"test_{name}.py").write_text(text, encoding="utf-8")
        times = {name: [] for name in files}
        for _ in range(reps):
            for name in files:
                found = count([f"test_{name}.py", *runner.pytest_args(tmp)[1:]], cwd=tmp, env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
                times[name].append(found[2] if found else float("nan"))
    one, many, prop = (statistics.median(times[name]) for name in ("one", "many", "property"))
    return {"fixed": one, "per_test": (many - one) / (SYNTHETIC_TESTS - 1), "per_example": (prop - one) / SYNTHETIC_EXAMPLES}


def floor(tests, examples, costs, cores=1) -> float:
    """Seconds a run of ``tests`` tests and ``examples`` examples cannot go below, with its tests
    and examples shared evenly by ``cores`` processes."""
    return costs["fixed"] + (tests * costs["per_test"] + examples * costs["per_example"]) / cores


def import_seconds(runs=5) -> float:
    """Median wall time of importing numpy, pytest and hypothesis in a fresh interpreter."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import numpy, pytest, hypothesis"], check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(argv=None) -> int:
    from dojo import curriculum as curriculum_module
    from dojo.maintainers.benchloop import load

    parser = argparse.ArgumentParser(prog="python -m dojo.maintainers.loopfloor", description=__doc__.splitlines()[0])
    parser.add_argument("--katas", nargs="*", default=["all"], help="kata ids, or 'all' (the default)")
    parser.add_argument("--reps", type=int, default=6, help="rounds of the synthetic runs (medians); half as many of each kata's")
    args = parser.parse_args(argv)
    if not hasattr(os, "fork"):
        print("loopfloor needs os.fork (Linux or macOS)", file=sys.stderr)
        return 2
    c = curriculum_module.load()
    katas = c.katas if args.katas == ["all"] else [c.kata(k) for k in args.katas]
    from dojo.student import runner

    runner.ForkRunner()  # this process becomes the warm parent make watch uses (BLAS threads, imports, gc)
    print(f"before: {load()}")
    imports = import_seconds()
    print(f"imports of numpy, pytest and hypothesis in a fresh interpreter: {imports:.3f} s "
          f"(DESIGN's anchor machine: {ANCHOR_IMPORT_SECONDS:.2f} s; this machine x{imports / ANCHOR_IMPORT_SECONDS:.2f})")
    costs = unit_costs(args.reps)
    print(f"pytest and hypothesis alone, make kata's arguments, warm: a run {costs['fixed'] * 1000:.1f} ms, "
          f"a test {costs['per_test'] * 1000:.2f} ms, an example {costs['per_example'] * 1000:.2f} ms")
    env = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "DOJO_SHARDS": "0"}
    print("one process, seconds (medians):")
    print(f"{'kata':<6}{'tests':>6}{'examples':>10}{'floor':>8}{'hollow':>8}{'real':>8}   "
          f"{'floor, 2 cores':>14}   goals out of reach here (the floor on 2 cores is above them)")
    for kata in katas:
        args_ = kata_args(c.kata_dir(kata))
        real, hollow = [], []
        for _ in range(max(1, args.reps // 2)):
            real.append(count(args_, cwd=ROOT, env=env))
            hollow.append(count(args_, cwd=ROOT, env=env, hollow=True))
        if any(found is None for found in real + hollow):
            print(f"{kata.id:<6}  the run died")
            continue
        tests = real[0][0]
        examples = int(statistics.median(found[1] for found in real))
        one, two = floor(tests, examples, costs), floor(tests, examples, costs, cores=2)
        missed = ", ".join(f"{name} {goal} s" for name, goal in GOALS if two > goal) or "none"
        print(f"{kata.id:<6}{tests:>6}{examples:>10}{one:>8.3f}{statistics.median(h[2] for h in hollow):>8.3f}"
              f"{statistics.median(r[2] for r in real):>8.3f}   {two:>14.3f}   {missed}", flush=True)
    print(f"after: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
