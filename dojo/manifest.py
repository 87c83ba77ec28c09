"""``katas/MANIFEST.json``: SHA-256 of every file fork CI has to trust.

A student's fork runs its own tests in CI (``make ci``). Those tests only mean something if they are
the course's tests, so the manifest lists a hash of each file that decides what a test run says:
every ``.py`` file under ``katas/`` (the tests, and any conftest or helper a fork might slip in),
``katas/curriculum.toml``, the root ``conftest.py``, ``pyproject.toml`` (pytest's configuration) and
the harness ``dojo/*.py``. ``make ci`` compares the fork against it; ``make test`` fails when it is
stale; ``make manifest`` (``python -m dojo manifest``) regenerates it.

Line endings are normalised before hashing, so a Windows checkout hashes like a Linux one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from dojo import ROOT

FORMAT_VERSION = 1
RELATIVE_PATH = "katas/MANIFEST.json"
ABOUT = (
    "SHA-256 of the files fork CI trusts (kata tests, curriculum, conftest, pytest config, harness). "
    "Generated: python -m dojo manifest (make manifest). Do not edit by hand."
)


def tracked_files(root: Path = ROOT) -> list:
    """The repository-relative POSIX paths the manifest covers, sorted."""
    root = Path(root)
    found = set()
    for folder in ("katas", "dojo"):
        if (root / folder).is_dir():
            found.update(p for p in (root / folder).rglob("*.py") if "__pycache__" not in p.parts)
    for name in ("katas/curriculum.toml", "conftest.py", "pyproject.toml"):
        if (root / name).is_file():
            found.add(root / name)
    return sorted(p.relative_to(root).as_posix() for p in found if p.is_file())


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
        out += [f"{rel}: added (not in {RELATIVE_PATH}; .py files under katas/ and dojo/ decide what the tests say)" for rel in self.unexpected]
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
    actual = {rel: digest(root / rel) for rel in tracked_files(root)}
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
