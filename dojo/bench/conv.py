"""``make bench`` row 2: Conv2d forward + backward, 64×3×32×32 → 32 filters 3×3, padding 1.

Columns, all on the same float32 input, weights and upstream gradient:

* **raw NumPy** — an im2col convolution written out here, as a NumPy programmer would: the
  ``kh·kw`` patches gathered by strided slices into a ``(N, C·kh·kw, H·W)`` column array, one
  batched matmul forward; backward ``db = Σ g``, ``dW = Σ_n g[n] @ cols[n]ᵀ``, ``dcols = Wᵀ @ g``
  folded back into the input gradient by adding strided slices (col2im). No ``np.add.at``, no
  Python loop over pixels or over the batch. (One ``(C·kh·kw, N·H·W)`` matrix and a single big
  matmul is about as fast on an idle machine, and several times slower on a busy one: each BLAS
  call then waits for all of its threads to get a CPU. The per-sample matmuls are small enough
  to run on one thread.)
* **tinytorch** — ``tinytorch.spatial.Conv2d`` through its public API: ``conv(x)`` then
  ``out.backward(G)`` with ``x`` requiring grad, so the input gradient is computed too.
* **PyTorch** — ``torch.nn.Conv2d`` the same way, when ``import torch`` works.

A step returns a check value that depends on the forward and on all three gradients:
``<W, dW> + <b, db> + Σ dx[0]``. (The convolution is linear in ``W`` and ``b``, so the first two
terms equal ``Σ out · G``: the loss whose gradient the backward computes.) :func:`dojo.bench.core.measure`
compares the columns' check values before it times anything.

Part of ``make bench`` (``make bench ONLY=conv``); on its own ``python -m dojo.bench.conv``.
"""

from __future__ import annotations

import sys

from dojo.bench.core import BASELINE, Benchmark, Unavailable, table_main, torch_module

CONV_SHAPE = (64, 3, 32, 32)  # N, C, H, W
CONV_FILTERS = 32
CONV_KERNEL = 3
CONV_PADDING = 1


def conv_workload(seed=0):
    """The arrays every column shares: x, weight, bias (nn.Conv2d's init) and the upstream gradient."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n, c, h, w = CONV_SHAPE
    k = 1 / np.sqrt(c * CONV_KERNEL * CONV_KERNEL)
    weight = rng.uniform(-k, k, (CONV_FILTERS, c, CONV_KERNEL, CONV_KERNEL)).astype(np.float32)
    bias = rng.uniform(-k, k, CONV_FILTERS).astype(np.float32)
    x = rng.standard_normal(CONV_SHAPE).astype(np.float32)
    ho = h + 2 * CONV_PADDING - CONV_KERNEL + 1
    wo = w + 2 * CONV_PADDING - CONV_KERNEL + 1
    upstream = rng.standard_normal((n, CONV_FILTERS, ho, wo)).astype(np.float32)
    return {"x": x, "weight": weight, "bias": bias, "upstream": upstream, "padding": CONV_PADDING}


def check_value(weight, bias, dw, db, dx) -> float:
    """``<W, dW> + <b, db> + Σ dx[0]``, in float64."""
    import numpy as np

    return float(np.vdot(weight.astype(np.float64), dw) + np.vdot(bias.astype(np.float64), db)
                 + dx[0].sum(dtype=np.float64))


def conv_numpy(w):
    """im2col forward and backward by hand (stride 1), batched matmuls."""
    import numpy as np

    x, weight, bias, g_out, p = w["x"], w["weight"], w["bias"], w["upstream"], w["padding"]
    n, c, h, wd = x.shape
    o, _, kh, kw = weight.shape
    ho, wo = h + 2 * p - kh + 1, wd + 2 * p - kw + 1
    w2 = weight.reshape(o, -1)
    g = g_out.reshape(n, o, ho * wo)

    def step():
        # forward: columns (N, C·kh·kw, Ho·Wo) gathered by strided slices, then (O, K) @ (N, K, P)
        xp = np.zeros((n, c, h + 2 * p, wd + 2 * p), dtype=x.dtype)
        xp[:, :, p : p + h, p : p + wd] = x
        cols = np.empty((n, c, kh, kw, ho, wo), dtype=x.dtype)
        for i in range(kh):
            for j in range(kw):
                cols[:, :, i, j] = xp[:, :, i : i + ho, j : j + wo]
        cols = cols.reshape(n, c * kh * kw, ho * wo)
        out = w2 @ cols
        out += bias.reshape(1, o, 1)
        out = out.reshape(n, o, ho, wo)  # the forward result (what a model would use next)
        # backward
        db = g.sum(axis=(0, 2))
        dw = np.matmul(g, cols.transpose(0, 2, 1)).sum(axis=0).reshape(weight.shape)
        dcols = (w2.T @ g).reshape(n, c, kh, kw, ho, wo)
        dxp = np.zeros_like(xp)
        for i in range(kh):
            for j in range(kw):
                dxp[:, :, i : i + ho, j : j + wo] += dcols[:, :, i, j]
        dx = dxp[:, :, p : p + h, p : p + wd]
        return check_value(weight, bias, dw, db, dx)

    return step


def conv_tinytorch(w):
    import importlib

    try:
        spatial = importlib.import_module("tinytorch.spatial")
        Tensor = importlib.import_module("tinytorch.tensor").Tensor
    except ImportError as error:
        raise Unavailable(f"tinytorch cannot be imported: {error}") from None
    try:
        conv = spatial.Conv2d(w["x"].shape[1], w["weight"].shape[0], w["weight"].shape[2:], padding=w["padding"])
        conv.weight.data[...] = w["weight"]
        conv.bias.data[...] = w["bias"]
    except NotImplementedError as error:
        raise Unavailable(f"not implemented yet: {error}") from None
    x = Tensor(w["x"], requires_grad=True)
    upstream = w["upstream"]

    def step():
        conv.zero_grad()
        x.grad = None
        out = conv(x)
        out.backward(upstream)
        return check_value(conv.weight.data, conv.bias.data, conv.weight.grad, conv.bias.grad, x.grad)

    return step


def conv_torch(w):
    torch = torch_module()
    conv = torch.nn.Conv2d(w["x"].shape[1], w["weight"].shape[0], w["weight"].shape[2], padding=w["padding"])
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(w["weight"]))
        conv.bias.copy_(torch.from_numpy(w["bias"]))
    x = torch.from_numpy(w["x"].copy()).requires_grad_(True)
    upstream = torch.from_numpy(w["upstream"])

    def step():
        conv.zero_grad(set_to_none=True)
        x.grad = None
        out = conv(x)
        out.backward(upstream)
        return check_value(w["weight"], w["bias"], conv.weight.grad.numpy(), conv.bias.grad.numpy(), x.grad.numpy())

    return step


CONV = Benchmark(
    key="conv",
    title="Conv2d forward+backward 64×3×32×32 → 32 filters 3×3, padding 1 (input, weight and bias gradients)",
    workload=conv_workload,
    columns={BASELINE: conv_numpy, "tinytorch": conv_tinytorch, "PyTorch": conv_torch},
)


def main(argv=None) -> int:
    return table_main(CONV, argv)


if __name__ == "__main__":
    sys.exit(main())
