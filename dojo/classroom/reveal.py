"""``make reveal N=05 STEP=2``: write the solution of one step into the student's tinytorch/.

For a facilitator whose room is stuck, or a self-learner who wants to move on. Only the step's own
stubs change: each ``raise NotImplementedError("not implemented yet: <qualname> (kata NN, step K:
name)")`` line of that step is replaced by the matching solution region (``stubs.regions`` of the
solution file), re-indented to where the raise stood. Everything else in the file (the student's
work on other steps, their comments) stays as it is. The file is backed up first; a second reveal
changes nothing. Without ``STEP`` it reveals the first step that is not green.

A function whose stub the student already replaced is left alone and named; ``--force`` replaces
such a function whole, when every solution region in it belongs to the revealed step.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass, field
from pathlib import Path

from dojo import ROOT, stubs
from dojo.curriculum import UnknownKata
from dojo.stubs import STUB_PATTERN


@dataclass
class FileChange:
    relpath: str
    revealed: list = field(default_factory=list)  # qualnames whose stub was replaced
    replaced: list = field(default_factory=list)  # qualnames replaced whole (--force)
    kept: list = field(default_factory=list)  # qualnames the student already wrote (left alone)
    already: list = field(default_factory=list)  # qualnames that already hold the solution
    lines_added: int = 0
    new_source: str = ""
    changed: bool = False


def _stub_lines(lines, kata, step) -> dict:
    """{qualname: [line index, ...]} of the raise lines of ``step`` in the student's source."""
    found = {}
    for index, line in enumerate(lines):
        if "NotImplementedError" not in line:
            continue
        match = STUB_PATTERN.search(line)
        if match and match.group("kata") == kata.id and match.group("step") == step.name and line.lstrip().startswith("raise"):
            found.setdefault(match.group("qualname"), []).append(index)
    return found


def _reindent(body: list, old: str, new: str) -> list:
    out = []
    for line in body:
        if line.strip() and line.startswith(old):
            out.append(new + line[len(old):])
        else:
            out.append(line)
    return out


def _holds_solution(source: str, qualname: str, bodies) -> bool:
    """Does the student's function already contain every solution body (whitespace aside)?"""
    try:
        first, last = _functions(source).get(qualname, (None, None))
    except SyntaxError:
        return False
    if first is None:
        return False
    text = [line.strip() for line in source.splitlines()[first : last + 1]]
    joined = "\n".join(line for line in text if line)
    return all("\n".join(b.strip() for b in body if b.strip()) in joined for body in bodies)


def _functions(source: str) -> dict:
    """{qualname: (first line incl. decorators, last line)} 0-based inclusive, like stubs._qualnames."""
    found = {}

    def walk(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{prefix}{child.name}"
                first = min([child.lineno] + [d.lineno for d in child.decorator_list])
                found[name] = (first - 1, child.end_lineno - 1)
                walk(child, f"{name}.<locals>.")
            elif isinstance(child, ast.ClassDef):
                walk(child, f"{prefix}{child.name}.")

    walk(ast.parse(source), "")
    return found


def plan_file(curriculum, kata, step, relpath: str, student_source: str, solution_source: str, force=False) -> FileChange:
    """Pure: what revealing ``step`` does to one file. ``new_source`` holds the result."""
    change = FileChange(relpath)
    solution_lines = solution_source.splitlines(keepends=True)
    step_regions = [r for r in stubs.regions(solution_source, relpath) if r.step == step.name]
    lines = student_source.splitlines(keepends=True)
    targets = _stub_lines(lines, kata, step)
    replacements = {}  # line index -> new lines
    by_function = {}
    for region in step_regions:
        by_function.setdefault(region.qualname, []).append(region)
    for qualname, regions in by_function.items():
        indices = targets.get(qualname, [])
        for region, index in zip(regions, indices):
            line = lines[index]
            indent = line[: len(line) - len(line.lstrip())]
            body = solution_lines[region.begin + 1 : region.end]
            if line.endswith("\r\n"):  # keep the student's line endings
                body = [b[:-1] + "\r\n" if b.endswith("\n") and not b.endswith("\r\n") else b for b in body]
            replacements[index] = _reindent(body, region.indent, indent)
            change.lines_added += len(body)
        if indices:
            change.revealed.append(qualname)
        elif _holds_solution(student_source, qualname, [solution_lines[r.begin + 1 : r.end] for r in regions]):
            change.already.append(qualname)
        else:
            change.kept.append(qualname)
    new_lines = []
    for index, line in enumerate(lines):
        new_lines.extend(replacements.get(index, [line]))
    new_source = "".join(new_lines)
    if force and change.kept:
        new_source = _force_functions(curriculum, kata, step, relpath, new_source, solution_source, change)
    change.new_source = new_source
    change.changed = new_source != student_source
    return change


def _force_functions(curriculum, kata, step, relpath, source, solution_source, change) -> str:
    """Replace whole functions the student already touched, where that cannot lose other steps' work."""
    other_steps = {s.name for s in kata.steps if s.name != step.name}
    revealed_only = stubs.stub_source(solution_source, kata, stub_steps=other_steps, path=relpath)
    mine = {}
    for region in stubs.regions(solution_source, relpath):
        mine.setdefault(region.qualname, set()).add(region.step)
    theirs = _functions(revealed_only)
    revealed_lines = revealed_only.splitlines(keepends=True)
    for qualname in list(change.kept):
        if mine.get(qualname) != {step.name}:
            continue  # the function also holds other steps: replacing it could erase the student's work
        current = _functions(source)
        if qualname not in current or qualname not in theirs:
            continue
        lines = source.splitlines(keepends=True)
        first, last = current[qualname]
        s_first, s_last = theirs[qualname]
        old_indent = revealed_lines[s_first][: len(revealed_lines[s_first]) - len(revealed_lines[s_first].lstrip())]
        new_indent = lines[first][: len(lines[first]) - len(lines[first].lstrip())]
        body = _reindent(revealed_lines[s_first : s_last + 1], old_indent, new_indent)
        source = "".join(lines[:first] + body + lines[last + 1 :])
        change.kept.remove(qualname)
        change.replaced.append(qualname)
        change.lines_added += len(body)
    return source


def next_unsolved_step(curriculum, kata):
    """The first step that is not green, from a quiet run (no gate, nothing recorded); None when green."""
    from dojo.student.runner import kata_results

    result = kata_results(curriculum, kata)
    if result.get("status") == "broken":
        raise UnknownKata(
            f"kata {kata.id} cannot be imported ({(result.get('message') or '').splitlines()[0]}); "
            f"fix that, or say which step: make reveal N={kata.id} STEP=1"
        )
    for s in result.get("steps", []):
        if s["status"] != "green":
            return kata.step(s["number"])
    return None


def reveal(curriculum, kata, step, student: Path = stubs.STUDENT, solutions: Path = stubs.SOLUTIONS, force=False, write=True) -> tuple:
    """Reveal ``step`` in every file the kata owns. Returns ([FileChange], backup folder or None)."""
    changes = []
    for relpath in kata.owns:
        solution_path = Path(solutions) / relpath
        student_path = Path(student) / relpath
        solution_source = solution_path.read_text(encoding="utf-8")
        student_source = student_path.read_text(encoding="utf-8") if student_path.exists() else stubs.expected_stub(curriculum, relpath, Path(solutions))
        change = plan_file(curriculum, kata, step, relpath, student_source, solution_source, force=force)
        if change.revealed or change.replaced or change.kept or change.already:
            changes.append(change)
    folder = None
    if write:
        touched = [Path(student) / c.relpath for c in changes if c.changed]
        folder = stubs.backup(touched, label=f"reveal-{kata.id}-step{step.number}")
        for c in changes:
            if c.changed:
                target = Path(student) / c.relpath
                target.parent.mkdir(parents=True, exist_ok=True)
                with open(target, "w", encoding="utf-8", newline="") as handle:
                    handle.write(c.new_source)
    return changes, folder


def describe(kata, step, changes, folder) -> str:
    lines = []
    head = f"kata {kata.id} {kata.title}, step {step.number} ({step.name}): {step.title}"
    if not changes:
        return f"{head}\n  no solution region for this step in {', '.join(kata.owns)}: nothing to reveal"
    for c in changes:
        if c.revealed:
            lines.append(f"  revealed in tinytorch/{c.relpath}: {', '.join(c.revealed)}")
        if c.replaced:
            lines.append(f"  replaced whole (--force) in tinytorch/{c.relpath}: {', '.join(c.replaced)}")
        if c.already:
            lines.append(f"  already revealed in tinytorch/{c.relpath}: {', '.join(c.already)}")
        if c.kept:
            lines.append(
                f"  left alone in tinytorch/{c.relpath} (already written by you, not a stub): {', '.join(c.kept)}"
                " · add --force to replace them"
            )
    changed = any(c.changed for c in changes)
    if not changed:
        lines.append("  nothing changed")
    if folder is not None:
        try:
            shown = folder.relative_to(ROOT).as_posix()
        except ValueError:
            shown = str(folder)
        lines.append(f"  your previous version is saved in {shown}")
    if changed:
        lines.append(f"  next: make kata N={kata.id}")
    return "\n".join([head, *lines])


def add_arguments(parser) -> None:
    parser.add_argument("step", nargs="?", default=os.environ.get("STEP") or None, help="step number or name (default: the first step that is not green)")
    parser.add_argument("--force", action="store_true", help="also replace functions you already started, when that loses no other step's work")


def main(c, args) -> int:
    kata = c.kata(args.kata)
    if args.step:
        step = kata.step(args.step)
    else:
        step = next_unsolved_step(c, kata)
        if step is None:
            print(f"kata {kata.id} {kata.title} is green: nothing to reveal")
            return 0
    changes, folder = reveal(c, kata, step, force=args.force)
    print(describe(kata, step, changes, folder))
    return 0
