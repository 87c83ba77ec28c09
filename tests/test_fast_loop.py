"""The student's loop (issue 12): hints that fit the failing test, messages that do not mislead,
milestone targets shown one way, and feedback fast enough to keep the flow (a warm `make watch`
that never shows results of stale code). No wall time is asserted anywhere: speed is measured by
``python -m dojo.maintainers.benchloop``."""

import os
import re
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest

from dojo import report
from dojo.student import runner, watch
from dojo.maintainers.checks import docstrings_of_tests, missing_test_hints
from dojo.curriculum import Milestone, Step
from dojo.progress import Progress
from tests import minirepo

# -- hints kept with their test ----------------------------------------------------------------


def test_the_hint_paragraph_is_split_from_the_intent():
    doc = """Adds elementwise, broadcasting like NumPy.

    Shapes (2, 3) and (3,) give (2, 3).

    Hint: np.add broadcasts for you;
    return a new Tensor around its result.
    """
    intent, hint = report.split_hint(doc)
    assert intent == "Adds elementwise, broadcasting like NumPy.\n\nShapes (2, 3) and (3,) give (2, 3)."
    assert hint == "np.add broadcasts for you; return a new Tensor around its result."
    assert report.split_hint("No hint here.\n\nJust more intent.") == ("No hint here.\n\nJust more intent.", "")
    assert report.split_hint("") == ("", "")
    assert report.split_hint("Intent.\n\nhint: lower case counts too.")[1] == "lower case counts too."


FIXTURE_TESTS = '''
import this_module_does_not_exist  # never imported: the check reads the file with ast

def test_with_a_hint():
    """Adds.

    Hint: use np.add.
    """

def test_without_a_hint():
    """Only the intent, no hint."""

def test_hint_mentioned_but_not_a_paragraph():
    """The word Hint: in the middle does not count."""

def helper_not_a_test():
    """Hint-less, but not a test."""

class TestGroup:
    def test_method_without_a_hint(self):
        pass

    def test_method_with_a_hint(self):
        """Intent.

        Hint: one sentence.
        Another sentence on the next line.
        """
'''


def _fixture_curriculum(tmp_path):
    folder = tmp_path / "katas" / "01_tensor"
    folder.mkdir(parents=True)
    (folder / "test_01_creation.py").write_text(FIXTURE_TESTS, encoding="utf-8")
    kata = SimpleNamespace(id="01", dirname="01_tensor")
    return SimpleNamespace(katas=[kata], katas_dir=tmp_path / "katas", kata_dir=lambda k: tmp_path / "katas" / k.dirname)


def test_missing_test_hints_names_each_test_without_a_hint_paragraph(tmp_path):
    c = _fixture_curriculum(tmp_path)
    names = [name for name, _, _ in docstrings_of_tests(tmp_path / "katas" / "01_tensor" / "test_01_creation.py")]
    assert names == ["test_with_a_hint", "test_without_a_hint", "test_hint_mentioned_but_not_a_paragraph",
                     "TestGroup::test_method_without_a_hint", "TestGroup::test_method_with_a_hint"]
    problems = missing_test_hints(c)
    assert len(problems) == 3, problems
    assert all(p.startswith("kata 01: katas/01_tensor/test_01_creation.py:") for p in problems)
    flagged = " ".join(problems)
    for name in ("test_without_a_hint", "test_hint_mentioned_but_not_a_paragraph", "TestGroup::test_method_without_a_hint"):
        assert f" {name} has no hint" in flagged
    assert "test_with_a_hint " not in flagged and "test_method_with_a_hint" not in flagged


def test_missing_test_hints_reports_a_file_it_cannot_parse(tmp_path):
    c = _fixture_curriculum(tmp_path)
    (tmp_path / "katas" / "01_tensor" / "test_02_arithmetic.py").write_text("def test_x(:\n", encoding="utf-8")
    assert any("test_02_arithmetic.py cannot be read" in p and "SyntaxError" in p for p in missing_test_hints(c))


def _result(test_hint="", output=""):
    step = Step(2, "arithmetic", "Arithmetic", ("step hint one", "step hint two"))
    kata = SimpleNamespace(id="01", title="Tensor", steps=(step,))
    test = report.TestResult(nodeid="test_02_arithmetic.py::test_add", name="test_add", step=step, outcome="failed",
                             doc="Adds elementwise.", hint=test_hint, message="result differs", output=output)
    return report.KataResult(kata=kata, tests=[test], status="red"), test


def test_first_failure_shows_the_tests_own_hint_else_the_steps():
    result, test = _result(test_hint="np.add broadcasts.")
    text = report.failure_detail(result, test, report.EMOJI)
    assert "  hint: np.add broadcasts.\n" in text and "step hint one" not in text
    assert "  Adds elementwise.\n" in text and "Hint:" not in text
    result, test = _result()
    assert "  hint: step hint one\n" in report.failure_detail(result, test, report.EMOJI)


def test_first_failure_shows_the_end_of_what_the_test_printed():
    printed = "".join(f"value {i}\n" for i in range(40))
    result, test = _result(output=printed)
    text = report.failure_detail(result, test, report.EMOJI)
    assert "printed while the test ran (last 12 of 40 lines; every test's output: make kata N=01 OUTPUT=1):" in text
    assert "    | value 39" in text and "    | value 28" in text and "value 27" not in text
    result, test = _result(output="")
    assert "printed" not in report.failure_detail(result, test, report.EMOJI)


def test_output_switch_and_quiet_plugins(monkeypatch):
    monkeypatch.delenv("TIMEOUT", raising=False)
    monkeypatch.delenv("OUTPUT", raising=False)
    plain = runner.pytest_args("katas/01_tensor")
    assert plain[:2] == ["katas/01_tensor", "-q"] and "-s" not in plain and "no:cacheprovider" in plain
    monkeypatch.setenv("OUTPUT", "1")
    assert "-s" in runner.pytest_args("katas/01_tensor")
    with_extra = runner.pytest_args("katas/01_tensor", ["--lf"])
    assert with_extra[-1] == "--lf" and "no:cacheprovider" not in with_extra  # --lf needs the cache


# -- milestones: one target per data set, shown one way ----------------------------------------


def test_a_milestone_keeps_the_target_of_the_data_set_its_best_run_used(tmp_path):
    from dojo.cli import milestone_columns

    m03 = Milestone("03", "MLP", 1986, ("06",), "m03_mlp", "accuracy", 0.97, 0.93)
    progress = Progress(tmp_path / "progress.toml")
    progress.record_milestone(m03, 0.9582, True, target=0.95, dataset="UCI 8×8 digits (bundled: 1,438 train, 359 test)")
    progress.record_milestone(m03, 0.9650, False, target=0.97, dataset="MNIST")  # higher, but short of its own target
    record = progress.read()["milestones"]["03"]
    assert (record["metric"], record["target"], record["achieved"]) == (0.9582, 0.95, True)
    assert milestone_columns(m03, record) == ("95.82%", "95.00%", "UCI 8×8 digits")
    progress.record_milestone(m03, 0.9712, True, target=0.97, dataset="MNIST")
    assert milestone_columns(m03, progress.read()["milestones"]["03"]) == ("97.12%", "97.00%", "MNIST")
    assert milestone_columns(m03, {}) == ("", "97.00%", "")  # before any run: the curriculum's target


def test_offline_mnist_is_one_short_line_then_the_fallback(tmp_path, monkeypatch):
    from milestones import common

    monkeypatch.setenv("TINYTORCH_OFFLINE", "1")
    monkeypatch.setenv("TINYTORCH_DATA", str(tmp_path))
    lines = []
    name, target, *_ = common.load_digits_data(False, lines.append, {"mnist": 0.97, "mnist-reduced": 0.96, "digits": 0.95})
    assert len(lines) == 2, lines
    folder = str(tmp_path / "mnist")
    assert folder in lines[0] and "TINYTORCH_OFFLINE" in lines[0] and "\n" not in lines[0]
    assert len(lines[0]) - len(folder) <= 200, lines[0]
    assert lines[1] == "→ falling back to the bundled 8×8 digits"
    assert target == 0.95 and "bundled" in name


# -- make watch: fresh code, never a stale verdict ---------------------------------------------


def test_snapshot_changes_and_a_save_made_before_the_wait_is_not_missed(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"old")
    before = watch.snapshot([tmp_path])
    assert list(before) == [str(tmp_path / "a.py")]
    (tmp_path / "a.py").write_text("x = 22\n")  # saved while a run was going, before the wait began
    changed, state = watch.wait_for_state([tmp_path], poll=0.01, debounce=0.01, since=before)
    assert changed == [str(tmp_path / "a.py")] and state != before
    watch.purge_bytecode(changed)
    assert not (tmp_path / "__pycache__" / "a.cpython-311.pyc").exists()


TENSOR_SUM = "        _check_axis(axis, self.ndim)\n        return np.sum(self.data, axis=axis, keepdims=keepdims)\n"


def _sum_variant(repo, code):
    """tinytorch/tensor.py solved, with ``code`` as the start of Tensor.sum's body."""
    source = (repo / "solutions" / "tinytorch" / "tensor.py").read_text()
    assert source.count(TENSOR_SUM) == 1
    return source.replace(TENSOR_SUM, code + TENSOR_SUM)


class Watcher:
    """``python -m dojo watch 01`` in the mini repository, its output read line by line."""

    def __init__(self, repo, env):
        import queue
        import threading

        environment = {k: v for k, v in os.environ.items() if k not in ("IMPL", "UNLOCK", "PYTEST_ADDOPTS", "OUTPUT")}
        environment.update(PYTHONUNBUFFERED="1", **env)
        self.child = subprocess.Popen([sys.executable, "-m", "dojo", "watch", "01"], cwd=repo, env=environment, text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        self.lines = queue.Queue()
        self.seen = []
        threading.Thread(target=lambda: [self.lines.put(line) for line in self.child.stdout] + [self.lines.put(None)],
                         daemon=True).start()

    def until(self, pattern, timeout=120):
        """The lines up to and including the first that matches ``pattern``."""
        import queue

        got = []
        end = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.1, end - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line matching {pattern!r}; got:\n{''.join(self.seen)}") from None
            if line is None:
                raise AssertionError(f"the watcher ended before {pattern!r}; got:\n{''.join(self.seen)}")
            got.append(line)
            self.seen.append(line)
            if re.search(pattern, line):
                return "".join(got)

    def left_behind(self, wait=5.0) -> list:
        """The processes of the watcher's session still alive (after :meth:`stop`: none may be)."""
        deadline = time.monotonic() + wait
        while True:
            alive = []
            for entry in os.listdir("/proc"):
                try:
                    with open(f"/proc/{entry}/stat") as handle:
                        fields = handle.read().rsplit(")", 1)[1].split()
                except (OSError, IndexError):
                    continue
                if int(fields[3]) == self.child.pid and fields[0] != "Z":  # field 6, the session id
                    alive.append(int(entry))
            if not alive or time.monotonic() > deadline:
                return alive
            time.sleep(0.05)

    def stop(self) -> str:
        """Ctrl-C, then everything the watcher said after the last line read."""
        if self.child.poll() is None:
            os.killpg(self.child.pid, signal.SIGINT)
            try:
                self.child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.child.pid, signal.SIGKILL)
                self.child.wait()
        rest = []
        while True:
            line = self.lines.get(timeout=30)
            if line is None:
                return "".join(rest)
            rest.append(line)


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.skipif(not hasattr(os, "fork") or not hasattr(os, "killpg"), reason="the warm fork server is POSIX only")
@pytest.mark.parametrize("fork", ["1", "0"], ids=["warm-fork", "subprocess"])
def test_watch_runs_fresh_code_after_every_save_and_never_a_stale_version(tmp_path, fork):
    repo = minirepo.make(tmp_path)
    tensor = repo / "tinytorch" / "tensor.py"
    watcher = Watcher(repo, {"DOJO_FORK": fork})
    try:
        first = watcher.until(r"^watching ")
        assert re.search(r"^RED 0/6 · next: step 1 \(creation\)", first, re.M), first
        assert ("imported once" in first) == (fork == "1")

        # a save: the next verdict is for the new file
        tensor.write_text(_sum_variant(repo, ""))
        second = watcher.until(r"^watching ")
        assert re.search(r"^GREEN 6/6", second, re.M) and "changed: tensor.py" in second, second
        assert re.search(r"^\(run 2: your files as saved at \d\d:\d\d:\d\d \(tensor\.py changed\), ", second, re.M), second

        # two saves in the same second with the same size: Python's bytecode cache would run the older one
        wrong = _sum_variant(repo, "        return np.sum(self.data, axis=axis, keepdims=keepdims) + 1\n")
        right = _sum_variant(repo, "        return np.sum(self.data, axis=axis, keepdims=keepdims) + 0\n")
        assert len(wrong) == len(right)
        tensor.write_text(wrong)
        stamp = tensor.stat().st_mtime_ns
        third = watcher.until(r"^watching ")
        assert re.search(r"^RED 5/6 · next: step 5 \(reductions\)", third, re.M), third
        tensor.write_text(right)
        os.utime(tensor, ns=(stamp + 1000, stamp + 1000))  # same whole second, same size, new content
        fourth = watcher.until(r"^watching ")
        assert re.search(r"^GREEN 6/6", fourth, re.M), fourth

        # a save during a run: that run's verdict is called out and the new version runs at once
        marker = repo / "sum-started"
        tensor.write_text(_sum_variant(repo, f"        open({str(marker)!r}, 'w').close()\n        import time\n        time.sleep(3)\n"))
        for _ in range(600):
            if marker.exists():
                break
            time.sleep(0.05)
        assert marker.exists(), "".join(watcher.seen)
        tensor.write_text(_sum_variant(repo, "        return np.sum(self.data, axis=axis, keepdims=keepdims) * 2\n"))
        fifth = watcher.until(r"^watching ")
        assert "tensor.py changed during this run: the verdict above may be for the older version. Running again." in fifth, fifth
        assert re.search(r"^RED 5/6 · next: step 5 \(reductions\)", fifth.rsplit("Running again.", 1)[1], re.M), fifth

        # code that ends the process: one line, and watching goes on
        tensor.write_text(_sum_variant(repo, "        import os\n        os._exit(0)\n"))
        sixth = watcher.until(r"^watching ")
        assert "ended without the dojo's verdict" in sixth and "Traceback" not in sixth, sixth
    finally:
        rest = watcher.stop()
    assert "stopped watching" in rest and "Traceback" not in rest, rest
    assert watcher.left_behind() == [], "processes of make watch outlived it (the next run's child, forked ahead?)"


# -- one kata run, end to end ------------------------------------------------------------------

PRINTING_TEST = '''from dojo.testing import assert_close
from tinytorch.tensor import Tensor


def test_add():
    """a + b adds elementwise.

    Hint: np.add broadcasts;
    wrap its result in a Tensor.
    """
    for i in range(3):
        print("my debug line", i)
    assert_close(Tensor([1.0, 2.0]) + Tensor([3.0, 4.0]), [4.0, 6.0])
'''

THREADS_TEST = '''import os

from dojo.threads import blas_threads
from tinytorch.tensor import Tensor


def test_creation():
    """BLAS threads as the harness chose them."""
    assert Tensor([1.0]).data.tolist() == [1.0]
    assert blas_threads() == int(os.environ["EXPECTED_THREADS"]), blas_threads()
'''


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_failing_test_shows_its_own_hint_its_output_and_the_function_that_raised(tmp_path):
    repo = minirepo.make(tmp_path)
    (repo / "katas" / "01_tensor" / "test_02_arithmetic.py").write_text(PRINTING_TEST)
    source = _sum_variant(repo, "        return self.sum(axis=axis, keepdims=keepdims)\n")  # recursion without end
    (repo / "tinytorch" / "tensor.py").write_text(source.replace('return _broadcasting("+", np.add, self.data, other.data)',
                                                                 "return self.data - other.data"))
    result = minirepo.run(repo, "-m", "dojo", "kata", "01")
    out = result.stdout
    block = out[out.index("First failure"):]
    assert "step 2 (arithmetic) · test_add" in block
    assert "  a + b adds elementwise.\n" in block and "Hint:" not in block
    assert "  hint: np.add broadcasts; wrap its result in a Tensor.\n" in block
    assert "printed while the test ran (every test's output: make kata N=01 OUTPUT=1):\n    | my debug line 0" in block
    everything = minirepo.run(repo, "-m", "dojo", "kata", "01", env={"OUTPUT": "1"}).stdout
    assert "my debug line 2" in everything and "printed while the test ran" not in everything

    hint = minirepo.run(repo, "-m", "dojo", "hint", "01").stdout
    assert "the first failing test: test_add (katas/01_tensor/test_02_arithmetic.py:" in hint
    assert "hint 1/2 (for test_add): np.add broadcasts; wrap its result in a Tensor." in hint
    assert "hint 2/2" not in hint and "LEVEL=2" in hint
    assert "hint 2/2: hint two for arithmetic" in minirepo.run(repo, "-m", "dojo", "hint", "01", "2").stdout

    (repo / "tinytorch" / "tensor.py").write_text(source)  # only the recursion is left
    recursion = minirepo.run(repo, "-m", "dojo", "kata", "01").stdout
    line = 1 + source.splitlines().index("        return self.sum(axis=axis, keepdims=keepdims)")
    assert "RecursionError" in recursion and f"raised in Tensor.sum in tinytorch/tensor.py:{line} (" in recursion, recursion
    assert "recorded_op" not in recursion and "<locals>" not in recursion


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_make_kata_pins_blas_threads_unless_told_otherwise(tmp_path):
    repo = minirepo.make(tmp_path)
    minirepo.solve(repo, "tensor.py")
    (repo / "katas" / "01_tensor" / "test_01_creation.py").write_text(THREADS_TEST)
    one = minirepo.run(repo, "-m", "dojo", "kata", "01", env={"EXPECTED_THREADS": "1"})
    assert re.search(r"^GREEN 6/6", one.stdout, re.M), one.stdout
    two = minirepo.run(repo, "-m", "dojo", "kata", "01", env={"EXPECTED_THREADS": "2", "TINYTORCH_THREADS": "2"})
    assert re.search(r"^GREEN 6/6", two.stdout, re.M), two.stdout


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_fixing_a_red_prerequisite_opens_the_next_kata_without_a_stale_count(tmp_path):
    repo = minirepo.make(tmp_path)
    minirepo.solve(repo, "activations.py")
    (repo / "tinytorch" / "tensor.py").write_text(_sum_variant(repo, "        return np.sum(self.data, axis=axis) + 1\n"))
    assert re.search(r"^RED 5/6", minirepo.run(repo, "-m", "dojo", "kata", "01").stdout, re.M)
    locked = minirepo.run(repo, "-m", "dojo", "kata", "02").stdout
    assert "locked: finish kata 01 Tensor first (5/6 tests passing)" in locked  # nothing changed: no re-check
    minirepo.solve(repo, "tensor.py")  # the student fixes kata 01's file, then goes straight on
    opened = minirepo.run(repo, "-m", "dojo", "kata", "02")
    assert opened.returncode == 0, opened.stdout
    assert re.search(r"^GREEN 5/5 · kata 02", opened.stdout, re.M)
    assert "(re-checked kata 01 Tensor: its files changed since it was recorded; now green 6/6)" in opened.stdout
    progress = (repo / "progress.toml").read_text()
    assert progress.count('status = "green"') == 2


# -- work done once, not per test or per example (the figures: python -m dojo.maintainers.benchloop) ---------


def test_property_strategies_are_built_once_per_arguments_and_reused():
    """A composite that draws ``arrays(shape)`` for every example gets the same strategy object for
    the same arguments (hypothesis validates each new one: a third of kata 01's property-test time),
    and it is the strategy it always was."""
    import numpy as np
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp

    from dojo import testing

    assert testing.arrays((2, 3)) is testing.arrays([2, 3]) is testing.arrays((np.int64(2), 3))
    assert testing.arrays(testing.small_shapes()) is testing.arrays(testing.small_shapes())
    assert testing.floats(-1, 1) is testing.floats(-1.0, 1.0) and testing.floats(-1, 1) is not testing.floats()
    assert testing.nonzero_floats() is testing.nonzero_floats() and testing.small_shapes(1) is not testing.small_shapes()
    assert testing.broadcastable_pairs() is testing.broadcastable_pairs()
    assert testing.arrays((2,), elements=testing.floats(0, 1)) is not testing.arrays((2,))
    fresh = hnp.arrays(np.float64, (2, 3), elements=st.floats(-3.0, 3.0, allow_nan=False, allow_infinity=False, width=64))
    assert repr(testing.arrays((2, 3))) == repr(fresh)
    listed = testing.arrays((2,), elements=st.sampled_from([[0.0], [1.0]]).map(lambda v: v[0]))  # any strategy works
    assert listed is not testing.arrays((2,))


def test_arrays_of_drawn_shapes_draw_what_hypothesis_own_arrays_draw():
    """``arrays(small_shapes())`` reuses one array strategy per shape instead of hypothesis's new one
    per example: the same arrays, draw for draw (derandomized, 40 examples, two element ranges)."""
    import numpy as np
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp

    from dojo import testing

    def drawn(strategy):
        found = []

        @settings(max_examples=40, database=None, derandomize=True, deadline=None)
        @given(strategy)
        def record(x):
            found.append((x.shape, x.tobytes()))

        record()
        return found

    shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
    for low, high in ((-3.0, 3.0), (-50.0, 50.0)):
        ours = drawn(testing.arrays(testing.small_shapes(), elements=testing.floats(low, high)))
        theirs = drawn(hnp.arrays(np.float64, shapes, elements=st.floats(low, high, allow_nan=False, allow_infinity=False, width=64)))
        assert ours == theirs and len({shape for shape, _ in ours}) > 5
    assert testing.arrays(testing.small_shapes()) is testing.arrays(testing.small_shapes())


def test_the_backstop_watchdog_is_not_woken_for_every_test():
    """pytest-timeout's backstop is armed and cancelled for every kata test; its watchdog thread is
    woken only when a deadline comes before its own next wake-up (each wake-up costs the running
    test a hand-over of the interpreter lock), and an armed deadline still fires."""
    from dojo.student import plugin

    backstop = plugin.Backstop()
    notified, fired = [], []
    notify = backstop._condition.notify
    backstop._condition.notify = lambda *a: (notified.append(1), notify(*a))
    backstop.arm(30, lambda: fired.append("cancelled"))()
    for _ in range(1000):  # until the watchdog sleeps
        if getattr(backstop, "_wakes_at", 0.0) != float("inf"):
            break
        time.sleep(0.01)
    before = len(notified)
    for _ in range(200):
        backstop.arm(30, lambda: fired.append("cancelled"))()
    assert len(notified) == before
    backstop.arm(0.05, lambda: fired.append("fired"))  # sooner than the watchdog's next wake-up
    for _ in range(1000):
        if fired:
            break
        time.sleep(0.01)
    assert fired == ["fired"] and len(notified) == before + 1


def test_make_kata_names_its_plugins_and_turns_autoloading_off(monkeypatch):
    """``make kata`` and ``make watch`` load pytest-timeout and hypothesis's plugin by name and skip
    pytest's scan of every installed distribution; extra pytest arguments or PYTEST_ADDOPTS keep it."""
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    plain = runner.pytest_args("katas/01_tensor")
    assert runner.autoload_off(plain) and runner.autoload_off(runner._with_verdict(plain, "v.json"))
    assert not runner.autoload_off(runner.pytest_args("katas/01_tensor", ["--lf"]))
    monkeypatch.setenv("PYTEST_ADDOPTS", "-x")
    assert not runner.autoload_off(plain)


# -- where a run's time goes (the figures: python -m dojo.maintainers.loopfloor) ----------------

_COUNTED = '''import pytest
from hypothesis import Phase, example, given, settings, strategies as st


def test_plain():
    pass


def test_fails():
    assert False, "a body that runs"


@pytest.mark.parametrize("n", [1, 2])
def test_twice(n):
    pass


@settings(max_examples=7, database=None, deadline=None, phases=[Phase.explicit, Phase.generate])
@given(st.integers())
@example(-1)
def test_property(x):
    assert x != -1, "a property body that runs"
'''


@pytest.mark.skipif(not hasattr(os, "fork"), reason="loopfloor forks its runs")
def test_loopfloor_counts_tests_and_examples_and_hollow_runs_skip_every_body(tmp_path):
    """The counts the floor is built on are the run's own (5 tests, the parametrized one twice; 7
    drawn examples and 1 explicit), and a hollow run runs no test's body: nothing fails, where the
    real run fails twice (and its property stops early, at its failing explicit example)."""
    from dojo.maintainers import loopfloor

    (tmp_path / "test_counted.py").write_text(_COUNTED, encoding="utf-8")
    args = ["test_counted.py", "-q", "-p", "no:cacheprovider",
            f"--junitxml={tmp_path / 'hollow.xml'}"]
    tests, examples, seconds = loopfloor.count(args, cwd=tmp_path, env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}, hollow=True)
    assert (tests, examples) == (5, 8) and seconds > 0
    assert 'failures="0"' in (tmp_path / "hollow.xml").read_text(encoding="utf-8")
    args[-1] = f"--junitxml={tmp_path / 'real.xml'}"
    tests, examples, _ = loopfloor.count(args, cwd=tmp_path, env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert tests == 5 and 1 <= examples < 8  # the explicit -1 fails; shrinking may replay it
    assert 'failures="2"' in (tmp_path / "real.xml").read_text(encoding="utf-8")


def test_loopfloor_floor_is_the_fixed_cost_plus_the_shared_work():
    from dojo.maintainers import loopfloor

    costs = {"fixed": 0.05, "per_test": 0.001, "per_example": 0.002}
    assert loopfloor.floor(100, 50, costs) == pytest.approx(0.05 + 0.1 + 0.1)
    assert loopfloor.floor(100, 50, costs, cores=2) == pytest.approx(0.05 + 0.1)
