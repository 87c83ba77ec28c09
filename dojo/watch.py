"""Re-run a command whenever a watched file changes: ``make watch N=05``.

Uses the ``watchfiles`` package when it is installed (file-system events) and otherwise polls
modification times twice a second. Changes are debounced (an editor's save-then-format counts
once). Ctrl-C stops cleanly.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

POLL_SECONDS = 0.5
DEBOUNCE_SECONDS = 0.3


def snapshot(paths) -> dict:
    """{file: (mtime_ns, size)} for every .py/.md/.toml file under ``paths``."""
    state = {}
    for root in paths:
        root = Path(root)
        files = [root] if root.is_file() else root.rglob("*")
        for f in files:
            if f.is_file() and f.suffix in (".py", ".toml", ".md") and "__pycache__" not in f.parts:
                try:
                    stat = f.stat()
                except OSError:
                    continue
                state[str(f)] = (stat.st_mtime_ns, stat.st_size)
    return state


def wait_for_change(paths, poll=POLL_SECONDS, debounce=DEBOUNCE_SECONDS) -> list:
    """Block until a file under ``paths`` changes and stays quiet for ``debounce`` seconds."""
    try:
        import watchfiles
    except ImportError:
        watchfiles = None
    if watchfiles is not None:
        for changes in watchfiles.watch(*[str(p) for p in paths], debounce=int(debounce * 1000), rust_timeout=0):
            return sorted({c[1] for c in changes})
    before = snapshot(paths)
    while True:
        time.sleep(poll)
        now = snapshot(paths)
        if now != before:
            while True:  # debounce: wait until the files stop changing
                time.sleep(debounce)
                settled = snapshot(paths)
                if settled == now:
                    break
                now = settled
            return sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))


def run_once(command) -> int:
    """Run ``command``; on Ctrl-C let it stop by itself first (it got the Ctrl-C too, and a kata
    run then says that nothing was recorded), killing it only if it does not within 10 s."""
    child = subprocess.Popen(command)
    try:
        return child.wait()
    except KeyboardInterrupt:
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        raise


def watch(command, paths, runs=None) -> int:
    """Run ``command`` now and after every change; ``runs`` limits the number of runs (tests)."""
    count = 0
    try:
        while True:
            run_once(command)
            count += 1
            if runs is not None and count >= runs:
                return 0
            print(f"\nwatching {', '.join(str(Path(p).name) for p in paths)} for changes · Ctrl-C to stop")
            changed = wait_for_change(paths)
            print(f"\nchanged: {', '.join(Path(c).name for c in changed)}\n")
    except KeyboardInterrupt:
        print("\nstopped watching")
        return 0
