"""Probes for kata 03 (Layers): Module, Parameter, Linear, Sequential, ModuleList, ModuleDict, Dropout, state_dict."""

import numpy as np

from dojo.classroom.probes import probe


def _model(rng):
    """A two-layer model whose weights are set from ``rng`` (never the student's random init)."""
    from tinytorch.activations import ReLU
    from tinytorch.layers import Linear, Sequential

    model = Sequential(Linear(4, 3), ReLU(), Linear(3, 2, bias=False))
    model[0].weight.data[...] = rng.normal(size=(3, 4))
    model[0].bias.data[...] = rng.normal(size=(3,))
    model[2].weight.data[...] = rng.normal(size=(2, 3))
    return model


@probe("module")
def module_tree(rng):
    from tinytorch.layers import Linear, Module, Parameter

    class Pair(Module):
        def __init__(self):
            super().__init__()
            self.first = Linear(2, 2)
            self.second = Linear(2, 1, bias=False)

    class Net(Module):
        def __init__(self):
            super().__init__()
            self.scale = Parameter(np.array([2, 3]))  # ints become float32
            self.blocks = Pair()
            self.shared = self.blocks.first  # reachable twice: listed once
            self.constant = 7.0
            self.sizes = [2, 1]  # a plain list without modules is fine

        def forward(self, x):
            return x * self.scale

    net = Net()
    names = [name for name, _ in net.named_parameters()]
    net.eval()
    modes = [net.training, net.blocks.first.training, net.blocks.second.training]
    net.train()
    modes += [net.training, net.blocks.second.training]
    for p in net.parameters():
        p.grad = np.ones_like(p.data)
    net.zero_grad()
    from tinytorch.tensor import Tensor

    x = Tensor(rng.normal(size=(3, 2)).astype(np.float32))
    return {"names": names, "count": len(net.parameters()), "children": len(net.children()), "modes": modes,
            "grads_cleared": all(p.grad is None for p in net.parameters()), "scale.dtype": str(net.scale.dtype),
            "requires_grad": bool(net.scale.requires_grad), "call": net(x)}


@probe("module")
def plain_list_of_modules_is_refused(rng):
    from tinytorch.layers import Linear, Module

    class Net(Module):
        def __init__(self, n):
            super().__init__()
            self.blocks = [Linear(2, 2) for _ in range(n)]

    return Net(int(rng.integers(1, 4))).parameters()


@probe("linear")
def linear_forward(rng):
    from tinytorch.layers import Linear
    from tinytorch.tensor import Tensor

    layer = Linear(4, 3)
    layer.weight.data[...] = rng.normal(size=(3, 4))
    layer.bias.data[...] = rng.normal(size=(3,))
    x = Tensor(rng.normal(size=(2, 5, 4)).astype(np.float32))
    k = 1.0 / np.sqrt(7)
    fresh = Linear(7, 6)
    in_range = bool(np.all(np.abs(fresh.weight.data) <= k)) and bool(np.all(np.abs(fresh.bias.data) <= k))
    return {"y": layer(x), "weight.shape": list(fresh.weight.shape), "bias.shape": list(fresh.bias.shape),
            "dtype": str(fresh.weight.dtype), "init_in_range": in_range, "no_bias": Linear(3, 2, bias=False).bias is None}


@probe("sequential")
def sequential(rng):
    from tinytorch.tensor import Tensor

    model = _model(rng)
    x = Tensor(rng.normal(size=(5, 4)).astype(np.float32))
    return {"y": model(x), "len": len(model), "tail": model[1:](model[0](x)), "names": [n for n, _ in model.named_parameters()]}


@probe("sequential")
def module_list_and_dict(rng):
    from tinytorch.activations import ReLU
    from tinytorch.layers import Linear, Module, ModuleDict, ModuleList
    from tinytorch.tensor import Tensor

    class Net(Module):
        def __init__(self):
            super().__init__()
            self.blocks = ModuleList([Linear(3, 3) for _ in range(3)])
            self.heads = ModuleDict({"b": Linear(3, 2), "a": Linear(3, 1, bias=False)})

    net = Net()
    for p in net.parameters():
        p.data[...] = rng.normal(size=p.shape)
    del net.blocks[int(rng.integers(0, 3))]
    net.blocks.insert(1, ReLU())
    x = Tensor(rng.normal(size=(2, 3)).astype(np.float32))
    for block in net.blocks:
        x = block(x)
    return {"names": [n for n, _ in net.named_parameters()], "len": len(net.blocks), "keys": list(net.heads),
            "a": net.heads["a"](x), "b": net.heads["b"](x)}


@probe("dropout")
def dropout(rng):
    from tinytorch.layers import Dropout
    from tinytorch.tensor import Tensor

    x = Tensor(rng.normal(size=(4, 5)).astype(np.float32))
    ones = Tensor(np.ones(20000, dtype=np.float32))
    train = Dropout(0.25)(ones).data
    values_ok = bool(np.all((train == 0) | np.isclose(train, 1 / 0.75)))
    kept = float(np.mean(train != 0))
    return {"eval": Dropout(0.5).eval()(x), "p0": Dropout(0.0)(x), "p1": Dropout(1.0)(x),
            "train_values": values_ok, "train_keeps_about_0.75": bool(abs(kept - 0.75) < 0.03)}


@probe("dropout")
def dropout_rejects_bad_p(rng):
    from tinytorch.layers import Dropout

    return Dropout(1.0 + float(rng.uniform(0.1, 2.0)))


@probe("state_dict")
def state_dict_roundtrip(rng):
    model = _model(rng)
    state = model.state_dict()
    snapshot = {k: v.copy() for k, v in state.items()}
    model[0].weight.data[...] += 1.0  # the snapshot is a copy
    other = _model(rng)
    weight = other[0].weight
    other.load_state_dict(snapshot)
    return {"keys": sorted(state), "copy": state["0.weight"], "loaded": other[0].weight, "same_object": other[0].weight is weight}


@probe("state_dict")
def load_state_dict_rejects_missing_keys(rng):
    model = _model(rng)
    state = model.state_dict()
    del state["0.bias"]
    return model.load_state_dict(state)
