"""Probes for kata 20 (Capstone): int8 embeddings (codes, scales, lookups, slices, refusals), the
OptimizedGPT (its backend, cached and uncached generation, the cache reused), optimize (what
each choice does to the copy, the recorded choices, static and dynamic scales), weight bytes and
the validation loss, evaluate on a fake clock that the models charge per token row (exact
speedups, nothing timed for real), and the submission (figures, config, refusals, the file).

Integer codes are compared exactly, so weights are drawn away from the rounding ties of
``round(w / scale)``; figures computed through quantized activations are compared as what the
kata pins (agreement, consistency), not value by value."""

import json
import math

import numpy as np

from dojo.classroom.probes import probe, raises

QMAX = 127


def _away_from_ties(x, scale, margin=0.02):
    """Move every value whose ``x / scale`` lies within ``margin`` of k + 1/2 by ``2·margin·scale`` toward 0."""
    x = np.array(x, dtype=np.float32)
    scale = np.broadcast_to(np.asarray(scale, dtype=np.float64), x.shape)
    code = np.abs(x.astype(np.float64)) / scale
    tie = np.abs(code - np.floor(code) - 0.5) < margin
    x[tie] = (np.sign(x[tie]) * (code[tie] - 2 * margin) * scale[tie]).astype(np.float32)
    return x


def _rows_ready(w):
    return _away_from_ties(w, np.abs(w).max(axis=1, keepdims=True).astype(np.float64) / QMAX)


def _gpt(rng, vocab=11, block=16, n_layer=1, n_head=2, n_embd=8):
    """A GPT with every weight set from the seed (2-D weights: no per-row rounding ties)."""
    from tinytorch.transformer import GPT

    model = GPT(vocab_size=vocab, block_size=block, n_layer=n_layer, n_head=n_head, n_embd=n_embd)
    for _, p in sorted(model.named_parameters(), key=lambda item: item[0]):
        values = rng.normal(scale=0.3, size=p.shape).astype(np.float32)
        p.data[...] = _rows_ready(values) if values.ndim == 2 else values
    model.eval()
    return model


def _restore_backend():
    from tinytorch import acceleration, tensor

    tensor.set_dispatcher(None)
    try:
        acceleration.set_backend("reference")
    except Exception:  # noqa: BLE001 - a stubbed kata 16: the probe has already failed
        pass


@probe("embeddings")
def int8_embeddings(rng):
    from tinytorch.capstone import QuantizedEmbedding
    from tinytorch.embeddings import Embedding, PositionalEmbedding

    rows, dim = int(rng.integers(4, 9)), int(rng.integers(3, 7))
    emb = Embedding(rows, dim)
    emb.weight.data[...] = _rows_ready((rng.normal(size=(rows, dim)) * np.logspace(-2, 1, rows)[:, None]).astype(np.float32))
    original = emb.weight.data.copy()
    q = QuantizedEmbedding.from_embedding(emb)
    ids = rng.integers(0, rows, size=(2, 3))
    out = q(ids)
    pos = PositionalEmbedding(int(rng.integers(6, 12)), dim)
    pos.weight.data[...] = _rows_ready(rng.normal(size=pos.weight.shape).astype(np.float32))
    qp = QuantizedEmbedding.from_embedding(pos)
    T, a = int(rng.integers(1, qp.num_embeddings + 1)), int(rng.integers(0, 3))
    sliced = qp.weight[a:a + 3]
    zeroed = QuantizedEmbedding.from_embedding(emb)
    zeroed.weight_int8[int(ids[0, 0])] = 0
    return {"codes": q.weight_int8, "scales": q.weight_scale, "dtypes": [str(q.weight_int8.dtype), str(q.weight_scale.dtype)],
            "parameters": len(q.parameters()), "buffer_bytes": sum(b.nbytes for b in q.buffers().values()),
            "original_kept": bool(np.array_equal(original, emb.weight.data)), "lookup": out, "lookup_type": type(out).__name__,
            "one": q.lookup(np.array(int(ids[1, 1]))), "positions": qp(T), "slice": sliced, "slice_type": type(sliced).__name__,
            "zeroed": zeroed(ids),
            "errors": [raises(lambda: q(np.array([0, rows]))), raises(lambda: q(np.array([[-1, 0]]))), raises(lambda: q(rows + 1))]}


@probe("pipeline")
def optimized_gpt(rng):
    import copy

    from tinytorch import acceleration
    from tinytorch.capstone import OptimizedGPT
    from tinytorch.layers import Module

    class CountRows(Module):
        def __init__(self, inner):
            super().__init__()
            self.inner, self.rows = inner, 0

        def forward(self, x):
            self.rows += int(np.prod(x.shape[:-1]))
            return self.inner(x)

    try:
        model = _gpt(rng, vocab=13, block=20, n_layer=2)
        x = rng.integers(0, 13, size=(2, int(rng.integers(3, 8))))
        acceleration.set_backend("reference")
        acceleration.reset_counters()
        fast = OptimizedGPT(copy.deepcopy(model), kv_cache=True, backend="fast")
        logits = fast(x)
        after = [acceleration.get_backend(), acceleration.counters().get(("gelu", "fast"), 0)]
        _, loss = fast(x, targets=rng.integers(0, 13, size=x.shape))
        acceleration.reset_counters()
        reference = OptimizedGPT(copy.deepcopy(model), backend="reference")
        reference(x)
        quiet = acceleration.counters() == {}
        for block in fast.model.blocks:
            block.attn.k_proj = CountRows(block.attn.k_proj)
        T, n = int(rng.integers(2, 6)), int(rng.integers(4, 10))
        prompt = rng.integers(0, 13, size=(2, T))
        greedy = fast.generate(prompt, n, greedy=True)
        rows = [block.attn.k_proj.rows for block in fast.model.blocks]
        seed = int(rng.integers(0, 1000))
        sampled = fast.generate(prompt, n, temperature=0.9, top_k=5, seed=seed)
        slow = OptimizedGPT(copy.deepcopy(model), kv_cache=False, backend="reference")
        for block in slow.model.blocks:
            block.attn.k_proj = CountRows(block.attn.k_proj)
        uncached = slow.generate(prompt, n, greedy=True)
        slow_rows = [block.attn.k_proj.rows for block in slow.model.blocks]
        cache = fast.cache_for(2)
        held = [t.data for t in cache.k]
        fast.generate(prompt[:, :2], 3, greedy=True)
        reused = fast.cache_for(2) is cache and all(t.data is a for t, a in zip(cache.k, held))
        refused = raises(lambda: fast.generate(rng.integers(0, 13, size=(2, 10)), 12, greedy=True))
        restored = acceleration.get_backend()
        as_model = [np.array_equal(greedy.data, model.generate(prompt, n, greedy=True).data),
                    np.array_equal(sampled.data, model.generate(prompt, n, temperature=0.9, top_k=5, seed=seed).data)]
        return {"logits": logits, "after_forward": after, "loss_shape": list(loss.shape), "reference_quiet": quiet,
                "greedy": greedy, "dtype": str(greedy.dtype), "rows": rows, "sampled": sampled, "as_model": [bool(v) for v in as_model],
                "uncached": uncached, "uncached_rows": slow_rows, "cache_reused": reused, "refused": refused, "restored": restored}
    finally:
        _restore_backend()


@probe("optimize")
def optimize_choices(rng):
    from tinytorch.capstone import OptimizedGPT, QuantizedEmbedding, optimize
    from tinytorch.layers import Linear, Sequential
    from tinytorch.quantization import QuantizedLinear, modules

    def linears(m, kind):
        return [x for x in modules(m) if isinstance(x, kind)]

    try:
        model = _gpt(rng, vocab=13, block=24, n_layer=2, n_embd=16)
        before = {name: p.data.copy() for name, p in model.named_parameters()}
        calibration = [rng.integers(0, 13, size=(3, 12))]
        out = optimize(model, calibration=calibration)
        default = {"type": type(out).__name__ if isinstance(out, OptimizedGPT) else "", "copy": out.model is not model,
                   "qlinears": len(linears(out.model, QuantizedLinear)), "float_linears": len(linears(out.model, Linear)),
                   "per_channel": all(q.per_channel for q in linears(out.model, QuantizedLinear)),
                   "embeddings": [type(out.model.tok_emb).__name__, type(out.model.pos_emb).__name__],
                   "original_kept": all(np.array_equal(p.data, before[name]) for name, p in model.named_parameters()),
                   "run": [out.kv_cache, out.backend], "codes": [q.weight_int8 for q in linears(out.model, QuantizedLinear)],
                   "static": all(q.input_scale is not None and q.input_scale > 0 for q in linears(out.model, QuantizedLinear))}
        prune = float(rng.choice([0.25, 0.5]))
        chosen = optimize(model, calibration, per_channel=False, backend="reference", kv_cache=False, prune=prune)
        again = optimize(model, calibration, **chosen.choices)
        pairs = list(zip(linears(chosen.model, QuantizedLinear), linears(again.model, QuantizedLinear)))
        codes = [q.weight_int8 for q in linears(chosen.model, QuantizedLinear)]
        zeros = sum(int((c == 0).sum()) for c in codes) / sum(c.size for c in codes)
        rebuilt = {"choices": chosen.choices, "same": bool(pairs and all(np.array_equal(a.weight_int8, b.weight_int8) for a, b in pairs)),
                   "per_tensor": all(a.weight_scale.shape == () for a, _ in pairs), "run": [again.kv_cache, again.backend],
                   "pruned_enough": zeros >= prune, "shapes_kept": [list(c.shape) for c in codes] == [list(q.weight.shape) for q in linears(model, Linear)]}
        dynamic = optimize(model)
        cached, uncached = optimize(model, calibration, kv_cache=True), optimize(model, calibration, kv_cache=False)
        p = rng.integers(0, 13, size=(1, int(rng.integers(2, 6))))
        a, b = cached.generate(p, 10, greedy=True).data, uncached.generate(p, 10, greedy=True).data
        floats = optimize(model, weights="float32", embeddings="float32", backend="reference")
        x = rng.integers(0, 13, size=(2, 6))
        rank = int(rng.integers(1, 5))
        thin = optimize(model, low_rank=rank)
        narrow = optimize(model, mlp_units=0.5)
        shapes = {"thin": [[type(layer).__name__, len(layer) if isinstance(layer, Sequential) else 0, layer[0].out_features, layer[1].in_features]
                           for block in thin.model.blocks for layer in (block.mlp.fc, block.mlp.proj)],
                  "narrow": [[block.mlp.fc.out_features, block.mlp.proj.in_features] for block in narrow.model.blocks],
                  "logits": [list(thin(x).shape), list(narrow(x).shape)]}
        errors = [raises(lambda kw=kw: optimize(model, **kw)) for kw in (
            dict(weights="int4"), dict(embeddings="fp16"), dict(backend="gpu"), dict(prune=1.0), dict(prune=-0.1),
            dict(mlp_units=1.5), dict(low_rank=0), dict(low_rank=2, mlp_units=0.5))]
        return {"default": default, "rebuilt": rebuilt, "dynamic": all(q.input_scale is None for q in linears(dynamic.model, QuantizedLinear)),
                "cached_is_uncached": bool(np.array_equal(a, b)), "argmax": bool(np.array_equal(cached(a[:, :-1]).data[:, -1].argmax(-1), a[:, -1])),
                "float": {"quantized": len(linears(floats.model, QuantizedLinear)) + len(linears(floats.model, QuantizedEmbedding)),
                          "logits": floats(x), "model_logits": model(x)},
                "shapes": shapes, "errors": errors}
    finally:
        _restore_backend()


@probe("measure")
def bytes_and_loss(rng):
    from tinytorch.capstone import QuantizedEmbedding, optimize, validation_loss, weight_bytes
    from tinytorch.layers import Linear, Module, Parameter
    from tinytorch.quantization import QuantizedLinear, modules
    from tinytorch.tensor import Tensor

    try:
        V = 11
        model = _gpt(rng, vocab=V, block=int(rng.integers(8, 20)), n_embd=16)
        data = [rng.integers(0, V, size=(b, 9)) for b in (int(rng.integers(1, 3)), int(rng.integers(3, 6)))]
        batches = [(d[:, :-1], d[:, 1:]) for d in data]
        out = optimize(model, calibration=[batches[0][0]])
        expected = 4 * sum(p.data.size for p in out.parameters())
        for m in modules(out):
            if isinstance(m, (QuantizedLinear, QuantizedEmbedding)):
                expected += m.weight_int8.size + 4 * m.weight_scale.size + (4 if getattr(m, "input_scale", None) is not None else 0)
        got = weight_bytes(out)
        out.generate(batches[0][0][:1, :3], 5, greedy=True)

        class Tied(Module):
            def __init__(self):
                super().__init__()
                self.a = Linear(10, 10)
                self.b = Linear(10, 10)
                self.b.weight = Parameter(np.zeros(1))
                self.b.weight.data = self.a.weight.data.T
                self.again = self.a

        class Oracle(Module):
            def __init__(self, answers):
                super().__init__()
                self.answers = answers

            def forward(self, x):
                return Tensor(np.eye(V, dtype=np.float32)[self.answers] * 50)

        base = validation_loss(model, batches)
        out.model.head.weight_int8[...] = 0
        x, y = batches[1]
        return {"float_bytes": weight_bytes(model), "float_is_4_per_number": weight_bytes(model) == 4 * sum(p.data.size for p in model.parameters()),
                "optimized": [got, got == expected, weight_bytes(out) == got], "tied": weight_bytes(Tied()),
                "loss": base, "mean_over_positions": validation_loss(model, batches[:1]) * batches[0][1].size / (batches[0][1].size + y.size)
                + validation_loss(model, batches[1:]) * y.size / (batches[0][1].size + y.size),
                "uniform": math.isclose(validation_loss(out, batches), math.log(V), rel_tol=1e-9),
                "unchanged": validation_loss(model, batches) == base, "oracle": validation_loss(Oracle(y), [(x, y)]) < 1e-12,
                "wrong_oracle": validation_loss(Oracle((y + 1) % V), [(x, y)])}
    finally:
        _restore_backend()


@probe("evaluate")
def evaluate_on_a_fake_clock(rng):
    from tinytorch import acceleration
    from tinytorch.capstone import CapstoneReport, evaluate, optimize, validation_loss, weight_bytes
    from tinytorch.layers import Module

    class Clock:
        def __init__(self):
            self.now = 0.0

        def __call__(self):
            return self.now

    class Charge(Module):
        """Each token row the model looks up costs ``cost`` seconds on the clock."""

        def __init__(self, inner, clock, cost, log):
            super().__init__()
            self.inner, self.clock, self.cost, self.log = inner, clock, cost, log

        def forward(self, ids):
            self.clock.now += self.cost * np.asarray(ids.data if hasattr(ids, "data") else ids).size
            self.log.append(acceleration.get_backend())
            return self.inner(ids)

    try:
        V = 11
        model = _gpt(rng, vocab=V, block=16, n_embd=16)
        data = rng.integers(0, V, size=(3, 13))
        val = [(data[:, :-1], data[:, 1:])]
        kv = bool(rng.integers(0, 2))
        optimized = optimize(model, calibration=[data[:, :-1]], kv_cache=kv)
        clock, logs = Clock(), ([], [])
        cost, factor = float(rng.choice([1e-3, 2e-3])), float(rng.choice([1.0, 3.0]))
        model.tok_emb = Charge(model.tok_emb, clock, cost, logs[0])
        optimized.model.tok_emb = Charge(optimized.model.tok_emb, clock, cost * factor, logs[1])
        T, N, batch = int(rng.integers(2, 6)), int(rng.integers(4, 11)), int(rng.integers(1, 3))
        rounds, seed = int(rng.integers(2, 4)), int(rng.integers(0, 100))
        acceleration.set_backend("fast")
        report = evaluate(model, optimized, val, new_tokens=N, prompt_len=T, batch=batch, rounds=rounds, seed=seed, clock=clock)
        still_fast = acceleration.get_backend() == "fast"
        acceleration.set_backend("reference")
        prompts = val[0][0][:batch, :T]
        both = model.generate(prompts, N, greedy=True).data[:, T:] == optimized.generate(prompts, N, greedy=True).data[:, T:]
        figures = report.figures()
        return {"type": type(report).__name__ if isinstance(report, CapstoneReport) else "",
                "seconds": [report.baseline_seconds, report.optimized_seconds], "speedup": report.speedup,
                "speedup_ci": list(report.speedup_ci), "tokens_per_s": [report.baseline_tokens_per_s, report.optimized_tokens_per_s],
                "rounds": [report.comparison.a.n, report.comparison.b.n] if report.comparison is not None else [],
                "bytes": [report.baseline_bytes == weight_bytes(model), report.optimized_bytes == weight_bytes(optimized)],
                "losses": [math.isclose(report.baseline_loss, validation_loss(model, val), rel_tol=1e-9),
                           math.isclose(report.optimized_loss, validation_loss(optimized, val), rel_tol=1e-9)],
                "agreement": math.isclose(report.token_agreement, float(both.mean())), "batch": [report.batch, report.settings.get("batch")],
                "settings": {k: report.settings.get(k) for k in ("new_tokens", "prompt_len", "rounds", "seed")},
                "model": report.model, "choices": [report.choices == optimized.choices, report.choices is not optimized.choices],
                "environment": sorted({"python", "numpy", "blas_threads", "cpu_count", "load_average"} - set(report.environment)),
                "backends": [sorted(set(logs[0])), sorted(set(logs[1]))], "still_fast": still_fast,
                "figures": {k: v for k, v in figures.items() if k not in ("baseline_loss", "optimized_loss", "loss_delta", "token_agreement")},
                "errors": [raises(lambda: evaluate(model, optimized, val, new_tokens=17 - T + 1, prompt_len=T, rounds=2, clock=clock)),
                           raises(lambda: evaluate(model, optimized, val, new_tokens=2, prompt_len=13, rounds=2, clock=clock)),
                           raises(lambda: evaluate(model, optimized, val, new_tokens=2, prompt_len=T, batch=4, rounds=2, clock=clock))]}
    finally:
        _restore_backend()


def _report(rng):
    from tinytorch.capstone import CapstoneReport

    speedup = float(np.round(rng.uniform(2, 20), 3))
    return CapstoneReport(
        new_tokens=int(rng.integers(8, 300)), prompt_len=int(rng.integers(1, 64)), batch=int(rng.integers(1, 5)), rounds=int(rng.integers(2, 6)),
        baseline_seconds=float(np.round(rng.uniform(1, 10), 3)), optimized_seconds=float(np.round(rng.uniform(0.1, 1), 3)), speedup=speedup,
        speedup_ci=(speedup * 0.9, speedup * 1.1), baseline_bytes=int(rng.integers(10**6, 3 * 10**6)), optimized_bytes=int(rng.integers(10**5, 10**6)),
        baseline_loss=float(np.round(rng.uniform(1.5, 2.5), 3)), optimized_loss=float(np.round(rng.uniform(1.5, 2.5), 3)),
        token_agreement=float(np.round(rng.uniform(0.5, 1), 3)),
        choices={"kv_cache": True, "backend": "fast", "weights": "int8", "low_rank": None},
        model={"vocab_size": 65, "block_size": 320, "n_layer": 3, "n_head": 4, "n_embd": 128},
        settings={"new_tokens": 256, "prompt_len": 64, "batch": 4, "rounds": 3, "seed": int(rng.integers(0, 10))},
        environment={"python": "3.12.1", "numpy": "2.4.0", "blas_threads": 1, "load_average": [0.5, 0.4, 0.3]})


@probe("submission")
def submission_file(rng):
    import dataclasses
    import shutil
    import tempfile
    from pathlib import Path

    from tinytorch.capstone import FORMAT_VERSION, KIND, submission, write_submission

    report = _report(rng)
    seed = int(rng.integers(0, 100))
    data = submission(report, seed=seed, training={"steps": int(rng.integers(1, 500)), "corpus": "probe"})
    created = data.get("created")
    rest = {k: v for k, v in data.items() if k != "created"}
    folder = Path(tempfile.mkdtemp(prefix="probe-capstone-"))
    try:
        path = write_submission(folder / "out" / "capstone.json", report, seed=seed)
        text = path.read_text(encoding="utf-8")
        written = json.loads(text)
        refused = raises(lambda: write_submission(path, dataclasses.replace(report, speedup=float("nan"))))
        kept = json.loads(path.read_text(encoding="utf-8")) == written
        files = sorted(p.name for p in path.parent.iterdir())
        file = {"returned": path == folder / "out" / "capstone.json", "newline": text.endswith("\n"), "indented": text.startswith("{\n  "),
                "sorted": list(written) == sorted(written), "same": {k: v for k, v in written.items() if k != "created"} == {
                    k: v for k, v in submission(report, seed=seed).items() if k != "created"},
                "refused": refused, "kept": kept, "files": files}
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {"content": json.dumps(rest, sort_keys=True), "versions": [FORMAT_VERSION, KIND],
            "created": bool(isinstance(created, str) and created[:2] == "20" and "T" in created),
            "plain_json": json.loads(json.dumps(data, allow_nan=False)) == data, "file": file,
            "errors": [raises(lambda: submission(dataclasses.replace(report, optimized_loss=float("nan")))),
                       raises(lambda: submission(dataclasses.replace(report, speedup_ci=(1.0, float("inf"))))),
                       raises(lambda: submission(report, seed=object()))]}
