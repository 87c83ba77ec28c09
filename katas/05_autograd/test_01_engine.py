"""Step 1: the engine — topological order, seeding, accumulation into leaves, no recursion.

These tests bring their own known-good backward rules for add, mul and sum (same-shape operands
only), so they test your engine alone: you can finish this step before writing any rule.
"""

import sys

import numpy as np
import pytest

from dojo.testing import assert_close, raises
from tinytorch import autograd
from tinytorch.autograd import backward, topological_order
from tinytorch.tensor import Tensor, record_op


def _add(node, grad):
    return grad, grad


def _mul(node, grad):
    a, b = node.inputs
    return grad * b.data, grad * a.data


def _sum(node, grad):
    return (np.broadcast_to(grad, node.inputs[0].shape),)


@pytest.fixture(autouse=True)
def reference_rules(monkeypatch):
    """Known-good rules for add, mul and sum, restored after each test."""
    for name, fn in {"add": _add, "mul": _mul, "sum": _sum}.items():
        monkeypatch.setitem(autograd.RULES, name, fn)


def _leaf(values):
    return Tensor(np.array(values, dtype=np.float64), requires_grad=True)


def test_diamond_x_times_x_plus_x():
    """(x * x + x).sum() uses x three times along two paths: d/dx = 2x + 1. Every path's
    gradient must arrive (x = [2, 3] gives [5, 7]).

    Hint: x reaches the output along several paths, and backward in tinytorch/autograd.py must add their
    gradients: when a tensor's id is already in your grads dict, add to it instead of overwriting.
    """
    x = _leaf([2.0, 3.0])
    (x * x + x).sum().backward()
    assert_close(x.grad, [5.0, 7.0], what="x.grad")


def test_tensor_reused_many_times():
    """y = x*x*x + x + x: d/dx = 3x² + 2, whatever the order the uses are visited in.

    Hint: A tensor's rule may run only once all its uses have contributed: walk
    reversed(topological_order(root)) and accumulate into a dict keyed by id(tensor), rather than following
    inputs depth-first as you meet them.
    """
    x = _leaf([1.0, -2.0, 0.5])
    (x * x * x + x + x).sum().backward()
    assert_close(x.grad, 3 * x.data**2 + 2, what="x.grad")


def test_each_node_is_processed_once():
    """y = x; y = y + y, 30 times: 30 nodes but 2**30 paths. The gradient, 2**30, must come from
    visiting each node once (reverse topological order), not from walking every path.

    Hint: Walking every path (recursing into each input every time) costs 2**30 steps: topological_order must
    skip tensors already seen (a set of id(t)), and backward must visit each tensor once.
    """
    x = _leaf(1.0)
    y = x
    for _ in range(30):
        y = y + y
    y.backward()
    assert_close(x.grad, 2.0**30, rtol=0, atol=0, what="x.grad")


def _frames_in_use():
    frame, depth = sys._getframe(), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1
    return depth


def test_a_chain_deeper_than_the_recursion_limit_needs_no_recursion():
    """A chain of 2,000 multiplications (y = y * 1.0001, a constant tensor) backpropagates without a
    RecursionError while Python's recursion limit allows only 500 more frames than this test uses: walk
    the graph with a loop and an explicit stack. d/dx = 1.0001**2000.

    The test sets the limit itself (and puts yours back afterwards), so a chain of 2,000 is as deep as
    one of 10,000 under the default limit, and raising the limit when your module is imported changes nothing.

    Hint: A recursive topological_order (or backward) needs one Python frame per op of the chain and hits the
    recursion limit: rewrite it with a while loop over an explicit stack of (tensor, expanded) pairs.
    """
    x = _leaf(1.0)
    factor = Tensor(np.array(1.0001))  # one constant operand for every op: building the chain stays cheap
    y = x
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(_frames_in_use() + 500)
    try:
        for _ in range(2_000):
            y = y * factor
        y.backward()
    finally:
        sys.setrecursionlimit(previous)
    assert_close(x.grad, 1.0001**2_000, rtol=1e-9, what="x.grad")


@pytest.mark.parametrize("as_tensor", [False, True], ids=["array", "Tensor"])
def test_non_scalar_output_with_explicit_grad(as_tensor):
    """y = x * w has shape (2, 3): y.backward(g) with g of that shape (an array or a Tensor)
    gives x.grad = g * w and w.grad = g * x.

    Hint: backward(root, grad) must accept grad as a NumPy array or a Tensor: take grad.data when it is a
    Tensor, convert to an array of root's dtype, and use it as the seed instead of ones.
    """
    rng = np.random.default_rng(0)
    x, w = _leaf(rng.normal(size=(2, 3))), _leaf(rng.normal(size=(2, 3)))
    g = rng.normal(size=(2, 3))
    (x * w).backward(Tensor(g) if as_tensor else g)
    assert_close(x.grad, g * w.data, what="x.grad")
    assert_close(w.grad, g * x.data, what="w.grad")


def test_one_element_output_is_seeded_with_one():
    """backward() without grad on a one-element output (here shape (1, 1)) seeds with 1.

    Hint: A (1, 1) output has one element, so backward() needs no grad: test root.data.size == 1 (not
    root.ndim == 0 or shape == ()) and seed with ones of root's shape and dtype (np.ones_like(root.data)).
    """
    x = _leaf([[3.0]])
    (x * x).backward()
    assert_close(x.grad, [[6.0]], what="x.grad")


def test_non_scalar_output_without_grad_raises():
    """backward() without grad on a (2, 3) output is ambiguous: raise a RuntimeError whose
    message names the output's shape (2, 3), so the user knows what grad= to pass.

    Hint: In backward, when grad is None and root.data.size != 1, raise RuntimeError with root.shape in the
    message (formatted as a tuple, e.g. (2, 3)).
    """
    x = _leaf(np.ones((2, 3)))
    with raises(RuntimeError, match=r"\(2, 3\)"):
        (x * x).backward()


def test_wrong_shaped_grad_raises():
    """backward(grad) with grad of shape (3, 2) for a (2, 3) output raises a RuntimeError
    naming both shapes.

    Hint: In backward, after converting the given grad to an array, compare grad.shape with root.shape and
    raise RuntimeError naming both tuples when they differ.
    """
    x = _leaf(np.ones((2, 3)))
    with raises(RuntimeError) as caught:
        (x * x).backward(np.ones((3, 2)))
    message = str(caught.value)
    assert "(2, 3)" in message and "(3, 2)" in message, f"the message should name both shapes, got: {message}"


def test_backward_on_tensor_that_does_not_require_grad_raises():
    """No input requires grad, so there is nothing to differentiate: backward() raises a
    RuntimeError (not a silent no-op).

    Hint: backward must check root.requires_grad first and raise RuntimeError when it is False, instead of
    finding an empty graph and silently returning.
    """
    x = Tensor(np.array([1.0, 2.0]))
    y = (x * x).sum()
    with raises(RuntimeError):
        y.backward()


def test_backward_twice_on_the_same_graph_doubles_grad():
    """Documented semantics: gradients accumulate, and calling backward() twice on the same graph
    adds the same gradients again, so .grad doubles (2 · 2x here).

    Hint: The second backward() must add to the leaf's existing .grad (leaf.grad = leaf.grad + g), not replace
    it; also do not clear or consume the graph (node.inputs) during the first call.
    """
    x = _leaf([1.0, -3.0])
    y = (x * x).sum()
    y.backward()
    y.backward()
    assert_close(x.grad, 4 * x.data, what="x.grad after two backward() calls")


def test_gradients_of_two_graphs_accumulate_into_a_leaf():
    """Two graphs that share a leaf: (x*x).sum().backward() then (x+x).sum().backward() leave
    x.grad = 2x + 2: backward adds into .grad, it never replaces it.

    Hint: A leaf that already has a .grad from an earlier graph keeps it: in backward, set .grad only when it
    is None and add to it otherwise.
    """
    x = _leaf([1.0, 4.0])
    (x * x).sum().backward()
    (x + x).sum().backward()
    assert_close(x.grad, 2 * x.data + 2, what="x.grad")


def test_zero_grad_resets_accumulation():
    """After x.zero_grad() (grad = None), the next backward() starts from zero again.

    Hint: After zero_grad() the leaf's .grad is None, and the next backward() must treat None as a fresh start
    (store g) rather than failing on None + g.
    """
    x = _leaf([1.0, 4.0])
    y = (x * x).sum()
    y.backward()
    x.zero_grad()
    y.backward()
    assert_close(x.grad, 2 * x.data, what="x.grad after zero_grad() and one backward()")


def test_intermediate_tensors_do_not_keep_grad():
    """Only leaves get .grad: h = x * x and the output y keep grad None after backward().

    Hint: Only tensors with node is None (leaves) get .grad: keep gradients of intermediate tensors, the root
    included, in the local dict of backward and never assign them to tensor.grad.
    """
    x = _leaf([1.0, 2.0])
    h = x * x
    y = (h + x).sum()
    y.backward()
    assert h.grad is None and y.grad is None, "intermediate tensors must not keep .grad"
    assert_close(x.grad, 2 * x.data + 1, what="x.grad")


def test_leaf_grad_has_the_leafs_shape_and_dtype():
    """A float32 leaf gets a float32 .grad of its own shape, even when the graph mixes in float64
    (x32 * w64 is float64): cast the gradient to the leaf's dtype.

    Hint: x32 * w64 is float64, so the gradient reaching the float32 leaf is float64: cast it to the leaf's
    dtype (tensor.data.dtype) before storing it in .grad.
    """
    x = Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    w = _leaf(np.full((2, 3), 0.5))
    (x * w).sum().backward()
    assert_close(x.grad, np.full((2, 3), 0.5), dtype=np.float32, what="x.grad (float32 leaf)")
    assert_close(w.grad, np.ones((2, 3)), dtype=np.float64, what="w.grad (float64 leaf)")


def test_each_leaf_grad_is_its_own_array():
    """y = x + w: the add rule hands the same array to both inputs. Each leaf's .grad must be
    its own array (code that changes one gradient in place, such as kata 07's gradient clipping,
    must not reach another): changing x.grad changes neither w.grad nor the grad you passed in.

    Hint: The add rule returns the same array to both inputs, and the seed may be your caller's array: give
    each leaf a copy (np.array(g, dtype=...)) when that array is already held by the caller or another leaf.
    """
    x, w = _leaf([1.0, 2.0]), _leaf([3.0, 4.0])
    g = np.array([1.0, 1.0])
    (x + w).backward(g)
    x.grad *= 10
    assert_close(w.grad, [1.0, 1.0], what="w.grad after x.grad *= 10")
    assert_close(g, [1.0, 1.0], what="the grad passed to backward() after x.grad *= 10")


def test_backward_function_is_what_tensor_backward_calls():
    """autograd.backward(y, grad) is the engine itself: calling it directly works like y.backward.

    Hint: Tensor.backward simply calls autograd.backward(self, grad): implement the engine in backward(root,
    grad) itself, with grad as the upstream gradient of root.
    """
    x = _leaf([2.0, 5.0])
    backward(x * x, np.array([1.0, -1.0]))
    assert_close(x.grad, [4.0, -10.0], what="x.grad")


def test_op_without_a_rule_raises_naming_the_op():
    """A recorded op with no registered rule raises a RuntimeError that names the op.

    Hint: Look the rule up with node.backward or RULES.get(node.op); when neither exists, raise RuntimeError
    with node.op in the message instead of letting a KeyError or TypeError escape.
    """
    x = _leaf([1.0])
    y = record_op(x.data * 2, "mystery_op", (x,), {})
    with raises(RuntimeError, match="mystery_op"):
        y.backward()


def test_rule_returning_a_wrongly_shaped_gradient_raises(monkeypatch):
    """A rule whose gradient does not have its input's shape is a bug in the rule: raise a
    RuntimeError naming the op instead of storing a gradient of the wrong shape.

    Hint: After calling a rule, check each returned gradient's shape against its input's shape and raise
    RuntimeError naming node.op when they differ, before accumulating it.
    """
    monkeypatch.setitem(autograd.RULES, "bad_shape", lambda node, grad: (np.ones((5,)),))
    x = _leaf([1.0, 2.0])
    y = record_op(x.data * 2, "bad_shape", (x,), {})
    with raises(RuntimeError, match="bad_shape"):
        y.backward(np.ones(2))


def test_topological_order_puts_inputs_before_outputs_once_each():
    """topological_order(y) lists every tensor y depends on once (x is used three times), each
    after all of its inputs, and y last.

    Hint: topological_order must append a tensor only after all of its inputs (post-order), each once (a set
    of id(t), never ==, which is elementwise on tensors), and end with the root.
    """
    x, w = _leaf([1.0, 2.0]), _leaf([3.0, 4.0])
    h = x * w
    k = h + x
    m = k * x
    y = m.sum()
    order = topological_order(y)
    ids = [id(t) for t in order]
    assert len(ids) == len(set(ids)), "a tensor is listed more than once"
    assert set(ids) == {id(t) for t in (x, w, h, k, m, y)}, "the order must hold exactly the tensors y depends on"
    assert order[-1] is y, "the root comes last"
    position = {id(t): i for i, t in enumerate(order)}
    for t in order:
        for parent in t.node.inputs if t.node is not None else ():
            if parent.requires_grad:
                assert position[id(parent)] < position[id(t)], f"an input of '{t.node.op}' comes after it"


def test_topological_order_skips_tensors_that_do_not_require_grad():
    """Constants (here c, and the lifted 2 of `* 2`) need no gradient and are not listed.

    Hint: When topological_order pushes a node's inputs, skip those with requires_grad False (the constant c
    and the lifted 2): they need no gradient and must not be listed.
    """
    x = _leaf([1.0, 2.0])
    c = Tensor(np.array([5.0, 6.0]))
    y = x * c * 2
    order = topological_order(y)
    assert all(t.requires_grad for t in order), "a tensor that does not require grad is listed"
    assert len(order) == 3, f"expected [x, x * c, y], got {len(order)} tensors"
