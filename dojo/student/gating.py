"""Gating: a kata opens when every kata it requires is green *for the code as it is now*.

A prerequisite whose own files have changed since its result (green or red) was recorded is
re-checked quietly (one pytest run of that kata) before the gate answers: breaking an earlier kata
re-locks later ones, and fixing it opens them without a stale "89/97 tests passing".
``UNLOCK=1`` or ``--no-gate`` lifts every gate.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

from dojo import ROOT
from dojo.progress import files_digest
from dojo.student.runner import QUIET_PLUGINS


@dataclass
class Gate:
    open: bool
    message: str = ""
    blocker: object = None


def unlocked_by_env() -> bool:
    return os.environ.get("UNLOCK", "").strip().lower() in ("1", "true", "yes", "on")


def recheck(curriculum, kata, impl_root, progress_path) -> None:
    """Run ``kata``'s tests quietly, letting the plugin record the result in ``progress_path``."""
    command = [
        sys.executable, "-m", "pytest", str(curriculum.kata_dir(kata)), f"--impl={impl_root}",
        "--no-gate", f"--dojo-progress={progress_path}", "--dojo-quiet", "-q", *QUIET_PLUGINS,
    ]
    environment = {k: v for k, v in os.environ.items() if k not in ("IMPL", "PYTEST_ADDOPTS", "PYTHONDONTWRITEBYTECODE")}
    subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=environment)


class Gatekeeper:
    """Decides gates for one session, re-checking each changed prerequisite at most once."""

    def __init__(self, curriculum, progress, impl_root, allow_recheck=True):
        self.curriculum = curriculum
        self.progress = progress
        self.impl_root = impl_root
        self.allow_recheck = allow_recheck and progress.path is not None
        self._green = {}
        self.rechecked = []  # katas re-checked in this session, in order
        self.was_green = {}  # kata id -> its record said green before the re-check

    def is_green(self, kata) -> bool:
        """True when ``kata`` and everything it requires are green for the current files.

        A recorded result (green or red) whose files changed since is re-checked first: a student
        who fixed an earlier kata's file gets the gate opened, not a stale "89/97 tests passing".
        """
        if kata.id in self._green:
            return self._green[kata.id]
        self._green[kata.id] = False  # guards against cycles
        result = all(self.is_green(self.curriculum.kata(r)) for r in kata.requires)
        if result:
            record = self.progress.kata(kata.id)
            digest = files_digest(self.impl_root, kata.owns)
            if record.get("status") in ("green", "red") and record.get("files_sha256") != digest and self.allow_recheck:
                recheck(self.curriculum, kata, self.impl_root, self.progress.path)
                self.rechecked.append(kata)
                self.was_green[kata.id] = record.get("status") == "green"
                record = self.progress.kata(kata.id)
            # green only if recorded green for these very files (a re-check that died, timed out
            # or was interrupted records nothing and leaves the old entry)
            result = record.get("status") == "green" and record.get("files_sha256") == digest
        self._green[kata.id] = result
        return result

    def decide(self, kata) -> Gate:
        for req_id in kata.requires:
            req = self.curriculum.kata(req_id)
            if self.is_green(req):
                continue
            blocker = next((k for k in [*self.curriculum.prerequisites(req), req] if not self.is_green(k)), req)
            record = self.progress.kata(blocker.id)
            if blocker in self.rechecked and self.was_green.get(blocker.id):
                how_far = f"it was green, but changes since broke it: {record.get('passed', 0)}/{record.get('total', '?')} tests passing"
            elif blocker in self.rechecked:
                how_far = f"re-checked just now: {record.get('passed', 0)}/{record.get('total', '?')} tests passing"
            elif record.get("total"):
                how_far = f"{record.get('passed', 0)}/{record['total']} tests passing"
            else:
                how_far = "not started yet"
            message = (
                f"kata {kata.id} {kata.title} is locked: finish kata {blocker.id} {blocker.title} first "
                f"({how_far}). Run: make kata N={blocker.id} · or UNLOCK=1 to open every kata"
            )
            return Gate(False, message, blocker)
        return Gate(True)
