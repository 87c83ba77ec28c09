"""The probes fork CI runs outside the pytest run (dojo.probes): every kata has them, they are
deterministic for a seed, they agree with the reference on the reference, and they catch every
step: with any one step stubbed (solutions everywhere else), one of that step's probes disagrees."""

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from dojo import ROOT, curriculum, judge, probes
from dojo.probes import run as probe_run
from dojo.stubs import build_tree

CURRICULUM = curriculum.load()
SEED = 20240611


def test_every_kata_has_probes_for_every_step():
    """A kata without probes would be verified by its pytest run alone: add dojo/probes/k<id>_<slug>.py."""
    modules = probes.modules()
    for kata in CURRICULUM.katas:
        assert kata.id in modules, f"kata {kata.id} has no probes: add dojo/probes/k{kata.id}_{kata.slug}.py (see katas/README.md)"
        found = probes.for_kata(kata.id)
        steps = {s.name for s in kata.steps}
        assert {p.step for p in found} <= steps, f"kata {kata.id}: probes name unknown steps {sorted({p.step for p in found} - steps)}"
        missing = [s.name for s in kata.steps if not any(p.step == s.name for p in found)]
        assert not missing, f"kata {kata.id}: steps without a probe: {missing}"
    assert set(modules) <= {k.id for k in CURRICULUM.katas}, "a probe module for a kata that is not in the curriculum"


def test_probe_modules_never_import_tinytorch_at_import_time():
    """The judge's side must be able to list probes without loading any tinytorch."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from dojo import probes\n"
        "for kid in probes.modules(): probes.for_kata(kid)\n"
        "print(any(m == 'tinytorch' or m.startswith('tinytorch.') for m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-I", "-c", code, str(ROOT)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_flatten_keeps_plain_values_and_refuses_objects():
    import numpy as np

    flat = probe_run.flatten({"a": np.ones((2, 2)), "b": [1, 2, 3], "c": (np.zeros(2), "x"), "d": None, "e": 2.5})
    assert set(flat) == {"a", "b", "c[0]", "c[1]", "d", "e"}
    assert flat["b"].tolist() == [1, 2, 3] and flat["d"] is None and flat["c[1]"].item() == "x"
    with pytest.raises(probe_run._Unsupported):
        probe_run.flatten({"bad": object()})
    with pytest.raises(probe_run._Unsupported):
        probe_run.flatten(np.array([object()], dtype=object))


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_reference_probes_are_deterministic_and_every_stubbed_step_is_caught(tmp_path):
    """Run every kata's probes on the solutions twice (separate processes, same seed): they agree.
    Then for each kata, one tree per step with that step stubbed: a probe of that step disagrees."""
    probed = [k for k in CURRICULUM.katas if k.id in probes.modules()]  # the others fail the test above
    ids = [k.id for k in probed]
    solutions = ROOT / "solutions"
    first = judge.run_probes(ROOT, solutions, ids, SEED, tmp_path / "a", tmp_path)
    second = judge.run_probes(ROOT, solutions, ids, SEED, tmp_path / "b", tmp_path)
    assert not first.problems and not second.problems, (first.problems, first.log[-2000:])
    for kid in ids:
        records = first.katas[kid]
        assert records and all(r["status"] in ("ok", "raised") for r in records.values()), {n: r["message"] for n, r in records.items()}
        assert all(r["error"] != ["NotImplementedError", "RuntimeError", "Exception"] for r in records.values())
        same = judge.compare(records, second.katas[kid])
        assert same.ok, (kid, same.disagree)

    def check(kata):
        trees, outs = [], []
        for step in kata.steps:
            trees.append(build_tree(CURRICULUM, tmp_path / f"tree-{kata.id}-{step.name}", stub_katas={kata.id}, stub_steps={step.name}))
            outs.append(tmp_path / f"out-{kata.id}-{step.name}")
            outs[-1].mkdir()
        command = [sys.executable, "-I", "-B", "-c", probe_run.BOOT, str(ROOT), "--katas", kata.id, "--seed", str(SEED)]
        for tree, out in zip(trees, outs):
            command += ["--impl", str(tree), "--out", str(out)]
        done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        problems = []
        for step, out in zip(kata.steps, outs):
            result = judge.compare(first.katas[kata.id], judge.load_kata(Path(out), kata.id))
            if step.name not in result.steps_failing:
                problems.append(f"kata {kata.id} step {step.number} ({step.name}) stubbed: no probe of that step disagrees")
        return problems

    with ThreadPoolExecutor(max_workers=2) as pool:
        problems = [p for found in pool.map(check, probed) for p in found]
    assert not problems, "\n".join(problems)
