"""Kata 03 — Layers: bundle weights with the computation that uses them.

After kata 02 you can write a network by hand: ``relu(x @ W1.T + b1) @ W2.T + b2``. That works
for one model, but every model then needs its own list of weights to create, initialise, train,
switch between training and evaluation, save and load. A :class:`Module` does that bookkeeping
once, for every model:

* a :class:`Parameter` is a Tensor that is a weight (it always requires a gradient);
* a :class:`Module` finds every Parameter in its attributes and in its sub-modules, names them
  (``"fc1.weight"``), switches train/eval mode for the whole tree, and saves and loads its
  weights (``state_dict``);
* :class:`Linear`, :class:`Sequential` and :class:`Dropout` are the first modules built on it;
  :class:`ModuleList` and :class:`ModuleDict` hold a variable number of sub-modules (a plain
  list or dict of modules is an error: PyTorch would silently not see them).

Everything here is built from Tensor ops, so kata 05's autograd differentiates it unchanged.

Example
-------
>>> from tinytorch.activations import ReLU
>>> rng.manual_seed(0)
>>> model = Sequential(Linear(4, 8), ReLU(), Linear(8, 2))
>>> [name for name, p in model.named_parameters()]
['0.weight', '0.bias', '2.weight', '2.bias']
>>> model(Tensor(np.ones((5, 4)))).shape
(5, 2)
"""

from __future__ import annotations

import numpy as np

from tinytorch import rng
from tinytorch.tensor import Tensor, composite

__all__ = ["Parameter", "Module", "Linear", "Sequential", "ModuleList", "ModuleDict", "Dropout"]

# Scaffolding (kata 15): observers of Module calls. A profiler appends one for the length of a
# run (``tinytorch.profiling``); while the list is not empty, every ``module(...)`` goes through
# the last observer, ``observer(module, args, kwargs)``, which runs ``module.forward`` itself.
call_observers: list = []


class Parameter(Tensor):
    """A Tensor that is a weight of a model: it always requires a gradient.

    Parameters
    ----------
    data : array_like or Tensor
        The initial value (copied, as for Tensor). The dtype follows the Tensor rules — Python
        floats give float32, floating NumPy arrays keep their dtype — except that integer or
        bool data becomes **float32**: a weight must be able to change by a small step.
    dtype : numpy dtype, optional
        Forces the dtype (must be floating point).

    Examples
    --------
    >>> p = Parameter([1, 2, 3])
    >>> p.dtype, p.requires_grad
    (dtype('float32'), True)
    >>> isinstance(p, Tensor)
    True
    """

    def __init__(self, data, dtype=None):
        raise NotImplementedError("not implemented yet: Parameter.__init__ (kata 03, step 1: module)")

    def __repr__(self):
        return "Parameter" + super().__repr__()[len("Tensor"):]


class Module:
    """Base class of every layer and model.

    Subclass it, create Parameters and sub-modules as attributes in ``__init__``, and write
    ``forward``. Call the module itself (``model(x)``), not ``forward``.

    >>> from tinytorch.activations import relu
    >>> class TwoLayer(Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fc1 = Linear(4, 8)
    ...         self.fc2 = Linear(8, 2)
    ...     def forward(self, x):
    ...         return self.fc2(relu(self.fc1(x)))
    >>> [name for name, _ in TwoLayer().named_parameters()]
    ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']

    Attributes
    ----------
    training : bool
        True (the default) in training mode, False after :meth:`eval`. Layers such as Dropout
        behave differently in the two modes.

    What counts as "inside" a module: an attribute holding a Parameter or a Module. Plain
    Tensors, arrays and numbers are not parameters. The order is the order in which the
    attributes were first assigned.

    Sub-modules in a plain list, tuple or dict (``self.blocks = [Block(), Block()]``) are an
    error (TypeError, when assigned or when the parameters are looked up): PyTorch does not
    register them, so its ``parameters()``, optimizer, ``state_dict()`` and ``train()``/``eval()``
    would silently skip them. Hold them in a :class:`ModuleList` or :class:`ModuleDict`; give
    each Parameter its own attribute.
    """

    training = True  # class default, so a subclass that forgets super().__init__() still works

    def __init__(self):
        self.training = True

    def __setattr__(self, name, value):
        """Scaffolding: refuse a plain list, tuple or dict holding Modules or Parameters."""
        if isinstance(value, (list, tuple, dict)) and value:
            _refuse_plain_container(self, name, value)
        object.__setattr__(self, name, value)

    def forward(self, *args, **kwargs):
        """The computation. Every subclass defines it."""
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        """``module(x)`` runs ``module.forward(x)`` (every argument passed through)."""
        if call_observers:  # scaffolding: a profiler is watching (kata 15)
            return call_observers[-1](self, args, kwargs)
        raise NotImplementedError("not implemented yet: Module.__call__ (kata 03, step 1: module)")

    def _members(self):
        """Scaffolding: ``(name, value)`` for every Parameter and Module held directly by this module.

        Walks the attributes in assignment order (``vars(self)``). It does not look inside the
        sub-modules it finds (a :class:`ModuleList` holds its items as the attributes ``"0"``,
        ``"1"``, ...: ``("blocks", the list)``, then inside it ``("0", a)``), and it may yield
        the same object twice (for example a weight shared by two attributes). A plain list,
        tuple or dict that holds Modules or Parameters (filled after it was assigned:
        ``self.blocks = []; self.blocks.append(block)``) raises the TypeError that assigning it
        full would have raised.
        """
        for name, value in vars(self).items():
            if isinstance(value, (Parameter, Module)):
                yield name, value
            elif isinstance(value, (list, tuple, dict)) and value:
                _refuse_plain_container(self, name, value)

    def named_parameters(self) -> list:
        """Every Parameter of this module and of all its sub-modules, with dotted names.

        Returns a list of ``(name, parameter)`` in attribute order, depth first: a parameter of
        a sub-module is named ``"<attribute>.<its name there>"`` (``"fc1.weight"``,
        ``"blocks.0.fc.bias"``). A parameter reachable twice (a shared weight) is listed once,
        under the first name found.

        Hint: ``self._members()`` gives the direct Parameters and Modules; recurse into Modules.
        """
        raise NotImplementedError("not implemented yet: Module.named_parameters (kata 03, step 1: module)")

    def parameters(self) -> list:
        """Every Parameter, each once, in the order of :meth:`named_parameters` (a list)."""
        return [p for _, p in self.named_parameters()]

    def children(self) -> list:
        """The direct sub-modules (not their sub-modules), each once, in attribute order."""
        raise NotImplementedError("not implemented yet: Module.children (kata 03, step 1: module)")

    def train(self, mode: bool = True) -> "Module":
        """Set ``training = mode`` on this module and every module inside it; return ``self``."""
        raise NotImplementedError("not implemented yet: Module.train (kata 03, step 1: module)")

    def eval(self) -> "Module":
        """Evaluation mode for the whole tree: ``train(False)``. Returns ``self``."""
        return self.train(False)

    def zero_grad(self) -> None:
        """Set the ``grad`` of every parameter to ``None`` (forget accumulated gradients)."""
        raise NotImplementedError("not implemented yet: Module.zero_grad (kata 03, step 1: module)")

    def state_dict(self) -> dict:
        """A snapshot of the weights: ``{name: NumPy array}``, names as in :meth:`named_parameters`.

        The arrays are **copies**: training the model afterwards does not change the snapshot.

        >>> Linear(2, 3).state_dict()["weight"].shape
        (3, 2)
        """
        raise NotImplementedError("not implemented yet: Module.state_dict (kata 03, step 5: state_dict)")

    def load_state_dict(self, state: dict) -> None:
        """Copy the values of a :meth:`state_dict` into this module's parameters, in place.

        Each parameter keeps its identity, array and dtype (``p.data[...] = value``), so an
        optimizer holding the parameters still sees them. Values may be arrays or Tensors.

        Raises
        ------
        RuntimeError
            Before changing anything, when keys are missing or unexpected, or a shape differs;
            the message names every such key (and both shapes).
        """
        raise NotImplementedError("not implemented yet: Module.load_state_dict (kata 03, step 5: state_dict)")

    def extra_repr(self) -> str:
        """What goes between the parentheses of this module's repr (override it)."""
        return ""

    def __repr__(self):
        lines = [f"  ({name}): " + repr(value).replace("\n", "\n  ")
                 for name, value in self._members() if isinstance(value, Module)]
        if not lines:
            return f"{type(self).__name__}({self.extra_repr()})"
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"


def _holds_weights(value, depth=0) -> bool:
    """True when a (nested) list, tuple or dict holds a Module or a Parameter."""
    if isinstance(value, (Module, Parameter)):
        return True
    if depth < 8 and isinstance(value, (list, tuple, dict)):
        items = value.values() if isinstance(value, dict) else value
        return any(_holds_weights(item, depth + 1) for item in items)
    return False


def _refuse_plain_container(module, name, value) -> None:
    """Scaffolding: the TypeError for Modules or Parameters inside a plain list, tuple or dict."""
    items = value.values() if isinstance(value, dict) else value
    if not any(_holds_weights(item) for item in items):
        return
    kind = type(value).__name__
    fix = "ModuleDict({...})" if isinstance(value, dict) else "ModuleList([...])"
    raise TypeError(
        f"{type(module).__name__}.{name} is a plain {kind} holding modules or parameters. PyTorch does not "
        f"register what a plain {kind} holds: its parameters() (so the optimizer), state_dict() and "
        f"train()/eval() would silently skip them. Use {fix} from tinytorch.layers (torch.nn.{fix.split('(')[0]} "
        "in PyTorch); give each Parameter its own attribute."
    )


class Linear(Module):
    """A fully connected layer: ``y = x @ weight.T + bias``.

    Parameters
    ----------
    in_features, out_features : int
    bias : bool
        Without a bias, ``self.bias`` is ``None``.

    Attributes
    ----------
    weight : Parameter, shape ``(out_features, in_features)``, float32
    bias : Parameter, shape ``(out_features,)``, float32, or None

    Both are drawn uniformly from ``[-k, k]`` with ``k = 1 / sqrt(in_features)`` (PyTorch's
    default), weight first, using ``tinytorch.rng.generator()`` so that
    ``tinytorch.rng.manual_seed(s)`` makes the initialisation repeatable.

    Shapes: ``(N, in_features) -> (N, out_features)``, and any leading dimensions:
    ``(..., in_features) -> (..., out_features)``.

    >>> Linear(3, 5)(Tensor(np.zeros((2, 3)))).shape
    (2, 5)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        raise NotImplementedError("not implemented yet: Linear.__init__ (kata 03, step 2: linear)")

    @composite("linear")  # scaffolding: a backend (kata 16) may run the whole layer as one op
    def forward(self, x: Tensor) -> Tensor:
        """``x @ weight.T + bias``, built from Tensor ops (so kata 05 can differentiate it)."""
        raise NotImplementedError("not implemented yet: Linear.forward (kata 03, step 2: linear)")

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Sequential(Module):
    """Layers applied one after another: ``Sequential(a, b, c)(x)`` is ``c(b(a(x)))``.

    Items may be Modules or any other callable (``ReLU()``, a function). Each item is stored as
    an attribute named by its position — ``"0"``, ``"1"``, ... (``setattr(self, "0", item)``) —
    so parameter names follow PyTorch: ``"0.weight"``, ``"2.bias"``. ``len(seq)``, ``seq[i]``
    (negative too), ``seq[1:]`` (a new Sequential) and ``for layer in seq`` work.

    >>> from tinytorch.activations import ReLU
    >>> seq = Sequential(Linear(2, 3), ReLU())
    >>> len(seq), type(seq[0]).__name__
    (2, 'Linear')
    """

    def __init__(self, *modules):
        super().__init__()
        raise NotImplementedError("not implemented yet: Sequential.__init__ (kata 03, step 3: sequential)")

    def __len__(self) -> int:
        return sum(1 for name in vars(self) if name.isdigit())

    def __getitem__(self, index):
        positions = range(len(self))
        if isinstance(index, slice):
            return Sequential(*(getattr(self, str(i)) for i in positions[index]))
        return getattr(self, str(positions[index]))  # range indexing gives IndexError and negatives

    def __iter__(self):
        return (getattr(self, str(i)) for i in range(len(self)))

    def forward(self, x):
        """Feed ``x`` through every item in order and return the last output."""
        raise NotImplementedError("not implemented yet: Sequential.forward (kata 03, step 3: sequential)")

    def __repr__(self):
        lines = [f"  ({i}): " + repr(layer).replace("\n", "\n  ") for i, layer in enumerate(self)]
        return "Sequential(\n" + "\n".join(lines) + "\n)" if lines else "Sequential()"


class ModuleList(Module):
    """A list of sub-modules that the parent module sees: PyTorch's ``nn.ModuleList``.

    A plain Python list of modules assigned to a module is an error (see :class:`Module`); a
    ModuleList registers every item, so ``parameters()``, the optimizer, ``state_dict()`` and
    ``train()``/``eval()`` reach them, named like PyTorch's: ``"blocks.0.attn.q_proj.weight"``.

    Like :class:`Sequential`, it stores item ``i`` as the attribute ``str(i)``
    (``setattr(self, "0", block)``), which is what gives those names. Unlike Sequential it has no
    ``forward``: you decide how to call the items (usually ``for block in self.blocks: x = block(x)``).

    Items are Modules, or any other callable such as ``ReLU()`` (tinytorch's activations are not
    Modules; PyTorch's ModuleList takes Modules only); anything else is a TypeError.
    ``len``, ``lst[i]`` (negative too; IndexError out of range), ``lst[1:]`` (a new ModuleList
    of the same items), ``lst[i] = m``, ``del lst[i]``, iteration, :meth:`append`,
    :meth:`extend`, :meth:`insert` and ``+=`` work as for a list.

    >>> blocks = ModuleList([Linear(2, 2) for _ in range(3)])
    >>> len(blocks), [name for name, _ in blocks.named_parameters()][:3]
    (3, ['0.weight', '0.bias', '1.weight'])
    """

    def __init__(self, modules=()):
        super().__init__()
        self.extend(modules)

    def append(self, module) -> "ModuleList":
        """Add ``module`` at the end as the attribute ``str(len(self))``; return ``self``.

        TypeError, naming the item's type, when ``module`` is not callable (a Tensor, a number).
        """
        raise NotImplementedError("not implemented yet: ModuleList.append (kata 03, step 3: sequential)")

    def extend(self, modules) -> "ModuleList":
        """:meth:`append` every item of the iterable ``modules``; return ``self``."""
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module) -> None:
        """Insert ``module`` before position ``index`` (the later items are renumbered)."""
        items = list(self)
        items.insert(index, module)
        self._renumber(items)

    def _renumber(self, items) -> None:
        """Scaffolding: hold exactly ``items``, as the attributes "0", "1", ... in order."""
        for i in range(len(self)):
            delattr(self, str(i))
        self.extend(items)

    def __len__(self) -> int:
        return sum(1 for name in vars(self) if name.isdigit())

    def __getitem__(self, index):
        positions = range(len(self))
        if isinstance(index, slice):
            return ModuleList(getattr(self, str(i)) for i in positions[index])
        return getattr(self, str(positions[index]))

    def __setitem__(self, index: int, module) -> None:
        position = range(len(self))[index]
        if not callable(module):
            raise TypeError(f"ModuleList: {type(module).__name__} is not a Module")
        setattr(self, str(position), module)

    def __delitem__(self, index) -> None:
        items = list(self)
        del items[index]
        self._renumber(items)

    def __iter__(self):
        return (getattr(self, str(i)) for i in range(len(self)))

    def __iadd__(self, modules) -> "ModuleList":
        return self.extend(modules)

    def forward(self, *args, **kwargs):
        raise NotImplementedError("a ModuleList has no forward: call its items (for block in blocks: x = block(x))")

    def __repr__(self):
        lines = [f"  ({i}): " + repr(item).replace("\n", "\n  ") for i, item in enumerate(self)]
        return "ModuleList(\n" + "\n".join(lines) + "\n)" if lines else "ModuleList()"


class ModuleDict(Module):
    """A dict of sub-modules that the parent module sees: PyTorch's ``nn.ModuleDict``.

    ``ModuleDict({"encoder": Linear(4, 8), "head": Linear(8, 2)})`` registers every value under
    its key, so the parameters are named ``"<attribute>.<key>.<name>"`` (``"heads.a.weight"``).
    Each item is stored as the attribute named by its key (``setattr(self, key, module)``), in
    insertion order; replacing a key keeps its place.

    Keys are non-empty strings without ``"."`` (it separates names: ``"a.b"`` would be ambiguous)
    and must not hide an attribute or method of the ModuleDict itself (``"training"``,
    ``"keys"``, ``"update"`` ...): any of those is a KeyError, a non-string key a TypeError, as
    in PyTorch. Values are Modules or other callables (TypeError otherwise).

    ``d[key]`` (KeyError when missing), ``d[key] = m``, ``del d[key]``, ``key in d``, ``len``,
    iteration over the keys, :meth:`keys`, :meth:`values`, :meth:`items` and :meth:`update`
    (a dict or ``(key, module)`` pairs) work as for a dict.

    >>> heads = ModuleDict({"a": Linear(3, 1), "b": Linear(3, 2)})
    >>> list(heads), [name for name, _ in heads.named_parameters()][:2]
    (['a', 'b'], ['a.weight', 'a.bias'])
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __setitem__(self, key: str, module) -> None:
        """Add or replace the item ``key`` as the attribute ``key``, after checking both.

        TypeError: ``key`` is not a str, or ``module`` is not callable. KeyError: ``key`` is
        empty, contains ``"."``, or names an attribute or method that is not an item already
        (``hasattr(self, key)``).
        """
        raise NotImplementedError("not implemented yet: ModuleDict.__setitem__ (kata 03, step 3: sequential)")

    def keys(self) -> list:
        """The keys, in insertion order (every attribute but ``training``)."""
        return [name for name in vars(self) if name != "training"]

    def values(self) -> list:
        return [getattr(self, key) for key in self.keys()]

    def items(self) -> list:
        return [(key, getattr(self, key)) for key in self.keys()]

    def update(self, modules) -> None:
        """Set every ``(key, module)`` of a dict (or of an iterable of pairs), in order."""
        pairs = modules.items() if isinstance(modules, (dict, ModuleDict)) else modules
        for key, module in pairs:
            self[key] = module

    def __getitem__(self, key: str):
        if key not in self:
            raise KeyError(key)
        return getattr(self, key)

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        delattr(self, key)

    def __contains__(self, key) -> bool:
        return isinstance(key, str) and key != "training" and key in vars(self)

    def __len__(self) -> int:
        return len(self.keys())

    def __iter__(self):
        return iter(self.keys())

    def forward(self, *args, **kwargs):
        raise NotImplementedError("a ModuleDict has no forward: call its items (heads['a'](x))")

    def __repr__(self):
        lines = [f"  ({key}): " + repr(item).replace("\n", "\n  ") for key, item in self.items()]
        return "ModuleDict(\n" + "\n".join(lines) + "\n)" if lines else "ModuleDict()"


class Dropout(Module):
    """Randomly zero elements during training (inverted dropout).

    In training mode each element is kept with probability ``1 - p`` and scaled by
    ``1 / (1 - p)``, so the expected value of every element is unchanged; a fresh mask is drawn
    from ``tinytorch.rng.generator()`` on every call. In eval mode, and when ``p == 0``, the
    input is returned unchanged; ``p == 1`` gives zeros. Build the output with Tensor ops
    (``x * mask``) so that gradients flow through the kept elements.

    Parameters
    ----------
    p : float
        Probability of zeroing an element, ``0 <= p <= 1`` (else ValueError).

    >>> drop = Dropout(0.5)
    >>> sorted(set(drop(Tensor(np.ones(1000))).data.tolist()))
    [0.0, 2.0]
    >>> drop.eval()(Tensor([1.0, 2.0])).data
    array([1., 2.], dtype=float32)
    """

    def __init__(self, p: float = 0.5):
        super().__init__()
        raise NotImplementedError("not implemented yet: Dropout.__init__ (kata 03, step 4: dropout)")

    def forward(self, x: Tensor) -> Tensor:
        raise NotImplementedError("not implemented yet: Dropout.forward (kata 03, step 4: dropout)")

    def extra_repr(self):
        return f"p={self.p}"
