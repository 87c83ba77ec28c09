"""Milestone 05 — the Transformer (Vaswani et al., "Attention Is All You Need", 2017).

Recurrent networks read a sequence one step at a time and squeeze everything they have seen
into one state vector. The transformer threw the recurrence away: attention lets every position
read every other position directly, all at once. GPT (2018) kept only the decoder — a causal
stack of attention and MLP blocks that predicts the next token — and that recipe now writes
code, poems and this milestone's Shakespeare.

Your whole stack trains it: ``CharTokenizer`` (kata 10), ``Embedding`` and positions (11),
masked multi-head attention (12), ``LayerNorm``, blocks, ``GPT`` and ``generate`` (13), on top
of autograd (05) and AdamW (06).

Part 1 — sequence reversal (the metric)
    A GPT reads ten random digits and a separator, then must write the digits in reverse order:
    ``3 1 4 1 5 9 2 6 5 3 | 3 5 6 2 9 5 1 4 1 3``. No recurrence can "remember and play back";
    attention does it by looking at position ``2n - t``. Trained on fresh random sequences, it
    is scored by exact match (every digit right, greedy decoding) on 2,000 sequences it never
    saw. Target: >= 99%.

Part 2 — Tiny Shakespeare (samples and a validation loss, scored too)
    A character-level GPT (3 layers × 4 heads × 128 wide, context 64, batch 32) trains for
    ``TINYTORCH_SHAKESPEARE_STEPS`` steps (default 1,200; 0 skips it) on Tiny Shakespeare
    (``milestones/shakespeare.py`` downloads it, SHA-256 checked, or uses ``input.txt`` from
    ``TINYTORCH_DATA``), prints samples, and reports the final and best validation loss per
    character next to the unigram and bigram baselines. Target: final validation loss
    <= 1.9 nats/char. Offline, on the bundled public-domain excerpt (40× smaller, 600 steps),
    it must end at least 0.3 nats/char below the bigram baseline.

Quick mode (``make test``): reversal of four digits with a one-layer model, and 120 steps on the
bundled excerpt — a few seconds, no network.
"""

from __future__ import annotations

import time

import numpy as np

from milestones import shakespeare


def reversal_batch(count, n, digits, rng) -> tuple:
    """``count`` random digit strings ``x`` (count, n) and the sequences ``x | reversed(x)`` (count, 2n + 1)."""
    x = rng.integers(0, digits, size=(count, n))
    sep = np.full((count, 1), digits)  # the separator is the token after the digits
    return x, np.concatenate([x, sep, x[:, ::-1]], axis=1)


def exact_match(model, n, digits, count, seed) -> float:
    """Fraction of ``count`` fresh sequences whose reversal the model writes exactly (greedy)."""
    x, seq = reversal_batch(count, n, digits, np.random.default_rng(seed))
    out = model.generate(seq[:, : n + 1], max_new_tokens=n, greedy=True).data[:, n + 1:]
    return float((out == x[:, ::-1]).all(axis=1).mean())


def train_reversal(quick, seed, log) -> dict:
    """Train a small GPT to reverse digit strings; return exact match and what it took."""
    from tinytorch import rng as tt_rng
    from tinytorch.losses import cross_entropy
    from tinytorch.optim import AdamW
    from tinytorch.tensor import Tensor
    from tinytorch.transformer import GPT

    if quick:
        n, digits, n_layer, n_head, n_embd, batch, steps, lr, tests = 4, 10, 1, 2, 32, 32, 80, 1e-2, 1000
    else:
        n, digits, n_layer, n_head, n_embd, batch, steps, lr, tests = 10, 10, 2, 4, 64, 64, 300, 3e-3, 2000
    vocab = digits + 1
    tt_rng.manual_seed(seed)
    model = GPT(vocab_size=vocab, block_size=2 * n, n_layer=n_layer, n_head=n_head, n_embd=n_embd)
    optimizer = AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    log(f"Part 1 — reverse {n} digits: GPT {n_layer} layer(s) × {n_head} heads × {n_embd} wide, "
        f"{sum(p.size for p in model.parameters()):,} parameters; {steps} AdamW steps of {batch} fresh sequences")
    data_rng = np.random.default_rng(seed)
    start = time.perf_counter()
    for step in range(1, steps + 1):
        fraction = step / steps  # warm-up, then cosine to 10%
        for group in optimizer.param_groups:
            group["lr"] = lr * min(1.0, step / 20) * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * fraction)))
        _, seq = reversal_batch(batch, n, digits, data_rng)
        logits = model(seq[:, :-1])
        # only the answer is scored: positions n .. 2n-1 predict the reversed digits
        answer = logits[:, n:].reshape(batch * n, vocab)
        loss = cross_entropy(answer, Tensor(seq[:, n + 1:].reshape(-1)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % (steps // 5) == 0:
            log(f"  step {step:4d} · {time.perf_counter() - start:5.1f} s · loss {loss.item():.4f}")
    train_seconds = time.perf_counter() - start
    score = exact_match(model, n, digits, tests, seed=10_000 + seed)
    x, seq = reversal_batch(3, n, digits, np.random.default_rng(20_000 + seed))
    shown = model.generate(seq[:, : n + 1], max_new_tokens=n, greedy=True).data[:, n + 1:]
    for digits_in, digits_out in zip(x, shown):
        mark = "✓" if np.array_equal(digits_out, digits_in[::-1]) else "✗"
        log(f"  {' '.join(map(str, digits_in))} | {' '.join(map(str, digits_out))}  {mark}")
    log(f"exact match {score:.2%} on {tests:,} unseen sequences (trained {train_seconds:.1f} s)")
    return {"exact_match": score, "length": n, "steps": steps, "reversal_seconds": train_seconds}


def run(quick: bool = False, seed: int = 0, log=print) -> dict:
    start = time.perf_counter()
    result = train_reversal(quick, seed, log)
    steps = 0 if quick else shakespeare.steps_from_env()
    lm = None
    if quick or steps > 0:
        log("Part 2 — a character-level GPT writes Shakespeare")
        lm = shakespeare.run(quick=quick, seed=seed, log=log, steps=steps or None)
    out = {
        "metric": result["exact_match"],
        "dataset": f"reversal of {result['length']} digits"
                   + (f" + {lm['corpus']} ({lm['characters']:,} characters)" if lm else ""),
        "seconds": time.perf_counter() - start,
        **result,
    }
    if lm is not None:
        out.update({k: lm[k] for k in ("val_loss", "best_val_loss", "unigram_loss", "bigram_loss", "samples")})
        out["lm_steps"] = lm["steps"]
        if quick:  # 120 steps of a tiny model: it must have learned something
            ok, target = lm["val_loss"] < lm["unigram_loss"], f"< {lm['unigram_loss']:.2f} nats/char (unigram baseline)"
        else:
            ok, target = lm["val_loss"] <= lm["target"], lm["target_label"]
        out["checks"] = [{
            "name": "language model: validation loss",
            "value": f"{lm['val_loss']:.3f} nats/char (best {lm['best_val_loss']:.3f}; bigram {lm['bigram_loss']:.3f})",
            "target": target,
            "ok": bool(ok),
        }]
    return out


if __name__ == "__main__":
    print(run())
