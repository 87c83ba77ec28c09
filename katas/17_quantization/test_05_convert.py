"""Step 5: convert — quantize every Linear of a model; size and accuracy measured, never assumed."""

import numpy as np

from dojo.testing import assert_close
from tinytorch import rng
from tinytorch.activations import ReLU
from tinytorch.layers import Linear, Module, ModuleDict, ModuleList, Sequential
from tinytorch.quantization import (QuantizedLinear, model_size_bytes, modules, quantization_report, quantize_model,
                                    replace_modules)
from tinytorch.tensor import Tensor


def mlp(sizes=(16, 32, 24, 10), seed=0):
    rng.manual_seed(seed)
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [Linear(n_in, n_out), ReLU()]
    return Sequential(*layers[:-1])


class Nested(Module):
    """Linears in an attribute, a ModuleList, a ModuleDict and a ModuleList holding a ReLU, and one Linear used twice."""

    def __init__(self):
        super().__init__()
        shared = Linear(6, 6)
        self.first = Linear(4, 6)
        self.blocks = ModuleList([Sequential(shared, ReLU()), shared])
        self.heads = ModuleDict({"a": Linear(6, 3), "b": Linear(6, 3)})
        self.pair = ModuleList([Linear(3, 2), ReLU()])

    def forward(self, x):
        h = self.blocks[1](self.blocks[0](self.first(x)))
        return self.pair[0](self.heads["a"](h) + self.heads["b"](h))


def x_of(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def kinds(model):
    return [type(m).__name__ for m in modules(model)]


def test_replace_modules_reaches_attributes_lists_dicts_and_tuples():
    """replace_modules swaps sub-modules wherever they are held; a shared module gets one replacement.

    Hint: replace_modules walks vars(module): a Module value goes to fn, list and dict items are swapped in
    place, a tuple is rebuilt and re-assigned with setattr; remember replacements by id(module) so a shared
    Linear gets ONE replacement and fn is called once.
    """
    rng.manual_seed(0)
    model = Nested()
    made = []

    def fn(m):
        if isinstance(m, Linear):
            made.append(ReLU())
            return made[-1]
        return m

    assert replace_modules(model, fn) is model
    assert "Linear" not in kinds(model), kinds(model)
    assert model.blocks[0][0] is model.blocks[1], "the shared Linear must become one shared replacement"
    assert len(made) == 5, f"fn should be called once per Linear (5 distinct), was called {len(made)} times"
    assert isinstance(model.pair[0], ReLU) and isinstance(model.heads["a"], ReLU)


def test_quantize_model_converts_every_linear_and_copies():
    """Every Linear becomes a QuantizedLinear with int8 weights; the original model is left untouched.

    Hint: work on copy.deepcopy(model) unless inplace=True, then replace_modules(copy, lambda m:
    QuantizedLinear.from_linear(m, per_channel) if isinstance(m, Linear) else m).
    """
    model = mlp()
    before = {k: v.copy() for k, v in model.state_dict().items()}
    q = quantize_model(model)
    assert q is not model
    assert [type(m).__name__ for m in q] == ["QuantizedLinear", "ReLU", "QuantizedLinear", "ReLU", "QuantizedLinear"]
    assert all(m.weight_int8.dtype == np.int8 for m in modules(q) if isinstance(m, QuantizedLinear))
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "Linear", "ReLU", "Linear"], "the original changed"
    assert all(np.array_equal(before[k], v) for k, v in model.state_dict().items())
    x = x_of((20, 16))
    expected = model(Tensor(x)).data
    error = np.linalg.norm(q(Tensor(x)).data - expected) / np.linalg.norm(expected)
    assert 0 < error < 0.03, f"relative output error {error:.3%}"


def test_inplace_and_nested_models():
    """inplace=True changes and returns the model itself; Linears in lists, dicts and tuples are converted too.

    Hint: with inplace=True skip the deepcopy and return the model itself; nested Linears in lists, dicts and
    tuples are reached only if replace_modules handles those containers.
    """
    rng.manual_seed(1)
    model = Nested()
    x = Tensor(x_of((5, 4), seed=1))
    expected = model(x).data
    q = quantize_model(model, inplace=True)
    assert q is model and "Linear" not in kinds(model)
    assert kinds(model).count("QuantizedLinear") == 5 and model.blocks[0][0] is model.blocks[1]
    assert_close(model(x), expected, rtol=0.05, atol=0.02, what="quantized Nested model")


def test_calibration_sets_each_input_scale():
    """With calibration batches, each layer's input_scale is max|its input| / 127 over all batches (min/max observer).

    Hint: with batches: swap each Linear for ObservedLinear(m, observer), run every batch in eval mode under
    no_grad (a (x, y) pair: use x), then build QuantizedLinear.from_linear(m.linear, per_channel,
    m.observer.scale()); observer='percentile' uses PercentileObserver(percentile).
    """
    model = mlp(seed=2)
    calib = [x_of((8, 16), seed=s) * s for s in (1, 2, 3)]
    q = quantize_model(model, calib)
    layers = [m for m in q if isinstance(m, QuantizedLinear)]
    first = max(np.abs(b).max() for b in calib) / 127
    assert layers[0].input_scale is not None
    assert_close(np.float64(layers[0].input_scale), first, rtol=1e-6, atol=0, what="first layer's input_scale")
    hidden = max(np.abs(np.maximum(model[0](Tensor(b)).data, 0)).max() for b in calib) / 127
    assert_close(np.float64(layers[1].input_scale), hidden, rtol=1e-5, atol=0, what="second layer's input_scale (after ReLU)")
    pct = quantize_model(model, [(b, None) for b in calib], observer="percentile", percentile=50.0)
    assert float(pct[0].input_scale) < float(layers[0].input_scale) / 2, "percentile 50 should give a smaller scale"


def test_model_size_counts_the_bytes_actually_stored():
    """Float: 4 bytes per parameter. int8: out·in bytes per weight + float32 scales, input scales and biases.

    Hint: model_size_bytes = nbytes of every parameter plus the nbytes of every QuantizedLinear's buffers()
    (int8 weight, float32 scales, input_scale), each array once by id; do not assume 4 bytes per number.
    """
    sizes = (16, 32, 24, 10)
    model = mlp(sizes)
    n_params = sum(p.size for p in model.parameters())
    assert model_size_bytes(model) == 4 * n_params
    q = quantize_model(model, [x_of((4, 16))])
    pairs = list(zip(sizes[:-1], sizes[1:]))
    expected = sum(i * o for i, o in pairs) + 4 * sum(o for _, o in pairs) * 2 + 4 * len(pairs)
    assert model_size_bytes(q) == expected, f"{model_size_bytes(q)} bytes, expected {expected}"
    dynamic = quantize_model(model, per_channel=False)
    assert model_size_bytes(dynamic) == sum(i * o for i, o in pairs) + 4 * sum(o for _, o in pairs) + 4 * len(pairs)


def test_realistic_sizes_are_at_least_3_5x_smaller():
    """MLP 784-256-128-10: the int8 model stores at least 3.5× fewer bytes than the float32 one.

    Hint: the int8 model must count its weight as int8 bytes (out·in, not 4·out·in): check that
    QuantizedLinear keeps no float copy and that model_size_bytes reads the real arrays' nbytes.
    """
    model = mlp((784, 256, 128, 10))
    q = quantize_model(model)
    ratio = model_size_bytes(model) / model_size_bytes(q)
    assert ratio >= 3.5, f"only {ratio:.2f}× smaller"


def test_report_recomputes_accuracy():
    """quantization_report measures both models now: zeroing the int8 weights changes the int8 accuracy.

    Hint: quantization_report must call accuracy(model, x, y) on both models every time (argmax of the logits
    vs y); accuracy_drop is (float - int8) in percentage points and size_ratio float_bytes / int8_bytes.
    """
    teacher = mlp(seed=3)
    x = x_of((300, 16), seed=4)
    y = teacher(Tensor(x)).data.argmax(axis=1)  # labels the float model gets 100% right
    q = quantize_model(teacher, [x[:100]])
    report = quantization_report(teacher, q, x, y)
    own = float(np.mean(q(Tensor(x)).data.argmax(axis=1) == y))
    assert report["float_accuracy"] == 1.0
    assert report["int8_accuracy"] == own and own >= 0.9, report
    assert report["accuracy_drop"] == (1.0 - own) * 100
    assert report["float_bytes"] == model_size_bytes(teacher) and report["int8_bytes"] == model_size_bytes(q)
    assert report["size_ratio"] == report["float_bytes"] / report["int8_bytes"]
    for m in modules(q):
        if isinstance(m, QuantizedLinear):
            m.weight_int8[...] = 0
    zeroed = quantization_report(teacher, q, x, y)
    assert zeroed["int8_accuracy"] < report["int8_accuracy"] - 0.3, (report["int8_accuracy"], zeroed["int8_accuracy"])
    assert zeroed["float_accuracy"] == 1.0


def test_quantizes_a_gpt():
    """A tiny GPT: all 6 Linears per block and the head become int8; the logits stay close.

    Hint: the GPT's Linears sit several levels down (blocks in a list or container, then attn and mlp):
    replace_modules must keep walking into every module fn kept and into list items; the head has no bias.
    """
    from tinytorch.transformer import GPT

    rng.manual_seed(5)
    gpt = GPT(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16)
    ids = np.random.default_rng(6).integers(0, 11, (2, 8))
    expected = gpt(Tensor(ids)).data
    q = quantize_model(gpt, [ids])
    assert kinds(q).count("QuantizedLinear") == 2 * 6 + 1 and "Linear" not in kinds(q)
    got = q(Tensor(ids))
    got = got[0] if isinstance(got, tuple) else got
    error = np.linalg.norm(got.data - expected) / np.linalg.norm(expected)
    assert error < 0.03, f"relative logit error {error:.3%}"
