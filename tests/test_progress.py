"""progress.toml: atomic, lock-protected updates; corrupt files backed up; hand edits kept."""

import multiprocessing
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
