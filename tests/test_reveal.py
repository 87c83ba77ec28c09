"""``make reveal``: one step's solution into the student's file, backed up, idempotent, and
nothing else touched. End to end on the real kata 01 tests in a mini repository."""

import json
import re
import textwrap

import pytest

from dojo.classroom import reveal
from dojo.curriculum import Kata, Step
from tests import minirepo
from tests.test_ci import make_repo

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]  # whole pytest sessions in subprocesses


@pytest.fixture
def repo(tmp_path):
    return make_repo(tmp_path)


def step_statuses(repo, kata="01_tensor") -> dict:
    out = repo / "results.json"
    minirepo.run(repo, "-m", "pytest", f"katas/{kata}", "-q", "--no-gate", "--dojo-progress=none", "--dojo-quiet",
                 f"--dojo-results={out}", "-p", "no:cacheprovider")
    data = json.loads(out.read_text(encoding="utf-8"))["katas"][kata[:2]]
    return {s["number"]: s["status"] for s in data["steps"]}


def test_reveal_step_1_on_a_fresh_stub_makes_step_1_green_and_leaves_the_rest_red(repo):
    assert set(step_statuses(repo).values()) == {"todo"}
    done = minirepo.run(repo, "-m", "dojo", "reveal", "01", "1")
    assert done.returncode == 0, done.stderr
    assert "revealed in tinytorch/tensor.py: Tensor.__init__" in done.stdout
    statuses = step_statuses(repo)
    assert statuses[1] == "green"
    assert all(status != "green" for number, status in statuses.items() if number != 1), statuses


def test_reveal_backs_up_first_and_is_idempotent(repo):
    tensor = repo / "tinytorch" / "tensor.py"
    stub = tensor.read_text(encoding="utf-8")
    first = minirepo.run(repo, "-m", "dojo", "reveal", "01", "1")
    saved = re.search(r"your previous version is saved in (\S+)", first.stdout).group(1)
    assert (repo / saved / "tinytorch" / "tensor.py").read_text(encoding="utf-8") == stub
    after = tensor.read_bytes()
    second = minirepo.run(repo, "-m", "dojo", "reveal", "01", "creation")
    assert second.returncode == 0
    assert "already revealed in tinytorch/tensor.py: Tensor.__init__" in second.stdout
    assert "nothing changed" in second.stdout and "saved in" not in second.stdout
    assert tensor.read_bytes() == after
    assert len(list((repo / ".dojo" / "backups").iterdir())) == 1


def test_without_step_the_next_unsolved_step_is_revealed_and_student_work_is_kept(repo):
    tensor = repo / "tinytorch" / "tensor.py"
    minirepo.run(repo, "-m", "dojo", "reveal", "01", "1")
    # the student writes step 2's __add__ their own way (and leaves a comment)
    source = tensor.read_text(encoding="utf-8")
    mine = "        # my own addition\n        return np.add(self.data, other.data)\n"
    stub = re.search(r'        raise NotImplementedError\("not implemented yet: Tensor.__add__ [^\n]*\n', source).group(0)
    tensor.write_text(source.replace(stub, mine, 1), encoding="utf-8")
    done = minirepo.run(repo, "-m", "dojo", "reveal", "01")
    assert done.returncode == 0, done.stderr
    assert "step 2 (arithmetic)" in done.stdout
    assert "left alone in tinytorch/tensor.py (already written by you, not a stub): Tensor.__add__" in done.stdout
    assert "Tensor.__sub__" in done.stdout.split("revealed in")[1]
    assert mine in tensor.read_text(encoding="utf-8")
    assert "not implemented yet: Tensor.__matmul__" in tensor.read_text(encoding="utf-8")  # step 3 untouched


def test_a_green_kata_has_nothing_to_reveal_and_bad_steps_are_refused(repo):
    minirepo.solve(repo, "tensor.py")
    done = minirepo.run(repo, "-m", "dojo", "reveal", "01")
    assert done.returncode == 0 and "is green: nothing to reveal" in done.stdout
    bad = minirepo.run(repo, "-m", "dojo", "reveal", "01", "9")
    assert bad.returncode == 2 and "kata 01 has no step '9'" in bad.stderr


# -- the pure planner ------------------------------------------------------------------------

SOLUTION = textwrap.dedent('''
    def one(x):
        """Step a only."""
        ### BEGIN SOLUTION a
        y = x + 1
        return y
        ### END SOLUTION


    def both(x):
        """Steps a and b."""
        ### BEGIN SOLUTION a
        x = x * 2
        ### END SOLUTION
        ### BEGIN SOLUTION b
        return x - 1
        ### END SOLUTION
''')

KATA = Kata(id="07", slug="toy", title="Toy", owns=("toy.py",), requires=(), steps=(Step(1, "a", "A", ()), Step(2, "b", "B", ())))


def stub():
    from dojo import stubs

    return stubs.stub_source(SOLUTION, KATA)


def test_plan_replaces_only_the_steps_stubs_and_keeps_indentation():
    change = reveal.plan_file(None, KATA, KATA.steps[0], "toy.py", stub(), SOLUTION)
    assert change.revealed == ["one", "both"] and change.changed
    assert "        y = x + 1\n" not in change.new_source and "    y = x + 1\n" in change.new_source
    assert "    x = x * 2\n" in change.new_source
    assert 'not implemented yet: both (kata 07, step 2: b)' in change.new_source
    namespace = {}
    exec(compile(change.new_source, "toy.py", "exec"), namespace)
    assert namespace["one"](1) == 2


def test_plan_keeps_crlf_line_endings():
    change = reveal.plan_file(None, KATA, KATA.steps[1], "toy.py", stub().replace("\n", "\r\n"), SOLUTION)
    assert "    return x - 1\r\n" in change.new_source
    assert "\n" not in change.new_source.replace("\r\n", "")


def test_force_replaces_a_started_function_only_when_no_other_step_lives_in_it():
    started = stub().replace('    raise NotImplementedError("not implemented yet: one (kata 07, step 1: a)")', "    return 0  # wrong", 1)
    started = started.replace('    raise NotImplementedError("not implemented yet: both (kata 07, step 1: a)")', "    x = 0  # mine", 1)
    gentle = reveal.plan_file(None, KATA, KATA.steps[0], "toy.py", started, SOLUTION)
    assert gentle.kept == ["one", "both"] and not gentle.changed
    forced = reveal.plan_file(None, KATA, KATA.steps[0], "toy.py", started, SOLUTION, force=True)
    assert forced.replaced == ["one"] and forced.kept == ["both"]
    assert "return 0  # wrong" not in forced.new_source and "    y = x + 1\n" in forced.new_source
    assert "x = 0  # mine" in forced.new_source  # `both` also holds step b: never replaced whole
