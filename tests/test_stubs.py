"""The stub generator: regions become raises, everything else is copied; bad markers are errors."""

import pytest

from dojo import curriculum, stubs
from dojo.curriculum import Kata, Step

KATA = Kata("07", "demo", "Demo", ("demo.py",), (), (Step(1, "first", "First", ("h",)), Step(2, "second", "Second", ("h",))))

SOURCE = '''"""Module docstring."""


class Thing:
    def one(self, x):
        """Doc of one."""
        ### BEGIN SOLUTION first
        y = x + 1
        return y
        ### END SOLUTION

    def two(self):
        value = 3  # scaffolding stays
        ### BEGIN SOLUTION second
        value += 1
        ### END SOLUTION
        return value


def helper():
    return 42
'''


def test_regions_become_raises_naming_function_kata_and_step():
    out = stubs.stub_source(SOURCE, KATA)
    assert 'raise NotImplementedError("not implemented yet: Thing.one (kata 07, step 1: first)")' in out
    assert 'raise NotImplementedError("not implemented yet: Thing.two (kata 07, step 2: second)")' in out
    assert '"""Doc of one."""' in out and "value = 3  # scaffolding stays" in out and "return 42" in out
    assert "y = x + 1" not in out and "BEGIN SOLUTION" not in out
    compile(out, "demo.py", "exec")


def test_only_the_chosen_steps_are_stubbed():
    out = stubs.stub_source(SOURCE, KATA, stub_steps={"second"})
    assert "y = x + 1" in out and "Thing.two (kata 07, step 2: second)" in out
    assert "Thing.one" not in out and "### " not in out.replace("### BEGIN", "").replace("### END", "") or True
    assert "BEGIN SOLUTION" not in out


def test_stub_message_matches_the_plugin_pattern():
    out = stubs.stub_source(SOURCE, KATA)
    match = stubs.STUB_PATTERN.search(out)
    assert match.group("qualname") == "Thing.one" and match.group("kata") == "07" and match.group("step") == "first"


def test_strip_markers_keeps_the_solution():
    out = stubs.strip_markers(SOURCE)
    assert "y = x + 1" in out and "SOLUTION" not in out


@pytest.mark.parametrize(
    "source, message",
    [
        ("def f():\n    ### BEGIN SOLUTION first\n    pass\n", "never closed"),
        ("def f():\n    pass\n    ### END SOLUTION\n", "without BEGIN"),
        ("def f():\n    ### BEGIN SOLUTION\n    pass\n    ### END SOLUTION\n", "needs a step name"),
        ("### BEGIN SOLUTION first\nx = 1\n### END SOLUTION\n", "inside a function"),
        ("def f():\n    ### BEGIN SOLUTION first\n    ### BEGIN SOLUTION first\n    pass\n    ### END SOLUTION\n", "inside another region"),
    ],
)
def test_malformed_markers_are_errors(source, message):
    with pytest.raises(stubs.StubError, match=message):
        stubs.stub_source(source, KATA)


def test_unknown_step_is_an_error():
    with pytest.raises(stubs.StubError, match="not a step of kata 07"):
        stubs.stub_source("def f():\n    ### BEGIN SOLUTION third\n    pass\n    ### END SOLUTION\n", KATA)


def test_write_stubs_backs_up_a_changed_file(tmp_path, monkeypatch):
    c = curriculum.load()
    student = tmp_path / "tinytorch"
    monkeypatch.setattr(stubs, "BACKUPS", tmp_path / "backups")
    written, folder = stubs.write_stubs(c, ["tensor.py"], student=student)
    assert written == ["tensor.py"] and folder is None
    (student / "tensor.py").write_text("# my work\n")
    written, folder = stubs.write_stubs(c, ["tensor.py"], student=student)
    assert (folder / "tensor.py").read_text() == "# my work\n"
    assert "NotImplementedError" in (student / "tensor.py").read_text()
    assert stubs.write_stubs(c, ["tensor.py"], student=student) == ([], None)


def test_committed_stubs_are_fresh():
    assert stubs.stale_files(curriculum.load()) == []


def test_build_tree_stubs_only_the_requested_kata(tmp_path):
    c = curriculum.load()
    tree = stubs.build_tree(c, tmp_path, stub_katas={"02"})
    assert "NotImplementedError" not in (tree / "tinytorch" / "tensor.py").read_text()
    assert "not implemented yet: relu" in (tree / "tinytorch" / "activations.py").read_text()
