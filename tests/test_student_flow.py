"""End to end, as a student meets it: amber stubs, RED/GREEN lines, gating, progress, unlocks,
syntax errors, infinite loops, hints, reset. Each test works in a throwaway mini repository (a copy
of one template). The runs (seconds of subprocesses) are scenarios that start together when the
module does, two at a time; tests that assert different things about the same runs share them."""

import re

import pytest

from tests import minirepo

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]  # whole pytest sessions in subprocesses


def kata(repo, n, *extra, env=None):
    return minirepo.run(repo, "-m", "dojo", "kata", n, *extra, env=env)


def endless_init(repo):
    """Replace the stub of Tensor.__init__ by an endless loop."""
    tensor = repo / "tinytorch" / "tensor.py"
    source = tensor.read_text()
    stub = re.search(r'\n(\s+)raise NotImplementedError\("not implemented yet: Tensor.__init__[^\n]*', source)
    tensor.write_text(source.replace(stub.group(0), f"\n{stub.group(1)}while True:\n{stub.group(1)}    pass", 1))


def break_add(repo):
    tensor = repo / "tinytorch" / "tensor.py"
    tensor.write_text(tensor.read_text().replace('return _broadcasting("+", np.add, self.data, other.data)', "return self.data - other.data"))


scenarios = minirepo.Scenarios(workers=2)
scenario_runs = scenarios.runner()


@scenarios.add
def fresh(tmp, spelling):
    """`dojo kata <spelling>` on a fresh mini repository: (repo, result)."""
    repo = minirepo.make(tmp)
    return repo, kata(repo, spelling)


@pytest.mark.parametrize("spelling", ["01"])
def test_fresh_stub_is_red_with_amber_steps(fresh, spelling):
    repo, result = fresh
    assert result.returncode == 1
    out = result.stdout
    assert "⏳ not implemented yet: Tensor.__init__ in tinytorch/tensor.py:" in out
    assert re.search(r"^RED 0/6 · next: step 1 \(creation\) · stuck\? make hint N=01$", out, re.M)
    assert "Traceback" not in out and "def test_" not in out  # no wall of tracebacks
    assert 'status = "red"' in (repo / "progress.toml").read_text()


@scenarios.add
def path(tmp):
    """A student's path, one run after another in one repository: kata 01 solved and run, kata 02
    solved and run (twice), then a change that breaks kata 01 and kata 02 run again."""
    repo = minirepo.make(tmp)
    minirepo.solve(repo, "tensor.py")
    first = kata(repo, "01")
    progress = (repo / "progress.toml").read_text()
    minirepo.solve(repo, "activations.py")
    second = kata(repo, "02")
    again = kata(repo, "02")
    break_add(repo)
    return {"first": first, "progress": progress, "second": second, "again": again, "broken": kata(repo, "02")}


def test_solution_turns_green_records_progress_and_announces_milestones(path):
    assert path["first"].returncode == 0, path["first"].stdout
    assert re.search(r"^GREEN 6/6 · kata 01 Tensor complete", path["first"].stdout, re.M)
    assert 'status = "green"' in path["progress"] and "first_green" in path["progress"]
    assert path["second"].returncode == 0, path["second"].stdout
    assert "🏆 Milestone 01 unlocked: Perceptron (1957) · make milestone M=01" in path["second"].stdout
    assert "Milestone 01 unlocked" not in path["again"].stdout  # announced once, on the first green


def test_breaking_a_green_prerequisite_relocks_later_katas(path):
    assert path["first"].returncode == 0 and path["second"].returncode == 0, path["first"].stdout + path["second"].stdout
    result = path["broken"]
    assert result.returncode == 1
    assert "locked: finish kata 01 Tensor first (it was green, but changes since broke it: 5/6 tests passing)" in result.stdout
    assert "re-checked kata 01" in result.stdout


@scenarios.add
def locked(tmp):
    """Kata 02 on a fresh repository, then again with UNLOCK=1: (result, unlocked)."""
    repo = minirepo.make(tmp)
    return kata(repo, "02"), kata(repo, "02", env={"UNLOCK": "1"})


def test_locked_kata_runs_nothing_and_names_the_prerequisite(locked):
    result, unlocked = locked
    assert result.returncode == 1
    assert "kata 02 Activations is locked: finish kata 01 Tensor first" in result.stdout
    assert "make kata N=01" in result.stdout
    assert "locked" not in unlocked.stdout
    assert "Kata 02 · Activations" in unlocked.stdout and "not implemented yet" in unlocked.stdout


@scenarios.add
def syntax_error(tmp):
    repo = minirepo.make(tmp)
    tensor = repo / "tinytorch" / "tensor.py"
    lines = tensor.read_text().splitlines()
    lines.insert(40, "def broken(:")
    tensor.write_text("\n".join(lines) + "\n")
    return kata(repo, "01")


def test_syntax_error_is_one_short_message(syntax_error):
    result = syntax_error
    assert result.returncode == 1
    assert "SyntaxError in tinytorch/tensor.py:41:" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert "ERROR collecting" not in result.stdout


@scenarios.add
def import_error(tmp):
    """tensor.py imports a module that does not exist: (its line, result)."""
    repo = minirepo.make(tmp)
    tensor = repo / "tinytorch" / "tensor.py"
    tensor.write_text(tensor.read_text().replace("import numpy as np\n", "import numpy as np\nimport cupy_does_not_exist  # not available here\n", 1))
    line = 1 + tensor.read_text().splitlines().index("import cupy_does_not_exist  # not available here")
    return line, kata(repo, "01")


def test_import_error_names_the_file_and_line(import_error):
    line, result = import_error
    assert result.returncode == 1
    assert f"ModuleNotFoundError in tinytorch/tensor.py:{line}" in result.stdout
    assert "No module named 'cupy_does_not_exist'" in result.stdout


@scenarios.add
def endless_loop(tmp):
    repo = minirepo.make(tmp)
    endless_init(repo)
    return repo, kata(repo, "01", env={"TIMEOUT": "1"})


def test_infinite_loop_is_cut_by_the_timeout_with_a_clear_message(endless_loop):
    repo, result = endless_loop
    assert result.returncode == 1
    assert "stopped after 1 s: this is probably an infinite loop in Tensor.__init__ in tinytorch/tensor.py:" in result.stdout
    assert "1 failed" in result.stdout  # stopped at the first timeout instead of waiting for every test
    assert not (repo / "progress.toml").exists()  # an interrupted run records nothing


@scenarios.add
def endless_loop_soft_timer(tmp):
    repo = minirepo.make(tmp)
    endless_init(repo)
    return kata(repo, "01", env={"TIMEOUT": "2", "DOJO_SOFT_TIMEOUT": "1"})


def test_without_sigalrm_a_soft_timeout_still_gives_the_summary(endless_loop_soft_timer):
    """Windows has no alarm signal: the dojo interrupts the loop itself and the student still gets the
    summary (pytest-timeout's thread method alone would end the process)."""
    result = endless_loop_soft_timer
    assert result.returncode == 1, result.stdout + result.stderr
    assert "stopped after 2 s: this is probably an infinite loop in Tensor.__init__ in tinytorch/tensor.py:" in result.stdout
    assert re.search(r"^RED 0/6 · next: step 1 \(creation\)", result.stdout, re.M)
    assert "not run (the run stopped early)" in result.stdout


@scenarios.add
def hints(tmp):
    """Kata 01 solved but addition broken: `hint 1`, then `hint tensor 2`."""
    repo = minirepo.make(tmp)
    minirepo.solve(repo, "tensor.py")
    break_add(repo)
    return minirepo.run(repo, "-m", "dojo", "hint", "1"), minirepo.run(repo, "-m", "dojo", "hint", "tensor", "2")


def test_hint_levels_follow_the_first_failing_step(hints):
    one, two = hints
    assert "step 2 (arithmetic)" in one.stdout and "hint 1/2: hint one for arithmetic" in one.stdout
    assert "hint two" not in one.stdout and "LEVEL=2" in one.stdout
    assert "hint 2/2: hint two for arithmetic" in two.stdout


@scenarios.add
def reset(tmp):
    """Kata 01 solved and run, then `dojo reset 01`: (repo, the stub, the solved file, result)."""
    repo = minirepo.make(tmp)
    stub = (repo / "tinytorch" / "tensor.py").read_text()
    minirepo.solve(repo, "tensor.py")
    kata(repo, "01")
    edited = (repo / "tinytorch" / "tensor.py").read_text()
    return repo, stub, edited, minirepo.run(repo, "-m", "dojo", "reset", "01")


def test_reset_restores_the_stub_and_keeps_a_backup(reset):
    repo, stub, edited, result = reset
    assert result.returncode == 0, result.stderr
    saved = re.search(r"your version is saved in (\S+)", result.stdout).group(1)
    assert (repo / saved).read_text() == edited
    assert edited != stub and (repo / "tinytorch" / "tensor.py").read_text() == stub
    assert "NotImplementedError" in (repo / "tinytorch" / "tensor.py").read_text()
    assert "[katas.01]" not in (repo / "progress.toml").read_text()


@pytest.mark.parametrize("bad", ["99", "xyz", "0"])
def test_unknown_kata_lists_the_valid_ones(tmp_path, bad):
    result = kata(minirepo.make(tmp_path), bad)  # refused before any test runs: no scenario needed
    assert result.returncode == 2
    assert "Valid katas: 01 (tensor), 02 (activations)" in result.stderr


@pytest.mark.parametrize("spelling", ["1", "01", "tensor", "01_tensor"])
def test_kata_spellings(fresh, spelling):
    assert "Kata 01 · Tensor" in fresh[1].stdout


@scenarios.add
def ascii_console(tmp):
    return kata(minirepo.make(tmp), "01", env={"PYTHONIOENCODING": "ascii"})


def test_ascii_fallback_for_consoles_without_emoji(ascii_console):
    assert "[..] not implemented yet" in ascii_console.stdout
    assert "RED 0/6 - next: step 1 (creation)" in ascii_console.stdout


UNUSABLE = {"binary": b"\xff\xfe\x00binary\x80", "wrong-shape": b'format_version = 1\n[katas]\n"01" = "green"\n'}


@scenarios.add
def unusable_progress(tmp, content):
    """`dojo progress`, then `dojo kata 01`, each over a progress.toml holding ``content``:
    [(output, [backup contents], progress.toml afterwards)]."""
    repo = minirepo.make(tmp)
    seen = []
    for command in (["progress"], ["kata", "01"]):
        (repo / "progress.toml").write_bytes(content)
        for old in repo.glob("progress.toml.corrupt-*"):
            old.unlink()
        result = minirepo.run(repo, "-m", "dojo", *command)
        backups = [b.read_bytes() for b in repo.glob("progress.toml.corrupt-*")]
        seen.append((result.stdout + result.stderr, backups, (repo / "progress.toml").read_text(encoding="utf-8")))
    return seen


@pytest.mark.parametrize("content", list(UNUSABLE.values()), ids=list(UNUSABLE))
def test_unusable_progress_file_gets_one_line_a_backup_and_a_fresh_record(unusable_progress, content):
    """Not UTF-8, or TOML of the wrong shape: like any corrupt file, for make kata and make progress."""
    for output, backups, progress in unusable_progress:
        assert "Traceback" not in output, output
        warnings = [line for line in output.splitlines() if line.startswith("warning:")]
        assert len(warnings) == 1 and "Saved it as progress.toml.corrupt-" in warnings[0], output
        assert backups == [content]
        assert "format_version = 1" in progress


@scenarios.add
def corrupt_progress(tmp):
    repo = minirepo.make(tmp)
    (repo / "progress.toml").write_text("format_version = 1\n[katas.01\nstatus = ")
    return repo, kata(repo, "01")


def test_corrupt_progress_file_is_backed_up_not_lost(corrupt_progress):
    repo, result = corrupt_progress
    assert "is not valid TOML" in result.stdout and "Saved it as progress.toml.corrupt-" in result.stdout
    backups = list(repo.glob("progress.toml.corrupt-*"))
    assert len(backups) == 1 and "[katas.01\nstatus" in backups[0].read_text()
    assert 'status = "red"' in (repo / "progress.toml").read_text()
