"""Timeouts that always fire (issue 9, section 2), end to end in a throwaway mini repository.

pytest-timeout fires once, as ``pytest.fail``; hypothesis catches that like any failing example
and goes on generating and shrinking, so an infinite loop under ``@given`` ran forever. The dojo's
own timer raises a BaseException hypothesis lets through, again and again until the test
returns, and names the student's function. Each run here uses TIMEOUT=1 and a subprocess timeout
that a hang would hit, so a regression fails instead of hanging; no wall time is asserted.
"""

import re

import pytest

from tests import minirepo

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

PROPERTY_TEST = '''from hypothesis import given, strategies as st
from tinytorch.tensor import Tensor


@given(st.lists(st.floats(-10, 10, allow_nan=False, width=32), min_size=1, max_size=6))
def test_sum_of_a_vector(values):
    """sum() of a 1-D tensor is the sum of its values (no @example: the generate phase is the point)."""
    assert abs(float(Tensor(values).sum().data) - sum(values)) < 1e-3


def test_sum_of_a_matrix():
    """sum(axis=0) of a 2x2 tensor."""
    assert Tensor([[1.0, 2.0], [3.0, 4.0]]).sum(axis=0).data.tolist() == [4.0, 6.0]
'''

SUM_BODY = "        _check_axis(axis, self.ndim)\n        return np.sum(self.data, axis=axis, keepdims=keepdims)\n"


def repo_with_sum(tmp, code):
    """Kata 01 solved, its reductions test replaced by PROPERTY_TEST, and ``code`` (lines indented
    for a method body) put at the start of Tensor.sum."""
    root = minirepo.make(tmp)
    minirepo.solve(root, "tensor.py")
    (root / "katas" / "01_tensor" / "test_05_reductions.py").write_text(PROPERTY_TEST)
    tensor = root / "tinytorch" / "tensor.py"
    source = tensor.read_text()
    assert source.count(SUM_BODY) == 1
    tensor.write_text(source.replace(SUM_BODY, code + SUM_BODY))
    return root


def kata(repo, **env):
    # a hang would hit the subprocess timeout (the test then fails instead of waiting forever)
    return minirepo.run(repo, "-m", "dojo", "kata", "01", env={"TIMEOUT": "1", **env}, timeout=120)


def assert_cut_and_named(result, seconds="1"):
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert re.search(
        rf"stopped after {seconds} s: this is probably an infinite loop in Tensor\.sum in tinytorch/tensor\.py:\d+", out
    ), out
    assert "_WrappedBaseException" not in out + result.stderr
    assert re.search(r"^RED \d+/\d+ · next: step 5 \(reductions\)", out, re.M), out
    assert "not run (the run stopped early)" in out  # the session stopped at the first timeout


# Each test's run (seconds of a subprocess, mostly the timer's wait) is a scenario: they start
# together when the module does, two at a time.
scenarios = minirepo.Scenarios(workers=2)
scenario_runs = scenarios.runner()


@scenarios.add
def endless_loop(tmp):
    repo = repo_with_sum(tmp, "        while True:\n            pass\n")
    return repo, kata(repo)


@scenarios.add
def slow_sum(tmp):
    return kata(repo_with_sum(tmp, "        import time\n        time.sleep(0.4)\n"))


@scenarios.add
def swallowed_once(tmp):
    return kata(repo_with_sum(tmp, "        try:\n            while True:\n                pass\n        except BaseException:\n            pass\n"
                                   "        while True:\n            pass\n"))


@scenarios.add
def endless_loop_soft_timer(tmp):
    return kata(repo_with_sum(tmp, "        while True:\n            pass\n"), DOJO_SOFT_TIMEOUT="1")


@scenarios.add
def uninterruptible(tmp):
    repo = repo_with_sum(tmp, "        while True:\n            try:\n                while True:\n                    pass\n"
                              "            except BaseException:\n                pass\n")
    return repo, kata(repo)


def test_infinite_loop_under_hypothesis_given_is_cut_and_named(endless_loop):
    repo, result = endless_loop
    assert_cut_and_named(result)
    assert not (repo / "progress.toml").exists()  # a run stopped by a timeout records nothing


def test_slow_but_correct_function_is_cut_at_the_limit_and_named(slow_sum):
    """0.4 s per call, many calls: the test passes its limit mid-way and is stopped there."""
    assert_cut_and_named(slow_sum)


def test_the_timer_fires_again_when_the_code_swallows_it(swallowed_once):
    """`except BaseException: pass` around a first endless loop, then a second one: a timer that
    fires once is swallowed and the test hangs; the dojo's fires again and gets out."""
    assert_cut_and_named(swallowed_once)


def test_soft_timeouts_without_sigalrm_also_end_hypothesis_tests(endless_loop_soft_timer):
    """Windows has no SIGALRM: the timer thread interrupts the main thread, again and again."""
    assert_cut_and_named(endless_loop_soft_timer)


def test_code_that_cannot_be_interrupted_is_ended_by_the_backstop_with_one_line(uninterruptible):
    """A loop that swallows every interrupt forever: pytest-timeout's hard backstop ends the
    process a few seconds after the limit, and `dojo kata` says so in one line."""
    repo, result = uninterruptible
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("stopped: ")]
    assert len(lines) == 1 and "Tensor.sum in tinytorch/tensor.py:" in lines[0] and "could not be interrupted" in lines[0]
    assert not (repo / "progress.toml").exists()
