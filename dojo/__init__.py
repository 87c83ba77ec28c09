"""The dojo: the harness around the katas (pytest plugin, CLI, progress, gating, stubs, checks)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
"""The repository root: katas/, tinytorch/, solutions/ live here."""
