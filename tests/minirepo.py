"""A throwaway copy of the harness with a two-kata curriculum, for end-to-end tests.

Everything the harness writes (progress.toml, backups, tinytorch/) lands in the copy, never in
the real repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

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


def make(tmp: Path) -> Path:
    """Build the mini repository in ``tmp`` and return its root."""
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
    run(root, "-m", "dojo", "stubs")
    return root


def run(root: Path, *args, env=None, timeout=120) -> subprocess.CompletedProcess:
    """Run ``python <args>`` inside the mini repository (no terminal, like CI)."""
    environment = {k: v for k, v in os.environ.items() if k not in ("IMPL", "UNLOCK", "DOJO_CURRICULUM", "PYTEST_ADDOPTS")}
    environment.update(env or {})
    return subprocess.run([sys.executable, *args], cwd=root, capture_output=True, text=True, env=environment, timeout=timeout)


def solve(root: Path, *names) -> None:
    """Copy solution files over the student's stubs (what a student who finished would have)."""
    for name in names:
        shutil.copy2(root / "solutions" / "tinytorch" / name, root / "tinytorch" / name)
