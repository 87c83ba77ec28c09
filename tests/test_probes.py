"""The probes fork CI runs outside the pytest run (dojo.classroom.probes): every kata has them, they are
deterministic for a seed, they agree with the reference on the reference, and they catch every
step: with any one step stubbed (solutions everywhere else), one of that step's probes disagrees."""

import json
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from dojo import ROOT, curriculum
from dojo.classroom import probes
from dojo.classroom import judge
from dojo.classroom.probes import run as probe_run
from dojo.stubs import build_tree, expected_stub, solution_files
from tests import minirepo

CURRICULUM = curriculum.load()
SEED = 20240611


def test_every_kata_has_probes_for_every_step():
    """A kata without probes would be verified by its pytest run alone: add dojo/classroom/probes/k<id>_<slug>.py."""
    modules = probes.modules()
    for kata in CURRICULUM.katas:
        assert kata.id in modules, f"kata {kata.id} has no probes: add dojo/classroom/probes/k{kata.id}_{kata.slug}.py (see katas/README.md)"
        found = probes.for_kata(kata.id)
        steps = {s.name for s in kata.steps}
        assert {p.step for p in found} <= steps, f"kata {kata.id}: probes name unknown steps {sorted({p.step for p in found} - steps)}"
        missing = [s.name for s in kata.steps if not any(p.step == s.name for p in found)]
        assert not missing, f"kata {kata.id}: steps without a probe: {missing}"
    assert set(modules) <= {k.id for k in CURRICULUM.katas}, "a probe module for a kata that is not in the curriculum"


def test_probe_modules_never_import_tinytorch_at_import_time():
    """The judge's side must be able to list probes without loading any tinytorch."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from dojo.classroom import probes\n"
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


# One probe process runs many (tree, kata) pairs in turn: dojo.classroom.probes.run.main once per kata,
# each time with that kata's trees (it clears tinytorch from sys.modules before every tree).
DRIVER = "import json, sys; sys.path.insert(0, sys.argv[1]); from dojo.classroom.probes.run import main\nfor argv in json.loads(sys.argv[2]):\n    main(argv)\n"


def stubbed_step_trees(base, kata, folder):
    """{step name: a tree with only ``step`` of ``kata`` stubbed}: copies of ``base`` (the whole
    solutions tree, built once) with the kata's own files generated again, which is what
    ``build_tree(stub_katas={kata}, stub_steps={step})`` writes, without rebuilding every file."""
    owned = [rel for rel in solution_files() if (owner := CURRICULUM.owner_of(rel.as_posix())) is not None and owner.id == kata.id]
    assert owned, f"kata {kata.id} owns no file of solutions/tinytorch"
    trees = {}
    for step in kata.steps:
        tree = folder / f"tree-{kata.id}-{step.name}"
        shutil.copytree(base, tree)
        changed = False
        for rel in owned:
            content = expected_stub(CURRICULUM, rel, stub_katas={kata.id}, stub_steps={step.name})
            target = tree / "tinytorch" / rel
            if target.read_text(encoding="utf-8") != content:
                target.write_text(content, encoding="utf-8")  # its cache (source hash checked) no longer matches
                changed = True
        assert changed, f"kata {kata.id} step {step.name}: stubbing it changed no file"
        trees[step.name] = tree
    return trees


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_reference_probes_are_deterministic_and_every_stubbed_step_is_caught(tmp_path):
    """Run every kata's probes on the solutions twice (separate processes, same seed): they agree.
    Then for each kata, one tree per step with that step stubbed: a probe of that step disagrees."""
    probed = [k for k in CURRICULUM.katas if k.id in probes.modules()]  # the others fail the test above
    ids = [k.id for k in probed]
    solutions = ROOT / "solutions"
    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(lambda out: judge.run_probes(ROOT, solutions, ids, SEED, tmp_path / out, tmp_path), ["a", "b"])
    assert not first.problems and not second.problems, (first.problems, first.log[-2000:])
    for kid in ids:
        records = first.katas[kid]
        assert records and all(r["status"] in ("ok", "raised") for r in records.values()), {n: r["message"] for n, r in records.items()}
        assert all(r["error"] != ["NotImplementedError", "RuntimeError", "Exception"] for r in records.values())
        same = judge.compare(records, second.katas[kid])
        assert same.ok, (kid, same.disagree)

    base = build_tree(CURRICULUM, tmp_path / "base", stub_katas=set())
    minirepo.compile_checked(base / "tinytorch")  # the trees' unchanged files are not compiled again
    runs = []  # (kata, step, out)
    argvs = []
    for kata in probed:
        argv = ["--katas", kata.id, "--seed", str(SEED)]
        for step, tree in stubbed_step_trees(base, kata, tmp_path).items():
            out = tmp_path / f"out-{kata.id}-{step}"
            out.mkdir()
            argv += ["--impl", str(tree), "--out", str(out)]
            runs.append((kata, step, out))
        argvs.append(argv)

    def probe(share):
        done = subprocess.run([sys.executable, "-I", "-B", "-c", DRIVER, str(ROOT), json.dumps(share)], cwd=tmp_path,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]

    with ThreadPoolExecutor(max_workers=2) as pool:  # two processes, the katas dealt out between them
        list(pool.map(probe, [argvs[0::2], argvs[1::2]]))
    problems = []
    for kata, step, out in runs:
        result = judge.compare(first.katas[kata.id], judge.load_kata(out, kata.id))
        if step not in result.steps_failing:
            number = next(s.number for s in kata.steps if s.name == step)
            problems.append(f"kata {kata.id} step {number} ({step}) stubbed: no probe of that step disagrees")
    assert not problems, "\n".join(problems)
