"""``make board``: 30 generated students (files and folders, progress.toml and results.json, one
corrupt file, one of another format version) into a terminal table, markdown and one HTML page.
(The page is also rendered in headless Chromium by `make test`: dojo.board.browser_check.)"""

import json
import re

import pytest

from dojo import board, curriculum
from tests import minirepo


@pytest.fixture(scope="module")
def c():
    return curriculum.load()


@pytest.fixture
def cohort(tmp_path, c):
    return board.write_sample_cohort(c, tmp_path / "cohort", n=30)


def test_thirty_students_load_and_bad_files_are_rows_not_crashes(cohort, c):
    students = board.load_cohort(cohort)
    assert len(students) == 30
    assert [s.name for s in students] == sorted((s.name for s in students), key=str.lower)
    errors = {s.name: s.error for s in students if s.error}
    assert set(errors) == {"frances", "ken"}
    assert "not valid TOML" in errors["frances"] and "format_version 2" in errors["ken"]
    kinds = {s.kind for s in students if not s.error}
    assert kinds == {"verified", "claimed"}  # both results.json and progress.toml were read


def test_terminal_table_is_aligned_with_emoji_and_ascii(cohort, c):
    students = board.load_cohort(cohort)
    for sym in (board.SYMBOLS, board.ASCII_SYMBOLS):
        text = board.terminal_table(students, c, sym)
        lines = text.splitlines()
        grid = [line for line in lines[2:] if line and not line.startswith("-") and sym["warning"] not in line and line.split()[0] in {s.name for s in students}]
        assert len(grid) == 28
        ends = {board.display_width(line[: line.index("/")].rsplit(" ", 1)[0]) for line in grid}
        assert len(ends) == 1, "the katas column starts at the same screen column on every row"
        assert "frances" in text and "not valid TOML" in text and "ken" in text
        assert lines[-1].startswith(sym["green"])  # the legend
    ascii_text = board.terminal_table(students, c, board.ASCII_SYMBOLS)
    ascii_text.encode("ascii")


def test_cells_follow_gating_and_milestones(c):
    student = board.Student("x", kind="claimed", katas={"01": {"status": "green", "passed": 3, "total": 3}, "02": {"status": "red", "passed": 1, "total": 4}})
    k01, k02 = c.kata("01"), c.kata("02")
    assert board.cell_status(student, k01, c) == "green" and board.cell_status(student, k02, c) == "red"
    later = next(k for k in c.katas if "02" in k.requires)
    assert board.cell_status(student, later, c) == "locked"
    fresh = board.Student("y", kind="claimed")
    assert board.cell_status(fresh, k01, c) == "none"
    achieved = board.Student("z", kind="claimed", milestones={c.milestones[0].id: {"unlocked": True, "achieved": True}})
    assert board.milestone_marks(achieved, c, board.SYMBOLS).startswith("🏆M")


def test_markdown_has_one_row_per_student(cohort, c):
    text = board.markdown_table(board.load_cohort(cohort), c)
    rows = [line for line in text.splitlines() if line.startswith("|")]
    assert len(rows) == 2 + 30 + 1  # header, rule, students, green counts
    assert len({line.count(" | ") - line.count("\\|") for line in rows[2:-1] if "⚠" not in line}) == 1


def test_html_is_self_contained_escaped_and_refreshes_only_when_asked(tmp_path, c):
    folder = tmp_path / "cohort"
    folder.mkdir()
    (folder / "a&b<i>.toml").write_text('format_version = 1\n[katas."01"]\nstatus = "green"\npassed = 2\ntotal = 2\n', encoding="utf-8")
    students = board.load_cohort(folder)
    page = board.html_page(students, c, refresh=15)
    assert '<meta http-equiv="refresh" content="15">' in page
    assert "a&amp;b&lt;i&gt;" in page and "a&b<i>" not in page
    assert not re.search(r"<script|<link|src=|https?://", page)
    assert page.count('<tr class="student') == 1
    assert "http-equiv" not in board.html_page(students, c)


def test_results_json_from_fork_ci_is_read_and_tampering_is_flagged(tmp_path, c):
    folder = tmp_path / "cohort"
    (folder / "eve" / "artifact").mkdir(parents=True)
    data = {"format_version": 1, "kind": "tinytorch-katas-ci", "tampering": [], "katas": {"01": {"status": "green", "passed": 9, "total": 9}}, "milestones": {}}
    (folder / "eve" / "artifact" / "results.json").write_text(json.dumps(data), encoding="utf-8")
    (folder / "eve" / "progress.toml").write_text('format_version = 1\n[katas."01"]\nstatus = "red"\n', encoding="utf-8")
    (folder / "mallory.json").write_text(json.dumps(dict(data, tampering=["katas/01_tensor/test_01_creation.py: changed"])), encoding="utf-8")
    (folder / "oscar.json").write_text(json.dumps(dict(data, format_version=3)), encoding="utf-8")
    (folder / "trent.json").write_text("[1, 2", encoding="utf-8")
    (folder / "empty").mkdir()
    (folder / "notes.txt").write_text("ignored", encoding="utf-8")
    students = {s.name: s for s in board.load_cohort(folder)}
    assert set(students) == {"eve", "mallory", "oscar", "trent", "empty"}
    assert students["eve"].kind == "verified" and students["eve"].katas["01"]["status"] == "green"  # results.json wins
    assert "not trusted" in students["mallory"].error
    assert "format_version 3" in students["oscar"].error and "not valid JSON" in students["trent"].error
    assert "no results.json or progress.toml" in students["empty"].error


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_board_command_end_to_end(tmp_path, cohort):
    html = tmp_path / "board.html"
    done = minirepo.run(minirepo_root(tmp_path), "-m", "dojo", "board", str(cohort), "--html", str(html), "--markdown", "-")
    assert done.returncode == 0, done.stderr
    assert "ada" in done.stdout and "| student |" in done.stdout and f"wrote {html}" in done.stdout
    assert html.read_text(encoding="utf-8").count('<tr class="student') == 30
    plain = minirepo.run(minirepo_root(tmp_path), "-m", "dojo", "board", str(cohort), "--html", "none", env={"PYTHONIOENCODING": "ascii"})
    assert plain.returncode == 0, plain.stderr
    assert "✅" not in plain.stdout and " ok " in plain.stdout
    missing = minirepo.run(minirepo_root(tmp_path), "-m", "dojo", "board")
    assert missing.returncode == 2 and "make board DIR=cohort/" in missing.stderr


def minirepo_root(tmp_path):
    root = tmp_path / "repo"
    if not root.exists():
        minirepo.make(tmp_path)
    return root


def test_no_posix_only_calls_in_the_harness():
    """Windows: the harness must not use fork, SIGALRM, fcntl, termios and friends."""
    from pathlib import Path

    import dojo

    banned = re.compile(r"\bos\.fork\b|SIGALRM|\bimport fcntl\b|\bimport termios\b|\bimport tty\b|\bimport pwd\b|\bimport grp\b|os\.getuid|signal\.alarm|\bimport resource\b")
    offenders = [f"{p.name}:{n}" for p in Path(dojo.__file__).parent.glob("*.py") for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if banned.search(line)]
    assert offenders == [], offenders
