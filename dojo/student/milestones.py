"""Run a milestone: import ``milestones/<module>.py``, call its ``run()``, compare with the target.

This is a pure function plus printing; the CLI verb (``make milestone M=03``), gating and progress
recording sit on top of it.

A milestone module exposes ``run(quick=False, seed=0, log=print) -> dict`` returning at least
``metric`` (float), ``dataset`` (str) and ``seconds`` (float). Optional keys:

* ``target`` — the target for the dataset actually used (M03 reads full MNIST, a reduced MNIST or
  the bundled digits, each with its own target); replaces the curriculum's ``target`` in a full run.
* ``achieved`` — a bool for conditions beyond ``metric >= target`` (M02: the single layer must
  fail); it is ANDed with the metric check.
* ``checks`` — further figures, each scored against its own target and printed on its own line
  next to it (M05: the language model's validation loss; M06: speed, size, quality): a list of
  dicts ``{"name", "value", "target", "ok"}`` where ``value`` and ``target`` are display strings
  (e.g. ``"1.84 nats/char"``, ``"<= 1.90"``) and ``ok`` a bool. Every check must pass too.

The BLAS thread count is chosen before the milestone starts (:mod:`dojo.threads`, ``auto``:
the idle cores; ``TINYTORCH_THREADS=N`` overrides) and printed with the result.

Everything else the module returns is kept in ``MilestoneResult.details``.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass, field

from dojo import ROOT
from dojo import curriculum as _curriculum

RESERVED = {"metric", "target", "achieved"}


@dataclass
class MilestoneResult:
    metric: float
    target: float
    achieved: bool
    seconds: float
    details: dict = field(default_factory=dict)


def load_module(milestone):
    """Import ``milestones.<milestone.module>`` freshly (so it sees the active tinytorch)."""
    root = str(ROOT)
    if root not in sys.path:
        sys.path.append(root)  # after the tinytorch implementation chosen by dojo.impl
    name = f"milestones.{milestone.module}"
    for loaded in [m for m in sys.modules if m == name]:
        del sys.modules[loaded]
    return importlib.import_module(name)


def format_metric(value: float, metric: str) -> str:
    return f"{value:.2%}" if metric == "accuracy" else f"{value:.4g}"


def run(milestone, quick: bool = False, seed: int = 0, *, curriculum=None, log=print) -> MilestoneResult:
    """Run one milestone (a Milestone, or an id such as ``"03"``/``3``) and print how it did.

    In quick mode the target is the curriculum's ``quick_target``; in a full run it is the
    ``target`` the module reports for the dataset it used, else the curriculum's ``target``.
    """
    if not isinstance(milestone, _curriculum.Milestone):
        milestone = (curriculum or _curriculum.load()).milestone(milestone)
    from dojo import threads

    module = load_module(milestone)
    mode = "quick" if quick else "full"
    count = threads.configure("auto")
    log(f"Milestone {milestone.label} — {mode} run, seed {seed}, {count} BLAS thread{'s' if count > 1 else ''}")
    out = dict(module.run(quick=quick, seed=seed, log=log))
    missing = {"metric", "dataset", "seconds"} - set(out)
    if missing:
        raise ValueError(f"milestones/{milestone.module}.py: run() must return {sorted(missing)} too")
    metric = float(out["metric"])
    target = float(milestone.quick_target if quick else out.get("target", milestone.target))
    checks = list(out.get("checks", []))
    achieved = metric >= target and bool(out.get("achieved", True)) and all(bool(c["ok"]) for c in checks)
    details = {k: v for k, v in out.items() if k not in RESERVED}
    seconds = float(out["seconds"])
    from dojo.report import symbols

    sym = symbols()
    mark = f"{sym['green']} achieved" if achieved else f"{sym['red']} not yet"
    extra = " (the metric is there, but another condition failed: see above)" if metric >= target and not achieved else ""
    for check in checks:
        log(f"{check['name']} {check['value']} · target {check['target']} · "
            f"{sym['green'] if check['ok'] else sym['red']}")
    log(
        f"{milestone.metric} {format_metric(metric, milestone.metric)} · target "
        f"{format_metric(target, milestone.metric)} · {out['dataset']} · {seconds:.1f} s · {mark}{extra}"
    )
    return MilestoneResult(metric=metric, target=target, achieved=achieved, seconds=seconds, details=details)
