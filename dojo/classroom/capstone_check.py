"""Capstone submissions (kata 20): the file's schema, and its figures re-derived from the student's code.

A ``capstone.json`` (written by ``tinytorch.capstone.write_submission``) claims figures: the
generation speedup, the weight bytes of the baseline and of the optimized model, both validation
losses. Fork CI and the cohort board never take them on trust. :func:`rederive`:

1. checks the file (:func:`validate`: format version, kind, every figure a finite number of the
   right type, the figures consistent with each other; :func:`rederivable`: the seed and the
   configuration needed to redo the run);
2. in a **child process** that imports the student's tinytorch (``measure``), re-trains the
   baseline from the submission's configuration and seed (milestone 06's recipe, deterministic),
   rebuilds the student's pipeline with ``optimize(model, calibration, **choices)``, and measures
   everything again with this module's own code: the bytes of every array the models hold (a
   walk over their modules, not the student's ``weight_bytes``), the loss from the logits the
   optimized forward returns, interleaved timing with ``time.perf_counter`` and a bootstrap
   interval, and whether the optimized model's greedy tokens are the arg-max of its own forward;
3. compares, in this process (which never imports tinytorch), the claims with what it measured
   (:func:`compare_figures`): bytes exactly, losses within :data:`LOSS_TOLERANCE`, the speedup
   within :data:`SPEED_SLACK` of the re-measured interval (speed varies between machines; its
   ratio much less).

Fork CI (``make ci``, :func:`dojo.classroom.judge.rederive_capstone`) runs the same child under ``dojo.classroom.guard``
(``measure`` with ``$DOJO_GUARD`` set: the harness, milestone 06 and the corpus are loaded first,
then the guard is installed, then the student's package is imported from a private copy) and does
the comparison in the judge's process. Which submissions it re-derives: :func:`configuration_of`.

Commands (``python -m dojo capstone ...``, ``make capstone``)::

    submit [--out capstone.json] [--seed 0] [--quick]   train milestone 06's baseline, run your
                                                        optimize and evaluate, write the file
    verify capstone.json [--impl student]               re-derive it: claimed vs re-derived
    validate capstone.json                              the schema only

Nothing here imports tinytorch at import time; the child activates the implementation it is given.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

from dojo import ROOT

FORMAT_VERSION = 1
KIND = "tinytorch-capstone"
TOP_LEVEL = {"format_version": int, "kind": str, "created": str, "figures": dict, "choices": dict, "config": dict,
             "environment": dict}
NUMBER = (int, float)
FIGURES = {
    "new_tokens": int, "prompt_len": int, "batch": int, "rounds": int,
    "baseline_seconds": NUMBER, "optimized_seconds": NUMBER,
    "baseline_tokens_per_s": NUMBER, "optimized_tokens_per_s": NUMBER,
    "speedup": NUMBER, "speedup_ci": list,
    "baseline_bytes": int, "optimized_bytes": int, "size_ratio": NUMBER,
    "baseline_loss": NUMBER, "optimized_loss": NUMBER, "loss_delta": NUMBER, "token_agreement": NUMBER,
}
MODEL_KEYS = ("vocab_size", "block_size", "n_layer", "n_head", "n_embd")
TRAINING_KEYS = {"steps": int, "batch_size": int, "lr": NUMBER, "backend": str, "corpus": str, "sha256": str}
DATA_KEYS = {"calibration_batches": int, "val_batches": int, "batch_size": int}
TARGETS = {"speedup": 10.0, "size_ratio": 3.5, "loss_delta": 0.05}  # kata 20's and milestone 06's

LOSS_TOLERANCE = 0.02  # nats: re-training on another machine's BLAS moves a loss by far less
SPEED_SLACK = 1.5  # a claimed speedup above 1.5x the re-measured interval's top is not reproduced
CONSISTENCY = 0.98  # share of greedy tokens that must be the arg-max of the optimized model's own forward
MARKER = "CAPSTONE-MEASURED "  # the child's result line on stdout
# The guarded child (fork CI): ``python -I -c BOOT <harness> measure <file> --impl <dir>``
BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); from dojo.classroom.capstone_check import main; "
        "raise SystemExit(main(sys.argv[2:]))")


# ---------------------------------------------------------------------------------------------
# The schema
# ---------------------------------------------------------------------------------------------


def _is(value, kind) -> bool:
    if kind is int or kind == int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == NUMBER:
        return isinstance(value, NUMBER) and not isinstance(value, bool) and math.isfinite(value)
    return isinstance(value, kind)


def _close(a, b, rel=1e-6, abs_=1e-9) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)


def validate(data) -> list:
    """Problems with a submission's content (an empty list: none). Checks what every submission holds.

    Top level: ``format_version`` 1, ``kind`` ``"tinytorch-capstone"``, ``created``, and the
    dicts ``figures``, ``choices``, ``config``, ``environment``. ``figures``: every name of
    :data:`FIGURES` with its type, finite, positive where it must be, and consistent with each
    other (``size_ratio`` = baseline/optimized bytes, ``loss_delta`` = optimized - baseline loss,
    tokens/s = new tokens / seconds, the speedup inside its interval, ``token_agreement`` in
    [0, 1]). ``config``: ``model`` (the five sizes) and ``evaluation`` (agreeing with the figures).
    """
    if not isinstance(data, dict):
        return [f"a submission is a JSON object, got {type(data).__name__}"]
    problems = []
    for key, kind in TOP_LEVEL.items():
        if key not in data:
            problems.append(f"missing {key!r}")
        elif not _is(data[key], kind):
            problems.append(f"{key!r} must be {kind.__name__}, got {type(data[key]).__name__}")
    if problems:
        return problems
    if data["format_version"] != FORMAT_VERSION:
        problems.append(f"format_version {data['format_version']} (this harness reads {FORMAT_VERSION})")
    if data["kind"] != KIND:
        problems.append(f"kind {data['kind']!r}, expected {KIND!r}")
    figures = data["figures"]
    for key, kind in FIGURES.items():
        if key not in figures:
            problems.append(f"figures: missing {key!r}")
        elif not _is(figures[key], kind):
            problems.append(f"figures.{key}: {figures[key]!r} is not a finite {'number' if kind == NUMBER else kind.__name__}")
    if problems:
        return problems
    ci = figures["speedup_ci"]
    if len(ci) != 2 or not all(_is(v, NUMBER) for v in ci):
        return problems + [f"figures.speedup_ci must be two finite numbers, got {ci!r}"]
    for key in ("new_tokens", "prompt_len", "batch", "rounds", "baseline_seconds", "optimized_seconds", "speedup",
                "baseline_bytes", "optimized_bytes"):
        if figures[key] <= 0:
            problems.append(f"figures.{key} must be positive, got {figures[key]}")
    if problems:
        return problems
    f = figures
    consistency = [
        ("size_ratio", f["baseline_bytes"] / f["optimized_bytes"]),
        ("loss_delta", f["optimized_loss"] - f["baseline_loss"]),
        ("baseline_tokens_per_s", f["batch"] * f["new_tokens"] / f["baseline_seconds"]),
        ("optimized_tokens_per_s", f["batch"] * f["new_tokens"] / f["optimized_seconds"]),
        ("speedup", f["baseline_seconds"] / f["optimized_seconds"]),
    ]
    for key, expected in consistency:
        if not _close(f[key], expected):
            problems.append(f"figures.{key} is {f[key]!r} but the other figures give {expected!r}")
    if not ci[0] * (1 - 1e-9) <= f["speedup"] <= ci[1] * (1 + 1e-9):
        problems.append(f"figures.speedup {f['speedup']} is outside its interval {ci}")
    if not 0.0 <= f["token_agreement"] <= 1.0:
        problems.append(f"figures.token_agreement must be in [0, 1], got {f['token_agreement']}")
    config = data["config"]
    model, evaluation = config.get("model"), config.get("evaluation")
    if not isinstance(model, dict) or not all(_is(model.get(k), int) and model[k] > 0 for k in MODEL_KEYS):
        problems.append(f"config.model must give {', '.join(MODEL_KEYS)} as positive integers, got {model!r}")
    if not isinstance(evaluation, dict):
        problems.append("config.evaluation is missing")
    else:
        for key in ("new_tokens", "prompt_len", "batch", "rounds"):
            if evaluation.get(key) != f[key]:
                problems.append(f"config.evaluation.{key} is {evaluation.get(key)!r}, the figures say {f[key]}")
    if isinstance(model, dict) and _is(model.get("block_size"), int) and f["prompt_len"] + f["new_tokens"] - 1 > model["block_size"]:
        problems.append(f"{f['prompt_len']} + {f['new_tokens']} tokens do not fit block_size {model['block_size']}")
    return problems


def rederivable(data) -> list:
    """Problems that stop a (valid) submission from being re-derived: ``config.seed``,
    ``config.training`` (steps, batch_size, lr, backend, corpus, sha256 of the text) and
    ``config.data`` (calibration_batches, val_batches, batch_size), as milestone 06 writes them."""
    config = data.get("config", {}) if isinstance(data, dict) else {}
    problems = [] if _is(config.get("seed"), int) else [f"config.seed must be an integer, got {config.get('seed')!r}"]
    for section, keys in (("training", TRAINING_KEYS), ("data", DATA_KEYS)):
        block = config.get(section)
        if not isinstance(block, dict):
            problems.append(f"config.{section} is missing")
            continue
        for key, kind in keys.items():
            if not _is(block.get(key), kind):
                problems.append(f"config.{section}.{key} missing or not {'a number' if kind == NUMBER else kind.__name__}")
    return problems


def load(path) -> dict:
    """The submission at ``path`` (ValueError when it is not JSON)."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not JSON ({error})") from None


def official_config() -> dict:
    """Milestone 06's full configuration: the one a cohort's submissions are ranked on."""
    from milestones import m06_systems

    return {key: dict(value) for key, value in m06_systems.FULL.items()}


def is_official(data) -> bool:
    """True when the submission used the official model, training, data and evaluation settings."""
    official, config = official_config(), data.get("config", {})
    model, training = config.get("model", {}), config.get("training", {})
    return (all(model.get(k) == v for k, v in official["model"].items())
            and all(training.get(k) == v for k, v in official["training"].items())
            and all(config.get("data", {}).get(k) == v for k, v in official["data"].items())
            and all(config.get("evaluation", {}).get(k) == official["evaluation"][k]
                    for k in ("new_tokens", "prompt_len", "batch", "rounds")))


def quick_config() -> dict:
    """Milestone 06's quick configuration (a tiny model, seconds to re-derive)."""
    from milestones import m06_systems

    return {key: dict(value) for key, value in m06_systems.QUICK.items()}


def _uses(config: dict, reference: dict) -> bool:
    model, training = config.get("model", {}), config.get("training", {})
    return (all(model.get(k) == v for k, v in reference["model"].items())
            and all(training.get(k) == v for k, v in reference["training"].items() if k != "corpus")
            and all(config.get("data", {}).get(k) == v for k, v in reference["data"].items())
            and all(config.get("evaluation", {}).get(k) == reference["evaluation"][k]
                    for k in ("new_tokens", "prompt_len", "batch", "rounds")))


def configuration_of(data) -> str:
    """``"official"`` (milestone 06's full configuration: the one a cohort is ranked on; minutes to
    re-derive), ``"quick"`` (its quick configuration: seconds) or ``"other"``."""
    config = data.get("config", {}) if isinstance(data, dict) else {}
    if is_official(data):
        return "official"
    return "quick" if _uses(config, quick_config()) else "other"


def discrepancy_kind(problem: str) -> str:
    """``"speed"`` for a speedup not reproduced (speed ratios differ somewhat between machines),
    ``"deterministic"`` for bytes, losses and generate/forward consistency (the same on any machine)."""
    return "speed" if problem.startswith("speedup:") else "deterministic"


# ---------------------------------------------------------------------------------------------
# Re-deriving
# ---------------------------------------------------------------------------------------------


def compare_figures(claimed: dict, verified: dict) -> list:
    """Problems where the claimed figures are not what was re-derived (see the module docstring)."""
    problems = []
    for key in ("baseline_bytes", "optimized_bytes"):
        if claimed[key] != verified[key]:
            problems.append(f"{key}: claimed {claimed[key]:,}, the model's arrays hold {verified[key]:,}")
    for key in ("baseline_loss", "optimized_loss", "loss_delta"):
        if abs(claimed[key] - verified[key]) > LOSS_TOLERANCE:
            problems.append(f"{key}: claimed {claimed[key]:.4f}, re-derived {verified[key]:.4f} "
                            f"(tolerance {LOSS_TOLERANCE})")
    low, high = verified["speedup_ci"]
    if claimed["speedup"] > SPEED_SLACK * high:
        problems.append(f"speedup: claimed {claimed['speedup']:.2f}×, re-measured {verified['speedup']:.2f}× "
                        f"(95% CI {low:.2f}–{high:.2f}): not reproduced")
    if verified.get("consistency", 1.0) < CONSISTENCY:
        problems.append(f"only {verified['consistency']:.1%} of the optimized model's greedy tokens are the arg-max "
                        f"of its own forward (at least {CONSISTENCY:.0%} expected): generate and forward disagree")
    return problems


def meets_targets(figures: dict, targets: dict = TARGETS) -> bool:
    return (figures["speedup"] >= targets["speedup"] and figures["size_ratio"] >= targets["size_ratio"]
            and figures["loss_delta"] <= targets["loss_delta"])


def rederive(submission_path, impl_root=None, *, python=None, timeout=3600.0, log=None, guard=None, harness=None) -> dict:
    """Re-derive a submission's figures from the student's code; never trust the file.

    Parameters
    ----------
    submission_path : path of the ``capstone.json``
    impl_root : folder holding the ``tinytorch`` package to measure (default: this checkout's)
    python : the interpreter for the child process (default: this one)
    timeout : seconds for the child (it trains the baseline again: minutes for the official config)
    log : optional callable receiving the child's progress lines when it is done
    guard : fork CI's ``dojo.classroom.guard`` configuration (a dict, :func:`dojo.classroom.judge.guard_config`): the
        child then runs isolated (``python -I -B``, no ``PYTHON*`` variables, its working folder and
        temporary files in the guard's scratch folder) with the guard installed before the student's
        package is imported; its refusals are returned in ``guard`` (and make the result not ok)
    harness : the course checkout whose ``dojo`` and ``milestones`` the guarded child runs (default: this one)

    Returns
    -------
    dict
        ``ok`` (bool: valid, re-derived, and every claim reproduced), ``problems`` (list of
        str), ``claimed`` (the file's figures or None), ``verified`` (the re-derived figures, the
        same keys plus ``consistency``, or None), ``official`` (the official configuration),
        ``meets_targets`` (the **verified** figures meet :data:`TARGETS`), ``choices``,
        ``environment`` (where it was re-derived), ``seconds``, ``configuration``
        (:func:`configuration_of`) and ``guard`` (the guard's refusals, guarded runs only).
    """
    start = time.perf_counter()
    path = Path(submission_path)
    result = {"path": str(path), "ok": False, "problems": [], "claimed": None, "verified": None, "official": False,
              "meets_targets": False, "choices": None, "environment": None, "seconds": 0.0, "configuration": None,
              "guard": []}
    try:
        data = load(path)
    except (OSError, ValueError) as error:
        result["problems"].append(f"cannot read {path}: {error}")
        return result
    problems = validate(data)
    problems += rederivable(data) if not problems else []
    if problems:
        result["problems"] = problems
        return result
    result.update(claimed=data["figures"], choices=data["choices"], official=is_official(data),
                  configuration=configuration_of(data))
    root = Path(impl_root) if impl_root is not None else ROOT
    if guard is None:
        command = [python or sys.executable, "-m", "dojo.classroom.capstone_check", "measure", str(path.resolve()),
                   "--impl", str(Path(root).resolve())]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        cwd = ROOT
    else:
        scratch = Path(guard["allow_write"][0])
        (scratch / "tmp").mkdir(parents=True, exist_ok=True)
        command = [python or sys.executable, "-I", "-B", "--check-hash-based-pycs", "always", "-c", BOOT,
                   str(Path(harness or ROOT).resolve()), "measure", str(path.resolve()), "--impl", str(Path(root).resolve())]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYTEST", "HYPOTHESIS", "DOJO_"))}
        env.update({"DOJO_GUARD": json.dumps(guard), "TMPDIR": str(scratch / "tmp"), "TEMP": str(scratch / "tmp"),
                    "TMP": str(scratch / "tmp")})
        cwd = scratch
    try:
        proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env, errors="replace")
    except subprocess.TimeoutExpired:
        result["problems"].append(f"re-deriving took longer than {timeout:.0f} s")
        result["seconds"] = time.perf_counter() - start
        result["guard"] = _refusals(guard)
        return result
    result["guard"] = _refusals(guard)
    if log is not None:
        for line in proc.stderr.splitlines():
            log(line)
    lines = [line for line in proc.stdout.splitlines() if line.startswith(MARKER)]
    refused = [f"fork CI's guard refused: {r['what']}" + (f" ({r['target']})" if r["target"] else "")
               + (f", asked by {r['where']}" if r["where"] else "") for r in result["guard"]]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        result["problems"] += refused + [f"re-deriving failed (exit {proc.returncode}): {tail[:300]}"]
        result["seconds"] = time.perf_counter() - start
        return result
    try:
        measured = json.loads(lines[-1][len(MARKER):])
        verified = measured["figures"]
        unreadable = [key for key in (*FIGURES, "consistency") if not _is(verified.get(key), FIGURES.get(key, NUMBER))]
    except (ValueError, TypeError, KeyError, AttributeError):
        measured, verified, unreadable = {}, None, ["(the result line)"]
    if unreadable:
        result["problems"] += refused + [f"the re-derived figures cannot be read: {', '.join(unreadable[:5])}"]
        result["seconds"] = time.perf_counter() - start
        return result
    # what was measured must hang together as a submission's figures must (a forged line rarely does)
    own = [p for p in validate({**data, "figures": {k: v for k, v in verified.items() if k in FIGURES}})
           if "outside its interval" not in p]  # a 3-round bootstrap can put the median on its edge
    result.update(verified=verified, environment=measured.get("environment"),
                  problems=refused + compare_figures(data["figures"], verified) + list(measured.get("problems", []))
                  + [f"re-derived figures are inconsistent: {p}" for p in own],
                  meets_targets=meets_targets(verified), seconds=time.perf_counter() - start)
    result["ok"] = not result["problems"]
    return result


def _refusals(guard) -> list:
    """The guard's refusals in a guarded child ([] without a guard)."""
    if not guard or not guard.get("report"):
        return []
    from dojo.classroom.judge import guard_findings  # the judge's reader (it imports no student code)

    return guard_findings(Path(guard["report"]))


# ---------------------------------------------------------------------------------------------
# The child: measured here with the harness's own code (runs the student's tinytorch)
# ---------------------------------------------------------------------------------------------


def held_bytes(root) -> int:
    """Bytes of every array reachable from ``root`` through modules, Tensors, lists, tuples and dicts.

    Each memory buffer counted once (views follow ``.base``); a Tensor counts its ``data`` (never
    its ``grad``); objects that are neither (a KV cache, a tokenizer) are not entered.
    """
    import numpy as np
    from tinytorch.layers import Module
    from tinytorch.tensor import Tensor

    owners, seen = {}, set()

    def add(array):
        while isinstance(array.base, np.ndarray):
            array = array.base
        owners[id(array)] = array

    def visit(value):
        if isinstance(value, Tensor):
            add(np.asarray(value.data))
        elif isinstance(value, np.ndarray):
            add(value)
        elif isinstance(value, np.generic):
            owners[id(value)] = value
        elif isinstance(value, (list, tuple)):
            for item in value:
                visit(item)
        elif isinstance(value, dict):
            for item in value.values():
                visit(item)
        elif isinstance(value, Module) and id(value) not in seen:
            seen.add(id(value))
            for item in vars(value).values():
                visit(item)

    visit(root)
    return int(sum(a.nbytes for a in owners.values()))


def interleaved(a, b, rounds, seed=0, clock=time.perf_counter, resamples=2000) -> dict:
    """Time ``a()`` and ``b()`` in alternating order (A B, B A, ...); medians, speedup, bootstrap 95% CI."""
    import numpy as np

    times = {a: [], b: []}
    for i in range(rounds):
        for fn in ((a, b) if i % 2 == 0 else (b, a)):
            started = clock()
            fn()
            times[fn].append(clock() - started)
    ta, tb = np.array(times[a]), np.array(times[b])
    index = np.random.default_rng(seed).integers(0, rounds, size=(resamples, rounds))
    ratios = np.median(ta[index], axis=1) / np.median(tb[index], axis=1)
    low, high = np.percentile(ratios, [2.5, 97.5])
    return {"a": float(np.median(ta)), "b": float(np.median(tb)), "speedup": float(np.median(ta) / np.median(tb)),
            "ci": [float(low), float(high)]}


def measure(data, impl_root, log=print, corpus=None) -> dict:
    """Re-train, rebuild and re-measure a (valid) submission with the implementation at ``impl_root``.

    ``corpus``: ``(name, text)`` already loaded (the guarded child reads it before the guard), else
    loaded here with milestone 06's ``load_corpus``."""
    from dojo import impl, threads

    impl.activate(Path(impl_root))
    threads.configure(1)  # as submit: one BLAS thread is the steadiest (TINYTORCH_THREADS overrides)
    import numpy as np
    import tinytorch
    from tinytorch.autograd import no_grad

    from milestones import m06_systems as m06

    config = data["config"]
    seed, model_cfg = config["seed"], config["model"]
    cfg = {"model": {k: model_cfg[k] for k in ("block_size", "n_layer", "n_head", "n_embd")},
           "training": dict(config["training"]), "data": dict(config["data"]),
           "evaluation": {k: config["evaluation"][k] for k in ("new_tokens", "prompt_len", "batch", "rounds")}}
    name, text = corpus if corpus is not None else m06.load_corpus(cfg["training"]["corpus"], log)
    if m06.sha256(text) != cfg["training"]["sha256"]:
        raise RuntimeError(f"the corpus {name!r} here is not the text the submission was trained on (SHA-256 differs)")
    baseline = m06.train_baseline(cfg, seed=seed, log=log, quick=True, text=text, name=name)
    model = baseline["model"]
    if model.vocab_size != model_cfg["vocab_size"]:
        raise RuntimeError(f"vocabulary {model.vocab_size}, the submission says {model_cfg['vocab_size']}")
    calibration, validation = m06.fixed_batches(baseline, cfg, seed)
    capstone = importlib.import_module("tinytorch.capstone")
    optimized = capstone.optimize(model, calibration, **data["choices"])

    ev = cfg["evaluation"]
    n, p, batch = ev["new_tokens"], ev["prompt_len"], ev["batch"]
    prompt = validation[0][0][:batch, :p].astype(np.int64)
    out = {}

    def run_baseline():
        with tinytorch.backend("reference"):
            out["baseline"] = np.asarray(model.generate(prompt, n, greedy=True).data)

    def run_optimized():
        result = optimized.generate(prompt, n, greedy=True)
        out["optimized"] = np.asarray(getattr(result, "data", result))

    run_optimized()  # warm-up
    timing = interleaved(run_baseline, run_optimized, ev["rounds"], seed=seed)
    problems = []
    tokens = out["optimized"]
    if tokens.shape != (batch, p + n) or not np.array_equal(tokens[:, :p], prompt):
        problems.append(f"optimized.generate returned {tokens.shape}, expected the prompts followed by {n} tokens")
        consistency = 0.0
    else:
        logits = optimized(tokens[:, :-1])
        predicted = np.asarray(getattr(logits, "data", logits))[:, p - 1:].argmax(axis=-1)
        consistency = float(np.mean(predicted == tokens[:, p:]))
    with tinytorch.backend("reference"), no_grad():
        baseline_loss = m06.cross_entropy(model, validation)
    optimized_loss = m06.cross_entropy(optimized, validation)
    baseline_bytes, optimized_bytes = held_bytes(model), held_bytes(optimized)
    figures = {
        "new_tokens": n, "prompt_len": p, "batch": batch, "rounds": ev["rounds"],
        "baseline_seconds": timing["a"], "optimized_seconds": timing["b"],
        "baseline_tokens_per_s": batch * n / timing["a"], "optimized_tokens_per_s": batch * n / timing["b"],
        "speedup": timing["speedup"], "speedup_ci": timing["ci"],
        "baseline_bytes": baseline_bytes, "optimized_bytes": optimized_bytes,
        "size_ratio": baseline_bytes / optimized_bytes,
        "baseline_loss": baseline_loss, "optimized_loss": optimized_loss, "loss_delta": optimized_loss - baseline_loss,
        "token_agreement": float(np.mean(out["baseline"][:, p:] == tokens[:, p:])) if not problems else 0.0,
        "consistency": consistency,
    }
    from tinytorch.benchmarking import environment

    return {"figures": figures, "problems": problems, "environment": environment()}


# ---------------------------------------------------------------------------------------------
# Submitting (the student's side) and the command line
# ---------------------------------------------------------------------------------------------


def submit(out="capstone.json", *, seed=0, quick=False, impl_root=None, log=print) -> Path:
    """Train milestone 06's baseline, run the student's ``optimize`` (their default choices) and
    ``evaluate``, print the report and write the submission with ``write_submission``."""
    from dojo import impl, threads

    impl.activate(Path(impl_root) if impl_root is not None else impl.resolve())
    threads.configure(1)  # spinning BLAS threads on a busy machine made training 3x slower (TINYTORCH_THREADS overrides)
    from milestones import m06_systems as m06

    cfg = m06.config(quick)
    baseline = m06.train_baseline(cfg, seed=seed, log=log, quick=quick)
    calibration, validation = m06.fixed_batches(baseline, cfg, seed)
    capstone = importlib.import_module("tinytorch.capstone")
    optimized = capstone.optimize(baseline["model"], calibration)
    ev = cfg["evaluation"]
    log(f"measuring your pipeline ({', '.join(f'{k}={v}' for k, v in optimized.choices.items())}) against the "
        f"baseline: {ev['rounds']} interleaved rounds of {ev['new_tokens']} greedy tokens after {ev['batch']} prompts")
    report = capstone.evaluate(baseline["model"], optimized, validation, new_tokens=ev["new_tokens"],
                               prompt_len=ev["prompt_len"], batch=ev["batch"], rounds=ev["rounds"], seed=seed)
    log(str(report))
    for check in report.checks():
        log(f"{check['name']} {check['value']} · target {check['target']} · {'ok' if check['ok'] else 'not yet'}")
    path = capstone.write_submission(out, report, seed=seed, training=cfg["training"], data=cfg["data"])
    problems = validate(load(path))
    log(f"wrote {path}" + (f" — but it has problems: {problems}" if problems else
                           " · fork CI re-derives it: python -m dojo capstone verify " + str(path)))
    return path


def _print_result(result, log=print):
    claimed, verified = result["claimed"], result["verified"]
    if claimed and verified:
        log(f"{'figure':24s} {'claimed':>16s} {'re-derived':>16s}")
        for key in ("speedup", "size_ratio", "loss_delta", "baseline_bytes", "optimized_bytes", "baseline_loss",
                    "optimized_loss", "baseline_tokens_per_s", "optimized_tokens_per_s", "token_agreement"):
            shown = [f"{v:,}" if isinstance(v, int) else f"{v:,.4g}" for v in (claimed[key], verified[key])]
            log(f"{key:24s} {shown[0]:>16s} {shown[1]:>16s}")
        log(f"{'consistency':24s} {'':>16s} {verified.get('consistency', float('nan')):>16.1%}")
    for problem in result["problems"]:
        log(f"problem: {problem}")
    log(f"{'verified' if result['ok'] else 'NOT verified'} · official configuration: {result['official']} · "
        f"re-derived figures meet the targets: {result['meets_targets']} · {result['seconds']:.0f} s")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dojo capstone", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("submit", help="train the baseline, measure your optimize, write capstone.json")
    p.add_argument("--out", default="capstone.json")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="milestone 06's quick configuration (seconds; not official)")
    p.add_argument("--impl", default=None, help="student (default), solutions, or a folder holding tinytorch/")
    p = sub.add_parser("verify", help="re-derive a submission's figures from the code")
    p.add_argument("path")
    p.add_argument("--impl", default=None)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p = sub.add_parser("validate", help="check a submission's schema")
    p.add_argument("path")
    p = sub.add_parser("measure", help=argparse.SUPPRESS)
    p.add_argument("path")
    p.add_argument("--impl", required=True)
    args = parser.parse_args(argv)

    if args.command == "validate":
        try:
            problems = validate(load(args.path))
        except (OSError, ValueError) as error:
            problems = [str(error)]
        for problem in problems:
            print(f"problem: {problem}")
        print("valid" if not problems else f"{len(problems)} problem(s)")
        return 1 if problems else 0
    if args.command == "measure":
        def to_stderr(*parts):
            print(*parts, file=sys.stderr, flush=True)

        data, corpus = load(args.path), None
        config = json.loads(os.environ.get("DOJO_GUARD", "") or "null")
        if config:  # fork CI: everything the harness reads first, then the guard, then the student's code
            import numpy  # noqa: F401

            from dojo import impl, threads  # noqa: F401
            from milestones import common, m06_systems, shakespeare  # noqa: F401

            corpus = m06_systems.load_corpus(data["config"]["training"]["corpus"], to_stderr)
            from dojo.classroom import guard# last: importing it installs the guard from $DOJO_GUARD

            guard.install(config)
            try:
                result = measure(data, args.impl, log=to_stderr, corpus=corpus)
            except BaseException as error:  # noqa: BLE001 - no traceback: printing one reads the harness's sources
                to_stderr(f"{type(error).__name__}: {str(error)[:500]}")
                return 1
        else:
            result = measure(data, args.impl, log=to_stderr, corpus=corpus)
        print(MARKER + json.dumps(result), flush=True)
        return 0
    from dojo import impl

    root = impl.resolve(args.impl)
    if args.command == "submit":
        submit(args.out, seed=args.seed, quick=args.quick, impl_root=root)
        return 0
    result = rederive(args.path, root, log=lambda line: print(line, file=sys.stderr))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        _print_result(result)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
