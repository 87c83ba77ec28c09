"""Step 3: trace — record every module call of a forward pass; count a whole model's FLOPs."""

import numpy as np

from dojo.testing import assert_close, raises
from tinytorch import layers, rng
from tinytorch.activations import ReLU
from tinytorch.layers import Linear, Module, ModuleList, Sequential
from tinytorch.profiling import Tracer, count_flops, flops_by_layer, named_modules, trace
from tinytorch.spatial import Conv2d, Flatten, MaxPool2d
from tinytorch.tensor import Tensor
from tinytorch.transformer import GPT

V, BLOCK, L, H, C = 11, 8, 2, 2, 16


def gpt(seed=0):
    rng.manual_seed(seed)
    return GPT(vocab_size=V, block_size=BLOCK, n_layer=L, n_head=H, n_embd=C)


def ids_of(B, T, seed=0):
    return np.random.default_rng(seed).integers(0, V, size=(B, T))


def mlp():
    rng.manual_seed(0)
    return Sequential(Linear(4, 8), ReLU(), Linear(8, 3))


def test_trace_records_each_module_call_in_order():
    """Sequential(Linear(4, 8), ReLU(), Linear(8, 3)) on (5, 4): the model (name "", depth 0), then
    its two Linear layers (names "0" and "2", depth 1) with their input shapes. ReLU() is a plain
    function object, not a Module: it is not a call of its own.

    Hint: Tracer.__call__ must create the Call (name via self.name_of(module), depth = len(self.stack), shape
    = _shape_of(args[0])) and append it to self.calls BEFORE running module.forward, so a parent precedes its
    children.
    """
    model = mlp()
    tracer = trace(model, Tensor(np.zeros((5, 4), dtype=np.float32)))
    got = [(c.name, c.depth, c.shape) for c in tracer.calls]
    assert got == [("", 0, (5, 4)), ("0", 1, (5, 4)), ("2", 1, (5, 8))], got
    assert [c.module for c in tracer.calls] == [model, model[0], model[2]]


def test_trace_links_parents_children_and_outputs():
    """The model's call is the root; its children are the layer calls; each call keeps the arrays
    it returned (the root returns the last layer's array itself).

    Hint: the parent is self.stack[-1] (None when the stack is empty, then the call goes to self.roots);
    append the call to parent.children, and set call.outputs = _arrays_in(result) after forward returns.
    """
    model = mlp()
    x = Tensor(np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32))
    tracer = trace(model, x)
    root, first, last = tracer.calls
    assert tracer.roots == [root] and root.parent is None
    assert root.children == [first, last] and first.parent is root and last.parent is root
    assert first.children == [] and last.children == []
    assert_close(first.outputs[0], model[0](x), what="the first layer's recorded output")
    assert root.outputs[0] is last.outputs[0] is tracer.output.data


def test_tracing_does_not_change_the_result():
    """The traced GPT returns exactly what the untraced one does.

    Hint: run module.forward(*args, **kwargs) yourself inside Tracer.__call__ and return its result unchanged:
    calling module(...) again would recurse through the observer, and dropping kwargs changes the call.
    """
    model, ids = gpt(), ids_of(2, 5)
    assert_close(trace(model, ids).output, model(ids), rtol=0, atol=0, what="traced logits")


def test_trace_sees_every_module_of_a_gpt_with_its_parent():
    """Every module of the GPT is called once (but the ModuleList holding the blocks, which is never
    called), and each call's parent is the module whose name is the prefix of its own
    ("blocks.0.attn.q_proj" inside "blocks.0.attn").

    Hint: push the call on self.stack before running forward and pop it after, so calls made inside forward
    see it as their parent and get depth = parent.depth + 1.
    """
    model = gpt()
    tracer = trace(model, ids_of(2, 5))
    names = [c.name for c in tracer.calls]
    assert sorted(names) == sorted(name for name, m in named_modules(model) if not isinstance(m, ModuleList)), names
    for call in tracer.calls[1:]:
        assert call.parent is not None and call.name.startswith(call.parent.name), (call.name, call.parent)
        assert call.depth == call.parent.depth + 1


class Broken(Module):
    def forward(self, x):
        raise ValueError("broken on purpose")


def test_an_exception_leaves_nothing_open():
    """A model that raises leaves the tracer's stack empty and no observer behind.

    Hint: pop self.stack in a finally around module.forward: when forward raises, the call stays recorded but
    must not stay open on the stack.
    """
    model = Sequential(mlp(), Broken())
    with raises(ValueError, match="on purpose"):
        with Tracer(model) as tracer:
            model(Tensor(np.zeros((1, 4), dtype=np.float32)))
    assert tracer.stack == [] and layers.call_observers == []
    assert [c.name for c in tracer.calls] == ["", "0", "0.0", "0.2", "1"]


def test_gpt_flops_are_exact():
    """A whole GPT: per block 4 Linear(C, C), attention 4·B·H·T²·d, Linear(C, 4C) and Linear(4C, C),
    then the head Linear(C, V): L·(24·B·T·C² + 4·B·T²·C) + 2·B·T·C·V (embeddings and LayerNorm: 0).

    Hint: count_flops sums call.flops over every call in trace(model, ...).calls (Call.flops applies the FLOP
    rule of each module); if the total is off, check the step-2 rules and that every call is recorded.
    """
    model, B, T = gpt(), 3, 7
    expected = L * (24 * B * T * C * C + 4 * B * T * T * C) + 2 * B * T * C * V
    got = count_flops(model, ids_of(B, T))
    assert got == expected, f"count_flops(GPT) = {got}, expected {expected}"


def test_macs_are_half_the_flops():
    """macs=True counts multiply-adds: exactly FLOPs / 2, per layer and in total.

    Hint: with macs=True, flops_by_layer divides each layer's FLOPs by FLOPS_PER_MAC (integer division) and
    count_flops passes macs on to it; keep the same keys for both.
    """
    model, ids = gpt(), ids_of(2, 5)
    assert count_flops(model, ids, macs=True) * 2 == count_flops(model, ids)
    flops, macs = flops_by_layer(model, ids), flops_by_layer(model, ids, macs=True)
    assert flops.keys() == macs.keys() and all(2 * macs[k] == flops[k] for k in flops)


def test_flops_by_layer_names_the_work():
    """Per layer: the attention core 4·B·T²·C, the MLP's fc 2·B·T·C·4C, the head 2·B·T·C·V, a LayerNorm 0.

    Hint: flops_by_layer returns {call.name: FLOPs} with every called module as a key, 0 included (LayerNorm,
    the model itself under ''), in the order of the first call.
    """
    model, B, T = gpt(), 2, 5
    per = flops_by_layer(model, ids_of(B, T))
    assert per["blocks.0.attn"] == 4 * B * T * T * C
    assert per["blocks.1.attn.q_proj"] == 2 * B * T * C * C
    assert per["blocks.1.mlp.fc"] == 2 * B * T * C * 4 * C
    assert per["head"] == 2 * B * T * C * V
    assert per["blocks.0.ln1"] == 0 and per[""] == 0
    assert sum(per.values()) == count_flops(model, ids_of(B, T))


def test_a_layer_called_twice_counts_twice():
    """FLOPs are per call: the same Linear used twice does its work twice (its parameters count once).

    Hint: FLOPs are per call: add up totals[call.name] += call.flops over all calls instead of overwriting the
    entry, and do not deduplicate by module.
    """
    rng.manual_seed(0)
    layer = Linear(4, 4)
    x = Tensor(np.zeros((3, 4), dtype=np.float32))
    assert count_flops(Sequential(layer, layer), x) == 2 * (2 * 3 * 4 * 4)


def test_cnn_flops_add_up_the_convolutions_and_the_linear():
    """A small CNN: conv(1→4, 3×3, pad 1) on 8×8, pool, conv(4→8, 3×3, stride 2, pad 1) on 4×4 → 2×2, linear(32→10).

    Hint: every Conv2d and the Linear get their own FLOPs from the shape of their own input (call.shape), so
    record _shape_of(args[0]) per call, not the model's input shape.
    """
    rng.manual_seed(0)
    model = Sequential(Conv2d(1, 4, 3, padding=1), ReLU(), MaxPool2d(2),
                       Conv2d(4, 8, 3, stride=2, padding=1), ReLU(), Flatten(), Linear(32, 10))
    N = 2
    expected = 2 * N * 4 * 8 * 8 * 1 * 9 + 2 * N * 8 * 2 * 2 * 4 * 9 + 2 * N * 32 * 10
    assert count_flops(model, Tensor(np.zeros((N, 1, 8, 8), dtype=np.float32))) == expected
