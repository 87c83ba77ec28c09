"""Probes for kata 06 (Optimizers): the base class, SGD (momentum, Nesterov, weight decay), Adam,
AdamW and their state_dict. Each probe runs a few steps on parameters with gradients set from the
seed (no autograd needed) and returns the parameters after them."""

import numpy as np

from dojo.classroom.probes import probe


def _params(rng, n=2):
    from tinytorch.layers import Parameter

    return [Parameter(rng.normal(size=(3, 2)).astype(np.float32)) for _ in range(n)]


def _run(rng, optimizer, params, steps=3):
    grads = [[rng.normal(size=p.shape).astype(np.float32) for p in params] for _ in range(steps)]
    for i, step in enumerate(grads):
        optimizer.zero_grad()
        for p, g in zip(params, step):
            p.grad = g
        if i == 1 and len(params) > 1:
            params[-1].grad = None  # a parameter without a gradient is skipped (its state too)
        optimizer.step()
    return {f"p{i}": p for i, p in enumerate(params)}


@probe("optimizer")
def optimizer_base(rng):
    from tinytorch.optim import SGD

    params = _params(rng)
    for p in params:
        p.grad = np.ones(p.shape, dtype=np.float32)
    optimizer = SGD(iter(params), lr=0.1)  # a generator is read once
    optimizer.zero_grad()
    return {"count": len(optimizer.params), "cleared": all(p.grad is None for p in params)}


@probe("optimizer")
def optimizer_param_groups(rng):
    from tinytorch.optim import SGD

    params = _params(rng, 3)
    lr = float(rng.uniform(0.01, 0.1))
    optimizer = SGD([{"params": params[:1]}, {"params": iter(params[1:]), "lr": lr, "momentum": 0.5}], lr=0.1)
    groups = optimizer.param_groups
    return {"lrs": [g["lr"] for g in groups], "momentum": [g["momentum"] for g in groups],
            "sizes": [len(g["params"]) for g in groups], "same": all(p is q for p, q in zip(optimizer.params, params))}


@probe("optimizer")
def optimizer_has_no_lr_attribute(rng):
    from tinytorch.optim import SGD

    return SGD(_params(rng, 1), lr=float(rng.uniform(0.01, 0.1))).lr


@probe("optimizer")
def optimizer_rejects_duplicates(rng):
    from tinytorch.optim import SGD

    p = _params(rng, 1)[0]
    return SGD([p, p], lr=float(rng.uniform(0.01, 0.1)))


@probe("sgd")
def sgd_plain_and_weight_decay(rng):
    from tinytorch.optim import SGD

    params = _params(rng)
    grouped = _params(rng)
    return {"one": _run(rng, SGD(params, lr=0.1, weight_decay=0.01), params),
            "groups": _run(rng, SGD([{"params": grouped[:1]}, {"params": grouped[1:], "lr": 0.01, "weight_decay": 0.1}],
                                    lr=0.1), grouped)}


@probe("momentum")
def sgd_momentum_and_nesterov(rng):
    from tinytorch.optim import SGD

    plain = _params(rng)
    nesterov = _params(rng)
    return {"momentum": _run(rng, SGD(plain, lr=0.05, momentum=0.9), plain),
            "nesterov": _run(rng, SGD(nesterov, lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1), nesterov)}


@probe("adam")
def adam(rng):
    from tinytorch.optim import Adam

    params = _params(rng)
    decayed = _params(rng)
    return {"adam": _run(rng, Adam(params, lr=0.01, betas=(0.8, 0.9)), params, steps=4),
            "l2": _run(rng, Adam(decayed, lr=0.01, weight_decay=0.1), decayed)}


@probe("adamw")
def adamw(rng):
    from tinytorch.optim import AdamW

    params = _params(rng)
    return _run(rng, AdamW([{"params": params[:1]}, {"params": params[1:], "weight_decay": 0.0, "lr": 0.05}],
                           lr=0.01, weight_decay=0.1), params, steps=4)


@probe("state_dict")
def state_dict_resumes_exactly(rng):
    from tinytorch.optim import Adam

    params = _params(rng)
    optimizer = Adam(params, lr=0.02)
    _run(rng, optimizer, params, steps=2)
    saved = optimizer.state_dict()
    copies = [p.data.copy() for p in params]
    optimizer.param_groups[0]["lr"] = 0.5
    resumed_params = _params(rng)
    for p, c in zip(resumed_params, copies):
        p.data[...] = c
    resumed = Adam(resumed_params, lr=0.9)
    resumed.load_state_dict(saved)
    return {"lr": resumed.param_groups[0]["lr"], "saved_groups": [g["params"] for g in saved["param_groups"]],
            "after": _run(rng, resumed, resumed_params, steps=2)}
