"""Kata 03 — Layers: bundle weights with the computation that uses them.

After kata 02 you can write a network by hand: ``relu(x @ W1.T + b1) @ W2.T + b2``. That works
for one model, but every model then needs its own list of weights to create, initialise, train,
switch between training and evaluation, save and load. A :class:`Module` does that bookkeeping
once, for every model:

* a :class:`Parameter` is a Tensor that is a weight (it always requires a gradient);
* a :class:`Module` finds every Parameter in its attributes — inside sub-modules, lists and dicts
  too — names them (``"fc1.weight"``), switches train/eval mode for the whole tree, and saves and
  loads its weights (``state_dict``);
* :class:`Linear`, :class:`Sequential` and :class:`Dropout` are the first modules built on it.

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
from tinytorch.tensor import Tensor

__all__ = ["Parameter", "Module", "Linear", "Sequential", "Dropout"]

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

    What counts as "inside" a module: an attribute holding a Parameter or a Module, or a list,
    tuple or dict of them (nested containers too). Plain Tensors, arrays and numbers are not
    parameters. The order is the order in which the attributes were first assigned.
    """

    training = True  # class default, so a subclass that forgets super().__init__() still works

    def __init__(self):
        self.training = True

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

        Walks the attributes in assignment order (``vars(self)``) and looks inside lists, tuples
        and dicts, naming items by index or key: ``self.layers = [a, b]`` gives ``("layers.0", a)``
        and ``("layers.1", b)``. It does not look inside the sub-modules it finds, and it may
        yield the same object twice (for example a weight shared by two attributes).
        """

        def walk(name, value):
            if isinstance(value, (Parameter, Module)):
                yield name, value
            elif isinstance(value, (list, tuple)):
                for index, item in enumerate(value):
                    yield from walk(f"{name}.{index}", item)
            elif isinstance(value, dict):
                for key, item in value.items():
                    yield from walk(f"{name}.{key}", item)

        for name, value in vars(self).items():
            yield from walk(name, value)

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
