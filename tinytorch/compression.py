"""Kata 18 — Compression: drop weights, not just bits.

Kata 17 stored every weight in one byte instead of four: 4× smaller, and every weight is still
there. Most of them barely matter. This file removes them, four ways:

* **magnitude pruning** — zero the weights of smallest ``|w|``, per layer or with one threshold
  across the whole model (:func:`magnitude_mask`, :func:`global_magnitude_masks`,
  :func:`magnitude_prune`). A :class:`Pruned` layer keeps the original weight (PyTorch's
  ``weight_orig``) and a 0/1 ``mask`` and multiplies them on every forward, so a pruned weight
  gets a zero gradient and no optimizer step can bring it back; :meth:`Pruned.remove` bakes the
  zeros in. :func:`sparsity` counts zeros in the weights themselves.
* **structured pruning** — remove whole hidden units (rows of one Linear, columns of the next):
  the arrays really shrink, so dense matmuls get faster (:func:`prune_neurons`,
  :func:`prune_hidden_units`).
* **low rank** — replace ``W`` (out × in) by two thin Linears of rank ``r`` from its truncated
  SVD: ``r·(in + out)`` numbers instead of ``in·out`` (:func:`low_rank`).
* **distillation** — train a small student to match a big teacher's softened outputs
  (:func:`distillation_loss`).

And it counts honestly what sparsity saves: a zero in a dense array still takes its 4 bytes;
compressed sparse rows (CSR) pay 4 bytes of column index per non-zero, so at 50% sparsity CSR
saves nothing (:func:`to_csr`, :func:`storage`).

Example
-------
>>> from tinytorch.activations import ReLU
>>> rng.manual_seed(0)
>>> model = Sequential(Linear(8, 16), ReLU(), Linear(16, 4))
>>> layers = magnitude_prune(model, 0.75)            # one threshold for both layers
>>> round(sparsity(model), 4)
0.75
>>> type(model[0]).__name__
'Pruned'
>>> small = prune_hidden_units(remove_pruning(model), 0.5)
>>> small[0].weight.shape, small[2].weight.shape
((8, 8), (4, 8))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinytorch import rng  # noqa: F401  (used in the examples)
from tinytorch.activations import GELU, ReLU, Sigmoid, Tanh, gelu, log_softmax, relu, sigmoid, tanh
from tinytorch.layers import Dropout, Linear, Module, Parameter, Sequential
from tinytorch.losses import cross_entropy
from tinytorch.tensor import Tensor

__all__ = [
    "sparsity", "magnitude_mask", "global_magnitude_masks",
    "Pruned", "magnitude_prune", "remove_pruning", "prunable_layers",
    "prune_neurons", "prune_hidden_units", "linear_from_arrays",
    "low_rank",
    "distillation_loss",
    "CSR", "Storage", "to_csr", "storage", "break_even_sparsity",
]


# ---------------------------------------------------------------------------------------------
# Scaffolding shared by the steps (not written by the student)
# ---------------------------------------------------------------------------------------------


def _prune_count(amount, n: int) -> int:
    """How many of ``n`` entries a fraction ``amount`` prunes: ``round(amount * n)`` (Python's
    round, as ``torch.nn.utils.prune``). ``amount`` outside ``[0, 1]`` raises a ValueError."""
    amount = float(amount)
    if not 0.0 <= amount <= 1.0:
        raise ValueError(f"amount must be a fraction in [0, 1], got {amount}")
    return int(round(amount * n))


def linear_from_arrays(weight, bias=None) -> Linear:
    """A :class:`~tinytorch.layers.Linear` holding copies of ``weight`` (out, in) and ``bias`` (out,).

    Draws no random numbers (``Linear(in, out)`` would, and then be overwritten), and keeps the
    arrays' floating dtype.

    >>> layer = linear_from_arrays(np.eye(2, 3, dtype=np.float32), np.zeros(2, dtype=np.float32))
    >>> layer.in_features, layer.out_features, layer.weight.dtype
    (3, 2, dtype('float32'))
    """
    weight = np.asarray(weight.data if isinstance(weight, Tensor) else weight)
    if weight.ndim != 2:
        raise ValueError(f"a Linear weight is (out_features, in_features), got shape {weight.shape}")
    layer = Linear.__new__(Linear)
    Module.__init__(layer)
    layer.in_features, layer.out_features = weight.shape[1], weight.shape[0]
    layer.weight = Parameter(weight.copy())
    if bias is None:
        layer.bias = None
    else:
        bias = np.asarray(bias.data if isinstance(bias, Tensor) else bias)
        if bias.shape != (weight.shape[0],):
            raise ValueError(f"bias shape {bias.shape} does not match weight shape {weight.shape}")
        layer.bias = Parameter(bias.copy())
    return layer


def prunable_layers(model) -> list:
    """Every :class:`Linear` and :class:`Pruned` layer inside ``model``, as ``(holder, key, layer)``.

    ``holder`` is where the layer sits — a Module (``key`` is the attribute name: ``"0"`` in a
    Sequential, ``"fc1"``), or a list or dict attribute (``key`` is the index or the dict key) —
    so the layer can be swapped for another: ``replace_layer(holder, key, new)``. The walk
    follows attribute order, depth first (the order of ``named_parameters``), visits each layer
    once, and does not look inside the layers it returns. ``model`` itself is never returned.
    """
    found, seen = [], {id(model)}

    def visit(holder, key, value):
        if isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                visit(value, index, item)
        elif isinstance(value, dict):
            for k, item in value.items():
                visit(value, k, item)
        elif isinstance(value, Module) and id(value) not in seen:
            seen.add(id(value))
            if isinstance(value, (Linear, Pruned)):
                found.append((holder, key, value))
            else:
                for name, item in vars(value).items():
                    visit(value, name, item)

    if isinstance(model, Module):
        for name, value in vars(model).items():
            visit(model, name, value)
    return found


def replace_layer(holder, key, new) -> None:
    """Put ``new`` where :func:`prunable_layers` found a layer (a Module attribute, a list or dict item)."""
    if isinstance(holder, Module):
        setattr(holder, key, new)
    elif isinstance(holder, (list, dict)):
        holder[key] = new
    else:
        raise TypeError(f"cannot replace a layer held in a {type(holder).__name__} (use a list)")


def _weight_arrays(weights) -> list:
    """The weight arrays behind ``weights``: an array, a Tensor, a Linear or Pruned layer (its
    weight matrix, as the forward uses it), a model (the weight matrices of all its Linear and
    Pruned layers; biases are not counted), or a list of those."""
    if isinstance(weights, (list, tuple)):
        return [a for item in weights for a in _weight_arrays(item)]
    if isinstance(weights, (Linear, Pruned)):
        return [np.asarray(weights.weight.data)]
    if isinstance(weights, Module):
        layers = prunable_layers(weights)
        if not layers:
            raise ValueError(f"{type(weights).__name__} has no Linear layer to measure")
        return [np.asarray(layer.weight.data) for _, _, layer in layers]
    if isinstance(weights, Tensor):
        return [weights.data]
    return [np.asarray(weights)]


# ---------------------------------------------------------------------------------------------
# Step 1: magnitude — which weights to drop, and how sparse a model is
# ---------------------------------------------------------------------------------------------


def sparsity(weights) -> float:
    """The fraction of weights that are exactly zero, counted in the weights themselves.

    Not the amount you asked a pruning function for, and not the fraction of small weights: a
    weight of ``1e-30`` is not zero. Counting the weights is what keeps a report honest.

    Parameters
    ----------
    weights : array, Tensor, Linear, Pruned, Module, or a list of them
        For a layer, its weight matrix as the forward uses it (a :class:`Pruned` layer's
        masked weight); for a model, the weight matrices of all its Linear and Pruned layers
        together (biases are not counted: they are few and never pruned).

    Returns
    -------
    float
        ``zeros / total`` over all the arrays, in ``[0, 1]``.

    Raises
    ------
    ValueError
        When there is no weight at all to count.

    >>> sparsity(np.array([[0.0, 1.0], [0.0, 1e-30]]))
    0.5

    Hint: ``_weight_arrays(weights)`` gives the list of arrays to count.
    """
    raise NotImplementedError("not implemented yet: sparsity (kata 18, step 1: magnitude)")


def magnitude_mask(weight, amount: float) -> np.ndarray:
    """The keep-mask that prunes the fraction ``amount`` of ``weight`` with the smallest ``|w|``.

    Exactly ``k = round(amount * weight.size)`` entries are pruned (False), even when values tie:
    rank the entries by ``|w|`` with a stable sort (ties in row-major order) and prune the first
    ``k``. A threshold test such as ``|w| <= t`` would prune every tied value.

    Parameters
    ----------
    weight : array or Tensor, any shape
    amount : float in [0, 1]
        ValueError outside.

    Returns
    -------
    numpy.ndarray of bool, shape of ``weight``
        True where the weight is kept.

    >>> magnitude_mask(np.array([[-3.0, 0.1], [0.5, -0.2]]), 0.5)
    array([[ True, False],
           [ True, False]])
    """
    raise NotImplementedError("not implemented yet: magnitude_mask (kata 18, step 1: magnitude)")


def global_magnitude_masks(weights, amount: float) -> list:
    """Keep-masks for several arrays with **one** ranking across all of them (global pruning).

    Prunes exactly ``round(amount * total)`` entries, ``total`` the number of entries of all the
    arrays together: those with the smallest ``|w|`` wherever they are. A layer of small weights
    therefore loses more than a layer of large ones — unlike per-layer pruning, which takes the
    same fraction from every layer. Ties are broken as in :func:`magnitude_mask` (stable sort of
    the arrays' entries, concatenated in order).

    Parameters
    ----------
    weights : list of arrays or Tensors (any shapes)
    amount : float in [0, 1]

    Returns
    -------
    list of bool arrays, one per input, each shaped like it (True: kept).

    >>> big, small = np.array([4.0, -5.0, 6.0]), np.array([0.1, -0.2, 0.3])
    >>> [m.tolist() for m in global_magnitude_masks([big, small], 0.5)]
    [[True, True, True], [False, False, False]]
    """
    raise NotImplementedError("not implemented yet: global_magnitude_masks (kata 18, step 1: magnitude)")


# ---------------------------------------------------------------------------------------------
# Step 2: pruned — a Linear with a persistent mask
# ---------------------------------------------------------------------------------------------


class Pruned(Module):
    """A Linear layer whose weight is multiplied by a fixed 0/1 mask on every forward.

    PyTorch's ``torch.nn.utils.prune`` idea, by composition instead of monkey-patching: the
    original :class:`Linear` stays inside, unchanged (its ``weight`` is PyTorch's
    ``weight_orig``), next to a boolean ``mask`` (``weight_mask``; an array, not a Parameter).
    The forward uses ``weight_orig * mask``, built from Tensor ops, so:

    * the gradient reaching a pruned entry of ``weight_orig`` is exactly zero;
    * whatever an optimizer does to ``weight_orig`` (momentum or Adam state from before the
      pruning, weight decay), the pruned weights the forward uses stay exactly zero;
    * an optimizer created before the pruning keeps working: it holds the same Parameters.

    Parameters
    ----------
    linear : Linear
        The layer to prune (kept as ``self.linear``, not copied, not modified).
    mask : array_like of bool, shape ``linear.weight.shape``
        True where the weight is kept. Stored as a boolean copy in ``self.mask``. A wrong shape
        or a ``linear`` that is not a Linear raises ValueError / TypeError.

    Shapes: as the Linear, ``(..., in_features) -> (..., out_features)``.

    >>> layer = Pruned(linear_from_arrays(np.array([[1.0, 2.0], [3.0, 4.0]])), [[True, False], [False, True]])
    >>> layer.weight.data
    array([[1., 0.],
           [0., 4.]])
    >>> layer(Tensor(np.ones((1, 2)))).data
    array([[1., 4.]])
    """

    def __init__(self, linear: Linear, mask):
        super().__init__()
        raise NotImplementedError("not implemented yet: Pruned.__init__ (kata 18, step 2: pruned)")

    @property
    def weight_orig(self) -> Parameter:
        """The original weight (the Parameter an optimizer trains): ``self.linear.weight``."""
        return self.linear.weight

    @property
    def bias(self):
        """The Linear's bias (never pruned), or None."""
        return self.linear.bias

    @property
    def in_features(self) -> int:
        return self.linear.in_features

    @property
    def out_features(self) -> int:
        return self.linear.out_features

    @property
    def weight(self) -> Tensor:
        """The weight the forward uses: ``weight_orig * mask``, a Tensor recorded by autograd.

        Its entries are exactly zero where the mask is False, whatever ``weight_orig`` holds.
        """
        raise NotImplementedError("not implemented yet: Pruned.weight (kata 18, step 2: pruned)")

    def forward(self, x: Tensor) -> Tensor:
        """``x @ (weight_orig * mask).T + bias``, from Tensor ops (gradients flow to weight_orig and bias)."""
        raise NotImplementedError("not implemented yet: Pruned.forward (kata 18, step 2: pruned)")

    def remove(self) -> Linear:
        """Make the pruning permanent: write the zeros into the weight and return the plain Linear.

        The weight is changed **in place** (``weight.data *= mask``), so it stays the same
        Parameter and an optimizer holding it keeps training it. From then on nothing protects the
        zeros: the next optimizer step with a non-zero gradient moves them (as after PyTorch's
        ``prune.remove``). Remove once training is done, to stop paying for the mask.
        """
        raise NotImplementedError("not implemented yet: Pruned.remove (kata 18, step 2: pruned)")

    def extra_repr(self):
        mask = getattr(self, "mask", None)
        if mask is None:
            return ""
        return f"in_features={self.in_features}, out_features={self.out_features}, kept={int(mask.sum())}/{mask.size}"

    def __repr__(self):
        return f"Pruned({self.extra_repr()})"


# ---------------------------------------------------------------------------------------------
# Step 3: prune — a whole model, globally or layer by layer
# ---------------------------------------------------------------------------------------------


def magnitude_prune(model: Module, amount: float, scope: str = "global") -> list:
    """Prune every Linear layer of ``model`` by magnitude, in place, with persistent masks.

    Each :class:`Linear` found by :func:`prunable_layers` is replaced, where it sits, by a
    :class:`Pruned` wrapping it; a layer that already is :class:`Pruned` gets a new mask.
    Masks are chosen from the weights as the forward uses them (a Pruned layer's pruned weights
    are zeros, the smallest there are) and combined with the old mask (``old & new``), so
    pruning again never revives a pruned weight: pruning 50% then 80% leaves 80%.

    Parameters
    ----------
    model : Module
        Sequential or any Module (layers in attributes, lists and dicts are found). Only Linear
        weights are pruned; biases never. To prune a lone Linear: ``Pruned(layer, magnitude_mask(layer.weight, a))``.
    amount : float in [0, 1]
    scope : {"global", "layer"}
        ``"global"``: one ranking across all the layers' weights (:func:`global_magnitude_masks`);
        ``"layer"``: the same fraction of every layer (:func:`magnitude_mask`). Else ValueError.

    Returns
    -------
    list of Pruned
        The model's pruned layers, in :func:`prunable_layers` order.

    Raises
    ------
    ValueError
        Bad ``scope`` or ``amount``, or no Linear layer in ``model``.

    >>> from tinytorch.activations import ReLU
    >>> model = Sequential(Linear(4, 8), ReLU(), Linear(8, 2))
    >>> [type(p).__name__ for p in magnitude_prune(model, 0.5, scope="layer")]
    ['Pruned', 'Pruned']
    >>> sparsity(model[0]), sparsity(model[2])
    (0.5, 0.5)
    """
    raise NotImplementedError("not implemented yet: magnitude_prune (kata 18, step 3: prune)")


def remove_pruning(model: Module) -> Module:
    """Make every :class:`Pruned` layer of ``model`` permanent: each is replaced, where it sits, by
    the Linear that :meth:`Pruned.remove` returns (zeros written into its weight). Returns ``model``.

    The outputs do not change; the masks (and their cost on every forward) are gone.
    """
    raise NotImplementedError("not implemented yet: remove_pruning (kata 18, step 3: prune)")


# ---------------------------------------------------------------------------------------------
# Step 4: structured — remove whole hidden units, so the arrays shrink
# ---------------------------------------------------------------------------------------------

# Layers that act on every hidden unit on its own: removing a unit before them removes the same
# unit after them. (Softmax, LayerNorm and the like mix units: pruning across them is refused.)
ELEMENTWISE = (ReLU, Sigmoid, Tanh, GELU, Dropout)
ELEMENTWISE_FUNCTIONS = (relu, sigmoid, tanh, gelu)


def _is_elementwise(item) -> bool:
    return isinstance(item, ELEMENTWISE) or any(item is f for f in ELEMENTWISE_FUNCTIONS)


def prune_neurons(first: Linear, second: Linear, amount: float, norm: int = 2):
    """Remove the hidden units of ``first`` whose weight rows have the smallest norm.

    A hidden unit ``j`` is row ``j`` of ``first.weight`` and ``first.bias[j]`` (it computes the
    unit) and column ``j`` of ``second.weight`` (it reads the unit). Removing
    ``round(amount * first.out_features)`` units gives two smaller dense Linears: a network
    ``second(act(first(x)))`` with an elementwise ``act`` then computes exactly what the original
    computes with those units' contributions cut (their columns of ``second.weight`` zeroed), and
    the kept units output exactly what they did.

    Parameters
    ----------
    first : Linear, ``(in, hidden)``
    second : Linear, ``(hidden, out)``; ``second.in_features == first.out_features``
    amount : float in [0, 1]
        At least one unit must stay (ValueError otherwise).
    norm : {1, 2}
        Score of unit ``j``: the L1 (sum of ``|w|``, Li et al. 2017) or L2 (Euclidean) norm of
        ``first.weight[j]``. The highest scores are kept; ties go to the lower index.

    Returns
    -------
    (Linear, Linear, numpy.ndarray)
        New layers (copies; the inputs are not modified): ``(in, keep)`` and ``(keep, out)``,
        and ``kept``, the indices of the kept units in increasing order. Build a new optimizer
        afterwards: these are new Parameters.

    Raises
    ------
    TypeError
        ``first`` or ``second`` is not a Linear (a :class:`Pruned` layer: remove the pruning first).
    ValueError
        Mismatched sizes, bad ``norm`` or ``amount``.

    >>> a = linear_from_arrays(np.array([[1.0, 0.0], [0.0, 0.1], [2.0, 2.0]]), np.zeros(3))
    >>> b = linear_from_arrays(np.ones((1, 3)))
    >>> new_a, new_b, kept = prune_neurons(a, b, 1 / 3)
    >>> kept, new_a.weight.shape, new_b.weight.shape
    (array([0, 2]), (2, 2), (1, 2))
    """
    raise NotImplementedError("not implemented yet: prune_neurons (kata 18, step 4: structured)")


def prune_hidden_units(model: Sequential, amount: float, norm: int = 2) -> Sequential:
    """Structured pruning of an MLP: remove ``amount`` of the units of every hidden layer.

    For each pair of consecutive Linear layers in ``model`` (the first, then the second, ...),
    :func:`prune_neurons` removes units of the earlier one and the matching inputs of the later
    one; the last Linear keeps its outputs. Pairs are pruned in order, so a layer's units are
    scored after its inputs were pruned. Between two Linears only elementwise layers may sit
    (ReLU, Sigmoid, Tanh, GELU, Dropout, or the functions relu, sigmoid, tanh, gelu).

    Parameters
    ----------
    model : Sequential
        Not modified.
    amount : float in [0, 1]
    norm : {1, 2}

    Returns
    -------
    Sequential
        A new model with smaller Linear layers (new Parameters) and the same other items.

    Raises
    ------
    ValueError
        A layer that mixes units (Softmax, ...) between two Linears, or bad arguments.
    TypeError
        A :class:`Pruned` layer in the model (call :func:`remove_pruning` first).

    >>> from tinytorch.activations import ReLU
    >>> model = Sequential(Linear(6, 10), ReLU(), Linear(10, 8), ReLU(), Linear(8, 3))
    >>> [layer.weight.shape for layer in prune_hidden_units(model, 0.5) if isinstance(layer, Linear)]
    [(5, 6), (4, 5), (3, 4)]
    """
    raise NotImplementedError("not implemented yet: prune_hidden_units (kata 18, step 4: structured)")


# ---------------------------------------------------------------------------------------------
# Step 5: low rank — one Linear becomes two thin ones
# ---------------------------------------------------------------------------------------------


def low_rank(linear: Linear, rank: int) -> Sequential:
    """Factor a Linear into two Linears of rank ``rank`` with the truncated SVD of its weight.

    With ``W = U·diag(s)·Vᵀ`` (singular values ``s`` in decreasing order), keep the first
    ``r = rank`` of them and split ``√s`` between the factors::

        first.weight  = diag(√s[:r]) · Vᵀ[:r]        (r, in)     no bias
        second.weight = U[:, :r] · diag(√s[:r])      (out, r)    the original bias

    ``second(first(x)) = x @ (U_r S_r V_rᵀ).T + bias``. By Eckart–Young no rank-``r`` matrix is
    closer to ``W``: the error ``‖W − U_r S_r V_rᵀ‖_F`` equals ``√(s[r]² + s[r+1]² + ...)``. Full
    rank (``min(out, in)``) reproduces the layer; the factors cost ``r·(in + out)`` numbers
    instead of ``in·out``, fewer only when ``r < in·out / (in + out)``.

    Parameters
    ----------
    linear : Linear (out, in)
    rank : int, ``1 <= rank <= min(out, in)`` (ValueError otherwise)

    Returns
    -------
    Sequential(Linear(in, rank, bias=False), Linear(rank, out))
        New Parameters, in the weight's dtype (the SVD itself runs in float64).

    >>> layer = linear_from_arrays(np.diag([3.0, 2.0, 0.5]), np.zeros(3))
    >>> thin = low_rank(layer, 2)
    >>> thin[0].weight.shape, thin[1].weight.shape
    ((2, 3), (3, 2))
    >>> np.round(thin[1].weight.data @ thin[0].weight.data, 6)
    array([[3., 0., 0.],
           [0., 2., 0.],
           [0., 0., 0.]])
    """
    raise NotImplementedError("not implemented yet: low_rank (kata 18, step 5: low_rank)")


# ---------------------------------------------------------------------------------------------
# Step 6: distillation — a small student learns from a big teacher
# ---------------------------------------------------------------------------------------------


def distillation_loss(student_logits: Tensor, teacher_logits, targets, temperature: float = 2.0,
                      alpha: float = 0.5) -> Tensor:
    """Knowledge distillation (Hinton, Vinyals & Dean, 2015): soft teacher targets plus hard labels.

    With ``p = softmax(teacher / T)`` and ``q = softmax(student / T)`` row by row::

        loss = alpha · T² · mean_rows KL(p ‖ q)  +  (1 − alpha) · cross_entropy(student, targets)
        KL(p ‖ q) = Σ_c p_c · (log p_c − log q_c)

    A temperature ``T > 1`` softens both distributions, so the student also learns how the
    teacher ranks the wrong classes ("a 7 looks a bit like a 1"). The soft term's gradient
    with respect to the student's logits is ``T·(q − p)/N``, which shrinks like ``1/T`` for large
    ``T``: the factor ``T²`` keeps the two terms balanced when you change ``T``. The hard term
    uses ``T = 1``. ``alpha = 0`` is plain cross-entropy.

    Build it from Tensor ops (``log_softmax``, ``cross_entropy``, ``*``, ``sum``, ``mean``) so
    ``backward()`` works. The teacher is a constant: no gradient flows to it (use its ``.data``).

    Parameters
    ----------
    student_logits : Tensor (N, C), floating point
    teacher_logits : Tensor or array (N, C)
    targets : Tensor or array (N,) of integer class ids
    temperature : float > 0
    alpha : float in [0, 1]
        Weight of the soft term. Out-of-range ``temperature`` or ``alpha``: ValueError.

    Returns
    -------
    Tensor
        0-d, the student's dtype.

    >>> s = Tensor([[2.0, 0.0, -1.0]]); t = Tensor([[1.0, 1.0, -2.0]])
    >>> round(distillation_loss(s, t, [0], temperature=1.0, alpha=0.0).item(), 4)   # = cross_entropy
    0.1698
    >>> distillation_loss(s, s, [0], temperature=3.0, alpha=1.0).item()             # KL(p ‖ p) = 0
    0.0
    """
    raise NotImplementedError("not implemented yet: distillation_loss (kata 18, step 6: distillation)")


# ---------------------------------------------------------------------------------------------
# Step 7: storage — what sparsity really saves
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CSR:
    """A 2-D array in compressed sparse row form (scipy's ``csr_matrix`` layout).

    Attributes
    ----------
    data : (nnz,) the non-zero values, row by row, left to right, in the array's dtype
    indices : (nnz,) their column indices (int32 while they fit, else int64)
    indptr : (rows + 1,) row ``i``'s entries are ``data[indptr[i]:indptr[i + 1]]``; same index dtype
    shape : (rows, cols)
    """

    data: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray
    shape: tuple

    @property
    def nnz(self) -> int:
        """The number of stored (non-zero) entries."""
        return int(self.data.size)

    @property
    def nbytes(self) -> int:
        """Bytes of the three arrays: what storing this matrix really costs."""
        return int(self.data.nbytes + self.indices.nbytes + self.indptr.nbytes)

    def to_dense(self) -> np.ndarray:
        """The dense array back, exactly."""
        out = np.zeros(self.shape, dtype=self.data.dtype)
        rows = np.repeat(np.arange(self.shape[0]), np.diff(self.indptr))
        out[rows, self.indices] = self.data
        return out


def to_csr(weight) -> CSR:
    """Compress a 2-D array (or Tensor, Linear, Pruned layer) into :class:`CSR`, from its zeros.

    Every entry that is not exactly zero is stored — whatever pruned it, or none. Column
    indices and row pointers are int32 when the column count and the number of non-zeros fit
    (below 2³¹), else int64 (scipy's rule).

    Raises ValueError when the array is not 2-D.

    >>> c = to_csr(np.array([[0.0, 2.0, 0.0], [1.0, 0.0, 3.0]], dtype=np.float32))
    >>> c.data, c.indices, c.indptr
    (array([2., 1., 3.], dtype=float32), array([1, 0, 2], dtype=int32), array([0, 1, 3], dtype=int32))
    """
    raise NotImplementedError("not implemented yet: to_csr (kata 18, step 7: storage)")


@dataclass(frozen=True)
class Storage:
    """What one weight matrix costs, dense and as CSR, counted from its actual zeros.

    ``str(storage)`` says in words whether CSR saves anything at this sparsity.
    """

    shape: tuple
    dtype: str
    nnz: int
    dense_bytes: int
    csr_bytes: int

    @property
    def sparsity(self) -> float:
        """Fraction of zeros."""
        size = int(np.prod(self.shape))
        return 1.0 - self.nnz / size if size else 0.0

    @property
    def csr_saves(self) -> bool:
        """True only when CSR takes strictly fewer bytes than the dense array."""
        return self.csr_bytes < self.dense_bytes

    @property
    def ratio(self) -> float:
        """``dense_bytes / csr_bytes``: above 1, CSR is smaller."""
        return self.dense_bytes / self.csr_bytes

    def __str__(self):
        shape = "×".join(str(n) for n in self.shape)
        verdict = (f"CSR is {self.ratio:.2f}× smaller" if self.csr_saves else
                   f"CSR saves nothing (it is {1 / self.ratio:.2f}× the dense size): keep it dense")
        return (f"{shape} {self.dtype}, {self.sparsity:.1%} zeros: dense {self.dense_bytes:,} B, "
                f"CSR {self.csr_bytes:,} B — {verdict}")


def storage(weight) -> Storage:
    """Dense bytes and CSR bytes of a 2-D weight (array, Tensor, Linear or Pruned layer).

    Dense: every entry, zero or not (``size · itemsize``). CSR: the arrays :func:`to_csr` really
    builds — per non-zero its value and a column index (float32 + int32: 8 bytes, twice a dense
    entry), plus ``rows + 1`` row pointers. So CSR is smaller only above
    :func:`break_even_sparsity` (50% for float32): at 50% sparsity it saves nothing, at 90% it
    stores about ``1 / (0.1 · 2) = 5×`` less.

    >>> w = np.ones((100, 100), dtype=np.float32); w[:, ::2] = 0
    >>> s = storage(w)
    >>> s.dense_bytes, s.csr_bytes, s.csr_saves
    (40000, 40404, False)
    """
    raise NotImplementedError("not implemented yet: storage (kata 18, step 7: storage)")


def break_even_sparsity(dtype=np.float32, index_dtype=np.int32) -> float:
    """The sparsity above which CSR (ignoring its row pointers) beats dense storage.

    A dense entry costs ``v = itemsize`` bytes; a CSR non-zero costs ``v + i`` (value and column
    index), so CSR wins when ``(1 − sparsity)·(v + i) < v``, i.e. sparsity ``> i / (v + i)``:
    0.5 for float32 with int32 indices, 1/3 for float64, 2/3 for float16.

    >>> break_even_sparsity(), break_even_sparsity(np.float16)
    (0.5, 0.6666666666666666)
    """
    v, i = np.dtype(dtype).itemsize, np.dtype(index_dtype).itemsize
    return i / (v + i)
