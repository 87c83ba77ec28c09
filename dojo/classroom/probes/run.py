"""The probe process: imports one ``tinytorch`` and records what its functions do on the probes.

This is the only part of fork CI, besides the pytest run, that imports the student's code. The
judge (``dojo.classroom.judge``) starts it twice with the same seed: once on the reference solutions, once
on a copy of the student's package (then with ``dojo.classroom.guard`` installed first), and compares the
files it writes:

``<out>/<kata>.json``  {"kata", "probes": {name: {"step", "rtol", "atol", "status": ok|raised|timeout,
                       "error": [exception class and its bases], "message", "values": {key: {"array": name}
                       or {"none": true}}}}}
``<out>/<kata>.npz``   the arrays (plain dtypes only; read back with ``allow_pickle=False``)

Usage (the judge's): ``python -I -c BOOT <harness root> --impl DIR --katas 01,02 --seed N --out DIR
[--timeout S]``. Each kata's file is written as soon as its probes are done, so a process that dies
(an infinite loop past every timer, ``os._exit``) loses only the kata it was in.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import zlib
from pathlib import Path

import numpy as np

from dojo.classroom import probes as registry

BOOT = "import sys; sys.path.insert(0, sys.argv[1]); from dojo.classroom.probes.run import main; raise SystemExit(main(sys.argv[2:]))"
MAX_ITEMS = 10_000  # values per probe: a probe result is small


class ProbeTimeout(BaseException):
    """Raised in a probe that runs past its limit (a BaseException: `except Exception` cannot swallow it)."""


def _mro(error: BaseException) -> list:
    return [cls.__name__ for cls in type(error).__mro__ if cls not in (object, BaseException)]


class _Unsupported(Exception):
    pass


def flatten(value, prefix: str = "", out: dict | None = None) -> dict:
    """{key: ndarray or None}: Tensors through .data, containers key by key, scalars as 0-d arrays."""
    out = {} if out is None else out
    if len(out) > MAX_ITEMS:
        raise _Unsupported("too many values")
    key = prefix or "value"
    if value is None:
        out[key] = None
    elif isinstance(value, np.ndarray):
        if value.dtype.kind not in "biufcUS":
            raise _Unsupported(f"array of dtype {value.dtype}")
        out[key] = np.array(value)
    elif isinstance(value, (bool, int, float, str, np.generic)):
        array = np.asarray(value)
        if array.dtype.kind not in "biufcUS":
            raise _Unsupported(f"value of type {type(value).__name__}")
        out[key] = array
    elif isinstance(value, dict):
        for k, v in value.items():
            flatten(v, f"{prefix}.{k}" if prefix else str(k), out)
    elif isinstance(value, (list, tuple)):
        if value and all(isinstance(v, (bool, int, float, str, np.generic)) for v in value) and len({type(v) for v in value}) == 1:
            out[key] = np.asarray(value)
        else:
            if not value:
                out[key + "[]"] = np.zeros((0,))
            for i, v in enumerate(value):
                flatten(v, f"{prefix}[{i}]" if prefix else f"[{i}]", out)
    elif isinstance(getattr(value, "data", None), np.ndarray):
        flatten(value.data, prefix, out)
    else:
        raise _Unsupported(f"a value of type {type(value).__name__}")
    return out


def _alarm(seconds: float):
    """A context that raises ProbeTimeout in the main thread after ``seconds`` (POSIX timers)."""

    class Timer:
        def __enter__(self):
            self.enabled = seconds > 0 and hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
            if self.enabled:
                def fire(signum, frame):
                    raise ProbeTimeout(f"stopped after {seconds:g} s (an infinite loop?)")

                self.previous = signal.signal(signal.SIGALRM, fire)
                signal.setitimer(signal.ITIMER_REAL, seconds)
            return self

        def __exit__(self, *exc):
            if self.enabled:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, self.previous)
            return False

    return Timer()


def seed_for(seed: int, kata: str, name: str) -> list:
    return [int(seed) & 0xFFFFFFFF, zlib.crc32(kata.encode()), zlib.crc32(name.encode())]


def run_kata(kata: str, seed: int, timeout: float) -> tuple:
    """({probe name: record}, {array name: ndarray}) for one kata."""
    records, arrays = {}, {}
    timed_out = False
    for index, p in enumerate(registry.for_kata(kata)):
        record = {"step": p.step, "rtol": p.rtol, "atol": p.atol, "status": "ok", "error": [], "message": "", "values": {}}
        if timed_out:  # one infinite loop is enough: the kata's other probes would wait as long
            record.update(status="timeout", message="not run: an earlier probe of this kata timed out")
            records[p.name] = record
            continue
        rng = np.random.default_rng(seed_for(seed, kata, p.name))
        try:
            with _alarm(timeout):
                values = flatten(p.func(rng))
        except ProbeTimeout as error:
            record.update(status="timeout", message=str(error))
            timed_out = True
        except _Unsupported as error:
            record.update(status="raised", error=["UnsupportedValue"], message=f"the probe got {error}")
        except BaseException as error:  # noqa: BLE001 - any exception is a result to compare
            if isinstance(error, (KeyboardInterrupt, SystemExit)):
                record.update(status="raised", error=_mro(error), message=type(error).__name__)
            else:
                record.update(status="raised", error=_mro(error), message=str(error)[:300])
        else:
            for j, (key, array) in enumerate(values.items()):
                if array is None:
                    record["values"][key] = {"none": True}
                else:
                    name = f"p{index}_{j}"
                    arrays[name] = array
                    record["values"][key] = {"array": name}
        records[p.name] = record
    return records, arrays


def write_kata(out: Path, kata: str, records: dict, arrays: dict) -> None:
    """Write <kata>.npz then <kata>.json (the JSON last: its presence means the kata is complete)."""
    partial = out / f".{kata}.npz"
    with open(partial, "wb") as handle:
        np.savez(handle, **arrays)
    os.replace(partial, out / f"{kata}.npz")
    partial = out / f".{kata}.json"
    partial.write_text(json.dumps({"kata": kata, "probes": records}, allow_nan=True), encoding="utf-8")
    os.replace(partial, out / f"{kata}.json")


def loaded_from(folders) -> list:
    """Modules in sys.modules whose file lies under one of ``folders`` (e.g. the solutions)."""
    roots = [os.path.normcase(os.path.realpath(f)) for f in folders]
    found = []
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if not isinstance(path, str):
            continue
        path = os.path.normcase(os.path.realpath(path))
        if name == "solutions" or name.startswith("solutions.") or any(path.startswith(r.rstrip(os.sep) + os.sep) for r in roots):
            found.append(f"{name} ({path})")
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="dojo.classroom.probes.run")
    parser.add_argument("--impl", required=True, action="append", help="the folder that holds the tinytorch package (repeat with --out: several trees in turn)")
    parser.add_argument("--katas", required=True, help="kata ids, comma separated")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--out", required=True, action="append")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per probe")
    args = parser.parse_args(argv)
    if len(args.impl) != len(args.out):
        parser.error("give one --out per --impl")
    katas = [k for k in args.katas.split(",") if k]
    for kata in katas:  # import every probe module before any student code (and before the guard)
        registry.for_kata(kata)
    config = json.loads(os.environ.get("DOJO_GUARD", "") or "null")
    if config:
        from dojo.classroom import guard

        guard.install(config)
    for impl, out in zip(args.impl, args.out):
        impl = str(Path(impl).resolve())
        while impl in sys.path:
            sys.path.remove(impl)
        sys.path.insert(0, impl)
        for name in [m for m in sys.modules if m == "tinytorch" or m.startswith("tinytorch.")]:
            del sys.modules[name]
        for kata in katas:
            records, arrays = run_kata(kata, args.seed, args.timeout)
            write_kata(Path(out), kata, records, arrays)
        sys.path.remove(impl)
    if config and config.get("report"):
        stray = loaded_from(config.get("forbid_modules", ()))
        if stray:
            line = "DOJO-GUARD " + json.dumps({"event": "modules", "what": "loaded the reference solutions", "target": "; ".join(stray)[:300], "where": ""}) + "\n"
            with open(config["report"], "a", encoding="utf-8") as handle:
                handle.write(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
