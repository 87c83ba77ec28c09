"""Probes for kata 17 (Quantization): symmetric int8 codes and scales per tensor and per row,
the observers' calibrated scales, the exact int8 matmul (also past float32's exact range),
QuantizedLinear (stored codes, the integer formula, calibrated and dynamic scales) and the
conversion of whole models (input scales, sizes, the report).

Integer codes are compared exactly, so the inputs are drawn away from the rounding ties of
``round(x / scale)`` (a value a few ulps from k + 1/2 may honestly round either way)."""

import numpy as np

from dojo.classroom.probes import probe, raises

QMAX = 127


def _away_from_ties(x, scale, margin=0.02):
    """Move every value whose ``x / scale`` lies within ``margin`` of k + 1/2 by ``2·margin·scale`` toward 0."""
    x = np.array(x, dtype=np.float32)
    scale = np.broadcast_to(np.asarray(scale, dtype=np.float64), x.shape)
    code = np.abs(x.astype(np.float64)) / scale
    tie = np.abs(code - np.floor(code) - 0.5) < margin
    x[tie] = (np.sign(x[tie]) * (code[tie] - 2 * margin) * scale[tie]).astype(np.float32)
    return x


def _tensor_ready(rng, shape, scale=1.0):
    """Values whose per-tensor codes are not ties."""
    x = (rng.normal(size=shape) * scale).astype(np.float32)
    return _away_from_ties(x, np.float64(np.abs(x).max()) / QMAX)


def _rows_ready(rng, shape, scales):
    """A 2-D weight whose rows have the given sizes and whose per-row codes are not ties."""
    w = (rng.normal(size=shape) * np.asarray(scales)[:, None]).astype(np.float32)
    return _away_from_ties(w, np.abs(w).max(axis=1, keepdims=True).astype(np.float64) / QMAX)


@probe("weights")
def int8_codes_and_scales(rng):
    from tinytorch.quantization import EPS, dequantize, quantize, quantize_per_channel, quantize_per_tensor, symmetric_scale
    from tinytorch.tensor import Tensor

    x = _tensor_ready(rng, (int(rng.integers(2, 6)), int(rng.integers(2, 7))), scale=float(rng.uniform(0.01, 10)))
    q, scale = quantize_per_tensor(x)
    rows = int(rng.integers(2, 6))
    w = _rows_ready(rng, (rows, int(rng.integers(2, 7))), rng.choice(np.logspace(-3, 1, 9), size=rows))
    r = int(rng.integers(0, rows))
    w[r, np.argmin(np.abs(w[r]))] = 0.0  # not the row's largest: its scale stays
    qc, scales = quantize_per_channel(w)
    qt, _ = quantize_per_channel(Tensor(w))
    s = np.float32(rng.uniform(0.05, 0.2))
    saturate = _away_from_ties(np.array([-1000.0, 1000.0, *rng.uniform(-3, 3, size=4)], np.float32), s)
    zeros_q, zeros_scale = quantize_per_tensor(np.zeros((2, 3), np.float32))
    constant = np.full((2, 3), np.float32(rng.uniform(0.05, 2.0)), np.float32)
    cq, cs = quantize_per_tensor(constant)
    return {"per_tensor": {"q": q, "dtype": str(q.dtype), "scale": scale, "scale_dtype": str(np.asarray(scale).dtype),
                           "back": dequantize(q, scale)},
            "per_channel": {"q": qc, "scales": scales, "dtypes": [str(qc.dtype), str(scales.dtype)], "back": dequantize(qc, scales),
                            "from_tensor": bool(np.array_equal(qt, qc))},
            "saturated": quantize(saturate, s), "zeros": {"q": zeros_q, "eps_scale": bool(float(zeros_scale) == float(EPS)),
                                                           "symmetric_scale_0": bool(float(symmetric_scale(0.0)) == float(EPS))},
            "constant": {"scale": cs, "back": dequantize(cq, cs)}, "dequantize_dtype": str(dequantize(q, scale).dtype)}


@probe("observers")
def calibrated_scales(rng):
    from tinytorch.quantization import EPS, MinMaxObserver, PercentileObserver
    from tinytorch.tensor import Tensor

    batches = [(rng.standard_normal((int(rng.integers(2, 6)), 4)) * s).astype(np.float32) for s in rng.uniform(0.3, 3, size=3)]
    minmax, pct = MinMaxObserver(), PercentileObserver(percentile=float(rng.uniform(50, 100)))
    same = []
    for i, b in enumerate(batches):
        same.append(minmax.observe(b if i % 2 else Tensor(b)) is not None)
        pct.observe(Tensor(b) if i % 2 else b)
    full = PercentileObserver(100.0)
    for b in batches:
        full.observe(b)
    zeros = MinMaxObserver()
    zeros.observe(np.zeros((3, 2), np.float32))
    bad = [raises(lambda p=p: PercentileObserver(p)) for p in (0.0, -1.0, 100.5)]
    return {"min": minmax.min_val, "max": minmax.max_val, "minmax_scale": minmax.scale(),
            "scale_dtype": str(np.asarray(minmax.scale()).dtype), "percentile_scale": pct.scale(), "p100": full.scale(),
            "zeros_eps": bool(float(zeros.scale()) == float(EPS)), "empty": [raises(lambda: MinMaxObserver().scale()),
                                                                           raises(lambda: PercentileObserver(99.0).scale())],
            "bad_percentiles": bad, "returned": same}


@probe("int_matmul")
def exact_integer_products(rng):
    from tinytorch.quantization import int_matmul

    a = rng.integers(-128, 128, (int(rng.integers(1, 5)), int(rng.integers(1, 40)))).astype(np.int8)
    b = rng.integers(-128, 128, (a.shape[1], int(rng.integers(1, 5)))).astype(np.int8)
    k = int(rng.integers(1041, 1300))
    long_a = rng.integers(-128, 128, (2, k)).astype(np.int8)
    long_b = rng.integers(-128, 128, (k, 2)).astype(np.int8)
    long_b[:, 0] = long_a[0]
    odd = k | 1  # k·127² is odd and above 2**24: float32 cannot hold it
    minus = np.full((1, odd - 1), -128, np.int8)
    minus[0, int(rng.integers(0, odd - 1))] = 127
    extreme = [int_matmul(np.full((2, odd), 127, np.int8), np.full((odd, 2), 127, np.int8)),
               int_matmul(minus, minus.T.copy())]
    batched = int_matmul(rng.integers(-127, 128, (2, 3, 9)).astype(np.int8), rng.integers(-127, 128, (6, 9)).astype(np.int8).T)
    small = int_matmul(a, b)
    return {"small": small, "dtype": str(small.dtype), "long": int_matmul(long_a, long_b), "extreme": extreme, "batched": batched,
            "refused": [raises(lambda: int_matmul(np.ones((2, 2), np.float32), np.ones((2, 2), np.int8))),
                        raises(lambda: int_matmul(np.ones((2, 2), np.int8), np.ones((2, 2), np.int32)))]}


def _linear(rng, n_in, n_out, bias=True, gain=1.0):
    """A Linear whose weight rows have different sizes and no per-row (or per-tensor) rounding ties."""
    from tinytorch.layers import Linear

    layer = Linear(n_in, n_out, bias=bias)
    w = (rng.normal(size=(n_out, n_in)) * np.linspace(0.2, 3.0, n_out)[:, None] * gain).astype(np.float32)
    for _ in range(20):  # no ties per row nor per tensor (moving a value off one may put it near the other)
        w = _away_from_ties(w, np.abs(w).max(axis=1, keepdims=True).astype(np.float64) / QMAX)
        w = _away_from_ties(w, np.float64(np.abs(w).max()) / QMAX)
        if np.array_equal(w, _away_from_ties(w, np.abs(w).max(axis=1, keepdims=True).astype(np.float64) / QMAX)):
            break
    layer.weight.data[...] = w
    if bias:
        layer.bias.data[...] = rng.normal(size=n_out).astype(np.float32)
    return layer


@probe("qlinear")
def quantized_linear(rng):
    from tinytorch.quantization import QuantizedLinear
    from tinytorch.tensor import Tensor

    n_in, n_out = int(rng.integers(3, 10)), int(rng.integers(2, 7))
    linear = _linear(rng, n_in, n_out)
    s_x = np.float32(rng.choice([0.02, 0.025, 0.04]))
    x = _away_from_ties(rng.standard_normal((int(rng.integers(2, 6)), n_in)).astype(np.float32), s_x)
    x[0, 0] = np.float32(25.5) + 0.3  # beyond 127 · s_x: saturates
    per_channel = QuantizedLinear.from_linear(linear, input_scale=s_x)
    per_tensor = QuantizedLinear.from_linear(linear, per_channel=False)
    y = _away_from_ties(rng.standard_normal((2, 3, n_in)).astype(np.float32), np.float32(0.05))
    no_bias = QuantizedLinear.from_linear(_linear(rng, n_in, n_out, bias=False), input_scale=0.05)
    dynamic_x = _tensor_ready(rng, (3, n_in))
    dynamic_x = _away_from_ties(dynamic_x, np.float32(np.abs(dynamic_x).max() / np.float32(QMAX)))
    dynamic = QuantizedLinear.from_linear(linear)
    out = per_channel(Tensor(x))
    parameters = [name for name, _ in per_channel.named_parameters()]
    zeroed = QuantizedLinear.from_linear(linear)
    zeroed.weight_int8[...] = 0
    return {"codes": per_channel.weight_int8, "codes_dtype": str(per_channel.weight_int8.dtype), "scales": per_channel.weight_scale,
            "tensor_codes": per_tensor.weight_int8, "tensor_scale": per_tensor.weight_scale, "bias": per_channel.bias,
            "parameters": parameters, "calibrated": out, "out_dtype": str(out.dtype), "dynamic": dynamic(Tensor(dynamic_x)),
            "no_bias": {"bias_none": no_bias.bias is None, "out": no_bias(Tensor(y))}, "zeroed": zeroed(Tensor(x))}


def _mlp(rng, sizes, gain=1.0):
    from tinytorch.activations import ReLU
    from tinytorch.layers import Sequential

    items = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        items += [_linear(rng, n_in, n_out, gain=gain / np.sqrt(n_in)), ReLU()]
    return Sequential(*items[:-1])


@probe("convert")
def converted_models(rng):
    from tinytorch import layers
    from tinytorch.activations import ReLU
    from tinytorch.layers import Linear, Module, Sequential
    from tinytorch.quantization import QuantizedLinear, model_size_bytes, modules, quantize_model, replace_modules

    many, named = getattr(layers, "ModuleList", list), getattr(layers, "ModuleDict", dict)  # plain containers before kata 03 had them

    class Nested(Module):
        def __init__(self):
            super().__init__()
            shared = Linear(6, 6)
            self.first = Linear(4, 6)
            self.blocks = many([Sequential(shared, ReLU()), shared])
            self.heads = named({"a": Linear(6, 3), "b": Linear(6, 3)})
            self.last = Sequential(Linear(3, 2), ReLU())

    nested = Nested()
    made = []

    def swap(m):
        if isinstance(m, Linear):
            made.append(ReLU())
            return made[-1]
        return m

    returned = replace_modules(nested, swap) is nested
    walk = {"returned_model": returned, "kinds": [type(m).__name__ for m in modules(nested)], "calls": len(made),
            "shared": nested.blocks[0][0] is nested.blocks[1]}
    sizes = [int(rng.integers(3, 7)) for _ in range(4)]
    model = _mlp(rng, sizes)
    calib = [rng.standard_normal((4, sizes[0])).astype(np.float32) * s for s in (1.0, 2.0, 3.0)]
    q = quantize_model(model, calib)
    pct = quantize_model(model, [(b, None) for b in calib], observer="percentile", percentile=50.0)
    dynamic = quantize_model(model, per_channel=False)
    inplace = _mlp(rng, sizes)
    same = quantize_model(inplace, inplace=True) is inplace
    layers = [m for m in q if isinstance(m, QuantizedLinear)]
    return {"walk": walk, "types": [type(m).__name__ for m in q], "original": [type(m).__name__ for m in model],
            "copied": q is not model, "inplace": [same, [type(m).__name__ for m in inplace]],
            "input_scales": [float(m.input_scale) for m in layers], "percentile_first": float(pct[0].input_scale),
            "dynamic_scales": [m.input_scale is None for m in dynamic if isinstance(m, QuantizedLinear)],
            "sizes": [model_size_bytes(model), model_size_bytes(q), model_size_bytes(dynamic)]}


@probe("convert", rtol=2e-2, atol=1e-1)
def converted_outputs_and_report(rng):
    """Outputs through quantized hidden activations: a hidden value an ulp from a rounding tie may
    honestly take the next code, so these values are compared to a few quantization steps."""
    from tinytorch.quantization import quantization_report, quantize_model
    from tinytorch.tensor import Tensor

    sizes = [int(rng.integers(4, 8)), int(rng.integers(4, 8)), int(rng.integers(2, 5))]
    teacher = _mlp(rng, sizes)
    x = rng.standard_normal((40, sizes[0])).astype(np.float32)
    y = teacher(Tensor(x)).data.argmax(axis=1)
    q = quantize_model(teacher, [x[:10]])
    report = quantization_report(teacher, q, x, y)
    own = float(np.mean(q(Tensor(x)).data.argmax(axis=1) == y))
    return {"outputs": q(Tensor(x[:5])), "float_accuracy": report["float_accuracy"],
            "consistent": [report["int8_accuracy"] == own, report["accuracy_drop"] == (1.0 - own) * 100,
                           report["size_ratio"] == report["float_bytes"] / report["int8_bytes"]],
            "bytes": [report["float_bytes"], report["int8_bytes"]]}
