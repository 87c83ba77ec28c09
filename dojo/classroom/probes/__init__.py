"""Probes: the calls fork CI makes on the student's code outside the pytest run.

A kata's tests run inside the process that imports the student's code, so that process could
report anything. Fork CI therefore also runs each kata's *probes*: a fixed list of calls on fresh
inputs (drawn from a seed chosen at random for each CI run), in a separate process
(``dojo.classroom.probes.run``) whose plain results (JSON and ``.npz``) are compared, in a process that
imports no student code (``dojo.classroom.judge``), with the same calls on the reference solutions. A kata
is verified green only when its tests pass *and* every probe agrees.

Each kata has one module here, ``k<id>_<slug>.py`` (``k01_tensor.py``), and nothing else needs to
know about it. A probe is a function of a NumPy ``Generator`` decorated with the step it checks::

    from dojo.classroom.probes import probe

    @probe("arithmetic")
    def broadcast_add(rng):
        from tinytorch.tensor import Tensor          # import inside: the module must not import tinytorch
        a, b = rng.normal(size=(2, 3)), rng.normal(size=(3,))
        return Tensor(a) + Tensor(b)                 # a Tensor is compared through its .data

A probe returns arrays, Tensors (compared through ``.data``), numbers, bools, strings, ``None``,
or lists, tuples and dicts of them (a dict for several values: ``{"out": y, "grad": x.grad}``).
Values are compared with ``rtol``/``atol`` (default 1e-4/1e-5, looser than the kata tests), shapes
exactly; integers, bools and strings exactly. When the reference raises, the student's code must
raise the same exception class (a subclass is fine); ``NotImplementedError`` never agrees.

Rules, so that an honest student never disagrees: probe only behaviour the kata's tests pin down
(a unique correct answer, never a random initialisation or an unspecified order); seed anything
random from ``rng``; keep each probe to milliseconds; cover every step (``tests/test_probes.py``
checks that stubbing any one step makes one of that step's probes disagree).
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from pathlib import Path

FOLDER = Path(__file__).resolve().parent
MODULE_NAME = re.compile(r"^k(?P<kata>\d+)_\w+\.py$")
DEFAULT_RTOL, DEFAULT_ATOL = 1e-4, 1e-5


@dataclass(frozen=True)
class Probe:
    name: str  # the function's name, unique within its kata
    step: str
    func: object
    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL


_REGISTERED: dict = {}  # module name -> [Probe] in definition order


def probe(step: str, rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL):
    """Register the decorated function as a probe of ``step`` of its module's kata."""

    def decorate(func):
        found = _REGISTERED.setdefault(func.__module__, [])
        if any(p.name == func.__name__ for p in found):
            raise ValueError(f"two probes named {func.__name__} in {func.__module__}")
        found.append(Probe(func.__name__, step, func, rtol, atol))
        return func

    return decorate


def modules() -> dict:
    """{kata id: module name} for every probe module in this folder."""
    found = {}
    for path in sorted(FOLDER.glob("k*.py")):
        match = MODULE_NAME.match(path.name)
        if match:
            found[match.group("kata")] = f"{__name__}.{path.stem}"
    return found


def for_kata(kata_id: str) -> list:
    """The probes of a kata, in definition order ([] when it has no probe module)."""
    name = modules().get(str(kata_id))
    if name is None:
        return []
    importlib.import_module(name)
    return list(_REGISTERED.get(name, []))


# Errors a probe reports by class name: the spec's class, so that a subclass of ValueError counts as
# ValueError (as the kata's tests see it with pytest.raises).
KNOWN_ERRORS = (ValueError, TypeError, RuntimeError, KeyError, IndexError, ArithmeticError, OSError)


def error_name(error) -> str:
    """The spec's class of ``error``: the first of :data:`KNOWN_ERRORS` it is an instance of, else its own."""
    return next((known.__name__ for known in KNOWN_ERRORS if isinstance(error, known)), type(error).__name__)


def raises(fn, *args) -> str:
    """The class name of what ``fn(*args)`` raised ('' when it returned); NotImplementedError is re-raised
    (a stub never agrees)."""
    try:
        fn(*args)
    except NotImplementedError:
        raise
    except Exception as error:  # noqa: BLE001 - the class is the result
        return error_name(error)
    return ""
