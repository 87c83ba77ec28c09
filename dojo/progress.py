"""``progress.toml``: what the student has achieved, written only by the harness.

The file is TOML (readable, hand-editable, comments kept by tomlkit). Every update is a
read-modify-write under a file lock followed by an atomic replace, so two runs that overlap never
lose each other's results. A file that cannot be read is backed up and reported, never silently
dropped.

Format (``format_version = 1``)::

    [katas.01]
    status = "green"            # green | red
    passed = 24
    total = 24
    first_green = "2026-11-22T14:00:00+00:00"
    files_sha256 = "…"          # the kata's own tinytorch files when it was last recorded
    updated = "…"

    [milestones.03]
    unlocked = true
    metric = 0.9712             # best achieved
    achieved = true
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import tomlkit
from filelock import FileLock

from dojo import ROOT

FORMAT_VERSION = 1
DEFAULT_PATH = ROOT / "progress.toml"
HEADER = (
    "TinyTorch Katas progress: written by the harness (make kata, make milestone). Safe to commit.\n"
    "Fork CI never trusts this file: it re-runs the tests."
)


class ProgressError(Exception):
    """progress.toml exists but cannot be used (unparseable, or another format version)."""


def now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def files_digest(root: Path, files) -> str:
    """SHA-256 over the named files of an implementation's tinytorch/ (missing files count too)."""
    digest = hashlib.sha256()
    for name in sorted(files):
        path = Path(root) / "tinytorch" / name
        digest.update(name.encode() + b"\0")
        digest.update(path.read_bytes() if path.exists() else b"<missing>")
    return digest.hexdigest()


def _template() -> tomlkit.TOMLDocument:
    doc = tomlkit.document()
    for line in HEADER.splitlines():
        doc.add(tomlkit.comment(line))
    doc["format_version"] = FORMAT_VERSION
    doc["katas"] = tomlkit.table()
    doc["milestones"] = tomlkit.table()
    return doc


def _parse(text: str, path: Path) -> tomlkit.TOMLDocument:
    if not text.strip():
        return _template()
    try:
        doc = tomlkit.parse(text)
    except Exception as error:
        raise ProgressError(f"{path.name} is not valid TOML ({error})") from None
    version = doc.get("format_version")
    if version != FORMAT_VERSION:
        raise ProgressError(f"{path.name} has format_version {version!r}; this harness reads version {FORMAT_VERSION}")
    for key in ("katas", "milestones"):
        if key not in doc:
            doc[key] = tomlkit.table()
        elif not isinstance(doc[key], dict):
            raise ProgressError(f"{path.name}: [{key}] must be a table")
    return doc


class Progress:
    """Read and update a progress file. ``path=None`` gives an in-memory, never-written record."""

    def __init__(self, path=DEFAULT_PATH):
        self.path = Path(path) if path is not None else None
        self.warning = None

    @property
    def _lock(self) -> FileLock:
        lock_dir = ROOT / ".dojo" / "locks" if self.path.resolve().parent == ROOT.resolve() else self.path.parent
        lock_dir.mkdir(parents=True, exist_ok=True)
        return FileLock(str(lock_dir / f"{self.path.name}.lock"), timeout=60)

    def read(self) -> dict:
        """A plain dict snapshot; an unreadable file reads as empty and sets ``self.warning``."""
        if self.path is None or not self.path.exists():
            return {"katas": {}, "milestones": {}}
        try:
            return _parse(self.path.read_text(encoding="utf-8"), self.path).unwrap()
        except ProgressError as error:
            self.warning = f"{error}. It will be backed up and replaced the next time a kata records progress."
            return {"katas": {}, "milestones": {}}

    def kata(self, kata_id: str) -> dict:
        return self.read()["katas"].get(kata_id, {})

    def update(self, change) -> dict:
        """Apply ``change(doc)`` to the file under the lock and write it atomically.

        Returns the updated snapshot. A corrupt file is backed up (the path is in
        ``self.warning``) and replaced by a fresh one.
        """
        if self.path is None:
            return {"katas": {}, "milestones": {}}
        with self._lock:
            text = self.path.read_text(encoding="utf-8") if self.path.exists() else ""
            try:
                doc = _parse(text, self.path)
            except ProgressError as error:
                backup = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
                shutil.copy2(self.path, backup)
                self.warning = f"{error}. Saved it as {backup.name} and started a fresh record."
                doc = _template()
            change(doc)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                    handle.write(tomlkit.dumps(doc))
                os.replace(tmp, self.path)
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise
            return doc.unwrap()

    def record_kata(self, kata, passed: int, total: int, digest: str, curriculum=None, green=None) -> dict:
        """Record a complete run of a kata. Returns {"first_green": bool, "unlocked": [milestones]}."""
        news = {"first_green": False, "unlocked": []}

        def change(doc):
            katas = doc["katas"]
            entry = katas.get(kata.id)
            if entry is None:
                entry = tomlkit.table()
                katas[kata.id] = entry
            is_green = total > 0 and passed == total if green is None else green
            was_green_ever = "first_green" in entry
            entry["slug"] = kata.slug
            entry["status"] = "green" if is_green else "red"
            entry["passed"] = passed
            entry["total"] = total
            entry["files_sha256"] = digest
            entry["updated"] = now()
            if is_green and not was_green_ever:
                entry["first_green"] = now()
                news["first_green"] = True
            if curriculum is not None and is_green:
                greens = {k for k, v in katas.items() if v.get("status") == "green"}
                for milestone in curriculum.milestones:
                    if kata.id in milestone.requires and set(milestone.requires) <= greens:
                        record = doc["milestones"].get(milestone.id)
                        if record is None:
                            record = tomlkit.table()
                            doc["milestones"][milestone.id] = record
                        if not record.get("unlocked", False):
                            record["unlocked"] = True
                            news["unlocked"].append(milestone)

        self.update(change)
        return news

    def record_milestone(self, milestone, metric: float, achieved: bool) -> None:
        def change(doc):
            record = doc["milestones"].get(milestone.id)
            if record is None:
                record = tomlkit.table()
                doc["milestones"][milestone.id] = record
            record["unlocked"] = True
            best = record.get("metric")
            if best is None or metric > float(best):
                record["metric"] = round(float(metric), 6)
            record["achieved"] = bool(record.get("achieved", False) or achieved)
            record["updated"] = now()

        self.update(change)

    def clear_kata(self, kata_id: str) -> None:
        def change(doc):
            if kata_id in doc["katas"]:
                del doc["katas"][kata_id]

        self.update(change)
