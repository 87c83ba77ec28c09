"""Step 5: report — accuracy measured beside latency, the Pareto front, the table."""

import numpy as np

from tinytorch.benchmarking import Result, Stats, dominates, environment, measure, pareto_front, report


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def result(name, latency, accuracy=None, size=None):
    metrics = {k: v for k, v in (("accuracy", accuracy), ("size", size)) if v is not None}
    return Result(name, Stats([latency] * 3), metrics)


def candidates():
    return [
        result("A", 1e-3, 0.90, 100),
        result("B", 2e-3, 0.95, 100),
        result("C", 2e-3, 0.90, 100),  # as slow as B, as inaccurate as A: dominated by both
        result("D", 0.5e-3, 0.80, 400),  # fastest: a trade-off
        result("E", 3e-3, 0.95, 200),  # B is faster, as accurate and smaller
    ]


def test_dominates_needs_better_somewhere_and_worse_nowhere():
    """x dominates y: at least as good on every objective (latency, accuracy, size) and strictly better on one.

    Hint: dominates: for each objective compare x.value(key) with y.value(key), flipping signs for 'max';
    return False as soon as x is worse on one, and True only if it is strictly better on at least one.
    """
    a, b, c, d, e = candidates()
    assert dominates(a, c) and dominates(b, c) and dominates(b, e)
    assert not dominates(c, a) and not dominates(a, b) and not dominates(b, a) and not dominates(a, d)
    assert not dominates(a, result("A2", 1e-3, 0.90, 100)), "equal results do not dominate each other"


def test_pareto_front_of_a_hand_made_example():
    """Front: A (fast, accurate enough), B (most accurate, smallest of the accurate), D (fastest); C and E are dominated.

    Hint: pareto_front keeps, in the original order, every result that no OTHER result dominates (skip
    comparing a result with itself).
    """
    assert [r.name for r in pareto_front(candidates())] == ["A", "B", "D"]


def test_objectives_can_be_chosen():
    """A validation loss is better when lower: with {"latency": "min", "loss": "min"}, the lower loss wins.

    Hint: use the objectives argument instead of DEFAULT_OBJECTIVES, and read each figure with r.value(key),
    which looks in metrics for names other than 'latency'.
    """
    x = Result("x", Stats([1e-3]), {"loss": 1.50})
    y = Result("y", Stats([1e-3]), {"loss": 1.60})
    assert [r.name for r in pareto_front([y, x], {"latency": "min", "loss": "min"})] == ["x"]
    assert [r.name for r in pareto_front([y, x], {"latency": "min", "loss": "max"})] == ["y"]


def test_a_missing_figure_is_left_out_of_the_comparison():
    """A candidate without an accuracy is compared on latency and size only.

    Hint: skip an objective when either value is None (continue), and count how many were compared: with none
    compared nothing dominates.
    """
    fast_no_accuracy = result("F", 0.5e-3, None, 100)
    slow = result("S", 1e-3, 0.99, 100)
    assert dominates(fast_no_accuracy, slow) and not dominates(slow, fast_no_accuracy)


def test_measure_times_and_measures_accuracy_now():
    """measure() benchmarks fn with the given clock and calls the accuracy function once, in the same run.

    Hint: measure calls benchmark(fn, **benchmark_kwargs) (clock included) and calls each callable metric
    exactly once, storing its value (plain numbers are stored as they are) in Result(name, stats, metrics).
    """
    clock, calls = FakeClock(), []

    def fn():
        clock.now += 0.004

    def accuracy():
        calls.append(1)
        return 0.875

    r = measure("model", fn, metrics={"accuracy": accuracy, "size": 1234}, warmup=1, repeats=5, loops=1, clock=clock)
    assert calls == [1] and r.metrics == {"accuracy": 0.875, "size": 1234}
    assert r.stats.n == 5 and np.isclose(r.value("latency"), 0.004)


def test_the_report_shows_figures_verdicts_and_the_machine():
    """One row per candidate with its median, the speedup against the baseline, its metrics and its
    Pareto verdict; below, the Python and NumPy versions.

    Hint: per row: format_time of the median, the speedup as f'{base.stats.median / s.median:.2f}×', each
    metric, and 'front' or 'dominated by ' + ', '.join(names); then tabulate, and _describe(env) on the line
    below.
    """
    text = report(candidates(), baseline="B", env=environment())
    for expected in ("1 ms", "500 µs", "0.95", "dominated by A, B", "dominated by B", "2.00×", "4.00×",
                     f"NumPy {np.__version__}"):
        assert expected in text, f"{expected!r} missing from the report:\n{text}"
    row_a = next(line for line in text.splitlines() if line.startswith("A "))
    assert "front" in row_a and "dominated" not in row_a, row_a
