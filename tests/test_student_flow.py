"""End to end, as a student meets it: amber stubs, RED/GREEN lines, gating, progress, unlocks,
syntax errors, infinite loops, hints, reset. Each test builds a throwaway mini repository."""

import re

import pytest

from tests import minirepo

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]  # whole pytest sessions in subprocesses


@pytest.fixture
def repo(tmp_path):
    return minirepo.make(tmp_path)


def kata(repo, n, *extra, env=None):
    return minirepo.run(repo, "-m", "dojo", "kata", n, *extra, env=env)


def test_fresh_stub_is_red_with_amber_steps(repo):
    result = kata(repo, "01")
    assert result.returncode == 1
    out = result.stdout
    assert "⏳ not implemented yet: Tensor.__init__ in tinytorch/tensor.py:" in out
    assert re.search(r"^RED 0/6 · next: step 1 \(creation\) · stuck\? make hint N=01$", out, re.M)
    assert "Traceback" not in out and "def test_" not in out  # no wall of tracebacks
    assert 'status = "red"' in (repo / "progress.toml").read_text()


def test_solution_turns_green_records_progress_and_announces_milestones(repo):
    minirepo.solve(repo, "tensor.py")
    first = kata(repo, "01")
    assert first.returncode == 0, first.stdout
    assert re.search(r"^GREEN 6/6 · kata 01 Tensor complete", first.stdout, re.M)
    progress = (repo / "progress.toml").read_text()
    assert 'status = "green"' in progress and "first_green" in progress
    minirepo.solve(repo, "activations.py")
    second = kata(repo, "02")
    assert second.returncode == 0, second.stdout
    assert "🏆 Milestone 01 unlocked: Perceptron (1957) · make milestone M=01" in second.stdout
    again = kata(repo, "02")
    assert "Milestone 01 unlocked" not in again.stdout  # announced once, on the first green


def test_locked_kata_runs_nothing_and_names_the_prerequisite(repo):
    result = kata(repo, "02")
    assert result.returncode == 1
    assert "kata 02 Activations is locked: finish kata 01 Tensor first" in result.stdout
    assert "make kata N=01" in result.stdout
    unlocked = kata(repo, "02", env={"UNLOCK": "1"})
    assert "locked" not in unlocked.stdout
    assert "Kata 02 · Activations" in unlocked.stdout and "not implemented yet" in unlocked.stdout


def test_breaking_a_green_prerequisite_relocks_later_katas(repo):
    minirepo.solve(repo, "tensor.py", "activations.py")
    assert kata(repo, "01").returncode == 0
    assert kata(repo, "02").returncode == 0
    tensor = repo / "tinytorch" / "tensor.py"
    tensor.write_text(tensor.read_text().replace("return _broadcasting(\"+\", np.add, self.data, other.data)", "return self.data - other.data"))
    result = kata(repo, "02")
    assert result.returncode == 1
    assert "locked: finish kata 01 Tensor first (it was green, but changes since broke it: 5/6 tests passing)" in result.stdout
    assert "re-checked kata 01" in result.stdout


def test_syntax_error_is_one_short_message(repo):
    tensor = repo / "tinytorch" / "tensor.py"
    lines = tensor.read_text().splitlines()
    lines.insert(40, "def broken(:")
    tensor.write_text("\n".join(lines) + "\n")
    result = kata(repo, "01")
    assert result.returncode == 1
    assert "SyntaxError in tinytorch/tensor.py:41:" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert "ERROR collecting" not in result.stdout


def test_import_error_names_the_file_and_line(repo):
    tensor = repo / "tinytorch" / "tensor.py"
    tensor.write_text(tensor.read_text().replace("import numpy as np\n", "import numpy as np\nimport cupy_does_not_exist  # not available here\n", 1))
    result = kata(repo, "01")
    assert result.returncode == 1
    line = 1 + tensor.read_text().splitlines().index("import cupy_does_not_exist  # not available here")
    assert f"ModuleNotFoundError in tinytorch/tensor.py:{line}" in result.stdout
    assert "No module named 'cupy_does_not_exist'" in result.stdout


def test_infinite_loop_is_cut_by_the_timeout_with_a_clear_message(repo):
    tensor = repo / "tinytorch" / "tensor.py"
    source = tensor.read_text()
    stub = re.search(r'\n(\s+)raise NotImplementedError\("not implemented yet: Tensor.__init__[^\n]*', source)
    tensor.write_text(source.replace(stub.group(0), f"\n{stub.group(1)}while True:\n{stub.group(1)}    pass", 1))
    result = kata(repo, "01", env={"TIMEOUT": "1"})
    assert result.returncode == 1
    assert "stopped after 1 s: this is probably an infinite loop in Tensor.__init__ in tinytorch/tensor.py:" in result.stdout
    assert "1 failed" in result.stdout  # stopped at the first timeout instead of waiting for every test
    assert not (repo / "progress.toml").exists()  # an interrupted run records nothing


def test_without_sigalrm_a_soft_timeout_still_gives_the_summary(repo):
    """Windows has no alarm signal: the dojo interrupts the loop itself and the student still gets the
    summary (pytest-timeout's thread method alone would end the process)."""
    tensor = repo / "tinytorch" / "tensor.py"
    source = tensor.read_text()
    stub = re.search(r'\n(\s+)raise NotImplementedError\("not implemented yet: Tensor.__init__[^\n]*', source)
    tensor.write_text(source.replace(stub.group(0), f"\n{stub.group(1)}while True:\n{stub.group(1)}    pass", 1))
    result = kata(repo, "01", env={"TIMEOUT": "2", "DOJO_SOFT_TIMEOUT": "1"})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "stopped after 2 s: this is probably an infinite loop in Tensor.__init__ in tinytorch/tensor.py:" in result.stdout
    assert re.search(r"^RED 0/6 · next: step 1 \(creation\)", result.stdout, re.M)
    assert "not run (the run stopped early)" in result.stdout


def test_hint_levels_follow_the_first_failing_step(repo):
    minirepo.solve(repo, "tensor.py")
    tensor = repo / "tinytorch" / "tensor.py"
    tensor.write_text(tensor.read_text().replace('return _broadcasting("+", np.add, self.data, other.data)', "return self.data - other.data"))
    one = minirepo.run(repo, "-m", "dojo", "hint", "1")
    assert "step 2 (arithmetic)" in one.stdout and "hint 1/2: hint one for arithmetic" in one.stdout
    assert "hint two" not in one.stdout and "LEVEL=2" in one.stdout
    two = minirepo.run(repo, "-m", "dojo", "hint", "tensor", "2")
    assert "hint 2/2: hint two for arithmetic" in two.stdout


def test_reset_restores_the_stub_and_keeps_a_backup(repo):
    minirepo.solve(repo, "tensor.py")
    kata(repo, "01")
    edited = (repo / "tinytorch" / "tensor.py").read_text()
    result = minirepo.run(repo, "-m", "dojo", "reset", "01")
    assert result.returncode == 0, result.stderr
    saved = re.search(r"your version is saved in (\S+)", result.stdout).group(1)
    assert (repo / saved).read_text() == edited
    assert (repo / "tinytorch" / "tensor.py").read_text() == (repo / "tinytorch" / "tensor.py").read_text()
    assert "NotImplementedError" in (repo / "tinytorch" / "tensor.py").read_text()
    assert "[katas.01]" not in (repo / "progress.toml").read_text()


@pytest.mark.parametrize("bad", ["99", "xyz", "0"])
def test_unknown_kata_lists_the_valid_ones(repo, bad):
    result = kata(repo, bad)
    assert result.returncode == 2
    assert "Valid katas: 01 (tensor), 02 (activations)" in result.stderr


@pytest.mark.parametrize("spelling", ["1", "01", "tensor", "01_tensor"])
def test_kata_spellings(repo, spelling):
    assert "Kata 01 · Tensor" in kata(repo, spelling).stdout


def test_ascii_fallback_for_consoles_without_emoji(repo):
    result = kata(repo, "01", env={"PYTHONIOENCODING": "ascii"})
    assert "[..] not implemented yet" in result.stdout
    assert "RED 0/6 - next: step 1 (creation)" in result.stdout


@pytest.mark.parametrize("content", [b"\xff\xfe\x00binary\x80", b'format_version = 1\n[katas]\n"01" = "green"\n'], ids=["binary", "wrong-shape"])
def test_unusable_progress_file_gets_one_line_a_backup_and_a_fresh_record(repo, content):
    """Not UTF-8, or TOML of the wrong shape: like any corrupt file, for make kata and make progress."""
    for command in (["progress"], ["kata", "01"]):
        (repo / "progress.toml").write_bytes(content)
        for old in repo.glob("progress.toml.corrupt-*"):
            old.unlink()
        result = minirepo.run(repo, "-m", "dojo", *command)
        output = result.stdout + result.stderr
        assert "Traceback" not in output, output
        warnings = [line for line in output.splitlines() if line.startswith("warning:")]
        assert len(warnings) == 1 and "Saved it as progress.toml.corrupt-" in warnings[0], output
        backups = list(repo.glob("progress.toml.corrupt-*"))
        assert len(backups) == 1 and backups[0].read_bytes() == content
        assert "format_version = 1" in (repo / "progress.toml").read_text(encoding="utf-8")


def test_corrupt_progress_file_is_backed_up_not_lost(repo):
    (repo / "progress.toml").write_text("format_version = 1\n[katas.01\nstatus = ")
    result = kata(repo, "01")
    assert "is not valid TOML" in result.stdout and "Saved it as progress.toml.corrupt-" in result.stdout
    backups = list(repo.glob("progress.toml.corrupt-*"))
    assert len(backups) == 1 and "[katas.01\nstatus" in backups[0].read_text()
    assert 'status = "red"' in (repo / "progress.toml").read_text()
