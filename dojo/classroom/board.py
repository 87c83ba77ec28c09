"""``make board DIR=cohort/``: where every student of a cohort is, on one screen.

``DIR`` holds one entry per student: a file (``alice.toml``, ``bob.json``, ``carol.progress.toml``)
or a folder (``dave/``) holding a ``results.json`` (what fork CI verified: preferred) or a
``progress.toml`` (what the student's own runs recorded), at any depth (a downloaded CI artifact
works as it is). A results.json counts as verified when it records the GitHub Actions run that
made it (repository, run id, link), or when its tests came from another checkout than the
student's (``python -m dojo ci --fork``, a facilitator's own verification). One that records
neither (a student's own ``make ci``, or a file written by hand) is marked self-reported, like a
progress.toml. (The file itself is not signed: the run link is there to be checked.) Names come from file and folder names: control
characters (newlines, ANSI escapes) and bidirectional-text controls are replaced by "?", and long
names are shortened, in the terminal, markdown and HTML alike. The board is a student × kata table (✅ green, ❌ red, 🔒 locked, · not started)
with totals and milestones, printed in the terminal, and written as markdown and as one
self-contained HTML page (no scripts, no external files; ``--refresh N`` adds an auto-refresh,
``--watch`` rebuilds it every N seconds) for the projector. A file that cannot be read, or has
another format version, is reported on its own row; it never stops the board.

Under the table, the capstone leaderboard (kata 20). Its figures come from the results.json's
``capstone`` record when fork CI re-derived the student's ``capstone.json`` from their code
(``dojo.classroom.judge.rederive_capstone``): **verified** when the record says so and the results.json
itself is verified (a CI run or a ``--fork`` check); a submission whose claims fork CI did not
reproduce, or could not re-derive, is listed apart and never ranked. Otherwise the student's
``capstone.json`` (in their folder, or ``<name>.capstone.json`` beside their file) gives
**self-reported** figures, ranked and marked as such.
"""

from __future__ import annotations

import html
import json
import os
import sys
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from dojo import ROOT, report
from dojo.classroom import capstone_check
from dojo.curriculum import parse_toml


PROGRESS_VERSION = 1
RESULTS_VERSION = 1
RESULTS_KIND = "tinytorch-katas-ci"
SYMBOLS = {"green": "✅", "red": "❌", "locked": "🔒", "none": "·", "trophy": "🏆", "warning": "⚠"}
ASCII_SYMBOLS = {"green": "ok", "red": "x", "locked": "--", "none": ".", "trophy": "*", "warning": "!"}
SUFFIXES = (".progress", "-progress", "_progress", ".results", "-results", "_results")


@dataclass
class Student:
    name: str
    source: str = ""  # the file read, relative to DIR
    kind: str = ""  # verified (results.json of a CI run) | self-reported (results.json without one) | claimed (progress.toml)
    provenance: str = ""  # why a results.json counts as verified: the CI run's link, or the --fork check
    katas: dict = field(default_factory=dict)  # id -> {"status": green|red, "passed", "total"}
    milestones: dict = field(default_factory=dict)  # id -> {"unlocked", "achieved"}
    error: str = ""
    capstone: dict = None  # kata 20: {"source", "figures", "problems", "figures_from", "flag"} (read_capstone, capstone_from_results)


# -- reading -----------------------------------------------------------------------------------

NAME_WIDTH = 32  # display columns for a student's name: longer ones are shortened with "…"
_BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def clean_text(text, width=None) -> str:
    """``text`` made safe to print: line breaks and tabs become spaces; other control characters
    (ANSI escapes start with one), bidirectional-text controls and other invisible format
    characters become "?"; then shortened to ``width`` display columns with "…"."""
    out = []
    for ch in str(text):
        if ch in "\r\n\t\v\f\x85\u2028\u2029":
            out.append(" ")
        elif ch in _BIDI or unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            out.append("?")
        else:
            out.append(ch)
    text = " ".join("".join(out).split())
    if width is not None and display_width(text) > width:
        cut = []
        for ch in text:
            if display_width("".join(cut) + ch) > width - 1:
                break
            cut.append(ch)
        text = "".join(cut) + "…"
    return text


def ci_run_record() -> dict:
    """What fork CI writes into results.json as ``run``: the GitHub Actions run that made it (the
    board counts a results.json as verified only with one), or ``{"ci": "local"}``."""
    env = os.environ
    if env.get("GITHUB_ACTIONS") == "true" and env.get("GITHUB_RUN_ID") and env.get("GITHUB_REPOSITORY"):
        server = env.get("GITHUB_SERVER_URL") or "https://github.com"
        return {
            "ci": "github-actions", "repository": env["GITHUB_REPOSITORY"], "run_id": env["GITHUB_RUN_ID"],
            "sha": env.get("GITHUB_SHA", ""), "url": f"{server}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}",
        }
    return {"ci": "local"}


def _provenance(data) -> str:
    """Why a results.json can be trusted ('' when it cannot: self-reported)."""
    run = data.get("run")
    if isinstance(run, dict) and run.get("ci") == "github-actions" and run.get("run_id") and run.get("repository"):
        return "fork CI run " + str(run.get("url") or f"https://github.com/{run['repository']}/actions/runs/{run['run_id']}")
    if data.get("tests_from") == "upstream":
        return "the course's own tests (python -m dojo ci --fork, or a pinned upstream)"
    return ""


def _student_name(path: Path) -> str:
    name = path.name
    for ext in (".toml", ".json"):
        if name.endswith(ext):
            name = name[: -len(ext)]
    for suffix in SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
    return name


def read_file(path: Path, name: str, source: str) -> Student:
    """Parse one progress.toml or results.json; problems go to ``Student.error``, never raised."""
    student = Student(name=clean_text(name, NAME_WIDTH), source=clean_text(source, 120))
    source = student.source
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        student.error = f"{source}: cannot be read ({error.__class__.__name__})"
        return student
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except ValueError as error:
            student.error = f"{source}: not valid JSON ({error})"
            return student
        if not isinstance(data, dict) or data.get("kind", RESULTS_KIND) != RESULTS_KIND:
            student.error = f"{source}: not a fork-CI results.json"
            return student
        if data.get("format_version") != RESULTS_VERSION:
            student.error = f"{source}: format_version {data.get('format_version')!r}; this board reads version {RESULTS_VERSION}"
            return student
        student.provenance = clean_text(_provenance(data), 200)
        student.kind = "verified" if student.provenance else "self-reported"
        katas = data.get("katas")
        if not isinstance(katas, dict):
            student.error = f"{source}: no [katas] table"
            return student
        for kid, entry in katas.items():
            if isinstance(entry, dict) and entry.get("status") in ("green", "red", "broken"):
                student.katas[str(kid)] = {
                    "status": "green" if entry["status"] == "green" else "red",
                    "passed": _int(entry.get("passed")),
                    "total": _int(entry.get("total")),
                }
        for mid, entry in (data.get("milestones") or {}).items():
            if isinstance(entry, dict):
                student.milestones[str(mid)] = {"unlocked": bool(entry.get("unlocked")), "achieved": bool(entry.get("achieved"))}
        if isinstance(data.get("capstone"), dict):
            student.capstone = capstone_from_results(data["capstone"], source, trusted=student.kind == "verified")
        if data.get("tampering"):
            student.error = f"{source}: fork CI found changed kata tests, so these results are not trusted"
        return student
    try:
        data = parse_toml(text)
    except Exception as error:  # tomllib and tomlkit raise different types
        student.error = f"{source}: not valid TOML ({str(error).splitlines()[0]})"
        return student
    if hasattr(data, "unwrap"):
        data = data.unwrap()
    if data.get("format_version") != PROGRESS_VERSION:
        student.error = f"{source}: format_version {data.get('format_version')!r}; this board reads version {PROGRESS_VERSION}"
        return student
    student.kind = "claimed"
    katas, milestones = data.get("katas", {}), data.get("milestones", {})
    if not isinstance(katas, dict) or not isinstance(milestones, dict):
        student.error = f"{source}: [katas] and [milestones] must be tables"
        return student
    for kid, entry in katas.items():
        if isinstance(entry, dict) and entry.get("status") in ("green", "red"):
            student.katas[str(kid)] = {"status": entry["status"], "passed": _int(entry.get("passed")), "total": _int(entry.get("total"))}
    for mid, entry in milestones.items():
        if isinstance(entry, dict):
            student.milestones[str(mid)] = {"unlocked": bool(entry.get("unlocked")), "achieved": bool(entry.get("achieved"))}
            if isinstance(entry.get("metric"), (int, float)) and not isinstance(entry.get("metric"), bool):
                student.milestones[str(mid)]["metric"] = float(entry["metric"])  # as make progress shows it
    return student


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _find_in_folder(folder: Path):
    """The best file in a student's folder: results.json (shallowest), else progress.toml."""
    for pattern in ("results.json", "progress.toml"):
        found = sorted(folder.rglob(pattern), key=lambda p: (len(p.relative_to(folder).parts), p.as_posix()))
        if found:
            return found[0]
    return None


CAPSTONE_FILE = "capstone.json"
CAPSTONE_SUFFIX = ".capstone.json"  # beside a student's file: alice.toml + alice.capstone.json


LEADER_KEYS = ("speedup", "size_ratio", "loss_delta")


def _leader_figures(figures):
    """speedup, size_ratio, loss_delta as floats, or None when one is missing or not a finite number."""
    import math

    if not isinstance(figures, dict):
        return None
    out = {}
    for key in LEADER_KEYS:
        value = figures.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return None
        out[key] = float(value)
    return out


def capstone_from_results(cap: dict, source: str, trusted: bool) -> dict:
    """The leaderboard record of a results.json's ``capstone`` (what fork CI made of capstone.json).

    ``verified`` with re-derived figures: ranked with those figures, ``figures_from`` "verified"
    when the results.json is ``trusted`` (a CI run or a --fork check), else "self-reported";
    ``not reproduced`` / ``failed``: ``flag`` says why and the entry is never ranked; ``invalid``:
    its problems; ``not re-derived``: the claimed figures, self-reported."""
    where = f"{clean_text(source, 100)}: capstone"
    record = {"source": where, "figures": None, "problems": [], "figures_from": "self-reported", "flag": ""}
    status = cap.get("status")
    if status == "verified":
        figures = _leader_figures(cap.get("verified"))
        if figures is None:
            record["problems"] = ["fork CI's re-derived figures are missing"]
            return record
        record.update(figures=figures, figures_from="verified" if trusted else "self-reported")
        return record
    if status in ("not reproduced", "failed"):
        why = [str(p) for p in (cap.get("discrepancies") or []) + (cap.get("problems") or [])] or [str(status)]
        record.update(figures=_leader_figures(cap.get("claimed")),
                      flag=clean_text(f"{'not reproduced by fork CI' if status == 'not reproduced' else 'fork CI could not re-derive it'}: "
                                      + "; ".join(why[:2]), 240))
        return record
    if status == "not re-derived":
        figures = _leader_figures(cap.get("claimed"))
        if figures is not None:
            record["figures"] = figures
            return record
    record["problems"] = [clean_text(p, 200) for p in (cap.get("problems") or ["invalid"])][:5]
    return record


def read_capstone(path: Path, source: str) -> dict:
    """Kata 20's submission for the leaderboard: ``{"source", "figures", "problems", "figures_from",
    "flag"}``; ``figures`` (speedup, size_ratio, loss_delta) only when capstone_check.validate finds
    no problem. Nothing is re-run: the figures are the student's own (self-reported; fork CI's
    re-derived ones come with the results.json, :func:`capstone_from_results`)."""
    record = {"source": clean_text(source, 120), "figures": None, "problems": [], "figures_from": "self-reported", "flag": ""}
    try:
        data = capstone_check.load(path)
    except (OSError, UnicodeDecodeError) as error:
        record["problems"] = [f"cannot be read ({error.__class__.__name__})"]
        return record
    except ValueError:
        record["problems"] = ["not valid JSON"]
        return record
    problems = capstone_check.validate(data)
    if problems:
        record["problems"] = [clean_text(p, 200) for p in problems]
        return record
    record["figures"] = {key: float(data["figures"][key]) for key in ("speedup", "size_ratio", "loss_delta")}
    return record


def _find_capstone(folder: Path):
    found = sorted(folder.rglob(CAPSTONE_FILE), key=lambda p: (len(p.relative_to(folder).parts), p.as_posix()))
    return found[0] if found else None


def load_cohort(directory: Path) -> list:
    """One Student per entry of ``directory`` (or a single student for a file), sorted by name.
    A student's ``capstone.json`` (kata 20) sits in their folder (any depth, shallowest wins) or,
    for a student who is one file, beside it as ``<name>.capstone.json``."""
    directory = Path(directory)
    if directory.is_file():
        return [read_file(directory, _student_name(directory), directory.name)]
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: no such folder")
    students = _load_entries(directory)
    capstones = {}
    for entry in directory.iterdir():
        if entry.is_file() and entry.name.endswith(CAPSTONE_SUFFIX) and not entry.name.startswith("."):
            capstones[entry.name[: -len(CAPSTONE_SUFFIX)]] = entry
        elif entry.is_dir() and not entry.name.startswith("."):
            found = _find_capstone(entry)
            if found is not None:
                capstones[entry.name] = found
    by_name = {}
    for student, raw in students:
        by_name.setdefault(raw, student)
    for raw, path in sorted(capstones.items()):
        record = read_capstone(path, path.relative_to(directory).as_posix())
        if raw in by_name:
            known = by_name[raw].capstone
            if known is None or (known["figures_from"] != "verified" and not known["flag"] and known["figures"] is None):
                by_name[raw].capstone = record  # what fork CI recorded wins over the file
        else:  # a capstone.json with no progress file beside it: still a row, and on the leaderboard
            student = Student(name=clean_text(raw, NAME_WIDTH), error=f"{record['source']}: no results.json or progress.toml for this capstone.json")
            student.capstone = record
            students.append((student, raw))
    return sorted((s for s, _ in students), key=lambda s: s.name.lower())


def _load_entries(directory: Path) -> list:
    students = []  # (Student, the raw name capstone files are matched on)
    for entry in sorted(directory.iterdir(), key=lambda p: p.name.lower()):
        if entry.name.startswith(".") or entry.name.startswith("board.") or entry.name.endswith(CAPSTONE_SUFFIX):
            continue
        if entry.is_dir():
            found = _find_in_folder(entry)
            if found is None:
                name = clean_text(entry.name, NAME_WIDTH)
                students.append((Student(name=name, error=f"{clean_text(entry.name, 120)}/: no results.json or progress.toml inside"), entry.name))
            else:
                students.append((read_file(found, entry.name, found.relative_to(directory).as_posix()), entry.name))
        elif entry.suffix in (".toml", ".json"):
            students.append((read_file(entry, _student_name(entry), entry.name), _student_name(entry)))
    return students


# -- the table (pure) --------------------------------------------------------------------------


def cell_status(student: Student, kata, curriculum) -> str:
    """green | red | locked | none (unlocked, not started)."""
    record = student.katas.get(kata.id)
    if record and record["status"] == "green":
        return "green"
    greens = {k for k, v in student.katas.items() if v["status"] == "green"}
    if any(r not in greens for r in kata.requires):
        return "locked"
    return "red" if record else "none"


def milestone_marks(student: Student, curriculum, sym: dict) -> str:
    from dojo.student.milestones import format_metric  # the same form as make milestone and make progress

    greens = {k for k, v in student.katas.items() if v["status"] == "green"}
    marks = []
    for m in curriculum.milestones:
        record = student.milestones.get(m.id, {})
        if record.get("achieved"):
            best = f" {format_metric(record['metric'], m.metric)}" if "metric" in record else ""
            marks.append(f"{sym['trophy']}M{m.id}{best}")
        elif record.get("unlocked") or set(m.requires) <= greens:
            marks.append(f"M{m.id}")
    return " ".join(marks)


def summarize(student: Student, curriculum) -> dict:
    green = sum(student.katas.get(k.id, {}).get("status") == "green" for k in curriculum.katas)
    passed = sum((student.katas.get(k.id, {}).get("passed") or 0) for k in curriculum.katas)
    total = sum((student.katas.get(k.id, {}).get("total") or 0) for k in curriculum.katas)
    return {"green": green, "katas": len(curriculum.katas), "passed": passed, "total": total}


# -- the capstone leaderboard (pure) ------------------------------------------------------------

QUALITY_BOUND = capstone_check.TARGETS["loss_delta"]  # nats: a larger loss delta is not ranked
SCORE_RULE = "score = geometric mean of speedup and size ratio, sqrt(speedup x size ratio)"


def capstone_score(figures: dict) -> float:
    """The leaderboard's score: the geometric mean of the two ratios (both travel across machines)."""
    return (figures["speedup"] * figures["size_ratio"]) ** 0.5


def leaderboard(students) -> dict:
    """``{"ranked", "missed", "flagged", "invalid"}``: students with a valid capstone and a loss
    delta within :data:`QUALITY_BOUND`, best score first (ties by name), verified and self-reported
    alike (``figures_from`` says which); valid ones over the bound (not ranked); submissions fork CI
    did not reproduce or could not re-derive (``flag``: why; never ranked); invalid files with their
    problems. Each entry: ``{"name", "source", ...figures, "score", "targets", "figures_from"}``."""
    ranked, missed, flagged, invalid = [], [], [], []
    for s in students:
        record = s.capstone
        if not record:
            continue
        entry = {"name": clean_text(s.name, NAME_WIDTH), "source": record["source"],
                 "figures_from": record.get("figures_from", "self-reported")}
        if record.get("flag"):
            entry["problem"] = record["flag"]
            flagged.append(entry)
            continue
        if record["figures"] is None:
            entry["problem"] = clean_text("; ".join(record["problems"][:2]) or "invalid", 240)
            invalid.append(entry)
            continue
        figures = record["figures"]
        entry.update(figures, score=capstone_score(figures), targets=capstone_check.meets_targets(figures))
        (ranked if figures["loss_delta"] <= QUALITY_BOUND else missed).append(entry)
    ranked.sort(key=lambda e: (-e["score"], e["name"].lower()))
    missed.sort(key=lambda e: (-e["score"], e["name"].lower()))
    flagged.sort(key=lambda e: e["name"].lower())
    invalid.sort(key=lambda e: e["name"].lower())
    for i, entry in enumerate(ranked, 1):
        entry["rank"] = i
    return {"ranked": ranked, "missed": missed, "flagged": flagged, "invalid": invalid}


FIGURES_LEGEND = ("figures: verified = re-derived from the student's code by a fork-CI run (results.json); "
                  "self-reported = the student's own capstone.json, not re-derived")
FLAGGED_TITLE = "claims fork CI did not reproduce, not ranked"


def _leader_cells(entry, times="×") -> list:
    return [f"{entry['score']:.2f}", f"{entry['speedup']:.2f}{times}", f"{entry['size_ratio']:.2f}{times}",
            f"{entry['loss_delta']:+.4f}", entry["figures_from"]]


LEADER_HEADERS = ["rank", "student", "score", "speedup", "size ratio", "loss delta", "figures"]


def leaderboard_text(students, sym=SYMBOLS) -> str:
    """The leaderboard under the terminal table ('' when no student has a capstone.json)."""
    board = leaderboard(students)
    if not any(board.values()):
        return ""
    plain = sym is ASCII_SYMBOLS
    times, le, ge = ("x", "<=", ">=") if plain else ("×", "≤", "≥")
    rows = [[f"{e['rank']}", e["name"] + (f" {sym['trophy']}" if e["targets"] else ""), *_leader_cells(e, times)] for e in board["ranked"]]
    missed = [["-", e["name"], *_leader_cells(e, times)] for e in board["missed"]]
    widths = [max(display_width(str(r[i])) for r in [LEADER_HEADERS, *rows, *missed]) for i in range(len(LEADER_HEADERS))]

    def line(cells):
        return "  ".join(_pad(str(c), widths[i], right=i in (0, 2, 3, 4, 5)) for i, c in enumerate(cells)).rstrip()

    out = [f"Capstone leaderboard (kata 20): {SCORE_RULE}; ranked only with loss delta {le} {QUALITY_BOUND} nats",
           line(LEADER_HEADERS), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in rows] or ["(no submission within the quality bound yet)"]
    if missed:
        out += ["", f"quality bound missed (loss delta > {QUALITY_BOUND} nats), not ranked:"] + [line(r) for r in missed]
    def said(text):  # a problem's own words, in ASCII when the table is
        if not plain:
            return text
        for a, b in (("×", "x"), ("–", "-"), ("≤", "<="), ("≥", ">="), ("…", "...")):
            text = text.replace(a, b)
        return text.encode("ascii", "replace").decode("ascii")

    if board["flagged"]:
        out += ["", f"{FLAGGED_TITLE}:"]
        out += [f"{sym['warning']} {e['name']}: {e['source']}: {said(e['problem'])}" for e in board["flagged"]]
    if board["invalid"]:
        out += ["", "invalid capstone.json, not ranked:"]
        out += [f"{sym['warning']} {e['name']}: {e['source']}: {said(e['problem'])}" for e in board["invalid"]]
    out += ["", f"{sym['trophy']} meets kata 20's targets (speedup {ge} {capstone_check.TARGETS['speedup']:g}, size ratio "
            f"{ge} {capstone_check.TARGETS['size_ratio']:g}). {FIGURES_LEGEND}"]
    return "\n".join(out)


def leaderboard_markdown(students) -> str:
    board = leaderboard(students)
    if not any(board.values()):
        return ""
    lines = ["", "## Capstone leaderboard (kata 20)", "",
             f"{SCORE_RULE}; ranked only with loss delta ≤ {QUALITY_BOUND} nats.", "",
             "| " + " | ".join(LEADER_HEADERS) + " |", "|---:|---|---:|---:|---:|---:|---|"]
    for e in board["ranked"]:
        lines.append(f"| {e['rank']} | {_md(e['name'])}{' ' + SYMBOLS['trophy'] if e['targets'] else ''} | " + " | ".join(_leader_cells(e)) + " |")
    for e in board["missed"]:
        lines.append(f"| – | {_md(e['name'])} (quality bound missed) | " + " | ".join(_leader_cells(e)) + " |")
    for e in board["flagged"]:
        lines.append(f"| – | {_md(e['name'])} | {SYMBOLS['warning']} {_md(e['problem'])} | | | | |")
    for e in board["invalid"]:
        lines.append(f"| – | {_md(e['name'])} | {SYMBOLS['warning']} invalid: {_md(e['source'])}: {_md(e['problem'])} | | | | |")
    lines += ["", f"{SYMBOLS['trophy']} meets kata 20's targets. {_md(FIGURES_LEGEND)}."]
    return "\n".join(lines) + "\n"


def leaderboard_html(students) -> list:
    board = leaderboard(students)
    if not any(board.values()):
        return []
    e = html.escape
    body = ['<h2 id="capstone">Capstone leaderboard (kata 20)</h2>',
            f'<p class="meta">{e(SCORE_RULE)}; ranked only with loss delta ≤ {QUALITY_BOUND} nats</p>',
            '<table id="leaderboard"><thead><tr>' + "".join(f"<th>{e(h)}</th>" for h in LEADER_HEADERS) + "</tr></thead><tbody>"]
    for entry in board["ranked"]:
        trophy = f' <span title="meets kata 20\'s targets">{SYMBOLS["trophy"]}</span>' if entry["targets"] else ""
        body.append(f'<tr class="cap ranked"><td>{entry["rank"]}</td><td class="name">{e(entry["name"])}{trophy}</td>'
                    + "".join(f"<td>{e(c)}</td>" for c in _leader_cells(entry)) + "</tr>")
    for entry in board["missed"]:
        body.append(f'<tr class="cap missed"><td>–</td><td class="name">{e(entry["name"])} <small>quality bound missed</small></td>'
                    + "".join(f"<td>{e(c)}</td>" for c in _leader_cells(entry)) + "</tr>")
    for entry in board["flagged"]:
        body.append(f'<tr class="cap flagged"><td>–</td><td class="name">{e(entry["name"])}</td>'
                    f'<td class="error" colspan="5">{SYMBOLS["warning"]} {e(entry["problem"])}</td></tr>')
    for entry in board["invalid"]:
        body.append(f'<tr class="cap invalid"><td>–</td><td class="name">{e(entry["name"])}</td>'
                    f'<td class="error" colspan="5">{SYMBOLS["warning"]} invalid: {e(entry["source"])}: {e(entry["problem"])}</td></tr>')
    body.append("</tbody></table>")
    body.append(f'<p class="legend">{SYMBOLS["trophy"]} meets kata 20\'s targets · {e(FIGURES_LEGEND)}</p>')
    return body


def display_width(text: str) -> int:
    width = 0
    for ch in text:
        if unicodedata.combining(ch) or ch == "\ufe0f":
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def _pad(text: str, width: int, right=False) -> str:
    gap = " " * max(0, width - display_width(text))
    return gap + text if right else text + gap


def terminal_table(students, curriculum, sym=SYMBOLS) -> str:
    """A fixed-width grid that stays aligned with emoji (2 columns wide) or ASCII symbols."""
    katas = curriculum.katas
    headers = ["student", *[k.id for k in katas], "katas", "tests", "milestones"]
    rows, notes = [], []
    for s in students:
        if s.error:
            rows.append([clean_text(s.name, NAME_WIDTH), f"{sym['warning']} {clean_text(s.error, 240)}"])
            continue
        cells = [sym[cell_status(s, k, curriculum)] for k in katas]
        total = summarize(s, curriculum)
        tests = f"{total['passed']}/{total['total']}" if total["total"] else ""
        rows.append([clean_text(s.name, NAME_WIDTH) + ("" if s.kind == "verified" else " *"), *cells, f"{total['green']}/{total['katas']}", tests, milestone_marks(s, curriculum, sym)])
    footer = ["green", *[str(sum(cell_status(s, k, curriculum) == "green" for s in students if not s.error)) for k in katas], "", "", ""]
    widths = [max(display_width(str(r[i])) for r in [headers, footer, *[r for r in rows if len(r) > 2]] if i < len(r)) for i in range(len(headers))]
    widths[0] = max([widths[0]] + [display_width(r[0]) for r in rows])

    def line(cells):
        out = []
        for i, cell in enumerate(cells):
            out.append(_pad(str(cell), widths[i], right=0 < i <= len(katas)))
        return "  ".join(out).rstrip()

    out = [line(headers), "  ".join("-" * w for w in widths)]
    for r in rows:
        out.append(line(r) if len(r) > 2 else (_pad(r[0], widths[0]) + "  " + r[1]))
    out.append("  ".join("-" * w for w in widths))
    out.append(line(footer))
    if any(s.kind != "verified" and not s.error for s in students):
        notes.append(f"* {SELF_REPORTED}; others verified by a fork-CI run")
    legend = f"{sym['green']} green  {sym['red']} red  {sym['locked']} locked  {sym['none']} not started  {sym['trophy']} milestone achieved"
    lead = leaderboard_text(students, sym)
    return "\n".join(out + [""] + notes + [legend] + (["", lead] if lead else []))


def markdown_table(students, curriculum) -> str:
    sym = SYMBOLS
    katas = curriculum.katas
    lines = [
        "| student | " + " | ".join(k.id for k in katas) + " | katas | tests | milestones |",
        "|---|" + "---|" * len(katas) + "---|---|---|",
    ]
    for s in students:
        if s.error:
            lines.append(f"| {_md(clean_text(s.name, NAME_WIDTH))} | {sym['warning']} {_md(clean_text(s.error, 240))} |" + " |" * (len(katas) + 2))
            continue
        total = summarize(s, curriculum)
        tests = f"{total['passed']}/{total['total']}" if total["total"] else ""
        cells = " | ".join(sym[cell_status(s, k, curriculum)] for k in katas)
        mark = "" if s.kind == "verified" else " \\*"
        lines.append(f"| {_md(clean_text(s.name, NAME_WIDTH))}{mark} | {cells} | {total['green']}/{total['katas']} | {tests} | {milestone_marks(s, curriculum, sym)} |")
    greens = " | ".join(str(sum(cell_status(s, k, curriculum) == "green" for s in students if not s.error)) for k in katas)
    lines.append(f"| **green** | {greens} | | | |")
    lines.append("")
    lines.append("Katas: " + ", ".join(f"{k.id} {k.title}" for k in katas) + f". \\* {SELF_REPORTED}; others verified by a fork-CI run.")
    return "\n".join(lines) + "\n" + leaderboard_markdown(students)


def _md(text: str) -> str:
    return clean_text(text).replace("|", "\\|")


SELF_REPORTED = "self-reported: from progress.toml, or a results.json no CI run or --fork check made"


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:24px;background:#fafafa;color:#1d1d1f}
h1{font-size:28px;margin:0 0 4px}
.meta{color:#666;margin:0 0 16px}
table{border-collapse:collapse;font-size:18px}
th,td{border:1px solid #ddd;padding:6px 8px;text-align:center}
th{background:#333;color:#fff;position:sticky;top:0}
th.kata{min-width:38px}
td.name{text-align:left;font-weight:600;white-space:nowrap}
td.green{background:#c8f0c8}
td.red{background:#f8d0d0}
td.locked{background:#e4e4e4;color:#777}
td.none{background:#fff;color:#999}
td.error{background:#fff3cd;text-align:left;color:#664d03}
td.count small{display:block;font-size:11px;color:#555}
td.total{font-weight:600}
.bar{height:6px;background:#ddd;border-radius:3px;margin-top:3px}
.bar span{display:block;height:6px;background:#2e9e44;border-radius:3px}
tfoot td{font-weight:600;background:#f0f0f0}
h2{font-size:22px;margin:28px 0 4px}
tr.missed td{color:#777}
.legend{margin-top:14px;color:#444}
.legend span{display:inline-block;padding:2px 8px;margin-right:6px;border:1px solid #ddd}
"""


def html_page(students, curriculum, title="TinyTorch Katas · cohort board", refresh: int = 0, generated: str = "") -> str:
    """One self-contained page: inline CSS, no scripts, no external files."""
    sym = SYMBOLS
    e = html.escape
    katas = curriculum.katas
    head = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
    ]
    if refresh and refresh > 0:
        head.append(f'<meta http-equiv="refresh" content="{int(refresh)}">')
    head += [f"<title>{e(title)}</title>", f"<style>{CSS}</style>", "</head><body>"]
    ok = [s for s in students if not s.error]
    done = sum(summarize(s, curriculum)["green"] == len(katas) for s in ok)
    meta = f"{len(students)} students · {done} finished every kata"
    if generated:
        meta += f" · updated {e(generated)}"
    if refresh:
        meta += f" · refreshes every {int(refresh)} s"
    body = [f"<h1>{e(title)}</h1>", f'<p class="meta">{meta}</p>', '<table id="board">', "<thead><tr><th>student</th>"]
    body += [f'<th class="kata" title="{e(k.title)}">{e(k.id)}</th>' for k in katas]
    body.append("<th>katas</th><th>tests</th><th>milestones</th></tr></thead><tbody>")
    for s in students:
        shown = e(clean_text(s.name, NAME_WIDTH))
        if s.kind == "verified":
            name = f'<span title="verified by {e(s.provenance)}">{shown}</span>'
        else:
            why = "from progress.toml" if s.kind == "claimed" else "self-reported: no CI run or --fork check made this results.json"
            name = f'{shown} <small title="{why}">*</small>'

        if s.error:
            body.append(f'<tr class="student error"><td class="name">{e(clean_text(s.name, NAME_WIDTH))}</td><td class="error" colspan="{len(katas) + 3}">{sym["warning"]} {e(clean_text(s.error, 240))}</td></tr>')
            continue
        cells = []
        for k in katas:
            status = cell_status(s, k, curriculum)
            record = s.katas.get(k.id, {})
            count = f"{record.get('passed')}/{record.get('total')}" if record.get("total") else ""
            tip = f"{k.id} {k.title}: {status}" + (f" ({count})" if count else "")
            small = f"<small>{e(count)}</small>" if status == "red" and count else ""
            cells.append(f'<td class="{status} count" title="{e(tip)}">{sym[status]}{small}</td>')
        total = summarize(s, curriculum)
        pct = int(round(100 * total["green"] / total["katas"])) if total["katas"] else 0
        tests = f"{total['passed']}/{total['total']}" if total["total"] else ""
        body.append(
            f'<tr class="student"><td class="name">{name}</td>{"".join(cells)}'
            f'<td class="total">{total["green"]}/{total["katas"]}<div class="bar"><span style="width:{pct}%"></span></div></td>'
            f"<td>{e(tests)}</td><td>{e(milestone_marks(s, curriculum, sym))}</td></tr>"
        )
    body.append("</tbody><tfoot><tr><td>green</td>")
    body += [f"<td>{sum(cell_status(s, k, curriculum) == 'green' for s in ok)}</td>" for k in katas]
    body.append("<td></td><td></td><td></td></tr></tfoot></table>")
    body.append(
        '<p class="legend">'
        f'<span class="green" style="background:#c8f0c8">{sym["green"]} green</span>'
        f'<span style="background:#f8d0d0">{sym["red"]} red</span>'
        f'<span style="background:#e4e4e4">{sym["locked"]} locked</span>'
        f'<span>{sym["none"]} not started</span>'
        f'<span>{sym["trophy"]} milestone achieved</span>'
        f" * {SELF_REPORTED}; others verified by a fork-CI run</p>"
    )
    body.append('<p class="legend">' + " · ".join(f"{e(k.id)} {e(k.title)}" for k in katas) + "</p>")
    body += leaderboard_html(students)
    return "\n".join(head + body + ["</body></html>", ""])


NAMES = ["ada", "alan", "barbara", "claude", "dennis", "donald", "edsger", "frances", "grace", "guido",
         "hedy", "ivan", "john", "ken", "leslie", "linus", "margaret", "niklaus", "radia", "richard",
         "shafi", "sophie", "tim", "tony", "vint", "whitfield", "yann", "yoshua", "geoffrey", "fei-fei"]


def sample_capstone(rng, quality_ok=True) -> dict:
    """A made-up but schema-valid capstone.json (capstone_check.validate finds no problem)."""
    evaluation = {"new_tokens": 32, "prompt_len": 16, "batch": 4, "rounds": 5}
    base_s = rng.uniform(20.0, 40.0)
    opt_s = base_s / rng.uniform(2.0, 16.0)
    speedup = base_s / opt_s
    base_b = 4 * 800_000
    opt_b = int(base_b / rng.uniform(1.5, 4.5))
    base_loss = rng.uniform(1.4, 1.7)
    opt_loss = base_loss + (rng.uniform(0.0, 0.045) if quality_ok else rng.uniform(0.08, 0.4))
    tokens = evaluation["batch"] * evaluation["new_tokens"]
    figures = dict(evaluation, baseline_seconds=base_s, optimized_seconds=opt_s, baseline_tokens_per_s=tokens / base_s,
                   optimized_tokens_per_s=tokens / opt_s, speedup=speedup, speedup_ci=[speedup * 0.92, speedup * 1.08],
                   baseline_bytes=base_b, optimized_bytes=opt_b, size_ratio=base_b / opt_b, baseline_loss=base_loss,
                   optimized_loss=opt_loss, loss_delta=opt_loss - base_loss, token_agreement=round(rng.uniform(0.9, 1.0), 3))
    return {"format_version": capstone_check.FORMAT_VERSION, "kind": capstone_check.KIND, "created": "2026-01-01T00:00:00",
            "figures": figures, "choices": {"quantize": "int8"}, "environment": {"python": "3.11"},
            "config": {"seed": 0, "model": {"vocab_size": 65, "block_size": 64, "n_layer": 4, "n_head": 4, "n_embd": 128},
                       "evaluation": evaluation}}


def write_sample_cohort(curriculum, folder: Path, n: int = 30, seed: int = 0) -> Path:
    """A made-up cohort for trying the board: progress.toml and results.json files and folders,
    students at every stage, one corrupt file and one of another format version; capstone.json
    submissions (in a student's folder, or ``<name>.capstone.json`` beside their file): most
    within the quality bound, two over it, one invalid (its size_ratio disagrees with its bytes);
    the results.json students' carry fork CI's record of it: verified, one not re-derived
    (self-reported), one whose speedup fork CI did not reproduce (not ranked)."""
    import random

    rng = random.Random(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    katas = curriculum.katas
    for i in range(n):
        name = NAMES[i % len(NAMES)] + ("" if i < len(NAMES) else f"-{i}")
        if i == 7:
            (folder / f"{name}.toml").write_text("format_version = 1\n[katas.01\nstatus = ", encoding="utf-8")
            continue
        if i == 13:
            (folder / f"{name}.toml").write_text("format_version = 2\n[katas]\n", encoding="utf-8")
            continue
        done = rng.randint(0, len(katas))
        records = {}
        for j, kata in enumerate(katas):
            total = 10 + (int(kata.id) * 7) % 40
            if j < done:
                records[kata.id] = ("green", total, total)
            elif j == done:
                records[kata.id] = ("red", rng.randint(0, total - 1), total)
        green = {k for k, r in records.items() if r[0] == "green"}
        milestones = {m.id: set(m.requires) <= green for m in curriculum.milestones}
        if i % 3 == 0:  # fork-CI results.json in an artifact folder
            data = {
                "format_version": RESULTS_VERSION, "kind": RESULTS_KIND, "tampering": [],
                "run": {"ci": "github-actions", "repository": f"{name}/tinytorch-katas", "run_id": str(1000 + i)},
                "katas": {k.id: {"status": records.get(k.id, ("red", 0, 0))[0], "passed": records.get(k.id, ("red", 0, 0))[1],
                                 "total": records.get(k.id, ("red", 0, 10))[2]} for k in katas},
                "milestones": {m: {"unlocked": u} for m, u in milestones.items()},
            }
            target = folder / name / "katas-results" / "results.json"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(data, indent=1), encoding="utf-8")
        else:  # progress.toml, as a file or in a folder
            lines = ["format_version = 1", ""]
            for kid, (status, passed, total) in records.items():
                lines += [f'[katas."{kid}"]', f'status = "{status}"', f"passed = {passed}", f"total = {total}", ""]
            for mid, unlocked in milestones.items():
                if unlocked:
                    lines += [f'[milestones."{mid}"]', "unlocked = true", f"achieved = {'true' if rng.random() < 0.5 else 'false'}", ""]
            target = folder / f"{name}.toml" if i % 3 == 1 else folder / name / "progress.toml"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("\n".join(lines), encoding="utf-8")
        if i % 3 == 0 or i in (5, 17, 22):  # a capstone.json: in the folder, or beside the file
            submission = sample_capstone(rng, quality_ok=i not in (5, 17))
            if i == 22:
                submission["figures"]["size_ratio"] = 9.0  # disagrees with the bytes: invalid
            where = folder / f"{name}{CAPSTONE_SUFFIX}" if i % 3 == 1 else folder / name / CAPSTONE_FILE
            where.write_text(json.dumps(submission, indent=1), encoding="utf-8")
            if i % 3 == 0:  # what fork CI made of it, in the results.json: mostly verified, one not yet, one forged
                claimed = submission["figures"]
                status = "not reproduced" if i == 9 else ("not re-derived" if i == 3 else "verified")
                measured = dict(claimed, speedup=claimed["speedup"] / (8.0 if i == 9 else 1.0))
                record = {"file": CAPSTONE_FILE, "status": status, "configuration": "quick", "claimed": claimed,
                          "verified": None if status == "not re-derived" else measured, "problems": [],
                          "discrepancies": [f"speedup: claimed {claimed['speedup']:.2f}×, re-measured "
                                            f"{measured['speedup']:.2f}×: not reproduced"] if i == 9 else []}
                results = folder / name / "katas-results" / "results.json"
                data = json.loads(results.read_text(encoding="utf-8"))
                data["capstone"] = record
                results.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return folder


# -- the browser check (make test) -------------------------------------------------------------

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome", "msedge")
MAC_BROWSERS = ("/Applications/Chromium.app/Contents/MacOS/Chromium", "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome")


def find_browser():
    """A headless-capable Chromium: $CHROMIUM, then the usual names on PATH, then macOS apps."""
    import shutil

    if os.environ.get("CHROMIUM"):
        return os.environ["CHROMIUM"]
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return next((p for p in MAC_BROWSERS if Path(p).exists()), None)


def chromium(browser, url, *extra, profile, timeout=90):
    import subprocess

    command = [
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-default-apps", "--mute-audio", f"--user-data-dir={profile}", *extra, url,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def _png_size(path: Path) -> tuple:
    data = Path(path).read_bytes()[:32]
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return (0, 0)
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def browser_check(curriculum, n: int = 30) -> tuple:
    """Render the board of ``n`` generated students in headless Chromium: the DOM must hold every
    row (error rows included) and the auto-refresh, and a screenshot must come out. Returns
    (problems, note). Without a browser this is a problem, never a silent pass."""
    import tempfile

    browser = find_browser()
    if not browser:
        return ([
            "no Chromium found, so the cohort board was NOT checked in a browser: install one "
            "(Debian/Ubuntu: apt-get install chromium; .ci/run does that) or set CHROMIUM=/path/to/chrome"
        ], "not run")
    problems = []
    with tempfile.TemporaryDirectory(prefix="dojo-board-") as tmp:
        tmp = Path(tmp)
        cohort = write_sample_cohort(curriculum, tmp / "cohort", n=n)
        students = load_cohort(cohort)
        page = tmp / "board.html"
        page.write_text(html_page(students, curriculum, refresh=30, generated="check"), encoding="utf-8")
        url = page.resolve().as_uri()
        dom = chromium(browser, url, "--dump-dom", profile=tmp / "profile-dom")
        text = dom.stdout
        rows = text.count('<tr class="student')
        errors = text.count('<tr class="student error"')
        expected_errors = sum(1 for s in students if s.error)
        if rows != n:
            problems.append(f"Chromium's DOM has {rows} student rows, expected {n} (exit {dom.returncode}): {dom.stderr.strip()[-500:]}")
        if errors != expected_errors or expected_errors == 0:
            problems.append(f"Chromium's DOM has {errors} error rows, expected {expected_errors} (a corrupt file and another format_version)")
        if 'http-equiv="refresh"' not in text:
            problems.append("the page's auto-refresh <meta http-equiv=refresh> is missing from Chromium's DOM")
        if 'class="green count"' not in text or 'class="locked count"' not in text:
            problems.append("Chromium's DOM lacks green and locked cells")
        ranked = text.count('<tr class="cap ranked"')
        expected_ranked = len(leaderboard(students)["ranked"])
        if 'id="leaderboard"' not in text or ranked != expected_ranked or not expected_ranked:
            problems.append(f"Chromium's DOM has {ranked} ranked capstone rows in the leaderboard, expected {expected_ranked}")
        shot = tmp / "board.png"
        chromium(browser, url, "--hide-scrollbars", "--window-size=1400,1200", f"--screenshot={shot}", profile=tmp / "profile-shot")
        width, height = _png_size(shot) if shot.exists() else (0, 0)
        if (width, height) != (1400, 1200) or not shot.exists() or shot.stat().st_size < 20_000:
            problems.append(f"Chromium's screenshot of the board is missing or blank ({width}x{height})")
    note = f"{Path(browser).name}: {rows} rows ({errors} error rows) rendered, screenshot {width}x{height}"
    return problems, note


# -- command -----------------------------------------------------------------------------------


def build(curriculum, directory, html_path=None, markdown_path=None, refresh=0, out=None) -> list:
    out = out or sys.stdout
    students = load_cohort(Path(directory))
    sym = SYMBOLS if report.symbols(out) is report.EMOJI else ASCII_SYMBOLS
    out.write(terminal_table(students, curriculum, sym) + "\n")
    stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    if markdown_path:
        text = markdown_table(students, curriculum)
        if str(markdown_path) == "-":
            out.write("\n" + text)
        else:
            Path(markdown_path).write_text(text, encoding="utf-8")
            out.write(f"wrote {markdown_path}\n")
    if html_path:
        Path(html_path).write_text(html_page(students, curriculum, refresh=refresh, generated=stamp), encoding="utf-8")
        out.write(f"wrote {html_path}" + (f" (refreshes every {refresh} s)" if refresh else "") + "\n")
    out.flush()
    return students


def add_arguments(parser) -> None:
    parser.add_argument("dir", nargs="?", default=os.environ.get("DIR") or None, help="folder with one file or folder per student")
    parser.add_argument("--html", default=os.environ.get("HTML") or str(ROOT / "board.html"), help="HTML page to write (default board.html; 'none' for no page)")
    parser.add_argument("--markdown", default=os.environ.get("MARKDOWN") or None, help="markdown file to write ('-' prints it)")
    parser.add_argument("--refresh", type=int, default=int(os.environ.get("REFRESH") or 0), help="the page reloads itself every N seconds")
    parser.add_argument("--watch", action="store_true", help="rebuild every --refresh seconds (default 30) until Ctrl-C")


def main(c, args) -> int:
    if not args.dir:
        print("error: which cohort? Say DIR=<folder>, e.g. make board DIR=cohort/ (one progress.toml or results.json per student)", file=sys.stderr)
        return 2
    html_path = None if str(args.html).lower() == "none" else args.html
    if args.watch and not args.refresh:
        args.refresh = 30
    try:
        build(c, args.dir, html_path, args.markdown, args.refresh)
        if args.watch:
            period = args.refresh or 30
            while True:
                time.sleep(period)
                print()
                build(c, args.dir, html_path, args.markdown, args.refresh)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nstopped")
    return 0
