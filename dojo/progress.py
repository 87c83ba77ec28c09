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
    metric = 0.9712             # the best run's result ...
    target = 0.97               # ... the target for the data set that run used ...
    dataset = "MNIST"           # ... and that data set (M03: MNIST, a reduced MNIST or the 8×8 digits)
    achieved = true
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from dojo import ROOT

try:  # reading: the standard library's parser, ~10x faster than tomlkit (Python 3.11+)
    import tomllib as _reader
except ModuleNotFoundError:  # Python 3.10
    _reader = None


class _Lazy:
    """``tomlkit`` (writing, keeps comments) and ``filelock``, imported when a run first records
    something: a run that only reads progress, or records nothing, does not pay for them."""

    def __init__(self, module):
        self._module = module

    def __getattr__(self, name):
        import importlib

        return getattr(importlib.import_module(self._module), name)


tomlkit = _Lazy("tomlkit")

FORMAT_VERSION = 1
DEFAULT_PATH = ROOT / "progress.toml"
HEADER = (
    "TinyTorch Katas progress: written by the harness (make kata, make milestone). Safe to commit.\n"
    "Fork CI never trusts this file: it re-runs the tests."
)


class ProgressError(Exception):
    """progress.toml exists but cannot be used (not UTF-8, not TOML, the wrong shape, another format version)."""


class ProgressWriteError(ProgressError):
    """progress.toml cannot be written (a read-only file or folder, a full disk)."""


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


def _template():
    doc = tomlkit.document()
    for line in HEADER.splitlines():
        doc.add(tomlkit.comment(line))
    doc["format_version"] = FORMAT_VERSION
    doc["katas"] = tomlkit.table()
    doc["milestones"] = tomlkit.table()
    return doc


# What each entry may hold: a key of the wrong type makes the whole file corrupt (backed up, replaced).
_KATA_FIELDS = {"slug": str, "status": str, "passed": int, "total": int, "first_green": str, "files_sha256": str, "updated": str}
_MILESTONE_FIELDS = {"unlocked": bool, "achieved": bool, "metric": (int, float), "target": (int, float), "dataset": str,
                     "updated": str}


def _check_shape(doc, name: str) -> None:
    for key, fields in (("katas", _KATA_FIELDS), ("milestones", _MILESTONE_FIELDS)):
        table = doc[key]
        if not isinstance(table, dict):
            raise ProgressError(f"{name}: [{key}] must be a table, not {type(table).__name__}")
        for entry_id, entry in table.items():
            if not isinstance(entry, dict):
                raise ProgressError(f'{name}: {key}."{entry_id}" must be a table, not {entry!r:.40}')
            for field, kind in fields.items():
                value = entry.get(field)
                wrong_bool = isinstance(value, bool) and kind in (int, (int, float))
                if value is not None and (not isinstance(value, kind) or wrong_bool):
                    raise ProgressError(f'{name}: {key}."{entry_id}".{field} has the wrong type ({value!r:.40})')
            if key == "katas" and entry.get("status") not in (None, "green", "red"):
                raise ProgressError(f'{name}: katas."{entry_id}".status must be "green" or "red", not {entry.get("status")!r:.40}')


def _parse(data: bytes, path: Path, plain: bool = False):
    """The file as a tomlkit document (for an update), or as plain dicts (``plain``: for reading,
    parsed by tomllib where there is one). Raises ProgressError for anything unusable."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ProgressError(f"{path.name} is not UTF-8 text (byte {error.start} is {data[error.start:error.start + 1]!r})") from None
    if not text.strip():
        return _template().unwrap() if plain else _template()
    try:
        doc = _reader.loads(text) if plain and _reader is not None else tomlkit.parse(text)
    except Exception as error:  # tomlkit raises several types, some not ParseError
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ProgressError(f"{path.name} is not valid TOML ({first})") from None
    version = doc.get("format_version")
    if version != FORMAT_VERSION:
        raise ProgressError(f"{path.name} has format_version {version!r:.40}; this harness reads version {FORMAT_VERSION}")
    for key in ("katas", "milestones"):
        if key not in doc:
            doc[key] = {} if plain else tomlkit.table()
    _check_shape(doc, path.name)
    return doc.unwrap() if plain and hasattr(doc, "unwrap") else doc


def _backup_path(path: Path) -> Path:
    """A new, unused name beside ``path``: progress.toml.corrupt-20261122-140000[-2, -3, ...]."""
    stem = f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}"
    for n in range(1, 1000):
        candidate = path.with_name(stem if n == 1 else f"{stem}-{n}")
        try:
            fd = os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return candidate
    raise ProgressWriteError(f"cannot find a free backup name for {path.name}")


def _why(error: OSError, path: Path) -> str:
    if isinstance(error, PermissionError):
        return f"permission denied: {path.parent} or {path.name} is read-only"
    return error.strerror or type(error).__name__


class Progress:
    """Read and update a progress file. ``path=None`` gives an in-memory, never-written record.

    Nothing here raises for a bad or unwritable file: ``warning`` says what happened in one line
    (and ``failed`` is True when an update could not be written).
    """

    def __init__(self, path=DEFAULT_PATH):
        self.path = Path(path) if path is not None else None
        self.warning = None
        self.failed = False
        self._cached = (None, None)  # (the file's stat key, its parsed snapshot)

    @property
    def _lock(self):
        folder = ROOT / ".dojo" / "locks" if self.path.resolve().parent == ROOT.resolve() else self.path.parent
        name = f"{self.path.name}.lock"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            usable = os.access(folder, os.W_OK)
        except OSError:
            usable = False
        if not usable:  # a read-only checkout: lock in the temporary folder (the write then says why it fails)
            folder = Path(tempfile.gettempdir())
            name = f"dojo-{hashlib.sha256(str(self.path.resolve()).encode()).hexdigest()[:16]}-{name}"
        from filelock import FileLock

        return FileLock(str(folder / name), timeout=60)

    def _bytes(self) -> bytes:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return b""
        except OSError as error:
            raise ProgressError(f"{self.path.name} cannot be read ({_why(error, self.path)})") from None

    def read(self) -> dict:
        """A plain dict snapshot; an unusable file reads as empty and sets ``self.warning``.

        Parsed again only when the file changed (gating asks about every prerequisite); callers
        must not modify the snapshot."""
        if self.path is None:
            return {"katas": {}, "milestones": {}}
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return {"katas": {}, "milestones": {}}
        except OSError:
            stat = None
        key = (stat.st_mtime_ns, stat.st_size, stat.st_ino) if stat is not None else None
        if key is not None and self._cached[0] == key:
            return self._cached[1]
        try:
            snapshot = _parse(self._bytes(), self.path, plain=True)
        except ProgressError as error:
            if self.warning is None:
                self.warning = f"{error}. It will be backed up and replaced the next time progress is recorded."
            return {"katas": {}, "milestones": {}}
        self._cached = (key, snapshot)
        return snapshot

    def kata(self, kata_id: str) -> dict:
        return self.read()["katas"].get(kata_id, {})

    def repair(self) -> None:
        """Back up and replace the file if it is corrupt (a good file is left untouched)."""
        if self.path is not None and self.path.exists():
            self.update(None)

    def update(self, change) -> dict:
        """Apply ``change(doc)`` to the file under the lock and write it atomically.

        Returns the updated snapshot. A corrupt file is backed up (the path is in
        ``self.warning``) and replaced by a fresh one. A file that cannot be written is left as it
        is: ``self.failed`` is set and ``self.warning`` says why. ``change=None`` only repairs.
        """
        if self.path is None:
            return {"katas": {}, "milestones": {}}
        try:
            with self._lock:
                return self._update_locked(change)
        except ProgressError as error:  # read-only, or unreadable (a folder, no permission)
            self.failed = True
            self.warning = f"progress not recorded: {error}"
        except OSError as error:  # the lock, the backup, the temporary file, the replace
            self.failed = True
            self.warning = f"progress not recorded: cannot write {self.path} ({_why(error, self.path)})"
        return self.read() if not self.failed else {"katas": {}, "milestones": {}}

    def _update_locked(self, change) -> dict:
        data = self._bytes()
        existing = self.path.exists()
        try:
            doc = _parse(data, self.path)
        except ProgressError as error:
            self._check_writable()
            backup = _backup_path(self.path)
            backup.write_bytes(data)
            self.warning = f"{error}. Saved it as {backup.name} and started a fresh record."
            doc = _template()
        else:
            if change is None:
                return doc.unwrap()
        if change is not None:
            change(doc)
        if existing:
            self._check_writable()
        self._write(tomlkit.dumps(doc), self.path.stat().st_mode if existing else None)
        return doc.unwrap()

    def _check_writable(self) -> None:
        mode = self.path.stat().st_mode
        if not mode & stat.S_IWUSR:
            raise ProgressWriteError(
                f"{self.path.name} is read-only (mode {stat.S_IMODE(mode):04o}); make it writable "
                f"(chmod u+w {self.path.name}) to record progress"
            )

    def _write(self, text: str, mode) -> None:
        """Write beside the file, keep the file's permissions, then replace it atomically."""
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
        try:
            fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)  # the umask applies
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
            if mode is not None:
                os.chmod(tmp, stat.S_IMODE(mode))
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

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

    def record_milestone(self, milestone, metric: float, achieved: bool, target=None, dataset=None) -> None:
        """Record a milestone run. The best run is kept with its own target and data set (they
        differ per data set: M03's bundled digits need 95%, MNIST 97%, a quick run less): best
        means reaching its target first, then the more demanding target, then the higher metric."""
        target = float(milestone.target if target is None else target)

        def rank(value, goal):
            return (value >= goal, goal, value)

        def change(doc):
            record = doc["milestones"].get(milestone.id)
            if record is None:
                record = tomlkit.table()
                doc["milestones"][milestone.id] = record
            record["unlocked"] = True
            best = record.get("metric")
            best_target = float(record.get("target", milestone.target))
            if best is None or rank(float(metric), target) > rank(float(best), best_target):
                record["metric"] = round(float(metric), 6)
                record["target"] = round(target, 6)
                if dataset:
                    record["dataset"] = str(dataset)
                elif "dataset" in record:
                    del record["dataset"]
            record["achieved"] = bool(record.get("achieved", False) or achieved)
            record["updated"] = now()

        self.update(change)

    def clear_kata(self, kata_id: str) -> None:
        def change(doc):
            if kata_id in doc["katas"]:
                del doc["katas"][kata_id]

        self.update(change)
