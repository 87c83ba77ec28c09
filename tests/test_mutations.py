"""Negative controls for the curriculum: a plausible student bug must turn its kata red.

Each test plants one bug into a copy of a complete solutions tree (built once) and runs the kata
test file that must catch it against that tree. The pytest processes of the mutants the selected
tests use run two at a time (one per core) from the module's start.
(Kata 05's broadcasting-only multiplication bug lives in tests/test_testing.py.)
"""

import re
import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest

from dojo import ROOT, curriculum
from dojo.maintainers.checks import run_pytest
from dojo.stubs import build_tree
from tests import minirepo

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

WORKERS = 2


def mutant_tree(complete, tmp_path, filename, pattern, replacement):
    shutil.copytree(complete / "tinytorch", tmp_path / "tinytorch")
    path = tmp_path / "tinytorch" / filename
    source = path.read_text(encoding="utf-8")
    assert re.search(pattern, source), f"{filename} changed: update this mutation"
    path.write_text(re.sub(pattern, replacement, source, count=1), encoding="utf-8")  # its cache (source hash checked) no longer matches
    return tmp_path


def _run_mutant(complete, folder, mutant):
    filename, pattern, replacement, test_file, _ = MUTANTS[mutant]
    return run_pytest([ROOT / "katas" / test_file], mutant_tree(complete, folder, filename, pattern, replacement))


@pytest.fixture(scope="module")
def mutant_runs(request, tmp_path_factory):
    """{mutant: future of its pytest Outcomes} for every mutant the selected tests of this module
    use, started in their order, ``WORKERS`` at a time."""
    wanted = []
    for item in request.session.items:
        if getattr(item, "module", None) is request.module and "mutant_runs" in item.fixturenames:
            callspec = getattr(item, "callspec", None)
            params = callspec.params if callspec is not None else {}
            mutant = params.get("escape") or params.get("control") or CAUSAL
            if mutant not in wanted:
                wanted.append(mutant)
    complete = build_tree(curriculum.load(), tmp_path_factory.mktemp("complete"), stub_katas=set())  # every mutant copies it
    minirepo.compile_checked(complete / "tinytorch")  # only the mutated file is compiled again
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        futures = {m: pool.submit(_run_mutant, complete, tmp_path_factory.mktemp("mutant"), m) for m in wanted}
        yield futures
        for future in futures.values():
            future.cancel()


CAUSAL = "causal mask lets one future position through (kata 12)"


def test_a_causal_mask_that_lets_one_future_position_through_turns_kata_12_red(mutant_runs):
    """causal_mask(T) with query 0 allowed to see key 1: one future position leaks. The step's
    file runs (the kata holds it); tests of that file that do not use the mask still pass."""
    outcomes = mutant_runs[CAUSAL].result()
    failed = {name for name, outcome in outcomes.tests.items() if outcome == "failed"}
    assert outcomes.tests, outcomes.output[-2000:]
    assert "test_01_masks.py::test_causal_mask_lets_nothing_from_the_future_through" in failed
    assert len(failed) < len(outcomes.tests), "only the tests that depend on the mask should fail"


# Plausible wrong implementations that once passed every kata test (issue 9, sections 5 and 6).
# Each must now turn its kata red under the derandomized ci profile: through an explicit
# @example or a dedicated test, never through a lucky random draw. Only the step file that
# must catch the bug runs (the kata holds it), which keeps this file fast.
# id: (file in tinytorch/, pattern, replacement, kata test file, the test that must fail)
ESCAPES = {
    "sum ignores keepdims when axis is None (kata 01)": (
        "tensor.py", r"return np\.sum\(self\.data, axis=axis, keepdims=keepdims\)",
        "return np.sum(self.data) if axis is None else np.sum(self.data, axis=axis, keepdims=keepdims)",
        "01_tensor/test_05_reductions.py", "test_reductions_match_numpy",
    ),
    "sum drops negative axes inside a tuple (kata 01)": (
        "tensor.py", r"return np\.sum\(self\.data, axis=axis, keepdims=keepdims\)",
        "axis = (tuple(a for a in axis if a >= 0) or axis) if isinstance(axis, tuple) else axis\n"
        "        return np.sum(self.data, axis=axis, keepdims=keepdims)",
        "01_tensor/test_05_reductions.py", "test_reductions_match_numpy",
    ),
    "mean of float64 returns float32 (kata 01)": (
        "tensor.py", r"return np\.mean\(self\.data, axis=axis, keepdims=keepdims\)",
        "return np.mean(self.data, axis=axis, keepdims=keepdims, dtype=np.float32)",
        "01_tensor/test_05_reductions.py", "test_reductions_keep_the_float_dtype[mean-float64]",
    ),
    "permute rejects negative dims (kata 01)": (
        "tensor.py", r"if sorted\(d % self\.ndim for d in dims\) != list\(range\(self\.ndim\)\):",
        "if sorted(dims) != list(range(self.ndim)):",
        "01_tensor/test_04_shape.py", "test_permute_accepts_negative_dims",
    ),
    "BCE gradient without the 1e-12 floor at p in {0, 1} (kata 05)": (
        "autograd.py", r"np\.maximum\(p \* \(1 - p\), 1e-12\)", "(p * (1 - p))",
        "05_autograd/test_06_losses.py", "test_bce_gradient_at_probabilities_0_and_1_uses_the_documented_floor[mean]",
    ),
    "clip_grad_norm also scales at norm == max_norm (kata 07)": (
        "training.py", r"if norm > max_norm:", "if norm >= max_norm:",
        "07_training/test_02_clipping.py", "test_direction_is_kept_and_norm_is_capped",
    ),
    "EarlyStopping counts a tie as an improvement (kata 07)": (
        "training.py", r"improved = value < self\.best - self\.min_delta", "improved = value <= self.best - self.min_delta",
        "07_training/test_05_early_stopping.py", "test_a_tie_is_not_an_improvement",
    ),
    "RandomCrop draws the left edge from the height (kata 08)": (
        "data.py", r"generator\.integers\(0, w - size \+ 1\)", "generator.integers(0, h - size + 1)",
        "08_dataloader/test_05_augment.py", "test_every_window_position_is_used_on_a_non_square_image[tall]",
    ),
    "im2col uses the height stride across the width (kata 09)": (
        "spatial.py", r"j : j \+ sw \* wo : sw\]", "j : j + sh * wo : sh]",
        "09_spatial/test_01_im2col.py", "test_im2col_matches_patches_copied_one_by_one",
    ),
    "col2im uses the height stride across the width (kata 09)": (
        "spatial.py", r"j : j \+ sw \* wo : sw\] \+= cols", "j : j + sh * wo : sh] += cols",
        "09_spatial/test_03_conv_backward.py", "test_col2im_is_the_adjoint_of_im2col[s(2,1)-p(0,1)]",
    ),
    "max-pool backward numbers window offsets with the kernel height (kata 09)": (
        "spatial.py", r"ctx\.arg == i \* kw \+ j", "ctx.arg == i * kh + j",
        "09_spatial/test_04_max_pool.py", "test_max_pool_backward_equals_the_naive_loop",
    ),
    "avg-pool divides by kh * kh (kata 09)": (
        "spatial.py", r"return out / x\.dtype\.type\(kh \* kw\)", "return out / x.dtype.type(kh * kh)",
        "09_spatial/test_05_avg_pool.py", "test_avg_pool_forward_equals_the_naive_loop",
    ),
    "MLP dropout on the hidden layer instead of the output (kata 13)": (
        "transformer.py", r"return self\.drop\(self\.proj\(gelu\(self\.fc\(x\)\)\)\)", "return self.proj(self.drop(gelu(self.fc(x))))",
        "13_transformers/test_02_mlp.py", "test_dropout_is_applied_to_the_output",
    ),
    "block dropout on the residual sum instead of the attention branch (kata 13)": (
        "transformer.py", r"x = x \+ self\.drop\(self\.attn\(self\.ln1\(x\), mask\)\)", "x = self.drop(x + self.attn(self.ln1(x), mask))",
        "13_transformers/test_03_block.py", "test_attention_dropout_sits_on_the_attention_branch",
    ),
    "GPT dropout on the token embeddings only (kata 13)": (
        "transformer.py", r"x = self\.drop\(self\.tok_emb\(ids\) \+ self\.pos_emb\(T\)\)", "x = self.drop(self.tok_emb(ids)) + self.pos_emb(T)",
        "13_transformers/test_04_gpt.py", "test_embedding_dropout_sits_between_the_embeddings_and_the_blocks",
    ),
}


# Wrong implementations a cheaper test must still catch: the test now sets up the condition the
# bug breaks under (a recursion limit of its own) instead of paying for it (a chain 10,000 deep).
# id: (file in tinytorch/, pattern, replacement, kata test file, the test that must fail)
CONTROLS = {
    "a recursive topological order, the recursion limit raised on import (kata 05)": (
        "autograd.py", r"(?s)def topological_order\(root: Tensor\) -> list:\n.*?    return order\n",
        "import sys\n\nsys.setrecursionlimit(100_000)\n\n\ndef topological_order(root):\n    order, seen = [], set()\n\n"
        "    def visit(tensor):\n        if id(tensor) in seen:\n            return\n        seen.add(id(tensor))\n"
        "        if tensor.node is not None:\n            for parent in tensor.node.inputs:\n"
        "                if parent.requires_grad:\n                    visit(parent)\n        order.append(tensor)\n\n"
        "    visit(root)\n    return order\n",
        "05_autograd/test_01_engine.py", "test_a_chain_deeper_than_the_recursion_limit_needs_no_recursion",
    ),
}

# every mutant: (file in tinytorch/, pattern, replacement, kata test file, the test that must fail)
MUTANTS = {
    CAUSAL: (
        "attention.py", r"return np\.tril\(np\.ones\(\(T, T\), dtype=bool\)\)",
        "mask = np.tril(np.ones((T, T), dtype=bool))\n    if T > 1:\n        mask[0, 1] = True\n    return mask",
        "12_attention/test_01_masks.py", "test_causal_mask_lets_nothing_from_the_future_through",
    ),
    **ESCAPES,
    **CONTROLS,
}


def _assert_only_its_step_fails(mutant_runs, mutant):
    """The mutant's named test failed in its run, and not every test of that file did."""
    test_file, must_fail = MUTANTS[mutant][3:]
    outcomes = mutant_runs[mutant].result()
    failed = {name.split("::", 1)[1] for name, outcome in outcomes.tests.items() if outcome == "failed"}
    assert outcomes.tests, outcomes.output[-2000:]
    assert must_fail in failed, f"{mutant}: {must_fail} passed; failing: {sorted(failed)}"
    assert len(failed) < len(outcomes.tests), f"{mutant}: every test of {test_file} failed; the mutant is too crude"


@pytest.mark.parametrize("escape", list(ESCAPES))
def test_a_bug_that_once_escaped_turns_its_kata_red_under_the_ci_profile(mutant_runs, escape):
    """Each wrong implementation above passed every kata test (or only failed on some random draws)
    before issue 9; planted into a complete solutions tree, it must fail its named test under the
    derandomized ci profile, and only tests of the step it breaks may fail."""
    _assert_only_its_step_fails(mutant_runs, escape)


@pytest.mark.parametrize("control", list(CONTROLS))
def test_a_bug_a_cheaper_test_must_catch_turns_its_kata_red(mutant_runs, control):
    """Each wrong implementation in CONTROLS, planted into a complete solutions tree, fails its
    named test under the ci profile, and only tests of the step it breaks may fail."""
    _assert_only_its_step_fails(mutant_runs, control)
