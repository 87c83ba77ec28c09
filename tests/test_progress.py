"""progress.toml: atomic, lock-protected updates; corrupt files backed up; hand edits kept."""

import multiprocessing
import os
import stat
from pathlib import Path

import pytest

from dojo.curriculum import Kata, Milestone
from dojo.progress import Progress, files_digest


def kata(i):
    return Kata(id=f"{i:02d}", slug=f"k{i}", title=f"Kata {i}", owns=(), requires=(), steps=())


def _record_many(path, index, repeats):
    progress = Progress(Path(path))
    for n in range(repeats):
        progress.record_kata(kata(index), passed=n, total=repeats - 1, digest="x")


def test_overlapping_runs_lose_no_update(tmp_path):
    """Eight processes recording at the same time: every kata's last result is in the file."""
    path = tmp_path / "progress.toml"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_record_many, args=(str(path), i, 15)) for i in range(8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
        assert w.exitcode == 0
    katas = Progress(path).read()["katas"]
    assert sorted(katas) == [f"{i:02d}" for i in range(8)]
    assert all(entry["passed"] == 14 and entry["status"] == "green" for entry in katas.values())
    assert not list(tmp_path.glob(".progress.toml.*")), "no temporary files left behind"


def test_first_green_is_recorded_once_and_unlocks_milestones(tmp_path):
    class Curriculum:
        milestones = [Milestone("03", "MLP", 1986, ("01", "02"), "m03", "accuracy", 0.97, 0.9)]

    progress = Progress(tmp_path / "progress.toml")
    assert progress.record_kata(kata(1), 3, 3, "d", Curriculum)["unlocked"] == []
    news = progress.record_kata(kata(2), 2, 2, "d", Curriculum)
    assert news["first_green"] and [m.id for m in news["unlocked"]] == ["03"]
    first = progress.kata("02")["first_green"]
    again = progress.record_kata(kata(2), 2, 2, "d", Curriculum)
    assert not again["first_green"] and again["unlocked"] == []
    assert progress.kata("02")["first_green"] == first


def test_red_after_green_keeps_first_green(tmp_path):
    progress = Progress(tmp_path / "progress.toml")
    progress.record_kata(kata(1), 2, 2, "d")
    progress.record_kata(kata(1), 1, 2, "d")
    record = progress.kata("01")
    assert record["status"] == "red" and record["passed"] == 1 and "first_green" in record


def test_corrupt_file_is_backed_up_and_reported(tmp_path):
    path = tmp_path / "progress.toml"
    path.write_text("format_version = 1\n[katas.01\n")
    progress = Progress(path)
    assert progress.read() == {"katas": {}, "milestones": {}}
    assert "not valid TOML" in progress.warning
    progress.record_kata(kata(1), 1, 2, "d")
    backups = list(tmp_path.glob("progress.toml.corrupt-*"))
    assert len(backups) == 1 and backups[0].read_text() == "format_version = 1\n[katas.01\n"
    assert "Saved it as progress.toml.corrupt-" in progress.warning
    assert progress.kata("01")["passed"] == 1


def test_other_format_version_is_not_silently_overwritten(tmp_path):
    path = tmp_path / "progress.toml"
    path.write_text("format_version = 2\n")
    progress = Progress(path)
    progress.record_kata(kata(1), 1, 1, "d")
    assert "format_version 2" in progress.warning
    assert list(tmp_path.glob("progress.toml.corrupt-*"))


def test_hand_edits_and_comments_survive_an_update(tmp_path):
    path = tmp_path / "progress.toml"
    Progress(path).record_kata(kata(1), 1, 2, "d")
    path.write_text(path.read_text() + "\n# my note: kata 2 next week\n")
    Progress(path).record_kata(kata(2), 1, 2, "d")
    assert "# my note: kata 2 next week" in path.read_text()


def test_milestone_keeps_the_best_metric(tmp_path):
    m = Milestone("01", "Perceptron", 1957, ("01",), "m01", "accuracy", 1.0, 1.0)
    progress = Progress(tmp_path / "progress.toml")
    progress.record_milestone(m, 0.9, False)
    progress.record_milestone(m, 0.8, False)
    progress.record_milestone(m, 1.0, True)
    record = progress.read()["milestones"]["01"]
    assert record["metric"] == 1.0 and record["achieved"] and record["unlocked"]


def test_files_digest_tracks_content(tmp_path):
    (tmp_path / "tinytorch").mkdir()
    (tmp_path / "tinytorch" / "a.py").write_text("x = 1\n")
    before = files_digest(tmp_path, ["a.py"])
    (tmp_path / "tinytorch" / "a.py").write_text("x = 2\n")
    assert files_digest(tmp_path, ["a.py"]) != before
    assert files_digest(tmp_path, ["missing.py"]) != before


def test_in_memory_progress_writes_nothing(tmp_path):
    progress = Progress(None)
    assert progress.record_kata(kata(1), 1, 1, "d") == {"first_green": False, "unlocked": []}
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("text", ["", "\n"])
def test_empty_file_reads_as_fresh(tmp_path, text):
    path = tmp_path / "progress.toml"
    path.write_text(text)
    assert Progress(path).read()["katas"] == {}


# -- files that must never strand a student (issue 9, section 4) ----------------------------------

WRONG_SHAPES = [
    b'format_version = 1\n[katas]\n"01" = "green"\n',
    b"format_version = 1\nkatas = 3\n",
    b'format_version = 1\n[katas.01]\nstatus = "green"\npassed = "all of them"\n',
    b'format_version = 1\n[katas.01]\nstatus = ["green"]\n',
    b"format_version = 1\n[milestones]\n\"03\" = true\n",
    b'format_version = 1\n[milestones.03]\nmetric = "high"\n',
]


@pytest.mark.parametrize("content", [b"\xff\xfe\x00binary\x80 not text", *WRONG_SHAPES])
def test_unusable_file_warns_in_one_line_backs_up_and_starts_fresh(tmp_path, content):
    """Not UTF-8, or valid TOML of the wrong shape: like any corrupt file, never a crash."""
    path = tmp_path / "progress.toml"
    path.write_bytes(content)
    progress = Progress(path)
    assert progress.read() == {"katas": {}, "milestones": {}}
    assert progress.kata("01") == {} and len(progress.warning.splitlines()) == 1
    progress.record_kata(kata(1), 1, 2, "d")
    assert len(progress.warning.splitlines()) == 1 and "Saved it as progress.toml.corrupt-" in progress.warning
    backups = list(tmp_path.glob("progress.toml.corrupt-*"))
    assert len(backups) == 1 and backups[0].read_bytes() == content
    assert Progress(path).kata("01")["passed"] == 1


def test_repair_backs_up_a_corrupt_file_and_leaves_a_good_one_alone(tmp_path):
    """What `make progress` does first."""
    path = tmp_path / "progress.toml"
    Progress(path).record_kata(kata(1), 2, 2, "d")
    good = path.read_bytes()
    Progress(path).repair()
    assert path.read_bytes() == good and not list(tmp_path.glob("*.corrupt-*"))
    path.write_bytes(b"\x80\x81")
    progress = Progress(path)
    progress.repair()
    assert "Saved it as" in progress.warning and Progress(path).read() == {"format_version": 1, "katas": {}, "milestones": {}}
    assert [p.read_bytes() for p in tmp_path.glob("*.corrupt-*")] == [b"\x80\x81"]


def test_two_corruptions_in_the_same_second_keep_both_backups(tmp_path, monkeypatch):
    monkeypatch.setattr("dojo.progress.time.strftime", lambda fmt: "20261122-140000")
    path = tmp_path / "progress.toml"
    for content in (b"first \x80", b"second \x80"):
        path.write_bytes(content)
        Progress(path).record_kata(kata(1), 1, 2, "d")
    backups = sorted(tmp_path.glob("progress.toml.corrupt-*"))
    assert sorted(p.read_bytes() for p in backups) == [b"first \x80", b"second \x80"]
    assert len({p.name for p in backups}) == 2


def test_a_read_only_file_keeps_its_mode_and_says_why_nothing_was_recorded(tmp_path):
    path = tmp_path / "progress.toml"
    Progress(path).record_kata(kata(1), 1, 2, "d")
    before = path.read_bytes()
    path.chmod(0o444)
    try:
        progress = Progress(path)
        progress.record_kata(kata(1), 2, 2, "d")
        assert progress.failed and "progress.toml is read-only (mode 0444)" in progress.warning
        assert len(progress.warning.splitlines()) == 1
        assert path.read_bytes() == before and stat.S_IMODE(path.stat().st_mode) == 0o444
    finally:
        path.chmod(0o644)


def test_an_update_keeps_the_files_permissions(tmp_path):
    path = tmp_path / "progress.toml"
    Progress(path).record_kata(kata(1), 1, 2, "d")
    path.chmod(0o640)
    Progress(path).record_kata(kata(1), 2, 2, "d")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_a_folder_that_cannot_be_written_gives_one_line_not_a_traceback(tmp_path, monkeypatch):
    """Simulated (the tests may run as root, who can write anywhere): creating the temporary
    file beside progress.toml fails with PermissionError."""
    path = tmp_path / "progress.toml"
    real_open = os.open

    def refuse(name, flags, *args):
        if str(name).endswith(".tmp") or ".corrupt-" in str(name):
            raise PermissionError(13, "Permission denied", str(name))
        return real_open(name, flags, *args)

    monkeypatch.setattr("dojo.progress.os.open", refuse)
    progress = Progress(path)
    progress.record_kata(kata(1), 1, 2, "d")
    assert progress.failed and progress.warning.startswith("progress not recorded: cannot write")
    assert "read-only" in progress.warning and len(progress.warning.splitlines()) == 1
    assert not path.exists()


@pytest.mark.skipif(os.name == "nt" or os.geteuid() == 0, reason="POSIX permissions (root writes anyway)")
def test_a_really_read_only_folder_gives_one_line(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        progress = Progress(folder / "progress.toml")
        progress.record_kata(kata(1), 1, 2, "d")
        assert progress.failed and "progress not recorded" in progress.warning
    finally:
        folder.chmod(0o755)
