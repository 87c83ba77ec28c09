"""Step 4: measure — weight_bytes counts the arrays really held; validation_loss comes from the logits the forward returns."""

import math

import numpy as np

from tinytorch import rng
from tinytorch.capstone import QuantizedEmbedding, optimize, validation_loss, weight_bytes
from tinytorch.layers import Linear, Module, Parameter
from tinytorch.quantization import QuantizedLinear, modules
from tinytorch.tensor import Tensor
from tinytorch.transformer import GPT

V = 11


def make(seed=0, **overrides):
    rng.manual_seed(seed)
    return GPT(**{**dict(vocab_size=V, block_size=16, n_layer=1, n_head=2, n_embd=16), **overrides})


def batch(B, T=8, seed=0):
    data = np.random.default_rng(seed).integers(0, V, size=(B, T + 1))
    return data[:, :-1], data[:, 1:]


def reference_loss(model, batches):
    """The mean cross-entropy over every position, from the model's logits (float64 log-softmax)."""
    total = count = 0
    for x, y in batches:
        z = np.asarray(model(x).data, dtype=np.float64)
        z = z - z.max(-1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
        total -= np.take_along_axis(logp, y[..., None], -1).sum()
        count += y.size
    return total / count


def test_a_float_model_is_four_bytes_per_parameter():
    """A float32 GPT: 4 bytes per number, counted from its arrays (two block sizes give two answers).

    Hint: weight_bytes (tinytorch/capstone.py) collects p.data for every parameter and lets kata 15's
    distinct_nbytes add their buffers' nbytes; never a formula from the shapes.
    """
    for block_size in (16, 40):
        model = make(block_size=block_size)
        expected = 4 * sum(p.data.size for p in model.parameters())
        assert weight_bytes(model) == expected, f"block_size {block_size}: {weight_bytes(model)} != {expected}"


def test_an_optimized_model_counts_int8_codes_scales_and_the_float_rest():
    """int8 model: int8 codes + float32 scales of every QuantizedLinear and QuantizedEmbedding + the remaining float
    parameters (biases, LayerNorms); the KV cache it allocates while generating is not weights.

    Hint: besides the parameters, weight_bytes must add every array of module.buffers() for each module in
    modules(model) that has a buffers method (QuantizedLinear and QuantizedEmbedding); a KV cache is not a
    buffer.
    """
    model = make(seed=1)
    out = optimize(model, calibration=[batch(2, seed=1)[0]])
    expected = 4 * sum(p.data.size for p in out.parameters())
    for m in modules(out):
        if isinstance(m, (QuantizedLinear, QuantizedEmbedding)):
            expected += m.weight_int8.size + 4 * m.weight_scale.size + (4 if getattr(m, "input_scale", None) is not None else 0)
    got = weight_bytes(out)
    assert got == expected, f"weight_bytes {got:,}, the arrays hold {expected:,}"
    out.generate(batch(1, seed=2)[0][:, :3], 8, greedy=True)
    assert weight_bytes(out) == got, "generating allocated a KV cache: working memory, not weights"
    assert 2.5 < weight_bytes(model) / got < 4, "int8 codes: close to 4x smaller (the float LayerNorms and biases stay)"


def test_a_shared_array_counts_once():
    """Two Parameters over one array (tied weights) or one Parameter in two places: one buffer, counted once.

    Hint: count memory buffers, not arrays: pass every array to distinct_nbytes, which follows .base to the
    owner and counts each owner once.
    """

    class Tied(Module):
        def __init__(self):
            super().__init__()
            self.a = Linear(10, 10)
            self.b = Linear(10, 10)
            self.b.weight = Parameter(np.zeros(1))
            self.b.weight.data = self.a.weight.data.T  # a view of a's weight
            self.again = self.a

    assert weight_bytes(Tied()) == 4 * (100 + 10 + 10)


def test_loss_is_the_mean_over_every_position_of_the_logits_returned():
    """The loss equals the cross-entropy of the model's own logits, averaged over all positions of batches of different sizes.

    Hint: validation_loss sums -log p(target) over every position of every batch and divides by the total
    count of positions at the end (not a mean of batch means); compute the log-softmax in float64 from
    model(x).
    """
    model = make(seed=3)
    batches = [batch(4, seed=3), batch(1, seed=4)]
    got = validation_loss(model, batches)
    assert isinstance(got, float), f"return a float, got {type(got).__name__}"
    assert math.isclose(got, reference_loss(model, batches), rel_tol=1e-9), (got, reference_loss(model, batches))
    mean_of_means = (reference_loss(model, batches[:1]) + reference_loss(model, batches[1:])) / 2
    assert not math.isclose(got, mean_of_means, rel_tol=1e-6), "a batch of 4 rows weighs 4 times a batch of 1"


def test_the_optimized_loss_comes_from_the_optimized_forward():
    """Zero the int8 head of the optimized model: its loss becomes log V exactly (uniform logits); the baseline's is unchanged.

    Hint: validation_loss must call model(x) on the model it is given (an OptimizedGPT runs its int8 weights)
    and compute the cross-entropy from those logits.
    """
    model = make(seed=5)
    batches = [batch(3, seed=5)]
    out = optimize(model, calibration=[batches[0][0]])
    base, before = validation_loss(model, batches), validation_loss(out, batches)
    assert abs(before - base) < 0.05, f"int8 loss {before:.4f} vs float {base:.4f}"
    out.model.head.weight_int8[...] = 0
    assert math.isclose(validation_loss(out, batches), math.log(V), rel_tol=1e-9)
    assert validation_loss(model, batches) == base


def test_a_fake_forward_is_judged_by_its_logits():
    """Whatever a model's own loss says, the logits decide: a model that returns one-hot logits of the answer has loss ~ 0.

    Hint: validation_loss must use only model(x)'s logits: z = logits - max, logp = z - log(sum(exp(z))),
    loss = -mean of logp at the targets (np.take_along_axis).
    """

    class Oracle(Module):
        def __init__(self, answers):
            super().__init__()
            self.answers = answers

        def forward(self, x):
            return Tensor(np.eye(V, dtype=np.float32)[self.answers] * 50)

    x, y = batch(2, seed=6)
    assert validation_loss(Oracle(y), [(x, y)]) < 1e-12
    assert math.isclose(validation_loss(Oracle((y + 1) % V), [(x, y)]), 50 + math.log1p((V - 1) * math.exp(-50)), rel_tol=1e-9)
