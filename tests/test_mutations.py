"""Negative controls for the curriculum: a plausible student bug must turn its kata red.

Each test builds a complete solutions tree, plants one bug, and runs the kata against it.
(Kata 05's broadcasting-only multiplication bug lives in tests/test_testing.py.)
"""

import re

import pytest

from dojo import ROOT, curriculum
from dojo.checks import run_pytest
from dojo.stubs import build_tree

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def mutant_tree(tmp_path, filename, pattern, replacement):
    build_tree(curriculum.load(), tmp_path, stub_katas=set())
    path = tmp_path / "tinytorch" / filename
    source = path.read_text(encoding="utf-8")
    assert re.search(pattern, source), f"{filename} changed: update this mutation"
    path.write_text(re.sub(pattern, replacement, source, count=1), encoding="utf-8")
    return tmp_path


def test_a_causal_mask_that_lets_one_future_position_through_turns_kata_12_red(tmp_path):
    """causal_mask(T) with query 0 allowed to see key 1: one future position leaks."""
    tree = mutant_tree(
        tmp_path,
        "attention.py",
        r"return np\.tril\(np\.ones\(\(T, T\), dtype=bool\)\)",
        "mask = np.tril(np.ones((T, T), dtype=bool))\n    if T > 1:\n        mask[0, 1] = True\n    return mask",
    )
    outcomes = run_pytest([ROOT / "katas" / "12_attention"], tree)
    failed = {name for name, outcome in outcomes.tests.items() if outcome == "failed"}
    assert outcomes.tests, outcomes.output[-2000:]
    assert "test_01_masks.py::test_causal_mask_lets_nothing_from_the_future_through" in failed
    assert len(failed) < len(outcomes.tests), "only the tests that depend on the mask should fail"
