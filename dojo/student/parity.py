"""``make parity N=05``: your tinytorch against PyTorch, op by op, forward and backward.

Every row runs one op, layer, loss, optimizer or schedule of the kata twice on the same seeded
random inputs (and, for layers, the same weights copied across): once with ``tinytorch`` (yours
by default; ``IMPL=solutions`` or ``--impl`` for another tree, as everywhere) and once with
PyTorch. It prints the largest absolute difference of the outputs, of each gradient (from the
same random upstream gradient, not ``.sum()``), whether the dtypes agree, and a verdict:

* ✅ within tolerance: ``|ours - torch| <= atol + rtol · max|torch|`` per array, with
  ``atol, rtol = 1e-5, 1e-4`` for float32 and ``1e-10, 1e-8`` for float64 (``--dtype``);
* ❌ a real disagreement (values, shapes, dtypes or an error raised by your code);
* ⏳ not implemented yet (your function still raises ``NotImplementedError``);
* ℹ️ a difference by design, measured and explained (GELU's default form, fully masked rows
  in ``nn.MultiheadAttention``, what is not comparable at all, such as shuffling orders).

Katas 01–04 compare forward passes; kata 05 compares the backward of every op of katas 01–04
(plus composite graphs); later katas compare both. PyTorch is optional (``pip install -e
".[bench]"``): without it the command says how to install it and exits 0. Exit status: 1 when a
row is ❌, else 0. Nothing is recorded in ``progress.toml``.
"""

from __future__ import annotations

import argparse
import importlib
import math
import sys
import warnings
import zlib
from dataclasses import dataclass, field

import numpy as np

INSTALL = ('make parity compares your tinytorch with PyTorch, which is not installed: '
           'pip install -e ".[bench]"  (CPU-only wheels: add --extra-index-url https://download.pytorch.org/whl/cpu)')

TOLERANCE = {"float32": (1e-5, 1e-4), "float64": (1e-10, 1e-8)}  # (atol, rtol)


# ---------------------------------------------------------------------------------------------
# Rows and comparisons
# ---------------------------------------------------------------------------------------------


@dataclass
class Row:
    check: str
    shapes: str = ""
    forward: float | None = None  # max |ours - torch| of the output(s)
    grads: list = field(default_factory=list)  # [(label, max abs error)]
    dtype: str = ""  # "float32" or "float64 ≠ float32"
    status: str = "ok"  # ok | fail | todo | info
    note: str = ""


class TorchSideError(Exception):
    """The PyTorch half of a check failed: a bug in this module, not in the student's code."""


class Mismatch(Exception):
    """Raised inside a check to fail the row with a message (shapes, names, lengths)."""


def _is_torch(value) -> bool:
    return type(value).__module__.split(".")[0] == "torch"


def _np(value):
    """A NumPy array from a torch tensor, a tinytorch Tensor, an array or a number."""
    if _is_torch(value):
        return value.detach().cpu().numpy()
    if hasattr(value, "data") and isinstance(getattr(value, "data"), np.ndarray):
        return value.data
    return np.asarray(value)


def _dtype_name(value) -> str:
    if _is_torch(value):
        return str(value.dtype).replace("torch.", "")
    return str(_np(value).dtype)


def max_error(ours, theirs) -> float:
    """Largest |ours - theirs| (NaN where exactly one side is NaN; both NaN counts as equal)."""
    a, b = _np(ours), _np(theirs)
    if a.shape != b.shape:
        raise Mismatch(f"shape {a.shape}, PyTorch {b.shape}")
    if a.size == 0:
        return 0.0
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf, nan - x: handled just below
        diff = np.abs(a64 - b64)
    equal = (np.isnan(a64) & np.isnan(b64)) | (np.isinf(a64) & (a64 == b64))
    return float(np.max(np.where(equal, 0.0, diff)))


class Parity:
    """What every check gets: torch, the tinytorch modules, a seeded generator and the dtype."""

    def __init__(self, torch, seed: int = 0, dtype: str = "float32"):
        self.torch = torch
        self.F = torch.nn.functional
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.dtype = np.dtype(dtype)
        self.tdtype = getattr(torch, dtype)
        self.atol, self.rtol = TOLERANCE[dtype]

    # -- tinytorch, imported lazily (a later kata's file is not needed for an earlier kata) --
    def tt(self, name: str):
        return importlib.import_module(f"tinytorch.{name}")

    # -- inputs ----------------------------------------------------------------------------
    def randn(self, *shape, scale=1.0):
        return (self.rng.standard_normal(shape) * scale).astype(self.dtype)

    def uniform(self, low, high, *shape):
        return self.rng.uniform(low, high, shape).astype(self.dtype)

    def away(self, *shape, low=0.5, high=2.0):
        """Values in ±[low, high]: away from 0 (division, kinks)."""
        return (self.rng.uniform(low, high, shape) * self.rng.choice([-1.0, 1.0], shape)).astype(self.dtype)

    def ints(self, high, *shape):
        return self.rng.integers(0, high, shape).astype(np.int64)

    def close(self, err: float, reference, dtype=None) -> bool:
        atol, rtol = TOLERANCE.get(str(dtype or self.dtype), (self.atol, self.rtol))
        ref = _np(reference).astype(np.float64)
        scale = float(np.max(np.abs(ref[np.isfinite(ref)]))) if ref.size and np.isfinite(ref).any() else 0.0
        return bool(err <= atol + rtol * scale)

    # -- the workhorse ---------------------------------------------------------------------
    def compare(self, name, shapes, inputs, ours, theirs, grad=False, const=(), labels=None,
                params=(), dtype_check=True, tolerance_dtype=None):
        """Run ``ours(*tinytorch tensors)`` and ``theirs(*torch tensors)`` on ``inputs``.

        ``grad``: also backpropagate one random upstream gradient through both and compare the
        gradient of every floating input not listed in ``const`` (positions), and of every
        ``params`` entry ``(label, tinytorch parameter, torch tensor or callable giving its grad)``.
        """
        torch = self.torch
        T = self.tt("tensor").Tensor
        track = [grad and np.asarray(a).dtype.kind == "f" and i not in const for i, a in enumerate(inputs)]
        ours_in = [T(a, requires_grad=t) if isinstance(a, np.ndarray) else a for a, t in zip(inputs, track)]
        try:
            theirs_in = [torch.tensor(a, requires_grad=t) if isinstance(a, np.ndarray) else a for a, t in zip(inputs, track)]
        except Exception as error:  # pragma: no cover - a bug here, not in the student's code
            raise TorchSideError(error) from error
        out = ours(*ours_in)
        try:
            ref = theirs(*theirs_in)
        except Exception as error:
            raise TorchSideError(f"{type(error).__name__}: {error}") from error
        row = Row(name, shapes)
        ok = True
        fwd = max_error(out, ref)
        row.forward = fwd
        tol_dtype = tolerance_dtype or (_dtype_name(ref) if _dtype_name(ref).startswith("float") else self.dtype)
        if _np(ref).dtype.kind == "f":
            ok &= self.close(fwd, ref, tol_dtype)
        else:
            ok &= fwd == 0
        notes = []
        if dtype_check:
            mine, yours = _dtype_name(out), _dtype_name(ref)
            row.dtype = mine if mine == yours else f"{mine} ≠ {yours}"
            if mine != yours:
                ok = False
                notes.append(f"dtype {mine}, PyTorch {yours}")
        if grad:
            g = self.rng.standard_normal(_np(ref).shape).astype(_np(ref).dtype)
            out.backward(g)
            try:
                ref.backward(torch.tensor(g))
            except Exception as error:
                raise TorchSideError(f"{type(error).__name__}: {error}") from error
            names = labels or "xyzuvw"
            pairs = [(names[i], o, t, names[i]) for i, (o, t, k) in enumerate(zip(ours_in, theirs_in, track)) if k]
            pairs += [(label, o, t, "params") for label, o, t in params]
            worst = {}
            for label, o, t, key in pairs:
                tg = t() if callable(t) else t.grad
                if tg is None:
                    tg = torch.zeros(_np(o).shape, dtype=getattr(torch, _dtype_name(o)))
                og = o.grad
                if og is None:
                    og = np.zeros_like(_np(o))
                    if float(np.max(np.abs(_np(tg)), initial=0.0)) > 0:
                        ok = False
                        notes.append(f"no gradient for {label}")
                e = max_error(og, tg)
                if not self.close(e, tg, tol_dtype):
                    ok = False
                    notes.append(f"gradient of {label} differs")
                if dtype_check and _dtype_name(og) != _dtype_name(tg):
                    ok = False
                    notes.append(f"grad dtype of {label}: {_dtype_name(og)}, PyTorch {_dtype_name(tg)}")
                worst[key] = e if math.isnan(e) else max(worst.get(key, 0.0), e)
            row.grads = list(worst.items())
        row.status = "ok" if ok else "fail"
        row.note = "; ".join(dict.fromkeys(notes))
        return row


def _not_implemented_message(error) -> str:
    text = str(error).strip() or "NotImplementedError"
    return text if text.startswith("not implemented yet") else f"not implemented yet: {text}"


def run_check(P: Parity, name: str, fn, shapes: str = "") -> list:
    """Run one check; a check that raises becomes a row saying so, never a crash.

    Each check draws from its own generator, seeded by ``--seed`` and the check's name: its
    inputs do not depend on which other checks ran before it, or how far they got.
    """
    P.rng = np.random.default_rng([P.seed, zlib.crc32(name.encode("utf-8"))])
    try:
        result = fn(P)
    except NotImplementedError as error:
        return [Row(name, shapes, status="todo", note=_not_implemented_message(error))]
    except Mismatch as error:
        return [Row(name, shapes, status="fail", note=str(error))]
    except TorchSideError as error:
        return [Row(name, shapes, status="fail", note=f"the PyTorch side of this check failed (a dojo bug): {error}")]
    except RecursionError:
        return [Row(name, shapes, status="fail", note="RecursionError raised by your code")]
    except Exception as error:  # the student's code raised: that is a disagreement
        return [Row(name, shapes, status="fail", note=f"{type(error).__name__} raised by your code: {str(error)[:160]}")]
    rows = result if isinstance(result, list) else [result]
    for row in rows:
        if not row.check:
            row.check = name
    return rows


# ---------------------------------------------------------------------------------------------
# The checks, kata by kata
# ---------------------------------------------------------------------------------------------

CHECKS: dict = {}  # kata id -> [(name, fn(P) -> Row | [Row])]
NOTES: dict = {}  # kata id -> a line printed under its table


def check(kata: str, name: str):
    def register(fn):
        CHECKS.setdefault(kata, []).append((name, fn, ""))
        return fn

    return register


def info(name, note, shapes="") -> Row:
    return Row(name, shapes, status="info", note=note)


@dataclass
class Case:
    """One op compared by :meth:`Parity.compare` (forward in its own kata, backward in kata 05)."""

    name: str
    shapes: str
    inputs: object  # P -> list of arrays
    ours: object  # (P, *tinytorch tensors) -> Tensor
    theirs: object  # (P, *torch tensors) -> tensor
    differentiable: bool = True
    const: tuple = ()
    labels: str | None = None
    fixed_dtype: bool = False  # the inputs choose their own dtypes (creation, promotion)

    def run(self, P, grad):
        return P.compare(
            self.name, self.shapes, self.inputs(P), lambda *a: self.ours(P, *a), lambda *a: self.theirs(P, *a),
            grad=grad and self.differentiable, const=self.const, labels=self.labels,
            tolerance_dtype="float32" if self.fixed_dtype else None,
        )


def _register_cases(kata, cases, grad):
    for case in cases:
        CHECKS.setdefault(kata, []).append((case.name, lambda P, c=case: c.run(P, grad), case.shapes))


def _T(P):
    return P.tt("tensor").Tensor


# -- kata 01: tensor ---------------------------------------------------------------------------

TENSOR_CASES = [
    Case("a + b (broadcast)", "(3, 1) + (4,)", lambda P: [P.randn(3, 1), P.randn(4)], lambda P, a, b: a + b, lambda P, a, b: a + b),
    Case("a - b", "(2, 3) - (2, 3)", lambda P: [P.randn(2, 3), P.randn(2, 3)], lambda P, a, b: a - b, lambda P, a, b: a - b),
    Case("a * b (broadcast)", "(2, 3, 4) * (3, 1)", lambda P: [P.randn(2, 3, 4), P.randn(3, 1)], lambda P, a, b: a * b, lambda P, a, b: a * b),
    Case("a / b (broadcast)", "(2, 3) / (3,)", lambda P: [P.randn(2, 3), P.away(3)], lambda P, a, b: a / b, lambda P, a, b: a / b),
    Case("2 - a (reflected)", "(2, 3)", lambda P: [P.randn(2, 3)], lambda P, a: 2 - a, lambda P, a: 2 - a),
    Case("3 / a (reflected)", "(2, 3)", lambda P: [P.away(2, 3)], lambda P, a: 3 / a, lambda P, a: 3 / a),
    Case("-a", "(2, 3)", lambda P: [P.randn(2, 3)], lambda P, a: -a, lambda P, a: -a),
    Case("a ** 2", "(2, 3)", lambda P: [P.randn(2, 3)], lambda P, a: a ** 2, lambda P, a: a ** 2),
    Case("a ** 0.5 (a > 0)", "(2, 3)", lambda P: [P.uniform(0.5, 3, 2, 3)], lambda P, a: a ** 0.5, lambda P, a: a ** 0.5),
    Case("a ** -1.5 (a > 0)", "(2, 3)", lambda P: [P.uniform(0.5, 3, 2, 3)], lambda P, a: a ** -1.5, lambda P, a: a ** -1.5),
    Case("exp(a)", "(2, 3)", lambda P: [P.randn(2, 3)], lambda P, a: a.exp(), lambda P, a: a.exp()),
    Case("log(a) (a > 0)", "(2, 3)", lambda P: [P.uniform(0.2, 3, 2, 3)], lambda P, a: a.log(), lambda P, a: a.log()),
    Case("a @ b (1-D · 1-D)", "(4,) @ (4,)", lambda P: [P.randn(4), P.randn(4)], lambda P, a, b: a @ b, lambda P, a, b: a @ b),
    Case("a @ b (2-D · 1-D)", "(3, 4) @ (4,)", lambda P: [P.randn(3, 4), P.randn(4)], lambda P, a, b: a @ b, lambda P, a, b: a @ b),
    Case("a @ b (1-D · 2-D)", "(4,) @ (4, 5)", lambda P: [P.randn(4), P.randn(4, 5)], lambda P, a, b: a @ b, lambda P, a, b: a @ b),
    Case("a @ b (2-D · 2-D)", "(3, 4) @ (4, 5)", lambda P: [P.randn(3, 4), P.randn(4, 5)], lambda P, a, b: a @ b, lambda P, a, b: a @ b),
    Case("a @ b (batched, broadcast)", "(2, 1, 3, 4) @ (5, 4, 2)", lambda P: [P.randn(2, 1, 3, 4), P.randn(5, 4, 2)], lambda P, a, b: a @ b, lambda P, a, b: a @ b),
    Case("reshape(6, -1)", "(2, 3, 4)", lambda P: [P.randn(2, 3, 4)], lambda P, a: a.reshape(6, -1), lambda P, a: a.reshape(6, -1)),
    Case("transpose(0, 2)", "(2, 3, 4)", lambda P: [P.randn(2, 3, 4)], lambda P, a: a.transpose(0, 2), lambda P, a: a.transpose(0, 2)),
    Case("permute(2, 0, 1)", "(2, 3, 4)", lambda P: [P.randn(2, 3, 4)], lambda P, a: a.permute(2, 0, 1), lambda P, a: a.permute(2, 0, 1)),
    Case(".T (matrix)", "(3, 4)", lambda P: [P.randn(3, 4)], lambda P, a: a.T, lambda P, a: a.T),
    Case("sum()", "(2, 3, 4)", lambda P: [P.randn(2, 3, 4)], lambda P, a: a.sum(), lambda P, a: a.sum()),
    Case("sum(axis=1) / dim=1", "(2, 3, 4)", lambda P: [P.randn(2, 3, 4)], lambda P, a: a.sum(axis=1), lambda P, a: a.sum(dim=1)),
    Case("sum(axis=-1, keepdims=True)", "(2, 3, 4)", lambda P: [P.randn(2, 3, 4)], lambda P, a: a.sum(axis=-1, keepdims=True), lambda P, a: a.sum(dim=-1, keepdim=True)),
    Case("sum(axis=(0, 2))", "(2, 3, 4)", lambda P: [P.randn(2, 3, 4)], lambda P, a: a.sum(axis=(0, 2)), lambda P, a: a.sum(dim=(0, 2))),
    Case("mean()", "(2, 3, 4)", lambda P: [P.randn(2, 3, 4)], lambda P, a: a.mean(), lambda P, a: a.mean()),
    Case("mean(axis=0, keepdims=True)", "(2, 3, 4)", lambda P: [P.randn(2, 3, 4)], lambda P, a: a.mean(axis=0, keepdims=True), lambda P, a: a.mean(dim=0, keepdim=True)),
    Case("mean(axis=(1, 2))", "(2, 3, 4)", lambda P: [P.randn(2, 3, 4)], lambda P, a: a.mean(axis=(1, 2)), lambda P, a: a.mean(dim=(1, 2))),
    Case("max() vs amax()", "(2, 3, 4)", lambda P: [P.randn(2, 3, 4)], lambda P, a: a.max(), lambda P, a: a.amax()),
    Case("max(axis=1) vs amax(dim=1)", "(2, 3, 4)", lambda P: [P.randn(2, 3, 4)], lambda P, a: a.max(axis=1), lambda P, a: a.amax(dim=1)),
    Case("max(axis=-1, keepdims) with ties vs amax", "(3, 4) in {0,1,2}", lambda P: [P.ints(3, 3, 4).astype(P.dtype)],
         lambda P, a: a.max(axis=-1, keepdims=True), lambda P, a: a.amax(dim=-1, keepdim=True)),
    Case("a[1:, ::2] (slices)", "(3, 4)", lambda P: [P.randn(3, 4)], lambda P, a: a[1:, ::2], lambda P, a: a[1:, ::2]),
    Case("a[-1] (negative int)", "(3, 4)", lambda P: [P.randn(3, 4)], lambda P, a: a[-1], lambda P, a: a[-1]),
    Case("a[[0, 0, 2]] (repeated rows)", "(3, 4)", lambda P: [P.randn(3, 4)], lambda P, a: a[[0, 0, 2]], lambda P, a: a[[0, 0, 2]]),
    Case("a[a > 0] (boolean mask)", "(3, 4)", lambda P: [P.away(3, 4)], lambda P, a: a[a > 0], lambda P, a: a[a > 0]),
    Case("a[..., None, 1]", "(2, 3, 4)", lambda P: [P.randn(2, 3, 4)], lambda P, a: a[..., None, 1], lambda P, a: a[..., None, 1]),
    Case("a[Tensor([2, 0])] (tensor index)", "(3, 4)", lambda P: [P.randn(3, 4)],
         lambda P, a: a[_T(P)([2, 0])], lambda P, a: a[P.torch.tensor([2, 0])]),
]

CREATION_CASES = [
    Case("Tensor([1.0, 2.5]) dtype", "(2,)", lambda P: [], lambda P: _T(P)([1.0, 2.5]), lambda P: P.torch.tensor([1.0, 2.5]), False, fixed_dtype=True),
    Case("Tensor([1, 2]) dtype", "(2,)", lambda P: [], lambda P: _T(P)([1, 2]), lambda P: P.torch.tensor([1, 2]), False, fixed_dtype=True),
    Case("Tensor([True, False]) dtype", "(2,)", lambda P: [], lambda P: _T(P)([True, False]), lambda P: P.torch.tensor([True, False]), False, fixed_dtype=True),
    Case("Tensor(float64 array) keeps float64", "(2,)", lambda P: [], lambda P: _T(P)(np.array([0.1, 0.2])),
         lambda P: P.torch.tensor(np.array([0.1, 0.2])), False, fixed_dtype=True),
    Case("a > b (broadcast, bool)", "(3, 1) vs (4,)", lambda P: [P.ints(3, 3, 1).astype(P.dtype), P.ints(3, 4).astype(P.dtype)],
         lambda P, a, b: a > b, lambda P, a, b: a > b, False),
    Case("a == b (broadcast, bool)", "(3, 1) vs (4,)", lambda P: [P.ints(3, 3, 1).astype(P.dtype), P.ints(3, 4).astype(P.dtype)],
         lambda P, a, b: a == b, lambda P, a, b: a == b, False),
    Case("int tensor + 1.5 (promotion)", "(2,)", lambda P: [], lambda P: _T(P)([1, 2]) + 1.5, lambda P: P.torch.tensor([1, 2]) + 1.5, False, fixed_dtype=True),
    Case("int tensor * 2 stays int64", "(2,)", lambda P: [], lambda P: _T(P)([1, 2]) * 2, lambda P: P.torch.tensor([1, 2]) * 2, False, fixed_dtype=True),
    Case("int tensor / int tensor (true division)", "(2,)", lambda P: [], lambda P: _T(P)([1, 2]) / _T(P)([2, 4]),
         lambda P: P.torch.tensor([1, 2]) / P.torch.tensor([2, 4]), False, fixed_dtype=True),
    Case("float32 + 0-d float64 tensor (promotion)", "(2,) + ()", lambda P: [],
         lambda P: _T(P)(np.ones(2, np.float32)) + _T(P)(np.float64(0.1)),
         lambda P: P.torch.ones(2) + P.torch.tensor(0.1, dtype=P.torch.float64), False, fixed_dtype=True),
    Case("float32 * np.float64(0.1)", "(2,)", lambda P: [], lambda P: _T(P)(np.ones(2, np.float32)) * np.float64(0.1),
         lambda P: P.torch.ones(2) * np.float64(0.1), False, fixed_dtype=True),
    Case("2 ** a (__rpow__)", "(3,)", lambda P: [], lambda P: 2 ** _T(P)([0.5, 1.0, 3.0]), lambda P: 2 ** P.torch.tensor([0.5, 1.0, 3.0]), False, fixed_dtype=True),
]

_register_cases("01", CREATION_CASES + TENSOR_CASES, grad=False)
NOTES["01"] = "forward only: the gradients of these ops are kata 05's (make parity N=05)"


# -- kata 02: activations ----------------------------------------------------------------------

def _A(P):
    return P.tt("activations")


ACTIVATION_CASES = [
    Case("relu", "(3, 4)", lambda P: [P.away(3, 4, low=0.05, high=3)], lambda P, x: _A(P).relu(x), lambda P, x: P.F.relu(x)),
    Case("sigmoid", "(3, 4)", lambda P: [P.randn(3, 4, scale=3)], lambda P, x: _A(P).sigmoid(x), lambda P, x: P.torch.sigmoid(x)),
    Case("sigmoid(±1000)", "(4,)", lambda P: [np.array([-1000, -30, 30, 1000], P.dtype)], lambda P, x: _A(P).sigmoid(x), lambda P, x: P.torch.sigmoid(x)),
    Case("tanh", "(3, 4)", lambda P: [P.randn(3, 4, scale=2)], lambda P, x: _A(P).tanh(x), lambda P, x: P.torch.tanh(x)),
    Case("gelu vs F.gelu(approximate='tanh')", "(3, 4)", lambda P: [P.randn(3, 4, scale=2)], lambda P, x: _A(P).gelu(x),
         lambda P, x: P.F.gelu(x, approximate="tanh")),
    Case("gelu(±1000) vs approximate='tanh'", "(4,)", lambda P: [np.array([-1000, -10, 10, 1000], P.dtype)], lambda P, x: _A(P).gelu(x),
         lambda P, x: P.F.gelu(x, approximate="tanh")),
    Case("softmax(axis=-1)", "(3, 5)", lambda P: [P.randn(3, 5, scale=2)], lambda P, x: _A(P).softmax(x, axis=-1), lambda P, x: P.torch.softmax(x, dim=-1)),
    Case("softmax(axis=0)", "(3, 5)", lambda P: [P.randn(3, 5, scale=2)], lambda P, x: _A(P).softmax(x, axis=0), lambda P, x: P.torch.softmax(x, dim=0)),
    Case("softmax(±1e4)", "(2, 3)", lambda P: [np.array([[1e4, 0, -1e4], [5e3, 5e3, -1e4]], P.dtype)],
         lambda P, x: _A(P).softmax(x, axis=-1), lambda P, x: P.torch.softmax(x, dim=-1)),
    Case("log_softmax(axis=-1)", "(3, 5)", lambda P: [P.randn(3, 5, scale=2)], lambda P, x: _A(P).log_softmax(x, axis=-1),
         lambda P, x: P.torch.log_softmax(x, dim=-1)),
    Case("log_softmax(axis=1), 3-D", "(2, 3, 4)", lambda P: [P.randn(2, 3, 4, scale=2)], lambda P, x: _A(P).log_softmax(x, axis=1),
         lambda P, x: P.torch.log_softmax(x, dim=1)),
    Case("log_softmax(±1e4)", "(2, 3)", lambda P: [np.array([[1e4, 0, -1e4], [5e3, 5e3, -1e4]], P.dtype)],
         lambda P, x: _A(P).log_softmax(x, axis=-1), lambda P, x: P.torch.log_softmax(x, dim=-1)),
]

_register_cases("02", ACTIVATION_CASES, grad=False)


@check("02", "gelu vs F.gelu default (exact erf)")
def _gelu_default(P):
    x = np.linspace(-5, 5, 1001).astype(P.dtype)
    ours = _A(P).gelu(_T(P)(x)).data
    theirs = P.F.gelu(P.torch.tensor(x))
    err = max_error(ours, theirs)
    return Row("gelu vs F.gelu default (exact erf)", "(1001,) in [-5, 5]", forward=err, status="info",
               note=f"by design: ours is the tanh approximation, PyTorch's default the exact erf form (max diff {err:.1e}); "
                    "use F.gelu(x, approximate='tanh') / nn.GELU(approximate='tanh')")


# -- kata 03: layers ---------------------------------------------------------------------------

def _weights_into(P, tt_module, torch_module, names=None, scale=1.0):
    """Random weights (seeded) into every parameter of ``tt_module``, copied into the parameter
    of ``torch_module`` with the same name. Returns ``[(name, tt_param, torch_param)]``."""
    torch = P.torch
    theirs = dict(torch_module.named_parameters())
    ours = list(tt_module.named_parameters())
    missing = [n for n, _ in ours if n not in theirs]
    extra = [n for n in theirs if n not in dict(ours)]
    if missing or extra:
        raise Mismatch(f"parameter names differ from PyTorch's: yours only {missing}, PyTorch only {extra}")
    pairs = []
    with torch.no_grad():
        for name, p in ours:
            shape = p.data.shape
            fan_in = shape[-1] if len(shape) > 1 else 1
            value = (P.rng.uniform(-1, 1, shape) * scale / math.sqrt(fan_in)).astype(P.dtype)
            if len(shape) == 1 and name.split(".")[-2:-1] and "ln" in name.split(".")[-2]:
                value = (1 + 0.2 * P.rng.standard_normal(shape)).astype(P.dtype)  # LayerNorm gains near 1
            p.data = value
            theirs[name].copy_(torch.tensor(value))
            pairs.append((name, p, theirs[name]))
    return pairs


def _torch_module(P, module):
    return module.to(P.tdtype)


@check("03", "Linear(4, 3), copied weights")
def _linear(P):
    L = P.tt("layers")
    tt, th = L.Linear(4, 3), _torch_module(P, P.torch.nn.Linear(4, 3))
    _weights_into(P, tt, th)
    return P.compare("", "(5, 4) → (5, 3)", [P.randn(5, 4)], tt, th)


@check("03", "Linear, leading dimensions")
def _linear_leading(P):
    L = P.tt("layers")
    tt, th = L.Linear(4, 3), _torch_module(P, P.torch.nn.Linear(4, 3))
    _weights_into(P, tt, th)
    return P.compare("", "(2, 5, 4) → (2, 5, 3)", [P.randn(2, 5, 4)], tt, th)


@check("03", "Linear(bias=False)")
def _linear_nobias(P):
    L = P.tt("layers")
    tt, th = L.Linear(4, 3, bias=False), _torch_module(P, P.torch.nn.Linear(4, 3, bias=False))
    _weights_into(P, tt, th)
    return P.compare("", "(5, 4) → (5, 3)", [P.randn(5, 4)], tt, th)


def _mlp_pair(P):
    L, A, nn = P.tt("layers"), P.tt("activations"), P.torch.nn
    tt = L.Sequential(L.Linear(4, 8), A.ReLU(), L.Linear(8, 3))
    th = _torch_module(P, nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)))
    return tt, th, _weights_into(P, tt, th)


@check("03", "Sequential(Linear, ReLU, Linear)")
def _sequential(P):
    tt, th, _ = _mlp_pair(P)
    return P.compare("", "(5, 4) → (5, 3)", [P.randn(5, 4)], tt, th)


@check("03", "named_parameters / state_dict names")
def _names(P):
    L, A, nn = P.tt("layers"), P.tt("activations"), P.torch.nn
    tt = L.Sequential(L.Linear(4, 8), A.ReLU(), L.Linear(8, 3))
    th = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    ours, theirs = [n for n, _ in tt.named_parameters()], [n for n, _ in th.named_parameters()]
    keys, tkeys = list(tt.state_dict()), list(th.state_dict())
    ok = ours == theirs and keys == tkeys
    return Row("named_parameters / state_dict names", "Sequential", status="ok" if ok else "fail",
               note="" if ok else f"yours {ours} / {keys}, PyTorch {theirs} / {tkeys}")


@check("03", "state_dict(): copies or shared storage")
def _state_dict_storage(P):
    L, torch = P.tt("layers"), P.torch
    tt, th = L.Linear(2, 3), torch.nn.Linear(2, 3)
    ours, theirs = tt.state_dict()["weight"], th.state_dict()["weight"]
    before_ours, before_theirs = np.array(_np(ours)), theirs.clone()
    tt.weight.data += 1.0
    with torch.no_grad():
        th.weight.add_(1.0)
    ours_copy = bool(np.array_equal(_np(ours), before_ours))
    theirs_copy = bool(torch.equal(theirs, before_theirs))
    describe = {True: "a copy (later training does not change it)", False: "shares storage with the weights"}
    return Row("state_dict(): copies or shared storage", "Linear(2, 3)", status="info",
               note=f"yours: {describe[ours_copy]}; PyTorch: {describe[theirs_copy]}"
                    + ("" if ours_copy == theirs_copy else " (copy.deepcopy(model.state_dict()) to snapshot in PyTorch)"))


@check("03", "Dropout(0.3).eval() is the identity")
def _dropout_eval(P):
    L = P.tt("layers")
    tt, th = L.Dropout(0.3), P.torch.nn.Dropout(0.3)
    tt.eval(), th.eval()
    return P.compare("", "(4, 5)", [P.randn(4, 5)], tt, th)


@check("03", "Dropout(0.5) training: kept values scaled by 1/(1-p)")
def _dropout_train(P):
    L, torch = P.tt("layers"), P.torch
    x = P.uniform(0.5, 2, 2000)
    tt, th = L.Dropout(0.5), torch.nn.Dropout(0.5)
    ours, theirs = _np(tt(_T(P)(x))), _np(th(torch.tensor(x)))
    errors = []
    for out in (ours, theirs):
        kept = out != 0
        errors.append(max_error(out[kept], x[kept] * 2))
    ok = all(P.close(e, x * 2) for e in errors)
    return Row("", "(2000,)", forward=errors[0], status="ok" if ok else "fail",
               note=(f"kept fraction yours {np.mean(ours != 0):.2f}, PyTorch {np.mean(theirs != 0):.2f}; "
                     "the masks themselves are not comparable (each library has its own RNG)"))


# -- kata 04: losses ---------------------------------------------------------------------------

def _Lo(P):
    return P.tt("losses")


def _probs(P, *shape):
    return P.uniform(0.05, 0.95, *shape)


LOSS_CASES = [
    Case("mse_loss (mean)", "(4, 3)", lambda P: [P.randn(4, 3), P.randn(4, 3)], lambda P, p, t: _Lo(P).mse_loss(p, t),
         lambda P, p, t: P.F.mse_loss(p, t), labels=["pred", "target"]),
    Case("mse_loss (sum)", "(4, 3)", lambda P: [P.randn(4, 3), P.randn(4, 3)], lambda P, p, t: _Lo(P).mse_loss(p, t, reduction="sum"),
         lambda P, p, t: P.F.mse_loss(p, t, reduction="sum"), labels=["pred", "target"]),
    Case("cross_entropy (mean)", "(5, 4), (5,)", lambda P: [P.randn(5, 4, scale=2), P.ints(4, 5)],
         lambda P, z, y: _Lo(P).cross_entropy(z, y), lambda P, z, y: P.F.cross_entropy(z, y), labels=["logits"]),
    Case("cross_entropy (sum)", "(5, 4), (5,)", lambda P: [P.randn(5, 4, scale=2), P.ints(4, 5)],
         lambda P, z, y: _Lo(P).cross_entropy(z, y, reduction="sum"), lambda P, z, y: P.F.cross_entropy(z, y, reduction="sum"), labels=["logits"]),
    Case("cross_entropy, logits ±1e4", "(2, 3), (2,)", lambda P: [np.array([[1e4, -1e4, 0], [-1e4, 1e4, 1e4]], P.dtype), np.array([1, 0])],
         lambda P, z, y: _Lo(P).cross_entropy(z, y), lambda P, z, y: P.F.cross_entropy(z, y), labels=["logits"]),
    Case("CrossEntropyLoss(reduction='sum') class", "(5, 4), (5,)", lambda P: [P.randn(5, 4), P.ints(4, 5)],
         lambda P, z, y: _Lo(P).CrossEntropyLoss(reduction="sum")(z, y), lambda P, z, y: P.torch.nn.CrossEntropyLoss(reduction="sum")(z, y),
         labels=["logits"]),
    Case("binary_cross_entropy", "(4, 3)", lambda P: [_probs(P, 4, 3), P.ints(2, 4, 3).astype(P.dtype)],
         lambda P, p, t: _Lo(P).binary_cross_entropy(p, t), lambda P, p, t: P.F.binary_cross_entropy(p, t), const=(1,), labels=["probs"]),
    Case("binary_cross_entropy at p = 0 and 1 (log clamped at -100)", "(4,)",
         lambda P: [np.array([0.0, 1.0, 0.0, 1.0], P.dtype), np.array([1.0, 0.0, 0.0, 1.0], P.dtype)],
         lambda P, p, t: _Lo(P).binary_cross_entropy(p, t), lambda P, p, t: P.F.binary_cross_entropy(p, t), const=(1,), labels=["probs"]),
    Case("binary_cross_entropy_with_logits", "(4, 3)", lambda P: [P.randn(4, 3, scale=3), P.ints(2, 4, 3).astype(P.dtype)],
         lambda P, z, t: _Lo(P).binary_cross_entropy_with_logits(z, t), lambda P, z, t: P.F.binary_cross_entropy_with_logits(z, t),
         const=(1,), labels=["logits"]),
    Case("binary_cross_entropy_with_logits(±1000)", "(4,)",
         lambda P: [np.array([1000, -1000, 1000, -1000], P.dtype), np.array([0.0, 1.0, 1.0, 0.0], P.dtype)],
         lambda P, z, t: _Lo(P).binary_cross_entropy_with_logits(z, t), lambda P, z, t: P.F.binary_cross_entropy_with_logits(z, t),
         const=(1,), labels=["logits"]),
]

_register_cases("04", LOSS_CASES, grad=False)


# -- kata 05: autograd -------------------------------------------------------------------------

_register_cases("05", [c for c in TENSOR_CASES + ACTIVATION_CASES + LOSS_CASES if c.differentiable], grad=True)
NOTES["05"] = "every row: the same random upstream gradient through both (out.backward(g)), each input's .grad compared"


@check("05", "x * x + x (diamond)")
def _diamond(P):
    return P.compare("", "(3,)", [P.randn(3)], lambda x: x * x + x, lambda x: x * x + x, grad=True)


@check("05", "y = x * w; y * y + y.sum() (reuse)")
def _reuse(P):
    def f(x, w):
        y = x * w
        return y * y + y.sum()

    return P.compare("", "(2, 3) * (3,)", [P.randn(2, 3), P.randn(3)], f, f, grad=True, labels="xw")


@check("05", "chain of 4,000 ops (no recursion limit)")
def _deep(P):
    def f(x):
        for _ in range(2000):
            x = x * 0.999 + 0.001
        return x

    return P.compare("", "(3,)", [P.randn(3)], f, f, grad=True)


@check("05", "gradients accumulate over two backward() calls")
def _accumulate(P):
    torch, T = P.torch, _T(P)
    x = P.randn(4)
    g1, g2 = P.randn(4), P.randn(4)
    a, b = T(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    for g in (g1, g2):
        (a * a).backward(g)
        (b * b).backward(torch.tensor(g))
    err = max_error(a.grad, b.grad)
    return Row("", "(4,)", grads=[("x", err)], status="ok" if P.close(err, b.grad) else "fail")


@check("05", "backward() twice on the same graph")
def _twice(P):
    torch, T = P.torch, _T(P)
    x = P.randn(3)
    a, b = T(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ya, yb = (a * a).sum(), (b * b).sum()
    ya.backward()
    yb.backward()
    try:
        ya.backward()
        ours = "allowed (.grad doubles)" if np.allclose(_np(a.grad), 4 * x) else "allowed"
    except Exception as error:
        ours = f"raises {type(error).__name__}"
    try:
        yb.backward()
        theirs = "allowed"
    except RuntimeError:
        theirs = "raises RuntimeError (graph freed; retain_graph=True keeps it)"
    return Row("", "(3,)", status="info", note=f"yours: {ours}; PyTorch: {theirs}")


@check("05", "max ties: ours share (amax), torch.max(dim) picks one")
def _max_ties(P):
    torch, T = P.torch, _T(P)
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]], P.dtype)
    a, b = T(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    a.max(axis=1).backward(np.ones(2, P.dtype))
    b.max(dim=1).values.backward(torch.ones(2, dtype=P.tdtype))
    err = max_error(a.grad, b.grad)
    return Row("", "(2, 3) with ties", grads=[("x", err)], status="info",
               note="by design: tied maxima share the gradient, as torch.amax/x.max() do; "
                    "torch.max(x, dim) gives all of it to one index (compare with amax above)")


@check("05", "Sequential MLP + cross_entropy, every parameter")
def _mlp_ce(P):
    tt, th, pairs = _mlp_pair(P)
    y = P.ints(3, 6)
    Lo = _Lo(P)
    params = [(name, o, t) for name, o, t in pairs]
    return P.compare("", "(6, 4) → 3 classes", [P.randn(6, 4)], lambda x: Lo.cross_entropy(tt(x), _T(P)(y)),
                     lambda x: P.F.cross_entropy(th(x), P.torch.tensor(y)), grad=True, params=params)


@check("05", "no_grad: nothing recorded")
def _no_grad(P):
    torch, T, AG = P.torch, _T(P), P.tt("autograd")
    a, b = T(P.randn(3), requires_grad=True), torch.tensor(P.randn(3), requires_grad=True)
    with AG.no_grad():
        ya = a * 2
    with torch.no_grad():
        yb = b * 2
    ok = ya.requires_grad == yb.requires_grad and ya.node is None
    return Row("", "(3,)", status="ok" if ok else "fail",
               note="" if ok else f"requires_grad yours {ya.requires_grad}, PyTorch {yb.requires_grad}")


@check("05", "Function API: a custom op (x³)")
def _function(P):
    torch, AG = P.torch, P.tt("autograd")

    class Cube(AG.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved
            return 3 * x ** 2 * grad

    class TorchCube(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return 3 * x ** 2 * grad

    return P.compare("", "(2, 3)", [P.randn(2, 3)], lambda x: Cube.apply(x) * 2, lambda x: TorchCube.apply(x) * 2, grad=True)


# -- kata 06: optimizers -----------------------------------------------------------------------

def _optimizer_run(P, make_ours, make_theirs, steps=5):
    """Train the same MLP from equal weights with both optimizers; compare losses and weights."""
    torch = P.torch
    tt, th, pairs = _mlp_pair(P)
    x, y = P.randn(16, 4), P.ints(3, 16)
    Lo, T = _Lo(P), _T(P)
    opt_ours = make_ours([p for _, p, _ in pairs])
    opt_theirs = make_theirs([t for _, _, t in pairs])
    loss_err, weight_err = 0.0, 0.0
    for _ in range(steps):
        opt_ours.zero_grad()
        loss = Lo.cross_entropy(tt(T(x)), T(y))
        loss.backward()
        opt_ours.step()
        opt_theirs.zero_grad()
        tloss = P.F.cross_entropy(th(torch.tensor(x)), torch.tensor(y))
        tloss.backward()
        opt_theirs.step()
        loss_err = max(loss_err, max_error(loss, tloss))
        weight_err = max(weight_err, max(max_error(p, t) for _, p, t in pairs))
    ok = all(P.close(max_error(p, t), t) for _, p, t in pairs) and P.close(loss_err, tloss)
    return Row("", f"MLP 4-8-3, {steps} steps", forward=loss_err, grads=[("weights", weight_err)],
               dtype=_dtype_name(pairs[0][1]), status="ok" if ok else "fail")


OPTIMIZERS = [
    ("SGD(lr=0.1)", dict(lr=0.1), "SGD"),
    ("SGD(momentum=0.9)", dict(lr=0.1, momentum=0.9), "SGD"),
    ("SGD(momentum=0.9, nesterov=True)", dict(lr=0.1, momentum=0.9, nesterov=True), "SGD"),
    ("SGD(momentum=0.9, weight_decay=0.01)", dict(lr=0.1, momentum=0.9, weight_decay=0.01), "SGD"),
    ("Adam(lr=0.01)", dict(lr=0.01), "Adam"),
    ("Adam(betas=(0.8, 0.99), eps=1e-6)", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6), "Adam"),
    ("Adam(weight_decay=0.01) (L2)", dict(lr=0.01, weight_decay=0.01), "Adam"),
    ("AdamW(weight_decay=0.1) (decoupled)", dict(lr=0.01, weight_decay=0.1), "AdamW"),
]

for _name, _kwargs, _cls in OPTIMIZERS:
    CHECKS.setdefault("06", []).append((_name, lambda P, k=_kwargs, c=_cls: _optimizer_run(
        P, lambda ps: getattr(P.tt("optim"), c)(ps, **k), lambda ps: getattr(P.torch.optim, c)(ps, **k)), "MLP 4-8-3, 5 steps"))


@check("06", "param_groups: two groups, two learning rates")
def _param_groups(P):
    optim = P.tt("optim")
    probe = P.tt("layers").Parameter(np.zeros(2, P.dtype))
    try:
        opt = optim.SGD([{"params": [probe], "lr": 0.1}], lr=0.1)
        opt.param_groups[0]["lr"]
    except NotImplementedError:
        raise
    except Exception as error:
        return Row("", status="info", note=f"not comparable: this tinytorch's SGD does not take param_groups ({type(error).__name__})")

    def ours(ps):
        return optim.SGD([{"params": ps[:2], "lr": 0.05}, {"params": ps[2:]}], lr=0.1, momentum=0.9)

    def theirs(ps):
        return P.torch.optim.SGD([{"params": ps[:2], "lr": 0.05}, {"params": ps[2:]}], lr=0.1, momentum=0.9)

    return _optimizer_run(P, ours, theirs)


# -- kata 07: training -------------------------------------------------------------------------

def _lr(optimizer) -> float:
    groups = getattr(optimizer, "param_groups", None)
    return float(groups[0]["lr"]) if groups else float(optimizer.lr)


def _schedule_row(P, make_ours, make_theirs, steps, shapes, base_lr=0.1):
    torch = P.torch
    ours_opt = P.tt("optim").SGD([P.tt("layers").Parameter(np.zeros(2, np.float32))], lr=base_lr)
    theirs_opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=base_lr)
    ours_sched, theirs_sched = make_ours(ours_opt), make_theirs(theirs_opt)
    ours_lrs, theirs_lrs = [], []
    for _ in range(steps + 1):
        ours_lrs.append(_lr(ours_opt))
        theirs_lrs.append(theirs_opt.param_groups[0]["lr"])
        theirs_opt.step()
        ours_sched.step()
        theirs_sched.step()
    err = max_error(np.array(ours_lrs), np.array(theirs_lrs))
    ok = P.close(err, np.array(theirs_lrs), "float64")
    return Row("", shapes, forward=err, dtype="float64", status="ok" if ok else "fail",
               note="" if ok else f"lr yours {np.round(ours_lrs, 6).tolist()}, PyTorch {np.round(theirs_lrs, 6).tolist()}")


@check("07", "StepLR(step_size=3, gamma=0.5)")
def _steplr(P):
    S = P.tt("training")
    return _schedule_row(P, lambda o: S.StepLR(o, 3, gamma=0.5),
                         lambda o: P.torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5), 10, "lr, steps 0..10")


@check("07", "CosineAnnealingLR(t_max=8, eta_min=0.01), t <= t_max")
def _cosine(P):
    S = P.tt("training")
    return _schedule_row(P, lambda o: S.CosineAnnealingLR(o, 8, eta_min=0.01),
                         lambda o: P.torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=8, eta_min=0.01), 8, "lr, steps 0..8")


@check("07", "CosineAnnealingLR after t_max")
def _cosine_after(P):
    torch, S = P.torch, P.tt("training")
    ours_opt = P.tt("optim").SGD([P.tt("layers").Parameter(np.zeros(2, np.float32))], lr=0.1)
    theirs_opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.1)
    a, b = S.CosineAnnealingLR(ours_opt, 4, eta_min=0.01), torch.optim.lr_scheduler.CosineAnnealingLR(theirs_opt, T_max=4, eta_min=0.01)
    for _ in range(6):
        theirs_opt.step()
        a.step()
        b.step()
    return Row("", "lr at step 6, t_max=4", status="info",
               note=f"by design: yours {_lr(ours_opt):.4f} (holds eta_min), PyTorch {theirs_opt.param_groups[0]['lr']:.4f} "
                    "(its cosine is periodic and rises again after T_max)")


@check("07", "LinearWarmup(4, start_factor=0.25) vs LinearLR")
def _warmup(P):
    S = P.tt("training")
    return _schedule_row(P, lambda o: S.LinearWarmup(o, 4, start_factor=0.25),
                         lambda o: P.torch.optim.lr_scheduler.LinearLR(o, start_factor=0.25, end_factor=1.0, total_iters=4),
                         8, "lr, steps 0..8")


@check("07", "clip_grad_norm(max_norm=1.0) vs clip_grad_norm_")
def _clip(P):
    torch, Lmod, S = P.torch, P.tt("layers"), P.tt("training")
    grads = [P.randn(3, 4), P.randn(5)]
    ours = [Lmod.Parameter(np.zeros(g.shape, P.dtype)) for g in grads]
    theirs = [torch.nn.Parameter(torch.zeros(g.shape, dtype=P.tdtype)) for g in grads]
    for o, t, g in zip(ours, theirs, grads):
        o.grad, t.grad = g.copy(), torch.tensor(g)
    n_ours, n_theirs = S.clip_grad_norm(ours, 1.0), torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    errs = [max_error(o.grad, t.grad) for o, t in zip(ours, theirs)]
    fwd = abs(float(n_ours) - float(n_theirs))
    ok = P.close(fwd, _np(n_theirs)) and all(P.close(e, t.grad) for e, t in zip(errs, theirs))
    return Row("", "(3, 4), (5,)", forward=fwd, grads=[("grads", max(errs))], dtype=_dtype_name(ours[0].grad),
               status="ok" if ok else "fail", note="forward: the returned total norm")


@check("07", "Trainer, EarlyStopping, checkpoints")
def _trainer(P):
    return info("", "no counterpart in PyTorch itself (it leaves the loop to you, or to Lightning); "
                    "checkpoints: torch.save of model.state_dict() and optimizer.state_dict()")


# -- kata 08: data -----------------------------------------------------------------------------

def _loader_row(P, drop_last):
    torch, D = P.torch, P.tt("data")
    x, y = P.randn(10, 3), P.ints(2, 10)
    ours = list(D.DataLoader(D.TensorDataset(x, y), batch_size=4, drop_last=drop_last))
    ds = torch.utils.data.TensorDataset(torch.tensor(x), torch.tensor(y))
    theirs = list(torch.utils.data.DataLoader(ds, batch_size=4, drop_last=drop_last))
    if len(ours) != len(theirs):
        raise Mismatch(f"{len(ours)} batches, PyTorch {len(theirs)}")
    err = 0.0
    for (xo, yo), (xt, yt) in zip(ours, theirs):
        err = max(err, max_error(xo, xt), max_error(yo, yt))
    ok = P.close(err, x)
    dt = f"{_dtype_name(ours[0][0])}/{_dtype_name(ours[0][1])}"
    tdt = f"{_dtype_name(theirs[0][0])}/{_dtype_name(theirs[0][1])}"
    return Row("", f"10 samples, batch 4 → {len(ours)} batches", forward=err, dtype=dt if dt == tdt else f"{dt} ≠ {tdt}",
               status="ok" if ok and dt == tdt else "fail")


@check("08", "DataLoader(batch_size=4), no shuffle")
def _loader(P):
    return _loader_row(P, False)


@check("08", "DataLoader(batch_size=4, drop_last=True)")
def _loader_drop(P):
    return _loader_row(P, True)


@check("08", "default_collate dtypes: float64 array, float, int")
def _collate(P):
    torch, D = P.torch, P.tt("data")
    samples = [(np.zeros(3), 1.5, 2), (np.ones(3), 0.5, 1)]
    ours = D.default_collate(samples)
    theirs = torch.utils.data.default_collate(samples)
    od, td = [_dtype_name(t) for t in ours], [_dtype_name(t) for t in theirs]
    err = max(max_error(o, t) for o, t in zip(ours, theirs))
    ok = od == td and err == 0
    return Row("", "2 samples of (3,), (), ()", forward=err, dtype="/".join(od) if od == td else f"{'/'.join(od)} ≠ {'/'.join(td)}",
               status="ok" if ok else "fail")


@check("08", "shuffle=True: the order")
def _shuffle(P):
    torch, D = P.torch, P.tt("data")
    ours = np.concatenate([_np(b) for b in D.DataLoader(np.arange(10), batch_size=4, shuffle=True, seed=P.seed)])
    g = torch.Generator().manual_seed(P.seed)
    theirs = np.concatenate([_np(b) for b in torch.utils.data.DataLoader(np.arange(10), batch_size=4, shuffle=True, generator=g)])
    perm = sorted(ours.tolist()) == list(range(10)) and sorted(theirs.tolist()) == list(range(10))
    return Row("", "10 samples", status="info" if perm else "fail",
               note=("not comparable: each library draws from its own RNG (NumPy Generator vs torch.Generator); "
                     "both visit every index once per epoch" if perm else "an epoch does not visit every index exactly once"))


@check("08", "Normalize(mean, std) vs torchvision's formula")
def _normalize(P):
    D = P.tt("data")
    x = P.randn(3, 4, 5)
    mean, std = [0.1, -0.2, 0.3], [0.5, 1.0, 2.0]
    torch = P.torch

    def theirs(t):  # torchvision.transforms.Normalize: (x - mean[:, None, None]) / std[:, None, None]
        return (t - torch.tensor(mean, dtype=t.dtype)[:, None, None]) / torch.tensor(std, dtype=t.dtype)[:, None, None]

    return P.compare("", "(3, 4, 5)", [x], lambda t: D.Normalize(mean, std)(t), theirs)


@check("08", "RandomCrop, RandomHorizontalFlip")
def _augment(P):
    return info("", "random by nature (own RNG): not compared; PyTorch's are torchvision.transforms.RandomCrop/RandomHorizontalFlip")


# -- kata 09: spatial --------------------------------------------------------------------------

def _S(P):
    return P.tt("spatial")


SPATIAL_CASES = [
    Case("conv2d, stride 1, padding 0", "x (2, 3, 7, 6), w (4, 3, 3, 3)", lambda P: [P.randn(2, 3, 7, 6), P.randn(4, 3, 3, 3, scale=0.3), P.randn(4)],
         lambda P, x, w, b: _S(P).conv2d(x, w, b), lambda P, x, w, b: P.F.conv2d(x, w, b), labels=["x", "w", "b"]),
    Case("conv2d, stride 2, padding 1", "x (2, 3, 7, 6), w (4, 3, 3, 3)", lambda P: [P.randn(2, 3, 7, 6), P.randn(4, 3, 3, 3, scale=0.3), P.randn(4)],
         lambda P, x, w, b: _S(P).conv2d(x, w, b, 2, 1), lambda P, x, w, b: P.F.conv2d(x, w, b, stride=2, padding=1), labels=["x", "w", "b"]),
    Case("conv2d, kernel (2, 3), stride (2, 1), padding (1, 0)", "x (1, 2, 5, 6), w (3, 2, 2, 3)",
         lambda P: [P.randn(1, 2, 5, 6), P.randn(3, 2, 2, 3, scale=0.3), P.randn(3)],
         lambda P, x, w, b: _S(P).conv2d(x, w, b, (2, 1), (1, 0)), lambda P, x, w, b: P.F.conv2d(x, w, b, stride=(2, 1), padding=(1, 0)),
         labels=["x", "w", "b"]),
    Case("conv2d, no bias", "x (2, 3, 5, 5), w (2, 3, 3, 3)", lambda P: [P.randn(2, 3, 5, 5), P.randn(2, 3, 3, 3, scale=0.3)],
         lambda P, x, w: _S(P).conv2d(x, w, None, 1, 1), lambda P, x, w: P.F.conv2d(x, w, None, padding=1), labels=["x", "w"]),
    Case("max_pool2d(2)", "(2, 3, 6, 5)", lambda P: [P.randn(2, 3, 6, 5)], lambda P, x: _S(P).max_pool2d(x, 2), lambda P, x: P.F.max_pool2d(x, 2)),
    Case("max_pool2d(3, stride=2) (overlapping)", "(2, 2, 7, 7)", lambda P: [P.randn(2, 2, 7, 7)],
         lambda P, x: _S(P).max_pool2d(x, 3, 2), lambda P, x: P.F.max_pool2d(x, 3, 2)),
    Case("max_pool2d(2, stride=1) with ties", "(1, 2, 5, 5) in {0,1,2}", lambda P: [P.ints(3, 1, 2, 5, 5).astype(P.dtype)],
         lambda P, x: _S(P).max_pool2d(x, 2, 1), lambda P, x: P.F.max_pool2d(x, 2, 1)),
    Case("avg_pool2d(2)", "(2, 3, 6, 5)", lambda P: [P.randn(2, 3, 6, 5)], lambda P, x: _S(P).avg_pool2d(x, 2), lambda P, x: P.F.avg_pool2d(x, 2)),
    Case("avg_pool2d(3, stride=2) (overlapping)", "(2, 2, 7, 7)", lambda P: [P.randn(2, 2, 7, 7)],
         lambda P, x: _S(P).avg_pool2d(x, 3, 2), lambda P, x: P.F.avg_pool2d(x, 3, 2)),
    Case("Flatten()", "(2, 3, 4, 5)", lambda P: [P.randn(2, 3, 4, 5)], lambda P, x: _S(P).Flatten()(x), lambda P, x: P.torch.nn.Flatten()(x)),
]



@check("09", "im2col vs F.unfold")
def _im2col(P):
    x = P.randn(2, 3, 6, 5)
    return P.compare("", "(2, 3, 6, 5), kernel (2, 3), stride 2, padding 1", [x],
                     lambda t: _S(P).im2col(t.data, (2, 3), 2, 1), lambda t: P.F.unfold(t, (2, 3), padding=1, stride=2))


@check("09", "col2im vs F.fold (the adjoint)")
def _col2im(P):
    cols = P.randn(2, 3 * 2 * 3, 4 * 3)
    return P.compare("", "cols (2, 18, 12) → (2, 3, 6, 5)", [cols],
                     lambda t: _S(P).col2im(t.data, (2, 3, 6, 5), (2, 3), 2, 1),
                     lambda t: P.F.fold(t, (6, 5), (2, 3), padding=1, stride=2))


_register_cases("09", SPATIAL_CASES, grad=True)


@check("09", "Conv2d(3, 4, 3, stride=2, padding=1), copied weights")
def _conv_module(P):
    tt = _S(P).Conv2d(3, 4, 3, stride=2, padding=1)
    th = _torch_module(P, P.torch.nn.Conv2d(3, 4, 3, stride=2, padding=1))
    pairs = _weights_into(P, tt, th)
    return P.compare("", "(2, 3, 8, 8)", [P.randn(2, 3, 8, 8)], tt, th, grad=True, params=pairs)


# -- kata 10: tokenization ---------------------------------------------------------------------

@check("10", "CharTokenizer, BPETokenizer")
def _tokenizers(P):
    return info("", "no PyTorch counterpart: torch has no tokenizers (Hugging Face tokenizers, tiktoken, sentencepiece are separate libraries)")


# -- kata 11: embeddings -----------------------------------------------------------------------

@check("11", "embedding(weight, ids), repeated ids")
def _embedding(P):
    E = P.tt("embeddings")
    ids = np.array([[1, 3, 1], [0, 3, 3]])
    return P.compare("", "weight (5, 4), ids (2, 3)", [P.randn(5, 4)], lambda w: E.embedding(w, ids),
                     lambda w: P.F.embedding(P.torch.tensor(ids), w), grad=True, labels=["weight"])


@check("11", "Embedding(6, 4) vs nn.Embedding, copied weights")
def _embedding_module(P):
    E = P.tt("embeddings")
    tt, th = E.Embedding(6, 4), _torch_module(P, P.torch.nn.Embedding(6, 4))
    pairs = _weights_into(P, tt, th)
    ids = np.array([[5, 0, 5, 2]])
    return P.compare("", "ids (1, 4)", [], lambda: tt(ids), lambda: th(P.torch.tensor(ids)), grad=True, params=pairs)


@check("11", "PositionalEmbedding(8, 4)(5) vs nn.Embedding(arange(5))")
def _positional(P):
    E = P.tt("embeddings")
    tt, th = E.PositionalEmbedding(8, 4), _torch_module(P, P.torch.nn.Embedding(8, 4))
    pairs = _weights_into(P, tt, th)
    return P.compare("", "T = 5 of 8", [], lambda: tt(5), lambda: th(P.torch.arange(5)), grad=True, params=pairs)


@check("11", "sinusoidal_encoding")
def _sinusoidal(P):
    return info("", "no PyTorch function (torch.nn.Transformer adds no positions): not compared; the kata tests pin the formula")


# -- kata 12: attention ------------------------------------------------------------------------

def _At(P):
    return P.tt("attention")


@check("12", "masked_fill vs Tensor.masked_fill")
def _masked_fill(P):
    mask = P.rng.random((3, 4)) < 0.4
    return P.compare("", "(3, 4)", [P.randn(3, 4)], lambda x: _At(P).masked_fill(x, mask, -9.0),
                     lambda x: x.masked_fill(P.torch.tensor(mask), -9.0), grad=True)


def _sdpa_case(P, shapes, qkv, mask=None, torch_kwargs=None):
    torch_kwargs = dict(torch_kwargs or {})
    if mask is not None and "attn_mask" not in torch_kwargs and not torch_kwargs.get("is_causal"):
        torch_kwargs["attn_mask"] = P.torch.tensor(mask)
    return P.compare("", shapes, qkv, lambda q, k, v: _At(P).scaled_dot_product_attention(q, k, v, mask=mask),
                     lambda q, k, v: P.F.scaled_dot_product_attention(q, k, v, **torch_kwargs), grad=True, labels="qkv")


@check("12", "scaled_dot_product_attention, no mask, T_q ≠ T_k, d ≠ d_v")
def _sdpa(P):
    return _sdpa_case(P, "q (2, 3, 4, 5), k (2, 3, 6, 5), v (2, 3, 6, 7)", [P.randn(2, 3, 4, 5), P.randn(2, 3, 6, 5), P.randn(2, 3, 6, 7)])


@check("12", "sdpa, causal_mask(T) vs is_causal=True")
def _sdpa_causal(P):
    return _sdpa_case(P, "(2, 2, 5, 4)", [P.randn(2, 2, 5, 4) for _ in range(3)], _At(P).causal_mask(5), {"is_causal": True})


@check("12", "sdpa, causal_mask(T) vs boolean attn_mask")
def _sdpa_causal_bool(P):
    return _sdpa_case(P, "(2, 2, 5, 4)", [P.randn(2, 2, 5, 4) for _ in range(3)], _At(P).causal_mask(5))


@check("12", "sdpa, padding mask (B, 1, 1, T), True = may attend")
def _sdpa_padding(P):
    mask = _At(P).padding_mask(np.array([5, 3]), 5)[:, None]
    return _sdpa_case(P, "(2, 2, 5, 4), lengths [5, 3]", [P.randn(2, 2, 5, 4) for _ in range(3)], mask)


@check("12", "sdpa, a fully masked query row")
def _sdpa_empty_row(P):
    mask = np.array([[True, False, False], [False, False, False], [True, True, True]])
    return _sdpa_case(P, "(1, 3, 4), row 1 all False", [P.randn(1, 3, 4) for _ in range(3)], mask)


def _mha_pair(P, E=8, H=2):
    torch = P.torch
    tt = _At(P).MultiHeadAttention(E, H)
    th = _torch_module(P, torch.nn.MultiheadAttention(E, H, batch_first=True))
    names = dict(tt.named_parameters())
    with torch.no_grad():
        parts = {}
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            for kind in ("weight", "bias"):
                shape = names[f"{proj}.{kind}"].data.shape
                value = (P.rng.uniform(-1, 1, shape) / math.sqrt(E)).astype(P.dtype)
                names[f"{proj}.{kind}"].data = value
                parts[proj, kind] = value
        th.in_proj_weight.copy_(torch.tensor(np.concatenate([parts[p, "weight"] for p in ("q_proj", "k_proj", "v_proj")])))
        th.in_proj_bias.copy_(torch.tensor(np.concatenate([parts[p, "bias"] for p in ("q_proj", "k_proj", "v_proj")])))
        th.out_proj.weight.copy_(torch.tensor(parts["out_proj", "weight"]))
        th.out_proj.bias.copy_(torch.tensor(parts["out_proj", "bias"]))
    params = []
    for i, proj in enumerate(("q_proj", "k_proj", "v_proj")):
        rows = slice(i * E, (i + 1) * E)
        params.append((f"{proj}.weight", names[f"{proj}.weight"], lambda r=rows: th.in_proj_weight.grad[r]))
        params.append((f"{proj}.bias", names[f"{proj}.bias"], lambda r=rows: th.in_proj_bias.grad[r]))
    params += [("out_proj.weight", names["out_proj.weight"], th.out_proj.weight), ("out_proj.bias", names["out_proj.bias"], th.out_proj.bias)]
    return tt, th, params


def _mha_row(P, mask_ours, torch_kwargs, shapes, x):
    tt, th, params = _mha_pair(P)
    return P.compare("", shapes, [x], lambda t: tt(t, mask=mask_ours), lambda t: th(t, t, t, need_weights=False, **torch_kwargs)[0],
                     grad=True, params=params)


@check("12", "MultiHeadAttention(8, 2) vs nn.MultiheadAttention, no mask")
def _mha(P):
    return _mha_row(P, None, {}, "(2, 5, 8)", P.randn(2, 5, 8))


@check("12", "MultiHeadAttention, causal: ours mask=causal_mask, theirs attn_mask=~mask")
def _mha_causal(P):
    mask = _At(P).causal_mask(5)
    return _mha_row(P, mask, {"attn_mask": P.torch.tensor(~mask)}, "(2, 5, 8)", P.randn(2, 5, 8))


@check("12", "MultiHeadAttention, padding: ours padding_mask, theirs key_padding_mask=~valid")
def _mha_padding(P):
    lengths = np.array([5, 3])
    mask = _At(P).padding_mask(lengths, 5)
    valid = np.arange(5)[None, :] < lengths[:, None]
    return _mha_row(P, mask, {"key_padding_mask": P.torch.tensor(~valid)}, "(2, 5, 8), lengths [5, 3]", P.randn(2, 5, 8))


@check("12", "MultiHeadAttention, a fully masked query row")
def _mha_empty(P):
    torch = P.torch
    mask = np.array([[True, False, False], [False, False, False], [True, True, True]])
    row = _mha_row(P, mask, {"attn_mask": torch.tensor(~mask)}, "(1, 3, 8), row 1 all False", P.randn(1, 3, 8))
    tt, th, _ = _mha_pair(P)
    x = torch.tensor(P.randn(1, 3, 8))
    with torch.no_grad():
        default = _np(th(x, x, x, attn_mask=torch.tensor(~mask))[0])[0, 1]
    what = "NaN" if np.isnan(default).all() else "finite values"
    row.note = "; ".join(filter(None, [row.note, f"PyTorch side: need_weights=False; with need_weights=True (its default) "
                                                  f"nn.MultiheadAttention gives {what} for that row, yours its out_proj bias"]))
    return row


# -- kata 13: transformers ---------------------------------------------------------------------

def _torch_gpt_classes(torch):
    """A torch re-implementation of kata 13's modules with the same parameter names."""
    nn, F = torch.nn, torch.nn.functional

    class Attention(nn.Module):
        def __init__(self, dim, n_head):
            super().__init__()
            self.n_head = n_head
            self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(dim, dim) for _ in range(4))

        def forward(self, x):
            B, T, C = x.shape

            def split(t):
                return t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)

            q, k, v = split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.out_proj(y.transpose(1, 2).reshape(B, T, C))

    class MLP(nn.Module):
        def __init__(self, dim):
            super().__init__()
            self.fc, self.proj = nn.Linear(dim, 4 * dim), nn.Linear(4 * dim, dim)

        def forward(self, x):
            return self.proj(F.gelu(self.fc(x), approximate="tanh"))

    class Block(nn.Module):
        def __init__(self, dim, n_head):
            super().__init__()
            self.ln1, self.attn, self.ln2, self.mlp = nn.LayerNorm(dim), Attention(dim, n_head), nn.LayerNorm(dim), MLP(dim)

        def forward(self, x):
            x = x + self.attn(self.ln1(x))
            return x + self.mlp(self.ln2(x))

    class Positions(nn.Module):
        def __init__(self, block, dim):
            super().__init__()
            self.weight = nn.Parameter(torch.zeros(block, dim))

    class GPT(nn.Module):
        def __init__(self, vocab, block, n_layer, n_head, dim):
            super().__init__()
            self.tok_emb, self.pos_emb = nn.Embedding(vocab, dim), Positions(block, dim)
            self.blocks = nn.ModuleList(Block(dim, n_head) for _ in range(n_layer))
            self.ln_f, self.head = nn.LayerNorm(dim), nn.Linear(dim, vocab, bias=False)

        def forward(self, idx):
            x = self.tok_emb(idx) + self.pos_emb.weight[: idx.shape[1]]
            for block in self.blocks:
                x = block(x)
            return self.head(self.ln_f(x))

    return MLP, Block, GPT


@check("13", "layer_norm vs F.layer_norm")
def _layer_norm(P):
    Tr = P.tt("transformer")
    return P.compare("", "x (2, 3, 6), weight, bias (6,)", [P.randn(2, 3, 6, scale=2), 1 + 0.2 * P.randn(6), P.randn(6)],
                     lambda x, w, b: Tr.layer_norm(x, w, b), lambda x, w, b: P.F.layer_norm(x, (6,), w, b, eps=1e-5),
                     grad=True, labels=["x", "weight", "bias"])


@check("13", "LayerNorm(6) vs nn.LayerNorm, copied weights")
def _layer_norm_module(P):
    tt, th = P.tt("transformer").LayerNorm(6), _torch_module(P, P.torch.nn.LayerNorm(6))
    pairs = _weights_into(P, tt, th)
    return P.compare("", "(4, 6)", [P.randn(4, 6)], tt, th, grad=True, params=pairs)


@check("13", "MLP(8) vs Linear, GELU(tanh), Linear")
def _mlp13(P):
    MLP, _, _ = _torch_gpt_classes(P.torch)
    tt, th = P.tt("transformer").MLP(8), _torch_module(P, MLP(8))
    pairs = _weights_into(P, tt, th)
    return P.compare("", "(2, 3, 8)", [P.randn(2, 3, 8)], tt, th, grad=True, params=pairs)


@check("13", "TransformerBlock(8, 2), causal, copied weights")
def _block(P):
    _, Block, _ = _torch_gpt_classes(P.torch)
    tt, th = P.tt("transformer").TransformerBlock(8, 2), _torch_module(P, Block(8, 2))
    pairs = _weights_into(P, tt, th)
    mask = _At(P).causal_mask(5)
    return P.compare("", "(2, 5, 8)", [P.randn(2, 5, 8)], lambda x: tt(x, mask), th, grad=True, params=pairs)


def _gpt_pair(P):
    _, _, GPT = _torch_gpt_classes(P.torch)
    config = dict(vocab=11, block=8, n_layer=2, n_head=2, dim=8)
    tt = P.tt("transformer").GPT(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=8)
    th = _torch_module(P, GPT(**config))
    pairs = _weights_into(P, tt, th, scale=2.0)
    tt.eval(), th.eval()
    return tt, th, pairs


@check("13", "GPT (2 layers, 2 heads, 8 wide): logits and loss, every parameter")
def _gpt(P):
    torch = P.torch
    tt, th, pairs = _gpt_pair(P)
    ids, targets = P.ints(11, 2, 6), P.ints(11, 2, 6)

    def ours():
        return tt(ids, targets=targets)[1]

    def theirs():
        return P.F.cross_entropy(th(torch.tensor(ids)).reshape(-1, 11), torch.tensor(targets).reshape(-1))

    row = P.compare("", "ids (2, 6), vocab 11", [], ours, theirs, grad=True, params=pairs)
    ref = th(torch.tensor(ids))
    logits_err = max_error(tt(ids), ref)
    if not P.close(logits_err, ref):
        row.status = "fail"
    row.note = "; ".join(filter(None, [f"forward: the loss (the logits differ by {logits_err:.1e})", row.note]))
    return row


@check("13", "GPT.generate(greedy=True), 6 new tokens")
def _generate(P):
    torch = P.torch
    tt, th, _ = _gpt_pair(P)
    prompt = P.ints(11, 2, 3)
    ours = _np(tt.generate(prompt, max_new_tokens=6, greedy=True))
    ids = torch.tensor(prompt)
    with torch.no_grad():
        for _ in range(6):
            nxt = th(ids[:, -8:])[:, -1].argmax(-1, keepdim=True)
            ids = torch.cat([ids, nxt], dim=1)
    theirs = _np(ids)
    same = ours.shape == theirs.shape and bool(np.array_equal(ours, theirs))
    return Row("", "prompt (2, 3) → (2, 9)", forward=float(np.sum(ours != theirs)) if ours.shape == theirs.shape else None,
               dtype=_dtype_name(ours) if _dtype_name(ours) == _dtype_name(theirs) else f"{_dtype_name(ours)} ≠ {_dtype_name(theirs)}",
               status="ok" if same and _dtype_name(ours) == _dtype_name(theirs) else "fail",
               note="forward: tokens that differ" if same else f"tokens yours {ours.tolist()}, PyTorch {theirs.tolist()}")


# -- katas 14-20: systems ----------------------------------------------------------------------

@check("14", "KV cache")
def _kv(P):
    return info("", "not compared: cached vs uncached generation is an equality inside tinytorch (the kata tests check it); "
                    "PyTorch has no built-in KV cache for nn modules")


@check("15", "count_parameters(GPT) vs sum(p.numel())")
def _count_params(P):
    tt, th, _ = _gpt_pair(P)
    ours, theirs = P.tt("profiling").count_parameters(tt), sum(p.numel() for p in th.parameters())
    return Row("", "GPT 2×8, vocab 11", forward=float(abs(ours - theirs)), status="ok" if ours == theirs else "fail",
               note=f"{ours} vs {theirs}")


@check("15", "count_flops vs torch.utils.flop_counter (MLP, Conv2d)")
def _flops(P):
    torch = P.torch
    from torch.utils.flop_counter import FlopCounterMode

    Pr, L, A, S = P.tt("profiling"), P.tt("layers"), P.tt("activations"), _S(P)
    results = []
    for name, tt, th, shape in [
        ("MLP 8-16-4", L.Sequential(L.Linear(8, 16), A.ReLU(), L.Linear(16, 4)),
         torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4)), (5, 8)),
        ("Conv2d(3, 8, 3, stride=2, padding=1)", S.Conv2d(3, 8, 3, stride=2, padding=1), torch.nn.Conv2d(3, 8, 3, stride=2, padding=1), (1, 3, 16, 16)),
    ]:
        x = np.zeros(shape, np.float32)
        ours = Pr.count_flops(tt, _T(P)(x))
        with FlopCounterMode(display=False) as counter:
            th(torch.tensor(x))
        results.append((name, ours, counter.get_total_flops()))
    ok = all(o == t for _, o, t in results)
    return Row("", "MLP (5, 8); conv (1, 3, 16, 16)", forward=float(max(abs(o - t) for _, o, t in results)),
               status="ok" if ok else "fail", note="; ".join(f"{n}: {o} vs {t}" for n, o, t in results))


FAST = [("02", "gelu vs F.gelu(approximate='tanh')"), ("02", "softmax(axis=-1)"), ("02", "log_softmax(axis=-1)"),
        ("09", "conv2d, stride 2, padding 1"), ("09", "max_pool2d(3, stride=2) (overlapping)"),
        ("12", "sdpa, causal_mask(T) vs is_causal=True"), ("13", "layer_norm vs F.layer_norm"),
        ("13", "TransformerBlock(8, 2), causal, copied weights"), ("13", "GPT (2 layers, 2 heads, 8 wide): logits and loss, every parameter")]


def _fast(name, fn, shapes):
    def run(P):
        with P.tt("acceleration").backend("fast"):
            rows = run_check(P, name, fn, shapes)
        for row in rows:
            row.check = f"backend('fast'): {name}"
        return rows

    return run


def _register_fast():
    for kata, name in FAST:
        fn, shapes = next((f, sh) for n, f, sh in CHECKS[kata] if n == name)
        grad_fn = fn
        if kata == "02":  # the activations' backward (kata 05) under the fast kernels
            case = next(c for c in ACTIVATION_CASES if c.name == name)
            grad_fn = (lambda c: lambda P: c.run(P, True))(case)
        CHECKS.setdefault("16", []).append((f"backend('fast'): {name}", _fast(name, grad_fn, shapes), shapes))


@check("17", "quantize_per_tensor scale vs torch.ao MinMaxObserver (symmetric, ±127)")
def _quant_tensor(P):
    torch, Q = P.torch, P.tt("quantization")
    from torch.ao.quantization.observer import MinMaxObserver

    w = P.randn(4, 6).astype(np.float32)
    q, scale = Q.quantize_per_tensor(w)
    obs = MinMaxObserver(dtype=torch.qint8, qscheme=torch.per_tensor_symmetric, quant_min=-127, quant_max=127)
    obs(torch.tensor(w))
    tscale, zero = obs.calculate_qparams()
    with warnings.catch_warnings():  # torch.quantize_per_tensor is deprecated in favour of torchao; still exact here
        warnings.simplefilter("ignore")
        tq = torch.quantize_per_tensor(torch.tensor(w), float(tscale), int(zero), torch.qint8).int_repr()
    err = max_error(np.float32(scale), tscale.reshape(()))
    qdiff = max_error(q.astype(np.int64), _np(tq).astype(np.int64))
    ok = P.close(err, tscale, "float32") and qdiff == 0
    return Row("", "(4, 6)", forward=err, grads=[("int8 values", qdiff)], dtype=str(q.dtype) if q.dtype == np.int8 else f"{q.dtype} ≠ int8",
               status="ok" if ok and q.dtype == np.int8 else "fail", note="forward: the scale; then the int8 values (torch.quantize_per_tensor)")


@check("17", "quantize_per_channel scales vs PerChannelMinMaxObserver (symmetric, ±127)")
def _quant_channel(P):
    torch, Q = P.torch, P.tt("quantization")
    from torch.ao.quantization.observer import PerChannelMinMaxObserver

    w = (P.randn(5, 6) * P.uniform(0.01, 3, 5, 1)).astype(np.float32)
    q, scales = Q.quantize_per_channel(w, axis=0)
    obs = PerChannelMinMaxObserver(ch_axis=0, dtype=torch.qint8, qscheme=torch.per_channel_symmetric, quant_min=-127, quant_max=127)
    obs(torch.tensor(w))
    tscales, zeros = obs.calculate_qparams()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tq = torch.quantize_per_channel(torch.tensor(w), tscales, zeros, 0, torch.qint8).int_repr()
    err = max_error(np.asarray(scales).reshape(-1), tscales)
    qdiff = max_error(q.astype(np.int64), _np(tq).astype(np.int64))
    ok = P.close(err, tscales, "float32") and qdiff == 0
    return Row("", "(5, 6), axis 0", forward=err, grads=[("int8 values", qdiff)], dtype=str(q.dtype) if q.dtype == np.int8 else f"{q.dtype} ≠ int8",
               status="ok" if ok and q.dtype == np.int8 else "fail", note="forward: the scales; then the int8 values (torch.quantize_per_channel)")


@check("18", "magnitude_mask(w, 0.5) vs prune.l1_unstructured")
def _prune(P):
    torch, C = P.torch, P.tt("compression")
    import torch.nn.utils.prune as prune

    w = P.randn(5, 6)
    mask = C.magnitude_mask(w, 0.5)
    lin = _torch_module(P, torch.nn.Linear(6, 5))
    with torch.no_grad():
        lin.weight.copy_(torch.tensor(w))
    prune.l1_unstructured(lin, "weight", amount=0.5)
    differ = float(np.sum(np.asarray(mask, bool) != _np(lin.weight_mask).astype(bool)))
    return Row("", "(5, 6)", forward=differ, status="ok" if differ == 0 else "fail", note="forward: entries whose keep/prune differs")


@check("18", "global_magnitude_masks vs prune.global_unstructured")
def _prune_global(P):
    torch, C = P.torch, P.tt("compression")
    import torch.nn.utils.prune as prune

    ws = [P.randn(4, 5), P.randn(3, 4, scale=0.5)]
    masks = C.global_magnitude_masks(ws, 0.6)
    lins = [_torch_module(P, torch.nn.Linear(w.shape[1], w.shape[0])) for w in ws]
    with torch.no_grad():
        for lin, w in zip(lins, ws):
            lin.weight.copy_(torch.tensor(w))
    prune.global_unstructured([(lin, "weight") for lin in lins], pruning_method=prune.L1Unstructured, amount=0.6)
    differ = float(sum(np.sum(np.asarray(m, bool) != _np(lin.weight_mask).astype(bool)) for m, lin in zip(masks, lins)))
    return Row("", "(4, 5) + (3, 4)", forward=differ, status="ok" if differ == 0 else "fail", note="forward: entries whose keep/prune differs")


for _kata in ("19", "20"):
    CHECKS.setdefault(_kata, []).append(("(no rows)", lambda P: info("", "no PyTorch counterpart compared yet"), ""))

_register_fast()


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------

def _fmt(err) -> str:
    if err is None:
        return "—"
    if isinstance(err, float) and math.isnan(err):
        return "nan"
    return "0" if err == 0 else f"{err:.1e}"


def render(kata, rows, sym, note=None) -> str:
    from tabulate import tabulate

    marks = {"ok": sym["green"], "fail": sym["red"], "todo": sym["todo"], "info": "i" if sym.get("green") == "[ok]" else "ℹ️ "}
    table = []
    for r in rows:
        grads = " · ".join(f"{label} {_fmt(e)}" for label, e in r.grads) or "—"
        verdict = marks[r.status] + (f" {r.note}" if r.note else "")
        table.append([r.check, r.shapes, _fmt(r.forward), grads, r.dtype or "—", verdict])
    title = f"Kata {kata.id} · {kata.title} · tinytorch vs PyTorch"
    text = title + "\n\n" + tabulate(table, headers=["check", "shapes", "forward", "gradients", "dtype", ""], disable_numparse=True)
    if note:
        text += f"\n({note})"
    return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dojo parity", description=__doc__.split("\n\n")[0])
    parser.add_argument("katas", nargs="*", metavar="kata", help="kata numbers or names (default: every kata): 5, 05, autograd")
    parser.add_argument("--impl", default=None, help="which tinytorch: student (default), solutions, or a folder (also IMPL=)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs and weights (default 0)")
    parser.add_argument("--dtype", choices=sorted(TOLERANCE), default="float32", help="dtype of the inputs and weights (default float32)")
    args = parser.parse_args(argv)

    from dojo import curriculum, impl, report, threads

    try:
        c = curriculum.load()
        katas = [c.kata(k) for k in args.katas if str(k).strip()] or list(c.katas)
    except (curriculum.UnknownKata, curriculum.CurriculumError) as error:
        print(f"error: {error.args[0] if error.args else error}", file=sys.stderr)
        return 2
    try:
        import torch
    except ImportError:
        print(INSTALL)
        return 0
    try:
        root = impl.resolve(args.impl)
    except ValueError as error:
        print(f"make parity: {error}", file=sys.stderr)
        return 2
    threads.apply(threads.choose(1))
    impl.activate(root)
    sym = report.symbols()
    which = "your tinytorch/" if impl.is_student(root) else str(root)
    atol, rtol = TOLERANCE[args.dtype]
    print(f"make parity · tinytorch: {which} · PyTorch {torch.__version__} · {args.dtype} · seed {args.seed}\n"
          f"a row agrees when |ours - torch| <= {atol:g} + {rtol:g}·max|torch|, for the output and each gradient (upstream gradient: random)\n")
    counts = {"ok": 0, "fail": 0, "todo": 0, "info": 0}
    for kata in katas:
        P = Parity(torch, seed=args.seed, dtype=args.dtype)
        torch.manual_seed(args.seed)
        rows = []
        for name, fn, shapes in CHECKS.get(kata.id, []):
            rows.extend(run_check(P, name, fn, shapes))
        if not rows:
            rows = [info("(no rows)", "no PyTorch counterpart compared yet")]
        for r in rows:
            counts[r.status] += 1
        print(render(kata, rows, sym, NOTES.get(kata.id)), end="\n\n")
    summary = (f"{counts['ok']} {sym['green']} agree · {counts['fail']} {sym['red']} disagree · "
               f"{counts['todo']} {sym['todo']} not implemented yet · {counts['info']} notes")
    verdict = "DIFFERENT" if counts["fail"] else "INCOMPLETE" if counts["todo"] else "PARITY"
    print(f"{verdict} {summary}")
    sys.stdout.flush()
    return 1 if counts["fail"] else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
