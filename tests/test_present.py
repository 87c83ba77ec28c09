"""``make present``: pure rendering (banner, the one test in focus, steps, timer), the re-run and
rotation loop with a fake clock, and one real screen from a mini repository."""

import io

import pytest

from dojo import report
from dojo.classroom import present
from dojo.curriculum import Kata, Step
from tests import minirepo

KATA = Kata(id="05", slug="autograd", title="Autograd", owns=(), requires=(), steps=(Step(1, "engine", "The engine", ()), Step(2, "arithmetic", "Backward of + - * /", ())))


def view(status="red"):
    return {
        "status": status,
        "passed": 3,
        "total": 5,
        "steps": [
            {"number": 1, "name": "engine", "title": "The engine", "passed": 3, "total": 3, "status": "green"},
            {"number": 2, "name": "arithmetic", "title": "Backward of + - * /", "passed": 0, "total": 2, "status": "red"},
        ],
        "tests": [  # run order differs from step order: the focus follows the steps
            {"name": "test_mul_grad", "step": 2, "outcome": "failed", "doc": "d(a*b)/da is b.", "message": "AssertionError: grad differs\nworst index (1,)\n" + "noise\n" * 20, "where": "", "todo": "",
             "hint": "the upstream gradient times the other operand."},
            {"name": "test_engine_order", "step": 1, "outcome": "passed", "doc": "", "message": "", "where": "", "todo": ""},
            {"name": "test_add_grad", "step": 2, "outcome": "todo", "doc": "The gradient of a + b is 1 for both.", "message": "", "where": "", "todo": "add_backward in tinytorch/autograd.py:40",
             "hint": "pass the upstream gradient through unchanged."},
        ],
    }


def test_banner_is_big_aligned_and_ascii_when_asked():
    rows = present.banner("RED", width=80)
    assert len(rows) == 5 and len({len(r.rstrip()) for r in rows}) <= 2
    assert max(len(r) for r in rows) <= 80 and "##" in rows[0]  # doubled in width on a wide screen
    narrow = present.banner("GREEN", width=40)
    assert max(len(r) for r in narrow) <= 40
    assert all(set(r) <= {"#", " "} for r in narrow)


def test_red_screen_shows_one_test_in_step_order_without_noise():
    text = present.render(view(), KATA, width=80)
    assert "Kata 05 · Autograd" in text and "3/5 tests" in text
    assert "Step 2 of 2 · Backward of + - * /" in text
    assert "test_mul_grad" in text  # the first non-passing test of the first unfinished step, in run order
    assert "test_add_grad" not in text and "d(a*b)/da is b." in text
    assert "AssertionError: grad differs" in text and text.count("noise") <= 4
    assert "Traceback" not in text
    assert "steps  ✅ 1  ❌ 2" in text
    assert "█" in text.splitlines()[0]
    assert all(len(line) <= 80 for line in text.splitlines())


def test_red_screen_shows_the_focused_tests_own_hint_briefly():
    """Issue 12: the projector shows the hint of the test in focus (its docstring's ``Hint:``
    paragraph), after the failure and never another test's; a long hint is cut to a few lines
    that end by pointing at ``make hint``."""
    text = present.render(view(), KATA, width=80)
    assert "    Hint: the upstream gradient times the other operand." in text
    assert text.index("AssertionError: grad differs") < text.index("Hint:") < text.index("steps  ")
    assert "pass the upstream gradient through unchanged" not in text  # test_add_grad is not in focus
    long = view()
    long["tests"][0]["hint"] = " ".join(["multiply the upstream gradient by the other operand, then"] * 12)
    text = present.render(long, KATA, width=80)
    hint = text[text.index("Hint:"):text.index("steps  ")].strip().splitlines()
    assert len(hint) == present.HINT_LINES, hint
    assert hint[-1].strip() == "… the whole hint: make hint N=05"
    assert all(len(line) <= 80 for line in text.splitlines())
    bare = view()
    del bare["tests"][0]["hint"]
    assert "Hint:" not in present.render(bare, KATA, 80)


def test_render_is_deterministic_and_pure():
    assert present.render(view(), KATA, 100) == present.render(view(), KATA, 100)


def test_green_broken_and_todo_screens():
    green = present.render(dict(view(), status="green", passed=5), KATA, 80, report.ASCII)
    assert "Every test passes. Kata 05 is complete." in green and "#" in green and "█" not in green
    broken = present.render({"status": "broken", "message": "SyntaxError in tinytorch/autograd.py:3: invalid syntax", "steps": [], "tests": []}, KATA, 80)
    assert "cannot be imported" in broken and "tinytorch/autograd.py:3" in broken
    todo = view()
    todo["tests"] = todo["tests"][1:]
    text = present.render(todo, KATA, 80)
    assert "⏳ not implemented yet: add_backward in tinytorch/autograd.py:40" in text


def test_rotation_notice_and_timer_line():
    assert present.timer_line(187, 5) == "  ⏰ randori: 3:07 left for this driver (rotate every 5 min)"
    assert present.timer_line(0, 5, report.ASCII) == "  randori: 0:00 left for this driver (rotate every 5 min)"
    text = present.render(view(), KATA, 80, notice="time is up: next driver")
    assert text.index("time is up") < text.index("Kata 05")


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        self.now += 20.0  # every poll is 20 s later
        return self.now


def test_loop_reruns_on_save_and_rotates_on_time(tmp_path):
    watched = tmp_path / "tinytorch"
    watched.mkdir()
    (watched / "autograd.py").write_text("x = 1\n")
    runs = []

    def fake_run(c, kata):
        runs.append(1)
        if len(runs) == 1:
            (watched / "autograd.py").write_text("x = 22\n")  # the driver saves
        return view("green" if len(runs) > 1 else "red")

    out = io.StringIO()
    present.loop(None, KATA, minutes=1, poll=0.01, clock=Clock(), ticks=8, out=out, paths=[watched], run=fake_run)
    text = out.getvalue()
    assert len(runs) == 2
    assert text.index("#" * 4) < text.index("Every test passes")  # red screen, then green after the save
    assert "time is up: next driver, please (1 minutes each)" in text and "\a" in text
    assert "randori:" in text


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_present_once_in_a_mini_repository(tmp_path):
    repo = minirepo.make(tmp_path)
    creation = repo / "katas" / "01_tensor" / "test_01_creation.py"
    creation.write_text(creation.read_text().replace('"""Python floats become float32."""',
                                                     '"""Python floats become float32.\n\n    Hint: np.asarray with dtype=np.float32.\n    """'))
    red = minirepo.run(repo, "-m", "dojo", "present", "01", "--once", "--width", "90")
    assert red.returncode == 1
    assert "Kata 01 · Tensor" in red.stdout and "not implemented yet: Tensor.__init__" in red.stdout
    assert "Step 1 of 6" in red.stdout
    assert "\n    Hint: np.asarray with dtype=np.float32.\n" in red.stdout, red.stdout  # the focused test's own hint
    assert "Traceback" not in red.stdout + red.stderr and "passed" not in red.stdout
    green = minirepo.run(repo, "-m", "dojo", "present", "01", "--once", "--timer", "5", env={"IMPL": "solutions", "PYTHONIOENCODING": "ascii"})
    assert green.returncode == 0, green.stdout + green.stderr
    assert "Every test passes" in green.stdout and "randori: 5:00 left" in green.stdout
