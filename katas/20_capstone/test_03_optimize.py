"""Step 3: optimize — a transformed copy of the GPT (low rank or fewer MLP units, pruning, int8 weights and embeddings), its choices recorded."""

import numpy as np

from dojo.testing import assert_close, raises
from tinytorch import rng
from tinytorch.capstone import OptimizedGPT, QuantizedEmbedding, optimize
from tinytorch.embeddings import Embedding
from tinytorch.kv_cache import KVCache, cached_forward
from tinytorch.layers import Linear, Sequential
from tinytorch.quantization import QuantizedLinear, modules
from tinytorch.transformer import GPT

V = 13


def make(seed=0, **overrides):
    rng.manual_seed(seed)
    return GPT(**{**dict(vocab_size=V, block_size=24, n_layer=2, n_head=2, n_embd=16), **overrides})


def ids(B=3, T=12, seed=0):
    return np.random.default_rng(seed).integers(0, V, size=(B, T))


def linears(model, kind):
    return [m for m in modules(model) if isinstance(m, kind)]


def test_every_linear_and_both_embeddings_become_int8_and_the_original_is_untouched():
    """Defaults: every Linear a QuantizedLinear (per channel), tok_emb and pos_emb QuantizedEmbedding; the model given keeps its float weights.

    Hint: optimize (tinytorch/capstone.py) works on m = copy.deepcopy(model): quantize_model(m,
    calibration, per_channel=per_channel, inplace=True), then m.tok_emb and m.pos_emb =
    QuantizedEmbedding.from_embedding(...), and returns OptimizedGPT(m, kv_cache=..., backend=...,
    choices=...).
    """
    model = make()
    before = {name: p.data.copy() for name, p in model.named_parameters()}
    out = optimize(model, calibration=[ids()])
    assert isinstance(out, OptimizedGPT), f"optimize returned {type(out).__name__}"
    assert out.model is not model, "optimize works on a copy"
    assert len(linears(out.model, QuantizedLinear)) == 2 * 6 + 1 and not linears(out.model, Linear)
    assert all(q.per_channel for q in linears(out.model, QuantizedLinear))
    assert isinstance(out.model.tok_emb, QuantizedEmbedding) and isinstance(out.model.pos_emb, QuantizedEmbedding)
    assert len(linears(model, Linear)) == 13 and isinstance(model.tok_emb, Embedding), "the original model was changed"
    assert all(np.array_equal(p.data, before[name]) for name, p in model.named_parameters()), "the original weights changed"
    assert (out.kv_cache, out.backend) == (True, "fast")


def test_choices_rebuild_the_same_model():
    """choices holds every keyword as used (defaults too); optimize(model, calibration, **choices) gives identical int8 weights.

    Hint: choices must hold every keyword of optimize as used, defaults included, with plain values: kv_cache,
    backend, weights, per_channel, embeddings, prune (float), mlp_units (float), low_rank (int or None).
    """
    model, calibration = make(seed=1), [ids(seed=1)]
    out = optimize(model, calibration, per_channel=False, backend="reference", kv_cache=False, prune=0.25)
    assert out.choices == {"kv_cache": False, "backend": "reference", "weights": "int8", "per_channel": False,
                           "embeddings": "int8", "prune": 0.25, "mlp_units": 0.0, "low_rank": None}, out.choices
    again = optimize(model, calibration, **out.choices)
    pairs = list(zip(linears(out.model, QuantizedLinear), linears(again.model, QuantizedLinear)))
    assert pairs and all(np.array_equal(a.weight_int8, b.weight_int8) for a, b in pairs)
    assert all(a.weight_scale.shape == () for a, _ in pairs), "per_channel=False: one scale per tensor"
    assert (again.kv_cache, again.backend) == (False, "reference")


def test_calibration_makes_activation_scales_static():
    """With calibration every QuantizedLinear gets a fixed input_scale; without, scales are dynamic (None).

    Hint: pass calibration straight to quantize_model: with batches it fixes each QuantizedLinear's
    input_scale, with None it leaves them dynamic.
    """
    model = make(seed=2)
    static = optimize(model, calibration=[ids(seed=2), ids(seed=3)])
    dynamic = optimize(model)
    assert all(q.input_scale is not None and q.input_scale > 0 for q in linears(static.model, QuantizedLinear))
    assert all(q.input_scale is None for q in linears(dynamic.model, QuantizedLinear))


def stepwise_gap(model, seq, prompt=5):
    """The largest |logit| difference between the full forward and kata 14's cached forward fed one token at a time."""
    attn = model.blocks[0].attn
    cache = KVCache(len(model.blocks), 1, attn.num_heads, model.block_size, attn.head_dim)
    parts = [cached_forward(model, seq[:, :prompt], cache).data]
    parts += [cached_forward(model, seq[:, t:t + 1], cache).data for t in range(prompt, seq.shape[1])]
    return float(np.abs(np.concatenate(parts, axis=1) - model(seq).data).max())


def test_static_scales_make_the_cached_model_one_function():
    """With static scales each token row is quantized on its own: the cached int8 model computes the full forward's
    logits (to float rounding) and generates the uncached int8 model's tokens. Dynamic scales (max|x| over the
    whole batch) make the one-row decode and the full forward two different functions.

    Hint: quantize with the calibration batches (static input scales): then a one-row decode step and the full
    forward quantize each row alike; check optimize passes calibration on.
    """
    model = make(seed=4, n_layer=1)
    calibration = [ids(seed=4)]
    cached = optimize(model, calibration, kv_cache=True)
    seq = ids(B=1, T=10, seed=6)  # a 5-token prompt, then 5 one-row decode steps
    static, dynamic = stepwise_gap(cached.model, seq), stepwise_gap(optimize(model).model, seq)
    assert static <= 1e-4 < 1e-3 < dynamic, f"cached vs full logits: static scales {static:.2g}, dynamic {dynamic:.2g}"
    uncached = optimize(model, calibration, kv_cache=False)
    p = ids(B=1, T=5, seed=5)
    a, b = cached.generate(p, 8, greedy=True).data, uncached.generate(p, 8, greedy=True).data
    assert np.array_equal(a, b), f"cached {a.tolist()} vs uncached {b.tolist()}"
    full = cached(a[:, :-1]).data
    assert_close(full[:, -1].argmax(-1), a[:, -1], what="the last token is the arg-max of the optimized forward")


def test_float_choices_keep_the_layers():
    """weights='float32' keeps the Linears, embeddings='float32' the Embeddings: then the logits are the model's.

    Hint: quantize only when weights == 'int8' and swap the embeddings only when embeddings == 'int8';
    'float32' keeps the copied layers as they are.
    """
    model = make(seed=6)
    out = optimize(model, weights="float32", embeddings="float32", backend="reference")
    assert not linears(out.model, QuantizedLinear) and not linears(out.model, QuantizedEmbedding)
    x = ids(seed=6)
    assert_close(out(x).data, model(x).data, what="logits of the unquantized copy")


def test_pruning_zeros_the_smallest_weights_before_quantizing():
    """prune=0.5: half of all Linear weights (global ranking) are exactly 0 in the int8 codes, and stay dense arrays.

    Hint: for prune > 0 call magnitude_prune(m, prune, scope='global') and remove_pruning(m) before
    quantize_model, so the zeros are baked into the weights the int8 codes come from.
    """
    model = make(seed=7)
    out = optimize(model, prune=0.5)
    codes = [q.weight_int8 for q in linears(out.model, QuantizedLinear)]
    zeros = sum(int((c == 0).sum()) for c in codes) / sum(c.size for c in codes)
    assert zeros >= 0.5, f"only {zeros:.1%} of the int8 weights are zero after prune=0.5"
    assert [c.shape for c in codes] == [q.weight.shape for q in linears(model, Linear)], "pruning keeps the shapes"


def test_low_rank_and_mlp_units_shrink_the_mlp():
    """low_rank=r: each MLP Linear becomes two thin ones (rank r); mlp_units=0.5: half the hidden units are gone.

    Hint: for each block of m.blocks: low_rank -> block.mlp.fc = low_rank_factors(block.mlp.fc, r) and the
    same for proj; mlp_units -> block.mlp.fc, block.mlp.proj, _ = prune_neurons(block.mlp.fc,
    block.mlp.proj, a). Do it before quantizing.
    """
    model = make(seed=8)
    thin = optimize(model, low_rank=3)
    for block in thin.model.blocks:
        for layer in (block.mlp.fc, block.mlp.proj):
            assert isinstance(layer, Sequential) and len(layer) == 2, f"got {type(layer).__name__}"
            assert isinstance(layer[0], QuantizedLinear) and layer[0].out_features == 3 and layer[1].in_features == 3
    narrow = optimize(model, mlp_units=0.5)
    for block in narrow.model.blocks:
        assert (block.mlp.fc.out_features, block.mlp.proj.in_features) == (32, 32), "64 hidden units - 50% = 32"
    assert thin(ids(seed=8)).shape == narrow(ids(seed=8)).shape == (3, 12, V)


def test_bad_choices_are_errors():
    """Unknown weights/embeddings/backend, prune or mlp_units outside [0, 1), low_rank < 1, low_rank with mlp_units: ValueError.

    Hint: validate every choice at the top of optimize and raise ValueError: weights/embeddings not
    'int8'/'float32', backend not in available_backends(), prune or mlp_units outside [0, 1), low_rank < 1,
    low_rank with mlp_units.
    """
    model = make(seed=9)
    for kwargs in (dict(weights="int4"), dict(embeddings="fp16"), dict(backend="gpu"), dict(prune=1.0),
                   dict(prune=-0.1), dict(mlp_units=1.5), dict(low_rank=0), dict(low_rank=2, mlp_units=0.5)):
        with raises(ValueError):
            optimize(model, **kwargs)
