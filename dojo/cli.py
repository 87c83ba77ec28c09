"""``python -m dojo <verb>``: every command a student, facilitator or maintainer types.

Each ``make`` target is a thin wrapper over one of these verbs, so Windows users without make get
the same commands (``python -m dojo kata 05``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from dojo import ROOT
from dojo.student.runner import NO_VERDICT, run_with_verdict  # noqa: F401 - standard library only
from dojo.student.runner import pytest_args as _pytest_args

# The curriculum (tomllib), report, stubs, gating and progress (tabulate, tomlkit, filelock) are
# imported by the verbs that use them: `make kata N=05` only starts pytest, and every millisecond
# here is added to each run.


def cmd_kata(c, args) -> int:
    """Run one kata against your tinytorch/ and show the step summary."""
    from dojo.student import warm

    kata = c.kata(args.kata)
    return warm.run_kata(_pytest_args(c.kata_dir(kata), args.pytest_args))


def cmd_watch(c, args) -> int:
    """Re-run a kata every time you save a file (Ctrl-C to stop)."""
    from dojo import impl
    from dojo.student.watch import watch_kata

    kata = c.kata(args.kata)
    paths = [impl.resolve() / "tinytorch", c.kata_dir(kata)]
    return watch_kata(c.kata_dir(kata), paths, args.pytest_args)


def first_failing(details) -> dict | None:
    """The test ``make hint`` is about: the first in step order that ran and did not pass (else the
    first that did not run), as the summary's "First failure" picks it."""
    ordered = [t for _, t in sorted(enumerate(details), key=lambda it: (it[1].get("step", 0), it[0]))]
    pending = [t for t in ordered if t.get("outcome") != "passed"]
    return next((t for t in pending if t.get("outcome") != "notrun"), pending[0] if pending else None)


def cmd_hint(c, args) -> int:
    """Show the hint for the test that fails first now (LEVEL=2, 3 … for more about its step)."""
    from dojo.student.runner import kata_results

    kata = c.kata(args.kata)
    result = kata_results(c, kata)
    if result.get("status") == "broken":
        print(result.get("message"))
        print("Fix that first: the hint is the error message above.")
        return 1
    steps = {s["number"]: s for s in result.get("steps", [])}
    test = first_failing(result.get("details", []))
    if steps and test is None:
        print(f"Kata {kata.id} {kata.title} is green: no hint needed. Next: make progress")
        return 0
    step = kata.step(test["step"]) if test else kata.steps[0]
    level = max(1, args.level)
    print(f"Kata {kata.id} · step {step.number} ({step.name}): {step.title}")
    own = (test or {}).get("hint", "")
    if test:
        counts = steps.get(step.number, {})
        if counts:
            print(f"  {counts.get('passed', 0)}/{counts.get('total', 0)} tests of this step pass")
        where = f" ({test['location']})" if test.get("location") else ""
        print(f"  the first failing test: {test['name']}{where}")
        intent = " ".join((test.get("doc") or "").split())
        if intent:
            print(f"  it checks: {intent}")
        if test.get("outcome") == "todo" and test.get("todo"):
            print(f"  not implemented yet: {test['todo']}")
    # level 1: the failing test's own hint (else the step's first); then the step's further hints
    hints = [own, *step.hints[1:]] if own else list(step.hints)
    last = min(level, len(hints)) if hints else 0
    for n in range(1, last + 1):
        about = f" (for {test['name']})" if n == 1 and own else ""
        print(f"  hint {n}/{len(hints)}{about}: {hints[n - 1]}")
    if level < len(hints):
        print(f"  more: make hint N={kata.id} LEVEL={level + 1}")
    else:
        print(f"  that was the last hint; the brief is katas/{kata.dirname}/README.md")
    return 0


def _kata_status(c, progress, gatekeeper, kata, sym) -> tuple:
    from dojo.student.gating import unlocked_by_env
    from dojo.progress import files_digest

    record = progress.kata(kata.id)
    gate = gatekeeper.decide(kata)
    if record.get("status") == "green":
        changed = record.get("files_sha256") != files_digest(gatekeeper.impl_root, kata.owns)
        status = f"{sym['green']} green" + (" (changed since: re-checked when needed)" if changed else "")
    elif not gate.open and not unlocked_by_env():
        status = f"{sym['locked']} locked"
    elif record.get("total"):
        status = f"{sym['red']} red"
    else:
        status = "not started"
    tests = f"{record['passed']}/{record['total']}" if record.get("total") else ""
    return status, tests, (record.get("first_green") or "")[:16].replace("T", " ")


def milestone_columns(milestone, record) -> tuple:
    """(best, target, data set) as ``make milestone`` prints them: the best run's metric next to the
    target of the data set that run used (percent for accuracy); the curriculum's target before
    any run (or for a record written before targets were recorded)."""
    from dojo.student.milestones import format_metric

    target = float(record.get("target", milestone.target))
    best = format_metric(float(record["metric"]), milestone.metric) if "metric" in record else ""
    data = str(record.get("dataset", "")).split(" (")[0]
    return best, format_metric(target, milestone.metric), data


def cmd_progress(c, args) -> int:
    """Your progress through every kata and milestone (from progress.toml)."""
    from tabulate import tabulate

    from dojo import report
    from dojo.student.gating import Gatekeeper
    from dojo.progress import DEFAULT_PATH, Progress

    sym = report.symbols()
    progress = Progress(DEFAULT_PATH)
    progress.repair()  # a corrupt file: backed up and replaced, with a one-line warning
    snapshot = progress.read()
    if progress.warning:
        print(f"warning: {progress.warning}\n")
    gatekeeper = Gatekeeper(c, progress, ROOT, allow_recheck=False)
    rows = []
    for kata in c.katas:
        status, tests, first = _kata_status(c, progress, gatekeeper, kata, sym)
        rows.append([kata.id, kata.title + (" (optional)" if kata.optional else ""), ", ".join(kata.requires) or "-", status, tests, first])
    print(tabulate(rows, headers=["kata", "title", "requires", "status", "tests", "first green"]))
    if c.milestones:
        rows = []
        for m in c.milestones:
            record = snapshot["milestones"].get(m.id, {})
            if record.get("achieved"):
                status = f"{sym['trophy']} achieved"
            elif record.get("unlocked") or all(gatekeeper.is_green(c.kata(r)) for r in m.requires):
                status = "unlocked"
            else:
                status = f"{sym['locked']} locked"
            best, target, data = milestone_columns(m, record)
            rows.append([m.id, f"{m.title} ({m.year})", ", ".join(m.requires), status, best, target, data])
        print()
        print(tabulate(rows, headers=["milestone", "title", "after katas", "status", "best", "target", "data"]))
    greens = sum(progress.kata(k.id).get("status") == "green" for k in c.katas)
    print(f"\n{greens}/{len(c.katas)} katas green")
    return 0


def cmd_reset(c, args) -> int:
    """Restore a kata's stub files (yours are backed up first) and clear its progress."""
    from dojo import stubs
    from dojo.progress import DEFAULT_PATH, Progress

    kata = c.kata(args.kata)
    written, folder = stubs.write_stubs(c, kata.owns, label=f"reset-{kata.id}")
    for name in kata.owns:
        if name in written:
            saved = folder / "tinytorch" / name if folder else None
            print(f"restored tinytorch/{name}" + (f"; your version is saved in {saved.relative_to(ROOT)}" if saved and saved.exists() else ""))
        else:
            print(f"tinytorch/{name} already is the stub: nothing to back up")
    progress = Progress(DEFAULT_PATH)
    progress.clear_kata(kata.id)
    if progress.failed:
        print(f"warning: {progress.warning}")
        return 1
    if progress.warning:
        print(f"warning: {progress.warning}")
    print(f"progress for kata {kata.id} cleared")
    return 0


def cmd_stubs(c, args) -> int:
    """Regenerate tinytorch/ from solutions/ (changed files are backed up first)."""
    from dojo import stubs

    written, folder = stubs.write_stubs(c)
    for name in written:
        print(f"wrote tinytorch/{name}")
    if folder:
        print(f"previous versions saved in {folder.relative_to(ROOT)}")
    if not written:
        print("tinytorch/ is up to date")
    return 0


def cmd_check(c, args) -> int:
    """Maintainers: prove katas honest (solutions green, stubs red per kata and per step)."""
    from dojo.maintainers import checks

    problems = 0
    for arg in args.katas or [k.id for k in c.katas]:
        result = checks.check_kata(c, arg)
        for problem in result.problems:
            print(f"PROBLEM {problem}")
        problems += len(result.problems)
        print(f"kata {result.kata.id}: {result.runs} pytest runs, {len(result.problems)} problem(s)")
    return 1 if problems else 0


def cmd_test(c, args) -> int:
    """Maintainers: the whole integrity suite (what CI runs)."""
    from dojo.maintainers import integrity

    return integrity.main(c)


def cmd_soak(c, args) -> int:
    """Maintainers: the long flake hunt (every test vs the solutions, thorough profile, SEEDS=8 fresh seeds)."""
    from dojo.maintainers import flakehunt

    return flakehunt.soak_main(c, args.katas)


def cmd_list(c, args) -> int:
    """List the katas and milestones."""
    for kata in c.katas:
        req = f"  (after {', '.join(kata.requires)})" if kata.requires else ""
        print(f"{kata.id}  {kata.slug:<14} {kata.title}{req}")
    for m in c.milestones:
        print(f"M{m.id} {m.title} ({m.year}), after kata {', '.join(m.requires)}")
    return 0


def cmd_milestone(c, args) -> int:
    """Run a milestone: a historic result, trained on real data with your tinytorch."""
    from dojo import impl, report
    from dojo.student import milestones
    from dojo.student.gating import Gatekeeper, unlocked_by_env
    from dojo.progress import DEFAULT_PATH, Progress

    milestone = c.milestone(args.milestone)
    root = impl.resolve()
    student = impl.is_student(root)
    progress = Progress(DEFAULT_PATH if student and not args.no_record else None)
    if student and not unlocked_by_env():
        gatekeeper = Gatekeeper(c, progress, root)
        missing = [c.kata(r) for r in milestone.requires if not gatekeeper.is_green(c.kata(r))]
        if missing:
            first = missing[0]
            print(
                f"{report.symbols()['locked']} milestone {milestone.id} {milestone.title} is locked: "
                f"finish kata {first.id} {first.title} first (make kata N={first.id}) · or UNLOCK=1"
            )
            return 1
    impl.activate(root)
    result = milestones.run(milestone, quick=args.quick, seed=args.seed)
    if progress.path is not None:
        progress.record_milestone(milestone, result.metric, result.achieved, target=result.target,
                                  dataset=result.details.get("dataset"))
        if progress.warning:
            print(f"warning: {progress.warning}")
    return 0 if result.achieved else 1


def cmd_bench(c, args) -> int:
    """Maintainers: tinytorch vs raw NumPy (vs PyTorch when installed), medians and ratios."""
    from dojo import bench

    return bench.main(args.bench_args)


def cmd_parity(c, args) -> int:
    """Your tinytorch vs PyTorch for one kata, forward and backward (needs the optional PyTorch)."""
    from dojo.student import parity

    return parity.main(args.bench_args)


def cmd_capstone(c, args) -> int:
    """Kata 20: submit (measure your optimize, write capstone.json), verify or validate a submission."""
    from dojo.classroom import capstone_check

    return capstone_check.main(args.bench_args)


def cmd_warm(c, args) -> int:
    """make kata's warm server (Linux): status, or stop it (it also ends after 15 idle minutes)."""
    from dojo.student import warm

    return warm.main(args.bench_args)


def cmd_ci(c, args) -> int:
    """Fork CI: re-run every kata headless, check progress.toml's claims, write results."""
    from dojo.classroom import ci

    return ci.main(args)


def cmd_manifest(c, args) -> int:
    """Maintainers: regenerate katas/MANIFEST.json (the hashes fork CI checks the tests against)."""
    from dojo.classroom import manifest

    path, changed = manifest.write()
    print(f"{'wrote' if changed else 'up to date:'} {path.relative_to(ROOT).as_posix()} ({len(manifest.tracked_files())} files)")
    return 0


def cmd_present(c, args) -> int:
    """Facilitators: a projector view of one kata (big RED/GREEN, one failing test), re-run on save."""
    from dojo.classroom import present

    return present.main(c, args)


def cmd_reveal(c, args) -> int:
    """Facilitators: write the solution of one step into tinytorch/ (backed up first)."""
    from dojo.classroom import reveal

    return reveal.main(c, args)


def cmd_board(c, args) -> int:
    """Facilitators: a student x kata board from many progress.toml / results.json files."""
    from dojo.classroom import board

    return board.main(c, args)


VERBS = {
    "kata": (cmd_kata, "kata"),
    "watch": (cmd_watch, "kata"),
    "hint": (cmd_hint, "kata"),
    "reset": (cmd_reset, "kata"),
    "progress": (cmd_progress, None),
    "list": (cmd_list, None),
    "milestone": (cmd_milestone, "milestone"),
    "stubs": (cmd_stubs, None),
    "check": (cmd_check, "katas"),
    "test": (cmd_test, None),
    "soak": (cmd_soak, "katas"),
    "bench": (cmd_bench, "bench"),
    "parity": (cmd_parity, "bench"),  # own options, like bench
    "capstone": (cmd_capstone, "bench"),  # own options: submit / verify / validate
    "warm": (cmd_warm, "bench"),  # own sub-commands: status / stop
    "ci": (cmd_ci, None),
    "manifest": (cmd_manifest, None),
    "present": (cmd_present, "kata"),
    "reveal": (cmd_reveal, "kata"),
    "board": (cmd_board, None),
}


# The verbs whose module adds its own options to the parser.
OWN_OPTIONS = {"ci": "dojo.classroom.ci", "present": "dojo.classroom.present", "reveal": "dojo.classroom.reveal",
               "board": "dojo.classroom.board"}


def build_parser(verb_given=None) -> argparse.ArgumentParser:
    """The command line. ``verb_given``: only that verb's own options module is imported (the
    fork-CI one pulls in NumPy: ~0.15 s that every `make kata` would otherwise pay); None: all."""
    parser = argparse.ArgumentParser(prog="python -m dojo", description="TinyTorch Katas: build a small PyTorch, one kata at a time.")
    sub = parser.add_subparsers(dest="verb", metavar="<verb>")
    for verb, (fn, positional) in VERBS.items():
        p = sub.add_parser(verb, help=(fn.__doc__ or "").strip().splitlines()[0])
        if positional == "kata":
            p.add_argument("kata", nargs="?", help="kata number or name: 5, 05, autograd")
            if verb in ("kata", "watch"):
                p.add_argument("pytest_args", nargs=argparse.REMAINDER, help="extra pytest arguments")
            if verb == "hint":
                p.add_argument("level", nargs="?", type=int, default=int(os.environ.get("LEVEL") or 1), help="hint level (1 = a nudge)")
        elif positional == "katas":
            p.add_argument("katas", nargs="*", help="kata ids (default: all)")
        elif positional == "milestone":
            p.add_argument("milestone", nargs="?", help="milestone number: 1, 01")
            p.add_argument("--quick", action="store_true", default=os.environ.get("QUICK", "") in ("1", "true"), help="small data, a few seconds")
            p.add_argument("--seed", type=int, default=0)
            p.add_argument("--no-record", action="store_true", help="do not record the result in progress.toml")
        elif positional == "bench":
            p.add_argument("bench_args", nargs=argparse.REMAINDER)
        if verb in OWN_OPTIONS and verb_given in (None, verb):  # they own their options
            importlib.import_module(OWN_OPTIONS[verb]).add_arguments(p)
    return parser


class _QuietWhenClosed:
    """stdout that goes quiet when its reader leaves (``make reset N=01 | head -1``): the command
    still finishes its work (restore, then clear progress) instead of dying half-way on a
    BrokenPipeError, and no traceback is printed."""

    def __init__(self, stream):
        self._stream = stream

    def _silence(self):
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, self._stream.fileno())  # the rest, and Python's last flush, go nowhere
        finally:
            os.close(devnull)

    def write(self, text):
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._silence()
            return len(text)

    def flush(self):
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._silence()

    def __getattr__(self, name):
        return getattr(self._stream, name)


def main(argv=None) -> int:
    # pytest caches its assertion rewrites as .pyc files; with PYTHONDONTWRITEBYTECODE set it
    # would re-rewrite hypothesis on every run (about a second).
    sys.dont_write_bytecode = False
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    for stream in (sys.stdout, sys.stderr):  # a console that cannot print a character gets "?", never a crash
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")
    if not isinstance(sys.stdout, _QuietWhenClosed) and hasattr(sys.stdout, "fileno"):
        sys.stdout = _QuietWhenClosed(sys.stdout)
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:  # bench has its own options (--threads, --repeats, ...)
        from dojo import bench

        return bench.main(argv[1:])
    if argv[:1] == ["parity"]:  # parity has its own options (--impl, --seed, --dtype)
        from dojo.student import parity

        return parity.main(argv[1:])
    if argv[:1] == ["warm"]:  # status / stop
        from dojo.student import warm

        return warm.main(argv[1:])
    if argv[:1] == ["capstone"]:  # the capstone check has its own sub-commands
        from dojo.classroom import capstone_check

        return capstone_check.main(argv[1:])
    parser = build_parser(argv[0] if argv and argv[0] in VERBS else "")
    args = parser.parse_args(argv)
    if not args.verb:
        parser.print_help()
        return 2
    if args.verb == "kata" and args.kata:  # the common case, ~50 ms sooner: the child reads the curriculum
        from dojo.student.warm_client import kata_folder

        folder = kata_folder(args.kata)
        if folder is not None:
            from dojo.student import warm

            try:
                return warm.run_kata(_pytest_args(folder, args.pytest_args))
            except KeyboardInterrupt:
                print("\ninterrupted", file=sys.stderr)
                return 130
    from dojo import curriculum as curriculum_module
    from dojo.curriculum import CurriculumError, UnknownKata

    try:
        c = curriculum_module.load()
    except CurriculumError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    fn, positional = VERBS[args.verb]
    try:
        if positional == "kata" and not args.kata:
            raise UnknownKata(f"which kata? Say N=<kata>, e.g. make {args.verb} N=01. Valid katas: "
                              + ", ".join(f"{k.id} ({k.slug})" for k in c.katas))
        if positional == "milestone" and not args.milestone:
            raise UnknownKata("which milestone? Say M=<number>, e.g. make milestone M=01. Valid milestones: "
                              + (", ".join(f"{m.id} ({m.title})" for m in c.milestones) or "none yet"))
        code = fn(c, args)
        sys.stdout.flush()
        return code
    except UnknownKata as error:
        print(f"error: {error.args[0]}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # a write that bypassed the quiet stdout: stop, without a traceback
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
