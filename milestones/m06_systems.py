"""Milestone 06 — Systems (2018: MLPerf; and every deployed language model since).

In 2018 a group of companies and universities agreed on how to measure machine-learning systems:
MLPerf. Its rules are the ones katas 14–19 taught. Measure the optimized system **against a
reference, in the same run, on the same machine**; report latency and throughput together with
**quality** (a faster model that got worse does not count: MLPerf Inference only accepts a result
whose accuracy is at least 99% of the FP32 reference); fix the seeds; say what machine it was.
The same year, serving a language model stopped being about training tricks and became
systems work: caches, kernels, 8-bit weights.

This milestone runs that contest on your own stack. The milestone-05 GPT (3 layers × 4 heads ×
128 wide) trains briefly on Tiny Shakespeare (500 steps of 8 windows, on the fast backend;
``TINYTORCH_SYSTEMS_STEPS`` changes the count), with a 320-token context: a 64-token prompt plus
256 new tokens. (Milestone 05's 64-token context cannot hold 256 new tokens, ``GPT.generate``
would crop the context, and a KV cache cannot crop: its keys were computed at the old
positions.) Then a **fixed pipeline** made from your katas:

* the KV cache of kata 14 (``generate_cached``, one preallocated cache, reused);
* the fast backend of kata 16 (``tinytorch.backend("fast")``: fused GELU, softmax, LayerNorm,
  attention);
* int8 per-channel weights of kata 17 (``quantize_model`` with calibration batches, so the
  activation scales are static and a one-token decode step computes what the full forward
  computes), and the two embedding tables as int8 rows (kata 17's ``quantize_per_channel``):
  with a 320-token context they are a fifth of the weights, and without them the model would
  shrink only about 3.1×;

against the baseline: the same trained model, uncached ``model.generate`` on the reference
kernels. Both are measured in one run through kata 19's ``compare`` (interleaved rounds, ratio
of medians, bootstrap interval), and kata 15's ``distinct_nbytes`` counts the bytes the arrays
really hold. The speed is throughput in MLPerf's *offline* scenario: 8 prompts from the
validation text generated together (tokens/s count all of them). One prompt at a time (the
*single stream*) is measured too and printed, not scored: a cached decode step is about a
hundred tinytorch ops of a few microseconds each whatever the batch, so at batch 1 that fixed
cost hides much of what the cache saves (4.6–6.8× in three runs on a busy 2-core machine).
Targets (full run):

* greedy generation of 256 new tokens for 8 prompts **≥ 10× faster** (tokens/s of both printed);
* weights **≥ 3.5× smaller**;
* validation loss within **+0.05 nats** per character of the baseline's.

Your own pipeline is kata 20's ``optimize``; ``python -m dojo capstone submit`` measures
it on this milestone's model and writes ``capstone.json``, which fork CI re-derives from your
code (``submit --quick``: on every run, seconds; the full configuration re-trains this baseline,
minutes: with ``make ci CAPSTONE=1``) and the cohort board ranks as verified. ``make bench
ONLY=capstone`` measures your ``optimize`` next to these targets on a briefly trained baseline.

Quick mode (``make test``): a tiny model (2 layers × 2 heads × 32 wide) trained for 60 steps on
the bundled excerpt, 48 new tokens after a 16-token prompt. Speed on a busy machine at that
size is noise, so the quick metric is the speedup measured by the same ``compare`` on a **work
clock** that advances by the token rows each model is fed (uncached: the whole prefix at every
step; cached: one row): deterministic, and 1× if the cache saves nothing. The wall-clock
speedup is printed beside it, not scored; size and loss are scored as in the full run.
"""

from __future__ import annotations

import hashlib
import os
import time

import numpy as np

from milestones import shakespeare

STEPS_ENV = "TINYTORCH_SYSTEMS_STEPS"

# The configurations. "model"/"training" make the baseline; "data" the calibration and validation
# batches (windows of block_size + 1 characters); "evaluation" the measurement. The full one is the
# capstone's official configuration too (dojo/classroom/capstone_check.py compares submissions against it).
FULL = {
    "model": {"block_size": 320, "n_layer": 3, "n_head": 4, "n_embd": 128},
    "training": {"steps": 500, "batch_size": 8, "lr": 3e-3, "backend": "fast", "corpus": shakespeare.FULL_NAME},
    "data": {"calibration_batches": 4, "val_batches": 8, "batch_size": 8},
    "evaluation": {"new_tokens": 256, "prompt_len": 64, "batch": 8, "rounds": 3, "single_stream": True},
}
QUICK = {
    "model": {"block_size": 64, "n_layer": 2, "n_head": 2, "n_embd": 32},
    "training": {"steps": 60, "batch_size": 8, "lr": 5e-3, "backend": "fast", "corpus": "bundled"},
    "data": {"calibration_batches": 2, "val_batches": 4, "batch_size": 8},
    "evaluation": {"new_tokens": 48, "prompt_len": 16, "batch": 1, "rounds": 9, "single_stream": False},
}
TARGETS = {"speedup": 10.0, "size_ratio": 3.5, "loss_delta": 0.05}
QUICK_TARGETS = {"size_ratio": 3.0, "loss_delta": 0.1}  # the quick speedup target is the curriculum's quick_target


def config(quick=False) -> dict:
    """A copy of the quick or the full configuration, the training steps overridable by ``$TINYTORCH_SYSTEMS_STEPS``."""
    cfg = {key: dict(value) for key, value in (QUICK if quick else FULL).items()}
    value = os.environ.get(STEPS_ENV, "").strip()
    if value and not quick:
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"{STEPS_ENV}={value!r}: expected a number of steps >= 1")
        cfg["training"]["steps"] = int(value)
    return cfg


# ---------------------------------------------------------------------------------------------
# The baseline: the corpus, training, the fixed batches
# ---------------------------------------------------------------------------------------------


def load_corpus(corpus, log=print) -> tuple:
    """``(name, text)``: Tiny Shakespeare for ``corpus == "Tiny Shakespeare"`` (the bundled excerpt
    when it cannot be had, logged), the bundled excerpt for anything else."""
    if corpus == shakespeare.FULL_NAME:
        return shakespeare.load_text(quick=False, log=log)
    return shakespeare.load_text(quick=True, log=log)


def sha256(text) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def train_baseline(cfg, seed=0, log=print, quick=False, text=None, name=None) -> dict:
    """Train the baseline GPT of ``cfg`` (deterministic for a seed) on the backend ``cfg["training"]["backend"]``.

    Returns ``{"model", "tokenizer", "train_ids", "val_ids", "corpus", "sha256", "characters",
    "seconds", "val_loss", "bigram_loss"}``; ``cfg["training"]`` gets the corpus actually used.
    """
    import tinytorch

    if text is None:
        name, text = load_corpus(cfg["training"]["corpus"], log)
    model_cfg, training = cfg["model"], cfg["training"]
    sh_cfg = shakespeare.Config(block_size=model_cfg["block_size"], n_layer=model_cfg["n_layer"],
                                n_head=model_cfg["n_head"], n_embd=model_cfg["n_embd"],
                                batch_size=training["batch_size"], lr=training["lr"])
    with tinytorch.backend(training["backend"]):
        trained = shakespeare.train(text, cfg=sh_cfg, steps=training["steps"], seed=seed, log=log, name=name,
                                    quick=quick, eval_every=training["steps"], samples=0)
    tokenizer = trained["tokenizer"]
    train_ids, val_ids = shakespeare.split_ids(text, tokenizer)
    training.update(corpus=name, sha256=sha256(text), characters=len(text))
    return {"model": trained["model"], "tokenizer": tokenizer, "train_ids": train_ids, "val_ids": val_ids,
            "corpus": name, "sha256": sha256(text), "characters": len(text), "seconds": trained["train_seconds"],
            "val_loss": trained["val_loss"], "bigram_loss": trained["bigram_loss"]}


def windows(ids, block_size, batch_size, count, seed) -> list:
    """``count`` batches of ``batch_size`` random windows of ``ids``: ``(inputs, targets)``, each ``(B, block_size)``."""
    cfg = shakespeare.Config(block_size=block_size, n_layer=1, n_head=1, n_embd=1, batch_size=batch_size, lr=0.0)
    generator = np.random.default_rng(seed)
    return [shakespeare.get_batch(ids, cfg, generator) for _ in range(count)]


def fixed_batches(baseline, cfg, seed=0) -> tuple:
    """The calibration inputs (from the training text) and the validation batches (from the validation text)."""
    block, data = cfg["model"]["block_size"], cfg["data"]
    calibration = [x for x, _ in windows(baseline["train_ids"], block, data["batch_size"], data["calibration_batches"],
                                         seed + 101)]
    validation = windows(baseline["val_ids"], block, data["batch_size"], data["val_batches"], seed + 202)
    return calibration, validation


# ---------------------------------------------------------------------------------------------
# The fixed pipeline (katas 14-17)
# ---------------------------------------------------------------------------------------------


def _int8_embedding_class():
    """The int8 embedding table, built on kata 17's ``quantize_per_channel`` (defined lazily: it
    subclasses the active tinytorch's Module)."""
    from tinytorch.layers import Module
    from tinytorch.quantization import quantize_per_channel
    from tinytorch.tensor import Tensor

    class Rows:
        """``table.weight[a:b]``: only those rows, dequantized (kata 14's cached_forward reads positions so)."""

        def __init__(self, table):
            self.table = table

        @property
        def shape(self):
            return self.table.codes.shape

        def __getitem__(self, key):
            return Tensor(self.table.lookup(np.arange(self.table.codes.shape[0])[key]))

    class Int8Embedding(Module):
        """An Embedding or PositionalEmbedding stored as int8 rows with one float32 scale per row."""

        def __init__(self, embedding):
            super().__init__()
            codes, scales = quantize_per_channel(embedding.weight.data, axis=0)
            self.codes, self.scales = codes, np.asarray(scales, dtype=np.float32).reshape(-1)

        def lookup(self, ids):
            ids = np.asarray(ids)
            if ids.size and (ids.min() < 0 or ids.max() >= self.codes.shape[0]):
                raise ValueError(f"ids must be in 0..{self.codes.shape[0] - 1}")
            rows = self.codes[ids].astype(np.float32)
            rows *= self.scales[ids][..., None]
            return rows

        def forward(self, ids):
            if isinstance(ids, (int, np.integer)):
                ids = np.arange(ids)
            return Tensor(self.lookup(ids.data if isinstance(ids, Tensor) else ids))

        @property
        def weight(self):
            return Rows(self)

        def buffers(self):
            return {"codes": self.codes, "scales": self.scales}

    return Int8Embedding


class FixedPipeline:
    """The milestone's optimized model: KV cache + fast backend + int8 per-channel weights and embeddings.

    ``generate(idx, n)`` is greedy cached generation on the fast backend with one preallocated
    cache per batch size; ``logits(x)`` the forward on the fast backend; ``model`` the int8 copy.
    """

    def __init__(self, model, calibration):
        import copy

        from tinytorch.quantization import quantize_model

        self.model = quantize_model(copy.deepcopy(model), calibration, per_channel=True)
        Int8Embedding = _int8_embedding_class()
        self.model.tok_emb = Int8Embedding(self.model.tok_emb)
        self.model.pos_emb = Int8Embedding(self.model.pos_emb)
        self.model.eval()
        self.block_size = model.block_size
        self._caches = {}

    def cache_for(self, batch_size):
        from tinytorch.kv_cache import KVCache

        if batch_size not in self._caches:
            attn = self.model.blocks[0].attn
            self._caches[batch_size] = KVCache(len(self.model.blocks), batch_size, attn.num_heads, self.block_size,
                                               attn.head_dim, dtype=np.float32)
        return self._caches[batch_size]

    def generate(self, idx, max_new_tokens):
        import tinytorch
        from tinytorch.kv_cache import generate_cached

        with tinytorch.backend("fast"):
            return generate_cached(self.model, idx, max_new_tokens, greedy=True, cache=self.cache_for(len(idx)))

    def logits(self, x):
        import tinytorch
        from tinytorch.autograd import no_grad

        with tinytorch.backend("fast"), no_grad():
            return self.model(x)


# ---------------------------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------------------------


def weight_bytes(model) -> int:
    """Bytes the model's weights hold: every Parameter and every module's ``buffers()``, each buffer once (kata 15)."""
    from tinytorch.profiling import distinct_nbytes
    from tinytorch.quantization import modules

    arrays = [p.data for p in model.parameters()]
    for module in modules(model):
        if callable(getattr(module, "buffers", None)):
            arrays.extend(module.buffers().values())
    return distinct_nbytes(arrays)


def cross_entropy(logits_fn, batches) -> float:
    """Mean cross-entropy (nats per character) over every position, from the logits ``logits_fn(x)`` returns."""
    total, count = 0.0, 0
    for x, y in batches:
        out = logits_fn(x)
        z = np.asarray(getattr(out, "data", out), dtype=np.float64)
        z = z - z.max(axis=-1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
        total -= float(np.take_along_axis(logp, y[..., None], axis=-1).sum())
        count += y.size
    return total / count


class WorkClock:
    """A clock that advances by one for every token row a model is fed (see :func:`count_rows`)."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def count_rows(model, clock):
    """Wrap ``model.tok_emb`` so every token row looked up advances ``clock``; returns a function that unwraps it."""
    from tinytorch.layers import Module

    inner = model.tok_emb

    class Counted(Module):
        def __init__(self):
            super().__init__()
            self.inner = inner

        def forward(self, ids):
            clock.now += np.asarray(getattr(ids, "data", ids)).size
            return self.inner(ids)

    model.tok_emb = Counted()

    def restore():
        model.tok_emb = inner

    return restore


def generators(baseline_model, pipeline, prompt, new_tokens, outputs) -> tuple:
    """Two functions without arguments: the baseline's uncached generation on the reference kernels,
    and the pipeline's; each stores its tokens in ``outputs``."""
    import tinytorch

    def run_baseline():
        with tinytorch.backend("reference"):
            outputs["baseline"] = baseline_model.generate(prompt, new_tokens, greedy=True).data

    def run_optimized():
        outputs["optimized"] = pipeline.generate(prompt, new_tokens).data

    return run_baseline, run_optimized


def measure(baseline_model, pipeline, validation, evaluation, *, seed=0, work_clock=False, log=print) -> dict:
    """Speed (wall clock; with ``work_clock`` also on the work clock; with ``evaluation["single_stream"]``
    also for one prompt at a time), bytes and losses of both, in one run."""
    import tinytorch
    from tinytorch.autograd import no_grad
    from tinytorch.benchmarking import compare

    new_tokens, prompt_len, rounds = evaluation["new_tokens"], evaluation["prompt_len"], evaluation["rounds"]
    prompt = validation[0][0][:evaluation["batch"], :prompt_len].astype(np.int64)
    outputs = {}
    run_baseline, run_optimized = generators(baseline_model, pipeline, prompt, new_tokens, outputs)
    run_optimized()  # its warm-up (allocates the cache); the baseline's first call has nothing to warm in 10 s
    wall = compare(run_baseline, run_optimized, rounds=rounds, warmup=0, loops=1, seed=seed,
                   names=("baseline", "optimized"))
    figures = {"wall": wall, "outputs": dict(outputs)}
    if evaluation.get("single_stream") and evaluation["batch"] > 1:
        single = generators(baseline_model, pipeline, prompt[:1], new_tokens, {})
        single[1]()
        figures["single"] = compare(*single, rounds=rounds, warmup=0, loops=1, seed=seed, names=("baseline", "optimized"))
    if work_clock:
        clock = WorkClock()
        restores = [count_rows(baseline_model, clock), count_rows(pipeline.model, clock)]
        try:
            figures["work"] = compare(run_baseline, run_optimized, rounds=2, warmup=0, loops=1, clock=clock, seed=seed,
                                      names=("baseline", "optimized"))
        finally:
            for restore in restores:
                restore()
    figures["baseline_bytes"], figures["optimized_bytes"] = weight_bytes(baseline_model), weight_bytes(pipeline.model)
    with tinytorch.backend("reference"), no_grad():
        figures["baseline_loss"] = cross_entropy(baseline_model, validation)
    figures["optimized_loss"] = cross_entropy(pipeline.logits, validation)
    new = slice(prompt_len, None)
    figures["agreement"] = float(np.mean(outputs["baseline"][:, new] == outputs["optimized"][:, new]))
    return figures


# ---------------------------------------------------------------------------------------------
# The milestone
# ---------------------------------------------------------------------------------------------


def run(quick: bool = False, seed: int = 0, log=print) -> dict:
    start = time.perf_counter()
    cfg = config(quick)
    evaluation, targets = cfg["evaluation"], (QUICK_TARGETS if quick else TARGETS)
    log(f"Part 1 — the baseline: the milestone-05 GPT with a {cfg['model']['block_size']}-token context "
        f"({evaluation['prompt_len']}-token prompt + {evaluation['new_tokens']} new tokens), "
        f"{cfg['training']['steps']} training steps")
    baseline = train_baseline(cfg, seed=seed, log=log, quick=quick)
    model = baseline["model"]
    calibration, validation = fixed_batches(baseline, cfg, seed)

    log("Part 2 — the fixed pipeline: KV cache (kata 14) + fast backend (16) + int8 per-channel weights and "
        f"embeddings (17), calibrated on {len(calibration)} batches; both measured in one run (kata 19)")
    pipeline = FixedPipeline(model, calibration)
    figures = measure(model, pipeline, validation, evaluation, seed=seed, work_clock=quick, log=log)

    wall, n, batch = figures["wall"], evaluation["new_tokens"], evaluation["batch"]
    speedup, (low, high) = wall.speedup, wall.speedup_ci
    base_tps, opt_tps = batch * n / wall.a.median, batch * n / wall.b.median
    size_ratio = figures["baseline_bytes"] / figures["optimized_bytes"]
    delta = figures["optimized_loss"] - figures["baseline_loss"]
    decode = baseline["tokenizer"].decode
    for name in ("baseline", "optimized"):
        text = decode(figures["outputs"][name][0, evaluation["prompt_len"]:].tolist())[:70]
        log(f"  {name:9s} greedy: {text!r}")
    log(f"  greedy tokens agree on {figures['agreement']:.1%} of {batch} × {n}")
    single = figures.get("single")
    if single is not None:
        s_low, s_high = single.speedup_ci
        log(f"single stream (one prompt at a time, not scored): {single.speedup:.1f}× (95% CI {s_low:.1f}–{s_high:.1f}; "
            f"{n / single.a.median:,.0f} → {n / single.b.median:,.0f} tokens/s) — a cached decode step is ~100 small "
            f"ops whose fixed cost a batch shares")

    speed_value = (f"{speedup:.1f}× (95% CI {low:.1f}–{high:.1f}; {base_tps:,.0f} → {opt_tps:,.0f} tokens/s, "
                   f"medians of {wall.a.n} interleaved rounds)")
    checks = [
        {"name": "weights", "value": f"{size_ratio:.2f}× smaller ({figures['baseline_bytes']:,} → "
                                     f"{figures['optimized_bytes']:,} bytes)",
         "target": f">= {targets['size_ratio']:g}×", "ok": size_ratio >= targets["size_ratio"]},
        {"name": "validation loss", "value": f"{delta:+.4f} nats/char ({figures['baseline_loss']:.4f} → "
                                             f"{figures['optimized_loss']:.4f})",
         "target": f"<= +{targets['loss_delta']:g}", "ok": delta <= targets["loss_delta"]},
    ]
    if quick:
        work = figures["work"]
        log(f"wall clock (not scored in quick mode: a tiny model on a shared machine): generation {speed_value}")
        metric = work.speedup
        rows = f"{work.a.median:,.0f} vs {work.b.median:,.0f} token rows per generation"
        dataset = f"quick: speedup on a work clock ({rows}), {baseline['corpus']}"
    else:
        checks.insert(0, {"name": f"generation speedup at {n} new tokens × {batch} prompts", "value": speed_value,
                          "target": f">= {targets['speedup']:g}×", "ok": speedup >= targets["speedup"]})
        metric = speedup
        dataset = f"{baseline['corpus']} ({baseline['characters']:,} characters), {batch} × {n} new tokens"
    return {
        "metric": metric, "dataset": dataset, "seconds": time.perf_counter() - start, "checks": checks,
        "speedup": speedup, "speedup_ci": (low, high), "baseline_tokens_per_s": base_tps,
        "optimized_tokens_per_s": opt_tps, "single_stream_speedup": single.speedup if single is not None else None,
        "size_ratio": size_ratio, "baseline_bytes": figures["baseline_bytes"],
        "optimized_bytes": figures["optimized_bytes"], "baseline_loss": figures["baseline_loss"],
        "optimized_loss": figures["optimized_loss"], "loss_delta": delta, "token_agreement": figures["agreement"],
        "train_seconds": baseline["seconds"], "config": cfg,
    }


if __name__ == "__main__":
    print(run())
