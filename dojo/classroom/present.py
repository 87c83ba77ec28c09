"""``make present N=05 [TIMER=5]``: a kata on the projector, for live red-green sessions.

A big RED or GREEN banner, the one test to make pass next (the first failing test in step order:
its intent, the short failure, the start of its own hint) and a strip of step marks. Nothing else: no tracebacks, no pytest
noise. Runs are deterministic (the derandomized ``ci`` hypothesis profile), no gate, nothing
recorded in progress.toml. It re-runs whenever a file under tinytorch/ or the kata's folder is
saved, like ``make watch``. ``TIMER=5`` adds a randori rotation timer: every 5 minutes the screen
says ROTATE (and rings the bell) and the timer starts again; ``TIMER=0`` turns it off.

Rendering is pure (``render``, ``banner``, ``timer_line`` take data and return text), so it is
tested without a terminal; ``--once`` draws one screen and exits (0 when green).

The view comes from the dojo plugin's ``--dojo-results`` JSON (its per-test ``details``).
"""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
import time

from dojo import impl, report

# -- rendering (pure) -------------------------------------------------------------------------

FONT = {
    "A": [" ### ", "#   #", "#####", "#   #", "#   #"],
    "D": ["#### ", "#   #", "#   #", "#   #", "#### "],
    "E": ["#####", "#    ", "#### ", "#    ", "#####"],
    "G": [" ####", "#    ", "#  ##", "#   #", " ####"],
    "N": ["#   #", "##  #", "# # #", "#  ##", "#   #"],
    "O": [" ### ", "#   #", "#   #", "#   #", " ### "],
    "R": ["#### ", "#   #", "#### ", "#  # ", "#   #"],
    "T": ["#####", "  #  ", "  #  ", "  #  ", "  #  "],
    "!": ["#", "#", "#", " ", "#"],
    " ": ["   "] * 5,
}
NOTICE_SECONDS = 20
ANSI = {"red": "\033[1;31m", "green": "\033[1;32m", "yellow": "\033[1;33m", "reset": "\033[0m"}


def banner(word: str, width: int = 80, block: str = "#") -> list:
    """``word`` in 5-row ASCII-art capitals, doubled in width when the screen allows, centred."""
    glyphs = [FONT[ch] for ch in word.upper() if ch in FONT]
    rows = ["  ".join(g[i] for g in glyphs) for i in range(5)]
    if len(rows[0]) * 2 + 2 <= width:
        rows = ["".join(ch * 2 for ch in row) for row in rows]
    rows = [row.replace("#", block) for row in rows]
    pad = max(0, (width - len(rows[0])) // 2)
    return [(" " * pad + row).rstrip() for row in rows]


def _colour(lines, colour, on) -> list:
    if not on:
        return lines
    return [f"{ANSI[colour]}{line}{ANSI['reset']}" for line in lines]


def focus(view: dict):
    """The test to work on: the first that does not pass, in step order (then run order)."""
    tests = sorted(enumerate(view.get("tests", [])), key=lambda it: (it[1].get("step", 0), it[0]))
    return next((t for _, t in tests if t.get("outcome") != "passed"), None)


def _wrap(text: str, width: int, indent: str) -> list:
    out = []
    for paragraph in text.strip().splitlines() or [""]:
        out += textwrap.wrap(paragraph, width=max(20, width - len(indent)), initial_indent=indent, subsequent_indent=indent) or [indent]
    return out


HINT_LINES = 3  # the projector shows the start of the test's hint; `make hint` has the rest


def hint_lines(test: dict, kata, width: int) -> list:
    """The focused test's own hint (the ``Hint:`` paragraph of its docstring), at most
    ``HINT_LINES`` lines; a longer one ends with "…" and points to ``make hint``."""
    hint = " ".join((test.get("hint") or "").split())
    if not hint:
        return []
    lines = _wrap(f"Hint: {hint}", width, "    ")
    if len(lines) > HINT_LINES:
        lines = lines[: HINT_LINES - 1] + [_wrap(f"… the whole hint: make hint N={kata.id}", width, "    ")[0]]
    return [""] + lines


def step_strip(view: dict, sym: dict) -> str:
    marks = {"green": sym["green"], "red": sym["red"], "todo": sym["todo"], "timeout": sym["timeout"]}
    return "  ".join(f"{marks.get(s['status'], sym['todo'])} {s['number']}" for s in view.get("steps", []))


def render(view: dict, kata, width: int = 80, sym=report.EMOJI, color: bool = False, notice: str = "") -> str:
    """One screen for ``view`` (the kata's details). Pure: the same view gives the same text."""
    status = view.get("status", "red")
    green = status == "green"
    block = "#" if sym is report.ASCII else "█"
    dot = report.dot(sym)
    lines = []
    if notice:
        lines += _colour(banner("ROTATE!", width, block), "yellow", color)
        lines += ["", notice.center(width).rstrip(), ""]
    lines += _colour(banner("GREEN" if green else "RED", width, block), "green" if green else "red", color)
    lines.append("")
    passed, total = view.get("passed", 0), view.get("total", 0)
    title = f"Kata {kata.id}{dot}{kata.title}"
    count = f"{passed}/{total} tests"
    lines.append("  " + title + " " * max(2, width - 4 - len(title) - len(count)) + count)
    lines.append("")
    if status == "broken":
        lines.append("  Your code cannot be imported:")
        lines += _wrap(view.get("message", ""), width, "    ")
    elif green:
        lines.append(f"  Every test passes. Kata {kata.id} is complete.")
    else:
        test = focus(view)
        steps = {s["number"]: s for s in view.get("steps", [])}
        if test is None:
            lines.append("  No test ran." + (f" {view.get('message')}" if view.get("message") else ""))
        else:
            step = steps.get(test.get("step"), {})
            lines.append(f"  Step {step.get('number', '?')} of {len(steps)}{dot}{step.get('title', step.get('name', ''))}")
            lines.append("")
            lines.append(f"  {test['name']}")
            if test.get("doc"):
                lines += _wrap(" ".join(test["doc"].split()), width, "    ")
            lines.append("")
            if test.get("outcome") == "todo":
                lines += _wrap(f"{sym['todo']} not implemented yet: {test.get('todo') or test.get('message')}", width, "    ")
            elif test.get("outcome") == "timeout":
                lines += _wrap(f"{sym['timeout']} {test.get('message', '')}", width, "    ")
            else:
                message = [line for line in (test.get("message") or "").strip().splitlines() if line.strip()][:6]
                for line in message:
                    lines.append(("    " + line)[: width - 1])
                if test.get("where"):
                    lines.append(f"    raised in {test['where']}"[: width - 1])
            lines += hint_lines(test, kata, width)
    lines.append("")
    lines.append("  steps  " + step_strip(view, sym))
    return "\n".join(line.rstrip() for line in lines)


def timer_line(remaining: float, minutes: float, sym=report.EMOJI) -> str:
    """'randori: 3:07 left for this driver (rotate every 5 min)'."""
    seconds = max(0, int(round(remaining)))
    icon = f"{sym['timeout']} " if sym is report.EMOJI else ""
    return f"  {icon}randori: {seconds // 60}:{seconds % 60:02d} left for this driver (rotate every {minutes:g} min)"


# -- running and the loop ---------------------------------------------------------------------


def run_view(c, kata, impl_root=None) -> dict:
    """Run the kata quietly and return the view ``render`` draws (its tests with details)."""
    from dojo.student.runner import kata_results

    view = kata_results(c, kata, impl_root)
    view["tests"] = view.pop("details", [])
    return view


def _enable_ansi():
    if os.name == "nt":  # Windows 10+: turns on VT sequences in the console
        os.system("")


def _clear(tty: bool) -> str:
    return "\033[2J\033[H" if tty else "\n" + "-" * 40 + "\n"


def loop(c, kata, minutes: float, width=None, poll: float = 0.5, clock=time.monotonic, runs=None, ticks=None,
         out=None, paths=None, run=None) -> int:
    """Draw, then re-run on every save; with ``minutes`` > 0 show and restart the rotation timer.

    For tests: ``runs`` / ``ticks`` stop after that many test runs / polls, ``out`` is the stream
    (default stdout), ``paths`` the watched folders, ``run`` replaces ``run_view``.
    """
    from dojo.student.watch import DEBOUNCE_SECONDS, snapshot

    out = out or sys.stdout
    tty = hasattr(out, "isatty") and out.isatty()
    color = tty and not os.environ.get("NO_COLOR")
    sym = report.symbols(out)
    paths = paths or [impl.resolve() / "tinytorch", c.kata_dir(kata)]
    run = run or run_view
    if tty:
        _enable_ansi()

    def draw(view, notice=""):
        cols = width or shutil.get_terminal_size((100, 30)).columns
        out.write(_clear(tty) + render(view, kata, cols, sym, color, notice) + "\n\n")
        out.write(f"  watching tinytorch/ and katas/{kata.dirname}/ · Ctrl-C to stop\n")
        out.flush()

    count = 0
    before = snapshot(paths)  # taken before the run, so a save during it triggers the next one
    view = run(c, kata)
    count += 1
    draw(view)
    rotation_ends = clock() + minutes * 60 if minutes > 0 else None
    notice_until = None  # the ROTATE screen stays up this long, then the plain screen returns
    last_shown = None
    tick = 0
    try:
        while (runs is None or count < runs) and (ticks is None or tick < ticks):
            tick += 1
            time.sleep(poll)
            if rotation_ends is not None:
                remaining = rotation_ends - clock()
                if remaining <= 0:
                    out.write("\a")
                    draw(view, notice=f"time is up: next driver, please ({minutes:g} minutes each)")
                    rotation_ends = clock() + minutes * 60
                    notice_until = clock() + NOTICE_SECONDS
                    last_shown = None
                    continue
                if notice_until is not None and clock() >= notice_until:
                    notice_until = None
                    draw(view)
                    last_shown = None
                shown = int(remaining)
                if shown != last_shown:
                    text = timer_line(remaining, minutes, sym)
                    out.write(("\r\033[K" + text) if tty else (text + "\n" if last_shown is None or shown % 60 == 0 else ""))
                    out.flush()
                    last_shown = shown
            now = snapshot(paths)
            if now != before:
                while True:  # debounce an editor's save-then-format
                    time.sleep(DEBOUNCE_SECONDS)
                    settled = snapshot(paths)
                    if settled == now:
                        break
                    now = settled
                before = now
                view = run(c, kata)
                count += 1
                draw(view)
                notice_until = None
                last_shown = None
    except KeyboardInterrupt:
        out.write("\nstopped presenting\n")
    return 0


def add_arguments(parser) -> None:
    timer = os.environ.get("TIMER", "").strip()
    parser.add_argument("--timer", type=float, default=float(timer) if timer else 0.0, help="randori rotation timer in minutes (0: off)")
    parser.add_argument("--once", action="store_true", help="draw one screen and exit (0 when green)")
    parser.add_argument("--width", type=int, default=None, help="screen width in columns (default: the terminal's)")


def main(c, args) -> int:
    kata = c.kata(args.kata)
    if args.once:
        view = run_view(c, kata)
        sym = report.symbols()
        width = args.width or shutil.get_terminal_size((100, 30)).columns
        print(render(view, kata, width, sym, color=sys.stdout.isatty() and not os.environ.get("NO_COLOR")))
        if args.timer > 0:
            print(timer_line(args.timer * 60, args.timer, sym))
        return 0 if view.get("status") == "green" else 1
    return loop(c, kata, args.timer, width=args.width)
