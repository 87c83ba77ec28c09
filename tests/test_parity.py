"""``make parity``: tinytorch against PyTorch, forward and backward.

PyTorch is optional. The tests that need it ask for it with ``pytest.importorskip`` inside the
test; the install message (the path every user without PyTorch sees) and the argument errors are
checked everywhere, with ``import torch`` blocked in a child process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dojo import ROOT
from dojo.student import parity

BLOCK_TORCH = "import sys; sys.modules['torch'] = None\n"


def _run(code: str, *args, env=None, timeout=300) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONIOENCODING": "utf-8", **(env or {})}
    environment.pop("IMPL", None)
    return subprocess.run([sys.executable, "-c", code, *args], cwd=str(ROOT), capture_output=True, text=True,
                          env=environment, timeout=timeout)


@pytest.mark.timeout(120)
def test_without_pytorch_one_line_says_how_to_install_it_and_exits_0():
    """No PyTorch: `python -m dojo parity 05` prints one line with the pip command, exit status 0."""
    result = _run(BLOCK_TORCH + "from dojo import cli; sys.exit(cli.main(['parity', '05']))")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    assert 'pip install -e ".[bench]"' in lines[0] and "PyTorch" in lines[0]
    assert result.stderr == ""


@pytest.mark.timeout(120)
def test_an_unknown_kata_is_an_error_that_lists_the_katas_with_or_without_pytorch():
    result = _run(BLOCK_TORCH + "from dojo.student import parity; sys.exit(parity.main(['99']))")
    assert result.returncode == 2
    assert "01 (tensor)" in result.stderr and "13 (transformers)" in result.stderr


def test_every_kata_has_rows_and_each_check_has_a_unique_name():
    """Katas 01-20 all have something to say (rows, or a note that nothing is compared)."""
    for kata in [f"{n:02d}" for n in range(1, 21)]:
        names = [name for name, _, _ in parity.CHECKS.get(kata, [])]
        assert names, f"kata {kata} has no parity rows"
        assert len(names) == len(set(names)), f"kata {kata}: duplicate check names"


def test_max_error_treats_shared_nans_and_infinities_as_equal_and_refuses_other_shapes():
    import numpy as np

    nan, inf = float("nan"), float("inf")
    assert parity.max_error(np.array([nan, inf, 1.0]), np.array([nan, inf, 1.5])) == 0.5
    assert np.isnan(parity.max_error(np.array([nan]), np.array([1.0])))
    with pytest.raises(parity.Mismatch):
        parity.max_error(np.zeros(2), np.zeros(3))


@pytest.mark.timeout(120)  # importing PyTorch takes seconds on a busy machine
@pytest.mark.parametrize("kata", ["02", "03", "04", "05", "06", "09", "12", "13"])
def test_the_solutions_agree_with_pytorch(solutions, kata):
    """Every compared row of these katas is within tolerance for the reference solutions (float32)."""
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    P = parity.Parity(torch, seed=0, dtype="float32")
    rows = [row for name, fn, shapes in parity.CHECKS[kata] for row in parity.run_check(P, name, fn, shapes)]
    bad = [(r.check, r.status, r.note) for r in rows if r.status not in ("ok", "info")]
    assert not bad, bad
    assert sum(r.status == "ok" for r in rows) >= 5


@pytest.mark.timeout(120)
def test_the_solutions_agree_in_float64_to_1e_8(solutions):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    P = parity.Parity(torch, seed=1, dtype="float64")
    rows = [row for kata in ("05", "12") for name, fn, shapes in parity.CHECKS[kata] for row in parity.run_check(P, name, fn, shapes)]
    assert [r.check for r in rows if r.status not in ("ok", "info")] == []


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_broken_function_is_red_and_an_unwritten_kata_is_amber(tmp_path):
    """A tree with GELU's constant wrong and the backward of `a - b` wrong: those rows are ❌ (the
    others ✅), the exit status is 1; a kata still stubbed shows ⏳ rows instead of crashing."""
    pytest.importorskip("torch")
    from dojo import curriculum, stubs

    tree = stubs.build_tree(curriculum.load(), tmp_path / "impl", stub_katas={"13"})
    activations = tree / "tinytorch" / "activations.py"
    text = activations.read_text(encoding="utf-8")
    assert "0.044715" in text
    activations.write_text(text.replace("0.044715", "0.04"), encoding="utf-8")
    autograd = tree / "tinytorch" / "autograd.py"
    text = autograd.read_text(encoding="utf-8")
    start = text.index('@rule("sub")')
    end = text.index("@rule(", start + 1)
    body = text[start:end]
    assert "-unbroadcast(grad" in body or "unbroadcast(-grad" in body, body
    broken = body.replace("-unbroadcast(grad", "unbroadcast(grad").replace("unbroadcast(-grad", "unbroadcast(grad")
    autograd.write_text(text[:start] + broken + text[end:], encoding="utf-8")

    result = _run("import sys; from dojo import cli; sys.exit(cli.main(sys.argv[1:]))", "parity", "02", "05", "13", "--impl", str(tree))
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    lines = {line.split("  ")[0]: line for line in out.splitlines() if "  " in line}
    assert "❌" in lines["gelu vs F.gelu(approximate='tanh')"]
    assert "✅" in lines["relu"] and "✅" in lines["softmax(axis=-1)"]
    assert "❌" in lines["a - b"] and "gradient of y differs" in lines["a - b"]
    assert "✅" in lines["a + b (broadcast)"]
    kata13 = out[out.index("Kata 13"):out.index("\n\n\n", out.index("Kata 13")) if "\n\n\n" in out else None]
    kata13 = kata13.split("\n\n")[1]  # the table: title, blank line, table, blank line
    rows = [line for line in kata13.splitlines() if "not implemented yet" in line]
    assert len(rows) == len(parity.CHECKS["13"]) and all("⏳" in line for line in rows), kata13
    assert "DIFFERENT" in out.splitlines()[-1]
