"""Kata 20 — Capstone: an optimized TinyGPT, measured against its baseline.

Katas 14–18 each made one thing better: the KV cache (14) stops re-reading the prefix, the fast
backend (16) runs fused kernels behind the ops' names, int8 weights (17) store a byte per weight
instead of four, pruning and low rank (18) drop what barely matters. Kata 19 built the harness
that tells a real speedup from noise. This kata puts them together on the milestone-05 GPT and
measures the whole pipeline against the model it came from, **in one run**:

* :class:`QuantizedEmbedding` — int8 rows with one scale per row. ``quantize_model`` converts
  the Linear layers only; in a GPT with a long context the two embedding tables are a fifth of
  the weights, and a model is only as small as its largest float part;
* :class:`OptimizedGPT` — a transformed copy of the model and how to run it: its forward and its
  generation (with or without the KV cache) on the backend it was optimized for;
* :func:`optimize` — your pipeline: ``optimize(model, calibration, **choices)``;
* :func:`weight_bytes` and :func:`validation_loss` — size counted from the arrays actually held,
  quality computed from the logits the optimized forward really returns;
* :func:`evaluate` — both models through kata 19's :func:`~tinytorch.benchmarking.compare`
  (interleaved rounds, ratio of medians, bootstrap CI): tokens/s of greedy generation, weight
  bytes, validation loss, the machine — a :class:`CapstoneReport`;
* :func:`submission` and :func:`write_submission` — the report as a versioned JSON file that
  fork CI re-derives from your code (``python -m dojo capstone verify capstone.json``)
  instead of trusting it.

Nothing here is hard-coded: every figure is measured now, from the models given. A slower
model gives a smaller speedup, a model with zeroed weights a larger loss.

The context: ``GPT.generate`` crops the context to the last ``block_size`` tokens, and a KV
cache cannot crop (its keys were computed at the old positions, kata 14). To generate 256 new
tokens after a prompt, both models need ``block_size >= prompt_len + 255``: the capstone uses
the milestone-05 architecture (3 layers × 4 heads × 128 wide) with a 320-token context
(a 64-token prompt + 256 new tokens), not the 64 of milestone 05.

Example
-------
>>> from tinytorch import rng
>>> from tinytorch.transformer import GPT
>>> rng.manual_seed(0)
>>> model = GPT(vocab_size=11, block_size=24, n_layer=1, n_head=2, n_embd=16)
>>> ids = np.random.default_rng(0).integers(0, 11, size=(2, 12))
>>> fast = optimize(model, calibration=[ids])
>>> fast.choices["weights"], type(fast.model.head).__name__, type(fast.model.pos_emb).__name__
('int8', 'QuantizedLinear', 'QuantizedEmbedding')
>>> report = evaluate(model, fast, [(ids[:, :-1], ids[:, 1:])], new_tokens=8, prompt_len=4, rounds=3)
>>> report.size_ratio > 3                                                   # doctest: +SKIP
True
"""

from __future__ import annotations

import copy
import json
import math
import os
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from tabulate import tabulate

from tinytorch.acceleration import available_backends
from tinytorch.acceleration import backend as use_backend
from tinytorch.autograd import no_grad
from tinytorch.benchmarking import Comparison, compare, environment, format_time
from tinytorch.compression import low_rank as low_rank_factors
from tinytorch.compression import magnitude_prune, prune_neurons, remove_pruning
from tinytorch.embeddings import Embedding, PositionalEmbedding  # noqa: F401 (docstrings, isinstance in tests)
from tinytorch.kv_cache import KVCache, generate_cached
from tinytorch.layers import Linear, Module  # noqa: F401 (Linear: docstrings)
from tinytorch.profiling import distinct_nbytes
from tinytorch.quantization import QuantizedLinear, modules, quantize_model, quantize_per_channel
from tinytorch.tensor import Tensor

__all__ = [
    "FORMAT_VERSION", "KIND", "TARGETS",
    "QuantizedEmbedding",
    "OptimizedGPT",
    "optimize",
    "weight_bytes", "validation_loss",
    "CapstoneReport", "model_config", "evaluate",
    "submission", "write_submission",
]

FORMAT_VERSION = 1  # of the submission file; dojo/classroom/capstone_check.py reads this version
KIND = "tinytorch-capstone"
# The capstone's (and milestone 06's) targets: generation speedup at 256 new tokens, weight
# bytes baseline/optimized, validation loss optimized - baseline (nats per token).
TARGETS = {"speedup": 10.0, "size_ratio": 3.5, "loss_delta": 0.05}


def _array(x) -> np.ndarray:
    """Scaffolding: the NumPy array behind a Tensor (or ``np.asarray(x)``)."""
    return x.data if isinstance(x, Tensor) else np.asarray(x)


# ---------------------------------------------------------------------------------------------
# Step 1: int8 embeddings
# ---------------------------------------------------------------------------------------------


class _Rows:
    """Scaffolding: ``layer.weight`` of a :class:`QuantizedEmbedding`: rows dequantized on demand.

    Kata 14's ``cached_forward`` reads the positions it needs as ``model.pos_emb.weight[past:past +
    T]``. This object answers that slice by dequantizing only those rows (``layer.lookup``),
    never the whole table.
    """

    def __init__(self, layer):
        self.layer = layer

    @property
    def shape(self) -> tuple:
        return self.layer.weight_int8.shape

    @property
    def dtype(self):
        return np.dtype(np.float32)

    def __getitem__(self, key) -> Tensor:
        rows = np.arange(self.layer.num_embeddings)[key]
        return Tensor(self.layer.lookup(rows))


class QuantizedEmbedding(Module):
    """An embedding table stored as int8, one float32 scale per row: ``table[i] ≈ scale[i] · q[i]``.

    Stands in for kata 11's ``Embedding`` (``forward(ids)``) and ``PositionalEmbedding``
    (``forward(T)``: the rows of positions ``0 .. T-1``). Each row is one token's (or one
    position's) vector, so each row gets its own scale, exactly as kata 17's per-channel weights:
    ``quantize_per_channel(weight, axis=0)``.

    Storage (what :func:`weight_bytes` counts, via :meth:`buffers`):

    * ``weight_int8`` — ``np.ndarray`` int8 ``(num_embeddings, embedding_dim)``;
    * ``weight_scale`` — ``np.ndarray`` float32 ``(num_embeddings,)``.

    No Parameters: this layer is for inference. A lookup gathers the int8 rows it needs and
    rescales only those (:meth:`lookup`); ``layer.weight[a:b]`` does the same for a slice of rows
    (kata 14's ``cached_forward`` reads positions that way).

    >>> from tinytorch import rng
    >>> rng.manual_seed(0)
    >>> emb = Embedding(5, 4)
    >>> q = QuantizedEmbedding.from_embedding(emb)
    >>> q.weight_int8.dtype, q.weight_scale.shape, q(np.array([[0, 4]])).shape
    (dtype('int8'), (5,), (1, 2, 4))
    >>> bool(np.abs(q(np.array([3])).data - emb.weight.data[3]).max() <= q.weight_scale[3] / 2)
    True
    """

    def __init__(self, weight_int8, weight_scale):
        """Store the given arrays (scaffolding): int8 rows ``(V, D)`` and their scales ``(V,)``."""
        super().__init__()
        weight_int8 = np.asarray(weight_int8)
        if weight_int8.dtype != np.int8 or weight_int8.ndim != 2:
            raise TypeError(f"weight_int8 must be a 2-D int8 array, got {weight_int8.dtype} of shape {weight_int8.shape}")
        weight_scale = np.asarray(weight_scale, dtype=np.float32).reshape(-1)
        if weight_scale.size != weight_int8.shape[0]:
            raise ValueError(f"{weight_scale.size} scales for {weight_int8.shape[0]} rows")
        self.weight_int8, self.weight_scale = weight_int8, weight_scale
        self.num_embeddings, self.embedding_dim = weight_int8.shape

    @classmethod
    def from_embedding(cls, embedding) -> "QuantizedEmbedding":
        """Quantize an ``Embedding`` or ``PositionalEmbedding`` (its ``weight``), one scale per row.

        The original layer is not modified.
        """
        ### BEGIN SOLUTION embeddings
        q, scales = quantize_per_channel(_array(embedding.weight), axis=0)
        return cls(q, scales.reshape(-1))
        ### END SOLUTION

    def lookup(self, ids) -> np.ndarray:
        """The float32 rows of ``ids`` (any shape): ``weight_int8[ids] · weight_scale[ids]``.

        Gather first, then rescale only the gathered rows (never the whole table).

        Parameters
        ----------
        ids : array_like of ints, any shape ``S``

        Returns
        -------
        numpy.ndarray float32, shape ``S + (embedding_dim,)``

        Raises
        ------
        ValueError
            An id outside ``0 .. num_embeddings - 1`` (a negative one too: NumPy would silently
            read from the end).
        """
        ### BEGIN SOLUTION embeddings
        ids = np.asarray(_array(ids))
        if ids.size and (ids.min() < 0 or ids.max() >= self.num_embeddings):
            raise ValueError(f"QuantizedEmbedding: ids must be in 0..{self.num_embeddings - 1}, "
                             f"got {int(ids.min())}..{int(ids.max())}")
        rows = self.weight_int8[ids].astype(np.float32)
        rows *= self.weight_scale[ids][..., None]
        return rows
        ### END SOLUTION

    def forward(self, ids) -> Tensor:
        """``forward(ids)`` → ``(*ids.shape, D)``; ``forward(T)`` with an int → positions ``0 .. T-1``, ``(T, D)``."""
        if isinstance(ids, (int, np.integer)):
            if not 0 <= ids <= self.num_embeddings:
                raise ValueError(f"QuantizedEmbedding: {ids} positions asked, {self.num_embeddings} stored")
            ids = np.arange(ids)
        return Tensor(self.lookup(ids))

    @property
    def weight(self) -> _Rows:
        """The table, row by row on demand: ``layer.weight[a:b]`` is a float32 Tensor of rows ``a .. b-1``."""
        return _Rows(self)

    def buffers(self) -> dict:
        """The arrays this layer stores: ``{name: ndarray}``."""
        return {"weight_int8": self.weight_int8, "weight_scale": self.weight_scale}

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}, int8 per row"


# ---------------------------------------------------------------------------------------------
# Step 2: the optimized model and how to run it
# ---------------------------------------------------------------------------------------------


class OptimizedGPT(Module):
    """A transformed copy of a GPT, and the way it runs: backend, KV cache.

    Parameters
    ----------
    model : GPT
        Already transformed (quantized, pruned, ...) by :func:`optimize`; held as ``self.model``
        and put in eval mode.
    kv_cache : bool
        Generate with kata 14's :func:`~tinytorch.kv_cache.generate_cached` (True) or with the
        model's own uncached ``generate``.
    backend : str
        The kernels every forward and generation runs with (kata 16): ``"fast"`` or
        ``"reference"``; must be one of ``available_backends()``.
    choices : dict
        What :func:`optimize` was asked for: ``optimize(original, calibration, **choices)``
        rebuilds the same model (fork CI does exactly that).

    ``vocab_size``, ``block_size``, ``n_layer``, ``n_head``, ``n_embd`` are the model's.
    """

    def __init__(self, model, *, kv_cache: bool = True, backend: str = "fast", choices: dict | None = None):
        super().__init__()
        if backend not in available_backends():
            raise ValueError(f"unknown backend {backend!r}: choose one of {available_backends()}")
        self.model = model
        self.kv_cache, self.backend = bool(kv_cache), backend
        self.choices = dict(choices or {})
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            setattr(self, name, getattr(model, name))
        self._caches = {}  # batch size -> KVCache, allocated once and reused (not weights)
        self.eval()

    def cache_for(self, batch_size: int) -> KVCache:
        """Scaffolding: the KV cache for ``batch_size`` prompts, allocated on first use, then reused.

        Sized for the whole context (``block_size``), float32. (``KVCache.for_model`` reads the
        dtype from ``head.weight``, which a ``QuantizedLinear`` does not have.)
        """
        if batch_size not in self._caches:
            attn = self.model.blocks[0].attn
            self._caches[batch_size] = KVCache(len(self.model.blocks), batch_size, attn.num_heads,
                                               self.model.block_size, attn.head_dim, dtype=np.float32)
        return self._caches[batch_size]

    def forward(self, idx, targets=None):
        """The model's forward on :attr:`backend`, without a graph: logits ``(B, T, V)``, or
        ``(logits, loss)`` with ``targets``, as ``GPT.forward``. The backend selected before is
        restored afterwards (also when the forward raises)."""
        ### BEGIN SOLUTION pipeline
        with use_backend(self.backend), no_grad():
            if targets is None:
                return self.model(idx)
            return self.model(idx, targets=targets)
        ### END SOLUTION

    def generate(self, idx, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
                 greedy: bool = False, seed: int | None = None) -> Tensor:
        """``GPT.generate``'s contract (same arguments, same result shape), on :attr:`backend`.

        With :attr:`kv_cache`: :func:`~tinytorch.kv_cache.generate_cached` with the cache from
        :meth:`cache_for` (one allocation per batch size, reused for every prompt); it raises
        ``ValueError`` when ``T + max_new_tokens - 1 > block_size`` (a cache cannot crop).
        Without: ``self.model.generate``. The previous backend is restored afterwards.
        """
        ### BEGIN SOLUTION pipeline
        with use_backend(self.backend):
            if self.kv_cache:
                batch = np.asarray(_array(idx)).shape[0]
                return generate_cached(self.model, idx, max_new_tokens, temperature=temperature, top_k=top_k,
                                       greedy=greedy, seed=seed, cache=self.cache_for(batch))
            return self.model.generate(idx, max_new_tokens, temperature=temperature, top_k=top_k,
                                       greedy=greedy, seed=seed)
        ### END SOLUTION

    def extra_repr(self):
        return ", ".join(f"{k}={v}" for k, v in self.choices.items()) or f"kv_cache={self.kv_cache}, backend={self.backend}"


# ---------------------------------------------------------------------------------------------
# Step 3: the pipeline
# ---------------------------------------------------------------------------------------------


def optimize(model, calibration=None, *, kv_cache: bool = True, backend: str = "fast", weights: str = "int8",
             per_channel: bool = True, embeddings: str = "int8", prune: float = 0.0, mlp_units: float = 0.0,
             low_rank: int | None = None) -> OptimizedGPT:
    """Your optimization pipeline: a transformed **copy** of ``model`` (a GPT) and how to run it.

    In this order, on ``copy.deepcopy(model)`` (the original is never modified):

    1. ``low_rank=r`` (kata 18): each MLP's ``fc`` and ``proj`` become two thin Linears of rank
       ``r`` (truncated SVD, ``low_rank`` of kata 18); ``None`` skips it.
    2. ``mlp_units=a`` (kata 18, structured): remove the fraction ``a`` of each MLP's hidden units
       (``prune_neurons(fc, proj, a)``): the arrays shrink. Not together with ``low_rank``
       (ValueError). ``0`` skips it.
    3. ``prune=a`` (kata 18, unstructured): global magnitude pruning of every Linear weight, made
       permanent (``magnitude_prune`` then ``remove_pruning``). The zeros stay zeros in int8,
       but a dense array stores a zero in as many bytes as anything else. ``0`` skips it.
    4. ``weights="int8"`` (kata 17): ``quantize_model(copy, calibration, per_channel=per_channel,
       inplace=True)`` — every Linear becomes a ``QuantizedLinear``. With ``calibration``
       (model inputs, ids ``(B, T)``, or ``(inputs, targets)`` pairs) the activation scales are
       **static**: each token row is quantized on its own, so a one-token decode step computes
       what the full forward computes. Without, each forward picks ``max|x| / 127`` over all its
       rows (dynamic): a decode step (one row) then quantizes differently from a full forward.
       ``"float32"`` keeps the Linears.
    5. ``embeddings="int8"``: ``tok_emb`` and ``pos_emb`` become :class:`QuantizedEmbedding`;
       ``"float32"`` keeps them.
    6. ``kv_cache`` and ``backend`` (katas 14 and 16) say how :class:`OptimizedGPT` runs.

    Returns
    -------
    OptimizedGPT
        With ``choices`` = every keyword argument above, as used (defaults included), so that
        ``optimize(model, calibration, **result.choices)`` rebuilds the same model.

    Raises
    ------
    ValueError
        ``weights`` or ``embeddings`` not ``"int8"``/``"float32"``, an unknown ``backend``,
        ``prune`` or ``mlp_units`` outside [0, 1), ``low_rank`` < 1, or ``low_rank`` together
        with ``mlp_units``.
    """
    ### BEGIN SOLUTION optimize
    for name, value in (("weights", weights), ("embeddings", embeddings)):
        if value not in ("int8", "float32"):
            raise ValueError(f"{name} must be 'int8' or 'float32', got {value!r}")
    if backend not in available_backends():
        raise ValueError(f"unknown backend {backend!r}: choose one of {available_backends()}")
    for name, value in (("prune", prune), ("mlp_units", mlp_units)):
        if not 0.0 <= float(value) < 1.0:
            raise ValueError(f"{name} must be in [0, 1), got {value}")
    if low_rank is not None and int(low_rank) < 1:
        raise ValueError(f"low_rank must be a rank >= 1 (or None), got {low_rank}")
    if low_rank is not None and mlp_units:
        raise ValueError("low_rank and mlp_units both rebuild the MLP layers: choose one")

    m = copy.deepcopy(model)
    m.eval()
    for block in m.blocks:
        if low_rank is not None:
            block.mlp.fc = low_rank_factors(block.mlp.fc, int(low_rank))
            block.mlp.proj = low_rank_factors(block.mlp.proj, int(low_rank))
        elif mlp_units:
            block.mlp.fc, block.mlp.proj, _ = prune_neurons(block.mlp.fc, block.mlp.proj, float(mlp_units))
    if prune:
        magnitude_prune(m, float(prune), scope="global")
        remove_pruning(m)
    if weights == "int8":
        quantize_model(m, calibration, per_channel=per_channel, inplace=True)
    if embeddings == "int8":
        m.tok_emb = QuantizedEmbedding.from_embedding(m.tok_emb)
        m.pos_emb = QuantizedEmbedding.from_embedding(m.pos_emb)
    choices = {"kv_cache": bool(kv_cache), "backend": backend, "weights": weights, "per_channel": bool(per_channel),
               "embeddings": embeddings, "prune": float(prune), "mlp_units": float(mlp_units),
               "low_rank": None if low_rank is None else int(low_rank)}
    return OptimizedGPT(m, kv_cache=kv_cache, backend=backend, choices=choices)
    ### END SOLUTION


# ---------------------------------------------------------------------------------------------
# Step 4: size and quality, measured
# ---------------------------------------------------------------------------------------------


def weight_bytes(model) -> int:
    """The bytes of the weights ``model`` actually holds, each memory buffer counted once.

    Every Parameter's array, plus every array a module lists in its ``buffers()`` (kata 17's
    ``QuantizedLinear``: int8 weights and scales; :class:`QuantizedEmbedding`: int8 rows and
    scales), over every module of the tree (``modules`` of kata 17), with kata 15's
    ``distinct_nbytes`` so that a tied or shared array counts once. A KV cache is working memory,
    not weights: it is not counted.

    >>> weight_bytes(Linear(100, 10)), weight_bytes(QuantizedLinear.from_linear(Linear(100, 10)))
    (4040, 1080)
    """
    ### BEGIN SOLUTION measure
    arrays = [p.data for p in model.parameters()]
    for module in modules(model):
        buffers = getattr(module, "buffers", None)
        if callable(buffers):
            arrays.extend(buffers().values())
    return distinct_nbytes(arrays)
    ### END SOLUTION


def _pairs(val_data) -> list:
    """Scaffolding: the validation data as a list of ``(inputs, targets)`` int arrays ``(B, T)``."""
    pairs = []
    for x, y in val_data:
        x, y = np.asarray(_array(x)), np.asarray(_array(y))
        if x.ndim != 2 or x.shape != y.shape:
            raise ValueError(f"validation batches are (inputs, targets) of one shape (B, T); got {x.shape} and {y.shape}")
        pairs.append((x, y))
    if not pairs:
        raise ValueError("no validation batches")
    return pairs


def validation_loss(model, val_data) -> float:
    """Mean cross-entropy (nats per token) of ``model`` on ``val_data``, from its own logits.

    Parameters
    ----------
    model : callable
        ``model(inputs)`` returns logits ``(B, T, V)`` (a GPT, or an :class:`OptimizedGPT`,
        whose forward runs the quantized weights on its backend).
    val_data : iterable of ``(inputs, targets)``
        Integer arrays (or Tensors) ``(B, T)``; batches may differ in size.

    The log-softmax is computed here, in float64, from the logits the forward returned — so the
    loss of an optimized model is the loss of what it really computes, whatever ``GPT.forward``'s
    own loss does. The mean is over **all** positions of all batches (a batch of 4 rows weighs
    twice one of 2), under ``no_grad``, in eval mode (the model's mode is restored).

    >>> from tinytorch import rng
    >>> from tinytorch.transformer import GPT
    >>> rng.manual_seed(0)
    >>> model = GPT(vocab_size=7, block_size=8, n_layer=1, n_head=1, n_embd=8)
    >>> for p in model.parameters(): p.data[...] = 0                       # uniform logits
    >>> round(validation_loss(model, [(np.zeros((2, 8), int), np.ones((2, 8), int))]), 6) == round(math.log(7), 6)
    True
    """
    ### BEGIN SOLUTION measure
    pairs = _pairs(val_data)
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    total, count = 0.0, 0
    try:
        with no_grad():
            for x, y in pairs:
                logits = np.asarray(_array(model(x)), dtype=np.float64)
                z = logits - logits.max(axis=-1, keepdims=True)
                logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
                total -= float(np.take_along_axis(logp, y[..., None], axis=-1).sum())
                count += y.size
    finally:
        if hasattr(model, "train"):
            model.train(was_training)
    return total / count
    ### END SOLUTION


# ---------------------------------------------------------------------------------------------
# Step 5: evaluate — both models, one run, kata 19's harness
# ---------------------------------------------------------------------------------------------


def model_config(model) -> dict:
    """Scaffolding: the architecture of a GPT (or an OptimizedGPT): what fork CI rebuilds it from."""
    return {name: int(getattr(model, name)) for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd")}


@dataclass
class CapstoneReport:
    """The baseline and the optimized model, measured in the same run by :func:`evaluate`.

    Speed: greedy generation of ``new_tokens`` tokens after ``batch`` prompts of ``prompt_len``
    tokens generated together (1: MLPerf's single stream; more: its offline scenario, throughput),
    ``rounds`` interleaved rounds; ``*_seconds`` are the medians of one generation,
    ``*_tokens_per_s = batch · new_tokens / seconds``, ``speedup`` is
    ``baseline median / optimized median`` with its bootstrap interval ``speedup_ci``.
    Size: ``*_bytes`` from :func:`weight_bytes`. Quality: ``*_loss`` from
    :func:`validation_loss` (nats per token); ``token_agreement`` is the fraction of the
    generated tokens on which both models agree (int8 rounding may change a few).
    """

    new_tokens: int
    prompt_len: int
    rounds: int
    baseline_seconds: float
    optimized_seconds: float
    speedup: float
    speedup_ci: tuple
    baseline_bytes: int
    optimized_bytes: int
    baseline_loss: float
    optimized_loss: float
    token_agreement: float
    batch: int = 1
    choices: dict = field(default_factory=dict)
    model: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    environment: dict = field(default_factory=dict)
    comparison: Comparison | None = field(default=None, repr=False, compare=False)

    @property
    def baseline_tokens_per_s(self) -> float:
        return self.batch * self.new_tokens / self.baseline_seconds

    @property
    def optimized_tokens_per_s(self) -> float:
        return self.batch * self.new_tokens / self.optimized_seconds

    @property
    def size_ratio(self) -> float:
        return self.baseline_bytes / self.optimized_bytes

    @property
    def loss_delta(self) -> float:
        return self.optimized_loss - self.baseline_loss

    def figures(self) -> dict:
        """The measured figures as plain JSON numbers (what a submission file carries)."""
        return {
            "new_tokens": int(self.new_tokens), "prompt_len": int(self.prompt_len), "batch": int(self.batch),
            "rounds": int(self.rounds),
            "baseline_seconds": float(self.baseline_seconds), "optimized_seconds": float(self.optimized_seconds),
            "baseline_tokens_per_s": float(self.baseline_tokens_per_s),
            "optimized_tokens_per_s": float(self.optimized_tokens_per_s),
            "speedup": float(self.speedup), "speedup_ci": [float(v) for v in self.speedup_ci],
            "baseline_bytes": int(self.baseline_bytes), "optimized_bytes": int(self.optimized_bytes),
            "size_ratio": float(self.size_ratio),
            "baseline_loss": float(self.baseline_loss), "optimized_loss": float(self.optimized_loss),
            "loss_delta": float(self.loss_delta), "token_agreement": float(self.token_agreement),
        }

    def checks(self, targets: dict = TARGETS) -> list:
        """Each figure next to its target: ``[{"name", "value", "target", "ok"}]`` (milestone style)."""
        low, high = self.speedup_ci
        return [
            {"name": f"generation speedup at {self.new_tokens} new tokens",
             "value": f"{self.speedup:.1f}× (95% CI {low:.1f}–{high:.1f}; {self.baseline_tokens_per_s:,.0f} → "
                      f"{self.optimized_tokens_per_s:,.0f} tokens/s)",
             "target": f">= {targets['speedup']:g}×", "ok": self.speedup >= targets["speedup"]},
            {"name": "weights", "value": f"{self.size_ratio:.2f}× smaller ({self.baseline_bytes:,} → "
                                         f"{self.optimized_bytes:,} bytes)",
             "target": f">= {targets['size_ratio']:g}×", "ok": self.size_ratio >= targets["size_ratio"]},
            {"name": "validation loss", "value": f"{self.loss_delta:+.4f} nats ({self.baseline_loss:.4f} → "
                                                 f"{self.optimized_loss:.4f})",
             "target": f"<= +{targets['loss_delta']:g}", "ok": self.loss_delta <= targets["loss_delta"]},
        ]

    def passed(self, targets: dict = TARGETS) -> bool:
        return all(check["ok"] for check in self.checks(targets))

    def __str__(self):
        low, high = self.speedup_ci
        rows = [
            ["baseline", f"{self.baseline_tokens_per_s:,.1f}", format_time(self.baseline_seconds),
             f"{self.baseline_bytes:,}", f"{self.baseline_loss:.4f}", "1.00×"],
            ["optimized", f"{self.optimized_tokens_per_s:,.1f}", format_time(self.optimized_seconds),
             f"{self.optimized_bytes:,}", f"{self.optimized_loss:.4f}", f"{self.speedup:.2f}× ({low:.2f}–{high:.2f})"],
        ]
        headers = ["model", "tokens/s", f"{self.new_tokens} tokens", "weight bytes", "val loss", "speedup (95% CI)"]
        text = tabulate(rows, headers=headers, disable_numparse=True)
        text += (f"\n{self.size_ratio:.2f}× smaller · loss {self.loss_delta:+.4f} nats · greedy tokens agree "
                 f"{self.token_agreement:.1%} · {self.rounds} interleaved rounds · {self.batch} prompt(s) of "
                 f"{self.prompt_len} tokens")
        if self.choices:
            text += "\nchoices: " + ", ".join(f"{k}={v}" for k, v in self.choices.items())
        return text


def evaluate(baseline, optimized, val_data, *, new_tokens: int = 256, prompt_len: int = 64, batch: int = 1,
             rounds: int = 5, warmup: int = 1, seed: int = 0, clock=time.perf_counter) -> CapstoneReport:
    """Measure ``optimized`` against ``baseline``, everything in this one run.

    Parameters
    ----------
    baseline : GPT
        The unoptimized model. It generates with its own uncached ``generate`` on the
        ``"reference"`` backend, whatever backend is selected around the call.
    optimized : OptimizedGPT (or anything with ``generate`` and ``model(inputs) -> logits``)
    val_data : iterable of ``(inputs, targets)`` int arrays ``(B, T)``
        The validation batches; the prompts are the first ``prompt_len`` tokens of the first
        ``batch`` rows of the first batch's inputs.
    new_tokens, prompt_len, batch :
        Greedy generation of ``new_tokens`` after ``batch`` prompts at once. All must be >= 1,
        ``batch`` at most the first validation batch's rows, ``prompt_len`` at most its length,
        and ``prompt_len + new_tokens - 1 <= baseline.block_size`` (ValueError otherwise: the
        baseline would crop its context and the cache could not).
    rounds, warmup, seed, clock :
        Passed to kata 19's ``compare(run_baseline, run_optimized, rounds=rounds, warmup=warmup,
        loops=1, clock=clock, seed=seed, names=("baseline", "optimized"))``: interleaved
        rounds, one generation per sample.

    Returns
    -------
    CapstoneReport
        Speed from the comparison (``speedup = comparison.speedup``, its ``speedup_ci``; the
        medians ``comparison.a.median`` and ``comparison.b.median`` as the seconds); the tokens
        both generated in their last timed call (``token_agreement``, over every row); ``weight_bytes`` of both;
        ``validation_loss`` of both (the baseline on the reference backend); ``choices`` (a copy
        of ``optimized.choices``), ``model`` (:func:`model_config` of the baseline),
        ``settings`` (new_tokens, prompt_len, batch, rounds, warmup, seed, and the validation
        batches' count and shape) and the ``environment()`` of kata 19; ``comparison`` itself.
    """
    ### BEGIN SOLUTION evaluate
    pairs = _pairs(val_data)
    first = pairs[0][0]
    if new_tokens < 1 or not 1 <= prompt_len <= first.shape[1] or not 1 <= batch <= first.shape[0]:
        raise ValueError(f"need new_tokens >= 1, 1 <= prompt_len <= {first.shape[1]} and 1 <= batch <= "
                         f"{first.shape[0]} (the first validation batch's shape); got {new_tokens}, {prompt_len}, {batch}")
    if prompt_len + new_tokens - 1 > baseline.block_size:
        raise ValueError(f"{prompt_len} prompt tokens + {new_tokens} new ones need a context of "
                         f"{prompt_len + new_tokens - 1}; block_size is {baseline.block_size} (generation "
                         f"past the context would crop it, and a KV cache cannot)")
    prompt = first[:batch, :prompt_len].astype(np.int64)
    outputs = {}

    def run_baseline():
        with use_backend("reference"):
            outputs["baseline"] = _array(baseline.generate(prompt, new_tokens, greedy=True))

    def run_optimized():
        outputs["optimized"] = _array(optimized.generate(prompt, new_tokens, greedy=True))

    comparison = compare(run_baseline, run_optimized, rounds=rounds, warmup=warmup, loops=1, clock=clock,
                         seed=seed, names=("baseline", "optimized"))
    agreement = float(np.mean(outputs["baseline"][:, prompt_len:] == outputs["optimized"][:, prompt_len:]))
    with use_backend("reference"):
        baseline_loss = validation_loss(baseline, pairs)
    optimized_loss = validation_loss(optimized, pairs)
    settings = {"new_tokens": int(new_tokens), "prompt_len": int(prompt_len), "batch": int(batch), "rounds": int(rounds),
                "warmup": int(warmup), "seed": int(seed), "val_batches": len(pairs),
                "val_shape": [int(s) for s in first.shape]}
    return CapstoneReport(
        new_tokens=int(new_tokens), prompt_len=int(prompt_len), rounds=int(rounds),
        baseline_seconds=comparison.a.median, optimized_seconds=comparison.b.median,
        speedup=comparison.speedup, speedup_ci=comparison.speedup_ci,
        baseline_bytes=weight_bytes(baseline), optimized_bytes=weight_bytes(optimized),
        baseline_loss=baseline_loss, optimized_loss=optimized_loss, token_agreement=agreement, batch=int(batch),
        choices=dict(getattr(optimized, "choices", {})), model=model_config(baseline), settings=settings,
        environment=environment(), comparison=comparison,
    )
    ### END SOLUTION


# ---------------------------------------------------------------------------------------------
# Step 6: the submission file
# ---------------------------------------------------------------------------------------------


def submission(report: CapstoneReport, **meta) -> dict:
    """The report as a submission: a JSON-ready dict that fork CI validates and re-derives.

    Keys:

    * ``"format_version"``: :data:`FORMAT_VERSION` (1); ``"kind"``: :data:`KIND`;
    * ``"created"``: the UTC time, ISO 8601 (``datetime.now(timezone.utc).isoformat()``);
    * ``"figures"``: ``report.figures()``;
    * ``"choices"``: a copy of ``report.choices`` (they rebuild the pipeline);
    * ``"config"``: ``{"model": report.model, "evaluation": report.settings, **meta}`` —
      everything needed to redo the run: the caller adds how the baseline was made (``seed=``,
      ``training=``, ``data=``, ...);
    * ``"environment"``: ``report.environment``.

    Raises
    ------
    ValueError
        A figure that is not a finite number (NaN or infinity: JSON cannot carry it honestly).
    TypeError
        Anything that JSON cannot represent (check with ``json.dumps(..., allow_nan=False)``).

    >>> data = submission(report, seed=0, training={"steps": 300})           # doctest: +SKIP
    >>> data["format_version"], data["kind"], data["config"]["seed"]           # doctest: +SKIP
    (1, 'tinytorch-capstone', 0)
    """
    ### BEGIN SOLUTION submission
    figures = report.figures()
    for name, value in figures.items():
        for v in value if isinstance(value, list) else [value]:
            if not math.isfinite(v):
                raise ValueError(f"figure {name} is {v}: not a finite number")
    data = {
        "format_version": FORMAT_VERSION,
        "kind": KIND,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "figures": figures,
        "choices": dict(report.choices),
        "config": {"model": dict(report.model), "evaluation": dict(report.settings), **meta},
        "environment": dict(report.environment),
    }
    json.dumps(data, allow_nan=False)  # TypeError for what JSON cannot hold
    return data
    ### END SOLUTION


def write_submission(path, report: CapstoneReport, **meta) -> Path:
    """Write :func:`submission` ``(report, **meta)`` to ``path`` as JSON; return the path.

    ``json.dumps(data, indent=2, sort_keys=True, allow_nan=False)`` and a final newline, written
    to a temporary file in the same folder and moved into place with ``os.replace``: a crash
    never leaves half a file (parent folders are created).
    """
    ### BEGIN SOLUTION submission
    path = Path(path)
    text = json.dumps(submission(report, **meta), indent=2, sort_keys=True, allow_nan=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
    ### END SOLUTION
