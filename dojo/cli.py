"""``python -m dojo <verb>``: every command a student, facilitator or maintainer types.

Each ``make`` target is a thin wrapper over one of these verbs, so Windows users without make get
the same commands (``python -m dojo kata 05``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from dojo import ROOT
from dojo import curriculum as curriculum_module
from dojo.curriculum import CurriculumError, UnknownKata

# report, stubs, gating and progress (tabulate, tomlkit, filelock) are imported by the verbs that
# use them: `make kata` only starts pytest, and every millisecond here is added to each run.


def _pytest_args(kata_dir, extra=()):
    args = [str(kata_dir), "-q"]
    timeout = os.environ.get("TIMEOUT", "").strip()
    if timeout:
        args.append(f"--timeout={timeout}")
    return args + list(extra)


def cmd_kata(c, args) -> int:
    """Run one kata against your tinytorch/ and show the step summary."""
    kata = c.kata(args.kata)
    return run_with_verdict(_pytest_args(c.kata_dir(kata), args.pytest_args))


def _kata_folder_fast(arg):
    """``katas/NN_slug`` for ``5``, ``05``, ``tensor`` or ``01_tensor`` from the folder names alone
    (the curriculum's own rules, without parsing it: the child pytest does that anyway). None
    when unsure: the caller then asks the curriculum, which also explains a wrong value."""
    if os.environ.get("DOJO_CURRICULUM"):
        return None
    text = str(arg).strip().lower()
    try:
        names = os.listdir(ROOT / "katas")
    except OSError:
        return None
    found = []
    for name in names:
        kid, _, slug = name.partition("_")
        if len(kid) == 2 and kid.isdigit() and slug and (
            text in (kid, slug, name) or (text.isdigit() and int(text) == int(kid))
        ):
            found.append(name)
    return ROOT / "katas" / found[0] if len(found) == 1 and (ROOT / "katas" / found[0]).is_dir() else None


NO_VERDICT = (
    "error: the test run ended without the dojo's verdict (exit code {code}): something ended the test process "
    "before the harness could judge it (os._exit, or a crash, in the code under test). Nothing was recorded."
)


def run_with_verdict(pytest_args) -> int:
    """Run pytest in a child process and return the verdict the dojo plugin left at the end.

    Code under test runs in that child, so ``os._exit(0)`` in a student's function ends only the
    child: a run without the plugin's verdict file is a failure, said in one line. Ctrl-C reaches
    the child (from the terminal, or forwarded from here); the child records nothing then.
    """
    with tempfile.TemporaryDirectory(prefix="dojo-run-") as tmp:
        verdict = Path(tmp) / "verdict.json"
        env = dict(os.environ)
        encoding = env.get("PYTHONIOENCODING", "").split(":")[0]
        env["PYTHONIOENCODING"] = f"{encoding}:replace"  # a console that cannot print a character gets "?"
        command = [sys.executable, "-m", "pytest", *pytest_args[:2], f"--dojo-verdict={verdict}", *pytest_args[2:]]
        sys.stdout.flush()
        child = subprocess.Popen(command, env=env)
        signals = [signal.SIGINT] + [getattr(signal, n) for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n)]
        received = []

        def forward(signum, frame):
            received.append(signum)
            if os.name != "nt" and child.poll() is None:
                try:
                    child.send_signal(signum)
                except OSError:
                    pass

        previous = {s: signal.signal(s, forward) for s in signals}
        try:
            code = child.wait()
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
        try:
            found = json.loads(verdict.read_text(encoding="utf-8"))
            status, message = int(found["exitstatus"]), str(found.get("message") or "")
        except (OSError, ValueError, KeyError, TypeError):
            status, message = None, ""
    if message:
        print("\n" + message, file=sys.stderr)
    if status is not None:
        return status
    if received:
        print("\ninterrupted: nothing was recorded", file=sys.stderr)
        return 130 if signal.SIGINT in received else 128 + received[0]
    code = 128 - code if code < 0 else code  # killed by a signal: the shell's convention
    print("\n" + NO_VERDICT.format(code=code), file=sys.stderr)
    return code or 1


def cmd_watch(c, args) -> int:
    """Re-run a kata every time you save a file (Ctrl-C to stop)."""
    from dojo import impl
    from dojo.watch import watch

    kata = c.kata(args.kata)
    command = [sys.executable, "-m", "dojo", "kata", kata.id, *args.pytest_args]
    paths = [impl.resolve() / "tinytorch", c.kata_dir(kata)]
    return watch(command, paths)


def cmd_hint(c, args) -> int:
    """Show the hint for the first step that is not green yet (LEVEL=2, 3 … for more)."""
    from dojo.checks import kata_results

    kata = c.kata(args.kata)
    result = kata_results(c, kata)
    if result.get("status") == "broken":
        print(result.get("message"))
        print("Fix that first: the hint is the error message above.")
        return 1
    steps = result.get("steps", [])
    todo = next((s for s in steps if s["status"] != "green"), None)
    if steps and todo is None:
        print(f"Kata {kata.id} {kata.title} is green: no hint needed. Next: make progress")
        return 0
    step = kata.step(todo["number"]) if todo else kata.steps[0]
    level = max(1, args.level)
    print(f"Kata {kata.id} · step {step.number} ({step.name}): {step.title}")
    if todo:
        print(f"  {todo['passed']}/{todo['total']} tests of this step pass")
    last = min(level, len(step.hints)) if step.hints else 1
    for n in range(1, last + 1):
        print(f"  hint {n}/{len(step.hints)}: {step.hint(n)}")
    if level < len(step.hints):
        print(f"  more: make hint N={kata.id} LEVEL={level + 1}")
    else:
        print(f"  that was the last hint; the brief is katas/{kata.dirname}/README.md")
    return 0


def _kata_status(c, progress, gatekeeper, kata, sym) -> tuple:
    from dojo.gating import unlocked_by_env
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


def cmd_progress(c, args) -> int:
    """Your progress through every kata and milestone (from progress.toml)."""
    from tabulate import tabulate

    from dojo import report
    from dojo.gating import Gatekeeper
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
            metric = f"{record['metric']:.4f}" if "metric" in record else ""
            rows.append([m.id, f"{m.title} ({m.year})", ", ".join(m.requires), status, metric, f"{m.target:g}"])
        print()
        print(tabulate(rows, headers=["milestone", "title", "after katas", "status", "best", "target"]))
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
    from dojo import checks

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
    from dojo import integrity

    return integrity.main(c)


def cmd_soak(c, args) -> int:
    """Maintainers: the long flake hunt (every test vs the solutions, thorough profile, SEEDS=8 fresh seeds)."""
    from dojo import flakehunt

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
    from dojo import impl, milestones, report
    from dojo.gating import Gatekeeper, unlocked_by_env
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
        progress.record_milestone(milestone, result.metric, result.achieved)
        if progress.warning:
            print(f"warning: {progress.warning}")
    return 0 if result.achieved else 1


def cmd_bench(c, args) -> int:
    """Maintainers: tinytorch vs raw NumPy (vs PyTorch when installed), medians and ratios."""
    from dojo import bench

    return bench.main(args.bench_args)


def cmd_parity(c, args) -> int:
    """Your tinytorch vs PyTorch for one kata, forward and backward (needs the optional PyTorch)."""
    from dojo import parity

    return parity.main(args.bench_args)


def cmd_ci(c, args) -> int:
    """Fork CI: re-run every kata headless, check progress.toml's claims, write results."""
    from dojo import ci

    return ci.main(args)


def cmd_manifest(c, args) -> int:
    """Maintainers: regenerate katas/MANIFEST.json (the hashes fork CI checks the tests against)."""
    from dojo import manifest

    path, changed = manifest.write()
    print(f"{'wrote' if changed else 'up to date:'} {path.relative_to(ROOT).as_posix()} ({len(manifest.tracked_files())} files)")
    return 0


def cmd_present(c, args) -> int:
    """Facilitators: a projector view of one kata (big RED/GREEN, one failing test), re-run on save."""
    from dojo import present

    return present.main(c, args)


def cmd_reveal(c, args) -> int:
    """Facilitators: write the solution of one step into tinytorch/ (backed up first)."""
    from dojo import reveal

    return reveal.main(c, args)


def cmd_board(c, args) -> int:
    """Facilitators: a student x kata board from many progress.toml / results.json files."""
    from dojo import board

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
    "ci": (cmd_ci, None),
    "manifest": (cmd_manifest, None),
    "present": (cmd_present, "kata"),
    "reveal": (cmd_reveal, "kata"),
    "board": (cmd_board, None),
}


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
        if verb in ("ci", "present", "reveal", "board") and verb_given in (None, verb):  # they own their options
            importlib.import_module(f"dojo.{verb}").add_arguments(p)
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
        from dojo import parity

        return parity.main(argv[1:])
    parser = build_parser(argv[0] if argv and argv[0] in VERBS else "")
    args = parser.parse_args(argv)
    if not args.verb:
        parser.print_help()
        return 2
    if args.verb == "kata" and args.kata:  # the common case, ~50 ms sooner: the child reads the curriculum
        folder = _kata_folder_fast(args.kata)
        if folder is not None:
            try:
                return run_with_verdict(_pytest_args(folder, args.pytest_args))
            except KeyboardInterrupt:
                print("\ninterrupted", file=sys.stderr)
                return 130
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
