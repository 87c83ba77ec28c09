"""``make bench`` row: one training step of an MLP 784-256-128-10, batch 128, cross-entropy, plain SGD.

Columns: raw NumPy (forward, backward and update written out by hand), tinytorch through its
public API (modules, ``cross_entropy``, ``backward()``, ``SGD``) and PyTorch, all from the same
weights and batch. The tinytorch column needs katas 01-06.
"""

from __future__ import annotations

import sys

from dojo.bench.core import BASELINE, Benchmark, Unavailable, table_main, tinytorch_modules, torch_module

MLP_SIZES = (784, 256, 128, 10)
MLP_BATCH = 128
MLP_LR = 0.01


def mlp_workload(seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    params = []
    for n_in, n_out in zip(MLP_SIZES[:-1], MLP_SIZES[1:]):
        k = 1 / np.sqrt(n_in)  # nn.Linear's default initialisation
        params.append(rng.uniform(-k, k, (n_out, n_in)).astype(np.float32))
        params.append(rng.uniform(-k, k, n_out).astype(np.float32))
    x = rng.standard_normal((MLP_BATCH, MLP_SIZES[0])).astype(np.float32)
    y = rng.integers(0, MLP_SIZES[-1], MLP_BATCH).astype(np.int64)
    return {"params": params, "x": x, "y": y, "lr": MLP_LR}


def mlp_numpy(w):
    """Forward, backward and SGD update written out by hand, as a NumPy programmer would."""
    import numpy as np

    params = [p.copy() for p in w["params"]]
    x, y, lr = w["x"], w["y"], np.float32(w["lr"])
    n = len(y)
    rows = np.arange(n)

    def step():
        W1, b1, W2, b2, W3, b3 = params
        h1 = x @ W1.T + b1
        a1 = np.maximum(h1, 0)
        h2 = a1 @ W2.T + b2
        a2 = np.maximum(h2, 0)
        z = a2 @ W3.T + b3
        m = z.max(axis=1, keepdims=True)
        e = np.exp(z - m)
        s = e.sum(axis=1, keepdims=True)
        loss = np.mean(np.log(s[:, 0]) + m[:, 0] - z[rows, y])
        g3 = e / s
        g3[rows, y] -= 1
        g3 /= n
        g2 = (g3 @ W3) * (h2 > 0)
        g1 = (g2 @ W2) * (h1 > 0)
        grads = (g1.T @ x, g1.sum(axis=0), g2.T @ a1, g2.sum(axis=0), g3.T @ a2, g3.sum(axis=0))
        for p, g in zip(params, grads):
            p -= lr * g
        return float(loss)

    return step


def mlp_tinytorch(w):
    tt = tinytorch_modules()
    try:
        L, A = tt["layers"], tt["activations"]
        model = L.Sequential(L.Linear(784, 256), A.ReLU(), L.Linear(256, 128), A.ReLU(), L.Linear(128, 10))
        for p, value in zip(model.parameters(), w["params"]):
            p.data[...] = value
        optimizer = tt["optim"].SGD(model.parameters(), lr=w["lr"])
    except NotImplementedError as error:
        raise Unavailable(f"not implemented yet: {error}") from None
    Tensor, cross_entropy = tt["tensor"].Tensor, tt["losses"].cross_entropy
    x, y = Tensor(w["x"]), Tensor(w["y"])

    def step():
        loss = cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return float(loss.item())

    return step


def mlp_torch(w):
    torch = torch_module()
    layers = []
    for i in range(0, len(w["params"]), 2):
        out_features, in_features = w["params"][i].shape
        layer = torch.nn.Linear(in_features, out_features)
        with torch.no_grad():
            layer.weight.copy_(torch.from_numpy(w["params"][i]))
            layer.bias.copy_(torch.from_numpy(w["params"][i + 1]))
        layers += [layer, torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    optimizer = torch.optim.SGD(model.parameters(), lr=w["lr"])
    x, y = torch.from_numpy(w["x"]), torch.from_numpy(w["y"])

    def step():
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return float(loss.item())

    return step



MLP = Benchmark(
    key="mlp",
    title="MLP train step 784-256-128-10, batch 128 (forward, cross-entropy, backward, SGD)",
    workload=mlp_workload,
    columns={BASELINE: mlp_numpy, "tinytorch": mlp_tinytorch, "PyTorch": mlp_torch},
)


def main(argv=None) -> int:
    return table_main(MLP, argv)


if __name__ == "__main__":
    sys.exit(main())
