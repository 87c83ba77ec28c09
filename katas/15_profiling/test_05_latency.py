"""Step 5: latency — per-layer time with warm-up runs excluded, the median of the timed runs, an injected clock."""

import math

import numpy as np

from dojo.testing import raises
from tinytorch.layers import Module, Sequential
from tinytorch.profiling import time_layers
from tinytorch.tensor import Tensor


class FakeClock:
    """A clock that only moves when a layer says it worked: every figure is known exactly."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


class Work(Module):
    """Takes costs[i] fake seconds on its i-th call (the last cost repeats)."""

    def __init__(self, clock, *costs):
        super().__init__()
        self.clock, self.costs, self.calls = clock, costs, 0

    def forward(self, x):
        self.clock.advance(self.costs[min(self.calls, len(self.costs) - 1)])
        self.calls += 1
        return x * 1.0


class Outer(Module):
    """Works 5 ms itself, then calls its inner layer."""

    def __init__(self, clock, inner):
        super().__init__()
        self.clock, self.inner = clock, inner

    def forward(self, x):
        self.clock.advance(0.005)
        return self.inner(x)


def x():
    return Tensor(np.zeros(3, dtype=np.float32))


def close(a, b):
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def test_warm_up_runs_are_excluded():
    """The first call costs 0.5 s (a cold start), later ones 2 ms: with one warm-up run the layer
    takes 2 ms; timing the cold run instead would report 0.5 s.

    Hint: call the model warmup times without tracing before the timed runs, and time the repeats with
    trace(model, *args, clock=clock): use the clock you were given, never time.perf_counter directly.
    """
    clock = FakeClock()
    model = Sequential(Work(clock, 0.5, 0.002), Work(clock, 0.003))
    times = time_layers(model, x(), warmup=1, repeats=3, clock=clock)
    assert close(times["0"].total, 0.002), f"layer 0 took {times['0'].total} s, expected 0.002 (warm-up excluded)"
    assert close(times["1"].total, 0.003) and close(times[""].total, 0.005)
    cold = Sequential(Work(clock, 0.5, 0.002))
    assert close(time_layers(cold, x(), warmup=0, repeats=1, clock=clock)["0"].total, 0.5)


def test_the_median_of_the_timed_runs():
    """Timed runs of 1 ms, 9 ms and 1 ms (the machine was busy once): the median is 1 ms, not the 3.7 ms mean.

    Hint: collect one total per timed run and report statistics.median over the runs, not the mean and not the
    last run.
    """
    clock = FakeClock()
    model = Sequential(Work(clock, 0.050, 0.001, 0.009, 0.001))
    times = time_layers(model, x(), warmup=1, repeats=3, clock=clock)
    assert close(times["0"].total, 0.001), f"got {times['0'].total} s, expected the median 0.001"


def test_self_time_excludes_the_children():
    """Outer works 5 ms and calls a 2 ms layer: total 7 ms, self 5 ms; the Sequential around it: self 0.

    Hint: per module report both the median total (call.time) and the median self time (call.self_time, the
    time minus the direct children's time) in LayerTime(name, calls, total, self_time).
    """
    clock = FakeClock()
    model = Sequential(Outer(clock, Work(clock, 0.002)))
    times = time_layers(model, x(), warmup=0, repeats=2, clock=clock)
    assert close(times["0"].total, 0.007) and close(times["0"].self_time, 0.005), times["0"]
    assert close(times["0.inner"].total, 0.002) and close(times["0.inner"].self_time, 0.002), times["0.inner"]
    assert close(times[""].total, 0.007) and close(times[""].self_time, 0.0), times[""]


def test_a_layer_called_twice_adds_up():
    """The same 3 ms layer used twice in one forward pass: 2 calls, 6 ms per pass.

    Hint: within one run, add up the time of every call with the same name and count the calls (calls + 1,
    total + call.time, ...) before taking the median across runs.
    """
    clock = FakeClock()
    work = Work(clock, 0.003)
    times = time_layers(Sequential(work, work), x(), warmup=1, repeats=3, clock=clock)
    assert times["0"].calls == 2 and close(times["0"].total, 0.006), times["0"]


def test_names_in_call_order_and_the_number_of_runs():
    """One entry per module in the order they first ran; the model ran warmup + repeats times.

    Hint: the model runs exactly warmup + repeats times (no extra trace), and the result dict is built from
    the first timed run's names, which are in call order.
    """
    clock = FakeClock()
    first, second = Work(clock, 0.001), Work(clock, 0.002)
    times = time_layers(Sequential(first, second), x(), warmup=2, repeats=4, clock=clock)
    assert list(times) == ["", "0", "1"]
    assert first.calls == 6 and second.calls == 6, (first.calls, second.calls)


def test_at_least_one_timed_run():
    """repeats=0 would time nothing: ValueError; so is a negative warm-up.

    Hint: raise ValueError at the top of time_layers when repeats < 1 or warmup < 0, before running anything.
    """
    clock = FakeClock()
    with raises(ValueError):
        time_layers(Sequential(Work(clock, 0.001)), x(), repeats=0, clock=clock)
    with raises(ValueError):
        time_layers(Sequential(Work(clock, 0.001)), x(), warmup=-1, clock=clock)
