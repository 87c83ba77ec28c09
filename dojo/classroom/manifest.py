"""``katas/MANIFEST.json``: SHA-256 of every file that can change what a fork's test run says.

A student's fork runs its own tests in CI (``make ci``, fork mode). Those tests only mean something
if everything that runs or configures them is the course's, so the manifest lists a hash of:

- every ``.py`` file under ``katas/`` (the tests, and any conftest or helper a fork might slip in)
  and ``katas/curriculum.toml``;
- the harness, ``dojo/**/*.py`` (the plugin, the judge, the guard, the probes);
- the reference ``solutions/**/*.py`` (fork CI compares the student's code with it);
- the milestones, ``milestones/**/*.py`` and their bundled ``milestones/data`` (fork CI re-derives a
  capstone with milestone 06's training and evaluation code);
- every ``conftest.py``, ``pytest.ini``, ``tox.ini``, ``setup.py``, ``setup.cfg`` and
  ``sitecustomize.py``/``usercustomize.py`` anywhere in the tree (outside ``.git``, ``.venv``,
  ``.dojo`` and caches), so one that is added is caught too;
- the build and run files at the root: ``pyproject.toml``, ``Makefile``, ``MANIFEST.in``, every
  ``*.pth`` file, and every module or package whose name the run could import instead of the real
  one (the harness's own, the standard library's, an installed distribution's): a student's
  ``numpy.py`` at the root is caught, a ``scratch.py`` is not;
- the workflows, ``.github/workflows/*``.

``make ci`` compares the fork against it; ``make test`` fails when it is stale; ``make manifest``
(``python -m dojo manifest``) regenerates it. Line endings are normalised before hashing, so a
Windows checkout hashes like a Linux one.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from dojo import ROOT

FORMAT_VERSION = 1
RELATIVE_PATH = "katas/MANIFEST.json"
ABOUT = (
    "SHA-256 of the files that decide what a fork's test run says (kata tests, curriculum, harness, reference "
    "solutions, conftest/pytest/tox/setup files, pyproject, Makefile, workflows). "
    "Generated: python -m dojo manifest (make manifest). Do not edit by hand."
)
# Root modules fork CI always tracks (the harness's own names), besides any that shadow the
# standard library or an installed distribution.
OWN_NAMES = {"conftest", "setup", "sitecustomize", "usercustomize", "dojo", "katas", "tests", "milestones", "solutions"}
SKIPPED = {".git", ".venv", "venv", ".dojo", "__pycache__", ".hypothesis", ".pytest_cache", "node_modules", ".upstream", ".tox", "build", "dist"}
ANYWHERE = {"conftest.py", "pytest.ini", "tox.ini", "setup.py", "setup.cfg", "sitecustomize.py", "usercustomize.py"}
AT_ROOT = {"pyproject.toml", "Makefile", "MANIFEST.in", "katas/curriculum.toml"}
STUDENT_PACKAGE = "tinytorch"


def tracked_files(root: Path = ROOT) -> list:
    """The repository-relative POSIX paths the manifest covers, sorted."""
    root = Path(root)
    found = set()
    for folder in ("katas", "dojo", "solutions", "milestones"):  # milestones: the capstone re-derivation runs them
        if (root / folder).is_dir():
            found.update(p for p in (root / folder).rglob("*.py") if not SKIPPED & set(p.relative_to(root).parts))
    data = root / "milestones" / "data"  # the bundled data sets the milestones and the capstone check read
    if data.is_dir():
        found.update(p for p in data.rglob("*") if p.is_file() and not SKIPPED & set(p.relative_to(root).parts))
    for name in AT_ROOT:
        if (root / name).is_file():
            found.add(root / name)
    if root.is_dir():
        for entry in root.iterdir():
            if entry.is_file() and (entry.suffix == ".pth" or (entry.suffix == ".py" and _shadows(entry.stem))):
                found.add(entry)
            elif (entry.is_dir() and entry.name not in SKIPPED and entry.name != STUDENT_PACKAGE
                  and (entry / "__init__.py").is_file() and _shadows(entry.name)):
                found.add(entry / "__init__.py")
    workflows = root / ".github" / "workflows"
    if workflows.is_dir():
        found.update(p for p in workflows.iterdir() if p.is_file())
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIPPED]
        found.update(Path(folder) / name for name in files if name in ANYWHERE)
    return sorted(p.relative_to(root).as_posix() for p in found if p.is_file())


def _shadows(name: str) -> bool:
    """Could a root module of this name be imported instead of one the run needs?"""
    if name in OWN_NAMES or name in getattr(sys, "stdlib_module_names", ()) or name in sys.builtin_module_names:
        return True
    try:
        return name in metadata.packages_distributions()
    except Exception:  # a broken distribution's metadata: be safe
        return True


def digest(path: Path) -> str:
    data = Path(path).read_bytes().replace(b"\r\n", b"\n")
    return hashlib.sha256(data).hexdigest()


def compute(root: Path = ROOT) -> dict:
    root = Path(root)
    return {
        "format_version": FORMAT_VERSION,
        "about": ABOUT,
        "files": {rel: digest(root / rel) for rel in tracked_files(root)},
    }


def render(manifest: dict) -> str:
    return json.dumps(manifest, indent=2, sort_keys=True) + "\n"


def write(root: Path = ROOT) -> tuple:
    """Regenerate the manifest. Returns (path, changed: bool)."""
    path = Path(root) / RELATIVE_PATH
    text = render(compute(root))
    old = path.read_text(encoding="utf-8") if path.exists() else None
    if old != text:
        with open(path, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
    return path, old != text


@dataclass
class Verdict:
    """The result of comparing a tree against its committed manifest."""

    modified: list = field(default_factory=list)
    missing: list = field(default_factory=list)
    unexpected: list = field(default_factory=list)
    error: str = ""  # the manifest itself is missing or unreadable

    @property
    def ok(self) -> bool:
        return not (self.modified or self.missing or self.unexpected or self.error)

    def problems(self) -> list:
        out = [self.error] if self.error else []
        out += [f"{rel}: changed (its SHA-256 differs from {RELATIVE_PATH})" for rel in self.modified]
        out += [f"{rel}: deleted (it is listed in {RELATIVE_PATH})" for rel in self.missing]
        out += [f"{rel}: added (not in {RELATIVE_PATH}; it can change how the tests run)" for rel in self.unexpected]
        return out


def load(root: Path = ROOT) -> dict:
    path = Path(root) / RELATIVE_PATH
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION or not isinstance(data.get("files"), dict):
        raise ValueError(f"not a format_version {FORMAT_VERSION} manifest")
    return data


def verify(root: Path = ROOT) -> Verdict:
    """Compare the files of ``root`` with ``root/katas/MANIFEST.json``."""
    root = Path(root)
    verdict = Verdict()
    try:
        expected = load(root)["files"]
    except FileNotFoundError:
        verdict.error = f"{RELATIVE_PATH} is missing, so the kata tests cannot be verified"
        return verdict
    except (ValueError, OSError) as error:
        verdict.error = f"{RELATIVE_PATH} cannot be read ({error})"
        return verdict
    # every file the manifest lists counts wherever it is (whatever this machine would track)
    actual = {rel: digest(root / rel) for rel in set(tracked_files(root)) | {r for r in expected if (root / r).is_file()}}
    for rel, sha in sorted(expected.items()):
        if rel not in actual:
            verdict.missing.append(rel)
        elif actual[rel] != sha:
            verdict.modified.append(rel)
    verdict.unexpected = sorted(set(actual) - set(expected))
    return verdict


def stale(root: Path = ROOT) -> list:
    """Problems for ``make test``: the committed manifest differs from what ``compute`` makes."""
    path = Path(root) / RELATIVE_PATH
    if not path.exists():
        return [f"{RELATIVE_PATH} is missing: run `make manifest` and commit it"]
    if path.read_text(encoding="utf-8") == render(compute(root)):
        return []
    details = verify(root).problems() or ["its formatting differs from the generator's"]
    return [f"{RELATIVE_PATH} is stale: run `make manifest` and commit it"] + details[:20]
