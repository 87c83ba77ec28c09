"""Kata 01 — Tensor: an n-dimensional array that remembers how it was made.

A :class:`Tensor` wraps a NumPy array (``tensor.data``) and adds the three things a deep-learning
framework needs on top of NumPy:

* sane defaults for machine learning (``float32`` unless you ask otherwise),
* operators that broadcast like NumPy and give errors that name both shapes,
* a record of the operation that produced it (``tensor.node``), so that kata 05 can run the
  computation backwards and compute gradients.

You write the *forward* math of every op in this file. The recording is scaffolding that is
already here: each op is decorated with ``@op("name")``, which turns the NumPy array your code
returns into a new Tensor and, when gradients are being tracked, attaches a :class:`Node` holding
the op's name, its input tensors and the non-tensor arguments (axis, shape, index, ...) that the
backward rule will need.

Example
-------
>>> a = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
>>> b = (a * 2).sum(axis=0)
>>> b.data
array([ 8., 12.], dtype=float32)
>>> b.node.op, b.node.args
('sum', {'axis': 0, 'keepdims': False})
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers

import numpy as np

__all__ = [
    "Tensor", "Node", "op", "composite", "record_op", "is_grad_enabled", "set_grad_enabled", "set_dispatcher",
    "accepts_dim", "result_dtype",
]

# ---------------------------------------------------------------------------------------------
# Scaffolding: the graph record. You do not need to change anything in this section.
# ---------------------------------------------------------------------------------------------

_grad_enabled = True


def is_grad_enabled() -> bool:
    """Return True when new ops record their :class:`Node` (see ``autograd.no_grad``)."""
    return _grad_enabled


def set_grad_enabled(mode: bool) -> bool:
    """Turn graph recording on or off; return the previous mode."""
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, bool(mode)
    return previous


class Node:
    """How a tensor was made.

    Attributes
    ----------
    op : str
        The op's name, e.g. ``"add"``, ``"matmul"``, ``"sum"``. Kata 05 looks up the backward
        rule by this name.
    inputs : tuple of Tensor
        The tensors the op read, in argument order (``a + b`` gives ``(a, b)``).
    args : dict
        Every non-tensor argument by parameter name, defaults filled in
        (``x.sum(1)`` gives ``{"axis": 1, "keepdims": False}``).
    out : numpy.ndarray
        The op's result array, for rules that are cheapest written from the output
        (``exp``, ``sigmoid``, ``softmax``, ``max``).
    backward : callable or None
        A custom backward ``f(node, grad) -> grads`` (set by ``autograd.Function``); ``None``
        means "look up the rule registered for ``op``".
    """

    __slots__ = ("op", "inputs", "args", "out", "backward")

    def __init__(self, op, inputs, args, out, backward=None):
        self.op = op
        self.inputs = inputs
        self.args = args
        self.out = out
        self.backward = backward

    def __repr__(self):
        shapes = ", ".join(str(t.shape) for t in self.inputs)
        return f"Node({self.op!r}, inputs=[{shapes}], args={self.args})"


def record_op(data, op_name, inputs, args, backward=None) -> "Tensor":
    """Wrap ``data`` in a new Tensor and, if any input tracks gradients, record its Node."""
    out = Tensor.__new__(Tensor)
    out.data = data if isinstance(data, np.ndarray) else np.asarray(data)
    out.grad = None
    track = _grad_enabled and any(t.requires_grad for t in inputs)
    out.requires_grad = track
    out.node = Node(op_name, inputs, args, out.data, backward) if track else None
    return out


def _untracked(data) -> "Tensor":
    """``record_op`` when nothing is recorded (under ``no_grad``): the same Tensor, less work."""
    out = Tensor.__new__(Tensor)
    out.data = data if isinstance(data, np.ndarray) else np.asarray(data)
    out.grad = None
    out.requires_grad = False
    out.node = None
    return out


# The dispatch seam (kata 16). ``None``: every op runs the kernel written in its own kata (the
# "reference" backend), and the only cost is this one global read per op. Kata 16 installs a
# dispatcher here to run faster kernels instead, without changing any model's code.
_dispatcher = None


def set_dispatcher(dispatcher):
    """Install the function every op and composite op calls instead of its own kernel; return the previous one.

    ``dispatcher(name, reference, args, kwargs)`` receives the op's name (``"gelu"``,
    ``"matmul"``, ``"layer_norm"`` ...), its own kernel (``reference``) and the call's arguments
    exactly as given, Tensors included, and returns what the kernel would:

    * for an ``@op``: a NumPy array, which is recorded under the same name and arguments (kata 05's
      backward rule differentiates it), or a Tensor that is already recorded (a fused kernel
      built with ``autograd.Function``, which brings its own backward);
    * for a :func:`composite` op: a Tensor.

    ``None`` (the default) removes it: every op runs its reference kernel. Kata 16's
    ``set_backend`` is the one caller.
    """
    global _dispatcher
    previous, _dispatcher = _dispatcher, dispatcher
    return previous


def composite(name: str):
    """Decorator (scaffolding): a function built from other ops, or from an autograd ``Function``,
    that a backend may replace as a whole (``layer_norm``, attention, ``conv2d``, pooling, and
    methods such as ``Linear.forward`` or ``split_heads``, whose arguments start with the layer).

    Nothing is recorded here: the function's own ops record themselves. With a dispatcher
    installed (kata 16), the call goes to ``dispatcher(name, fn, args, kwargs)`` instead.
    """

    def decorate(fn):
        @functools.wraps(fn)
        def dispatched(*args, **kwargs):
            if _dispatcher is None:
                return fn(*args, **kwargs)
            return _dispatcher(name, fn, args, kwargs)

        return dispatched

    return decorate


def op(name: str, constants=(), floating=False):
    """Decorator (scaffolding): make ``forward`` — which returns a NumPy array — a recorded op.

    Every argument that is a Tensor becomes one of ``node.inputs``; every other argument is stored
    by name in ``node.args`` with its default filled in. Binary operators (``__add__`` ...) receive
    ``other`` already converted to a Tensor by :meth:`Tensor.lift`, and both operands already
    converted to the dtype PyTorch gives the result (:func:`result_dtype`): ``forward`` never sees
    mixed dtypes. The parameters named in ``constants`` are never inputs: they go to ``node.args``
    with any Tensor inside replaced by its array (``t[idx]`` records ``args["index"]``, it does
    not differentiate through ``idx``). ``floating=True`` marks an op whose result is always
    floating point (``/``, ``exp``, ``sigmoid`` ...): integer or bool inputs reach ``forward``
    as float32, as in PyTorch (``Tensor([1, 2]) / 2`` is float32).

    PyTorch's spellings of the reduction arguments work on every op: ``dim=`` and ``keepdim=``
    are renamed to ``axis=`` and ``keepdims=`` before ``forward`` runs (:func:`accepts_dim`), so
    ``forward`` and ``node.args`` only ever see ``axis`` and ``keepdims``.

    With a dispatcher installed (:func:`set_dispatcher`, kata 16) the kernel it picks runs instead
    of ``forward``, on the same arguments, and its array is recorded the same way.
    """

    def decorate(forward):
        signature = inspect.signature(forward)
        names = list(signature.parameters)
        binary = names[1:2] == ["other"] and len(names) == 2

        if binary:

            @functools.wraps(forward)
            def binary_op(self, other):
                other = self.lift(other)
                a, b = self, other
                if a.data.dtype is not b.data.dtype or (floating and a.data.dtype.kind not in "fc"):
                    dtype = result_dtype(a.data, b.data, floating)
                    a, b = _as_dtype(a, dtype), _as_dtype(b, dtype)
                if _dispatcher is None:
                    data = forward(a, b)
                else:
                    data = _dispatcher(name, forward, (a, b), {})
                    if isinstance(data, Tensor):
                        return data
                if not _grad_enabled:  # inference (generate, evaluation): nothing to record
                    return _untracked(data)
                return record_op(data, name, (self, other), {})

            return binary_op

        # Argument binding without inspect on every call (inspect's bind costs ~10 µs, more than
        # many ops). ``plain``: only named positional parameters; ``star``: then one ``*args``.
        kinds = [p.kind for p in signature.parameters.values()]
        named = [k in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD) for k in kinds]
        plain = all(named)
        star = not plain and all(named[:-1]) and kinds[-1] == inspect.Parameter.VAR_POSITIONAL
        fixed = names[:-1] if star else names
        defaults = {k: p.default for k, p in signature.parameters.items() if p.default is not p.empty}

        def arguments(args, kwargs):
            """``(name, value)`` pairs in signature order, defaults filled in (as inspect's bind)."""
            if plain and len(args) <= len(names):
                rest = names[len(args):]
                if len(kwargs) == sum(k in kwargs for k in rest) and all(k in kwargs or k in defaults for k in rest):
                    return [*zip(names, args), *((k, kwargs[k] if k in kwargs else defaults[k]) for k in rest)]
            elif star and not kwargs and len(args) >= len(fixed):
                return [*zip(fixed, args), (names[-1], args[len(fixed):])]
            bound = signature.bind(*args, **kwargs)  # anything else, and the TypeErrors
            bound.apply_defaults()
            return bound.arguments.items()

        aliases = _aliases_for(names)

        @functools.wraps(forward)
        def recorded_op(*args, **kwargs):
            if aliases and kwargs and ("dim" in kwargs or "keepdim" in kwargs):  # PyTorch's names
                _rename_aliases(kwargs, aliases, forward.__name__)
            if floating and args and args[0].data.dtype.kind not in "fc":  # ints, bools: never differentiable
                args = (_as_dtype(args[0], _FLOAT32), *args[1:])
            if _dispatcher is None:
                data = forward(*args, **kwargs)
            else:
                data = _dispatcher(name, forward, args, kwargs)
                if isinstance(data, Tensor):  # a fused kernel that recorded itself
                    return data
            if not _grad_enabled:  # inference: no node, so no arguments to sort
                return _untracked(data)
            inputs, saved = [], {}
            for key, value in arguments(args, kwargs):
                if key in constants:
                    saved[key] = _index_array(value)
                elif isinstance(value, Tensor):
                    inputs.append(value)
                else:
                    saved[key] = value
            return record_op(data, name, tuple(inputs), saved)

        return recorded_op

    return decorate


# PyTorch's spellings of reduction arguments, and the names tinytorch's ops use (NumPy's).
DIM_ALIASES = {"dim": "axis", "keepdim": "keepdims"}


def _aliases_for(parameter_names) -> dict:
    """The entries of :data:`DIM_ALIASES` whose target is one of ``parameter_names``."""
    return {alias: target for alias, target in DIM_ALIASES.items() if target in parameter_names}


def _rename_aliases(kwargs: dict, aliases: dict, where: str) -> None:
    """Rename ``dim``/``keepdim`` in ``kwargs`` (in place) to ``axis``/``keepdims``.

    Both spellings of the same argument raise a TypeError, as in PyTorch.
    """
    for alias, target in aliases.items():
        if alias in kwargs:
            if target in kwargs:
                raise TypeError(f"{where}() got both {alias!r} and {target!r}: they are the same argument, give one")
            kwargs[target] = kwargs.pop(alias)


def accepts_dim(fn):
    """Decorator (scaffolding): let ``fn`` take PyTorch's ``dim=``/``keepdim=`` as well as its own
    ``axis=``/``keepdims=`` (the ``@op`` decorator does this for every op already).

    >>> @accepts_dim
    ... def count(x, axis=None, keepdims=False):
    ...     return np.sum(x, axis=axis, keepdims=keepdims)
    >>> count(np.ones((2, 3)), dim=1, keepdim=True).shape
    (2, 1)
    """
    aliases = _aliases_for(inspect.signature(fn).parameters)

    @functools.wraps(fn)
    def renamed(*args, **kwargs):
        if kwargs:
            _rename_aliases(kwargs, aliases, fn.__name__)
        return fn(*args, **kwargs)

    return renamed


_FLOAT32 = np.dtype(np.float32)  # PyTorch's default dtype: what integers become in a floating op

# dtype categories for promotion: bool < integer < floating < complex.
_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def _promote(a: np.dtype, b: np.dtype) -> np.dtype:
    """PyTorch's promotion of two dtypes: within a category the wider one (NumPy's table);
    across categories the higher category's dtype (int64 with float16 is float16, not NumPy's
    float64)."""
    ca, cb = _CATEGORY.get(a.kind, 3), _CATEGORY.get(b.kind, 3)
    if ca == cb:
        return np.promote_types(a, b)
    return a if ca > cb else b


def result_dtype(a: np.ndarray, b: np.ndarray, floating: bool = False) -> np.dtype:
    """The dtype of a binary op's result by PyTorch's rules (scaffolding; ``lift`` already gave
    a Python number the dtype it should have).

    * Tensors with dimensions win over 0-d tensors of the same category: a float32 matrix plus a
      0-d float64 tensor stays float32; an int32 vector plus a 0-d int64 stays int32.
    * A higher category wins whatever the shapes: an int tensor plus a 0-d float64 tensor is
      float64, plus a Python float (lifted to float32) is float32.
    * ``floating``: an integer or bool result becomes float32 (true division, ``exp`` ...).
    """
    da, db = a.dtype, b.dtype
    if da == db:
        dtype = da
    elif (a.ndim == 0) == (b.ndim == 0):
        dtype = _promote(da, db)
    else:
        dim, zero = (db, da) if a.ndim == 0 else (da, db)
        dtype = dim if _CATEGORY.get(dim.kind, 3) >= _CATEGORY.get(zero.kind, 3) else _promote(dim, zero)
    if floating and dtype.kind not in "fc":
        return _FLOAT32
    return dtype


def _as_dtype(t: "Tensor", dtype) -> "Tensor":
    """``t`` itself when it already has ``dtype``, else an untracked Tensor of its data cast to it
    (only what the op computes with; the node still records ``t``)."""
    if t.data.dtype == dtype:
        return t
    return _untracked(t.data.astype(dtype))


def _check_axis(axis, ndim):
    """Raise a helpful error for an axis outside ``[-ndim, ndim)``."""
    axes = axis if isinstance(axis, tuple) else (axis,)
    for a in axes:
        if a is not None and not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of range for a tensor with {ndim} dimension(s)")


# ---------------------------------------------------------------------------------------------
# The Tensor
# ---------------------------------------------------------------------------------------------


class Tensor:
    """An n-dimensional array with a gradient slot and a record of how it was made.

    Parameters
    ----------
    data : array_like or Tensor
        Nested lists, a scalar, a NumPy array or another Tensor. The data is always **copied**,
        like ``torch.tensor``: changing ``data`` afterwards does not change the Tensor.
    dtype : numpy dtype, optional
        Defaults by what ``data`` holds (the PyTorch rules):

        ============================  ==========
        data                          dtype
        ============================  ==========
        Python floats / float lists   float32
        NumPy float64 array           float64 (kept)
        NumPy float32/float16 array   kept
        Python ints / int arrays      int64 (labels, indices)
        bools                         bool
        ============================  ==========
    requires_grad : bool
        Track gradients for this tensor. Only floating-point tensors may require gradients.

    Attributes
    ----------
    data : numpy.ndarray
    grad : numpy.ndarray or None
        Filled in by ``backward()`` (kata 05); same shape and dtype as ``data``.
    requires_grad : bool
    node : Node or None
        How this tensor was made; ``None`` for tensors you create (leaves) and for results
        computed while no input requires a gradient.

    Views and copies: ``transpose``, ``permute``, ``.T``, basic slicing (``t[1:3]``, ``t[0]``)
    and ``reshape`` (whenever NumPy can, as for any tensor you created) return tensors whose
    ``data`` is a NumPy *view* sharing memory with the source: writing through one changes the
    other. Integer-array and mask indexing (``t[[0, 0, 2]]``, ``t[t > 0]``) copy; so do
    ``Tensor(data)`` and ``copy()``.

    Examples
    --------
    >>> Tensor([1, 2, 3]).dtype
    dtype('int64')
    >>> Tensor([1.0, 2.0]).dtype
    dtype('float32')
    >>> Tensor(np.zeros(3)).dtype
    dtype('float64')
    """

    # Make NumPy defer to our reflected operators: ``np.float64(2) * t`` calls ``t.__rmul__``.
    __array_priority__ = 1000

    def __init__(self, data, dtype=None, requires_grad=False):
        ### BEGIN SOLUTION creation
        if isinstance(data, Tensor):
            data = data.data
        if dtype is not None:
            array = np.array(data, dtype=dtype)
        elif isinstance(data, (np.ndarray, np.generic)):
            array = np.array(data)
        else:
            array = np.array(data)
            if array.dtype.kind == "f":
                array = array.astype(np.float32)
            elif array.dtype.kind in "iu":
                array = array.astype(np.int64)
        self.data = array
        ### END SOLUTION
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(
                f"only floating-point tensors can require gradients (got dtype {self.data.dtype})"
            )
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self.node = None

    # -- properties -----------------------------------------------------------------------------

    @property
    def shape(self) -> tuple:
        """The shape as a tuple of ints, e.g. ``(2, 3)``."""
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        """Number of elements."""
        return self.data.size

    def numel(self) -> int:
        return self.data.size

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def numpy(self) -> np.ndarray:
        """The underlying array (no copy)."""
        return self.data

    def item(self):
        """The single value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.data.item()

    def copy(self) -> "Tensor":
        """A new leaf tensor with a copy of the data (no graph, no grad)."""
        return Tensor(self.data.copy(), requires_grad=self.requires_grad)

    def detach(self) -> "Tensor":
        """A leaf tensor sharing this tensor's data, cut from the graph."""
        out = Tensor.__new__(Tensor)
        out.data, out.grad, out.requires_grad, out.node = self.data, None, False, None
        return out

    def __repr__(self):
        body = np.array2string(self.data, separator=", ", precision=4, prefix="Tensor(")
        extra = f", dtype={self.dtype}" if self.dtype not in (np.float32, np.int64, bool) else ""
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({body}{extra}{grad})"

    __hash__ = object.__hash__  # tensors are graph nodes: hash by identity even though == is elementwise

    def __bool__(self):
        if self.data.size != 1:
            raise ValueError(
                f"the truth value of a tensor with {self.data.size} elements is ambiguous; "
                "use .any() or .all()"
            )
        return bool(self.data)

    def any(self) -> bool:
        return bool(self.data.any())

    def all(self) -> bool:
        return bool(self.data.all())

    def lift(self, other) -> "Tensor":
        """Convert the other operand of a binary op to a Tensor (scaffolding).

        Python numbers never widen a tensor, as in PyTorch: they take this tensor's dtype when it
        is floating point (``float32 + 2.5`` stays float32), a float meeting an integer or bool
        tensor becomes float32 (``Tensor([1, 2]) + 0.5`` is float32), an int stays int64 (and
        loses to an integer tensor's own dtype). Arrays keep their dtype; :func:`result_dtype`
        then picks the result's dtype.
        """
        if isinstance(other, Tensor):
            return other
        out = Tensor.__new__(Tensor)
        if isinstance(other, (numbers.Number, np.bool_)) and not isinstance(other, np.ndarray):
            if self.data.dtype.kind == "f":
                out.data = np.asarray(other, dtype=self.data.dtype)
            elif isinstance(other, (float, np.floating)):
                out.data = np.asarray(other, dtype=np.float32)
            else:
                out.data = np.asarray(other)
        else:
            out.data = np.asarray(other)
        out.grad, out.requires_grad, out.node = None, False, None
        return out

    # -- step 2: elementwise arithmetic with broadcasting ----------------------------------------

    @op("add")
    def __add__(self, other):
        """Elementwise ``self + other`` with NumPy broadcasting.

        Shapes: ``(3, 1) + (4,)`` gives ``(3, 4)``; incompatible shapes raise a ValueError that
        names both shapes.
        """
        ### BEGIN SOLUTION arithmetic
        return _broadcasting("+", np.add, self.data, other.data)
        ### END SOLUTION

    @op("sub")
    def __sub__(self, other):
        """Elementwise ``self - other`` with broadcasting."""
        ### BEGIN SOLUTION arithmetic
        return _broadcasting("-", np.subtract, self.data, other.data)
        ### END SOLUTION

    @op("mul")
    def __mul__(self, other):
        """Elementwise ``self * other`` with broadcasting."""
        ### BEGIN SOLUTION arithmetic
        return _broadcasting("*", np.multiply, self.data, other.data)
        ### END SOLUTION

    @op("div", floating=True)
    def __truediv__(self, other):
        """Elementwise true division ``self / other`` with broadcasting.

        Integer operands give float32, as in PyTorch: ``Tensor([1, 2]) / 2`` is
        ``[0.5, 1.0]`` float32 (the ``@op`` scaffolding converts them before your code runs).
        """
        ### BEGIN SOLUTION arithmetic
        return _broadcasting("/", np.true_divide, self.data, other.data)
        ### END SOLUTION

    @op("neg")
    def __neg__(self):
        """``-self``."""
        ### BEGIN SOLUTION arithmetic
        return np.negative(self.data)
        ### END SOLUTION

    @op("pow")
    def __pow__(self, exponent):
        """``self ** exponent`` for a Python number ``exponent`` (tensor exponents unsupported:
        TypeError).

        The dtype follows the rule for ``+``: a floating tensor keeps its dtype (``float32 ** 2``
        is float32), an integer tensor stays integer for an integer exponent (``Tensor([2, 3]) **
        2`` is int64 ``[4, 9]``) and becomes float32 for a float one (``Tensor([4]) ** 0.5`` is
        float32 ``[2.]``), as in PyTorch.
        """
        ### BEGIN SOLUTION arithmetic
        if isinstance(exponent, Tensor):
            raise TypeError("tensor exponents are not supported: use a Python number")
        base = self.data
        if base.dtype.kind == "f":
            exponent = base.dtype.type(exponent)
        elif isinstance(exponent, (float, np.floating)):
            base = base.astype(np.float32)
        return np.power(base, exponent)
        ### END SOLUTION

    def __rpow__(self, base):
        """``base ** self`` for a Python number ``base``: ``2 ** t`` (elementwise powers of 2).

        The dtype is the one ``base + self`` would have: ``2 ** Tensor([1, 2, 3])`` is int64
        ``[2, 4, 8]``; ``2 ** Tensor([0.5])`` float32; ``2.5 ** Tensor([1, 2])`` float32.

        A floating result must be differentiable (kata 05): build it from ops that are,
        ``base ** x = exp(x · ln base)``, and then give it the exact values ``np.power(base, x)``
        (``exp`` already holds its output, which its backward reuses: write into ``out.data``).
        ``base`` 0 gives gradient 0 (PyTorch's choice), a negative ``base`` NaN gradients (and
        NaN values for non-integer exponents), with no warning. Integer results carry no graph.

        >>> (2 ** Tensor([0.0, 1.0, 3.0])).data
        array([1., 2., 8.], dtype=float32)
        """
        if not isinstance(base, numbers.Number):
            return NotImplemented
        ### BEGIN SOLUTION arithmetic
        scalar = self.lift(base)
        dtype = result_dtype(scalar.data, self.data)
        with np.errstate(divide="ignore", invalid="ignore"):
            values = np.power(scalar.data.astype(dtype), self.data.astype(dtype, copy=False))
        if dtype.kind != "f":
            return Tensor(values)
        log_base = math.log(base) if base > 0 else (0.0 if base == 0 else math.nan)
        out = (self * log_base).exp()
        out.data[...] = values
        return out
        ### END SOLUTION

    def __radd__(self, other):
        """``other + self`` when ``other`` is not a Tensor (``2 + t``)."""
        ### BEGIN SOLUTION arithmetic
        return self.lift(other) + self
        ### END SOLUTION

    def __rsub__(self, other):
        """``other - self`` when ``other`` is not a Tensor (``2 - t`` is ``2 - t``, not ``t - 2``)."""
        ### BEGIN SOLUTION arithmetic
        return self.lift(other) - self
        ### END SOLUTION

    def __rmul__(self, other):
        """``other * self`` when ``other`` is not a Tensor."""
        ### BEGIN SOLUTION arithmetic
        return self.lift(other) * self
        ### END SOLUTION

    def __rtruediv__(self, other):
        """``other / self`` when ``other`` is not a Tensor (``2 / t``)."""
        ### BEGIN SOLUTION arithmetic
        return self.lift(other) / self
        ### END SOLUTION

    @op("exp", floating=True)
    def exp(self):
        """Elementwise e**x (integer tensors give float32, as in PyTorch)."""
        ### BEGIN SOLUTION arithmetic
        return np.exp(self.data)
        ### END SOLUTION

    @op("log", floating=True)
    def log(self):
        """Elementwise natural logarithm (integer tensors give float32)."""
        ### BEGIN SOLUTION arithmetic
        return np.log(self.data)
        ### END SOLUTION

    # -- step 3: matrix multiplication -------------------------------------------------------------

    @op("matmul")
    def __matmul__(self, other):
        """Matrix product ``self @ other`` with the NumPy/PyTorch rules.

        Shapes: ``(n,) @ (n,)`` → ``()``; ``(m, n) @ (n,)`` → ``(m,)``; ``(n,) @ (n, p)`` → ``(p,)``;
        ``(m, n) @ (n, p)`` → ``(m, p)``; batched ``(b, m, n) @ (n, p)`` → ``(b, m, p)`` (the batch
        dimensions broadcast). A 0-d operand or mismatched inner sizes raise a ValueError naming
        both shapes, e.g. ``matmul: shapes (2, 3) and (4, 5) do not align (3 != 4)``.
        """
        ### BEGIN SOLUTION matmul
        a, b = self.data, other.data
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape}: both operands need at least 1 dimension")
        k_a = a.shape[-1]
        k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if k_a != k_b:
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not align ({k_a} != {k_b})")
        try:
            return np.matmul(a, b)
        except ValueError:
            raise ValueError(f"matmul: batch dimensions of {a.shape} and {b.shape} do not broadcast") from None
        ### END SOLUTION

    def __rmatmul__(self, other):
        return self.lift(other) @ self

    # -- step 4: shape operations -------------------------------------------------------------------

    @op("reshape")
    def reshape(self, *shape):
        """A view with a new shape and the same elements in the same (row-major) order.

        ``shape`` may be given as ints or one tuple; one entry may be ``-1`` (inferred).
        Errors: more than one ``-1``, or a size that does not match, raise a ValueError naming
        both shapes, e.g. ``cannot reshape (2, 3) (6 elements) into (4, -1)``.

        >>> Tensor(np.arange(6)).reshape(2, -1).shape
        (2, 3)
        """
        ### BEGIN SOLUTION shape
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        if sum(1 for s in shape if s == -1) > 1:
            raise ValueError(f"cannot reshape {self.shape} into {shape}: only one dimension can be -1")
        known = math.prod(s for s in shape if s != -1)
        if (-1 in shape and (known == 0 or self.data.size % known)) or (
            -1 not in shape and known != self.data.size
        ):
            raise ValueError(
                f"cannot reshape {self.shape} ({self.data.size} elements) into {shape}"
            )
        return self.data.reshape(shape)
        ### END SOLUTION

    def view(self, *shape) -> "Tensor":
        """Alias of :meth:`reshape` (PyTorch spelling)."""
        return self.reshape(*shape)

    @op("transpose")
    def transpose(self, dim0=-2, dim1=-1):
        """A view with dimensions ``dim0`` and ``dim1`` swapped (default: the last two).

        >>> Tensor(np.zeros((2, 3, 4))).transpose(0, 2).shape
        (4, 3, 2)
        """
        ### BEGIN SOLUTION shape
        _check_axis((dim0, dim1), self.ndim)
        return np.swapaxes(self.data, dim0, dim1)
        ### END SOLUTION

    @op("permute")
    def permute(self, *dims):
        """A view with the dimensions reordered: output dim ``i`` is input dim ``dims[i]``.

        ``dims`` may be given as ints or one tuple; negative dims count from the end (``-1`` is
        the last). Each dim must appear exactly once, or a ValueError is raised.

        >>> Tensor(np.zeros((2, 3, 4))).permute(2, 0, 1).shape
        (4, 2, 3)
        """
        ### BEGIN SOLUTION shape
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        if sorted(d % self.ndim for d in dims) != list(range(self.ndim)):
            raise ValueError(f"permute: {dims} is not a permutation of the {self.ndim} dimensions of {self.shape}")
        return np.transpose(self.data, dims)
        ### END SOLUTION

    @property
    def T(self) -> "Tensor":
        """All dimensions reversed (for a matrix: the transpose)."""
        return self.permute(*reversed(range(self.ndim)))

    # -- step 5: reductions ---------------------------------------------------------------------------

    @op("sum")
    def sum(self, axis=None, keepdims=False):
        """Sum over ``axis`` (None: all; an int, negative counts from the end; or a tuple).

        ``keepdims=True`` keeps reduced dimensions with size 1 so the result broadcasts against
        the input. An axis out of range raises a ValueError.

        PyTorch's names work too, on every reduction: ``t.sum(dim=0, keepdim=True)`` is
        ``t.sum(axis=0, keepdims=True)`` (the ``@op`` scaffolding renames them, so your code and
        ``node.args`` only see ``axis`` and ``keepdims``); both spellings at once are a TypeError.

        >>> Tensor([[1, 2], [3, 4]]).sum(axis=-1).data
        array([3, 7])
        >>> Tensor([[1, 2], [3, 4]]).sum(dim=0, keepdim=True).data
        array([[4, 6]])
        """
        ### BEGIN SOLUTION reductions
        _check_axis(axis, self.ndim)
        return np.sum(self.data, axis=axis, keepdims=keepdims)
        ### END SOLUTION

    @op("mean")
    def mean(self, axis=None, keepdims=False):
        """Arithmetic mean over ``axis`` (same axis rules as :meth:`sum`; ``dim=``/``keepdim=`` too)."""
        ### BEGIN SOLUTION reductions
        _check_axis(axis, self.ndim)
        return np.mean(self.data, axis=axis, keepdims=keepdims)
        ### END SOLUTION

    @op("max")
    def max(self, axis=None, keepdims=False):
        """Largest value over ``axis`` (same axis rules as :meth:`sum`; ``dim=``/``keepdim=`` too).

        Reducing an empty axis raises a ValueError. (Kata 05's gradient shares equally between
        tied maxima.) Unlike PyTorch's ``max(dim=...)``, which returns ``(values, indices)``, this
        returns the values only, like ``torch.amax``; :meth:`argmax` gives the indices.
        """
        ### BEGIN SOLUTION reductions
        _check_axis(axis, self.ndim)
        axes = range(self.ndim) if axis is None else axis if isinstance(axis, tuple) else (axis,)
        if any(self.shape[a] == 0 for a in axes):
            raise ValueError(f"max over an empty axis of a tensor of shape {self.shape}")
        return np.max(self.data, axis=axis, keepdims=keepdims)
        ### END SOLUTION

    @accepts_dim
    def argmax(self, axis=None, keepdims=False) -> "Tensor":
        """Index of the largest value (first one on ties), int64; not differentiable.

        ``axis=None`` indexes the flattened tensor. ``dim=``/``keepdim=`` work too.
        """
        _check_axis(axis, self.ndim)
        return Tensor(np.argmax(self.data, axis=axis, keepdims=keepdims))

    # -- step 6: indexing and comparisons -----------------------------------------------------------

    @op("getitem", constants=("index",))
    def __getitem__(self, index):
        """NumPy indexing: ints, slices, ``None``, ``...``, integer arrays/lists/Tensors, masks.

        Basic indexing returns a view; integer-array and boolean indexing copy. Tensors inside
        the index stand for their arrays (``_index_array`` swaps them); the node records the index
        as ``node.args["index"]``, never as an input.

        >>> Tensor([10, 20, 30])[Tensor([2, 2, 0])].data
        array([30, 30, 10])
        """
        ### BEGIN SOLUTION indexing
        return self.data[_index_array(index)]
        ### END SOLUTION

    def _compare(self, other, ufunc):
        """Elementwise comparison giving a bool Tensor (never tracked)."""
        ### BEGIN SOLUTION indexing
        return Tensor(ufunc(self.data, self.lift(other).data))
        ### END SOLUTION

    def __eq__(self, other):
        return self._compare(other, np.equal)

    def __ne__(self, other):
        return self._compare(other, np.not_equal)

    def __lt__(self, other):
        return self._compare(other, np.less)

    def __le__(self, other):
        return self._compare(other, np.less_equal)

    def __gt__(self, other):
        return self._compare(other, np.greater)

    def __ge__(self, other):
        return self._compare(other, np.greater_equal)

    # -- autograd entry points (the engine is kata 05) ------------------------------------------------

    def backward(self, grad=None) -> None:
        """Compute gradients of this tensor with respect to every leaf that requires them.

        See ``tinytorch.autograd.backward`` (kata 05) for the rules.
        """
        from tinytorch.autograd import backward

        backward(self, grad)

    def zero_grad(self) -> None:
        """Forget this tensor's accumulated gradient (``grad = None``)."""
        self.grad = None


def _broadcasting(symbol, ufunc, a, b):
    """Apply a NumPy ufunc; turn a broadcasting failure into an error naming both shapes."""
    try:
        return ufunc(a, b)
    except ValueError:
        raise ValueError(
            f"cannot broadcast shapes {a.shape} and {b.shape} for '{symbol}': sizes must match "
            "or be 1, aligned from the right"
        ) from None


def _index_array(index):
    """Replace Tensors inside an index by their arrays."""
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return index
