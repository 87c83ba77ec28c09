"""Runs that end abnormally (issue 9, section 3): every run ends with the harness's verdict or is
a failure said in one line, and nothing but a complete run is recorded as a kata's state.

Each test builds a throwaway mini repository (tests/minirepo.py) where kata 01 is solved and
green, then breaks one thing.
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


@pytest.fixture
def repo(tmp_path):
    """Kata 01 solved and recorded green."""
    root = minirepo.make(tmp_path)
    minirepo.solve(root, "tensor.py")
    first = kata(root)
    assert first.returncode == 0, first.stdout + first.stderr
    assert 'status = "green"' in (root / "progress.toml").read_text()
    return root


def kata(repo, *extra, env=None):
    return minirepo.run(repo, "-m", "dojo", "kata", "01", *extra, env=env, timeout=120)


def break_sum(repo, code):
    tensor = repo / "tinytorch" / "tensor.py"
    source = tensor.read_text()
    assert source.count(SUM_BODY) == 1
    tensor.write_text(source.replace(SUM_BODY, code + SUM_BODY))


def test_os_exit_in_a_students_function_is_a_failure_in_one_line(repo):
    before = (repo / "progress.toml").read_text()
    break_sum(repo, "        import os\n        os._exit(0)\n")
    result = kata(repo)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if "ended without the dojo's verdict" in line]
    assert len(lines) == 1 and "os._exit" in lines[0] and "Nothing was recorded" in lines[0], result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert (repo / "progress.toml").read_text() == before


def test_keyboard_interrupt_raised_by_the_students_code_is_named(repo):
    break_sum(repo, "        raise KeyboardInterrupt\n")
    result = kata(repo)
    assert result.returncode == 1
    assert re.search(r"KeyboardInterrupt raised by your code in Tensor\.sum in tinytorch/tensor\.py:\d+ \(nobody pressed Ctrl-C\)", result.stdout), result.stdout
    assert "!!! KeyboardInterrupt" not in result.stdout  # not pytest's interrupted-session banner
    assert re.search(r"^RED 5/6 · next: step 5 \(reductions\)", result.stdout, re.M)


def test_a_deleted_test_file_is_named_and_the_partial_run_not_recorded(repo):
    before = (repo / "progress.toml").read_text()
    (repo / "katas" / "01_tensor" / "test_05_reductions.py").unlink()
    result = kata(repo)
    assert result.returncode == 1, result.stdout
    assert "PASS" not in result.stdout and "GREEN" not in result.stdout
    assert "katas/01_tensor/test_05_reductions.py" in result.stdout
    assert re.search(r"^RED 5/5 · 1 test file\(s\) missing", result.stdout, re.M), result.stdout
    assert (repo / "progress.toml").read_text() == before


@pytest.mark.skipif(os.name == "nt", reason="POSIX signals and process groups")
@pytest.mark.parametrize("target", ["terminal", "dojo"])
def test_ctrl_c_records_nothing(repo, target):
    """Ctrl-C on correct code mid-run: green stays green. ``terminal`` sends SIGINT to the whole
    process group (what a terminal does); ``dojo`` only to `python -m dojo kata`, which passes it on."""
    before = (repo / "progress.toml").read_text()
    marker = repo / "sum-started"
    break_sum(repo, f"        open({str(marker)!r}, 'w').close()\n        import time\n        time.sleep(20)\n")
    environment = {k: v for k, v in os.environ.items() if k not in ("IMPL", "UNLOCK", "PYTEST_ADDOPTS")}
    child = subprocess.Popen([sys.executable, "-m", "dojo", "kata", "01"], cwd=repo, env=environment, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
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
    assert child.returncode != 0
    assert "INTERRUPTED after 4/6 tests · nothing recorded" in out, out + err
    assert "Traceback" not in out + err
    assert (repo / "progress.toml").read_text() == before


def test_reset_into_a_closed_pipe_prints_no_traceback_and_still_resets(repo):
    """`make reset N=01 | head -1`: the reader goes away; the reset still happens, quietly."""
    environment = {k: v for k, v in os.environ.items() if k not in ("IMPL", "UNLOCK", "PYTEST_ADDOPTS")}
    child = subprocess.Popen([sys.executable, "-m", "dojo", "reset", "01"], cwd=repo, env=environment,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    child.stdout.close()  # before anything is written: every write meets a broken pipe
    err = child.stderr.read().decode()
    child.wait(timeout=60)
    assert "BrokenPipeError" not in err and "Traceback" not in err, err
    assert "NotImplementedError" in (repo / "tinytorch" / "tensor.py").read_text()
    assert "[katas.01]" not in (repo / "progress.toml").read_text()
    if os.name != "nt":  # the shell pipeline itself
        piped = subprocess.run(f'"{sys.executable}" -m dojo reset 01 | head -1', shell=True, cwd=repo, env=environment,
                               capture_output=True, text=True, timeout=60)
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
