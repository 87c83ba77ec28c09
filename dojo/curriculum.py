"""Read ``katas/curriculum.toml``: the one list of katas, their steps and the milestones.

Nothing else in the project knows the order of the katas; everything asks this module.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from dojo import ROOT

try:  # Python 3.11+
    import tomllib as _toml
except ModuleNotFoundError:  # Python 3.10
    import tomlkit as _toml


def parse_toml(text: str) -> dict:
    """Plain dicts and lists from TOML text (tomllib, or tomlkit on Python 3.10)."""
    data = _toml.loads(text)
    return data.unwrap() if hasattr(data, "unwrap") else data

DEFAULT_PATH = ROOT / "katas" / "curriculum.toml"
STEP_FILE = re.compile(r"^test_(\d\d)_(\w+)\.py$")


class CurriculumError(ValueError):
    """The curriculum file is missing, malformed, or names something that does not exist."""


class UnknownKata(LookupError):
    """A kata or milestone argument (N=99, N=xyz, M=7) that matches nothing."""


@dataclass(frozen=True)
class Step:
    number: int
    name: str
    title: str
    hints: tuple

    def hint(self, level: int = 1) -> str:
        if not self.hints:
            return "(no hint for this step yet)"
        return self.hints[max(1, min(level, len(self.hints))) - 1]


@dataclass(frozen=True)
class Kata:
    id: str
    slug: str
    title: str
    owns: tuple
    requires: tuple
    steps: tuple
    optional: bool = False

    @property
    def dirname(self) -> str:
        return f"{self.id}_{self.slug}"

    @property
    def label(self) -> str:
        return f"{self.id} {self.title}"

    def step(self, name_or_number) -> Step:
        for step in self.steps:
            if str(name_or_number) in (step.name, str(step.number), f"{step.number:02d}"):
                return step
        raise UnknownKata(f"kata {self.id} has no step {name_or_number!r}")


@dataclass(frozen=True)
class Milestone:
    id: str
    title: str
    year: int
    requires: tuple
    module: str
    metric: str
    target: float
    quick_target: float
    description: str = ""

    @property
    def label(self) -> str:
        return f"{self.id} {self.title} ({self.year})"


@dataclass
class Curriculum:
    path: Path
    katas: list = field(default_factory=list)
    milestones: list = field(default_factory=list)

    @property
    def katas_dir(self) -> Path:
        return self.path.parent

    def kata(self, arg) -> Kata:
        """Resolve ``5``, ``05``, ``autograd``, ``05_autograd`` (or a Kata) to a Kata."""
        if isinstance(arg, Kata):
            return arg
        text = str(arg).strip().lower()
        for kata in self.katas:
            if text in (kata.id, kata.slug, kata.dirname) or (text.isdigit() and int(text) == int(kata.id)):
                return kata
        valid = ", ".join(f"{k.id} ({k.slug})" for k in self.katas)
        raise UnknownKata(f"no kata {arg!r}. Valid katas: {valid}")

    def milestone(self, arg) -> Milestone:
        text = str(arg).strip().lower()
        for m in self.milestones:
            if text == m.id or (text.isdigit() and int(text) == int(m.id)) or text == m.module:
                return m
        valid = ", ".join(f"{m.id} ({m.title})" for m in self.milestones) or "none yet"
        raise UnknownKata(f"no milestone {arg!r}. Valid milestones: {valid}")

    def kata_dir(self, kata) -> Path:
        return self.katas_dir / self.kata(kata).dirname

    def kata_for_path(self, path) -> Kata | None:
        """The kata whose test folder contains ``path`` (None outside every kata)."""
        path = Path(path).resolve()
        for kata in self.katas:
            folder = (self.katas_dir / kata.dirname).resolve()
            if path == folder or folder in path.parents:
                return kata
        return None

    def owner_of(self, filename: str) -> Kata | None:
        """The kata that owns ``tinytorch/<filename>``."""
        for kata in self.katas:
            if filename in kata.owns:
                return kata
        return None

    def step_of_test_file(self, path) -> tuple:
        """(kata, step) for a test file named ``test_<NN>_<step>.py`` inside a kata folder."""
        kata = self.kata_for_path(path)
        match = STEP_FILE.match(Path(path).name)
        if kata is None or match is None:
            return kata, None
        number = int(match.group(1))
        if 1 <= number <= len(kata.steps):
            return kata, kata.steps[number - 1]
        return kata, None

    def prerequisites(self, kata) -> list:
        """Every kata that ``kata`` needs, transitively, earliest first."""
        seen, order = set(), []

        def visit(k):
            for req in k.requires:
                r = self.kata(req)
                if r.id not in seen:
                    seen.add(r.id)
                    visit(r)
                    order.append(r)

        visit(self.kata(kata))
        return order

    def unlocked_by(self, kata_id: str) -> list:
        """Milestones that list ``kata_id`` among their requires."""
        return [m for m in self.milestones if kata_id in m.requires]


def load(path=None) -> Curriculum:
    """Load and validate the curriculum (``DOJO_CURRICULUM`` overrides the default path)."""
    path = Path(path or os.environ.get("DOJO_CURRICULUM") or DEFAULT_PATH)
    try:
        raw = parse_toml(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CurriculumError(f"curriculum file not found: {path}") from None
    except Exception as error:  # a TOML syntax error, from either parser
        raise CurriculumError(f"{path}: {error}") from None
    curriculum = Curriculum(path=path)
    for entry in raw.get("kata", []):
        try:
            steps = tuple(
                Step(i, s["name"], s.get("title", s["name"]), tuple(s.get("hints", ())))
                for i, s in enumerate(entry.get("step", []), start=1)
            )
            curriculum.katas.append(
                Kata(
                    id=str(entry["id"]),
                    slug=entry["slug"],
                    title=entry["title"],
                    owns=tuple(entry.get("owns", ())),
                    requires=tuple(str(r) for r in entry.get("requires", ())),
                    steps=steps,
                    optional=bool(entry.get("optional", False)),
                )
            )
        except KeyError as missing:
            raise CurriculumError(f"{path}: a [[kata]] entry lacks {missing}") from None
    for entry in raw.get("milestone", []):
        try:
            curriculum.milestones.append(
                Milestone(
                    id=str(entry["id"]),
                    title=entry["title"],
                    year=int(entry["year"]),
                    requires=tuple(str(r) for r in entry.get("requires", ())),
                    module=entry["module"],
                    metric=entry.get("metric", "accuracy"),
                    target=float(entry["target"]),
                    quick_target=float(entry.get("quick_target", entry["target"])),
                    description=entry.get("description", ""),
                )
            )
        except KeyError as missing:
            raise CurriculumError(f"{path}: a [[milestone]] entry lacks {missing}") from None
    ids = [k.id for k in curriculum.katas]
    if len(set(ids)) != len(ids):
        raise CurriculumError(f"{path}: duplicate kata ids in {ids}")
    for item in [*curriculum.katas, *curriculum.milestones]:
        for req in item.requires:
            if req not in ids:
                raise CurriculumError(f"{path}: {item.id} requires unknown kata {req!r}")
    return curriculum
