"""What a student sees: the step table, the first failure, the closing RED/GREEN line.

Pure functions from results to text, so the plugin, ``make present`` and the tests share them.
Symbols fall back to ASCII on consoles that cannot print emoji (or with ``DOJO_ASCII=1``).
"""

from __future__ import annotations

import inspect
import os
import sys
from dataclasses import dataclass, field

from tabulate import tabulate

EMOJI = {"green": "✅", "red": "❌", "todo": "⏳", "locked": "🔒", "trophy": "🏆", "broken": "💥", "timeout": "⏰"}
ASCII = {"green": "[ok]", "red": "[x]", "todo": "[..]", "locked": "[locked]", "trophy": "[*]", "broken": "[!]", "timeout": "[timeout]"}


def symbols(stream=None) -> dict:
    """Emoji when the output stream can encode them, ASCII otherwise."""
    if os.environ.get("DOJO_ASCII", "").strip() in ("1", "true", "yes"):
        return ASCII
    encoding = getattr(stream or sys.stdout, "encoding", None) or "ascii"
    try:
        "".join(EMOJI.values()).encode(encoding)
        "·…→".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return ASCII
    return EMOJI


def dot(sym) -> str:
    return " · " if sym is EMOJI else " - "


@dataclass
class TestResult:
    nodeid: str
    name: str
    step: object  # curriculum.Step
    outcome: str  # passed | failed | todo | timeout | skipped | notrun
    doc: str = ""
    location: str = ""  # katas/01_tensor/test_02_arithmetic.py:41
    message: str = ""  # the assertion / exception text
    where: str = ""  # deepest frame of the student's code, scaffolding skipped: Tensor.sum in tinytorch/tensor.py:537
    todo: str = ""  # "Tensor.__add__ in tinytorch/tensor.py:88" for NotImplementedError stubs
    hint: str = ""  # the test's own hint: the "Hint:" paragraph of its docstring (not part of ``doc``)
    output: str = ""  # what the test printed (captured stdout/stderr), kept for tests that did not pass


@dataclass
class KataResult:
    kata: object
    tests: list = field(default_factory=list)
    status: str = ""  # green | red | locked | broken
    message: str = ""  # for locked / broken
    next_katas: list = field(default_factory=list)  # katas that require this one
    missing: list = field(default_factory=list)  # step test files not on disk: katas/01_tensor/test_05_reductions.py
    interrupted: bool = False  # Ctrl-C stopped the run: nothing was recorded

    @property
    def passed(self) -> int:
        return sum(t.outcome == "passed" for t in self.tests)

    @property
    def total(self) -> int:
        return len(self.tests)

    def steps(self) -> list:
        """[(step, tests of that step)] in step order."""
        return [(s, [t for t in self.tests if t.step is s]) for s in self.kata.steps]

    def first_failure(self):
        """The first test in step order that ran and did not pass (else the first not run)."""
        pending = [t for _, tests in self.steps() for t in tests if t.outcome != "passed"]
        return next((t for t in pending if t.outcome != "notrun"), pending[0] if pending else None)

    def step_status(self, tests) -> str:
        if not tests:
            return "none"  # no test of this step ran (filtered with -k, or a step without tests)
        if all(t.outcome == "passed" for t in tests):
            return "green"
        if any(t.outcome == "timeout" for t in tests):
            return "timeout"
        if any(t.outcome == "todo" for t in tests):
            return "todo"
        if all(t.outcome == "notrun" for t in tests):
            return "notrun"
        return "red"

    def to_json(self) -> dict:
        """What ``--dojo-results`` writes: totals, steps, outcomes, and each test's details."""
        return {
            "id": self.kata.id,
            "slug": self.kata.slug,
            "title": self.kata.title,
            "status": self.status,
            "passed": self.passed,
            "total": self.total,
            "message": self.message,
            "missing_files": list(self.missing),
            "interrupted": self.interrupted,
            "steps": [
                {"number": s.number, "name": s.name, "title": s.title, "passed": sum(t.outcome == "passed" for t in ts),
                 "total": len(ts), "status": self.step_status(ts)}
                for s, ts in self.steps()
            ],
            "tests": {t.nodeid: t.outcome for t in self.tests},
            "details": [
                {"name": t.name, "step": t.step.number, "outcome": t.outcome, "doc": t.doc, "location": t.location,
                 "message": t.message, "where": t.where, "todo": t.todo, "hint": t.hint, "output": t.output[-OUTPUT_CHARS:]}
                for t in self.tests
            ],
        }


HINT_PREFIX = "Hint:"
OUTPUT_LINES = 12  # the last lines of a failing test's captured output shown in the summary
OUTPUT_CHARS = 4000  # kept per failing test in --dojo-results


def split_hint(doc: str) -> tuple:
    """``(intent, hint)`` from a test's docstring.

    A test's own hint is a paragraph of its docstring that starts with ``Hint:`` (by convention
    the last one): one or more sentences, possibly over several lines, up to a blank line. It is
    not part of the intent. ``hint`` is that paragraph without the prefix, on one line ("" when
    the docstring has none).

    >>> split_hint("Adds elementwise.\n\nHint: np.add broadcasts;\nreturn its result.")
    ('Adds elementwise.', 'np.add broadcasts; return its result.')
    """
    paragraphs, current = [], []
    for line in inspect.cleandoc(doc or "").splitlines():
        if line.strip():
            current.append(line)
        elif current:
            paragraphs.append(current)
            current = []
    if current:
        paragraphs.append(current)
    intent, hint = [], ""
    for paragraph in paragraphs:
        first = paragraph[0].lstrip()
        if not hint and first[: len(HINT_PREFIX)].lower() == HINT_PREFIX.lower():
            hint = " ".join(" ".join([first[len(HINT_PREFIX):], *paragraph[1:]]).split())
        else:
            intent.append("\n".join(paragraph))
    return "\n\n".join(intent), hint


def _truncate(text: str, lines: int = 14, width: int = 160) -> str:
    out = [line if len(line) <= width else line[: width - 1] + "…" for line in text.strip().splitlines()]
    if len(out) > lines:
        out = out[:lines] + [f"… ({len(out) - lines} more lines)"]
    return "\n".join(out)


def step_table(result: KataResult, sym: dict) -> str:
    rows = []
    for step, tests in result.steps():
        status = result.step_status(tests)
        passed = sum(t.outcome == "passed" for t in tests)
        if status == "green":
            text = sym["green"]
        elif status == "todo":
            first = next((t for t in tests if t.outcome == "todo"), None)
            text = f"{sym['todo']} not implemented yet" + (f": {first.todo}" if first and first.todo else "")
        elif status == "timeout":
            text = f"{sym['timeout']} timed out (infinite loop?)"
        elif status == "notrun":
            text = "not run (the run stopped early)"
        elif status == "none":
            missing = [m for m in result.missing if m.rsplit("/", 1)[-1] == f"test_{step.number:02d}_{step.name}.py"]
            text = f"{sym['broken']} test file missing: {missing[0]}" if missing else "-"
        else:
            failing = sum(t.outcome not in ("passed", "todo", "notrun") for t in tests)
            text = f"{sym['red']} {failing} failing"
        rows.append([step.number, step.title, f"{passed}/{len(tests)}", text])
    return tabulate(rows, headers=["#", "step", "tests", "status"], tablefmt="simple", colalign=("right", "left", "right", "left"))


def failure_detail(result: KataResult, test: TestResult, sym: dict) -> str:
    kata = result.kata
    lines = [f"First failure{dot(sym)}step {test.step.number} ({test.step.name}){dot(sym)}{test.name}"]
    if test.location:
        lines[0] += f"  ({test.location})"
    if test.doc:
        lines.append("  " + " ".join(test.doc.split()))
    if test.outcome == "todo":
        lines.append(f"  {sym['todo']} not implemented yet: {test.todo or test.message}")
    elif test.outcome == "timeout":
        lines.append(f"  {sym['timeout']} {test.message}")
    else:
        lines.extend("  " + line for line in _truncate(test.message).splitlines())
        if test.where:
            lines.append(f"  raised in {test.where}")
    lines.extend(output_lines(test.output, kata))
    lines.append(f"  hint: {test.hint or test.step.hint(1)}")
    lines.append(f"  more: make hint N={kata.id} LEVEL=2")
    return "\n".join(lines)


def output_lines(output: str, kata, keep: int = OUTPUT_LINES, width: int = 160) -> list:
    """The end of what a failing test printed (your ``print()`` calls), indented, with how to see
    all of it; nothing when it printed nothing."""
    text = [line if len(line) <= width else line[: width - 1] + "…" for line in (output or "").rstrip().splitlines()]
    if not any(line.strip() for line in text):
        return []
    shown = text[-keep:]
    count = f"last {len(shown)} of {len(text)} lines; " if len(text) > len(shown) else ""
    head = f"  printed while the test ran ({count}every test's output: make kata N={kata.id} OUTPUT=1):"
    return [head, *("    | " + line for line in shown)]


def closing_line(result: KataResult, sym: dict) -> str:
    kata = result.kata
    if result.status == "green":
        following = "".join(f"{dot(sym)}next: make kata N={k.id}" for k in result.next_katas[:1])
        return f"GREEN {result.passed}/{result.total}{dot(sym)}kata {kata.id} {kata.title} complete{following}"
    if result.status == "locked":
        return f"LOCKED{dot(sym)}{result.message}"
    if result.status == "broken":
        return f"RED{dot(sym)}kata {kata.id} cannot run until the error above is fixed"
    if result.interrupted:
        ran = sum(t.outcome != "notrun" for t in result.tests)
        return f"INTERRUPTED after {ran}/{result.total} tests{dot(sym)}nothing recorded{dot(sym)}run it again: make kata N={kata.id}"
    if result.missing:
        return (f"RED {result.passed}/{result.total}{dot(sym)}{len(result.missing)} test file(s) missing, so this run is not "
                f"recorded{dot(sym)}restore them: git checkout -- {' '.join(result.missing)}")
    first = result.first_failure()
    if first is None:  # everything that ran passed, but not every step ran: a filtered run
        return f"PASS {result.passed}/{result.total} selected{dot(sym)}run the whole kata to go green: make kata N={kata.id}"
    step = f"step {first.step.number} ({first.step.name})"
    return f"RED {result.passed}/{result.total}{dot(sym)}next: {step}{dot(sym)}stuck? make hint N={kata.id}"


def kata_report(result: KataResult, sym: dict) -> str:
    """The whole block for one kata."""
    kata = result.kata
    head = f"Kata {kata.id}{dot(sym)}{kata.title}"
    if result.status == "locked":
        return f"{head}\n{sym['locked']} {result.message}"
    if result.status == "broken":
        return f"{head}\n{sym['broken']} {result.message}\n\n{closing_line(result, sym)}"
    parts = [head, step_table(result, sym)]
    first = result.first_failure()
    if first is not None and not result.interrupted:
        parts.append(failure_detail(result, first, sym))
    parts.append(closing_line(result, sym))
    return "\n\n".join(parts)


def unlock_announcement(milestone, sym: dict) -> str:
    return f"{sym['trophy']} Milestone {milestone.id} unlocked: {milestone.title} ({milestone.year}){dot(sym)}make milestone M={milestone.id}"
