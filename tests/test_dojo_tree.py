"""dojo's tree shows who each part serves, and its imports go one way.

* shared modules at the top of ``dojo/`` (curriculum, impl, progress, report, stubs, testing,
  threads) import none of the three audiences' packages;
* ``dojo.student`` (the student loop) imports only the shared modules;
* ``dojo.classroom`` (fork CI, board, live sessions) may import ``dojo.student``, never
  ``dojo.maintainers``;
* ``dojo.bench`` (``make bench``: students and maintainers) imports neither the classroom nor the
  maintainers' tools;
* ``dojo.maintainers`` may import anything; only the command line (``dojo/cli.py``) imports it.
"""

import ast
from pathlib import Path

import dojo

DOJO = Path(dojo.__file__).parent
RANK = {"shared": 0, "student": 1, "bench": 1, "classroom": 2, "maintainers": 3}
ALLOWED = {
    "shared": set(),
    "student": {"student"},
    "bench": {"bench", "student"},
    "classroom": {"classroom", "student"},
    "maintainers": {"maintainers", "classroom", "student", "bench"},
}


def layer(module: str) -> str:
    parts = module.split(".")
    if parts[0] != "dojo" or len(parts) < 2:
        return "outside"
    return parts[1] if parts[1] in RANK else "shared"


def imported_modules(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, node.lineno
            for alias in node.names:  # from dojo import student -> dojo.student
                yield f"{node.module}.{alias.name}", node.lineno


def module_name(path: Path) -> str:
    return ".".join(("dojo", *path.relative_to(DOJO).with_suffix("").parts)).removesuffix(".__init__")


def test_the_three_audiences_have_their_packages():
    for package in ("student", "classroom", "maintainers", "bench"):
        assert (DOJO / package / "__init__.py").is_file(), f"dojo/{package}/ is missing"
    flat = sorted(p.name for p in DOJO.glob("*.py"))
    assert len(flat) <= 12, f"dojo/ holds {len(flat)} flat modules again: {flat}"


def test_imports_go_one_way():
    offences = []
    for path in sorted(DOJO.rglob("*.py")):
        if path.name == "cli.py" and path.parent == DOJO or path.name == "__main__.py" and path.parent == DOJO:
            continue  # the command line dispatches to every audience's verbs
        own = layer(module_name(path))
        for target, line in imported_modules(path):
            other = layer(target)
            if other in ("outside", "shared") or other == own:
                continue
            if other not in ALLOWED[own]:
                offences.append(f"{path.relative_to(DOJO.parent)}:{line} ({own}) imports {target} ({other})")
    assert not offences, "imports against the direction shared <- student <- classroom <- maintainers:\n" + "\n".join(offences)


def test_the_checker_sees_a_backwards_import(tmp_path):
    bad = tmp_path / "m.py"
    bad.write_text("from dojo.maintainers import checks\nimport dojo.classroom.ci\n")
    found = {(layer(t)) for t, _ in imported_modules(bad)}
    assert {"maintainers", "classroom"} <= found
