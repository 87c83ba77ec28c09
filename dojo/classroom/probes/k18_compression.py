"""Probes for kata 18 (Compression): magnitude masks (per array and global, exact counts with ties),
sparsity counted in the weights, the Pruned layer (forward, zero gradients, zeros that survive an
optimizer, remove), magnitude_prune of a whole model (global and per layer, pruning again),
structured pruning that shrinks the arrays, the low-rank factorization (through its product and
outputs: the SVD's signs are not unique), the distillation loss and its gradient, and CSR storage.

Weights are drawn from the seed (continuous values: no ties unless a probe builds them)."""

import numpy as np

from dojo.classroom.probes import probe, raises


def _linear(rng, n_in, n_out, scale=1.0, bias=True, dtype=np.float32):
    from tinytorch.compression import linear_from_arrays

    return linear_from_arrays((rng.normal(size=(n_out, n_in)) * scale).astype(dtype),
                              rng.normal(size=n_out).astype(dtype) if bias else None)


def _mlp(rng, sizes, scales=None):
    from tinytorch.activations import ReLU
    from tinytorch.layers import Sequential

    scales = scales or [1.0] * (len(sizes) - 1)
    items = []
    for (n_in, n_out), scale in zip(zip(sizes[:-1], sizes[1:]), scales):
        items += [_linear(rng, n_in, n_out, scale), ReLU()]
    return Sequential(*items[:-1])


@probe("magnitude")
def masks_and_sparsity(rng):
    from tinytorch.compression import global_magnitude_masks, magnitude_mask, sparsity
    from tinytorch.tensor import Tensor

    w = rng.normal(size=(int(rng.integers(2, 6)), int(rng.integers(2, 7)))).astype(np.float32)
    amount = float(rng.uniform(0, 1))
    arrays = [rng.normal(size=(3, 5)).astype(np.float32), (0.1 * rng.normal(size=7)).astype(np.float32),
              (3 * rng.normal(size=(2, 2, 2))).astype(np.float32)]
    g_amount = float(rng.uniform(0, 1))
    ties = magnitude_mask(np.ones((2, int(rng.integers(2, 6))), np.float32), 0.5)
    model = _mlp(rng, [4, 6, 2])
    model[0].weight.data[: int(rng.integers(1, 6))] = 0
    model[2].bias.data[:] = 0
    return {"mask": magnitude_mask(w, amount), "mask_dtype": str(magnitude_mask(w, amount).dtype),
            "tensor": bool(np.array_equal(magnitude_mask(Tensor(w), amount), magnitude_mask(w, amount))),
            "ends": [magnitude_mask(w, 0.0), magnitude_mask(w, 1.0)], "global": global_magnitude_masks(arrays, g_amount),
            "tied_pruned": int((~ties).sum()), "bad": [raises(lambda: magnitude_mask(w, -0.1)), raises(lambda: magnitude_mask(w, 1.5))],
            "sparsity": [sparsity(np.array([[0.0, 1.0], [-0.0, 1e-30]])), sparsity(Tensor(np.zeros((3, 3)))),
                         sparsity([np.zeros(2), np.ones(6)]), sparsity(model), sparsity(model[0])]}


@probe("pruned")
def pruned_layer(rng):
    from tinytorch.activations import ReLU
    from tinytorch.compression import Pruned, magnitude_mask
    from tinytorch.layers import Sequential
    from tinytorch.losses import cross_entropy
    from tinytorch.optim import SGD
    from tinytorch.tensor import Tensor

    n_in, n_out = int(rng.integers(3, 7)), int(rng.integers(2, 6))
    layer = _linear(rng, n_in, n_out)
    mask = magnitude_mask(layer.weight.data, float(rng.uniform(0.3, 0.7)))
    original = layer.weight.data.copy()
    pruned = Pruned(layer, mask)
    x = Tensor(rng.normal(size=(5, n_in)).astype(np.float32))
    out = pruned(x)
    masked = pruned.weight.data.copy()
    out.backward(rng.normal(size=out.shape).astype(np.float32))
    checks = {"holds_linear": pruned.linear is layer, "original_kept": bool(np.array_equal(layer.weight.data, original)),
              "parameters": [name for name, _ in pruned.named_parameters()]}
    model = Sequential(_linear(rng, n_in, 6), ReLU(), _linear(rng, 6, 3))
    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=0.01)
    data, labels = Tensor(rng.normal(size=(8, n_in)).astype(np.float32)), Tensor(rng.integers(0, 3, 8))
    for _ in range(2):
        optimizer.zero_grad()
        cross_entropy(model(data), labels).backward()
        optimizer.step()
    inner = Pruned(model[0], magnitude_mask(model[0].weight.data, 0.5))
    setattr(model, "0", inner)
    before = inner.weight.data.copy()
    for _ in range(3):
        optimizer.zero_grad()
        cross_entropy(model(data), labels).backward()
        optimizer.step()
    survive = {"zeros_kept": bool(np.array_equal(inner.weight.data == 0, before == 0)), "zeros": int((inner.weight.data == 0).sum()),
               "trained": bool(not np.allclose(inner.weight.data[inner.mask], before[inner.mask]))}
    expected = pruned(x).data
    linear = pruned.remove()
    return {"out": out, "weight": masked, "grad_weight": layer.weight.grad, "grad_bias": layer.bias.grad, "checks": checks, "survive": survive,
            "removed": {"type": type(linear).__name__, "same": linear is layer, "weight": linear.weight, "out": linear(x), "before": expected},
            "errors": [raises(lambda: Pruned(_linear(rng, n_in, n_out), np.ones((n_in, n_out), dtype=bool))),
                       raises(lambda: Pruned(ReLU(), np.ones((n_out, n_in), dtype=bool)))]}


@probe("prune")
def prune_a_model(rng):
    from tinytorch.compression import magnitude_prune, remove_pruning
    from tinytorch.layers import Module
    from tinytorch.tensor import Tensor

    sizes = [int(rng.integers(3, 8)) for _ in range(4)]
    model = _mlp(rng, sizes, scales=[2.0, 1.0, 0.5])
    amount = float(rng.uniform(0.2, 0.8))
    pruned = magnitude_prune(model, amount)
    zeros = [int((p.weight.data == 0).sum()) for p in pruned]
    x = Tensor(rng.normal(size=(4, sizes[0])).astype(np.float32))
    global_result = {"types": [type(m).__name__ for m in model], "zeros": zeros, "masks": [p.mask for p in pruned],
                     "returned_in_place": [p is m for p, m in zip(pruned, [model[0], model[2], model[4]])], "out": model(x)}
    again = magnitude_prune(model, min(0.95, amount + 0.1))
    more = {"same_objects": [a is b for a, b in zip(again, pruned)], "zeros": [int((p.weight.data == 0).sum()) for p in again]}
    magnitude_prune(model, amount / 2)
    more["less_keeps"] = [int((p.weight.data == 0).sum()) for p in again]
    expected = model(x).data
    removed = remove_pruning(model) is model
    layer_model = _mlp(rng, sizes)
    magnitude_prune(layer_model, 0.5, scope="layer")
    per_layer = [int((m.weight.data == 0).sum()) for m in layer_model if hasattr(m, "weight")]

    from tinytorch import layers

    many = getattr(layers, "ModuleList", list)  # a plain list before kata 03 had ModuleList

    class Net(Module):
        def __init__(self):
            super().__init__()
            self.blocks = many([_linear(rng, 4, 4), _linear(rng, 4, 4)])
            self.head = _linear(rng, 4, 2)

    net = Net()
    found = magnitude_prune(net, 0.5, scope="layer")
    return {"global": global_result, "again": more, "removed": [removed, [type(m).__name__ for m in model]],
            "removed_out": model(x), "removed_expected": expected, "per_layer": per_layer,
            "nested": [len(found), type(net.head).__name__, [type(b).__name__ for b in net.blocks], int((net.head.weight.data == 0).sum())],
            "errors": [raises(lambda: magnitude_prune(_mlp(rng, sizes), 0.5, scope="rows")),
                       raises(lambda: magnitude_prune(_mlp(rng, sizes), 1.2))]}


@probe("structured")
def structured_pruning(rng):
    from tinytorch.activations import ReLU, Softmax, Tanh
    from tinytorch.compression import Pruned, linear_from_arrays, magnitude_mask, prune_hidden_units, prune_neurons
    from tinytorch.layers import Sequential
    from tinytorch.tensor import Tensor

    hidden = int(rng.integers(5, 11))
    w1 = rng.normal(size=(hidden, 6)) * rng.uniform(0.1, 2.0, size=(hidden, 1))
    first = linear_from_arrays(w1, rng.normal(size=hidden))
    second = linear_from_arrays(rng.normal(size=(3, hidden)), rng.normal(size=3))
    amount = float(rng.choice([0.2, 0.4, 0.5]))
    a2, b2, kept2 = prune_neurons(first, second, amount)
    a1, b1, kept1 = prune_neurons(first, second, amount, norm=1)
    c = float(rng.uniform(0.5, 2.0))
    rows = np.array([[c, c, c, c], [2.5 * c, 0.0, 0.0, 0.0]])[rng.permutation(2)][:, rng.permutation(4)]
    spread, peaked = linear_from_arrays(rows, np.zeros(2)), linear_from_arrays(np.ones((1, 2)))
    norms = [prune_neurons(spread, peaked, 0.5, norm=1)[2], prune_neurons(spread, peaked, 0.5, norm=2)[2]]  # L1 and L2 disagree
    x = Tensor(rng.normal(size=(4, 6)))
    sizes = [6, int(rng.integers(6, 12)), int(rng.integers(4, 9)), 3]
    model = Sequential(_linear(rng, sizes[0], sizes[1], dtype=np.float64), Tanh(), _linear(rng, sizes[1], sizes[2], dtype=np.float64),
                       Tanh(), _linear(rng, sizes[2], sizes[3], dtype=np.float64))
    small = prune_hidden_units(model, 0.5)
    same = prune_hidden_units(model, 0.0)
    layer = _linear(rng, 4, 6)
    return {"neurons": {"kept": kept2, "kept_l1": kept1, "shapes": [list(a2.weight.shape), list(a2.bias.shape), list(b2.weight.shape)],
                        "first": a2(x), "pair": b2(ReLU()(a2(x))), "l1_pair": b1(ReLU()(a1(x))),
                        "l1_vs_l2": norms, "untouched": bool(first.weight.shape == (hidden, 6) and second.weight.shape == (3, hidden))},
            "hidden_units": {"shapes": [list(m.weight.shape) for m in small if hasattr(m, "weight")],
                             "types": [type(m).__name__ for m in small], "out": small(x), "unchanged_out": same(x), "original_out": model(x)},
            "errors": [raises(lambda: prune_hidden_units(Sequential(_linear(rng, 4, 6), Softmax(), _linear(rng, 6, 2)), 0.5)),
                       raises(lambda: prune_hidden_units(Sequential(Pruned(layer, magnitude_mask(layer.weight, 0.5)), ReLU(), _linear(rng, 6, 2)), 0.5)),
                       raises(lambda: prune_neurons(_linear(rng, 4, 6), _linear(rng, 6, 2), 1.0))]}


@probe("low_rank")
def low_rank_factors(rng):
    from tinytorch.compression import linear_from_arrays, low_rank
    from tinytorch.tensor import Tensor

    out_f, in_f = int(rng.integers(3, 8)), int(rng.integers(3, 8))
    layer = linear_from_arrays(rng.normal(size=(out_f, in_f)), rng.normal(size=out_f))
    rank = int(rng.integers(1, min(out_f, in_f) + 1))
    thin = low_rank(layer, rank)
    first, second = thin[0], thin[1]
    product = second.weight.data @ first.weight.data
    x = Tensor(rng.normal(size=(3, in_f)))
    f32 = linear_from_arrays(rng.normal(size=(4, 5)).astype(np.float32), rng.normal(size=4).astype(np.float32))
    full = low_rank(f32, 4)
    return {"shapes": [list(first.weight.shape), list(second.weight.shape)], "first_bias_none": first.bias is None,
            "bias": second.bias, "product": product, "error": float(np.linalg.norm(layer.weight.data - product)),
            "out": thin(x), "count": sum(p.size for p in thin.parameters()),
            "float32": {"dtypes": [str(full[0].weight.dtype), str(full[1].weight.dtype)], "product": full[1].weight.data @ full[0].weight.data},
            "errors": [raises(lambda: low_rank(layer, 0)), raises(lambda: low_rank(layer, min(out_f, in_f) + 1))]}


@probe("distillation")
def distillation(rng):
    from tinytorch.compression import distillation_loss
    from tinytorch.tensor import Tensor

    n, c = int(rng.integers(2, 6)), int(rng.integers(2, 7))
    s_logits, t_logits = rng.uniform(-3, 3, size=(n, c)), rng.uniform(-3, 3, size=(n, c))
    targets = rng.integers(0, c, size=n)
    T, alpha = float(rng.uniform(0.5, 5)), float(rng.uniform(0, 1))
    student = Tensor(s_logits, requires_grad=True)
    teacher = Tensor(t_logits, requires_grad=True)
    loss = distillation_loss(student, teacher, Tensor(targets), temperature=T, alpha=alpha)
    loss.backward()
    soft = Tensor(s_logits, requires_grad=True)
    distillation_loss(soft, Tensor(t_logits), targets, temperature=T, alpha=1.0).backward()
    f32 = distillation_loss(Tensor(np.array([[1000.0, -1000.0, 0.0]], np.float32)), Tensor(np.array([[-1000.0, 1000.0, 0.0]], np.float32)),
                            Tensor([0]), temperature=2.0, alpha=0.5)
    return {"loss": loss, "shape": list(loss.shape), "dtype": str(loss.dtype), "grad": student.grad, "teacher_grad_none": teacher.grad is None,
            "soft_grad": soft.grad, "hard_only": distillation_loss(Tensor(s_logits), Tensor(t_logits), Tensor(targets), temperature=T, alpha=0.0),
            "self": distillation_loss(Tensor(s_logits), Tensor(s_logits), Tensor(targets), temperature=T, alpha=1.0),
            "float32": {"dtype": str(f32.dtype), "value": f32},
            "errors": [raises(lambda kw=kw: distillation_loss(Tensor(s_logits), Tensor(t_logits), Tensor(targets), **kw))
                       for kw in ({"temperature": 0.0}, {"temperature": -1.0}, {"alpha": 1.5}, {"alpha": -0.1})]}


@probe("storage")
def csr_storage(rng):
    from tinytorch.compression import Pruned, magnitude_mask, storage, to_csr

    rows, cols = int(rng.integers(3, 9)), int(rng.integers(3, 9))

    def sparse(fraction, dtype=np.float32):
        w = (rng.uniform(0.5, 1.5, size=(rows, cols)) * rng.choice([-1, 1], size=(rows, cols))).astype(dtype)
        w.ravel()[rng.permutation(w.size)[: round(fraction * w.size)]] = 0
        return w

    w = sparse(float(rng.uniform(0.3, 0.9)))
    w[0] = 0
    c = to_csr(w)
    figures = {}
    for name, fraction, dtype in (("half", 0.5, np.float32), ("ninety", 0.9, np.float32), ("float64", 0.5, np.float64)):
        s = storage(sparse(fraction, dtype))
        figures[name] = {"nnz": s.nnz, "dense": s.dense_bytes, "csr": s.csr_bytes, "saves": bool(s.csr_saves),
                         "says_nothing_saved": ("nothing" in str(s)) if not s.csr_saves else None}
    layer = _linear(rng, cols, rows)
    layer.weight.data[:, :1] = 0
    pruned = Pruned(layer, magnitude_mask(layer.weight.data, 0.5))
    return {"data": c.data, "indices": c.indices, "indptr": c.indptr, "dtypes": [str(c.data.dtype), str(c.indices.dtype), str(c.indptr.dtype)],
            "shape": list(c.shape), "nnz": c.nnz, "nbytes": c.nbytes, "dense": c.to_dense(), "figures": figures,
            "pruned_nnz": storage(pruned).nnz, "not_2d": raises(lambda: to_csr(np.ones(5, dtype=np.float32)))}
