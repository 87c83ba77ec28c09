"""Kata 16 — Acceleration: the same models, faster, without changing a line of them.

Kata 15's profile said where a training step's time goes: in the M05 GPT, the matrix products
(already BLAS, as fast as NumPy gets) and then GELU's forward and backward, a quarter of the step,
because each operator of ``0.5·x·(1 + tanh(c·(x + 0.044715·x³)))`` allocates and walks a whole
new array; then LayerNorm and attention, built from a dozen small recorded ops each. In the M04
CNN, pooling's offset loops and the convolution's copies. This kata makes those faster **behind
the ops' names**, so that every model from katas 01–13 runs faster unchanged::

    import tinytorch
    with tinytorch.backend("fast"):          # or tinytorch.set_backend("fast")
        logits, loss = model(x, targets=y)   # any model, built before or after the switch
        loss.backward()                      # the fused kernels' own backwards run too
    tinytorch.acceleration.counters()        # {("gelu", "fast"): 3, ("add", "reference"): 40, ...}

How it works: every op passes through ``tensor.py``'s scaffolding (``@op`` for primitive ops,
``@composite`` for functions such as ``layer_norm`` that a backend may replace whole). That
scaffolding asks a **dispatcher** which kernel to run. The dispatcher (step 2) looks up
``(op name, backend)`` in a registry of kernels; the kernels you wrote in katas 01–13 are the
``"reference"`` backend, the ones in this file are ``"fast"``. No class or module is patched.

Steps
-----
1. ``loops`` — feel the cost of Python loops: vectorize a matmul and a convolution and measure
   the speed-up against the loop versions given here (:func:`speedup`).
2. ``dispatch`` — :func:`dispatch`, :func:`set_backend`, :class:`backend`, :func:`counters`.
3. ``fused`` — fused kernels with their own backward: GELU, softmax, LayerNorm, attention's
   scores + mask + softmax, a whole Linear layer, and splitting/merging heads, each walking its data a few times into a
   few buffers (``out=``, taken from :func:`_empty`, which recycles them) instead of one new
   array per operator; float32 stays float32. When nothing needs a gradient (generation under
   ``no_grad``), the kernels run the forward alone, with no graph: a KV-cached decode step
   (kata 14) is a few dozen tiny ops, where that bookkeeping costs as much as the arithmetic.
4. ``cnn`` — a faster CNN step: convolution without the padded copy and its backward, max
   pooling without the offset loops.
5. ``threads`` — choose the BLAS thread count (:func:`blas_threads`), don't leave it to chance.
6. ``block`` — an inference fast path: kata 14's ``cached_block`` (one transformer block on the
   new tokens, through the KV cache) as one kernel in plain NumPy (:func:`cached_block_kernel`),
   and the reference whenever that would not be exact (a gradient needed, dropout active, float64).
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
import warnings

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from tinytorch.activations import GELU_C
from tinytorch.attention import MASKED_SCORE, _mask_array
from tinytorch.attention import MultiHeadAttention
from tinytorch.autograd import Context, Function, unbroadcast
from tinytorch.kv_cache import KVCache
from tinytorch.layers import Dropout, Linear, call_observers
from tinytorch.tensor import Tensor, _untracked, is_grad_enabled, set_dispatcher
from tinytorch.transformer import MLP, LayerNorm, TransformerBlock

__all__ = [
    "matmul_loops", "conv2d_loops", "matmul_broadcast", "conv2d_vectorized", "speedup",
    "KERNELS", "register_kernel", "available_backends", "dispatch", "set_backend", "get_backend",
    "backend", "counters", "reset_counters",
    "FusedGELU", "FusedSoftmax", "FusedLayerNorm", "AttentionWeights", "FusedLinear", "SplitHeads", "MergeHeads",
    "FastConv2d", "FastMaxPool2d", "blas_threads", "thread_count", "cached_block_kernel",
]


# ---------------------------------------------------------------------------------------------
# Step 1: loops → vectorized
# ---------------------------------------------------------------------------------------------


def matmul_loops(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Scaffolding: ``a @ b`` for matrices ``(m, k) @ (k, n)``, one multiply-add at a time in Python.

    The textbook i-j-k triple loop over Python lists (lists, not NumPy indexing, to give the
    loops their best chance). Result in ``a``'s dtype.
    """
    m, k = a.shape
    k2, n = b.shape
    if k != k2:
        raise ValueError(f"matmul_loops: shapes {a.shape} and {b.shape} do not align")
    A, B = a.tolist(), b.tolist()
    out = [[0.0] * n for _ in range(m)]
    for i in range(m):
        row, Ai = out[i], A[i]
        for j in range(n):
            total = 0.0
            for p in range(k):
                total += Ai[p] * B[p][j]
            row[j] = total
    return np.array(out, dtype=a.dtype)


def conv2d_loops(x: np.ndarray, weight: np.ndarray, stride: int = 1, padding: int = 0) -> np.ndarray:
    """Scaffolding: kata 09's convolution (no bias) as its definition, seven nested Python loops.

    ``out[n, o, y, x] = Σ_{c,i,j} weight[o, c, i, j] · xp[n, c, y·stride + i, x·stride + j]``,
    ``xp`` zero-padded by ``padding``. x ``(N, C, H, W)``, weight ``(O, C, kh, kw)`` →
    ``(N, O, Ho, Wo)`` in ``x``'s dtype.
    """
    n_, c_, h, w = x.shape
    o_, c2, kh, kw = weight.shape
    if c_ != c2:
        raise ValueError(f"conv2d_loops: input {x.shape} and weight {weight.shape} differ in channels")
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding))).tolist()
    W = weight.tolist()
    ho, wo = (h + 2 * padding - kh) // stride + 1, (w + 2 * padding - kw) // stride + 1
    out = np.zeros((n_, o_, ho, wo)).tolist()
    for n in range(n_):
        for o in range(o_):
            for y in range(ho):
                for x_ in range(wo):
                    total = 0.0
                    for c in range(c_):
                        for i in range(kh):
                            row, Wr = xp[n][c][y * stride + i], W[o][c][i]
                            for j in range(kw):
                                total += Wr[j] * row[x_ * stride + j]
                    out[n][o][y][x_] = total
    return np.array(out, dtype=x.dtype)


def matmul_broadcast(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for matrices ``(m, k) @ (k, n)`` with **no Python loop and no BLAS**.

    Broadcasting does every multiply at once: ``a[:, :, None] * b[None, :, :]`` is the
    ``(m, k, n)`` array of all products ``a[i, p] · b[p, j]``; summing over the middle axis
    gives the product. (Do not use ``@``, ``np.matmul``, ``np.dot`` or ``np.einsum`` here: the
    point is to measure what vectorizing alone buys, and then what BLAS adds on top.)

    >>> matmul_broadcast(np.array([[1.0, 2.0]]), np.array([[3.0], [4.0]]))
    array([[11.]])
    """
    raise NotImplementedError("not implemented yet: matmul_broadcast (kata 16, step 1: loops)")


def conv2d_vectorized(x: np.ndarray, weight: np.ndarray, stride: int = 1, padding: int = 0) -> np.ndarray:
    """The same convolution as :func:`conv2d_loops` with no Python loop at all.

    ``np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))`` is a **view**
    ``(N, C, H', W', kh, kw)`` of every window of the padded input (no copy); keep every
    ``stride``-th window with a slice; then one ``np.tensordot`` over the ``(c, i, j)`` axes with
    ``weight`` gives ``(N, Ho, Wo, O)``; transpose to NCHW. Keep ``x``'s dtype.

    >>> conv2d_vectorized(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2))).tolist()
    [[[[4.0, 4.0], [4.0, 4.0]]]]
    """
    raise NotImplementedError("not implemented yet: conv2d_vectorized (kata 16, step 1: loops)")


def speedup(slow, fast, args=(), repeats: int = 5, clock=time.perf_counter) -> float:
    """How many times faster ``fast(*args)`` runs than ``slow(*args)``: best time over best time.

    Time them **in turns** (``slow`` once, ``fast`` once, ``repeats`` times over), so that a
    noisy neighbour slows both alike, and keep each one's **best** (smallest) time: noise only
    ever adds time. Read the time with ``clock()`` before and after each call (tests pass a fake
    clock). Returns ``best_slow / best_fast``.

    >>> speedup(matmul_loops, matmul_broadcast, (np.ones((20, 20)), np.ones((20, 20)))) > 10   # doctest: +SKIP
    True
    """
    raise NotImplementedError("not implemented yet: speedup (kata 16, step 1: loops)")


# ---------------------------------------------------------------------------------------------
# Step 2: the kernel registry and the dispatcher
# ---------------------------------------------------------------------------------------------

KERNELS: dict = {}  # (op name, backend) -> kernel; the "reference" kernels are the ops themselves
_backend = "reference"  # the selected backend (process-wide, like autograd's grad mode)
_counts: dict = {}  # (op name, backend that ran) -> calls (a plain dict: a Counter's += costs more, on every op)


def register_kernel(op_name: str, backend: str = "fast"):
    """Scaffolding: decorator registering ``kernel`` as ``op_name``'s kernel in ``backend``.

    The kernel takes exactly the op's arguments (Tensors included) and returns what the op's
    reference kernel returns: for an ``@op``, a NumPy array (recorded under the op's name, so
    kata 05's backward rule still applies) or a Tensor already recorded by an
    ``autograd.Function`` (a fused kernel with its own backward); for a composite op (``layer_norm``,
    attention, ``conv2d``, ``max_pool2d``; ``linear``, ``split_heads`` and ``merge_heads`` are
    methods, whose arguments are the layer and its input), a Tensor. A kernel may return ``NotImplemented`` for
    arguments it does not handle: the reference kernel then runs.
    """
    if backend == "reference":
        raise ValueError("the reference kernels are the ops of katas 01-13: register another backend's")

    def register(kernel):
        KERNELS[(op_name, backend)] = kernel
        return kernel

    return register


def available_backends() -> list:
    """Scaffolding: ``"reference"`` and every backend with at least one registered kernel, sorted."""
    return ["reference", *sorted({b for _, b in KERNELS} - {"reference"})]


def dispatch(name: str, reference, args: tuple, kwargs: dict):
    """Run op ``name`` with the selected backend's kernel, or with ``reference`` (its own kernel).

    Installed into ``tensor.py``'s seam by :func:`set_backend`; every op calls it with its name,
    its reference kernel and its arguments exactly as received. Look up
    ``KERNELS[(name, get_backend())]``; when there is one, call it with ``*args, **kwargs``; if
    there is none, or it returned ``NotImplemented``, call ``reference(*args, **kwargs)``.
    Count the call under ``(name, backend that ran)`` in ``_counts`` (``"reference"`` for the
    fallback) and return the result.

    Every op of every model pays for this function, so keep it lean: one dictionary lookup and
    one count (``_counts[key] = _counts.get(key, 0) + 1``), no loops, no ``inspect``.
    """
    raise NotImplementedError("not implemented yet: dispatch (kata 16, step 2: dispatch)")


def set_backend(name: str) -> str:
    """Select the kernels every op runs from now on; return the backend selected before.

    ``name`` must be one of :func:`available_backends` (else ``ValueError`` listing them).
    ``"reference"`` removes the dispatcher (``tensor.set_dispatcher(None)``), so the ops run
    their own kernels with no dispatch cost at all; any other backend installs :func:`dispatch`.
    """
    raise NotImplementedError("not implemented yet: set_backend (kata 16, step 2: dispatch)")


def get_backend() -> str:
    """The selected backend's name (``"reference"`` until one is set)."""
    raise NotImplementedError("not implemented yet: get_backend (kata 16, step 2: dispatch)")


class backend:
    """Select a backend now, and, used as a context manager, restore the previous one at the end.

    Like ``torch.set_grad_enabled``: ``tinytorch.backend("fast")`` on its own line switches for
    good; ``with tinytorch.backend("fast"):`` switches for the block only, and the previous
    backend comes back when the block ends, also when it raises (the exception is not swallowed).
    Blocks nest. The selection is process-wide (as ``no_grad`` is here): do not switch backends
    from two threads at once.
    """

    def __init__(self, name: str):
        raise NotImplementedError("not implemented yet: backend.__init__ (kata 16, step 2: dispatch)")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        raise NotImplementedError("not implemented yet: backend.__exit__ (kata 16, step 2: dispatch)")


def counters() -> dict:
    """A copy of the calls counted so far: ``{(op name, backend that ran): calls}``.

    Only calls made while a backend other than ``"reference"`` is selected go through
    :func:`dispatch` and are counted.
    """
    raise NotImplementedError("not implemented yet: counters (kata 16, step 2: dispatch)")


def reset_counters() -> None:
    """Forget every count."""
    raise NotImplementedError("not implemented yet: reset_counters (kata 16, step 2: dispatch)")


# ---------------------------------------------------------------------------------------------
# Step 3: fused kernels with their own backward
# ---------------------------------------------------------------------------------------------


# Scaffolding: a small caching allocator. A fresh array of a few hundred kilobytes or more comes
# from the operating system as untouched pages, and the first write to each 4 KiB page costs a
# page fault: in a training step that repeats the same shapes every time, that is a large part
# of the time. ``_empty`` hands back an array of the same shape and dtype that nobody holds any
# more (its only references are the pool's own), else a new one that it keeps for next time.
# PyTorch's GPU caching allocator does the same with device memory.
_POOL: dict = {}
_POOL_DEPTH = 4  # arrays kept per (shape, dtype)
_POOL_MIN_BYTES = 1 << 16  # smaller arrays come from malloc's own free lists: no page faults to save


def _idle_refcount() -> int:
    arrays = [np.empty(0)]
    for a in arrays:
        return sys.getrefcount(a)  # measured here, exactly as _empty measures: no guessing


_IDLE = _idle_refcount()


def _empty(shape, dtype) -> np.ndarray:
    """Scaffolding: ``np.empty(shape, dtype)``, recycled from earlier calls when nobody holds it."""
    dtype = np.dtype(dtype)
    if math.prod(shape) * dtype.itemsize < _POOL_MIN_BYTES:  # a decode step's tiny arrays: not worth a lookup
        return np.empty(shape, dtype)
    key = (tuple(shape), dtype)
    arrays = _POOL.get(key)
    if arrays is None:
        arrays = _POOL[key] = []
    for a in arrays:
        if sys.getrefcount(a) == _IDLE:
            return a
    a = np.empty(key[0], key[1])
    if len(arrays) < _POOL_DEPTH:
        arrays.append(a)
    return a


class FusedGELU(Function):
    """GELU (tanh approximation) in a handful of passes over preallocated buffers.

    Kata 02 computes ``0.5 · x · (1 + tanh(u))`` with ``u = c · (x + 0.044715 · x³)``: every
    operator makes a new array the size of ``x`` (about ten of them, forward and backward).
    Two changes make it fast:

    * **in place**: build ``u = (0.044715·c·x² + c)·x`` in one buffer (``np.multiply(x, x)``,
      then ``*=``, ``+=``, ``*=``) and keep transforming that buffer;
    * **exp instead of tanh**: ``0.5·(1 + tanh(u)) = sigmoid(2u) = 1 / (1 + exp(-2u))``, and
      NumPy's float32 ``exp`` is vectorized where ``tanh`` often is not (measure both with
      :func:`speedup`). So ``s = 1 / (1 + exp(-2u))`` (``np.exp(t, out=t)``, ``+= 1``,
      ``np.divide(1, t, out=t)``) and ``gelu(x) = x · s``.

    Backward, with ``P = c + 3·0.044715·c·x²`` (so that ``du/dx = P``) and ``1 - tanh(u)² = 4s(1 - s)``::

        d gelu / dx = s + 2·x·P·s·(1 - s)

    in two buffers, times ``grad``. Save ``x`` and ``s``, and never modify a saved array:
    ``backward`` may run twice. Keep the dtype: scalars as Python floats (NumPy 2 keeps the
    array's dtype for them; ``x.dtype.type(...)`` works too but costs a microsecond to create),
    never ``np.float64`` (NumPy 2 promotes ``float32 · np.float64`` to float64). Very
    negative ``x`` makes ``exp(-2u)`` overflow to inf, which is right (``s = 0``): silence the
    warning with ``np.errstate(over="ignore")``.
    """

    @staticmethod
    def forward(ctx, x):
        raise NotImplementedError("not implemented yet: FusedGELU.forward (kata 16, step 3: fused)")

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError("not implemented yet: FusedGELU.backward (kata 16, step 3: fused)")


class FusedSoftmax(Function):
    """Softmax along ``axis`` in one buffer: ``x - max``, then ``exp`` and ``/ sum`` in place.

    Backward: ``s · (grad - Σ(grad · s))`` (sum along ``axis``, keepdims) with ``s`` the saved
    output, into one new buffer plus one temporary.
    """

    @staticmethod
    def forward(ctx, x, axis=-1):
        raise NotImplementedError("not implemented yet: FusedSoftmax.forward (kata 16, step 3: fused)")

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError("not implemented yet: FusedSoftmax.backward (kata 16, step 3: fused)")


def _rowdot(a, b):
    """Scaffolding: ``(a * b).sum(-1, keepdims=True)`` without the full-size temporary.

    A few rows (one token's, in generation) take the temporary instead: it is tiny, and
    ``einsum``'s own setup costs more than the product.
    """
    if a.size <= 4096:
        return np.add.reduce(a * b, axis=-1, keepdims=True)
    return np.einsum("...i,...i->...", a, b)[..., None]


class FusedLayerNorm(Function):
    """LayerNorm over the last axis as one op with its own backward (kata 13 builds it from ~9 ops).

    Forward, with ``D`` the last axis: ``xc = x - mean``; ``var = Σ xc² / D`` (:func:`_rowdot`,
    no temporary); ``rstd = 1 / √(var + eps)`` (on one token every NumPy call counts: that is
    ``√(D / (Σ xc² + D·eps))``, in place); ``xhat = xc · rstd`` in place;
    ``out = xhat · weight + bias``. Save ``xhat``, ``rstd`` and ``weight``.

    Backward, from ``g = grad``: ``dbias = Σ g``, ``dweight = Σ g · xhat`` over every axis but
    the last; with ``dxhat = g · weight``::

        dx = rstd · (dxhat - mean(dxhat) - xhat · mean(dxhat · xhat))

    (means over the last axis, keepdims). Skip what ``ctx.needs_input_grad`` says nobody needs.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, eps=1e-5):
        raise NotImplementedError("not implemented yet: FusedLayerNorm.forward (kata 16, step 3: fused)")

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError("not implemented yet: FusedLayerNorm.backward (kata 16, step 3: fused)")


class AttentionWeights(Function):
    """Attention's scores, mask and softmax as one op: ``softmax(mask(q kᵀ / √d))``.

    Forward into one buffer: ``np.matmul(q, kᵀ)``, ``*=`` the scale, ``np.copyto(s,
    MASKED_SCORE, where=~mask)``, then the softmax in place (``-= max``, ``np.exp(out=)``,
    ``/= sum``); rows with no True in the mask become all 0 (kata 12's convention). ``mask``
    (a keyword argument, boolean, True = may attend, or None) broadcasts to the scores
    ``(..., T_q, T_k)``. Save ``q``, ``k`` and the weights.

    Backward from ``grad`` (same shape as the weights ``w``): ``ds = w · (grad - Σ grad·w) ·
    scale`` (sum over keys); ``dq = ds @ k``, ``dk = dsᵀ @ q``, each summed back to its input's
    shape (:func:`~tinytorch.autograd.unbroadcast`) when batch dimensions broadcast. Masked and
    empty rows have ``w = 0``, so their gradient is 0 on its own.
    """

    @staticmethod
    def forward(ctx, q, k, mask=None):
        raise NotImplementedError("not implemented yet: AttentionWeights.forward (kata 16, step 3: fused)")

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError("not implemented yet: AttentionWeights.backward (kata 16, step 3: fused)")


class FusedLinear(Function):
    """A Linear layer, ``x @ weight.T + bias``, as one op (kata 03 records three: a transpose, a
    matmul and an add, each with its own Tensor, dispatch and backward rule).

    Parameters (of ``forward``)
    ---------------------------
    x : array ``(..., in_features)``
    weight : array ``(out_features, in_features)``
    bias : array ``(out_features,)`` or None

    Forward: one ``np.matmul(x, weight.T, out=...)`` into a buffer from :func:`_empty` of shape
    ``x.shape[:-1] + (out_features,)`` (``weight.T`` is a view: BLAS reads the transposed layout
    as it is, no copy), then ``+= bias`` in place when there is one. Save ``x`` and ``weight``.

    Backward from ``g`` ``(..., out_features)``, the leading axes flattened into rows
    (``g2 = g.reshape(-1, out)``, ``x2 = x.reshape(-1, in)``)::

        dx = g @ weight            (..., in)     dweight = g2ᵀ @ x2   (out, in)     dbias = Σ_rows g2

    ``None`` for whatever ``ctx.needs_input_grad`` says nobody needs (a missing bias too): three
    gradients, one per forward argument.

    >>> FusedLinear.apply(Tensor([[1.0, 2.0]]), Tensor([[1.0, 1.0], [0.0, 3.0]]), Tensor([0.5, 0.0])).data
    array([[3.5, 6. ]], dtype=float32)
    """

    @staticmethod
    def forward(ctx, x, weight, bias=None):
        raise NotImplementedError("not implemented yet: FusedLinear.forward (kata 16, step 3: fused)")

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError("not implemented yet: FusedLinear.backward (kata 16, step 3: fused)")


class SplitHeads(Function):
    """Kata 12's ``split_heads`` as one op (kata 12 records two: a reshape and a transpose).

    ``forward(ctx, x, num_heads)``: ``x`` ``(B, T, C)`` → ``(B, num_heads, T, C // num_heads)``:
    reshape to ``(B, T, num_heads, head_dim)``, then swap axes 1 and 2 — a view of ``x``, no copy.
    Backward: the inverse on ``grad`` (swap axes 1 and 2 back, reshape to ``(B, T, C)``).

    >>> SplitHeads.apply(Tensor(np.arange(4.0).reshape(1, 1, 4)), num_heads=2).shape
    (1, 2, 1, 2)
    """

    @staticmethod
    def forward(ctx, x, num_heads):
        raise NotImplementedError("not implemented yet: SplitHeads.forward (kata 16, step 3: fused)")

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError("not implemented yet: SplitHeads.backward (kata 16, step 3: fused)")


class MergeHeads(Function):
    """Kata 12's ``merge_heads`` as one op: ``(B, H, T, D)`` → ``(B, T, H·D)``, the inverse of
    :class:`SplitHeads` (swap axes 1 and 2, then reshape; a copy when the swapped array is not
    contiguous, as NumPy's reshape decides). Backward: :class:`SplitHeads`'s forward on ``grad``,
    with the number of heads kept on ``ctx``.
    """

    @staticmethod
    def forward(ctx, x):
        raise NotImplementedError("not implemented yet: MergeHeads.forward (kata 16, step 3: fused)")

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError("not implemented yet: MergeHeads.backward (kata 16, step 3: fused)")


# The fast backend's kernels for step 3 (scaffolding: each takes exactly its op's arguments).
#
# Inference (generation, evaluation) needs no graph: when recording is off (``no_grad``) or no
# input requires a gradient, ``Function.apply`` would still build a Context, a backward closure
# and a Node for nobody. ``_apply`` then runs ``forward`` alone and wraps its array in an
# untracked Tensor, which is exactly what ``apply`` returns in that case, a few microseconds
# sooner: a KV-cached decode step (kata 14) runs a few dozen of these kernels on one token, and
# its arithmetic takes about as long as that bookkeeping.


def _records(*tensors) -> bool:
    """Scaffolding: would an op on ``tensors`` be recorded (grad mode on and one of them requires grad)?"""
    if is_grad_enabled():
        for t in tensors:
            if isinstance(t, Tensor) and t.requires_grad:
                return True
    return False


def _apply(function, *args, **kwargs):
    """Scaffolding: ``function.apply(*args, **kwargs)``, or, when nothing would be recorded, its
    ``forward`` alone on the arrays, wrapped in an untracked Tensor (what ``apply`` returns then)."""
    if is_grad_enabled():  # (_records, inlined: this runs for every fused op)
        for a in args:
            if isinstance(a, Tensor) and a.requires_grad:
                return function.apply(*args, **kwargs)
    return _untracked(function.forward(Context(), *[a.data if isinstance(a, Tensor) else a for a in args], **kwargs))


@register_kernel("gelu")
def gelu_kernel(x):
    return _apply(FusedGELU, x)


@register_kernel("softmax")
def softmax_kernel(x, axis=-1):
    return _apply(FusedSoftmax, x, axis=axis)


@register_kernel("layer_norm")
def layer_norm_kernel(x, weight, bias, eps=1e-5):
    return _apply(FusedLayerNorm, x, weight, bias, eps=eps)


@register_kernel("scaled_dot_product_attention")
def attention_kernel(q, k, v, mask=None, return_weights=False):
    mask = None if mask is None else _mask_array(mask)
    if not _records(q, k, v):  # inference: the weights and their product with v, no graph
        weights = AttentionWeights.forward(Context(), q.data, k.data, mask=mask)
        out = _untracked(np.matmul(weights, v.data))
        return (out, _untracked(weights)) if return_weights else out
    weights = AttentionWeights.apply(q, k, mask=mask)
    out = weights @ v
    return (out, weights) if return_weights else out


@register_kernel("split_heads")
def split_heads_kernel(attn, x):
    """``MultiHeadAttention.split_heads`` (a composite: the layer and its input) as one SplitHeads."""
    if not isinstance(x, Tensor) or x.data.ndim != 3 or x.data.shape[-1] != attn.num_heads * attn.head_dim:
        return NotImplemented  # kata 12's own errors
    return _apply(SplitHeads, x, num_heads=attn.num_heads)


@register_kernel("merge_heads")
def merge_heads_kernel(attn, x):
    if not isinstance(x, Tensor) or x.data.ndim != 4 or x.data.shape[1] * x.data.shape[3] != attn.embed_dim:
        return NotImplemented
    return _apply(MergeHeads, x)


@register_kernel("linear")
def linear_kernel(layer, x):
    """``Linear.forward`` (a composite: its arguments are the layer and its input) as one FusedLinear."""
    weight, bias = layer.weight, layer.bias
    if not isinstance(x, Tensor):
        return NotImplemented
    xd, wd = x.data, weight.data
    if xd.ndim == 0 or xd.shape[-1] != wd.shape[-1] or xd.dtype != wd.dtype or (bias is not None and bias.data.dtype != wd.dtype):
        return NotImplemented  # mixed dtypes (promotion rules) and the errors: kata 03's forward
    return _apply(FusedLinear, x, weight, bias)


# ---------------------------------------------------------------------------------------------
# Step 4: a faster CNN step
# ---------------------------------------------------------------------------------------------


def _pair(value) -> tuple:
    """Scaffolding: ``3`` -> ``(3, 3)``; a pair stays a pair."""
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


class FastConv2d(Function):
    """Kata 09's convolution (same arguments, same result) with fewer copies.

    Every big array comes from :func:`_empty` (recycled: no fresh pages to fault in at every
    step). Forward: the columns are **one** ``np.copyto`` of a strided view,
    ``sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]`` transposed to
    ``(N, C, kh, kw, Ho, Wo)``, instead of one copy per kernel offset; the per-sample products
    ``weight (O, K) @ cols (N, K, Ho·Wo)`` are written straight into the output buffer
    (``np.matmul(..., out=)``) and the bias added in place. Padding: a recycled buffer, zeroed
    with ``fill(0)``, the input copied into its middle.

    Backward (``needs_input_grad`` decides what runs): ``db = Σ g``; ``dW = Σ_n g[n] @ cols[n]ᵀ``;
    ``dx``: ``Wᵀ @ g`` (``out=`` a recycled buffer) folded back by adding one strided slice per
    kernel offset into a zeroed padded buffer, then cropped (a view, no copy).
    """

    @staticmethod
    def forward(ctx, x, weight, bias, stride=1, padding=0):
        raise NotImplementedError("not implemented yet: FastConv2d.forward (kata 16, step 4: cnn)")

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError("not implemented yet: FastConv2d.backward (kata 16, step 4: cnn)")


class FastMaxPool2d(Function):
    """2×2 max pooling with stride 2 (the CNN's), same result and tie rule as kata 09's.

    Kata 09 loops over the four window offsets keeping a running maximum and an offset array.
    Here, two pairwise comparisons do it: first across columns (``b = x[..., 1::2] > x[...,
    0::2]``, strictly: on a tie the left one wins), then across the rows of those maxima
    (``r``, strictly: the top one wins). That picks the first maximum in row-major window
    order, kata 09's tie rule. Save the two boolean arrays; the backward sends ``grad`` to one
    of the four strided slices of a zero ``dx`` through them (``np.multiply(..., out=slice)``).
    An odd last row or column is dropped, as in kata 09.
    """

    @staticmethod
    def forward(ctx, x):
        raise NotImplementedError("not implemented yet: FastMaxPool2d.forward (kata 16, step 4: cnn)")

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError("not implemented yet: FastMaxPool2d.backward (kata 16, step 4: cnn)")


@register_kernel("conv2d")
def conv2d_kernel(x, weight, bias=None, stride=1, padding=0):
    return FastConv2d.apply(x, weight, bias, stride=stride, padding=padding)


@register_kernel("max_pool2d")
def max_pool2d_kernel(x, kernel_size=2, stride=None):
    stride = kernel_size if stride is None else stride
    if _pair(kernel_size) != (2, 2) or _pair(stride) != (2, 2) or x.ndim != 4 or min(x.shape[2:]) < 2:
        return NotImplemented  # other windows (and the errors): kata 09's kernel
    return FastMaxPool2d.apply(x)


# ---------------------------------------------------------------------------------------------
# Step 5: BLAS threads, chosen rather than left to chance
# ---------------------------------------------------------------------------------------------


def thread_count() -> int:
    """How many threads NumPy's BLAS uses now (0 when it cannot be told).

    With ``threadpoolctl``: the largest ``num_threads`` among ``threadpool_info()`` entries
    whose ``user_api`` is ``"blas"``. Without it (``ImportError``): the value of
    ``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS`` or ``MKL_NUM_THREADS`` if one is set, else 0.
    """
    raise NotImplementedError("not implemented yet: thread_count (kata 16, step 5: threads)")


@contextlib.contextmanager
def blas_threads(n: int):
    """Context manager: NumPy's BLAS uses ``n`` threads inside the block, its previous count after.

    With ``threadpoolctl``: ``threadpool_limits(limits=n, user_api="blas")``, itself a context
    manager that restores the previous limits, also when the block raises. Without it, nothing
    can change the count of a BLAS already loaded: warn (``RuntimeWarning``, saying to install
    threadpoolctl or to set ``OPENBLAS_NUM_THREADS`` before Python starts) and run the block
    unchanged. ``n < 1`` raises ``ValueError``.
    """
    raise NotImplementedError("not implemented yet: blas_threads (kata 16, step 5: threads)")


# ---------------------------------------------------------------------------------------------
# Step 6: an inference fast path: one cached transformer block in one kernel
# ---------------------------------------------------------------------------------------------


def _fast_path_parameters(block, cache):
    """Scaffolding: the 16 Parameters of kata 13's ``TransformerBlock``, in the order the fast path
    reads them, or None when ``block`` and ``cache`` are not exactly what it knows how to run.

    Order: ``ln1`` (weight, bias), ``attn.q_proj``, ``attn.k_proj``, ``attn.v_proj``,
    ``attn.out_proj``, ``ln2``, ``mlp.fc``, ``mlp.proj`` (weight, bias each).

    None when: a profiler watches every module call (kata 15's ``call_observers``: a fused block
    would hide its modules from it); the block, its attention, MLP, LayerNorms, Linears or
    Dropouts are of another class (a subclass may compute something else; kata 17's quantized
    layers, a test's counting wrapper); a Linear has no bias; the cache is not kata 14's
    ``KVCache`` (a subclass may store its keys elsewhere).
    """
    if call_observers or type(block) is not TransformerBlock or type(cache) is not KVCache:
        return None
    attn, mlp, ln1, ln2 = block.attn, block.mlp, block.ln1, block.ln2
    if (type(attn) is not MultiHeadAttention or type(mlp) is not MLP or type(ln1) is not LayerNorm
            or type(ln2) is not LayerNorm or type(block.drop) is not Dropout or type(mlp.drop) is not Dropout):
        return None
    params = [ln1.weight, ln1.bias]
    for linear in (attn.q_proj, attn.k_proj, attn.v_proj, attn.out_proj):
        if type(linear) is not Linear or linear.bias is None:
            return None
        params += (linear.weight, linear.bias)
    params += (ln2.weight, ln2.bias)
    for linear in (mlp.fc, mlp.proj):
        if type(linear) is not Linear or linear.bias is None:
            return None
        params += (linear.weight, linear.bias)
    return params


@register_kernel("cached_block")
def cached_block_kernel(block, x, cache, layer):
    """Kata 14's ``cached_block`` for inference: the whole block in plain NumPy on the arrays.

    An inference fast path, like PyTorch's for ``nn.TransformerEncoderLayer`` (BetterTransformer):
    a KV-cached decode step feeds ONE token through each block, and step 3's kernels still run
    it as ~20 dispatched ops (each a kernel call, a Tensor, a Context), where the arithmetic on
    128 numbers costs less than that bookkeeping. Here the block is a few dozen NumPy calls.

    Parameters
    ----------
    block : TransformerBlock
        Kata 13's block (``ln1``, ``attn``, ``ln2``, ``mlp``, ``drop``), read through
        :func:`_fast_path_parameters` (given): its 16 Parameters, or None when the block or the
        cache is not the plain kind this kernel knows.
    x : Tensor ``(B, T, C)``
        The new tokens' residual stream, at positions ``cache.pos .. cache.pos+T-1``.
    cache : KVCache
        Kata 14's. Write the keys and values of the ``T`` new tokens into ``cache.k[layer].data``
        and ``cache.v[layer].data`` at those positions — ``cache.update``'s contract: the same
        arrays, the same positions, no copy of the past, ``cache.pos`` not moved — and attend
        over positions ``0 .. pos+T-1`` of the arrays (views).
    layer : int

    Returns
    -------
    An untracked Tensor ``(B, T, C)`` equal (to float32 rounding) to the reference
    ``cached_block``'s, or ``NotImplemented`` (the reference then runs, and raises its own
    errors) unless the fast path is exact and nothing is lost by skipping the graph:

    * :func:`_fast_path_parameters` gave the Parameters (not None), and ``x`` is a 3-d Tensor
      whose last axis is the block's width;
    * no gradient is needed: grad mode off, or neither ``x`` nor any Parameter requires grad;
    * no dropout is active: ``block.drop`` and ``block.mlp.drop`` are in eval mode;
    * ``x``, every Parameter and both cache arrays are float32;
    * the cache has room: ``pos + T <= max_len`` and its arrays are ``(B, heads, max_len, head_dim)``.

    The arithmetic, with ``D = head_dim`` and ``H`` heads (kata 13's block, op for op)::

        h = layer_norm(x; ln1)                  (step 3's FusedLayerNorm.forward, with a Context())
        q, k, v = h @ Wqᵀ + bq, h @ Wkᵀ + bk, h @ Wvᵀ + bv       (B, T, C) each, three matmuls
        K[:, :, pos:pos+T], V[:, :, pos:pos+T] = heads(k), heads(v)   (B, H, T, D) views
        s = heads(q) @ K[:, :, :pos+T]ᵀ / √D                     (B, H, T, pos+T)
        mask with cached_causal_mask(T, pos) only when T > 1 (MASKED_SCORE, as AttentionWeights)
        w = softmax(s) over the keys (minus the max first)
        y = x + merge(w @ V[:, :, :pos+T]) @ Woᵀ + bo
        u = layer_norm(y; ln2) @ Wfcᵀ + bfc
        out = y + gelu(u) @ Wprojᵀ + bproj

    with kata 02's GELU, ``0.5·u·(1 + tanh(√(2/π)·(u + 0.044715·u³)))`` (``GELU_C`` is √(2/π)).
    ``heads`` is a reshape to ``(B, T, H, D)`` and a transpose (a view); ``merge`` its inverse.
    Work in place on arrays this call created (``+=``, ``*=``, ``np.tanh(g, out=g)``), keep
    scalars Python floats (float32 stays float32), and never write into ``x``'s array or a
    weight. Count your NumPy calls: each costs about a microsecond, as much as its arithmetic.
    """
    raise NotImplementedError("not implemented yet: cached_block_kernel (kata 16, step 6: block)")
