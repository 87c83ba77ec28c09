"""``make bench``: every benchmark of the course, same work in every column, ratios from one run.

Sections (``ONLY=key``, repeatable on the command line as ``--only key``), each run in its own
interpreter so that one section's big arrays do not change the memory allocator for the next:

=========  ===========  ==================================================================
key        needs katas  what
=========  ===========  ==================================================================
mlp        01-06        MLP training step: raw NumPy vs tinytorch vs PyTorch
conv       09           Conv2d forward + backward: raw NumPy im2col vs tinytorch vs PyTorch
kv         14           greedy generation, KV-cached vs uncached, 64 and 256 new tokens
accel      16           GPT train step, GPT decode step, CNN train step: reference vs fast backend vs PyTorch
quant      17           int8 weights: MLP accuracy and size, output error, latency; M05 GPT val loss fp32 vs int8
compress   18           pruning: accuracy at 90% sparsity, structured speedup, CSR storage
capstone   20           kata 20's optimize vs its baseline (kata 20's evaluate): tokens/s, bytes, loss vs M06's targets
=========  ===========  ==================================================================

Which tinytorch: ``IMPL=`` as everywhere (``--impl``); by default the student's ``tinytorch/``.
A section whose katas are not green for the student's code as it is now does not time the
reference in its place: its tinytorch column says which kata to finish (``IMPL=solutions`` times
the reference). Every section prints which implementation it ran.

Threads: one BLAS/PyTorch thread by default (``--threads N``; :mod:`dojo.threads`): the anchors
in DESIGN.md are one-thread figures and a second thread makes small matmuls erratic on a busy
2-core machine. Times are medians of steps taken in turns; only ratios from the same run are
compared. Nothing here is asserted in a test: read the numbers, with the load printed beside them.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
from dataclasses import dataclass

from dojo.bench.core import BASELINE, BUDGET, Benchmark, Timing, Unavailable, measure, report  # noqa: F401


@dataclass(frozen=True)
class Section:
    key: str
    module: str  # python -m <module> runs it
    katas: tuple  # the katas its tinytorch column needs
    title: str
    table_row: bool = False  # raw NumPy and PyTorch still run when tinytorch cannot


SECTIONS = [
    Section("mlp", "dojo.bench.mlp", ("06",), "MLP training step", table_row=True),
    Section("conv", "dojo.bench.conv", ("09",), "Conv2d forward + backward", table_row=True),
    Section("kv", "dojo.bench.kv", ("14",), "KV cache: cached vs uncached generation"),
    Section("accel", "dojo.bench.accel", ("16",), "fast backend: GPT and CNN steps"),
    Section("quant", "dojo.bench.quant", ("17",), "int8 quantization"),
    Section("compress", "dojo.bench.compress", ("18",), "pruning and compression"),
    Section("capstone", "dojo.bench.capstone", ("20",), "capstone: kata 20's optimize vs its baseline"),
]


def missing_katas(section: Section, root, progress_path=None) -> list:
    """The katas of ``section`` that are not green for the tinytorch in ``root`` as it is now
    (nothing is missing for any tree but the student's: the solutions, or a folder named with IMPL)."""
    from dojo import curriculum, impl
    from dojo.student.gating import Gatekeeper
    from dojo.progress import DEFAULT_PATH, Progress

    if not impl.is_student(root):
        return []
    c = curriculum.load()
    keeper = Gatekeeper(c, Progress(progress_path or DEFAULT_PATH), root)
    return [k for k in section.katas if not keeper.is_green(c.kata(k))]


def header(root, threads: int) -> str:
    import numpy as np

    from dojo import impl

    try:
        import torch

        torch_version = torch.__version__
    except ImportError:
        torch_version = 'not installed (pip install -e ".[bench]" for the PyTorch column)'
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    which = "your tinytorch/" if impl.is_student(root) else str(root)
    line = (f"make bench · tinytorch: {which} · Python {platform.python_version()} · NumPy {np.__version__} · "
            f"PyTorch {torch_version} · {threads} BLAS/torch thread(s) · {os.cpu_count()} CPUs · load {load:.1f}")
    if load > 0.5 * (os.cpu_count() or 1):
        line += ("\nwarning: the machine is busy: times are inflated; ratios, measured in turns, suffer less.")
    return line


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dojo bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--impl", default=None, help="which tinytorch to time: student (default), solutions, or a folder (also IMPL=)")
    parser.add_argument("--only", action="append", choices=[s.key for s in SECTIONS], help="run only this section (repeatable)")
    parser.add_argument("--threads", type=int, default=1, help="BLAS/PyTorch threads (default 1)")
    parser.add_argument("--strict", action="store_true", help=f"exit 1 when the reference MLP/conv cost more than {BUDGET}× raw NumPy")
    args = parser.parse_args(argv)
    from dojo import ROOT, impl, threads

    try:
        root = impl.resolve(args.impl)
    except ValueError as error:
        print(f"make bench: {error}")
        return 2
    threads.apply(args.threads)
    print(header(root, args.threads), flush=True)
    env = {**os.environ, "IMPL": str(root)}
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(args.threads)  # BLAS reads these when NumPy loads in the section's process
    codes = []
    for section in SECTIONS:
        if args.only and section.key not in args.only:
            continue
        print(f"\n── {section.key}: {section.title} " + "─" * max(0, 60 - len(section.title)), flush=True)
        missing = missing_katas(section, root)
        command = [sys.executable, "-m", section.module, "--impl", str(root), "--threads", str(args.threads)]
        if missing:
            reason = (f"kata {', '.join(missing)} not green yet for your code: finish it "
                      f"(make kata N={missing[0]}), or IMPL=solutions to time the reference")
            if not section.table_row:
                print(f"tinytorch: n/a — {reason}")
                continue
            command += ["--skip-tinytorch", reason]
        if args.strict and section.table_row:
            command.append("--strict")
        codes.append(subprocess.call(command, cwd=str(ROOT), env=env))
    return max(codes, default=0)
