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
3. ``fused`` — fused kernels with their own backward: GELU, softmax, LayerNorm, and attention's
   scores + mask + softmax, each walking its data a few times into a few buffers (``out=``,
   taken from :func:`_empty`, which recycles them) instead of one new array per operator;
   float32 stays float32.
4. ``cnn`` — a faster CNN step: convolution without the padded copy and its backward, max
   pooling without the offset loops.
5. ``threads`` — choose the BLAS thread count (:func:`blas_threads`), don't leave it to chance.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
import warnings
from collections import Counter

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from tinytorch.activations import GELU_C
from tinytorch.attention import MASKED_SCORE, _mask_array
from tinytorch.autograd import Function, unbroadcast
from tinytorch.tensor import set_dispatcher

__all__ = [
    "matmul_loops", "conv2d_loops", "matmul_broadcast", "conv2d_vectorized", "speedup",
    "KERNELS", "register_kernel", "available_backends", "dispatch", "set_backend", "get_backend",
    "backend", "counters", "reset_counters",
    "FusedGELU", "FusedSoftmax", "FusedLayerNorm", "AttentionWeights",
    "FastConv2d", "FastMaxPool2d", "blas_threads", "thread_count",
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
_counts: Counter = Counter()  # (op name, backend that ran) -> calls


def register_kernel(op_name: str, backend: str = "fast"):
    """Scaffolding: decorator registering ``kernel`` as ``op_name``'s kernel in ``backend``.

    The kernel takes exactly the op's arguments (Tensors included) and returns what the op's
    reference kernel returns: for an ``@op``, a NumPy array (recorded under the op's name, so
    kata 05's backward rule still applies) or a Tensor already recorded by an
    ``autograd.Function`` (a fused kernel with its own backward); for a composite op (``layer_norm``,
    attention, ``conv2d``, ``max_pool2d``), a Tensor. A kernel may return ``NotImplemented`` for
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


def _idle_refcount() -> int:
    arrays = [np.empty(0)]
    for a in arrays:
        return sys.getrefcount(a)  # measured here, exactly as _empty measures: no guessing


_IDLE = _idle_refcount()


def _empty(shape, dtype) -> np.ndarray:
    """Scaffolding: ``np.empty(shape, dtype)``, recycled from earlier calls when nobody holds it."""
    key = (tuple(shape), np.dtype(dtype))
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
    ``backward`` may run twice. Keep the dtype: scalars as ``x.dtype.type(...)`` or Python
    floats, never ``np.float64`` (NumPy 2 promotes ``float32 · np.float64`` to float64). Very
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
    """Scaffolding: ``(a * b).sum(-1, keepdims=True)`` without the full-size temporary."""
    return np.einsum("...i,...i->...", a, b)[..., None]


class FusedLayerNorm(Function):
    """LayerNorm over the last axis as one op with its own backward (kata 13 builds it from ~9 ops).

    Forward, with ``D`` the last axis: ``xc = x - mean``; ``var = Σ xc² / D`` (:func:`_rowdot`,
    no temporary); ``rstd = 1 / √(var + eps)``; ``xhat = xc · rstd`` in place;
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


# The fast backend's kernels for step 3 (scaffolding: each takes exactly its op's arguments).


@register_kernel("gelu")
def gelu_kernel(x):
    return FusedGELU.apply(x)


@register_kernel("softmax")
def softmax_kernel(x, axis=-1):
    return FusedSoftmax.apply(x, axis=axis)


@register_kernel("layer_norm")
def layer_norm_kernel(x, weight, bias, eps=1e-5):
    return FusedLayerNorm.apply(x, weight, bias, eps=eps)


@register_kernel("scaled_dot_product_attention")
def attention_kernel(q, k, v, mask=None, return_weights=False):
    weights = AttentionWeights.apply(q, k, mask=None if mask is None else _mask_array(mask))
    out = weights @ v
    return (out, weights) if return_weights else out


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
