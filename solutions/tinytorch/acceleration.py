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
    ### BEGIN SOLUTION loops
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"matmul_broadcast: shapes {a.shape} and {b.shape} do not align")
    return (a[:, :, None] * b[None, :, :]).sum(axis=1)
    ### END SOLUTION


def conv2d_vectorized(x: np.ndarray, weight: np.ndarray, stride: int = 1, padding: int = 0) -> np.ndarray:
    """The same convolution as :func:`conv2d_loops` with no Python loop at all.

    ``np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))`` is a **view**
    ``(N, C, H', W', kh, kw)`` of every window of the padded input (no copy); keep every
    ``stride``-th window with a slice; then one ``np.tensordot`` over the ``(c, i, j)`` axes with
    ``weight`` gives ``(N, Ho, Wo, O)``; transpose to NCHW. Keep ``x``'s dtype.

    >>> conv2d_vectorized(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2))).tolist()
    [[[[4.0, 4.0], [4.0, 4.0]]]]
    """
    ### BEGIN SOLUTION loops
    kh, kw = weight.shape[2:]
    if padding:
        x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    windows = sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]
    out = np.tensordot(windows, weight, axes=([1, 4, 5], [1, 2, 3]))
    return out.transpose(0, 3, 1, 2).astype(x.dtype, copy=False)
    ### END SOLUTION


def speedup(slow, fast, args=(), repeats: int = 5, clock=time.perf_counter) -> float:
    """How many times faster ``fast(*args)`` runs than ``slow(*args)``: best time over best time.

    Time them **in turns** (``slow`` once, ``fast`` once, ``repeats`` times over), so that a
    noisy neighbour slows both alike, and keep each one's **best** (smallest) time: noise only
    ever adds time. Read the time with ``clock()`` before and after each call (tests pass a fake
    clock). Returns ``best_slow / best_fast``.

    >>> speedup(matmul_loops, matmul_broadcast, (np.ones((20, 20)), np.ones((20, 20)))) > 10   # doctest: +SKIP
    True
    """
    ### BEGIN SOLUTION loops
    best_slow = best_fast = math.inf
    for _ in range(repeats):
        start = clock()
        slow(*args)
        best_slow = min(best_slow, clock() - start)
        start = clock()
        fast(*args)
        best_fast = min(best_fast, clock() - start)
    return best_slow / best_fast
    ### END SOLUTION


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
    ### BEGIN SOLUTION dispatch
    key = (name, _backend)
    kernel = KERNELS.get(key)
    if kernel is not None:
        out = kernel(*args, **kwargs)
        if out is not NotImplemented:
            _counts[key] = _counts.get(key, 0) + 1
            return out
    key = (name, "reference")
    _counts[key] = _counts.get(key, 0) + 1
    return reference(*args, **kwargs)
    ### END SOLUTION


def set_backend(name: str) -> str:
    """Select the kernels every op runs from now on; return the backend selected before.

    ``name`` must be one of :func:`available_backends` (else ``ValueError`` listing them).
    ``"reference"`` removes the dispatcher (``tensor.set_dispatcher(None)``), so the ops run
    their own kernels with no dispatch cost at all; any other backend installs :func:`dispatch`.
    """
    ### BEGIN SOLUTION dispatch
    global _backend
    if name not in available_backends():
        raise ValueError(f"unknown backend {name!r}: choose one of {available_backends()}")
    previous, _backend = _backend, name
    set_dispatcher(None if name == "reference" else dispatch)
    return previous
    ### END SOLUTION


def get_backend() -> str:
    """The selected backend's name (``"reference"`` until one is set)."""
    ### BEGIN SOLUTION dispatch
    return _backend
    ### END SOLUTION


class backend:
    """Select a backend now, and, used as a context manager, restore the previous one at the end.

    Like ``torch.set_grad_enabled``: ``tinytorch.backend("fast")`` on its own line switches for
    good; ``with tinytorch.backend("fast"):`` switches for the block only, and the previous
    backend comes back when the block ends, also when it raises (the exception is not swallowed).
    Blocks nest. The selection is process-wide (as ``no_grad`` is here): do not switch backends
    from two threads at once.
    """

    def __init__(self, name: str):
        ### BEGIN SOLUTION dispatch
        self.name = name
        self.previous = set_backend(name)
        ### END SOLUTION

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        ### BEGIN SOLUTION dispatch
        set_backend(self.previous)
        return False
        ### END SOLUTION


def counters() -> dict:
    """A copy of the calls counted so far: ``{(op name, backend that ran): calls}``.

    Only calls made while a backend other than ``"reference"`` is selected go through
    :func:`dispatch` and are counted.
    """
    ### BEGIN SOLUTION dispatch
    return dict(_counts)
    ### END SOLUTION


def reset_counters() -> None:
    """Forget every count."""
    ### BEGIN SOLUTION dispatch
    _counts.clear()
    ### END SOLUTION


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
        ### BEGIN SOLUTION fused
        with np.errstate(over="ignore", invalid="ignore"):
            s = np.multiply(x, x, out=_empty(x.shape, x.dtype))
            s *= -2 * 0.044715 * GELU_C
            s -= 2 * GELU_C
            s *= x  # -2u
            np.exp(s, out=s)
        s += 1.0
        np.divide(1.0, s, out=s)  # sigmoid(2u)
        ctx.save_for_backward(x, s)
        return np.multiply(x, s, out=_empty(x.shape, x.dtype))
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad):
        ### BEGIN SOLUTION fused
        x, s = ctx.saved
        f = x.dtype.type
        with np.errstate(over="ignore", invalid="ignore"):
            d = np.multiply(x, x, out=_empty(x.shape, np.result_type(x, grad)))
            d *= f(2 * 3 * 0.044715 * GELU_C)
            d += f(2 * GELU_C)
            d *= x  # 2·x·P
            q = np.subtract(f(1), s, out=_empty(s.shape, s.dtype))
            q *= s  # s·(1 - s)
            d *= q
        d += s
        d *= grad
        return d
        ### END SOLUTION


class FusedSoftmax(Function):
    """Softmax along ``axis`` in one buffer: ``x - max``, then ``exp`` and ``/ sum`` in place.

    Backward: ``s · (grad - Σ(grad · s))`` (sum along ``axis``, keepdims) with ``s`` the saved
    output, into one new buffer plus one temporary.
    """

    @staticmethod
    def forward(ctx, x, axis=-1):
        ### BEGIN SOLUTION fused
        out = np.subtract(x, x.max(axis=axis, keepdims=True), out=_empty(x.shape, x.dtype))
        np.exp(out, out=out)
        out /= out.sum(axis=axis, keepdims=True)
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad):
        ### BEGIN SOLUTION fused
        (s,) = ctx.saved
        out = np.multiply(grad, s, out=_empty(s.shape, np.result_type(grad, s)))
        dot = out.sum(axis=ctx.axis, keepdims=True)
        np.subtract(grad, dot, out=out)
        out *= s
        return out
        ### END SOLUTION


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
        ### BEGIN SOLUTION fused
        d = x.shape[-1]
        mean = np.add.reduce(x, axis=-1, keepdims=True)  # x.mean's own Python wrapper costs more on one token
        mean /= d
        xhat = np.subtract(x, mean, out=_empty(x.shape, x.dtype))
        var = _rowdot(xhat, xhat)  # Σ xc²: then 1/√(Σ xc²/D + eps) = √(D / (Σ xc² + D·eps)), one op fewer
        var += d * eps
        rstd = np.divide(d, var, out=var)
        np.sqrt(rstd, out=rstd)
        xhat *= rstd
        out = np.multiply(xhat, weight, out=_empty(xhat.shape, np.result_type(xhat, weight)))
        out += bias
        ctx.save_for_backward(xhat, rstd, weight)
        return out
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad):
        ### BEGIN SOLUTION fused
        xhat, rstd, weight = ctx.saved
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        d = xhat.shape[-1]
        rows = grad.reshape(-1, d)
        db = rows.sum(axis=0) if need_b else None
        dw = None
        if need_w:
            dw = np.einsum("ri,ri->i", rows, xhat.reshape(-1, d))
        dx = None
        if need_x:
            dxhat = np.multiply(grad, weight, out=_empty(grad.shape, np.result_type(grad, weight)))
            m1 = dxhat.mean(axis=-1, keepdims=True)
            m2 = _rowdot(dxhat, xhat)
            m2 /= d
            dx = np.multiply(xhat, m2, out=_empty(xhat.shape, np.result_type(xhat, m2)))
            np.subtract(dxhat, dx, out=dx)
            dx -= m1
            dx *= rstd
        return dx, dw, db
        ### END SOLUTION


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
        ### BEGIN SOLUTION fused
        scale = 1.0 / math.sqrt(q.shape[-1])
        kt = np.swapaxes(k, -1, -2)
        batch = q.shape[:-2] if q.shape[:-2] == k.shape[:-2] else np.broadcast_shapes(q.shape[:-2], k.shape[:-2])
        s = np.matmul(q, kt, out=_empty(batch + (q.shape[-2], k.shape[-2]), np.result_type(q, k)))
        s *= scale
        if mask is not None:
            if np.broadcast_shapes(mask.shape, s.shape) != s.shape:
                raise ValueError(f"attention: a mask of shape {mask.shape} does not broadcast to the scores {s.shape}")
            np.copyto(s, MASKED_SCORE, where=~mask)
        s -= s.max(axis=-1, keepdims=True)
        np.exp(s, out=s)
        s /= s.sum(axis=-1, keepdims=True)
        if mask is not None:
            has_key = mask.any(axis=-1, keepdims=True)  # on the mask, before it broadcasts
            if not has_key.all():
                s *= has_key
        ctx.save_for_backward(q, k, s)
        ctx.scale = scale
        return s
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad):
        ### BEGIN SOLUTION fused
        q, k, w = ctx.saved
        ds = np.subtract(grad, _rowdot(grad, w), out=_empty(w.shape, np.result_type(grad, w)))
        ds *= w
        ds *= ctx.scale
        dq = unbroadcast(np.matmul(ds, k), q.shape) if ctx.needs_input_grad[0] else None
        dk = unbroadcast(np.matmul(np.swapaxes(ds, -1, -2), q), k.shape) if ctx.needs_input_grad[1] else None
        return dq, dk
        ### END SOLUTION


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
        ### BEGIN SOLUTION fused
        out = np.matmul(x, weight.T, out=_empty(x.shape[:-1] + weight.shape[:1], np.result_type(x, weight)))
        if bias is not None:
            out += bias
        ctx.save_for_backward(x, weight)
        return out
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad):
        ### BEGIN SOLUTION fused
        x, weight = ctx.saved
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        rows = grad.reshape(-1, grad.shape[-1])
        dx = np.matmul(grad, weight) if need_x else None
        dw = rows.T @ x.reshape(-1, x.shape[-1]) if need_w else None
        db = rows.sum(axis=0) if need_b else None
        return dx, dw, db
        ### END SOLUTION


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
        ### BEGIN SOLUTION fused
        B, T, C = x.shape
        return x.reshape(B, T, num_heads, C // num_heads).transpose(0, 2, 1, 3)
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad):
        ### BEGIN SOLUTION fused
        B, H, T, D = grad.shape
        return grad.transpose(0, 2, 1, 3).reshape(B, T, H * D)
        ### END SOLUTION


class MergeHeads(Function):
    """Kata 12's ``merge_heads`` as one op: ``(B, H, T, D)`` → ``(B, T, H·D)``, the inverse of
    :class:`SplitHeads` (swap axes 1 and 2, then reshape; a copy when the swapped array is not
    contiguous, as NumPy's reshape decides). Backward: :class:`SplitHeads`'s forward on ``grad``,
    with the number of heads kept on ``ctx``.
    """

    @staticmethod
    def forward(ctx, x):
        ### BEGIN SOLUTION fused
        B, H, T, D = x.shape
        ctx.heads = H
        return x.transpose(0, 2, 1, 3).reshape(B, T, H * D)
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad):
        ### BEGIN SOLUTION fused
        B, T, C = grad.shape
        return grad.reshape(B, T, ctx.heads, C // ctx.heads).transpose(0, 2, 1, 3)
        ### END SOLUTION


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
        ### BEGIN SOLUTION cnn
        if x.ndim != 4 or weight.ndim != 4 or x.shape[1] != weight.shape[1]:
            raise ValueError(f"conv2d: input {x.shape} and weight {weight.shape} need the same number of channels C")
        (sh, sw), (ph, pw) = _pair(stride), _pair(padding)
        n, c, h, w = x.shape
        o, _, kh, kw = weight.shape
        if ph or pw:
            xp = _empty((n, c, h + 2 * ph, w + 2 * pw), x.dtype)
            xp.fill(0)
            xp[:, :, ph:ph + h, pw:pw + w] = x
        else:
            xp = x
        windows = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
        ho, wo = windows.shape[2:4]
        cols = _empty((n, c, kh, kw, ho, wo), x.dtype)
        np.copyto(cols, windows.transpose(0, 1, 4, 5, 2, 3))
        cols = cols.reshape(n, c * kh * kw, ho * wo)
        w2 = weight.reshape(o, -1)
        out = _empty((n, o, ho * wo), np.result_type(x, weight))
        np.matmul(w2, cols, out=out)
        if bias is not None:
            out += bias[:, None]
        ctx.save_for_backward(cols, w2)
        ctx.shapes = (x.shape, weight.shape, (sh, sw), (ph, pw), (ho, wo))
        return out.reshape(n, o, ho, wo)
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad):
        ### BEGIN SOLUTION cnn
        cols, w2 = ctx.saved
        (n, c, h, w), wshape, (sh, sw), (ph, pw), (ho, wo) = ctx.shapes
        o, _, kh, kw = wshape
        g = grad.reshape(n, o, ho * wo)
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        dx = dw = db = None
        if need_b:
            db = g.sum(axis=(0, 2))
        if need_w:
            dw = np.matmul(g, cols.transpose(0, 2, 1)).sum(axis=0).reshape(wshape)
        if need_x:
            dcols = np.matmul(w2.T, g, out=_empty((n, c * kh * kw, ho * wo), np.result_type(w2, g)))
            dcols = dcols.reshape(n, c, kh, kw, ho, wo)
            xp = _empty((n, c, h + 2 * ph, w + 2 * pw), grad.dtype)
            xp.fill(0)
            for i in range(kh):
                for j in range(kw):
                    xp[:, :, i:i + sh * ho:sh, j:j + sw * wo:sw] += dcols[:, :, i, j]
            dx = xp[:, :, ph:ph + h, pw:pw + w]
        return dx, dw, db
        ### END SOLUTION


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
        ### BEGIN SOLUTION cnn
        ho, wo = x.shape[2] // 2, x.shape[3] // 2
        xs = x[:, :, :2 * ho, :2 * wo]
        left, right = xs[..., 0::2], xs[..., 1::2]
        cols = right > left
        m = np.where(cols, right, left)
        top, bottom = m[:, :, 0::2], m[:, :, 1::2]
        rows = bottom > top
        ctx.save_for_backward(cols, rows)
        ctx.x_shape = x.shape
        return np.where(rows, bottom, top)
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad):
        ### BEGIN SOLUTION cnn
        cols, rows = ctx.saved
        ho, wo = grad.shape[2:]
        dx = np.zeros(ctx.x_shape, dtype=grad.dtype)
        g_top = np.where(rows, 0, grad).astype(grad.dtype, copy=False)
        g_bottom = grad - g_top
        for r, g in ((0, g_top), (1, g_bottom)):
            right = cols[:, :, r::2]
            np.multiply(g, ~right, out=dx[:, :, r:2 * ho:2, 0:2 * wo:2])
            np.multiply(g, right, out=dx[:, :, r:2 * ho:2, 1:2 * wo:2])
        return dx
        ### END SOLUTION


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
    ### BEGIN SOLUTION threads
    import os

    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            if os.environ.get(name, "").strip().isdigit():
                return int(os.environ[name])
        return 0
    counts = [info["num_threads"] for info in threadpool_info() if info.get("user_api") == "blas"]
    return max(counts) if counts else 0
    ### END SOLUTION


@contextlib.contextmanager
def blas_threads(n: int):
    """Context manager: NumPy's BLAS uses ``n`` threads inside the block, its previous count after.

    With ``threadpoolctl``: ``threadpool_limits(limits=n, user_api="blas")``, itself a context
    manager that restores the previous limits, also when the block raises. Without it, nothing
    can change the count of a BLAS already loaded: warn (``RuntimeWarning``, saying to install
    threadpoolctl or to set ``OPENBLAS_NUM_THREADS`` before Python starts) and run the block
    unchanged. ``n < 1`` raises ``ValueError``.
    """
    ### BEGIN SOLUTION threads
    if int(n) < 1:
        raise ValueError(f"blas_threads needs at least 1 thread, got {n}")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        warnings.warn(
            "threadpoolctl is not installed: the BLAS thread count cannot change at run time "
            "(pip install threadpoolctl, or set OPENBLAS_NUM_THREADS before starting Python)",
            RuntimeWarning, stacklevel=3,
        )
        yield
        return
    with threadpool_limits(limits=int(n), user_api="blas"):
        yield
    ### END SOLUTION


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
    ### BEGIN SOLUTION block
    params = _fast_path_parameters(block, cache)
    if params is None or not isinstance(x, Tensor) or block.drop.training or block.mlp.drop.training:
        return NotImplemented
    if is_grad_enabled() and (x.requires_grad or any(p.requires_grad for p in params)):
        return NotImplemented  # training: the reference records the graph
    xd, keys, values = x.data, cache.k[layer].data, cache.v[layer].data
    attn = block.attn
    H, D = attn.num_heads, attn.head_dim
    if xd.ndim != 3 or xd.shape[2] != H * D or xd.dtype != np.float32 or keys.dtype != np.float32 or values.dtype != np.float32:
        return NotImplemented
    (ln1w, ln1b, wq, bq, wk, bk, wv, bv, wo, bo, ln2w, ln2b, wfc, bfc, wpr, bpr) = arrays = [p.data for p in params]
    for a in arrays:
        if a.dtype != np.float32:
            return NotImplemented
    B, T, C = xd.shape
    past = cache.pos
    end = past + T
    if keys.shape != (B, H, keys.shape[2], D) or values.shape != keys.shape or end > keys.shape[2]:
        return NotImplemented  # cache.update's ValueError, from the reference
    # attention: q, k, v; K and V written at positions past .. end-1 of the cache
    h = FusedLayerNorm.forward(Context(), xd, ln1w, ln1b, block.ln1.eps)
    q = np.matmul(h, wq.T)
    q += bq
    q *= 1.0 / math.sqrt(D)
    k = np.matmul(h, wk.T)
    k += bk
    keys[:, :, past:end] = k.reshape(B, T, H, D).transpose(0, 2, 1, 3)
    v = np.matmul(h, wv.T)
    v += bv
    values[:, :, past:end] = v.reshape(B, T, H, D).transpose(0, 2, 1, 3)
    s = np.matmul(q.reshape(B, T, H, D).transpose(0, 2, 1, 3), keys[:, :, :end].transpose(0, 1, 3, 2))
    if T > 1:  # one new token may read every key: no mask
        np.copyto(s, MASKED_SCORE, where=~np.tri(T, end, past, dtype=bool))
    s -= np.maximum.reduce(s, axis=-1, keepdims=True)
    np.exp(s, out=s)
    s /= np.add.reduce(s, axis=-1, keepdims=True)
    att = np.matmul(s, values[:, :, :end]).transpose(0, 2, 1, 3).reshape(B, T, C)
    y = np.matmul(att, wo.T)
    y += bo
    y += xd
    # MLP: y + proj(gelu(fc(ln2(y))))
    u = np.matmul(FusedLayerNorm.forward(Context(), y, ln2w, ln2b, block.ln2.eps), wfc.T)
    u += bfc
    g = np.multiply(u, u)
    g *= 0.044715 * GELU_C
    g += GELU_C
    g *= u
    np.tanh(g, out=g)
    g += 1.0
    g *= u  # 2 · gelu(u): the 0.5 goes after the product (exact: a power of two)
    out = np.matmul(g, wpr.T)
    out *= 0.5
    out += bpr
    out += y
    return _untracked(out)
    ### END SOLUTION
