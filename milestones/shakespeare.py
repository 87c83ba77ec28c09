"""A character-level GPT on Tiny Shakespeare: data, baselines, training on a time budget, samples.

Milestone 05 uses this module, and it runs on its own too::

    python -m milestones.shakespeare --steps 1200         # IMPL=solutions to use the reference
    TINYTORCH_DATA=/path/to/folder python -m milestones.shakespeare   # a folder holding input.txt

The data
--------
Tiny Shakespeare (1,115,394 characters of Shakespeare's plays, Karpathy's char-rnn corpus) is
looked for as ``input.txt`` in the data folder (``TINYTORCH_DATA``, default
``~/.cache/tinytorch``) and in its ``tinyshakespeare/`` subfolder, where a download goes. A
missing file is downloaded from :data:`URLS` with :func:`milestones.data.fetch` (SHA-256
checked, retried, nothing partial left behind); ``TINYTORCH_OFFLINE=1`` forbids that. Offline, or
in quick mode, the bundled excerpt ``data/shakespeare_excerpt.txt`` (the opening of
*Coriolanus*, 39,908 characters, public domain: see ``data/LICENSE-shakespeare.txt``) is used.

What is reported
----------------
The first 90% of the text trains, the last 10% validates. The loss is the cross-entropy in
**nats per character** on validation text the model never trained on, next to two baselines
that need no neural network: the **unigram** model (each character predicted from its overall
frequency in the training text, add-one smoothed) and the **bigram** model (from the previous
character). A model that learned nothing scores the unigram loss; a GPT that learned spelling
and words goes well below the bigram one.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from milestones import data

HERE = Path(__file__).resolve().parent

URLS = ["https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"]
SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
FILENAME = "input.txt"
SUBFOLDER = "tinyshakespeare"
BUNDLED = HERE / "data" / "shakespeare_excerpt.txt"
STEPS_ENV = "TINYTORCH_SHAKESPEARE_STEPS"
DEFAULT_STEPS = 1200
EXCERPT_STEPS = 600
FULL_NAME = "Tiny Shakespeare"
FULL_TARGET = 1.9  # nats/char on the validation text (nanoGPT's CPU recipe reaches about 1.88)
EXCERPT_MARGIN = 0.3  # offline: the final validation loss must be this far below the bigram baseline


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


def local_path(root=None) -> Path | None:
    """``root/input.txt`` or ``root/tinyshakespeare/input.txt`` if either exists (used as is)."""
    root = Path(root) if root is not None else data.data_dir()
    for candidate in (root / FILENAME, root / SUBFOLDER / FILENAME):
        if candidate.is_file():
            return candidate
    return None


def download(root=None, *, urls=None, sha256=SHA256, retries=3, backoff=1.0, timeout=data.TIMEOUT, progress=True) -> Path:
    """Fetch Tiny Shakespeare into ``root/tinyshakespeare/input.txt`` (SHA-256 checked); return the path.

    Raises :class:`milestones.data.DownloadError` when every attempt fails; no partial file is
    ever left behind.
    """
    root = Path(root) if root is not None else data.data_dir()
    return data.fetch(list(urls or URLS), sha256, root / SUBFOLDER / FILENAME, retries=retries,
                      backoff=backoff, timeout=timeout, progress=progress)


def load_shakespeare(root=None, *, allow_download=True, **fetch_options) -> str:
    """The Tiny Shakespeare text: a local ``input.txt`` if there is one, else a download.

    Raises :class:`milestones.data.DownloadError` (with what to do offline) when the file is
    missing and cannot or may not be downloaded.
    """
    root = Path(root) if root is not None else data.data_dir()
    path = local_path(root)
    if path is None:
        if not allow_download or data.offline():
            why = "downloading is off (TINYTORCH_OFFLINE)" if allow_download else "downloading was not allowed"
            raise data.DownloadError(_offline_message(root, why))
        try:
            path = download(root, **fetch_options)
        except data.DownloadError as error:
            raise data.DownloadError(_offline_message(root, str(error))) from None
    return path.read_text(encoding="utf-8")


def _offline_message(root, reason) -> str:
    """One short line: why the corpus is missing and how to provide it."""
    reason = " ".join(str(reason).split())
    reason = reason if len(reason) <= 80 else reason[:77] + "..."
    return f"Tiny Shakespeare not available ({reason}); put {URLS[0]} in {root} or set TINYTORCH_DATA."


def load_bundled() -> str:
    """The bundled excerpt (public domain), for offline and quick runs."""
    return BUNDLED.read_text(encoding="utf-8")


def load_text(quick=False, log=print) -> tuple:
    """``(name, text)``: the bundled excerpt in quick mode, else Tiny Shakespeare or the excerpt as a fallback."""
    if not quick:
        try:
            return FULL_NAME, load_shakespeare()
        except data.DownloadError as error:
            log(str(error))
            log("→ falling back to the bundled excerpt (opening of Coriolanus, 39,908 characters).")
    return "Shakespeare excerpt (bundled)", load_bundled()


def split_ids(text, tokenizer, fraction=0.9) -> tuple:
    """Encode ``text`` and cut it: the first ``fraction`` trains, the rest validates."""
    ids = np.array(tokenizer.encode(text), dtype=np.int64)
    cut = int(len(ids) * fraction)
    return ids[:cut], ids[cut:]


# ---------------------------------------------------------------------------------------------
# Baselines (no neural network)
# ---------------------------------------------------------------------------------------------


def unigram_loss(train, val, vocab_size) -> float:
    """Cross-entropy (nats/char) of ``val`` under the add-one-smoothed character frequencies of ``train``."""
    counts = np.bincount(train, minlength=vocab_size) + 1.0
    return float(-np.log(counts / counts.sum())[val].mean())


def bigram_loss(train, val, vocab_size) -> float:
    """Cross-entropy (nats/char) of ``val[1:]`` given the previous character, add-one smoothed."""
    counts = np.ones((vocab_size, vocab_size))
    np.add.at(counts, (train[:-1], train[1:]), 1.0)
    logp = np.log(counts / counts.sum(axis=1, keepdims=True))
    return float(-logp[val[:-1], val[1:]].mean())


# ---------------------------------------------------------------------------------------------
# The model and its training
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    block_size: int
    n_layer: int
    n_head: int
    n_embd: int
    batch_size: int
    lr: float
    dropout: float = 0.0


FULL = Config(block_size=64, n_layer=3, n_head=4, n_embd=128, batch_size=32, lr=3e-3)
QUICK = Config(block_size=32, n_layer=1, n_head=2, n_embd=32, batch_size=16, lr=5e-3)


def get_batch(ids, cfg, rng) -> tuple:
    """``batch_size`` random windows: inputs ``(B, T)`` and the next characters ``(B, T)``."""
    starts = rng.integers(0, len(ids) - cfg.block_size - 1, size=cfg.batch_size)
    window = starts[:, None] + np.arange(cfg.block_size + 1)
    chunk = ids[window]
    return chunk[:, :-1], chunk[:, 1:]


def evaluate(model, ids, cfg, batches, seed) -> float:
    """Mean cross-entropy (nats/char) over ``batches`` fixed random windows of ``ids``, in eval mode."""
    from tinytorch.autograd import no_grad

    rng = np.random.default_rng(seed)
    was_training = model.training
    model.eval()
    total = 0.0
    with no_grad():
        for _ in range(batches):
            x, y = get_batch(ids, cfg, rng)
            total += float(model(x, targets=y)[1].item())
    model.train(was_training)
    return total / batches


def sample(model, tokenizer, prompt="\n", length=300, temperature=0.8, top_k=None, seed=0) -> str:
    """``length`` characters continuing ``prompt``, sampled with a fixed seed."""
    ids = np.array([tokenizer.encode(prompt)], dtype=np.int64)
    out = model.generate(ids, max_new_tokens=length, temperature=temperature, top_k=top_k, seed=seed)
    return tokenizer.decode(out.data[0, len(prompt):].tolist())


def target_for(name, bigram) -> tuple:
    """``(target, label)`` for the corpus used: the full corpus has an absolute target; the bundled
    excerpt (too small for that) must end clearly below its bigram baseline."""
    if name == FULL_NAME:
        return FULL_TARGET, f"<= {FULL_TARGET:.2f} nats/char (Tiny Shakespeare)"
    target = bigram - EXCERPT_MARGIN
    return target, f"<= {target:.2f} nats/char (bigram baseline {bigram:.2f} - {EXCERPT_MARGIN:g})"


def train(text, *, cfg=FULL, steps, seed=0, log=print, name="text", quick=False, eval_every=None,
          samples=2, sample_length=250, progress=True) -> dict:
    """Train a char-level GPT on ``text`` for ``steps`` AdamW steps (deterministic for a seed).

    The learning rate warms up over 20 steps, then follows a cosine down to 10% of ``cfg.lr``
    over the steps. Every ``eval_every`` steps (default: 8 times per run) the validation loss is
    measured and logged; a progress bar shows the step, the running training loss and the last
    validation loss. Returns the final and the best validation loss next to the unigram and
    bigram baselines, and ``samples`` generated passages.
    """
    from tinytorch import rng as tt_rng
    from tinytorch.optim import AdamW
    from tinytorch.tokenization import CharTokenizer
    from tinytorch.transformer import GPT

    from milestones.common import progress as progress_bar

    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    tokenizer = CharTokenizer(text, unk=None)
    train_ids, val_ids = split_ids(text, tokenizer)
    V = tokenizer.vocab_size
    unigram, bigram = unigram_loss(train_ids, val_ids, V), bigram_loss(train_ids, val_ids, V)
    tt_rng.manual_seed(seed)
    model = GPT(V, cfg.block_size, cfg.n_layer, cfg.n_head, cfg.n_embd, cfg.dropout)
    n_params = sum(p.size for p in model.parameters())
    optimizer = AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
    log(f"char-level GPT on {name}: {len(text):,} characters, vocabulary {V}, {len(train_ids):,} train / "
        f"{len(val_ids):,} validation; {cfg.n_layer} layer(s) × {cfg.n_head} heads × {cfg.n_embd} wide, context "
        f"{cfg.block_size}, {n_params:,} parameters; batch {cfg.batch_size}, AdamW lr {cfg.lr:g}, {steps} steps")
    log(f"baselines on the validation text: unigram {unigram:.3f} nats/char, bigram {bigram:.3f}")

    batch_rng = np.random.default_rng(seed)
    eval_batches = 4 if quick else 8
    eval_every = eval_every or (steps if quick else max(1, steps // 8))
    start = time.perf_counter()
    running, history, last_val = None, [], None
    bar = progress_bar(range(1, steps + 1), quick=quick or not progress, desc="Shakespeare", unit="step")
    for step in bar:
        fraction = (step - 1) / steps
        lr = cfg.lr * min(1.0, step / 20) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * fraction)))
        for group in optimizer.param_groups:
            group["lr"] = lr
        x, y = get_batch(train_ids, cfg, batch_rng)
        _, loss = model(x, targets=y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        value = float(loss.item())
        running = value if running is None else 0.95 * running + 0.05 * value
        if step % eval_every == 0 and step != steps:
            last_val = evaluate(model, val_ids, cfg, eval_batches, seed + 1)
            history.append((step, last_val))
            log(f"  step {step:5d}/{steps} · train loss {running:.3f} · validation {last_val:.3f} nats/char")
        if hasattr(bar, "set_postfix_str"):
            bar.set_postfix_str(f"loss {running:.3f}" + (f" · val {last_val:.3f}" if last_val is not None else ""))
    train_seconds = time.perf_counter() - start
    val = evaluate(model, val_ids, cfg, 2 * eval_batches if quick else 24, seed + 1)
    history.append((steps, val))
    best_step, best = min(history, key=lambda pair: pair[1])
    target, target_label = target_for(name, bigram)
    log(f"after {steps} steps ({train_seconds:.0f} s): validation loss {val:.3f} nats/char "
        f"({val / math.log(2):.2f} bits/char), best {best:.3f} at step {best_step} — unigram baseline "
        f"{unigram:.3f}, bigram {bigram:.3f}")
    texts = []
    for i in range(samples):
        texts.append(sample(model, tokenizer, "\n", sample_length, temperature=0.8, seed=seed + i))
        log(f"--- sample {i + 1} (temperature 0.8, seed {seed + i}) ---")
        log(texts[-1])
    if samples:
        log("---")
    return {
        "val_loss": val, "best_val_loss": best, "best_step": best_step, "unigram_loss": unigram,
        "bigram_loss": bigram, "target": target, "target_label": target_label, "steps": steps,
        "train_seconds": train_seconds, "parameters": n_params, "samples": texts, "history": history,
        "corpus": name, "characters": len(text), "model": model, "tokenizer": tokenizer,
    }


def steps_from_env(default=DEFAULT_STEPS) -> int:
    """The number of training steps: ``$TINYTORCH_SHAKESPEARE_STEPS`` or ``default`` (0 skips)."""
    value = os.environ.get(STEPS_ENV, "").strip()
    if not value:
        return default
    try:
        steps = int(value)
    except ValueError:
        raise ValueError(f"{STEPS_ENV}={value!r}: expected a whole number of steps") from None
    if steps < 0:
        raise ValueError(f"{STEPS_ENV}={value!r}: expected a number of steps >= 0")
    return steps


def run(quick=False, seed=0, log=print, steps=None) -> dict:
    """Quick: the bundled excerpt, a tiny model, 120 steps (seconds). Full: Tiny Shakespeare (or the
    excerpt offline) for ``steps`` (default ``$TINYTORCH_SHAKESPEARE_STEPS`` or 1,200)."""
    name, text = load_text(quick, log)
    if quick:
        return train(text, cfg=QUICK, steps=120, seed=seed, log=log, name=name, quick=True, samples=1, sample_length=120)
    steps = steps_from_env() if steps is None else steps
    if name != FULL_NAME:
        steps = min(steps, EXCERPT_STEPS)  # the excerpt is 40x smaller: more steps only overfit it
    return train(text, cfg=FULL, steps=steps, seed=seed, log=log, name=name)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Train a character-level GPT (your tinytorch) on Tiny Shakespeare.")
    parser.add_argument("--steps", type=int, default=None,
                        help=f"training steps (default ${STEPS_ENV} or {DEFAULT_STEPS})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="the bundled excerpt, a tiny model, a few seconds")
    args = parser.parse_args(argv)
    from dojo import impl

    impl.activate(impl.resolve())
    from dojo import threads

    threads.configure("auto")
    result = run(quick=args.quick, seed=args.seed, steps=args.steps)
    return 0 if result["val_loss"] <= result["target"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
