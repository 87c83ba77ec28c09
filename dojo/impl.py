"""Choose which implementation ``import tinytorch`` loads: the student's, the solutions, or any tree.

``IMPL=solutions`` / ``--impl=solutions`` → ``solutions/tinytorch``; ``IMPL=student`` (default) →
``tinytorch/``; any other value is a folder that contains a ``tinytorch`` package.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from dojo import ROOT


def resolve(value=None) -> Path:
    """The folder that holds the ``tinytorch`` package to test."""
    value = value or os.environ.get("IMPL") or "student"
    if value == "student":
        return ROOT
    if value == "solutions":
        return ROOT / "solutions"
    path = Path(value).expanduser().resolve()
    if path.name == "tinytorch" and (path / "__init__.py").exists():
        path = path.parent
    if not (path / "tinytorch" / "__init__.py").exists():
        raise ValueError(f"IMPL={value!r}: no tinytorch package in {path}")
    return path


def is_student(root: Path) -> bool:
    return Path(root).resolve() == ROOT.resolve()


def activate(root: Path) -> None:
    """Put ``root`` first on sys.path and forget any tinytorch modules already imported."""
    root = str(Path(root).resolve())
    while root in sys.path:
        sys.path.remove(root)
    sys.path.insert(0, root)
    package = Path(root) / "tinytorch"
    for name in [m for m in sys.modules if m == "tinytorch" or m.startswith("tinytorch.")]:
        origin = getattr(sys.modules[name], "__file__", None)
        if origin is None or package not in Path(origin).resolve().parents:
            del sys.modules[name]  # imported from another tree: forget it
