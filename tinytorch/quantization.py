"""Kata 17 — Quantization: store the weights in 8 bits, compute with integers, measure what it costs.

After kata 16 the model runs fast, but every weight is still a 4-byte float32. Generating text one
token at a time reads *every* weight once per token, so decoding is bound by memory traffic, and
the model file is as big as it gets. Quantization stores each weight as an 8-bit integer plus one
float scale per row (or per tensor):

    w ≈ scale · q,   q = clip(round(w / scale), -127, 127) ∈ int8,   scale = max|w| / 127

This file builds symmetric int8 quantization the way ``torch.ao.quantization`` does it for
weights (``qint8``, zero point 0):

* :func:`quantize_per_tensor`, :func:`quantize_per_channel`, :func:`dequantize` — the round trip,
  with zero mapped exactly to zero and a constant or all-zero tensor handled;
* :class:`MinMaxObserver`, :class:`PercentileObserver` — calibration: watch real activations and
  choose one activation scale per tensor;
* :func:`int_matmul` — ``int8 @ int8 → int32``, exact (NumPy's own ``int8 @ int8`` silently wraps);
* :class:`QuantizedLinear` — a Linear that really stores int8 weights and computes
  ``(x_q @ W_qᵀ) · (s_x · s_w) + b`` with one rescale at the end;
* :func:`quantize_model`, :func:`model_size_bytes`, :func:`quantization_report` — convert every
  Linear of an existing model, and measure size and accuracy instead of assuming them.

The honest truth about speed: NumPy has no int8 matrix multiply. The integer product is done
exactly through float32 BLAS (or int32 arithmetic for long rows), so here the int8 model is 4×
smaller but *not* faster. Real int8 kernels (fbgemm, oneDNN, llama.cpp) widen the bytes in
registers and win on memory traffic.

Example
-------
>>> w = np.array([[0.5, -1.27, 0.0], [0.02, 0.01, -0.03]], dtype=np.float32)
>>> q, scale = quantize_per_tensor(w)
>>> q.dtype, round(float(scale), 6)
(dtype('int8'), 0.01)
>>> q
array([[  50, -127,    0],
       [   2,    1,   -3]], dtype=int8)
>>> q, scales = quantize_per_channel(w)
>>> q[1], scales.shape
(array([  85,   42, -127], dtype=int8), (2, 1))
"""

from __future__ import annotations

import copy

import numpy as np

from tinytorch.autograd import no_grad
from tinytorch.layers import Linear, Module, Parameter, Sequential  # noqa: F401 (Sequential: docstrings)
from tinytorch.tensor import Tensor

__all__ = [
    "QMAX", "EPS", "FLOAT32_EXACT_K", "symmetric_scale", "quantize", "quantize_per_tensor",
    "quantize_per_channel", "dequantize", "MinMaxObserver", "PercentileObserver", "int_matmul",
    "QuantizedLinear", "ObservedLinear", "replace_modules", "modules", "quantize_model",
    "model_size_bytes", "accuracy", "quantization_report",
]

QMAX = 127  # symmetric int8: [-127, 127]; -128 is never produced, so the grid is symmetric about 0
EPS = np.float32(np.finfo(np.float32).eps)  # smallest scale (as torch.ao's observers: scale >= eps)
FLOAT32_EXACT_K = 2**24 // (128 * 128)  # 1024: float32 holds every integer up to 2**24 exactly


def _array(x) -> np.ndarray:
    """Scaffolding: the NumPy array inside a Tensor, or ``np.asarray(x)``."""
    return x.data if isinstance(x, Tensor) else np.asarray(x)


# ---------------------------------------------------------------------------------------------
# Step 1: weights — symmetric int8, per tensor and per channel
# ---------------------------------------------------------------------------------------------


def symmetric_scale(amax) -> np.ndarray:
    """The int8 scale for values in ``[-amax, amax]``: ``amax / 127``, but never below ``EPS``.

    ``amax / 127`` maps the largest magnitude to ±127. An all-zero tensor has ``amax = 0``; a
    zero scale would divide by zero later, so the scale is clamped to ``EPS`` (float32's machine
    epsilon, ~1.2e-7, the clamp ``torch.ao``'s observers use). Zeros still map to zero, and any
    value is still within ``scale / 2`` after the round trip.

    Parameters
    ----------
    amax : float or array of float, ``>= 0``
        The largest magnitude (one per channel for an array).

    Returns
    -------
    numpy float32 scalar or float32 array of ``amax``'s shape

    >>> round(float(symmetric_scale(1.27)), 6), float(symmetric_scale(0.0)) == float(EPS)
    (0.01, True)
    """
    raise NotImplementedError("not implemented yet: symmetric_scale (kata 17, step 1: weights)")


def quantize(x, scale) -> np.ndarray:
    """Quantize ``x`` with a given ``scale``: ``clip(round(x / scale), -127, 127)`` as **int8**.

    Values beyond ``±127 · scale`` saturate at ±127 (that is what a calibrated activation scale
    does to an outlier). ``round`` is NumPy's ``np.rint`` (halves to even). Zero maps to 0.

    Parameters
    ----------
    x : array_like or Tensor of float
    scale : float or float32 array broadcastable to ``x`` (positive)

    Returns
    -------
    numpy.ndarray of dtype int8, shape of ``x``

    >>> quantize(np.array([0.1, -0.25, 9.0]), 0.05)
    array([  2,  -5, 127], dtype=int8)
    """
    raise NotImplementedError("not implemented yet: quantize (kata 17, step 1: weights)")


def quantize_per_tensor(x) -> tuple:
    """One scale for the whole tensor: ``scale = max|x| / 127`` (see :func:`symmetric_scale`).

    Parameters
    ----------
    x : array_like or Tensor of float, any shape (an empty array gets ``scale = EPS``)

    Returns
    -------
    (q, scale) : (int8 array of ``x``'s shape, float32 scalar)
        ``dequantize(q, scale)`` is within ``scale / 2`` of ``x``, element by element.

    >>> q, s = quantize_per_tensor([0.5, -1.27, 0.2])
    >>> q, round(float(s), 6)
    (array([  50, -127,   20], dtype=int8), 0.01)
    """
    raise NotImplementedError("not implemented yet: quantize_per_tensor (kata 17, step 1: weights)")


def quantize_per_channel(w, axis: int = 0) -> tuple:
    """One scale per channel — per output row of a Linear weight (``axis=0``).

    A weight matrix often has rows of very different sizes; with one scale for the whole tensor
    the small rows get only a few of the 255 levels. Per channel, every row gets all of them:
    ``scale[i] = max_j |w[i, j]| / 127``.

    Parameters
    ----------
    w : array_like or Tensor of float, at least 1-D
    axis : int
        The channel axis (``0``: the rows of a ``(out_features, in_features)`` weight).

    Returns
    -------
    (q, scales) : (int8 array of ``w``'s shape, float32 array)
        ``scales`` keeps the reduced axes with size 1 (shape ``(out, 1)`` for a 2-D weight), so
        ``dequantize(q, scales)`` broadcasts. ``scales.reshape(-1)`` lists one scale per channel.

    >>> q, s = quantize_per_channel([[1.27, 0.0], [0.0127, -0.00635]])
    >>> q
    array([[127,   0],
           [127, -64]], dtype=int8)
    >>> s.shape
    (2, 1)
    """
    raise NotImplementedError("not implemented yet: quantize_per_channel (kata 17, step 1: weights)")


def dequantize(q, scale) -> np.ndarray:
    """Back to float32: ``q · scale`` (the scale broadcasts: a scalar, or per-channel ``(out, 1)``).

    >>> dequantize(np.array([50, -127], dtype=np.int8), np.float32(0.01))
    array([ 0.5 , -1.27], dtype=float32)
    """
    raise NotImplementedError("not implemented yet: dequantize (kata 17, step 1: weights)")


# ---------------------------------------------------------------------------------------------
# Step 2: observers — calibrate one scale per activation tensor
# ---------------------------------------------------------------------------------------------


class MinMaxObserver:
    """Watches batches of activations and remembers the smallest and largest value seen.

    Weights are known in advance; activations are not: they depend on the input. Calibration
    runs a few real batches through the model and lets an observer at each layer's input
    record what it sees; the activation scale is then fixed (static quantization).

    ``scale() = symmetric_scale(max(|min_val|, |max_val|))`` over **all** batches observed.

    Attributes
    ----------
    min_val, max_val : float
        ``+inf`` and ``-inf`` until something is observed.
    count : int
        Number of values observed.

    >>> obs = MinMaxObserver()
    >>> _ = obs.observe(np.array([0.5, -2.54])); _ = obs.observe(np.array([1.0]))
    >>> obs.min_val, obs.max_val, round(float(obs.scale()), 6)
    (-2.54, 1.0, 0.02)
    """

    def __init__(self):
        self.min_val = float("inf")
        self.max_val = float("-inf")
        self.count = 0

    def observe(self, x):
        """Record one batch (array or Tensor, any shape) and return ``x`` unchanged."""
        raise NotImplementedError("not implemented yet: MinMaxObserver.observe (kata 17, step 2: observers)")

    def scale(self) -> np.float32:
        """The per-tensor activation scale; RuntimeError if nothing was observed."""
        raise NotImplementedError("not implemented yet: MinMaxObserver.scale (kata 17, step 2: observers)")


class PercentileObserver:
    """Like :class:`MinMaxObserver`, but ``amax`` is a percentile of ``|x|`` over all batches.

    One rare outlier makes the min/max scale large, so every ordinary value is coarsely
    rounded; clipping that outlier to ±127 costs less. ``scale() = symmetric_scale(
    np.percentile(|all values observed|, percentile))``. ``percentile=100`` is min/max.

    Parameters
    ----------
    percentile : float in ``(0, 100]`` (else ValueError)

    The observed magnitudes are kept (as float32) until :meth:`scale` is asked for: calibrate
    on a few batches, not on a whole data set.

    >>> obs = PercentileObserver(percentile=50)
    >>> _ = obs.observe(np.array([1.0, -3.0, 100.0]))
    >>> round(float(obs.scale()) * 127, 4)
    3.0
    """

    def __init__(self, percentile: float = 99.99):
        raise NotImplementedError("not implemented yet: PercentileObserver.__init__ (kata 17, step 2: observers)")

    def observe(self, x):
        """Record one batch (array or Tensor, any shape) and return ``x`` unchanged."""
        raise NotImplementedError("not implemented yet: PercentileObserver.observe (kata 17, step 2: observers)")

    def scale(self) -> np.float32:
        """The per-tensor activation scale; RuntimeError if nothing was observed."""
        raise NotImplementedError("not implemented yet: PercentileObserver.scale (kata 17, step 2: observers)")


# ---------------------------------------------------------------------------------------------
# Step 3: the integer matmul
# ---------------------------------------------------------------------------------------------


def int_matmul(a, b) -> np.ndarray:
    """``a @ b`` for int8 operands, accumulated exactly: an **int32** result.

    NumPy's ``a @ b`` on two int8 arrays returns int8 and silently wraps (``[[100, 100]] @
    [[100], [100]]`` gives 32 instead of 20000), and NumPy has no fast integer matmul: on int32
    arrays ``np.matmul`` runs plain loops, ~100× slower than float32 BLAS. So:

    * when ``K ≤ FLOAT32_EXACT_K`` (1024) — float32 BLAS on the int8 values. Every product is at
      most 128² and every partial sum at most ``K · 128² ≤ 2²⁴``, and float32 holds every
      integer up to 2²⁴ exactly, so the result is exact whatever order BLAS adds in. (int8
      includes -128: with values in [-127, 127] only, the bound would be ``K · 127² < 2²⁴``,
      K ≤ 1040.)
    * longer rows — ``np.matmul`` on int32 copies: exact (up to int32's range), slow.

    Parameters
    ----------
    a : int8 array, shape ``(..., M, K)`` (or ``(K,)``)
    b : int8 array, shape ``(..., K, N)`` (or ``(K,)``); batch dimensions broadcast as in np.matmul

    Returns
    -------
    numpy.ndarray of dtype int32, the shape ``np.matmul`` gives

    Raises
    ------
    TypeError
        If either operand is not int8.

    >>> a = np.array([[100, 100]], dtype=np.int8); b = np.array([[100], [100]], dtype=np.int8)
    >>> (a @ b).dtype, int_matmul(a, b)
    (dtype('int8'), array([[20000]], dtype=int32))
    """
    raise NotImplementedError("not implemented yet: int_matmul (kata 17, step 3: int_matmul)")


# ---------------------------------------------------------------------------------------------
# Step 4: QuantizedLinear
# ---------------------------------------------------------------------------------------------


class QuantizedLinear(Module):
    """A Linear layer whose weight is stored as int8: ``y ≈ x @ weightᵀ + bias``.

    Build it from a trained :class:`~tinytorch.layers.Linear` with :meth:`from_linear`.

    Storage (what :func:`model_size_bytes` counts):

    * ``weight_int8`` — ``np.ndarray`` of dtype **int8**, shape ``(out_features, in_features)``;
      a plain array, not a Parameter or Tensor: there is nothing to train, and nothing may turn
      it back into float32;
    * ``weight_scale`` — float32, shape ``(out_features,)`` per channel or ``()`` per tensor;
    * ``bias`` — float32 :class:`Parameter` ``(out_features,)`` or None (kept in float: it is
      tiny, and adding it after the rescale costs nothing);
    * ``input_scale`` — float32 activation scale from calibration, or None: then every forward
      picks ``max|x| / 127`` of its own batch (dynamic quantization).

    Forward, for ``x`` of shape ``(..., in_features)``::

        s_x = input_scale (or max|x| / 127)
        x_q = quantize(x, s_x)                              int8, outliers saturate at ±127
        acc = int_matmul(x_q, weight_int8ᵀ)                 int32, exact
        y   = acc · (s_x · weight_scale) + bias             one float32 rescale per output

    The weight is never dequantized: the scales multiply the int32 accumulator once. (NumPy
    still converts the int8 values to float32 inside :func:`int_matmul` to use BLAS.) The
    output is a float32 Tensor without a graph: this layer is for inference.

    >>> from tinytorch import rng
    >>> rng.manual_seed(0)
    >>> layer = QuantizedLinear.from_linear(Linear(4, 3))
    >>> layer.weight_int8.dtype, layer.weight_scale.shape
    (dtype('int8'), (3,))
    >>> layer(Tensor(np.ones((2, 4)))).shape
    (2, 3)
    """

    def __init__(self, weight_int8, weight_scale, bias=None, input_scale=None):
        """Store the given arrays (scaffolding): int8 codes, their scale(s), bias, activation scale."""
        super().__init__()
        weight_int8 = np.asarray(weight_int8)
        if weight_int8.dtype != np.int8 or weight_int8.ndim != 2:
            raise TypeError(f"weight_int8 must be a 2-D int8 array, got {weight_int8.dtype} of shape {weight_int8.shape}")
        self.out_features, self.in_features = weight_int8.shape
        self.weight_int8 = weight_int8
        weight_scale = np.asarray(weight_scale, dtype=np.float32)
        self.weight_scale = weight_scale.reshape(-1) if weight_scale.ndim else weight_scale
        if self.weight_scale.ndim and self.weight_scale.size != self.out_features:
            raise ValueError(f"{self.weight_scale.size} weight scales for {self.out_features} output rows")
        self.bias = None if bias is None else Parameter(np.asarray(_array(bias), dtype=np.float32))
        self.input_scale = None if input_scale is None else np.float32(input_scale)
        self.per_channel = self.weight_scale.ndim == 1

    @classmethod
    def from_linear(cls, linear: Linear, per_channel: bool = True, input_scale=None) -> "QuantizedLinear":
        """Quantize a Linear's weight (per output row, or per tensor) and copy its bias.

        Parameters
        ----------
        linear : Linear
        per_channel : bool
            One scale per output row (default) or one for the whole weight.
        input_scale : float or None
            The calibrated activation scale (from an observer), or None for dynamic scales.
        """
        raise NotImplementedError("not implemented yet: QuantizedLinear.from_linear (kata 17, step 4: qlinear)")

    def forward(self, x) -> Tensor:
        """``(..., in_features) -> (..., out_features)`` float32, through the integer matmul."""
        raise NotImplementedError("not implemented yet: QuantizedLinear.forward (kata 17, step 4: qlinear)")

    def buffers(self) -> dict:
        """The arrays this layer stores besides its parameters: ``{name: ndarray}``."""
        stored = {"weight_int8": self.weight_int8, "weight_scale": self.weight_scale}
        if self.input_scale is not None:
            stored["input_scale"] = np.asarray(self.input_scale, dtype=np.float32)
        return stored

    def extra_repr(self):
        kind = "per_channel" if self.per_channel else "per_tensor"
        activation = "dynamic" if self.input_scale is None else f"input_scale={float(self.input_scale):.4g}"
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, int8 {kind}, {activation}")


# ---------------------------------------------------------------------------------------------
# Step 5: convert a whole model; measure size and accuracy
# ---------------------------------------------------------------------------------------------


class ObservedLinear(Module):
    """Scaffolding for calibration: a Linear with an observer watching its input.

    ``quantize_model`` swaps every Linear for one of these, runs the calibration batches, then
    swaps each for a :class:`QuantizedLinear` built with ``observer.scale()`` (PyTorch calls the
    two swaps *prepare* and *convert*).
    """

    def __init__(self, linear: Linear, observer):
        super().__init__()
        self.linear = linear
        self.observer = observer

    def forward(self, x):
        self.observer.observe(x)
        return self.linear(x)


def modules(model: Module) -> list:
    """Every Module in the tree, ``model`` first, depth first, each once (a shared one too)."""
    found, seen = [], set()

    def visit(module):
        if id(module) in seen:
            return
        seen.add(id(module))
        found.append(module)
        for child in module.children():
            visit(child)

    visit(model)
    return found


def replace_modules(model: Module, fn) -> Module:
    """Replace sub-modules in place: every module ``m`` in the tree becomes ``fn(m)``.

    ``fn(m)`` returns a replacement, or ``m`` itself to keep it; only kept modules are walked
    further (a replaced module's own children are not visited). Sub-modules are found where
    :meth:`Module._members` finds them: attributes (``Sequential`` stores its items as the
    attributes ``"0"``, ``"1"``, ...), and items of lists, tuples and dicts, nested too. A
    list or dict is changed in place; a tuple is rebuilt and re-assigned. A module held in two
    places is replaced by the same object in both (``fn`` is called once per module).

    Returns ``model`` (whose attributes have changed); ``model`` itself is not passed to ``fn``.

    >>> from tinytorch.activations import ReLU
    >>> seq = Sequential(Linear(2, 3), ReLU())
    >>> _ = replace_modules(seq, lambda m: ReLU() if isinstance(m, Linear) else m)
    >>> type(seq[0]).__name__
    'ReLU'
    """
    raise NotImplementedError("not implemented yet: replace_modules (kata 17, step 5: convert)")


def quantize_model(model: Module, calibration_batches=None, *, per_channel: bool = True,
                   observer: str = "minmax", percentile: float = 99.99, inplace: bool = False) -> Module:
    """Replace every :class:`Linear` of ``model`` by a :class:`QuantizedLinear`.

    Parameters
    ----------
    model : Module
        Any model: the Linears may sit in attributes, a Sequential, lists or dicts.
    calibration_batches : iterable or None
        Inputs of the model (arrays or Tensors; for ``(inputs, targets)`` pairs the first item
        is used). With batches: static quantization — each Linear's input is observed over
        every batch (in eval mode, without a graph) and its ``input_scale`` fixed (a Linear
        that saw no input keeps dynamic scales). Without: dynamic quantization (each forward
        scales its own activations).
    per_channel : bool
        Per-output-row weight scales (default) or one per tensor.
    observer : ``"minmax"`` or ``"percentile"``
        The calibration observer (:class:`MinMaxObserver` or :class:`PercentileObserver` with
        ``percentile``).
    inplace : bool
        False (default): quantize a deep copy and leave ``model`` untouched. True: change
        ``model`` itself.

    Returns
    -------
    Module
        The quantized model (``model`` itself when ``inplace``), in the training/eval mode
        ``model`` was in. A bare Linear gives a QuantizedLinear.

    >>> from tinytorch.activations import ReLU
    >>> q = quantize_model(Sequential(Linear(4, 8), ReLU(), Linear(8, 2)), [np.ones((3, 4))])
    >>> [type(m).__name__ for m in q]
    ['QuantizedLinear', 'ReLU', 'QuantizedLinear']
    """
    raise NotImplementedError("not implemented yet: quantize_model (kata 17, step 5: convert)")


def model_size_bytes(model: Module) -> int:
    """The bytes the model's weights actually occupy.

    Every Parameter counted once (``nbytes``: float32 weights, biases, LayerNorm, embeddings),
    plus every :class:`QuantizedLinear`'s ``buffers()`` (int8 weights, float32 scales). A float
    model of ``P`` parameters gives ``4·P``; an int8 Linear ``out·in`` bytes plus its scales
    and bias. Each array is counted once even if two modules share it.

    >>> model_size_bytes(Linear(100, 10)), model_size_bytes(QuantizedLinear.from_linear(Linear(100, 10)))
    (4040, 1080)
    """
    raise NotImplementedError("not implemented yet: model_size_bytes (kata 17, step 5: convert)")


def accuracy(model, x, y, batch_size: int = 1000) -> float:
    """Fraction of rows of ``x`` whose arg-max output equals the label ``y`` (eval mode, no graph).

    The model is run on the inputs every time (nothing cached): change a weight, and the
    accuracy changes with it. The model's training/eval mode is restored afterwards.
    """
    raise NotImplementedError("not implemented yet: accuracy (kata 17, step 5: convert)")


def quantization_report(float_model: Module, quantized_model: Module, x, y) -> dict:
    """Float vs quantized, both measured now on the same data.

    Returns
    -------
    dict
        ``float_accuracy``, ``int8_accuracy`` (fractions, from :func:`accuracy`),
        ``accuracy_drop`` (float minus int8, in percentage points), ``float_bytes``,
        ``int8_bytes`` (from :func:`model_size_bytes`) and ``size_ratio`` (float / int8).
    """
    raise NotImplementedError("not implemented yet: quantization_report (kata 17, step 5: convert)")
