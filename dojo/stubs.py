"""Generate the student's ``tinytorch/`` from ``solutions/tinytorch/``.

Every region between ``### BEGIN SOLUTION <step>`` and ``### END SOLUTION`` becomes one
``raise NotImplementedError(...)`` naming the function, the kata and the step; everything else
(docstrings, signatures, scaffolding) is copied unchanged. The same function can stub a whole
kata, a single step of a kata (for the harness's step-by-step honesty checks), or reveal one
step's solution into a student's file (facilitator mode).
"""

from __future__ import annotations

import ast
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from dojo import ROOT
from dojo.curriculum import Curriculum

SOLUTIONS = ROOT / "solutions" / "tinytorch"
STUDENT = ROOT / "tinytorch"
BACKUPS = ROOT / ".dojo" / "backups"

BEGIN = re.compile(r"^(?P<indent>[ \t]*)### BEGIN SOLUTION(?:[ \t]+(?P<step>\w+))?[ \t]*$")
END = re.compile(r"^[ \t]*### END SOLUTION[ \t]*$")
STUB_MESSAGE = "not implemented yet: {qualname} (kata {kata}, step {number}: {step})"
STUB_PATTERN = re.compile(r"not implemented yet: (?P<qualname>\S+) \(kata (?P<kata>\w+), step (?P<number>\d+): (?P<step>\w+)\)")


class StubError(ValueError):
    """A solution file whose markers are unbalanced, outside a function, or name an unknown step."""


@dataclass(frozen=True)
class Region:
    begin: int  # 0-based line index of the BEGIN marker
    end: int  # 0-based line index of the END marker
    indent: str
    step: str
    qualname: str


def _qualnames(source: str) -> list:
    """(first_line, last_line, qualname) for every function, 1-based inclusive."""
    found = []

    def walk(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{prefix}{child.name}"
                found.append((child.lineno, child.end_lineno, name))
                walk(child, f"{name}.<locals>.")
            elif isinstance(child, ast.ClassDef):
                walk(child, f"{prefix}{child.name}.")

    walk(ast.parse(source), "")
    return found


def regions(source: str, path="<solution>") -> list:
    """Find the solution regions of ``source``; raise StubError on malformed markers."""
    lines = source.splitlines()
    functions = _qualnames(source)
    found, open_at = [], None
    for index, line in enumerate(lines):
        begin, end = BEGIN.match(line), END.match(line)
        if begin:
            if open_at is not None:
                raise StubError(f"{path}:{index + 1}: BEGIN SOLUTION inside another region (opened at line {open_at[0] + 1})")
            if not begin.group("step"):
                raise StubError(f"{path}:{index + 1}: BEGIN SOLUTION needs a step name: '### BEGIN SOLUTION <step>'")
            open_at = (index, begin.group("indent"), begin.group("step"))
        elif end:
            if open_at is None:
                raise StubError(f"{path}:{index + 1}: END SOLUTION without BEGIN SOLUTION")
            start, indent, step = open_at
            enclosing = [f for f in functions if f[0] <= start + 1 <= f[1]]
            if not enclosing:
                raise StubError(f"{path}:{start + 1}: a solution region must sit inside a function")
            qualname = max(enclosing, key=lambda f: f[0])[2]
            found.append(Region(start, index, indent, step, qualname))
            open_at = None
    if open_at is not None:
        raise StubError(f"{path}:{open_at[0] + 1}: BEGIN SOLUTION is never closed")
    return found


def stub_source(source: str, kata, stub_steps=None, path="<solution>") -> str:
    """Return ``source`` with the regions of ``stub_steps`` (default: all) replaced by raises.

    Regions of other steps keep their solution code (without the markers).
    """
    step_numbers = {s.name: s.number for s in kata.steps}
    lines = source.splitlines(keepends=True)
    out, cursor = [], 0
    for region in regions(source, path):
        if region.step not in step_numbers:
            raise StubError(
                f"{path}:{region.begin + 1}: step {region.step!r} is not a step of kata {kata.id} "
                f"({', '.join(step_numbers)})"
            )
        out.extend(lines[cursor : region.begin])
        if stub_steps is None or region.step in stub_steps:
            message = STUB_MESSAGE.format(
                qualname=region.qualname, kata=kata.id, number=step_numbers[region.step], step=region.step
            )
            out.append(f'{region.indent}raise NotImplementedError("{message}")\n')
        else:
            out.extend(lines[region.begin + 1 : region.end])
        cursor = region.end + 1
    out.extend(lines[cursor:])
    return "".join(out)


def strip_markers(source: str, path="<solution>") -> str:
    """The solution itself, without the marker lines (what an implementation tree contains)."""
    lines = source.splitlines(keepends=True)
    marker_lines = set()
    for region in regions(source, path):
        marker_lines.update((region.begin, region.end))
    return "".join(line for i, line in enumerate(lines) if i not in marker_lines)


def solution_files(solutions: Path = SOLUTIONS) -> list:
    """Every file of the solution tree (relative paths), caches excluded."""
    return sorted(
        p.relative_to(solutions)
        for p in solutions.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    )


def expected_stub(curriculum: Curriculum, relpath, solutions: Path = SOLUTIONS, stub_katas=None, stub_steps=None):
    """What ``tinytorch/<relpath>`` should contain.

    ``stub_katas``: ids of katas whose files are stubbed (default: all). Files of other katas get
    their solution with the markers removed. ``stub_steps``: limit stubbing to these step names.
    """
    source_path = solutions / relpath
    if source_path.suffix != ".py":
        return source_path.read_bytes()
    source = source_path.read_text(encoding="utf-8")
    owner = curriculum.owner_of(str(Path(relpath).as_posix()))
    if owner is None:
        if regions(source, source_path):
            raise StubError(f"{source_path}: has solution regions but no kata owns it in curriculum.toml")
        return source
    if stub_katas is not None and owner.id not in stub_katas:
        return strip_markers(source, source_path)
    return stub_source(source, owner, stub_steps, source_path)


def build_tree(curriculum: Curriculum, destination: Path, stub_katas=None, stub_steps=None, solutions: Path = SOLUTIONS) -> Path:
    """Write a whole implementation tree ``destination/tinytorch`` and return ``destination``."""
    package = Path(destination) / "tinytorch"
    for relpath in solution_files(solutions):
        target = package / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        content = expected_stub(curriculum, relpath, solutions, stub_katas, stub_steps)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
    return Path(destination)


def stale_files(curriculum: Curriculum, student: Path = STUDENT, solutions: Path = SOLUTIONS) -> list:
    """Files of ``tinytorch/`` that differ from the generator's output (or are missing/extra)."""
    problems = []
    expected = {rel.as_posix(): rel for rel in solution_files(solutions)}
    for name, rel in expected.items():
        target = student / rel
        content = expected_stub(curriculum, rel, solutions)
        data = content if isinstance(content, bytes) else content.encode("utf-8")
        if not target.exists():
            problems.append(f"tinytorch/{name} is missing")
        elif target.read_bytes() != data:
            problems.append(f"tinytorch/{name} differs from the generated stub")
    for path in student.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts and path.relative_to(student).as_posix() not in expected:
            problems.append(f"tinytorch/{path.relative_to(student).as_posix()} has no solution counterpart")
    return problems


def backup(files, root: Path = ROOT, label: str = "") -> Path | None:
    """Copy ``files`` (absolute paths inside ``root``) into a fresh ``.dojo/backups/<time>`` folder."""
    files = [Path(f) for f in files if Path(f).exists()]
    if not files:
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    folder = BACKUPS / (f"{stamp}-{label}" if label else stamp)
    n = 1
    while folder.exists():
        n += 1
        folder = BACKUPS / f"{stamp}-{label}-{n}"
    for f in files:
        try:
            target = folder / f.resolve().relative_to(Path(root).resolve())
        except ValueError:  # a file outside the repository (tests use temporary trees)
            target = folder / f.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, target)
    return folder


def write_stubs(curriculum: Curriculum, relpaths=None, student: Path = STUDENT, solutions: Path = SOLUTIONS, label="stubs"):
    """Regenerate ``tinytorch/`` files (default: all). Files whose content would change are
    backed up first. Returns (written relpaths, backup folder or None)."""
    relpaths = [Path(p) for p in (relpaths or solution_files(solutions))]
    changes = {}
    for rel in relpaths:
        content = expected_stub(curriculum, rel, solutions)
        data = content if isinstance(content, bytes) else content.encode("utf-8")
        target = student / rel
        if not target.exists() or target.read_bytes() != data:
            changes[target] = data
    folder = backup([t for t in changes if t.exists()], label=label)
    for target, data in changes.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return [t.relative_to(student).as_posix() for t in changes], folder
