"""Step 1: loops — the same matmul and convolution without Python loops, and what that buys."""

import time

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dojo.testing import assert_close
from tinytorch.acceleration import conv2d_loops, conv2d_vectorized, matmul_broadcast, matmul_loops, speedup


def python_steps(fn, args):
    """How many calls into the student's tinytorch code, and lines of it, run during ``fn(*args)``:
    counted with sys.settrace, so no clock and no machine load can change the count. A vectorized
    function runs a handful of lines; a Python loop runs its body once per iteration (a
    comprehension, map() or np.vectorize over a function of yours count the same way)."""
    import os
    import sys

    import tinytorch

    package = os.path.dirname(os.path.realpath(tinytorch.__file__)) + os.sep
    ours, count = {}, [0]

    def local(frame, event, arg):
        if event == "line":
            count[0] += 1
        return local

    def on_call(frame, event, arg):
        name = frame.f_code.co_filename
        if name not in ours:
            ours[name] = os.path.realpath(name).startswith(package)
        if not ours[name]:
            return None  # NumPy's own Python code is not the student's loop
        count[0] += 1
        return local

    previous = sys.gettrace()
    sys.settrace(on_call)
    try:
        fn(*args)
    finally:
        sys.settrace(previous)
    return count[0]


def best_ratio(slow, fast, args, repeats=5):
    """The test's own measurement: best time of each over best time, the two run in turns."""
    best = [np.inf, np.inf]
    for _ in range(repeats):
        for i, fn in enumerate((slow, fast)):
            start = time.perf_counter()
            fn(*args)
            best[i] = min(best[i], time.perf_counter() - start)
    return best[0] / best[1]


@given(m=st.integers(1, 5), k=st.integers(1, 5), n=st.integers(1, 5), seed=st.integers(0, 2**16))
@example(m=1, k=1, n=1, seed=0)  # a 1×1 product
@example(m=4, k=1, n=3, seed=1)  # k = 1: an outer product
@example(m=1, k=5, n=1, seed=2)  # a dot product
@settings(max_examples=15)
def test_matmul_broadcast_equals_the_loops(m, k, n, seed):
    """matmul_broadcast(a, b) equals the i-j-k loops (and a @ b) for any (m, k) @ (k, n).

    Hint: in matmul_broadcast (tinytorch/acceleration.py) a[:, :, None] * b[None, :, :] is the (m, k, n) array
    of all products a[i, p]·b[p, j]: sum it over axis=1 (the shared k axis), not axis 0 or 2.
    """
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(-3, 3, (m, k)), rng.uniform(-3, 3, (k, n))
    got = matmul_broadcast(a, b)
    assert_close(got, matmul_loops(a, b), rtol=1e-12, atol=1e-12, what="matmul_broadcast(a, b)")
    assert_close(got, a @ b, rtol=1e-12, atol=1e-12, what="matmul_broadcast(a, b) against a @ b")


@given(
    n=st.integers(1, 2), c=st.integers(1, 3), o=st.integers(1, 3), h=st.integers(3, 6), w=st.integers(3, 6),
    k=st.integers(1, 3), stride=st.integers(1, 2), padding=st.integers(0, 1), seed=st.integers(0, 2**16),
)
@example(n=1, c=1, o=1, h=3, w=3, k=3, stride=1, padding=0, seed=0)  # one output pixel
@example(n=2, c=3, o=2, h=5, w=4, k=1, stride=1, padding=0, seed=1)  # 1×1 kernel: a per-pixel matmul
@example(n=1, c=2, o=3, h=5, w=6, k=2, stride=2, padding=1, seed=2)  # stride 2 with padding, uneven sizes
@settings(max_examples=15)
def test_conv2d_vectorized_equals_the_loops(n, c, o, h, w, k, stride, padding, seed):
    """conv2d_vectorized equals the seven loops for any size, kernel, stride and padding, in x's dtype.

    Hint: pad first (np.pad on the two spatial axes only), take sliding_window_view(xp, (kh, kw), axis=(2, 3))
    and keep every stride-th window ([:, :, ::stride, ::stride]); np.tensordot(windows, weight, axes=([1, 4,
    5], [1, 2, 3])) is (N, Ho, Wo, O): transpose it to (N, O, Ho, Wo) and keep x's dtype.
    """
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3, 3, (n, c, h, w)).astype(np.float32)
    weight = rng.uniform(-1, 1, (o, c, k, k)).astype(np.float32)
    got = conv2d_vectorized(x, weight, stride=stride, padding=padding)
    assert_close(got, conv2d_loops(x, weight, stride, padding), rtol=1e-5, atol=1e-5, dtype=np.float32,
                 what=f"conv2d_vectorized(stride={stride}, padding={padding})")


def test_speedup_runs_the_two_in_turns_and_keeps_each_best_time():
    """speedup reads the clock around each call, alternates slow and fast, and returns best slow / best fast.

    Hint: in speedup, inside ONE loop of repeats, time slow once and then fast once with the clock you were
    given (clock() before and after each call), keep the minimum of each, and return best_slow / best_fast.
    """
    now, calls = [0.0], []
    slow_costs, fast_costs = iter([10.0, 8.0, 12.0, 9.0]), iter([2.0, 1.0, 4.0, 3.0])

    def slow(a):
        calls.append("slow")
        now[0] += next(slow_costs)

    def fast(a):
        calls.append("fast")
        now[0] += next(fast_costs)

    ratio = speedup(slow, fast, (0,), repeats=4, clock=lambda: now[0])
    assert calls == ["slow", "fast"] * 4, f"calls were made in the order {calls}: expected slow, fast, slow, fast, ..."
    assert ratio == 8.0, f"speedup returned {ratio}: the best slow time is 8 and the best fast time 1, so 8.0"


def test_vectorized_matmul_runs_no_python_loop_and_is_at_least_5_times_faster():
    """48×48 matrices: no Python loop (the lines of tinytorch that run are counted: a loop over rows, columns
    or k runs its body 48 times), and faster than the loops: 15× to 40× is typical here (BLAS adds another
    10×); the test asks 5× (best of 5, in turns), since a busy machine's caches slow the big broadcast temporary.

    Hint: matmul_broadcast must contain no Python loop at all: one broadcast multiply and one .sum(axis=1);
    and it may not call matmul_loops, build lists or loop in a comprehension.
    """
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((48, 48)), rng.standard_normal((48, 48))
    steps = python_steps(matmul_broadcast, (a, b))
    assert steps <= 24, (f"matmul_broadcast ran {steps} lines and calls of tinytorch code for one 48×48 product: "
                         "a Python loop is left in it (over rows, columns or k)")
    ratio = best_ratio(matmul_loops, matmul_broadcast, (a, b))
    assert ratio >= 5, f"matmul_broadcast was only {ratio:.1f}× faster than the loops: is a Python loop left in it?"


def test_vectorized_conv_is_at_least_20_times_faster_than_the_loops():
    """A (2, 4, 11, 11) input and 8 filters 3×3: 40× to 90× is typical; the test asks 20× (best of 5, in turns).

    Hint: a Python loop over the output pixels costs the speed-up: do the sums in NumPy, e.g. one
    sliding_window_view (a view, no copy) and one np.tensordot. A loop over only the kh·kw kernel offsets,
    each a whole-array product, is fast enough too.
    """
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 4, 11, 11)).astype(np.float32)
    weight = rng.standard_normal((8, 4, 3, 3)).astype(np.float32)
    ratio = best_ratio(conv2d_loops, conv2d_vectorized, (x, weight, 1, 1))
    assert ratio >= 20, (f"conv2d_vectorized was only {ratio:.1f}× faster than the loops: "
                         "is a loop over output pixels left in it?")
