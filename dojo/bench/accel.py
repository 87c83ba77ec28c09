"""``make bench`` rows for kata 16: the reference kernels, the fast backend and PyTorch, same work.

Rows (each one workload, each column an implementation of exactly that work):

* **GPT train step** — the M05 GPT (3 layers, 4 heads, 128 wide, context 64, vocabulary 65),
  batch 32: forward, cross-entropy, backward, AdamW;
* **GPT decode step** — the same model, batch 1, in eval mode under ``no_grad``: the logits of the
  next token given 64 tokens of context, recomputed whole as kata 13's ``generate`` does (no KV
  cache: kata 14 removes that recomputation; this row measures the kernels);
* **CNN train step** — the M04 LeNet (conv 1→8 3×3, ReLU, max-pool 2, conv 8→16 3×3, ReLU,
  max-pool 2, Linear 400→10) on 32 images 28×28: forward, cross-entropy, backward, Adam.

Columns:

* **reference** — tinytorch with the kernels written in katas 01–13 (``backend("reference")``);
* **fast** — the *same model objects' code*, run under ``tinytorch.backend("fast")`` (kata 16);
* **PyTorch** — the same architecture in ``torch.nn`` (``F.scaled_dot_product_attention`` with
  ``is_causal=True``, ``F.gelu(approximate="tanh")``, ``nn.LayerNorm``), same weights, same
  thread count, when ``import torch`` works.

Every column starts from the same weights and data; the first two steps' losses (or check values)
must agree with the reference column before anything is timed (the second one after an optimizer
step, so the gradients agree too). Then, after a warm-up, the columns take turns step by step (a
noisy neighbour slows them all alike) and each reports its median with the interquartile range;
ratios are medians over the reference's and over PyTorch's, from the same run. Each row runs in a
fresh interpreter: one row's big arrays change the memory allocator's state for the next.

``python -m dojo.bench.accel [--repeats 20] [--only gpt-train]``, or call :func:`run` for the
numbers.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys

from dojo.bench.core import Benchmark as Row
from dojo.bench.core import Unavailable, measure as measure_columns, report, tinytorch_modules, torch_module

REFERENCE, FAST, TORCH = "reference", "fast", "PyTorch"
GPT = dict(vocab=65, block=64, n_layer=3, n_head=4, n_embd=128, batch=32, lr=3e-3)
CNN = dict(size=28, batch=32, lr=2e-3)
GOALS = {"gpt-train": ("fast / PyTorch", 1.3), "cnn-train": ("reference / fast", 1.3)}


# ---------------------------------------------------------------------------------------------
# The GPT rows
# ---------------------------------------------------------------------------------------------


def _tinytorch(*names):
    """tinytorch's modules ``names``, in that order (Unavailable if they do not import)."""
    return list(tinytorch_modules(*names).values())


def gpt_workload(seed=0, batch=None) -> dict:
    """The weights (from a seeded tinytorch GPT: kata 13's initialisation) and a batch of ids."""
    import numpy as np

    rng_module, transformer = _tinytorch("rng", "transformer")
    rng_module.manual_seed(seed)
    try:
        model = transformer.GPT(GPT["vocab"], GPT["block"], GPT["n_layer"], GPT["n_head"], GPT["n_embd"])
    except NotImplementedError as error:
        raise Unavailable(f"not implemented yet: {error}") from None
    params = {name: p.data.copy() for name, p in model.named_parameters()}
    r = np.random.default_rng(seed)
    b = GPT["batch"] if batch is None else batch
    ids = r.integers(0, GPT["vocab"], (b, GPT["block"] + 1))
    return {"params": params, "x": ids[:, :-1], "y": ids[:, 1:]}


def _tinytorch_gpt(w):
    rng_module, transformer, acceleration = _tinytorch("rng", "transformer", "acceleration")
    model = transformer.GPT(GPT["vocab"], GPT["block"], GPT["n_layer"], GPT["n_head"], GPT["n_embd"])
    for name, p in model.named_parameters():
        p.data[...] = w["params"][name]
    return model, acceleration


def gpt_train_tinytorch(backend_name):
    def make(w):
        (optim,) = _tinytorch("optim")
        model, acceleration = _tinytorch_gpt(w)
        optimizer = optim.AdamW(model.parameters(), lr=GPT["lr"])
        x, y = w["x"], w["y"]

        def step():
            with acceleration.backend(backend_name):
                _, loss = model(x, targets=y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            return float(loss.item())

        return step

    return make


def gpt_decode_tinytorch(backend_name):
    def make(w):
        (autograd,) = _tinytorch("autograd")
        model, acceleration = _tinytorch_gpt(w)
        model.eval()
        x = w["x"]

        def step():
            with acceleration.backend(backend_name), autograd.no_grad():
                logits = model(x)
            return float(logits.data[:, -1].astype("float64").sum())

        return step

    return make


def _torch_gpt(w):
    torch = torch_module()
    nn, F = torch.nn, torch.nn.functional
    C, H = GPT["n_embd"], GPT["n_head"]

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(C), nn.LayerNorm(C)
            self.q, self.k, self.v, self.o = (nn.Linear(C, C) for _ in range(4))
            self.fc, self.proj = nn.Linear(C, 4 * C), nn.Linear(4 * C, C)

        def forward(self, x):
            B, T, _ = x.shape
            h = self.ln1(x)
            q, k, v = (m(h).view(B, T, H, C // H).transpose(1, 2) for m in (self.q, self.k, self.v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.o(y.transpose(1, 2).reshape(B, T, C))
            return x + self.proj(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = nn.Embedding(GPT["vocab"], C)
            self.pos = nn.Parameter(torch.zeros(GPT["block"], C))
            self.blocks = nn.ModuleList(Block() for _ in range(GPT["n_layer"]))
            self.ln_f = nn.LayerNorm(C)
            self.head = nn.Linear(C, GPT["vocab"], bias=False)

        def forward(self, idx):
            x = self.tok(idx) + self.pos[: idx.shape[1]]
            for block in self.blocks:
                x = block(x)
            return self.head(self.ln_f(x))

    model = Model()
    p = w["params"]
    names = {"tok.weight": "tok_emb.weight", "pos": "pos_emb.weight", "ln_f.weight": "ln_f.weight",
             "ln_f.bias": "ln_f.bias", "head.weight": "head.weight"}
    for i in range(GPT["n_layer"]):
        ours = f"blocks.{i}."
        for mine, theirs in (("ln1", "ln1"), ("ln2", "ln2"), ("q", "attn.q_proj"), ("k", "attn.k_proj"),
                             ("v", "attn.v_proj"), ("o", "attn.out_proj"), ("fc", "mlp.fc"), ("proj", "mlp.proj")):
            for kind in ("weight", "bias"):
                names[f"{ours}{mine}.{kind}"] = f"{ours}{theirs}.{kind}"
    with torch.no_grad():
        for name, tensor in model.named_parameters():
            tensor.copy_(torch.from_numpy(p[names[name]]))
    return torch, model


def gpt_train_torch(w):
    torch, model = _torch_gpt(w)
    optimizer = torch.optim.AdamW(model.parameters(), lr=GPT["lr"], weight_decay=0.01)
    x, y = torch.from_numpy(w["x"]), torch.from_numpy(w["y"])

    def step():
        logits = model(x)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, GPT["vocab"]), y.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return float(loss.item())

    return step


def gpt_decode_torch(w):
    torch, model = _torch_gpt(w)
    model.eval()
    x = torch.from_numpy(w["x"])

    def step():
        with torch.no_grad():
            logits = model(x)
        return float(logits[:, -1].double().sum())

    return step


# ---------------------------------------------------------------------------------------------
# The CNN row
# ---------------------------------------------------------------------------------------------


def cnn_workload(seed=0) -> dict:
    """LeNet's weights (kata 09's initialisation, seeded) and a batch of 28×28 images and labels."""
    import numpy as np

    rng_module, layers, activations, spatial = _tinytorch("rng", "layers", "activations", "spatial")
    rng_module.manual_seed(seed)
    try:
        model = _lenet(layers, activations, spatial)
    except NotImplementedError as error:
        raise Unavailable(f"not implemented yet: {error}") from None
    r = np.random.default_rng(seed)
    x = np.clip(r.normal(0.1, 1.0, (CNN["batch"], 1, CNN["size"], CNN["size"])), 0, None).astype(np.float32)
    return {"params": [p.data.copy() for p in model.parameters()], "x": x,
            "y": r.integers(0, 10, CNN["batch"]).astype(np.int64)}


def _lenet(layers, activations, spatial):
    """milestones/m04_cnn.py's network for 28×28 images."""
    return layers.Sequential(
        spatial.Conv2d(1, 8, 3), activations.ReLU(), spatial.MaxPool2d(2),
        spatial.Conv2d(8, 16, 3), activations.ReLU(), spatial.MaxPool2d(2),
        spatial.Flatten(), layers.Linear(16 * 5 * 5, 10),
    )


def cnn_train_tinytorch(backend_name):
    def make(w):
        layers, activations, spatial, optim, losses, tensor, acceleration = _tinytorch(
            "layers", "activations", "spatial", "optim", "losses", "tensor", "acceleration")
        model = _lenet(layers, activations, spatial)
        for p, value in zip(model.parameters(), w["params"]):
            p.data[...] = value
        optimizer = optim.Adam(model.parameters(), lr=CNN["lr"])
        x, y = tensor.Tensor(w["x"]), tensor.Tensor(w["y"])

        def step():
            with acceleration.backend(backend_name):
                loss = losses.cross_entropy(model(x), y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            return float(loss.item())

        return step

    return make


def cnn_train_torch(w):
    torch = torch_module()
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 10))
    with torch.no_grad():
        for p, value in zip(model.parameters(), w["params"]):
            p.copy_(torch.from_numpy(value))
    optimizer = torch.optim.Adam(model.parameters(), lr=CNN["lr"])
    x, y = torch.from_numpy(w["x"]), torch.from_numpy(w["y"])

    def step():
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return float(loss.item())

    return step


ROWS = [
    Row("gpt-train", "M05 GPT train step: 3 layers × 4 heads × 128 wide, context 64, batch 32 (forward, "
        "cross-entropy, backward, AdamW)", gpt_workload,
        {REFERENCE: gpt_train_tinytorch("reference"), FAST: gpt_train_tinytorch("fast"), TORCH: gpt_train_torch}),
    Row("gpt-decode", "M05 GPT decode step, batch 1: next-token logits from 64 tokens of context, no_grad, "
        "recomputed whole (no KV cache)", lambda: gpt_workload(batch=1),
        {REFERENCE: gpt_decode_tinytorch("reference"), FAST: gpt_decode_tinytorch("fast"), TORCH: gpt_decode_torch}),
    Row("cnn-train", "M04 LeNet train step: 32 images 28×28 (conv 8, pool, conv 16, pool, linear; "
        "cross-entropy, backward, Adam)", cnn_workload,
        {REFERENCE: cnn_train_tinytorch("reference"), FAST: cnn_train_tinytorch("fast"), TORCH: cnn_train_torch}),
]


# ---------------------------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------------------------


def measure(row: Row, repeats: int = 20, warmup: int = 3, checks: int = 2) -> dict:
    """Build every column, check the first ``checks`` steps agree with the reference, then time the
    columns in turns. Returns ``{column: Timing}`` (:class:`dojo.bench.core.Timing`; a column that
    failed has ``error`` set)."""
    return measure_columns(row, repeats, warmup, baseline=REFERENCE, checks=checks, atol=1e-4)


def ratios(results: dict) -> dict:
    """``{"reference / fast": x, "fast / PyTorch": y, "reference / PyTorch": z}`` for the columns that ran."""
    medians = {name: r.stats()[0] for name, r in results.items() if r.times}
    out = {}
    for a, b in ((REFERENCE, FAST), (FAST, TORCH), (REFERENCE, TORCH)):
        if a in medians and b in medians:
            out[f"{a} / {b}"] = medians[a] / medians[b]
    return out


def run(repeats: int = 20, warmup: int = 3, only=None, log=print) -> dict:
    """Measure every row (or those in ``only``) and print its table; returns
    ``{row key: {"results": {column: Timing}, "ratios": {...}}}``."""
    out = {}
    for row in ROWS:
        if only and row.key not in only:
            continue
        results = measure(row, repeats, warmup)
        report(row, results, log=log, baseline=None)
        found = ratios(results)
        if found:
            log("  " + " · ".join(f"{k} = {v:.2f}×" for k, v in found.items()))
        if row.key in GOALS and GOALS[row.key][0] in found:
            what, goal = GOALS[row.key]
            value = found[what]
            met = value <= goal if what == "fast / PyTorch" else value >= goal
            log(f"  goal {what} {'≤' if what == 'fast / PyTorch' else '≥'} {goal}×: {'met' if met else 'NOT met'}")
        log("")
        out[row.key] = {"results": results, "ratios": found}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dojo.bench.accel", description=__doc__.split("\n\n")[0])
    parser.add_argument("--impl", default="solutions", help="which tinytorch to time (default: solutions)")
    parser.add_argument("--repeats", type=int, default=20, help="timed steps per column (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per column first (default 3)")
    parser.add_argument("--only", action="append", choices=[r.key for r in ROWS], help="run only this row (repeatable)")
    parser.add_argument("--threads", type=int, default=1, help="BLAS/PyTorch threads (default 1)")
    parser.add_argument("--no-header", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.threads and os.environ.get("OPENBLAS_NUM_THREADS") != str(args.threads):
        env = dict(os.environ)  # BLAS reads its thread count when NumPy loads: start afresh
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[name] = str(args.threads)
        argv = sys.argv[1:] if argv is None else list(argv)
        return subprocess.call([sys.executable, "-m", "dojo.bench.accel", *argv], env=env)

    keys = args.only or [r.key for r in ROWS]
    if len(keys) > 1:
        # One fresh interpreter per row: a row's big arrays change the memory allocator's state
        # (glibc raises its mmap threshold after large frees), which would make the rows after it
        # faster or slower depending on the order. Within a row the columns still take turns.
        rest = [a for a in (sys.argv[1:] if argv is None else list(argv)) if not a.startswith("--only")]
        rest = [a for a in rest if a not in {r.key for r in ROWS}]
        codes = [subprocess.call([sys.executable, "-m", "dojo.bench.accel", *rest, "--only", key,
                                  *(["--no-header"] if i else [])]) for i, key in enumerate(keys)]
        return max(codes)

    from dojo import impl

    impl.activate(impl.resolve(args.impl))
    import numpy as np

    threads = args.threads
    torch_version = "not installed"
    try:
        import torch

        torch.set_num_threads(threads)
        torch_version = torch.__version__
    except ImportError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    if not args.no_header:
        print(f"Python {platform.python_version()} · NumPy {np.__version__} · PyTorch {torch_version} · "
              f"{threads} BLAS/torch thread(s) · {os.cpu_count()} CPUs · load {load:.1f} · "
              f"median of {args.repeats} steps after {args.warmup} warm-up, columns in turns, "
              f"each row in its own process\n")
    run(args.repeats, args.warmup, args.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
