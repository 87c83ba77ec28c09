"""Probes for kata 13 (Transformers): layer norm, the MLP, the pre-norm block, the GPT (logits,
loss, gradients) and greedy generation. Every weight is set from the seed, by parameter name."""

import numpy as np

from dojo.classroom.probes import probe


def _set_weights(rng, model, scale=0.3):
    for _, p in sorted(model.named_parameters(), key=lambda item: item[0]):
        p.data[...] = rng.normal(scale=scale, size=p.shape)


def _t(rng, shape, grad=False):
    from tinytorch.tensor import Tensor

    return Tensor(rng.normal(size=shape).astype(np.float32), requires_grad=grad)


@probe("layernorm")
def layer_norm(rng):
    from tinytorch.transformer import LayerNorm, layer_norm

    x = _t(rng, (2, 3, 5), grad=True)
    norm = LayerNorm(5)
    fresh = [norm.weight.data.copy(), norm.bias.data.copy()]
    _set_weights(rng, norm)
    out = norm(x)
    out.backward(rng.normal(size=out.shape).astype(np.float32))
    constant = layer_norm(_t(rng, (1, 4)) * 0.0 + 3.0, _t(rng, (4,)), _t(rng, (4,)))
    return {"out": out, "dx": x.grad, "dweight": norm.weight.grad, "fresh": fresh, "constant_row": constant}


@probe("mlp")
def mlp(rng):
    from tinytorch.transformer import MLP

    block = MLP(4, hidden=6)
    _set_weights(rng, block)
    x = _t(rng, (2, 3, 4))
    return {"out": block(x), "default_hidden": list(MLP(3).fc.weight.shape), "eval_dropout": MLP(4, dropout=0.5).eval()(x).shape}


@probe("block")
def transformer_block(rng):
    from tinytorch.attention import causal_mask
    from tinytorch.transformer import TransformerBlock

    block = TransformerBlock(6, 2)
    _set_weights(rng, block)
    x = _t(rng, (2, 4, 6))
    return {"causal": block(x, causal_mask(4)), "unmasked": block(x), "names": sorted(n for n, _ in block.named_parameters())}


def _gpt(rng):
    from tinytorch.transformer import GPT

    model = GPT(vocab_size=7, block_size=6, n_layer=2, n_head=2, n_embd=4)
    _set_weights(rng, model)
    return model


@probe("gpt")
def gpt_forward_loss_grads(rng):
    model = _gpt(rng)
    ids = rng.integers(0, 7, size=(2, 5))
    targets = rng.integers(0, 7, size=(2, 5))
    logits, loss = model(ids, targets)
    loss.backward()
    return {"logits": logits, "loss": loss, "head_grad": model.head.weight.grad, "emb_grad": model.tok_emb.weight.grad,
            "count": len(model.parameters())}


@probe("gpt")
def gpt_refuses_long_sequences(rng):
    model = _gpt(rng)
    return model(rng.integers(0, 7, size=(1, 7)))


@probe("generate")
def greedy_generation(rng):
    from tinytorch.transformer import sample_next

    model = _gpt(rng)
    prompt = rng.integers(0, 7, size=(2, 3))
    logits = rng.normal(size=(3, 7))
    sampled = sample_next(logits, temperature=0.7, top_k=2, generator=np.random.default_rng(0))
    top2 = np.argsort(logits, axis=-1)[:, -2:]
    return {"greedy": model.generate(prompt, 5, greedy=True), "cropped": model.generate(prompt, 6, greedy=True).shape,
            "argmax": sample_next(logits, greedy=True), "top1": sample_next(logits, top_k=1, generator=np.random.default_rng(1)),
            "within_top2": bool(all(s in row for s, row in zip(sampled, top2))), "training_restored": model.training}


@probe("generate")
def generation_refuses_zero_temperature(rng):
    from tinytorch.transformer import sample_next

    return sample_next(rng.normal(size=(1, 5)), temperature=0.0)
