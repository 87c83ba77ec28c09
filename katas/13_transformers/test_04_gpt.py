"""Step 4: gpt — embeddings, blocks, final LayerNorm, output head, loss; causal as a whole."""

import numpy as np

from dojo.testing import assert_close, raises
from tinytorch import rng
from tinytorch.attention import causal_mask
from tinytorch.embeddings import Embedding, PositionalEmbedding
from tinytorch.layers import Module, ModuleList
from tinytorch.losses import cross_entropy
from tinytorch.optim import AdamW
from tinytorch.tensor import Tensor
from tinytorch.transformer import GPT, LayerNorm, TransformerBlock

CONFIG = dict(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16)


def make(seed=0, **overrides):
    rng.manual_seed(seed)
    return GPT(**{**CONFIG, **overrides})


def ids_of(shape, seed=0, vocab=11):
    return np.random.default_rng(seed).integers(0, vocab, size=shape)


def test_structure():
    """tok_emb, pos_emb, blocks (n_layer TransformerBlocks), ln_f and a head without bias, sized by the
    config.

    Hint: Create tok_emb = Embedding(vocab_size, n_embd), pos_emb = PositionalEmbedding(block_size, n_embd),
    drop, blocks (n_layer TransformerBlocks), ln_f = LayerNorm(n_embd) and head = Linear(n_embd, vocab_size,
    bias=False).
    """
    model = make()
    assert isinstance(model.tok_emb, Embedding) and model.tok_emb.weight.shape == (11, 16)
    assert isinstance(model.pos_emb, PositionalEmbedding) and model.pos_emb.weight.shape == (8, 16)
    assert len(model.blocks) == 2 and all(isinstance(b, TransformerBlock) for b in model.blocks)
    assert isinstance(model.ln_f, LayerNorm)
    assert model.head.weight.shape == (11, 16) and model.head.bias is None


def test_blocks_are_a_module_list():
    """model.blocks is a ModuleList (a plain list is a TypeError: PyTorch would not see its
    parameters), so the blocks' parameters are named like PyTorch's: 'blocks.1.attn.q_proj.weight'.

    Hint: Hold the blocks in ModuleList([TransformerBlock(...) for _ in range(n_layer)]) from
    tinytorch.layers: a plain list is refused (TypeError), and the names 'blocks.1.attn...' come from
    ModuleList's attributes.
    """
    model = make()
    assert isinstance(model.blocks, ModuleList), f"model.blocks is a {type(model.blocks).__name__}, not a ModuleList"
    names = [name for name, _ in model.named_parameters()]
    assert "blocks.1.attn.q_proj.weight" in names and "blocks.0.mlp.fc.bias" in names, names
    assert dict(model.named_parameters())["blocks.1.ln2.weight"] is model.blocks[1].ln2.weight


def test_parameter_count():
    """V·C + block·C + n_layer·(12·C² + 13·C) + 2·C + C·V parameters (GPT-2's layout, untied head).

    Hint: Extra or missing parameters: the head must have no bias (bias=False), there is one LayerNorm ln_f at
    the end (plus ln1 and ln2 in each block), and the head is a separate Linear (not tied to tok_emb).
    """
    model = make()
    V, B, L, C = 11, 8, 2, 16
    expected = V * C + B * C + L * (12 * C * C + 13 * C) + 2 * C + C * V
    got = sum(p.size for p in model.parameters())
    assert got == expected, f"{got} parameters, expected {expected}"


def test_logits_shape_and_dtype():
    """ids (B, T) -> logits (B, T, vocab_size), float32, for any T <= block_size.

    Hint: forward returns self.head(self.ln_f(x)) of shape (B, T, vocab_size); pos_emb(T) gives (T, C) that
    broadcasts onto tok_emb(ids) (B, T, C); read T from ids.shape, not block_size.
    """
    model = make()
    for T in (1, 5, 8):
        logits = model(Tensor(ids_of((3, T))))
        assert logits.shape == (3, T, 11) and logits.dtype == np.float32, f"T={T}: got {logits.shape} {logits.dtype}"


def test_forward_composes_the_parts():
    """logits == head(ln_f(blocks(tok_emb(ids) + pos_emb(T), causal mask))).

    Hint: The order is x = drop(tok_emb(ids) + pos_emb(T)); every block gets x and causal_mask(T); then ln_f,
    then head; skipping ln_f or the mask gives other logits.
    """
    model = make(seed=1)
    ids = ids_of((2, 6), seed=1)
    x = model.tok_emb(Tensor(ids)) + model.pos_emb(6)
    for block in model.blocks:
        x = block(x, causal_mask(6))
    expected = model.head(model.ln_f(x)).data
    assert_close(model(Tensor(ids)), expected, rtol=1e-5, atol=1e-5, what="GPT logits")


def test_logits_at_t_ignore_later_tokens():
    """The whole model is causal: changing tokens after t leaves the logits at 0..t unchanged.

    Hint: Every block must receive causal_mask(T) (True where a token may attend, the lower triangle): without
    a mask, or with mask=None for some blocks, earlier logits see later tokens.
    """
    model = make(seed=2)
    ids = ids_of((2, 8), seed=2)
    for t in (0, 3, 6):
        other = ids.copy()
        other[:, t + 1:] = (other[:, t + 1:] + 1 + np.arange(8 - t - 1)) % 11
        a, b = model(Tensor(ids)).data, model(Tensor(other)).data
        assert_close(b[:, : t + 1], a[:, : t + 1], rtol=0, atol=1e-5, what=f"logits at 0..{t} after changing later tokens")
        assert not np.allclose(b[:, t + 1:], a[:, t + 1:]), "the later logits should change"


def test_too_long_sequences_raise():
    """More than block_size tokens raises a ValueError (there are no position vectors for them).

    Hint: Check T > self.block_size at the start of forward and raise ValueError yourself, before the position
    embedding is asked for rows it does not have.
    """
    with raises(ValueError):
        make()(Tensor(ids_of((1, 9))))


def test_loss_is_the_mean_cross_entropy_over_positions():
    """model(ids, targets) returns (logits, loss) with loss = cross_entropy over all B·T positions.

    Hint: With targets, return (logits, loss): flatten logits to (B * T, vocab_size) and the targets to (B *
    T,) and call cross_entropy on them (mean over all positions), keeping logits in the graph.
    """
    model = make(seed=3)
    ids, targets = ids_of((2, 5), seed=3), ids_of((2, 5), seed=4)
    logits, loss = model(Tensor(ids), targets=Tensor(targets))
    assert loss.shape == () and loss.requires_grad
    expected = cross_entropy(Tensor(logits.data.reshape(10, 11)), Tensor(targets.reshape(10)))
    assert_close(loss, expected.data, rtol=1e-5, what="GPT loss")


def test_gradients_reach_every_parameter():
    """loss.backward() gives every parameter a gradient (the position table: its first T rows).

    Hint: Build forward from the sub-modules and Tensor ops only; feed the embeddings through drop and every
    block, and compute the loss from the logits Tensor so backward reaches tok_emb, pos_emb, every block, ln_f
    and head.
    """
    model = make(seed=4)
    _, loss = model(Tensor(ids_of((2, 8), seed=5)), targets=Tensor(ids_of((2, 8), seed=6)))
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not np.abs(p.grad).max() > 0]
    assert not missing, f"no gradient reached {missing}"


def test_learns_a_repeating_sequence():
    """Twenty AdamW steps on "0 1 2 3 0 1 2 3 ..." drive the next-token loss from about log(11) to near 0
    (below 0.1; it gets there in about a dozen steps).

    Hint: If the parts above pass but the loss does not fall, check the targets line up with the logits (same
    B, T order in both reshapes) and that every block is used in forward.
    """
    model = make(seed=5, n_layer=1)
    seq = np.arange(9) % 4
    x, y = Tensor(seq[None, :-1]), Tensor(seq[None, 1:])
    opt = AdamW(model.parameters(), lr=2e-2, weight_decay=0.0)
    first = None
    for _ in range(20):
        _, loss = model(x, targets=y)
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert first > 1.0 and loss.item() < 0.1, f"loss went from {first:.3f} to {loss.item():.3f}"


def test_dropout_zero_is_deterministic_in_training_mode():
    """With the default dropout=0 the model gives the same logits twice, even in training mode.

    Hint: Pass the dropout argument to every Dropout (drop and each TransformerBlock); with dropout=0 they
    must change nothing, so no other randomness may enter forward.
    """
    model = make(seed=6)
    ids = Tensor(ids_of((2, 4), seed=7))
    assert np.array_equal(model(ids).data, model(ids).data)


class Recorder(Module):
    """Stands in for the embedding Dropout: records what it is given and drops everything."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, x):
        self.seen.append(x.data.copy())
        return x * 0.0


def test_embedding_dropout_sits_between_the_embeddings_and_the_blocks():
    """x = drop(tok_emb(ids) + pos_emb(T)) feeds the blocks: model.drop receives the sum of both
    embeddings, once, and what it returns is what the blocks read (here zeros, so the logits are
    head(ln_f(blocks(0)))).

    Hint: Call self.drop exactly once, on tok_emb(ids) + pos_emb(T), and feed its output (not the sum) to the
    first block.
    """
    model = make(seed=9)
    probe = model.drop = Recorder()
    ids = ids_of((2, 5), seed=9)
    logits = model(Tensor(ids))
    assert len(probe.seen) == 1, f"model.drop was called {len(probe.seen)} times, expected once"
    embedded = model.tok_emb.weight.data[ids] + model.pos_emb.weight.data[:5]
    assert_close(probe.seen[0], embedded, rtol=1e-6, atol=1e-6, what="the input of model.drop")
    x = Tensor(np.zeros((2, 5, 16), dtype=np.float32))
    for block in model.blocks:
        x = block(x, causal_mask(5))
    assert_close(logits, model.head(model.ln_f(x)).data, rtol=1e-5, atol=1e-6, what="logits when model.drop drops everything")
