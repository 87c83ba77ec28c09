"""``make board``: 30 generated students (files and folders, progress.toml and results.json, one
corrupt file, one of another format version) into a terminal table, markdown and one HTML page.
(The page is also rendered in headless Chromium by `make test`: dojo.classroom.board.browser_check.)"""

import json
import re

import pytest

from dojo import curriculum
from dojo.classroom import board
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
        assert any(line.startswith(sym["green"] + " green") for line in lines)  # the legend
        assert "Capstone leaderboard" in text and text.index("Capstone leaderboard") > text.index(sym["green"] + " green")
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
    kata_part, _, leader = text.partition("## Capstone leaderboard")
    rows = [line for line in kata_part.splitlines() if line.startswith("|")]
    assert len([line for line in leader.splitlines() if line.startswith("| ")]) == 1 + 10 + 2 + 1  # header, ranked, missed, invalid
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
    run = {"ci": "github-actions", "repository": "eve/tinytorch-katas", "run_id": "42", "url": "https://github.com/eve/tinytorch-katas/actions/runs/42"}
    data = {"format_version": 1, "kind": "tinytorch-katas-ci", "tampering": [], "katas": {"01": {"status": "green", "passed": 9, "total": 9}}, "milestones": {}, "run": run}
    (folder / "eve" / "artifact" / "results.json").write_text(json.dumps(data), encoding="utf-8")
    (folder / "eve" / "progress.toml").write_text('format_version = 1\n[katas."01"]\nstatus = "red"\n', encoding="utf-8")
    (folder / "mallory.json").write_text(json.dumps(dict(data, tampering=["katas/01_tensor/test_01_creation.py: changed"])), encoding="utf-8")
    (folder / "oscar.json").write_text(json.dumps(dict(data, format_version=3)), encoding="utf-8")
    (folder / "trent.json").write_text("[1, 2", encoding="utf-8")
    (folder / "sam.json").write_text(json.dumps({k: v for k, v in data.items() if k != "run"}), encoding="utf-8")  # `make ci` run at home
    (folder / "empty").mkdir()
    (folder / "notes.txt").write_text("ignored", encoding="utf-8")
    students = {s.name: s for s in board.load_cohort(folder)}
    assert set(students) == {"eve", "mallory", "oscar", "trent", "empty", "sam"}
    assert students["eve"].kind == "verified" and students["eve"].katas["01"]["status"] == "green"  # results.json wins
    assert students["sam"].kind == "self-reported"  # a results.json that records no fork-CI run
    text = board.terminal_table(list(students.values()), c, board.ASCII_SYMBOLS)
    assert re.search(r"^sam \*", text, re.M) and not re.search(r"^eve \*", text, re.M) and "self-reported" in text
    page = board.html_page(list(students.values()), c)
    assert "verified by fork CI run https://github.com/eve/tinytorch-katas/actions/runs/42" in page
    assert "no CI run or --fork check made this results.json" in page
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


# Modules that only run on Linux (the warm server of make kata and its client: fork, Unix sockets
# passing file descriptors, flock), and the guard their only entry point checks first.
LINUX_ONLY = {"warm.py": "if enabled():", "warm_client.py": 'return hasattr(os, "fork") and runner.fork_available()'}


def test_no_posix_only_calls_in_the_harness():
    """Windows: the harness must not use fcntl, termios and friends, and uses SIGALRM and fork only
    behind a ``hasattr(signal, ...)`` / ``hasattr(os, "fork")`` check (a timer thread, a subprocess
    are the fallbacks). Code only:
    names in strings and comments do not count."""
    import io
    import tokenize
    from pathlib import Path

    import dojo

    banned = re.compile(r"\bimport fcntl\b|\bimport termios\b|\bimport tty\b|\bimport pwd\b|\bimport grp\b|os\.getuid|signal\.alarm|\bimport resource\b")
    offenders = []
    for path in sorted(Path(dojo.__file__).parent.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        if path.name in LINUX_ONLY:  # imports nothing POSIX-only at module level; entered only where it runs
            assert not re.search(r"^(import|from) (fcntl|termios|tty|pwd|grp|resource)\b", source, re.M), path.name
            assert LINUX_ONLY[path.name] in source, f"{path.name}: its entry point no longer checks {LINUX_ONLY[path.name]}"
            continue
        lines = {}
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type not in (tokenize.STRING, tokenize.COMMENT):
                lines.setdefault(token.start[0], []).append(token.string)
        code = {n: " ".join(parts).replace(" . ", ".").replace(" .", ".").replace(". ", ".") for n, parts in lines.items()}
        offenders += [f"{path.name}:{n}" for n, line in code.items() if banned.search(line)]
        guarded = 'hasattr(signal, "SIGALRM")' in source or 'hasattr(signal, "setitimer")' in source
        if any("SIGALRM" in line for line in code.values()) and not guarded:
            offenders.append(f"{path.name}: uses SIGALRM without a hasattr(signal, 'SIGALRM') fallback")
        if any(re.search(r"\bos\.fork\b", line) for line in code.values()) and 'hasattr(os, "fork")' not in source:
            offenders.append(f"{path.name}: uses os.fork without a hasattr(os, 'fork') fallback")
    assert offenders == [], offenders


HOSTILE = {
    "long": "x" * 240,
    "newline": "ann\nbob",
    "ansi": "\x1b[2J\x1b[31mred",
    "bidi": "eve\u202egnp.exe",
}


def test_hostile_student_names_are_neutralised_in_terminal_markdown_and_html(tmp_path, c):
    """Names are file names a student chose: 240 characters, newlines, ANSI escapes and bidi
    controls must not break the grid, the terminal or the page."""
    students = [board.read_file(_progress_file(tmp_path, key), name, f"{name}.toml") for key, name in HOSTILE.items()]
    ok = board.Student("ok", kind="claimed")
    outputs = {
        "terminal": board.terminal_table([*students, ok], c, board.ASCII_SYMBOLS),
        "markdown": board.markdown_table([*students, ok], c),
        "html": board.html_page([*students, ok], c),
    }
    for where, text in outputs.items():
        assert "\x1b" not in text and "\u202e" not in text, where
        assert "ann\nbob" not in text, where
        assert "x" * (board.NAME_WIDTH + 1) not in text, where  # 240 characters shortened
    grid = [line for line in outputs["terminal"].splitlines() if f"/{len(c.katas)}" in line]
    assert len(grid) == 5  # one line per student, the newline did not split a row
    ends = {board.display_width(line[: line.index("/")].rsplit(" ", 1)[0]) for line in grid}
    assert len(ends) == 1, "every kata column starts at the same screen column"
    assert board.display_width(grid[0].split("  ")[0]) <= board.NAME_WIDTH + 2
    rows = [line for line in outputs["markdown"].splitlines() if line.startswith("|")]
    assert len(rows) == 2 + 5 + 1


def _progress_file(tmp_path, key):
    path = tmp_path / f"{key}.toml"
    path.write_text('format_version = 1\n[katas."01"]\nstatus = "green"\npassed = 2\ntotal = 2\n', encoding="utf-8")
    return path


@pytest.mark.parametrize("ci", ["", "true"])
def test_without_chromium_make_test_passes_locally_but_fails_under_ci(c, monkeypatch, capsys, ci):
    """`make test` on a laptop without a browser: the one check is named as not run, with how to
    run it, and the suite passes. Under CI (.ci/run sets CI=true and installs one) it fails."""
    from dojo.maintainers import integrity

    monkeypatch.setattr(board, "find_browser", lambda: None)
    monkeypatch.setenv("CI", ci)
    part = integrity.Part("cohort board in headless Chromium")
    integrity.part_board_browser(c, part)
    if ci:
        assert part.problems and "no Chromium found" in part.problems[0]
        return
    assert part.problems == [] and part.skipped
    assert "CHROMIUM=" in part.skipped and "apt-get install chromium" in part.skipped
    integrity._print_part(part)
    assert "not run" in capsys.readouterr().out
    code = integrity.main(c, plan=[("a check that passes", lambda p: None), (part.name, lambda p: integrity.part_board_browser(c, p))])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "integrity: 1 passed, 0 failed, 1 skipped" in out
    assert [line for line in out.splitlines() if line.startswith("not run: cohort board")], out


def test_fork_ci_records_its_run_and_the_board_trusts_only_that(tmp_path, c, monkeypatch):
    for name in ("GITHUB_ACTIONS", "GITHUB_RUN_ID", "GITHUB_REPOSITORY", "GITHUB_SERVER_URL"):
        monkeypatch.delenv(name, raising=False)
    assert board.ci_run_record() == {"ci": "local"}
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_RUN_ID", "7")
    monkeypatch.setenv("GITHUB_REPOSITORY", "ann/tinytorch-katas")
    record = board.ci_run_record()
    assert record["url"] == "https://github.com/ann/tinytorch-katas/actions/runs/7"
    data = {"format_version": 1, "kind": "tinytorch-katas-ci", "katas": {}, "run": record}
    (tmp_path / "ann.json").write_text(json.dumps(data), encoding="utf-8")
    (tmp_path / "bob.json").write_text(json.dumps(dict(data, run={"ci": "local"}, tests_from="fork")), encoding="utf-8")
    (tmp_path / "cat.json").write_text(json.dumps(dict(data, run={"ci": "local"}, tests_from="upstream")), encoding="utf-8")
    kinds = {s.name: s.kind for s in board.load_cohort(tmp_path)}
    assert kinds == {"ann": "verified", "bob": "self-reported", "cat": "verified"}  # cat: a facilitator's --fork check


# -- the capstone leaderboard -------------------------------------------------------------------


def _capstone(folder, name, speedup, size_ratio, loss_delta, beside=False):
    """A schema-valid capstone.json with these three figures (the others consistent with them)."""
    import random

    data = board.sample_capstone(random.Random(0))
    f = data["figures"]
    f["optimized_seconds"] = f["baseline_seconds"] / speedup
    f["speedup"] = f["baseline_seconds"] / f["optimized_seconds"]
    f["speedup_ci"] = [f["speedup"] * 0.9, f["speedup"] * 1.1]
    f["optimized_tokens_per_s"] = f["batch"] * f["new_tokens"] / f["optimized_seconds"]
    f["optimized_bytes"] = int(round(f["baseline_bytes"] / size_ratio))
    f["size_ratio"] = f["baseline_bytes"] / f["optimized_bytes"]
    f["optimized_loss"] = f["baseline_loss"] + loss_delta
    f["loss_delta"] = f["optimized_loss"] - f["baseline_loss"]
    assert board.capstone_check.validate(data) == []
    path = folder / f"{name}.capstone.json" if beside else folder / name / "capstone.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _hand_made_cohort(tmp_path):
    folder = tmp_path / "cohort"
    folder.mkdir()
    progress = 'format_version = 1\n[katas."01"]\nstatus = "green"\npassed = 2\ntotal = 2\n'
    for name in ("amy", "bo", "cy", "dee", "eli"):
        (folder / name).mkdir()
        (folder / name / "progress.toml").write_text(progress, encoding="utf-8")
    (folder / "fay.toml").write_text(progress, encoding="utf-8")
    _capstone(folder, "amy", speedup=4.0, size_ratio=4.0, loss_delta=0.01)  # score 4
    _capstone(folder, "bo", speedup=16.0, size_ratio=4.0, loss_delta=0.049)  # score 8, ranks first
    _capstone(folder, "cy", speedup=100.0, size_ratio=4.0, loss_delta=0.06)  # best ratios, over the bound
    _capstone(folder, "fay", speedup=9.0, size_ratio=1.0, loss_delta=-0.01, beside=True)  # score 3, beside her file
    bad = _capstone(folder, "dee", speedup=20.0, size_ratio=4.0, loss_delta=0.0)
    data = json.loads(bad.read_text(encoding="utf-8"))
    data["figures"]["size_ratio"] = 40.0  # disagrees with the bytes
    bad.write_text(json.dumps(data), encoding="utf-8")
    return folder


def test_leaderboard_ranks_by_the_ratios_and_gates_on_the_quality_bound(tmp_path, c):
    students = board.load_cohort(_hand_made_cohort(tmp_path))
    assert len(students) == 6 and not any(s.error for s in students)  # fay.capstone.json is not a student
    lead = board.leaderboard(students)
    assert [(e["rank"], e["name"]) for e in lead["ranked"]] == [(1, "bo"), (2, "amy"), (3, "fay")]
    assert [e["score"] for e in lead["ranked"]] == pytest.approx([8.0, 4.0, 3.0], rel=1e-6)
    assert [e["name"] for e in lead["missed"]] == ["cy"]  # 20x the score, but 0.06 nats > 0.05
    assert all(e["figures_from"] == "self-reported" for e in lead["ranked"] + lead["missed"])
    text = board.terminal_table(students, c, board.ASCII_SYMBOLS)
    text.encode("ascii")
    part = text[text.index("Capstone leaderboard"):]
    assert part.index("bo") < part.index("amy") < part.index("fay") < part.index("quality bound missed") < part.index("cy")
    assert re.search(r"^\s*1\s+bo \*\s+8\.00\s+16\.00x\s+4\.00x\s+\+0\.0490\s+self-reported$", part, re.M)  # "*": the ASCII trophy (meets the targets)
    assert "eli" not in part  # no capstone.json: not on the leaderboard
    page = board.html_page(students, c)
    assert page.count('<tr class="cap ranked"') == 3 and page.count('<tr class="cap missed"') == 1
    assert page.count('<tr class="student') == 6  # leaderboard rows are not student rows


def test_an_invalid_submission_is_listed_with_its_problem_and_not_ranked(tmp_path, c):
    folder = _hand_made_cohort(tmp_path)
    (folder / "eli" / "capstone.json").write_text("{not json", encoding="utf-8")
    students = board.load_cohort(folder)
    lead = board.leaderboard(students)
    invalid = {e["name"]: e["problem"] for e in lead["invalid"]}
    assert set(invalid) == {"dee", "eli"} and "size_ratio" in invalid["dee"] and "not valid JSON" in invalid["eli"]
    assert "dee" not in [e["name"] for e in lead["ranked"] + lead["missed"]]
    for text in (board.terminal_table(students, c), board.markdown_table(students, c), board.html_page(students, c)):
        assert "figures.size_ratio is 40.0" in text and "not valid JSON" in text
    assert board.html_page(students, c).count('<tr class="cap invalid"') == 2


def test_hostile_names_are_neutralised_in_the_leaderboard(tmp_path, c):
    students = []
    for i, name in enumerate(HOSTILE.values()):
        student = board.Student(board.clean_text(name, board.NAME_WIDTH), kind="claimed")
        student.capstone = board.read_capstone(_capstone(tmp_path, f"s{i}", 4.0 + i, 2.0, 0.01), name + ".capstone.json")
        students.append(student)
    for where, text in {"terminal": board.leaderboard_text(students), "markdown": board.leaderboard_markdown(students),
                        "html": "\n".join(board.leaderboard_html(students))}.items():
        assert text, where
        assert "\x1b" not in text and "\u202e" not in text and "ann\nbob" not in text, where
        assert "x" * (board.NAME_WIDTH + 1) not in text, where
    rows = [line for line in board.leaderboard_text(students).splitlines() if "self-reported" in line and "=" not in line]
    assert len(rows) == len(HOSTILE)  # one line per student: no name split a row


def test_thirty_sample_students_render_a_leaderboard_in_terminal_and_html(cohort, c):
    students = board.load_cohort(cohort)
    assert len(students) == 30
    lead = board.leaderboard(students)
    assert len(lead["ranked"]) == 9 and len(lead["missed"]) == 2 and len(lead["invalid"]) == 1 and len(lead["flagged"]) == 1
    assert sum(e["figures_from"] == "verified" for e in lead["ranked"]) == 8  # fork CI re-derived them; one not yet
    assert all(e["loss_delta"] <= board.QUALITY_BOUND for e in lead["ranked"])
    assert all(e["loss_delta"] > board.QUALITY_BOUND for e in lead["missed"])
    scores = [e["score"] for e in lead["ranked"]]
    assert scores == sorted(scores, reverse=True)
    terminal = board.terminal_table(students, c)
    assert "Capstone leaderboard" in terminal and "quality bound missed" in terminal and "invalid capstone.json" in terminal
    page = board.html_page(students, c)
    assert 'id="leaderboard"' in page and page.count('<tr class="cap ranked"') == 9 and page.count('<tr class="cap flagged"') == 1
    assert page.count('<tr class="student') == 30


# -- capstone figures fork CI re-derived (results.json's "capstone") -----------------------------

CI_RUN = {"ci": "github-actions", "repository": "x/tinytorch-katas", "run_id": "7"}


def _results_with_capstone(folder, name, status, claimed, verified=None, run=CI_RUN, **extra):
    """A results.json whose ``capstone`` record is what fork CI wrote (dojo.classroom.judge.rederive_capstone)."""
    record = {"file": "capstone.json", "status": status, "configuration": "quick", "claimed": claimed,
              "verified": verified, "discrepancies": [], "problems": [], "false_claim": False, **extra}
    data = {"format_version": 1, "kind": "tinytorch-katas-ci", "tampering": [], "run": run,
            "katas": {"01": {"status": "green", "passed": 2, "total": 2}}, "milestones": {}, "capstone": record}
    path = folder / name / "ci-results" / "results.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _figures(speedup, size_ratio, loss_delta):
    return {"speedup": speedup, "size_ratio": size_ratio, "loss_delta": loss_delta, "optimized_bytes": 1000}


def test_the_leaderboard_ranks_fork_ci_verified_figures_as_verified_and_the_rest_as_self_reported(tmp_path, c):
    """A results.json from a CI run whose capstone fork CI verified ranks with the *re-derived* figures,
    marked verified; the same record in a results.json no CI run made stays self-reported; a capstone
    fork CI did not reproduce (a speedup edited upward) or could not re-derive is listed apart, never
    ranked, even beside a valid capstone.json; a capstone.json alone stays self-reported."""
    folder = tmp_path / "cohort"
    folder.mkdir()
    _results_with_capstone(folder, "ver", "verified", _figures(9.0, 4.0, 0.01), _figures(8.0, 4.0, 0.012))
    _results_with_capstone(folder, "loc", "verified", _figures(9.0, 4.0, 0.01), _figures(9.0, 4.0, 0.01), run={"ci": "local"})
    _results_with_capstone(folder, "tam", "not reproduced", _figures(90.0, 4.0, 0.01), _figures(1.1, 4.0, 0.01),
                           discrepancies=["speedup: claimed 90.00×, re-measured 1.10× (95% CI 0.90–1.30): not reproduced"])
    _capstone(folder, "tam", speedup=90.0, size_ratio=4.0, loss_delta=0.01)  # the file beside it changes nothing
    _results_with_capstone(folder, "crash", "failed", _figures(5.0, 4.0, 0.01), problems=["re-deriving failed (exit 1): boom"])
    _results_with_capstone(folder, "later", "not re-derived", _figures(3.0, 4.0, 0.01),
                           reason="a submission in the official configuration re-trains ...")
    (folder / "own").mkdir()
    (folder / "own" / "progress.toml").write_text('format_version = 1\n[katas."01"]\nstatus = "green"\npassed = 2\ntotal = 2\n', encoding="utf-8")
    _capstone(folder, "own", speedup=2.0, size_ratio=4.0, loss_delta=0.0)
    students = board.load_cohort(folder)
    assert not any(s.error for s in students), [s.error for s in students]
    lead = board.leaderboard(students)
    ranked = {e["name"]: e for e in lead["ranked"]}
    assert set(ranked) == {"ver", "loc", "later", "own"}
    assert ranked["ver"]["figures_from"] == "verified" and ranked["ver"]["speedup"] == 8.0  # re-derived, not claimed
    assert ranked["ver"]["score"] == pytest.approx((8.0 * 4.0) ** 0.5)
    assert {ranked[n]["figures_from"] for n in ("loc", "later", "own")} == {"self-reported"}
    flagged = {e["name"]: e["problem"] for e in lead["flagged"]}
    assert set(flagged) == {"tam", "crash"} and "not reproduced by fork CI: speedup: claimed 90.00×" in flagged["tam"]
    assert "could not re-derive" in flagged["crash"]
    terminal = board.terminal_table(students, c, board.ASCII_SYMBOLS)
    part = terminal[terminal.index("Capstone leaderboard"):]
    assert re.search(r"^\s*\d+\s+ver\b.*\bverified$", part, re.M) and re.search(r"^\s*\d+\s+own\b.*\bself-reported$", part, re.M)
    assert part.index(board.FLAGGED_TITLE) < part.index("tam") and "re-derived from the student's code" in part
    page = board.html_page(students, c)
    assert page.count('<tr class="cap ranked"') == 4 and page.count('<tr class="cap flagged"') == 2
    markdown = board.markdown_table(students, c)
    assert "| verified |" in markdown and "not reproduced by fork CI" in markdown


def test_a_capstone_record_that_is_malformed_is_invalid_not_ranked(tmp_path):
    folder = tmp_path / "cohort"
    folder.mkdir()
    _results_with_capstone(folder, "odd", "verified", _figures(9.0, 4.0, 0.01), {"speedup": "fast"})
    _results_with_capstone(folder, "bad", "invalid", None, problems=["figures: missing 'speedup'"])
    lead = board.leaderboard(board.load_cohort(folder))
    assert not lead["ranked"] and {e["name"] for e in lead["invalid"]} == {"odd", "bad"}
    assert any("missing 'speedup'" in e["problem"] for e in lead["invalid"])
