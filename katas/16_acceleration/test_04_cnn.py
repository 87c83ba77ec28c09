"""Step 4: cnn — convolution and max pooling kernels that equal kata 09's, forward and backward."""

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dojo.testing import assert_close, gradcheck
from tinytorch import acceleration, rng, tensor
from tinytorch.acceleration import backend, counters, reset_counters
from tinytorch.activations import ReLU
from tinytorch.layers import Linear, Sequential
from tinytorch.losses import cross_entropy
from tinytorch.spatial import Conv2d, Flatten, MaxPool2d, conv2d, max_pool2d
from tinytorch.tensor import Tensor


@pytest.fixture(autouse=True)
def reference_afterwards():
    yield
    try:
        acceleration.set_backend("reference")
    except Exception:
        pass
    tensor.set_dispatcher(None)


def run(name, f, arrays, grad_of):
    """f(*tensors) under backend ``name``: its output and the gradients of the inputs in ``grad_of``."""
    tensors = [None if a is None else Tensor(a, requires_grad=i in grad_of) for i, a in enumerate(arrays)]
    with backend(name):
        out = f(*tensors)
        out.backward(np.random.default_rng(0).normal(size=out.shape).astype(out.dtype))
    return out.data, [tensors[i].grad for i in grad_of]


def same_as_reference(f, arrays, grad_of, what, rtol=1e-5, atol=1e-5):
    (ref, ref_grads), (fast, fast_grads) = run("reference", f, arrays, grad_of), run("fast", f, arrays, grad_of)
    assert_close(fast, ref, rtol=rtol, atol=atol, dtype=ref.dtype, what=f"{what}: fast output")
    for i, r, g in zip(grad_of, ref_grads, fast_grads):
        assert g is not None, f"{what}: no gradient reached input {i} under the fast backend"
        assert_close(g, r, rtol=rtol, atol=atol, dtype=arrays[i].dtype, what=f"{what}: fast gradient of input {i}")


@given(
    n=st.integers(1, 2), c=st.integers(1, 3), o=st.integers(1, 3), h=st.integers(3, 7), w=st.integers(3, 7),
    k=st.integers(1, 3), stride=st.integers(1, 2), padding=st.integers(0, 1), bias=st.booleans(),
    seed=st.integers(0, 2**16),
)
@example(n=1, c=1, o=1, h=3, w=3, k=3, stride=1, padding=0, bias=True, seed=0)  # one output pixel
@example(n=2, c=3, o=2, h=4, w=5, k=1, stride=1, padding=0, bias=False, seed=1)  # 1×1 kernel, no bias
@example(n=2, c=2, o=3, h=7, w=6, k=3, stride=2, padding=1, bias=True, seed=2)  # stride 2, padding, uneven
@settings(max_examples=12)
def test_conv2d_equals_the_reference_forward_and_backward(n, c, o, h, w, k, stride, padding, bias, seed):
    """The fast conv2d's output and the gradients of x, weight and bias equal kata 09's (float32).

    Hint: FastConv2d: columns from one copy of sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh,
    ::sw] transposed to (N, C, kh, kw, Ho, Wo); weight (O, C·kh·kw) @ cols; bias may be None; backward returns
    (dx, dweight, dbias) with dx folded back per kernel offset and cropped by the padding.
    """
    r = np.random.default_rng(seed)
    arrays = [r.uniform(-2, 2, (n, c, h, w)).astype(np.float32), r.uniform(-1, 1, (o, c, k, k)).astype(np.float32),
              r.uniform(-1, 1, o).astype(np.float32) if bias else None]
    reset_counters()
    same_as_reference(lambda x, wt, b: conv2d(x, wt, b, stride=stride, padding=padding), arrays,
                      [0, 1, 2] if bias else [0, 1], f"conv2d(stride={stride}, padding={padding})")
    assert counters().get(("conv2d", "fast"), 0) == 1, "the fast backend did not run a registered 'conv2d' kernel"


def test_conv2d_gradcheck_under_the_fast_backend():
    """x, weight and bias through the fast convolution (stride 2, padding 1): central differences agree.

    Hint: with stride 2 and padding 1 the fold-back of dx must add each kernel offset's slice xp[:, :, i:i +
    sh·Ho:sh, j:j + sw·Wo:sw] into a ZEROED padded buffer (+=, not =), then crop the padding.
    """
    r = np.random.default_rng(4)
    with backend("fast"):
        gradcheck(lambda x, w, b: conv2d(x, w, b, stride=2, padding=1),
                  [r.uniform(-2, 2, (2, 2, 4, 3)), r.uniform(-1, 1, (3, 2, 3, 3)), r.uniform(-1, 1, 3)])


def test_conv2d_without_input_gradient_computes_none():
    """An input image that does not require grad gets no gradient (the backward skips it).

    Hint: check ctx.needs_input_grad in FastConv2d.backward and return None for dx when the image does not
    need it; dweight must stay float32.
    """
    r = np.random.default_rng(5)
    x, w = Tensor(r.normal(size=(1, 1, 4, 4)).astype(np.float32)), Tensor(r.normal(size=(2, 1, 3, 3)).astype(np.float32), requires_grad=True)
    with backend("fast"):
        conv2d(x, w).sum().backward()
    assert x.grad is None and w.grad is not None and w.grad.dtype == np.float32


@given(n=st.integers(1, 2), c=st.integers(1, 3), h=st.integers(2, 7), w=st.integers(2, 7), seed=st.integers(0, 2**16),
       relu=st.booleans())
@example(n=1, c=1, h=2, w=2, seed=0, relu=False)
@example(n=2, c=2, h=5, w=7, seed=1, relu=True)  # odd sizes: the last row and column are dropped
@example(n=1, c=2, h=4, w=4, seed=2, relu=True)  # after ReLU: windows of tied zeros
@settings(max_examples=12)
def test_max_pool_equals_the_reference_including_ties(n, c, h, w, seed, relu):
    """2×2 max pooling: the fast output and gradient equal kata 09's, ties going to the first in row-major order.

    Hint: compare strictly (right > left, then bottom > top) so that on a tie the left, then the top, element
    wins, kata 09's first-in-row-major rule; drop an odd last row or column before comparing.
    """
    r = np.random.default_rng(seed)
    x = r.integers(-2, 3, (n, c, h, w)).astype(np.float32)  # small integers: many ties
    if relu:
        x = np.maximum(x, 0)
    reset_counters()
    same_as_reference(lambda t: max_pool2d(t, 2), [x], [0], "max_pool2d(2)", rtol=0, atol=0)
    assert counters().get(("max_pool2d", "fast"), 0) == 1, "the fast backend did not run a registered 'max_pool2d' kernel"


def test_the_fast_pooling_takes_2x2_windows_and_leaves_the_others_to_the_reference():
    """2×2 stride 2 runs the fast kernel; max_pool2d(3) and stride 1 are declined: the reference runs, counted as such.

    Hint: the given max_pool2d_kernel returns NotImplemented for anything but 2×2 stride 2 and your dispatch
    must then run the reference; if this fails, check FastMaxPool2d's output and gradient on the 2×2 case.
    """
    x = np.random.default_rng(6).normal(size=(1, 2, 6, 6)).astype(np.float32)
    reset_counters()
    same_as_reference(lambda t: max_pool2d(t, 2), [x], [0], "max_pool2d(2)", rtol=0, atol=0)
    same_as_reference(lambda t: max_pool2d(t, 3), [x], [0], "max_pool2d(3)", rtol=0, atol=0)
    same_as_reference(lambda t: max_pool2d(t, 2, stride=1), [x], [0], "max_pool2d(2, stride=1)", rtol=0, atol=0)
    got = {k: v for k, v in counters().items() if k[0] == "max_pool2d"}
    assert got == {("max_pool2d", "fast"): 1, ("max_pool2d", "reference"): 2}, f"max_pool2d calls counted: {got}"


def test_a_cnn_built_before_gives_the_same_loss_and_gradients_under_the_fast_backend():
    """The M04 LeNet, unchanged: same loss and parameter gradients, and the fast conv and pooling ran.

    Hint: both FastConv2d (no padding here, bias present) and FastMaxPool2d run twice in this LeNet: compare
    their results with kata 09's; the second pooling gets an 11×11 map, so FastMaxPool2d must drop the odd
    last row and column (and give them zero gradient).
    """
    rng.manual_seed(0)
    model = Sequential(Conv2d(1, 4, 3), ReLU(), MaxPool2d(2), Conv2d(4, 8, 3), ReLU(), MaxPool2d(2),
                       Flatten(), Linear(8 * 5 * 5, 10))
    r = np.random.default_rng(1)
    x, y = Tensor(r.normal(size=(3, 1, 28, 28)).astype(np.float32)), Tensor(r.integers(0, 10, 3))

    def step():
        for p in model.parameters():
            p.grad = None
        loss = cross_entropy(model(x), y)
        loss.backward()
        return loss.item(), [p.grad for p in model.parameters()]

    loss, grads = step()
    reset_counters()
    with backend("fast"):
        fast_loss, fast_grads = step()
    assert abs(fast_loss - loss) <= 1e-5 * max(1.0, abs(loss)), f"loss {fast_loss} under the fast backend, {loss} before"
    for (name, _), g, want in zip(model.named_parameters(), fast_grads, grads):
        assert_close(g, want, rtol=1e-4, atol=1e-5, dtype=np.float32, what=f"gradient of {name}")
    ran = counters()
    for op in ("conv2d", "max_pool2d"):
        assert ran.get((op, "fast"), 0) == 2, f"counters() shows {ran.get((op, 'fast'), 0)} fast '{op}' call(s), expected 2"


def test_two_forward_passes_before_one_backward_do_not_share_buffers():
    """Recycled buffers are only reused when nobody holds them: two live forwards stay distinct and exact.

    Hint: arrays you return or save for backward must not be scratch buffers you reuse yourself: take them
    from _empty (it hands back only arrays nobody holds) and never write into a saved array.
    """
    rng.manual_seed(1)
    model = Sequential(Conv2d(2, 3, 3, padding=1), ReLU(), MaxPool2d(2), Flatten(), Linear(3 * 3 * 3, 4))
    r = np.random.default_rng(2)
    xs = [Tensor(r.normal(size=(2, 2, 6, 6)).astype(np.float32)) for _ in range(2)]
    y = Tensor(np.array([1, 3]))

    def run(name):
        for p in model.parameters():
            p.grad = None
        with backend(name):
            outs = [model(x) for x in xs]  # both alive at once
            kept = [o.data.copy() for o in outs]
            (cross_entropy(outs[0], y) + cross_entropy(outs[1], y)).backward()
        for o, k in zip(outs, kept):
            assert np.array_equal(o.data, k), "an output changed after it was computed: a buffer was reused while held"
        return kept, [p.grad.copy() for p in model.parameters()]

    (ref_outs, ref_grads), (outs, grads) = run("reference"), run("fast")
    for o, want in zip(outs, ref_outs):
        assert_close(o, want, rtol=1e-5, atol=1e-6, what="output of one of two live forward passes")
    for (name, _), g, want in zip(model.named_parameters(), grads, ref_grads):
        assert_close(g, want, rtol=1e-4, atol=1e-5, what=f"gradient of {name} after two forwards")
