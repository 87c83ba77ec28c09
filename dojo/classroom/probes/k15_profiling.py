"""Probes for kata 15 (Profiling): parameters and bytes counted once per buffer (tied and shared
weights), FLOPs of Linear, Conv2d and attention, the traced calls of a forward pass and a model's
FLOPs, activation bytes and the peak memory, per-layer latency and the report. Every time comes
from an injected fake clock: nothing here reads the wall clock, so the figures are exact."""

import numpy as np

from dojo.classroom.probes import error_name, probe


def _gpt(rng):
    from tinytorch.transformer import GPT

    V, block, L, C = int(rng.integers(5, 12)), int(rng.integers(4, 9)), int(rng.integers(1, 3)), 4 * int(rng.integers(1, 4))
    return GPT(vocab_size=V, block_size=block, n_layer=L, n_head=2, n_embd=C), (V, block, L, C)


class _Clock:
    """A fake clock that moves only when a layer says it worked."""

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class _Ticking:
    """A fake clock that moves 1 ms at every reading (every call takes some time: no 0 / 0)."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        self.now += 0.001
        return self.now


def _work_module():
    """A Module class taking costs[i] fake seconds on its i-th call (the last cost repeats)."""
    from tinytorch.layers import Module

    class Work(Module):
        def __init__(self, clock, *costs):
            super().__init__()
            self.clock, self.costs, self.calls = clock, costs, 0

        def forward(self, x):
            self.clock.now += self.costs[min(self.calls, len(self.costs) - 1)]
            self.calls += 1
            return x * 1.0

    return Work


@probe("params")
def parameters_and_buffers(rng):
    from tinytorch.layers import Linear, Sequential
    from tinytorch.profiling import buffer_of, count_parameters, distinct_nbytes, parameter_bytes
    from tinytorch.tensor import Tensor

    rows, cols = int(rng.integers(3, 7)), int(rng.integers(3, 7))
    a = np.zeros((rows, cols), dtype=np.float32)
    b = np.zeros(int(rng.integers(2, 9)), dtype=np.float64)
    views = [a.T, a.reshape(-1), a[1:, ::2], a[1:, ::2].T, a.reshape(-1)[2:]]
    model, _ = _gpt(rng)
    untied = count_parameters(model)
    untied_bytes = parameter_bytes(model)
    model.head.weight = model.tok_emb.weight
    tied_object = count_parameters(model)
    model2, _ = _gpt(rng)
    model2.head.weight.data = model2.tok_emb.weight.data
    enc, dec = Linear(cols, rows), Linear(rows, cols, bias=False)
    dec.weight.data = enc.weight.data.T
    layer = Linear(rows, rows)
    return {"buffer_of": [buffer_of(v) is a for v in views] + [buffer_of(a.T.copy()) is a],
            "distinct": [distinct_nbytes([a, *views, b, b[1:]]), distinct_nbytes([a, a.copy()]), distinct_nbytes([]),
                         distinct_nbytes([Tensor(a), a.T])],
            "gpt": [untied, untied_bytes, tied_object, count_parameters(model2), parameter_bytes(model2)],
            "transposed_tie": count_parameters(Sequential(enc, dec)), "shared": count_parameters(Sequential(layer, layer)),
            "no_bias": count_parameters(Linear(cols, rows, bias=False))}


@probe("flops")
def layer_flops(rng):
    from tinytorch.attention import MultiHeadAttention
    from tinytorch.layers import Linear
    from tinytorch.profiling import attention_flops, conv2d_flops, linear_flops
    from tinytorch.spatial import Conv2d

    fan_in, fan_out = int(rng.integers(1, 9)), int(rng.integers(1, 9))
    leading = [int(v) for v in rng.integers(1, 5, size=int(rng.integers(0, 4)))]
    linear = linear_flops(Linear(fan_in, fan_out), (*leading, fan_in))
    big = linear_flops(Linear(512, 1000), (64, int(rng.integers(1000, 1100)), 512))
    k, s, p = (tuple(int(v) for v in rng.integers(low, high, size=2)) for low, high in ((1, 4), (1, 3), (0, 2)))
    conv = Conv2d(int(rng.integers(1, 4)), int(rng.integers(1, 5)), k, stride=s, padding=p)
    conv_shape = (int(rng.integers(1, 3)), conv.in_channels, int(rng.integers(4, 10)), int(rng.integers(4, 10)))
    heads = int(rng.integers(1, 4))
    mha = MultiHeadAttention(4 * heads, heads)
    attn_shape = (int(rng.integers(1, 4)), int(rng.integers(1, 9)), 4 * heads)
    return {"linear": linear, "linear_type": type(linear).__name__, "big": str(big), "big_type": type(big).__name__,
            "conv": int(conv2d_flops(conv, conv_shape)), "attention": int(attention_flops(mha, attn_shape))}


@probe("trace")
def traced_calls_and_model_flops(rng):
    from tinytorch import layers
    from tinytorch.activations import ReLU
    from tinytorch.layers import Linear, Module, Sequential
    from tinytorch.profiling import Tracer, count_flops, flops_by_layer, trace
    from tinytorch.tensor import Tensor

    class Broken(Module):
        def forward(self, x):
            raise ValueError("broken on purpose")

    n_in, hidden, n_out = int(rng.integers(2, 6)), int(rng.integers(2, 6)), int(rng.integers(2, 6))
    mlp = Sequential(Linear(n_in, hidden), ReLU(), Linear(hidden, n_out))
    x = Tensor(rng.normal(size=(int(rng.integers(1, 5)), n_in)).astype(np.float32))
    tracer = trace(mlp, x)
    root = tracer.calls[0]
    calls = {"names": [c.name for c in tracer.calls], "depths": [c.depth for c in tracer.calls],
             "shapes": [list(c.shape) for c in tracer.calls], "roots": len(tracer.roots),
             "children": [[mlp_call.name for mlp_call in c.children] for c in tracer.calls],
             "parents": [c.parent is root for c in tracer.calls[1:]], "first_output": tracer.calls[1].outputs[0],
             "root_output_is_last": bool(root.outputs[0] is tracer.calls[-1].outputs[0] is tracer.output.data)}
    model = Sequential(mlp, Broken())
    error = ""
    try:
        with Tracer(model) as broken:
            model(Tensor(np.zeros((1, n_in), dtype=np.float32)))
    except ValueError as e:
        error = type(e).__name__
    calls["exception"] = {"error": error, "stack": len(broken.stack), "observers": len(layers.call_observers),
                          "names": [c.name for c in broken.calls]}
    gpt, _ = _gpt(rng)
    ids = rng.integers(0, gpt.head.weight.shape[0], size=(int(rng.integers(1, 4)), int(rng.integers(2, gpt.block_size + 1))))
    per = flops_by_layer(gpt, ids)
    macs = flops_by_layer(gpt, ids, macs=True)
    shared = Linear(3, 3)
    return {"calls": calls, "gpt_total": count_flops(gpt, ids), "gpt_macs": count_flops(gpt, ids, macs=True),
            "per_names": sorted(per), "per_flops": [per[k] for k in sorted(per)], "per_macs": [macs.get(k, -1) for k in sorted(per)],
            "twice": count_flops(Sequential(shared, shared), Tensor(np.zeros((2, 3), dtype=np.float32)))}


@probe("memory")
def activations_and_peak(rng):
    import tracemalloc

    from tinytorch.layers import Dropout, Linear, Module, Sequential
    from tinytorch.profiling import activation_bytes, peak_memory
    from tinytorch.spatial import Conv2d, Flatten, MaxPool2d
    from tinytorch.tensor import Tensor

    n, c, side = int(rng.integers(1, 4)), int(rng.integers(1, 4)), 2 * int(rng.integers(2, 4))
    model = Sequential(Conv2d(1, c, 3, padding=1), MaxPool2d(2), Flatten(), Dropout(0.5), Linear(c * (side // 2) ** 2, 3))
    model.eval()
    cnn = activation_bytes(model, Tensor(rng.normal(size=(n, 1, side, side)).astype(np.float32)))
    gpt, _ = _gpt(rng)
    ids = rng.integers(0, gpt.head.weight.shape[0], size=(2, int(rng.integers(2, gpt.block_size + 1))))
    size = int(rng.integers(100_000, 200_000))

    class Scratch(Module):
        def forward(self, x):
            scratch = np.ones(size, dtype=np.float64)
            return Tensor(np.float32(scratch.sum()) + x.data.sum())

    x = Tensor(np.zeros(4, dtype=np.float32))
    was = tracemalloc.is_tracing()
    peak = peak_memory(Sequential(Scratch()), x)
    seen = []
    peak_args = peak_memory(lambda k, dtype: seen.append(np.zeros(k, dtype=dtype)), size, dtype=np.float32)
    return {"cnn": cnn, "gpt": activation_bytes(gpt, ids), "scratch_activations_small": activation_bytes(Sequential(Scratch()), x) < 100,
            "peak_sees_scratch": bool(8 * size <= peak < 8 * size + 500_000), "peak_args": bool(len(seen) == 1 and peak_args >= 4 * size),
            "tracing_left_as_found": tracemalloc.is_tracing() == was}


@probe("latency")
def layer_times_with_a_fake_clock(rng):
    from tinytorch.layers import Module, Sequential
    from tinytorch.profiling import time_layers
    from tinytorch.tensor import Tensor

    Work = _work_module()

    class Outer(Module):
        def __init__(self, clock, inner, cost):
            super().__init__()
            self.clock, self.inner, self.cost = clock, inner, cost

        def forward(self, x):
            self.clock.now += self.cost
            return self.inner(x)

    clock = _Clock()
    costs = [float(v) for v in np.round(rng.uniform(0.001, 0.01, size=6), 6)]
    cold = float(np.round(rng.uniform(0.2, 0.6), 3))
    shared = Work(clock, costs[5])
    first = Work(clock, cold, costs[0], costs[1], costs[2])
    model = Sequential(first, Outer(clock, Work(clock, costs[3]), costs[4]), shared, shared)
    warmup, repeats = int(rng.integers(1, 3)), 3
    times = time_layers(model, Tensor(np.zeros(3, dtype=np.float32)), warmup=warmup, repeats=repeats, clock=clock)
    out = {name: {"calls": t.calls, "total": t.total, "self": t.self_time} for name, t in times.items()}
    errors = []
    for kwargs in ({"repeats": 0}, {"warmup": -1}):
        try:
            time_layers(Sequential(Work(clock, 0.001)), Tensor(np.zeros(3, dtype=np.float32)), clock=clock, **kwargs)
            errors.append("")
        except NotImplementedError:
            raise
        except Exception as error:  # noqa: BLE001
            errors.append(error_name(error))
    cold_times = time_layers(Sequential(Work(clock, cold, costs[0])), Tensor(np.zeros(3, dtype=np.float32)), warmup=0, repeats=1, clock=clock)
    return {"names": list(times), "times": out, "calls_made": first.calls, "cold": cold_times["0"].total, "errors": errors}


@probe("report")
def profile_rows_and_table(rng):
    from tinytorch.layers import Linear, Module, Sequential
    from tinytorch.profiling import profile
    from tinytorch.tensor import Tensor

    Work = _work_module()
    clock = _Clock()
    j = int(rng.choice([1, 2, 3, 5, 6, 7]))
    a, b = 0.001 * j, 0.001 * (8 - j)  # shares of 12.5% steps: their one-decimal form is never a rounding tie
    n_in, hidden = int(rng.integers(2, 6)), int(rng.integers(2, 6))
    model = Sequential(Linear(n_in, hidden), Work(clock, a), Linear(hidden, 2), Work(clock, b))
    x = Tensor(rng.normal(size=(int(rng.integers(1, 6)), n_in)).astype(np.float32))
    prof = profile(model, x, warmup=1, repeats=3, clock=clock, memory=False)
    rows = {"names": [r.name for r in prof.rows], "types": [r.type for r in prof.rows], "depths": [r.depth for r in prof.rows],
            "calls": [r.calls for r in prof.rows], "params": [r.params for r in prof.rows], "flops": [r.flops for r in prof.rows],
            "out_bytes": [r.out_bytes for r in prof.rows], "self_time": [r.self_time for r in prof.rows],
            "self_percent": [r.self_percent for r in prof.rows]}
    table, macs = prof.table(), prof.table(macs=True)
    words = ["Sequential", "Linear", "Work", f"{100 * a / (a + b):.1f}%", f"{100 * b / (a + b):.1f}%", "FLOPs", f"{prof.flops:,}"]
    gpt, _ = _gpt(rng)
    gpt.head.weight = gpt.tok_emb.weight
    ids = rng.integers(0, gpt.head.weight.shape[0], size=(2, int(rng.integers(2, gpt.block_size + 1))))
    g = profile(gpt, ids, warmup=0, repeats=1, clock=_Ticking(), memory=False)
    grows = {r.name: r for r in g.rows}
    size = int(rng.integers(100_000, 200_000))

    class Scratch(Module):
        def forward(self, x):
            return x + float(np.ones(size).sum())

    peak = profile(Sequential(Linear(2, 2), Scratch()), Tensor(np.zeros((1, 2), dtype=np.float32)), repeats=1, clock=_Ticking()).peak_bytes
    return {"rows": rows, "totals": [prof.params, prof.param_bytes, prof.flops, prof.activation_bytes], "time": prof.time,
            "bottleneck": prof.bottleneck().name, "peak_none": prof.peak_bytes is None, "in_table": [w in table for w in words],
            "macs": ["MACs" in macs, f"{prof.flops // 2:,}" in macs], "str_is_table": str(prof) == table,
            "gpt": {"params": [g.params, sum(r.params for r in g.rows)], "flops": [g.flops, sum(r.flops for r in g.rows)],
                    "activations": [g.activation_bytes, sum(r.out_bytes for r in g.rows)], "head_out": grows["head"].out_bytes,
                    "root_out": grows[""].out_bytes, "tok_emb_params": grows["tok_emb"].params, "head_params": grows["head"].params},
            "peak_sees_scratch": bool(peak is not None and peak >= 8 * size)}
