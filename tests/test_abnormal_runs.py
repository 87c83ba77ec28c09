"""Runs that end abnormally (issue 9, section 3): every run ends with the harness's verdict or is
a failure said in one line, and nothing but a complete run is recorded as a kata's state.

Each test works in a throwaway mini repository (tests/minirepo.py: a copy of one where kata 01
is solved and recorded green), breaks one thing and runs the dojo. The runs that execute the
student's code run both ways `make kata` can: ``cold`` (a fresh interpreter) and ``warm`` (through
the warm server, dojo/student/warm.py), with the same verdicts.
"""

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from tests import minirepo

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

SUM_BODY = "        _check_axis(axis, self.ndim)\n        return np.sum(self.data, axis=axis, keepdims=keepdims)\n"


def _solved_and_green(tmp):
    root = minirepo.make(tmp)
    minirepo.solve(root, "tensor.py")
    first = kata(root)
    assert first.returncode == 0, first.stdout + first.stderr
    assert 'status = "green"' in (root / "progress.toml").read_text()
    return root


def green_repo(tmp):
    """Kata 01 solved and recorded green (a private copy of one such repository, built once)."""
    return minirepo.copy_of(minirepo.template("kata-01-green", _solved_and_green), tmp)


def kata(repo, *extra, env=None):
    return minirepo.run(repo, "-m", "dojo", "kata", "01", *extra, env=env, timeout=120)


# "sharded": warm, and the kata's test files split between the run and a forked worker
# (dojo/student/shards.py), forced on for these six one-test files.
MODES = ["cold", "warm", "sharded"] if minirepo.warm_possible() else ["cold"]


def break_sum(repo, code):
    tensor = repo / "tinytorch" / "tensor.py"
    source = tensor.read_text()
    assert source.count(SUM_BODY) == 1
    tensor.write_text(source.replace(SUM_BODY, code + SUM_BODY))


def _mode_env(mode, repo):
    """What `kata` adds to the environment for ``mode``."""
    env = minirepo.warm_environment(repo) if mode in ("warm", "sharded") else {}
    return {**env, "DOJO_SHARDS": "2"} if mode == "sharded" else env


def student_environment(mode="cold", repo=None):
    return minirepo.student_environment(_mode_env(mode, repo))


# Each test's runs (seconds of subprocesses) are a scenario: they start together when the module
# does, two at a time. A scenario returns the progress file before and after, and the run.
scenarios = minirepo.Scenarios(workers=2)
scenario_runs = scenarios.runner()


def _progress(repo):
    return (repo / "progress.toml").read_text()


@scenarios.add
def os_exit(tmp, mode):
    repo = green_repo(tmp)
    before = _progress(repo)
    break_sum(repo, "        import os\n        os._exit(0)\n")
    with minirepo.warm_servers(repo, mode):
        return before, kata(repo, env=_mode_env(mode, repo)), _progress(repo)


@scenarios.add
def keyboard_interrupt(tmp, mode):
    repo = green_repo(tmp)
    break_sum(repo, "        raise KeyboardInterrupt\n")
    with minirepo.warm_servers(repo, mode):
        return kata(repo, env=_mode_env(mode, repo))


@scenarios.add
def deleted_test_file(tmp):
    repo = green_repo(tmp)
    before = _progress(repo)
    (repo / "katas" / "01_tensor" / "test_05_reductions.py").unlink()
    return before, kata(repo), _progress(repo)


@scenarios.add
def ctrl_c(tmp, target, mode):
    """Ctrl-C while the run is inside Tensor.sum (which sleeps 20 s): ``terminal`` sends SIGINT to
    the whole process group, ``dojo`` only to `python -m dojo kata`. (before, out, err, exit, after)
    Warm, the run is a child of the warm server, outside the terminal's process group: only what
    `python -m dojo kata` passes on reaches it."""
    if os.name == "nt":  # the test is skipped there
        return None
    repo = green_repo(tmp)
    before = _progress(repo)
    marker = repo / "sum-started"
    break_sum(repo, f"        open({str(marker)!r}, 'w').close()\n        import time\n        time.sleep(20)\n")
    with minirepo.warm_servers(repo, mode):
        return _interrupt(repo, marker, target, mode, before)


def _interrupt(repo, marker, target, mode, before):
    child = subprocess.Popen([sys.executable, "-m", "dojo", "kata", "01"], cwd=repo, env=student_environment(mode, repo),
                             text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        for _ in range(600):  # until the run is inside Tensor.sum (bounded: 30 s)
            if marker.exists() or child.poll() is not None:
                break
            time.sleep(0.05)
        assert marker.exists(), "the run never reached Tensor.sum"
        if target == "terminal":
            os.killpg(child.pid, signal.SIGINT)
        else:
            child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
    return before, out, err, child.returncode, _progress(repo)


@scenarios.add
def reset_into_closed_pipe(tmp):
    """`make reset N=01 | head -1`, from Python (the reader closes first) and from the shell."""
    repo = green_repo(tmp)
    child = subprocess.Popen([sys.executable, "-m", "dojo", "reset", "01"], cwd=repo, env=student_environment(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    child.stdout.close()  # before anything is written: every write meets a broken pipe
    err = child.stderr.read().decode()
    child.wait(timeout=60)
    tensor, progress = (repo / "tinytorch" / "tensor.py").read_text(), _progress(repo)
    piped = None
    if os.name != "nt":  # the shell pipeline itself
        piped = subprocess.run(f'"{sys.executable}" -m dojo reset 01 | head -1', shell=True, cwd=repo, env=student_environment(),
                               capture_output=True, text=True, timeout=60)
    return err, tensor, progress, piped


@pytest.mark.parametrize("mode", MODES)
def test_os_exit_in_a_students_function_is_a_failure_in_one_line(os_exit, mode):
    before, result, after = os_exit
    assert ("starting the warm server" in result.stderr) == (mode != "cold"), result.stderr
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if "ended without the dojo's verdict" in line]
    assert len(lines) == 1 and "os._exit" in lines[0] and "Nothing was recorded" in lines[0], result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert after == before


@pytest.mark.parametrize("mode", MODES)
def test_keyboard_interrupt_raised_by_the_students_code_is_named(keyboard_interrupt, mode):
    result = keyboard_interrupt
    assert result.returncode == 1
    assert re.search(r"KeyboardInterrupt raised by your code in Tensor\.sum in tinytorch/tensor\.py:\d+ \(nobody pressed Ctrl-C\)", result.stdout), result.stdout
    assert "!!! KeyboardInterrupt" not in result.stdout  # not pytest's interrupted-session banner
    assert re.search(r"^RED 5/6 · next: step 5 \(reductions\)", result.stdout, re.M)


def test_a_deleted_test_file_is_named_and_the_partial_run_not_recorded(deleted_test_file):
    before, result, after = deleted_test_file
    assert result.returncode == 1, result.stdout
    assert "PASS" not in result.stdout and "GREEN" not in result.stdout
    assert "katas/01_tensor/test_05_reductions.py" in result.stdout
    assert re.search(r"^RED 5/5 · 1 test file\(s\) missing", result.stdout, re.M), result.stdout
    assert after == before


@pytest.mark.skipif(os.name == "nt", reason="POSIX signals and process groups")
@pytest.mark.parametrize("target", ["terminal", "dojo"])
@pytest.mark.parametrize("mode", MODES)
def test_ctrl_c_records_nothing(ctrl_c, target, mode):
    """Ctrl-C on correct code mid-run: green stays green. ``terminal`` sends SIGINT to the whole
    process group (what a terminal does); ``dojo`` only to `python -m dojo kata`, which passes it on."""
    before, out, err, returncode, after = ctrl_c
    assert returncode != 0
    # sharded, the worker's files are not counted: it is stopped with the run (test_05 runs third here)
    done = "2/6" if mode == "sharded" else "4/6"
    assert f"INTERRUPTED after {done} tests · nothing recorded" in out, out + err
    assert "Traceback" not in out + err
    assert after == before


def test_reset_into_a_closed_pipe_prints_no_traceback_and_still_resets(reset_into_closed_pipe):
    """`make reset N=01 | head -1`: the reader goes away; the reset still happens, quietly."""
    err, tensor, progress, piped = reset_into_closed_pipe
    assert "BrokenPipeError" not in err and "Traceback" not in err, err
    assert "NotImplementedError" in tensor
    assert "[katas.01]" not in progress
    if piped is not None:
        assert piped.stderr == "" and len(piped.stdout.splitlines()) == 1


def test_the_documented_exit_codes_of_fork_ci_are_the_ones_you_get(tmp_path):
    """make turns any failing recipe into its own exit status 2, so the 0/1/2 of fork CI are
    promised for `python -m dojo ci`, and the docs say what `make ci` gives."""
    from dojo import ROOT

    for path in (ROOT / "docs" / "facilitators.md", ROOT / "Makefile"):
        text = " ".join(path.read_text(encoding="utf-8").split())
        for match in re.finditer(r"[Ee]xit status[^.]*?0[^.]*?1 [^.]*?2", text):
            around = text[max(0, match.start() - 200): match.end() + 300]
            assert "python -m dojo ci" in around and "2 for any" in around, f"{path.name}: {around}"
    make = subprocess.run(["make", "--version"], capture_output=True, text=True) if os.name != "nt" else None
    if make is not None and make.returncode == 0:  # and make really does that
        makefile = tmp_path / "exit-code.mk"
        makefile.write_text("fail:\n\t@exit 1\n", encoding="utf-8")
        assert subprocess.run(["make", "-s", "-f", str(makefile), "fail"], capture_output=True).returncode == 2
