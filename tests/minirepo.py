"""A throwaway copy of the harness with a two-kata curriculum, for end-to-end tests.

Everything the harness writes (progress.toml, backups, tinytorch/) lands in the copy, never in
the real repository. Repositories are copies of templates built once per test process
(:func:`make`, :func:`template`); :class:`Scenarios` runs the slow parts of end-to-end tests (whole
processes: pytest sessions, fork CI) two at a time.
"""

from __future__ import annotations

import atexit
import compileall
import inspect
import os
import py_compile
import shutil
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from dojo import ROOT

CURRICULUM = '''
format_version = 1

[[kata]]
id = "01"
slug = "tensor"
title = "Tensor"
owns = ["tensor.py"]
requires = []
{steps01}

[[kata]]
id = "02"
slug = "activations"
title = "Activations"
owns = ["activations.py"]
requires = ["01"]
{steps02}

[[milestone]]
id = "01"
title = "Perceptron"
year = 1957
requires = ["02"]
module = "m01_perceptron"
target = 1.0
'''

STEPS01 = ["creation", "arithmetic", "matmul", "shape", "reductions", "indexing"]
STEPS02 = ["relu", "sigmoid", "tanh", "gelu", "softmax"]

HEADER = "from dojo.testing import assert_close\nfrom tinytorch.tensor import Tensor\n"

TESTS01 = {
    "test_01_creation.py": HEADER + '''
import numpy as np

def test_float_lists_become_float32():
    """Python floats become float32."""
    assert Tensor([1.0, 2.0]).dtype == np.float32
''',
    "test_02_arithmetic.py": HEADER + '''
def test_add():
    """a + b adds elementwise."""
    assert_close(Tensor([1.0, 2.0]) + Tensor([3.0, 4.0]), [4.0, 6.0])
''',
    "test_03_matmul.py": HEADER + '''
def test_matmul():
    """A 2x2 product."""
    assert_close(Tensor([[1.0, 2.0], [3.0, 4.0]]) @ Tensor([[1.0], [1.0]]), [[3.0], [7.0]])
''',
    "test_04_shape.py": HEADER + '''
def test_reshape():
    """reshape with -1."""
    assert Tensor([1.0, 2.0, 3.0, 4.0]).reshape(2, -1).shape == (2, 2)
''',
    "test_05_reductions.py": HEADER + '''
def test_sum():
    """sum over an axis."""
    assert_close(Tensor([[1.0, 2.0], [3.0, 4.0]]).sum(axis=0), [4.0, 6.0])
''',
    "test_06_indexing.py": HEADER + '''
def test_index():
    """t[1] picks a row."""
    assert_close(Tensor([[1.0, 2.0], [3.0, 4.0]])[1], [3.0, 4.0])
''',
}

ACT = "from dojo.testing import assert_close\nfrom tinytorch import activations as A\nfrom tinytorch.tensor import Tensor\n"

TESTS02 = {
    f"test_0{i}_{name}.py": ACT + f'''
import numpy as np

def test_{name}_at_zero():
    """{name} at 0 has its known value."""
    value = A.{call}(Tensor([[0.0, 0.0]])).data[0, 0]
    assert abs(value - {expected}) < 1e-6
'''
    for i, (name, call, expected) in enumerate(
        [("relu", "relu", 0.0), ("sigmoid", "sigmoid", 0.5), ("tanh", "tanh", 0.0), ("gelu", "gelu", 0.0), ("softmax", "softmax", 0.5)], start=1
    )
}


def _steps(names):
    return "\n".join(f'[[kata.step]]\nname = "{n}"\ntitle = "{n.title()}"\nhints = ["hint one for {n}", "hint two for {n}"]\n' for n in names)


_TEMPLATES: dict = {}  # key -> a finished repository, built once per test process
_LOCK = threading.RLock()  # tests may build repositories from several threads


def make(tmp: Path) -> Path:
    """Build the mini repository in ``tmp`` and return its root.

    The first call builds a template (a copy of the harness and generated stubs: one ``dojo
    stubs`` process) in a private temporary folder; every call copies it, which gives what a
    fresh build gives in a fraction of the time."""
    return copy_of(template("stubs", build), tmp)


def template(key: str, builder) -> Path:
    """``builder(folder)`` (returns a repository root) run once per process and ``key``; the
    folder is removed at exit. Take a private copy with :func:`copy_of`, never edit it."""
    with _LOCK:
        root = _TEMPLATES.get(key)
        if root is None or not root.is_dir():
            folder = Path(tempfile.mkdtemp(prefix=f"dojo-minirepo-{key}-"))
            atexit.register(shutil.rmtree, folder, True)
            root = builder(folder)
            _TEMPLATES[key] = root
        return root


def copy_of(template_root: Path, tmp: Path) -> Path:
    """A private copy of a template as ``tmp/repo`` (links kept as links)."""
    root = Path(tmp) / "repo"
    shutil.copytree(template_root, root, symlinks=True)
    return root


def build(tmp: Path) -> Path:
    """Build the mini repository from scratch in ``tmp/repo`` and return its root."""
    root = Path(tmp) / "repo"
    shutil.copytree(ROOT / "dojo", root / "dojo", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("conftest.py", "pyproject.toml"):
        shutil.copy2(ROOT / name, root / name)
    solutions = root / "solutions" / "tinytorch"
    solutions.mkdir(parents=True)
    for name in ("__init__.py", "rng.py", "tensor.py", "activations.py"):
        shutil.copy2(ROOT / "solutions" / "tinytorch" / name, solutions / name)
    katas = root / "katas"
    (katas / "01_tensor").mkdir(parents=True)
    (katas / "02_activations").mkdir(parents=True)
    (katas / "curriculum.toml").write_text(CURRICULUM.format(steps01=_steps(STEPS01), steps02=_steps(STEPS02)))
    for name, text in TESTS01.items():
        (katas / "01_tensor" / name).write_text(text)
    for name, text in TESTS02.items():
        (katas / "02_activations" / name).write_text(text)
    done = run(root, "-m", "dojo", "stubs")
    assert done.returncode == 0, done.stdout + done.stderr
    warm(root)
    return root


def warm(root: Path) -> None:
    """Fill a template's bytecode caches (the harness and the package compiled, the kata tests and
    conftest.py rewritten by pytest) so that its copies do not redo it in every process: fork
    CI's own processes never write caches. The compiled files hold their source's hash (checked
    on every import), so a test that edits a file within the same second gets no stale code."""
    done = run(root, "-m", "pytest", "katas", "--collect-only", "-q", "-p", "no:cacheprovider", "--impl=tinytorch",
               "--no-gate", "--dojo-progress=none", "--dojo-quiet", env={"PYTHONDONTWRITEBYTECODE": ""})
    assert done.returncode in (0, 1, 5), done.stdout + done.stderr
    compile_checked(root / "dojo", root / "tinytorch")


def compile_checked(*folders: Path) -> None:
    """Compile every module under ``folders`` into caches that hold their source's hash."""
    for folder in folders:
        compileall.compile_dir(str(folder), quiet=1, force=True, invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)


def run(root: Path, *args, env=None, timeout=120) -> subprocess.CompletedProcess:
    """Run ``python <args>`` inside the mini repository (no terminal, like CI)."""
    # PYTEST_CURRENT_TEST: this pytest's, changing as it goes (a student's shell has none)
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("IMPL", "UNLOCK", "DOJO_CURRICULUM", "PYTEST_ADDOPTS", "PYTEST_CURRENT_TEST")}
    environment.update(env or {})
    return subprocess.run([sys.executable, *args], cwd=root, capture_output=True, text=True, env=environment, timeout=timeout)


def solve(root: Path, *names) -> None:
    """Copy solution files over the student's stubs (what a student who finished would have)."""
    for name in names:
        shutil.copy2(root / "solutions" / "tinytorch" / name, root / "tinytorch" / name)


def student_environment(extra=None) -> dict:
    """This process's environment as a student's shell has it (no IMPL, UNLOCK, PYTEST_ADDOPTS),
    plus ``extra``: for `python -m dojo` started by hand (Popen) rather than by :func:`run`."""
    env = {k: v for k, v in os.environ.items() if k not in ("IMPL", "UNLOCK", "PYTEST_ADDOPTS", "PYTEST_CURRENT_TEST")}
    env.update(extra or {})
    return env


# -- make kata through the warm server (dojo/student/warm.py) -----------------------------------

_WARM_FOLDERS: dict = {}


def warm_possible() -> bool:
    """Can `make kata` use the warm server on this system (Linux, fork, Unix sockets)?"""
    from dojo.student import runner, warm

    return os.name == "posix" and sys.platform.startswith("linux") and hasattr(warm.socket, "send_fds") and hasattr(os, "fork") \
        and runner.fork_available()


def warm_folder(repo: Path) -> Path:
    """The private socket folder of ``repo``'s warm servers (short: a Unix socket's path is at
    most 107 bytes)."""
    with _LOCK:
        folder = _WARM_FOLDERS.get(str(repo))
        if folder is None:
            folder = Path(tempfile.mkdtemp(prefix="dw-"))
            _WARM_FOLDERS[str(repo)] = folder
        return folder


def warm_environment(repo: Path) -> dict:
    """What makes `python -m dojo kata` in ``repo`` use a warm server of its own (the harness's
    tests otherwise run with DOJO_WARM=0, set in tests/conftest.py)."""
    return {"DOJO_WARM": "1", "CI": "", "DOJO_WARM_DIR": str(warm_folder(repo)), "DOJO_WARM_IDLE": "120"}


def warm_pids(repo: Path) -> list:
    """The process ids of ``repo``'s running warm servers."""
    import json

    pids = []
    for described in warm_folder(repo).glob("*.json"):
        try:
            pids.append(int(json.loads(described.read_text())["pid"]))
        except (OSError, ValueError, KeyError):
            continue
    return pids


def stop_warm(repo: Path, wait: float = 10.0) -> None:
    """End ``repo``'s warm servers (SIGTERM, then SIGKILL) and remove their folder."""
    import signal
    import time

    pids = warm_pids(repo)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + wait
    for pid in pids:
        while time.monotonic() < deadline and os.path.exists(f"/proc/{pid}"):
            time.sleep(0.02)
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    with _LOCK:
        folder = _WARM_FOLDERS.pop(str(repo), None)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


class warm_servers:
    """``with warm_servers(repo, mode):`` stops ``repo``'s warm servers at the end (mode "warm")."""

    def __init__(self, repo: Path, mode: str = "warm"):
        self.repo, self.mode = repo, mode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.mode != "cold":
            stop_warm(self.repo)
        return False


class Scenarios:
    """The slow halves of a module's end-to-end tests, started together, ``workers`` at a time.

    A scenario is a function ``build(tmp, **params)`` that makes a repository in ``tmp`` and runs
    commands in it (seconds of subprocesses, one core busy at a time), returning what the tests
    read. ``@scenarios.add`` registers it and returns a fixture of the same name that gives its
    result; ``params`` are taken from the test's parametrization, so one parametrized test gets one
    run per parameter set and tests with the same parameters share a run. The module must also
    hold ``scenario_runs = scenarios.runner()``: an autouse module fixture that starts every run
    the selected tests of the module need, in the order they need them::

        scenarios = minirepo.Scenarios()
        scenario_runs = scenarios.runner()

        @scenarios.add
        def fresh(tmp, spelling):
            repo = minirepo.make(tmp)
            return repo, minirepo.run(repo, "-m", "dojo", "kata", spelling)

        @pytest.mark.parametrize("spelling", ["1", "01"])
        def test_kata_spellings(fresh, spelling):
            assert "Kata 01" in fresh[1].stdout
    """

    def __init__(self, workers: int = 2):
        self.builders = {}
        self.workers = workers

    def _key(self, name, item):
        params = getattr(getattr(item, "callspec", None), "params", {})
        wanted = [p for p in inspect.signature(self.builders[name]).parameters if p != "tmp"]
        missing = [p for p in wanted if p not in params]
        assert not missing, f"{item.name}: scenario {name} needs the parameters {missing}"
        return name, tuple((p, params[p]) for p in wanted)

    def add(self, build):
        name = build.__name__
        self.builders[name] = build

        @pytest.fixture(name=name)
        def fixture(request, scenario_runs):
            return scenario_runs[self._key(name, request.node)].result()

        fixture.__doc__ = build.__doc__
        return fixture

    def runner(self):
        scenarios = self

        @pytest.fixture(scope="module", autouse=True, name="scenario_runs")
        def scenario_runs(request, tmp_path_factory):
            keys = []
            for item in request.session.items:
                if getattr(item, "module", None) is request.module:
                    keys += [k for k in (scenarios._key(n, item) for n in item.fixturenames if n in scenarios.builders) if k not in keys]
            if not keys:
                yield {}
                return
            with ThreadPoolExecutor(max_workers=scenarios.workers) as pool:
                futures = {key: pool.submit(scenarios.builders[key[0]], tmp_path_factory.mktemp(key[0]), **dict(key[1])) for key in keys}
                yield futures
                for future in futures.values():
                    future.cancel()

        return scenario_runs
