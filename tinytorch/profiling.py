"""Kata 15 — Profiling: measure where the parameters, the work, the memory and the time go.

Kata 14 made generation fast by removing work we could see. In general we cannot see it: a
model is a tree of modules, and the question "what is slow?" has a measured answer, not a
guessed one. A profiler runs the model once while watching every module call, and answers four
questions per layer:

* **parameters** — how many numbers the layer stores (a tied or shared weight counted once);
* **FLOPs** — how much arithmetic its matrix products do (a multiply-add is 2 FLOPs);
* **memory** — how many bytes its outputs hold (views and aliases counted once), and the peak
  the whole forward pass reached (``tracemalloc`` sees NumPy's allocations);
* **time** — how long it ran (warm-up runs excluded, the median of several), itself and with
  its children.

How the profiler sees module calls
----------------------------------
``Module.__call__`` (kata 03) has a scaffolding seam: while ``tinytorch.layers.call_observers``
is not empty, every ``module(...)`` is handed to the last observer, which runs
``module.forward`` itself. :class:`Tracer` is such an observer: ``with Tracer(model) as t:``
records one :class:`Call` per module call (its name, its input shape, what it returned, when it
started and ended). Nothing in the model changes, and nothing is patched.

FLOP convention (the one ``torch.utils.flop_counter`` uses)
-----------------------------------------------------------
Only matrix products are counted, and a multiply-add counts as 2 FLOPs:

* ``Linear(in, out)`` on ``(..., in)``: ``2·B·in·out``, ``B`` the product of the leading dims
  (the bias additions are not counted);
* ``Conv2d`` on ``(N, Cin, H, W)``: ``2·N·Cout·Ho·Wo·Cin·kh·kw``;
* ``MultiHeadAttention`` on ``(B, T, C)``: the scores ``q kᵀ`` and the mixing ``weights · v``,
  ``2·B·H·T·T·d`` each, so ``4·B·H·T²·d`` with ``d`` the head size (its four projections are
  Linear layers, counted on their own). The causal mask does not halve it: the full square is
  computed.

Element-wise work (GELU, LayerNorm, softmax, adds) is not counted. fvcore and thop count MACs
(multiply-accumulates) instead: ``macs=True`` divides by :data:`FLOPS_PER_MAC`.

Example
-------
>>> from tinytorch.layers import Linear, Sequential
>>> from tinytorch.activations import ReLU
>>> model = Sequential(Linear(4, 8), ReLU(), Linear(8, 2))
>>> count_parameters(model)
58
>>> count_flops(model, Tensor(np.zeros((10, 4), dtype=np.float32)))
960
>>> print(profile(model, Tensor(np.zeros((10, 4), dtype=np.float32))))  # doctest: +SKIP
"""

from __future__ import annotations

import math
import statistics
import time
import tracemalloc
from dataclasses import dataclass, field

import numpy as np
from tabulate import tabulate

from tinytorch import layers
from tinytorch.attention import MultiHeadAttention
from tinytorch.layers import Linear, Module, Parameter
from tinytorch.spatial import Conv2d, conv_output_size
from tinytorch.tensor import Tensor

__all__ = [
    "FLOPS_PER_MAC", "FLOP_RULES", "register_flops", "module_flops", "named_modules",
    "buffer_of", "distinct_nbytes", "count_parameters", "parameter_bytes",
    "linear_flops", "conv2d_flops", "attention_flops",
    "Call", "Tracer", "trace", "count_flops", "flops_by_layer",
    "activation_bytes", "peak_memory",
    "LayerTime", "time_layers",
    "Row", "Profile", "profile",
]

FLOPS_PER_MAC = 2  # one multiply-add (MAC) = one multiplication + one addition


# ---------------------------------------------------------------------------------------------
# Scaffolding: names and small helpers
# ---------------------------------------------------------------------------------------------


def named_modules(model) -> list:
    """Every Module in ``model``'s tree, each once, as ``(dotted name, module)``, root first (``""``).

    Like PyTorch's ``named_modules``: depth first in attribute order, a module reachable twice
    is listed under the first name found (``"blocks.0.attn.q_proj"``).
    """
    found, seen = [], set()

    def visit(module, name):
        if id(module) in seen:
            return
        seen.add(id(module))
        found.append((name, module))
        for child_name, value in module._members():
            if isinstance(value, Module):
                visit(value, f"{name}.{child_name}" if name else child_name)

    if isinstance(model, Module):
        visit(model, "")
    return found


def _shape_of(value):
    """The shape of a Tensor, array, number or nested list (``()`` for a number)."""
    if isinstance(value, Tensor):
        return tuple(value.shape)
    return tuple(np.shape(value))


def _arrays_in(result) -> list:
    """The NumPy arrays behind what a forward returned: a Tensor, an array, or tuples/lists/dicts of them."""
    if isinstance(result, Tensor):
        return [result.data]
    if isinstance(result, np.ndarray):
        return [result]
    if isinstance(result, (tuple, list)):
        return [a for item in result for a in _arrays_in(item)]
    if isinstance(result, dict):
        return [a for item in result.values() for a in _arrays_in(item)]
    return []


def _own_parameters(module) -> list:
    """The Parameters a module holds directly (not those of its sub-modules)."""
    return [value for _, value in module._members() if isinstance(value, Parameter)]


# ---------------------------------------------------------------------------------------------
# Step 1: parameters, and bytes counted once per buffer
# ---------------------------------------------------------------------------------------------


def buffer_of(array: np.ndarray) -> np.ndarray:
    """The array that owns ``array``'s memory: follow ``.base`` while it is an ndarray.

    A view (``a.T``, ``a.reshape(...)``, ``a[1:]``) has the array it looks into as its
    ``base``; the owner's ``base`` is ``None``. Two arrays with the same buffer share memory.

    >>> a = np.zeros((2, 3))
    >>> buffer_of(a.T[1:]) is a, buffer_of(a.T.copy()) is a
    (True, False)
    """
    raise NotImplementedError("not implemented yet: buffer_of (kata 15, step 1: params)")


def distinct_nbytes(arrays) -> int:
    """Bytes of memory held by ``arrays``, each buffer counted once.

    Views and aliases of the same buffer (see :func:`buffer_of`) add nothing: the buffer's
    ``nbytes`` is counted once, however many arrays look into it. Summing ``a.nbytes`` over a
    model's activations double-counts every reshape, transpose and identity layer.

    Parameters
    ----------
    arrays : iterable of numpy.ndarray (Tensors are accepted: their ``.data`` is used)

    >>> a = np.zeros(1000, dtype=np.float32)
    >>> distinct_nbytes([a, a.reshape(10, 100), a[::2], np.zeros(10)])
    4080
    """
    raise NotImplementedError("not implemented yet: distinct_nbytes (kata 15, step 1: params)")


def count_parameters(model) -> int:
    """The number of trainable numbers in ``model``, a tied or shared weight counted once.

    Tying comes in two forms, and both count once:

    * the same Parameter object in two places (``head.weight = tok_emb.weight``);
    * two Parameters over the same memory (``head.weight.data = tok_emb.weight.data``, or a
      transposed view of it): count each buffer (:func:`buffer_of`) once, by its ``size``.

    >>> from tinytorch.layers import Linear
    >>> count_parameters(Linear(3, 5))
    20
    """
    raise NotImplementedError("not implemented yet: count_parameters (kata 15, step 1: params)")


def parameter_bytes(model) -> int:
    """Bytes of the parameters (each buffer once): 4 per float32 number, 8 per float64 one."""
    raise NotImplementedError("not implemented yet: parameter_bytes (kata 15, step 1: params)")


# ---------------------------------------------------------------------------------------------
# Step 2: FLOPs of one layer, from its input shape
# ---------------------------------------------------------------------------------------------


def linear_flops(module: Linear, shape: tuple) -> int:
    """FLOPs of ``Linear(in, out)`` on an input of ``shape`` ``(..., in)``: ``2·B·in·out``.

    ``B`` is the product of all leading dimensions (``(N, T, in)`` gives ``B = N·T``): each of
    the ``B·out`` outputs is a dot product of length ``in`` (``in`` multiply-adds). The bias
    additions are not counted (``torch.utils.flop_counter`` does the same). Return a Python
    ``int`` (``math.prod``: exact, never wraps; ``np.prod(())`` is the float ``1.0``).

    >>> linear_flops(Linear(4, 8), (10, 4))
    640
    """
    raise NotImplementedError("not implemented yet: linear_flops (kata 15, step 2: flops)")


def conv2d_flops(module: Conv2d, shape: tuple) -> int:
    """FLOPs of a ``Conv2d`` on an input ``(N, Cin, H, W)``: ``2·N·Cout·Ho·Wo·Cin·kh·kw``.

    Every output value (``N·Cout·Ho·Wo`` of them) is a dot product of length ``Cin·kh·kw``.
    ``Ho, Wo`` follow from the layer's ``kernel_size``, ``stride`` and ``padding`` (pairs):
    ``conv_output_size`` from kata 09.

    >>> conv2d_flops(Conv2d(3, 8, 3, stride=2, padding=1), (1, 3, 32, 32))
    110592
    """
    raise NotImplementedError("not implemented yet: conv2d_flops (kata 15, step 2: flops)")


def attention_flops(module: MultiHeadAttention, shape: tuple) -> int:
    """FLOPs of the attention core of a ``MultiHeadAttention`` on ``x`` ``(B, T, C)``: ``4·B·H·T²·d``.

    ``H = module.num_heads``, ``d = module.head_dim``. Per head, the scores ``q kᵀ``
    (``(T, d) @ (d, T)``: ``2·T·T·d``) and the mixing ``weights @ v`` (``(T, T) @ (T, d)``:
    ``2·T·T·d``). The four projections are Linear layers: they are counted as their own calls.

    >>> attention_flops(MultiHeadAttention(16, 4), (2, 10, 16))
    12800
    """
    raise NotImplementedError("not implemented yet: attention_flops (kata 15, step 2: flops)")


# Scaffolding: which rule counts which module type. A later kata registers its own modules
# (``@register_flops(QuantizedLinear)``). A type without a rule does no counted work itself.
FLOP_RULES = {Linear: linear_flops, Conv2d: conv2d_flops, MultiHeadAttention: attention_flops}


def register_flops(module_type):
    """Decorator: ``@register_flops(MyLayer)`` makes ``rule(module, shape) -> int`` its FLOP rule."""

    def register(rule):
        FLOP_RULES[module_type] = rule
        return rule

    return register


def module_flops(module, shape) -> int:
    """FLOPs of one call of ``module`` itself (not its children) on an input of ``shape``.

    The rule of the nearest type in ``type(module).__mro__`` found in :data:`FLOP_RULES`;
    0 when there is none (containers, LayerNorm, embeddings, dropout ...).
    """
    for cls in type(module).__mro__:
        if cls in FLOP_RULES:
            return int(FLOP_RULES[cls](module, shape))
    return 0


# ---------------------------------------------------------------------------------------------
# Step 3: trace a forward pass, count a whole model
# ---------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Call:
    """One module call seen by a :class:`Tracer`.

    Attributes
    ----------
    module : Module
    name : str
        Its dotted name in the traced model (``"blocks.0.attn"``; the model itself is ``""``).
    depth : int
        0 for the outermost call, 1 for the calls it makes, ...
    shape : tuple or None
        Shape of the first positional argument (``()`` for a number, None without arguments).
    parent : Call or None
    children : list of Call
        The module calls made during this one, in order.
    outputs : list of numpy.ndarray
        The arrays behind what the call returned (a Tensor's ``.data``; tuples are flattened).
    start, end : float
        Clock readings just before and just after ``forward`` (0.0 without a clock).
    """

    module: Module
    name: str
    depth: int
    shape: tuple | None
    parent: "Call | None" = None
    children: list = field(default_factory=list)
    outputs: list = field(default_factory=list)
    start: float = 0.0
    end: float = 0.0

    @property
    def label(self) -> str:
        """The name, or the type's name for the model itself."""
        return self.name or type(self.module).__name__

    @property
    def time(self) -> float:
        """Inclusive time: the call and everything it called."""
        return self.end - self.start

    @property
    def self_time(self) -> float:
        """Exclusive time: :attr:`time` minus the time of the direct children."""
        return self.time - sum(child.time for child in self.children)

    @property
    def flops(self) -> int:
        """FLOPs of this call itself (:func:`module_flops`)."""
        return module_flops(self.module, self.shape)


class Tracer:
    """Record every module call made inside ``with Tracer(model, clock) as tracer:``.

    While active it is the last of ``tinytorch.layers.call_observers``, so every
    ``module(*args, **kwargs)`` becomes ``tracer(module, args, kwargs)``.

    Parameters
    ----------
    model : Module, optional
        Names the calls (:func:`named_modules`); a module outside it is named ``<TypeName>``.
    clock : callable, optional
        ``clock() -> seconds`` read just before and after each ``forward``
        (e.g. ``time.perf_counter``; tests inject a fake one). Without it, times are 0.

    Attributes
    ----------
    calls : list of Call
        Every call, in the order the calls started (a parent before its children).
    roots : list of Call
        The outermost calls.
    output
        What the traced call returned (set by :func:`trace`).
    """

    def __init__(self, model=None, clock=None):
        self.names = {id(module): name for name, module in named_modules(model)}
        self.clock = clock
        self.calls, self.roots, self.stack = [], [], []
        self.output = None

    def name_of(self, module) -> str:
        return self.names.get(id(module), f"<{type(module).__name__}>")

    def __enter__(self):
        layers.call_observers.append(self)
        return self

    def __exit__(self, *exc):
        layers.call_observers.remove(self)
        return False

    def __call__(self, module, args, kwargs):
        """Observe one call: record a :class:`Call`, run ``module.forward(*args, **kwargs)``, return its result.

        1. make the Call (name, depth = how many calls are open, input shape of ``args[0]``
           via ``_shape_of``, parent = the innermost open call) and append it to ``calls``,
           and to its parent's ``children`` (or to ``roots``);
        2. push it on ``self.stack``, read the clock into ``start``, run ``forward``, read
           the clock into ``end`` and pop it — in a ``finally``, so an exception in the
           model does not leave the stack open;
        3. ``outputs = _arrays_in(result)``; return the result unchanged.
        """
        raise NotImplementedError("not implemented yet: Tracer.__call__ (kata 15, step 3: trace)")


def trace(model, *args, clock=None, **kwargs) -> Tracer:
    """Run ``model(*args, **kwargs)`` once under a :class:`Tracer` and return the tracer.

    >>> from tinytorch.layers import Linear, Sequential
    >>> t = trace(Sequential(Linear(4, 8), Linear(8, 2)), Tensor(np.zeros((3, 4))))
    >>> [(c.label, c.depth, c.shape) for c in t.calls]
    [('Sequential', 0, (3, 4)), ('0', 1, (3, 4)), ('1', 1, (3, 8))]
    """
    with Tracer(model, clock) as tracer:
        tracer.output = model(*args, **kwargs)
    return tracer


def flops_by_layer(model, *args, macs=False, **kwargs) -> dict:
    """``{name: FLOPs}`` of one forward pass, per module, in the order of their first call.

    A module called twice counts twice (its FLOPs are per call); names as in :class:`Call`
    (the model itself is ``""``). With ``macs=True``, multiply-adds (FLOPs / 2) instead.
    """
    raise NotImplementedError("not implemented yet: flops_by_layer (kata 15, step 3: trace)")


def count_flops(model, *args, macs=False, **kwargs) -> int:
    """FLOPs of one ``model(*args, **kwargs)``: the sum over every module call (``macs=True``: MACs).

    >>> from tinytorch.layers import Linear
    >>> count_flops(Linear(4, 8), Tensor(np.zeros((10, 4)))), count_flops(Linear(4, 8), Tensor(np.zeros((10, 4))), macs=True)
    (640, 320)
    """
    raise NotImplementedError("not implemented yet: count_flops (kata 15, step 3: trace)")


# ---------------------------------------------------------------------------------------------
# Step 4: memory
# ---------------------------------------------------------------------------------------------


def activation_bytes(model, *args, **kwargs) -> int:
    """Bytes of the activations of one forward pass: the arrays every module call returned.

    Each buffer once (:func:`distinct_nbytes`): ``Flatten`` returns a view of its input, an
    identity layer (Dropout in eval mode) returns its input itself, and the model returns its
    last layer's output — none of them adds memory. Temporaries a layer frees before it
    returns are not activations: :func:`peak_memory` sees those.
    """
    raise NotImplementedError("not implemented yet: activation_bytes (kata 15, step 4: memory)")


def peak_memory(fn, *args, **kwargs) -> int:
    """The most memory ``fn(*args, **kwargs)`` held at once, in bytes, above where it started.

    Uses ``tracemalloc``, which sees every NumPy allocation (NumPy reports its buffers to it):
    start tracing if it was not on (and stop it afterwards, so the caller's state is kept),
    ``tracemalloc.reset_peak()``, note the current traced size, run ``fn``, and return the peak
    minus that starting size. Temporaries count even if freed before ``fn`` returns — a layer
    that builds an 8 MB scratch array shows at least 8 MB here, whatever it returns.
    """
    raise NotImplementedError("not implemented yet: peak_memory (kata 15, step 4: memory)")


# ---------------------------------------------------------------------------------------------
# Step 5: per-layer latency
# ---------------------------------------------------------------------------------------------


@dataclass
class LayerTime:
    """Time of one module in one forward pass (seconds, the median over the timed runs).

    ``total`` includes the modules it called; ``self_time`` does not. ``calls`` is how many times it
    ran per forward pass (the times add up over them).
    """

    name: str
    calls: int
    total: float
    self_time: float


def time_layers(model, *args, warmup: int = 1, repeats: int = 5, clock=time.perf_counter, **kwargs) -> dict:
    """Per-module latency of ``model(*args, **kwargs)``: ``{name: LayerTime}``, in call order.

    1. ``warmup`` untimed calls first (caches, lazy allocations and first-call costs make the
       first runs slow: they would inflate every figure);
    2. then ``repeats`` traced calls with ``clock``; in each, add up per module name the
       ``time`` and ``self_time`` of its calls;
    3. report per module the **median** over the repeats (one slow run — the machine was
       busy — does not move it).

    ``clock`` is injectable: tests pass a fake one and never read the wall clock.
    Raises ``ValueError`` when ``repeats < 1`` or ``warmup < 0``.
    """
    raise NotImplementedError("not implemented yet: time_layers (kata 15, step 5: latency)")


# ---------------------------------------------------------------------------------------------
# Step 6: the report
# ---------------------------------------------------------------------------------------------


@dataclass
class Row:
    """One module in a :class:`Profile` (all per forward pass; times are medians in seconds).

    ``params`` counts the Parameters the module holds itself (a tied weight on its first
    owner only), ``flops`` its own FLOPs, ``self_percent`` its share of the model's time,
    ``out_bytes`` the new memory its outputs hold (views of earlier outputs add nothing).
    The columns ``params``, ``flops``, ``self_time`` and ``out_bytes`` add up to the totals.
    """

    name: str
    type: str
    depth: int
    calls: int
    params: int
    flops: int
    time: float
    self_time: float
    self_percent: float
    out_bytes: int


def _si(value, unit="") -> str:
    """``1234567`` -> ``'1.23M'``."""
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g}{prefix}{unit}"
    return f"{value:.3g}{unit}" if isinstance(value, float) else f"{value}{unit}"


def _bytes(n) -> str:
    for factor, unit in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if n >= factor:
            return f"{n / factor:.1f} {unit}"
    return f"{n} B"


@dataclass
class Profile:
    """What :func:`profile` measured: a row per module (in call order) and the totals.

    Attributes
    ----------
    rows : list of Row
    params, param_bytes : int
        Every parameter once (:func:`count_parameters`, :func:`parameter_bytes`).
    flops : int
        One forward pass (:func:`count_flops`).
    time : float
        Seconds of one forward pass: the sum of the rows' median self times (the model's own
        median total, up to noise).
    activation_bytes : int
        :func:`activation_bytes`.
    peak_bytes : int or None
        :func:`peak_memory` of one forward pass (None when ``memory=False``).
    warmup, repeats : int
    """

    rows: list
    params: int
    param_bytes: int
    flops: int
    time: float
    activation_bytes: int
    peak_bytes: int | None
    warmup: int
    repeats: int

    def bottleneck(self) -> Row:
        """The row with the largest self time: where to look first."""
        return max(self.rows, key=lambda row: row.self_time)

    def table(self, macs: bool = False) -> str:
        """The report (tabulate): one line per module, then the totals.

        A module's line starts with ``"· "`` per level of depth and the last part of its name
        (``"· · q_proj"``; the model itself shows its type): tabulate strips leading spaces.

        Columns: layer, type, calls, params, FLOPs (or MACs), time (ms, inclusive), self %
        (share of the model's time spent in the module itself, one decimal: ``75.0%``),
        GFLOP/s (its own FLOPs over its own time: how well its arithmetic runs), output memory.
        Below the table, notes: the totals written out in full (``f"{flops:,}"``; in MACs, with
        the header ``MACs``, when ``macs``), the activations and the peak memory, the runs, the
        bottleneck, and the FLOP convention.
        """
        raise NotImplementedError("not implemented yet: Profile.table (kata 15, step 6: report)")

    def __str__(self):
        return self.table()


def profile(model, *args, warmup: int = 1, repeats: int = 5, clock=time.perf_counter, memory: bool = True,
            **kwargs) -> Profile:
    """Profile ``model(*args, **kwargs)``: parameters, FLOPs, memory and time per module.

    Puts the previous steps together: :func:`time_layers` (warm-up, then ``repeats`` timed
    runs with ``clock``), one untimed :func:`trace` for the FLOPs and the outputs, and
    :func:`peak_memory` of one more call when ``memory`` (a separate run: tracemalloc slows
    every allocation down, so it must not run while timing).

    Rows follow the order of the first call of each module. Per row: ``params`` of the
    Parameters the module holds itself, each buffer counted on its first owner only (so the
    column adds up to :func:`count_parameters` when every module ran); ``out_bytes`` of the output buffers not
    already counted for an earlier call (so the column adds up to :func:`activation_bytes`);
    ``self_percent = 100 · self_time / time`` of the whole model.

    >>> print(profile(model, x).table())   # doctest: +SKIP
    """
    raise NotImplementedError("not implemented yet: profile (kata 15, step 6: report)")
