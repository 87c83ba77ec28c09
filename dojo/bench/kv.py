"""``make bench`` row: KV-cached vs uncached greedy generation (kata 14), tokens per second.

The model has milestone 05's shape (``milestones.shakespeare.FULL``: 3 layers, 4 heads, 128
wide) and Tiny Shakespeare's 65 characters as vocabulary. Its context is raised from 64 to
``PROMPT + max(new tokens)`` (272) so that 256 new tokens fit without cropping: a KV cache
cannot crop, and uncached generation that crops at 64 would do bounded work per token, which
is not the comparison kata 14 is about. Weights are random (seeded), in kata 13's layout and
initialisation. Random weights would flatter the speedup if they sent the uncached pass down a
slow path (arithmetic on subnormal floats is many times slower on most CPUs); they do not: no
array returned by tinytorch's ops during a 64-token uncached generation (~10⁸ values, either
backend) holds a subnormal number, with these weights or with the same model trained 150 steps
on the bundled Shakespeare excerpt (loss 4.35 → 2.45); and the trained model, timed in turns
with the random one, generated as fast, cached and uncached, within the run-to-run noise.

Each implementation generates greedily, once without a cache (the whole sequence through the
model for every token) and once with one (the prompt once, then one token per step):

* **tinytorch** — ``GPT.generate`` (kata 13) vs ``kv_cache.generate_cached`` (kata 14), the
  implementation chosen with ``--impl`` (default: the reference solutions);
* **tinytorch, fast backend** — the same model and calls with every op under kata 16's
  ``tinytorch.backend("fast")`` (its fused kernels; in cached generation each block runs as one
  ``cached_block`` kernel, the inference fast path of kata 16's step 6);
* **raw NumPy** — the same model written out in float32 NumPy, uncached vs a preallocated
  cache: what the algorithm gives without a framework's per-operation cost;
* **PyTorch** — the same model in ``torch`` (``F.scaled_dot_product_attention``, a
  preallocated cache, ``inference_mode``), when ``import torch`` works.

All of them start from the same weights: before timing, their prefill logits are compared
(|Δ| ≤ 1e-4), and within each implementation the cached tokens must equal the uncached ones.
Then the implementations run in turns, ``--repeats`` times per length, each one's uncached and
cached generations side by side (alternating which goes first), so a noisy neighbour hurts
them alike; the table shows tokens/s from the median time of a whole generation (prefill
included) and the speedup: the median of the per-repeat ratios, measured in the same run.

Part of ``make bench`` (``make bench ONLY=kv``); on its own ``python -m dojo.bench.kv``;
:func:`kv_rows` returns the numbers, :func:`report` prints them.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time

from dojo.bench.core import Unavailable

VOCAB = 65  # Tiny Shakespeare's characters
PROMPT = 16  # tokens of prompt before generating
NEW_TOKENS = (64, 256)
SEED = 0
GOALS = {64: 4.0, 256: 10.0}  # cached / uncached speedups the course aims at (DESIGN.md)


def config(new_tokens=NEW_TOKENS, prompt=PROMPT) -> dict:
    """Milestone 05's model shape with a context long enough for ``prompt + max(new_tokens)``."""
    from milestones.shakespeare import FULL

    block = max(FULL.block_size, prompt + max(new_tokens))
    return dict(vocab_size=VOCAB, block_size=block, n_layer=FULL.n_layer, n_head=FULL.n_head, n_embd=FULL.n_embd)


def weights(cfg: dict, seed=SEED) -> dict:
    """Random float32 weights in kata 13's layout and initialisation (embeddings N(0, 1), Linear
    U(±1/√fan_in), LayerNorm ones and zeros): ``{"tok", "pos", "blocks": [...], "ln_f", "head"}``."""
    import numpy as np

    rng = np.random.default_rng(seed)
    C, V = cfg["n_embd"], cfg["vocab_size"]

    def linear(n_in, n_out, bias=True):
        k = 1 / math.sqrt(n_in)
        w = rng.uniform(-k, k, (n_out, n_in)).astype(np.float32)
        return (w, rng.uniform(-k, k, n_out).astype(np.float32) if bias else None)

    def norm():
        return (np.ones(C, np.float32), np.zeros(C, np.float32))

    blocks = [dict(ln1=norm(), q=linear(C, C), k=linear(C, C), v=linear(C, C), out=linear(C, C),
                   ln2=norm(), fc=linear(C, 4 * C), proj=linear(4 * C, C)) for _ in range(cfg["n_layer"])]
    return dict(tok=rng.standard_normal((V, C)).astype(np.float32),
                pos=rng.standard_normal((cfg["block_size"], C)).astype(np.float32),
                blocks=blocks, ln_f=norm(), head=linear(C, V, bias=False)[0])


def prompt_ids(cfg: dict, prompt=PROMPT, seed=SEED):
    import numpy as np

    return np.random.default_rng(seed + 1).integers(0, cfg["vocab_size"], size=(1, prompt))


# ---------------------------------------------------------------------------------------------
# Implementations: each returns {"prefill": ids -> logits of the last position,
#                                "uncached": (ids, n) -> tokens, "cached": (ids, n) -> tokens}
# ---------------------------------------------------------------------------------------------


def tinytorch_impl(cfg: dict, w: dict) -> dict:
    """Kata 13's GPT with the weights copied in; kata 14's generate_cached."""
    import importlib

    import numpy as np

    try:
        tensor = importlib.import_module("tinytorch.tensor")
        transformer = importlib.import_module("tinytorch.transformer")
        kv = importlib.import_module("tinytorch.kv_cache")
    except ImportError as error:
        raise Unavailable(f"tinytorch cannot be imported: {error}") from None
    try:
        model = transformer.GPT(**cfg)
        model.tok_emb.weight.data[...] = w["tok"]
        model.pos_emb.weight.data[...] = w["pos"]
        for block, b in zip(model.blocks, w["blocks"]):
            for module, (weight, bias) in ((block.ln1, b["ln1"]), (block.ln2, b["ln2"]),
                                           (block.attn.q_proj, b["q"]), (block.attn.k_proj, b["k"]),
                                           (block.attn.v_proj, b["v"]), (block.attn.out_proj, b["out"]),
                                           (block.mlp.fc, b["fc"]), (block.mlp.proj, b["proj"])):
                module.weight.data[...] = weight
                module.bias.data[...] = bias
        model.ln_f.weight.data[...], model.ln_f.bias.data[...] = w["ln_f"]
        model.head.weight.data[...] = w["head"]
        model.eval()
        cache = kv.KVCache.for_model(model, 1)
        kv.generate_cached(model, np.zeros((1, 1), np.int64), 1, greedy=True, cache=cache)  # stubbed?
    except NotImplementedError as error:
        raise Unavailable(f"not implemented yet: {error}") from None
    Tensor = tensor.Tensor

    return {
        "prefill": lambda ids: model(Tensor(ids)).data[:, -1],
        "uncached": lambda ids, n: model.generate(ids, max_new_tokens=n, greedy=True).data,
        "cached": lambda ids, n: kv.generate_cached(model, ids, n, greedy=True, cache=cache).data,
        "cache_bytes": cache.nbytes,
    }


def tinytorch_fast_impl(cfg: dict, w: dict) -> dict:
    """The same tinytorch model and cache, every op under kata 16's ``tinytorch.backend("fast")``."""
    import importlib

    import numpy as np

    base = tinytorch_impl(cfg, w)
    try:
        tt = importlib.import_module("tinytorch")
        with tt.backend("fast"):
            base["cached"](np.zeros((1, 1), np.int64), 2)  # a prefill and a decode step: every kernel they use
    except (ImportError, AttributeError, ValueError, NotImplementedError) as error:
        raise Unavailable(f"kata 16's fast backend is not available: {error}") from None

    def fast(fn):
        def run(*args):
            with tt.backend("fast"):
                return fn(*args)
        return run

    return {**{k: fast(base[k]) for k in ("prefill", "uncached", "cached")}, "cache_bytes": base["cache_bytes"]}


def numpy_impl(cfg: dict, w: dict) -> dict:
    """The same GPT in float32 NumPy: uncached (full forward per token) and with a preallocated cache."""
    import numpy as np

    H, C = cfg["n_head"], cfg["n_embd"]
    hd = C // H
    scale = np.float32(1 / math.sqrt(hd))
    gelu_c = np.float32(math.sqrt(2 / math.pi))

    def layer_norm(x, p):
        mu = x.mean(-1, keepdims=True)
        xc = x - mu
        return xc / np.sqrt((xc * xc).mean(-1, keepdims=True) + np.float32(1e-5)) * p[0] + p[1]

    def linear(x, p):
        return x @ p[0].T + p[1]

    def heads(x):  # (B, T, C) -> (B, H, T, hd)
        B, T, _ = x.shape
        return x.reshape(B, T, H, hd).transpose(0, 2, 1, 3)

    def forward(ids, cache=None, past=0):
        B, T = ids.shape
        x = w["tok"][ids] + w["pos"][past:past + T]
        for layer, b in enumerate(w["blocks"]):
            h = layer_norm(x, b["ln1"])
            q, k, v = heads(linear(h, b["q"])), heads(linear(h, b["k"])), heads(linear(h, b["v"]))
            if cache is not None:
                cache[0][layer][:, :, past:past + T] = k
                cache[1][layer][:, :, past:past + T] = v
                k, v = cache[0][layer][:, :, :past + T], cache[1][layer][:, :, :past + T]
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale
            if T > 1:  # a single new token may read everything
                scores = np.where(np.tri(T, past + T, past, dtype=bool), scores, np.float32(-1e9))
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            att = (scores / scores.sum(-1, keepdims=True)) @ v
            x = x + linear(att.transpose(0, 2, 1, 3).reshape(B, T, C), b["out"])
            h = linear(layer_norm(x, b["ln2"]), b["fc"])
            h = np.float32(0.5) * h * (np.float32(1) + np.tanh(gelu_c * (h + np.float32(0.044715) * h * h * h)))
            x = x + linear(h, b["proj"])
        return layer_norm(x[:, -1], w["ln_f"]) @ w["head"].T

    def uncached(ids, n):
        out = ids
        for _ in range(n):
            nxt = forward(out).argmax(-1)
            out = np.concatenate([out, nxt[:, None]], axis=1)
        return out

    shape = (1, H, cfg["block_size"], hd)
    cache = ([np.zeros(shape, np.float32) for _ in w["blocks"]], [np.zeros(shape, np.float32) for _ in w["blocks"]])

    def cached(ids, n):
        B, T = ids.shape
        out = np.empty((B, T + n), np.int64)
        out[:, :T] = ids
        logits = forward(ids, cache, 0)
        for i in range(n):
            out[:, T + i] = logits.argmax(-1)
            if i + 1 < n:
                logits = forward(out[:, T + i:T + i + 1], cache, T + i)
        return out

    return {"prefill": lambda ids: forward(ids), "uncached": uncached, "cached": cached,
            "cache_bytes": sum(a.nbytes for a in cache[0] + cache[1])}


def torch_impl(cfg: dict, w: dict) -> dict:
    """The same GPT in PyTorch (CPU, float32, inference_mode), uncached and with a preallocated cache."""
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        raise Unavailable('PyTorch not installed (pip install -e ".[bench]")') from None
    import numpy as np

    H, C = cfg["n_head"], cfg["n_embd"]
    hd = C // H
    t = torch.from_numpy

    def pair(p):
        return (t(p[0]), None if p[1] is None else t(p[1]))

    tok, pos, head = t(w["tok"]), t(w["pos"]), t(w["head"])
    ln_f = pair(w["ln_f"])
    blocks = [{name: pair(p) for name, p in b.items()} for b in w["blocks"]]

    def heads(x):
        B, T, _ = x.shape
        return x.view(B, T, H, hd).transpose(1, 2)

    def forward(ids, cache=None, past=0):
        B, T = ids.shape
        x = tok[ids] + pos[past:past + T]
        for layer, b in enumerate(blocks):
            h = F.layer_norm(x, (C,), *b["ln1"])
            q, k, v = heads(F.linear(h, *b["q"])), heads(F.linear(h, *b["k"])), heads(F.linear(h, *b["v"]))
            if cache is not None:
                cache[0][layer][:, :, past:past + T] = k
                cache[1][layer][:, :, past:past + T] = v
                k, v = cache[0][layer][:, :, :past + T], cache[1][layer][:, :, :past + T]
            if past == 0:
                att = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            elif T == 1:
                att = F.scaled_dot_product_attention(q, k, v)  # one new token reads everything
            else:  # is_causal aligns its triangle top-left: a chunk after a past needs (T, past + T)
                mask = torch.ones(T, past + T, dtype=torch.bool).tril(past)
                att = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
            x = x + F.linear(att.transpose(1, 2).reshape(B, T, C), *b["out"])
            x = x + F.linear(F.gelu(F.linear(F.layer_norm(x, (C,), *b["ln2"]), *b["fc"]), approximate="tanh"), *b["proj"])
        return F.layer_norm(x[:, -1], (C,), *ln_f) @ head.T

    def uncached(ids, n):
        with torch.inference_mode():
            out = torch.from_numpy(ids)
            for _ in range(n):
                out = torch.cat([out, forward(out).argmax(-1, keepdim=True)], dim=1)
        return out.numpy()

    shape = (1, H, cfg["block_size"], hd)
    cache = ([torch.zeros(shape) for _ in blocks], [torch.zeros(shape) for _ in blocks])

    def cached(ids, n):
        B, T = ids.shape
        with torch.inference_mode():
            out = torch.empty((B, T + n), dtype=torch.int64)
            out[:, :T] = torch.from_numpy(ids)
            logits = forward(out[:, :T], cache, 0)
            for i in range(n):
                out[:, T + i] = logits.argmax(-1)
                if i + 1 < n:
                    logits = forward(out[:, T + i:T + i + 1], cache, T + i)
        return out.numpy()

    def prefill(ids):
        with torch.inference_mode():
            return forward(torch.from_numpy(np.ascontiguousarray(ids))).numpy()

    return {"prefill": prefill, "uncached": uncached, "cached": cached,
            "cache_bytes": sum(a.numel() * a.element_size() for a in cache[0] + cache[1])}


IMPLEMENTATIONS = {"tinytorch": tinytorch_impl, "tinytorch, fast backend": tinytorch_fast_impl,
                   "raw NumPy": numpy_impl, "PyTorch": torch_impl}


# ---------------------------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------------------------


def kv_rows(new_tokens=NEW_TOKENS, repeats=3, prompt=PROMPT, implementations=None, log=None) -> list:
    """Time cached and uncached greedy generation; return one dict per (implementation, length).

    Keys: ``implementation``, ``new_tokens``, ``uncached_tok_s``, ``cached_tok_s``, ``speedup``
    (the median over repeats of uncached time / cached time, the two run side by side in the
    same repeat), ``uncached_ms``,
    ``cached_ms`` (medians of whole generations), ``same_tokens`` (cached == uncached),
    ``cache_bytes`` (the K/V arrays the implementation's cache holds) and ``error`` (why an
    implementation did not run, else ``""``).
    """
    import numpy as np

    cfg = config(new_tokens, prompt)
    w = weights(cfg)
    ids = prompt_ids(cfg, prompt)
    makers = implementations or IMPLEMENTATIONS
    runs, errors, reference = {}, {}, None
    for name, make in makers.items():
        try:
            impl = make(cfg, w)
            logits = np.asarray(impl["prefill"](ids), dtype=np.float64)
        except Unavailable as error:
            errors[name] = str(error)
            continue
        except Exception as error:  # a broken implementation is a row in the table, not a crash
            errors[name] = f"failed: {type(error).__name__}: {error}"
            continue
        if reference is None:
            reference = logits
        elif np.abs(logits - reference).max() > 1e-4:
            errors[name] = f"computes something else: prefill logits differ by {np.abs(logits - reference).max():.2e}"
            continue
        runs[name] = impl
        impl["uncached"](ids, 4), impl["cached"](ids, 4)  # warm-up

    rows = []
    names = list(runs)
    for n in new_tokens:
        times = {(name, kind): [] for name in names for kind in ("uncached", "cached")}
        ratios = {name: [] for name in names}
        tokens = {}
        for r in range(repeats):
            # in turns: the implementations rotate, and each one's two runs sit side by side
            # (alternating which goes first), so a load that comes and goes hits both alike
            for name in names[r % len(names):] + names[: r % len(names)] if names else []:
                for kind in (("uncached", "cached") if r % 2 == 0 else ("cached", "uncached")):
                    start = time.perf_counter()
                    tokens[(name, kind)] = runs[name][kind](ids, n)
                    times[(name, kind)].append(time.perf_counter() - start)
                ratios[name].append(times[(name, "uncached")][-1] / times[(name, "cached")][-1])
        for name in makers:
            if name not in runs:
                rows.append(dict(implementation=name, new_tokens=n, error=errors.get(name, "did not run")))
                continue
            unc, cac = (float(np.median(times[(name, kind)])) for kind in ("uncached", "cached"))
            rows.append(dict(
                implementation=name, new_tokens=n, uncached_tok_s=n / unc, cached_tok_s=n / cac,
                speedup=float(np.median(ratios[name])), uncached_ms=unc * 1e3, cached_ms=cac * 1e3,
                same_tokens=bool(np.array_equal(tokens[(name, "uncached")], tokens[(name, "cached")])),
                cache_bytes=runs[name].get("cache_bytes"), error="",
            ))
            if log:
                log(f"  {name}, {n} tokens: {rows[-1]['speedup']:.1f}×")
    return rows


def report(rows: list, log=print) -> None:
    """Print the rows as a table (tabulate)."""
    from tabulate import tabulate

    table = []
    for row in rows:
        if row.get("error"):
            table.append([row["implementation"], row["new_tokens"], "n/a", "n/a", "", row["error"]])
            continue
        goal = GOALS.get(row["new_tokens"])
        note = "" if row["same_tokens"] else "cached tokens differ from uncached!"
        if row["implementation"] in ("tinytorch", "tinytorch, fast backend") and goal:
            note = (note + " " if note else "") + f"goal ≥ {goal:g}×: {'met' if row['speedup'] >= goal else 'not met'}"
        table.append([row["implementation"], row["new_tokens"], f"{row['uncached_tok_s']:.0f}",
                      f"{row['cached_tok_s']:.0f}", f"{row['speedup']:.1f}×", note])
    log(tabulate(table, headers=["", "new tokens", "uncached tok/s", "cached tok/s", "speedup", ""],
                 disable_numparse=True))
    by = {(row["implementation"], row["new_tokens"]): row for row in rows if not row.get("error")}
    for (name, n), row in by.items():
        ref = by.get(("tinytorch", n))
        if name == "tinytorch, fast backend" and ref:
            log(f"{n} tokens: cached + fast backend vs uncached reference tinytorch: "
                f"{row['cached_tok_s'] / ref['uncached_tok_s']:.1f}× (from the medians above)")
    held = {row["implementation"]: row["cache_bytes"] for row in rows if row.get("cache_bytes")}
    if held:
        log("K/V cache held (preallocated for block_size positions): "
            + ", ".join(f"{name} {size / 1024:.0f} KiB" for name, size in held.items()))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dojo.bench.kv", description=__doc__.split("\n\n")[0])
    parser.add_argument("--impl", default="solutions", help="which tinytorch to time (default: solutions)")
    parser.add_argument("--repeats", type=int, default=3, help="timed generations per column and length (default 3)")
    parser.add_argument("--tokens", type=int, nargs="+", default=list(NEW_TOKENS), help="new tokens (default 64 256)")
    parser.add_argument("--prompt", type=int, default=PROMPT, help=f"prompt tokens (default {PROMPT})")
    parser.add_argument("--threads", type=int, default=1, help="BLAS/PyTorch threads (default 1)")
    args = parser.parse_args(argv)

    from dojo import impl, threads

    impl.activate(impl.resolve(args.impl))
    import numpy as np

    try:
        import torch

        torch_version = torch.__version__
    except ImportError:
        torch_version = "not installed"
    count = threads.apply(args.threads)
    cfg = config(args.tokens, args.prompt)
    from milestones.shakespeare import FULL

    m05 = FULL.block_size
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    print(f"Python {platform.python_version()} · NumPy {np.__version__} · PyTorch {torch_version} · "
          f"{count} BLAS/torch thread(s) · {os.cpu_count()} CPUs · load {load:.1f}")
    print(f"KV cache (kata 14): greedy generation, batch 1, prompt {args.prompt} tokens; GPT {cfg['n_layer']} layers × "
          f"{cfg['n_head']} heads × {cfg['n_embd']} wide, vocabulary {cfg['vocab_size']} (milestone 05's shape), "
          f"block_size {cfg['block_size']}"
          + (f" (M05 uses {m05}: raised so that {max(args.tokens)} new tokens fit, never cropped); " if cfg["block_size"] > m05 else "; ")
          + f"median of {args.repeats} generations, in turns")
    if load > 0.5 * (os.cpu_count() or 1):
        print("warning: the machine is busy: times are inflated; the speedups, measured in turns, suffer less.")
    report(kv_rows(args.tokens, args.repeats, args.prompt))
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
