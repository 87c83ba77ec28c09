"""Step 5: evaluate — both models measured in one run with kata 19's compare: tokens/s, bytes, validation loss.

The clock is a fake one that moves only when a model works: every token row fed to a model costs
`cost` seconds. Uncached generation of n tokens after a prompt of T feeds T + (T+1) + ... + (T+n-1)
rows; cached generation T + n - 1. So the exact speedup is known, and nothing depends on the machine.
"""

import math

import numpy as np

from dojo.testing import raises
from tinytorch import acceleration, rng
from tinytorch.capstone import CapstoneReport, evaluate, optimize, validation_loss, weight_bytes
from tinytorch.layers import Module
from tinytorch.transformer import GPT

V, T, N = 11, 4, 4
UNCACHED_ROWS = sum(T + i for i in range(N))  # 4 + 5 + 6 + 7 = 22
CACHED_ROWS = T + N - 1  # 7


class WorkClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class Charge(Module):
    """Wraps a model's token embedding: each token row looked up costs `cost` seconds on the clock."""

    def __init__(self, inner, clock, cost, log=None):
        super().__init__()
        self.inner, self.clock, self.cost, self.log = inner, clock, cost, log

    def forward(self, ids):
        self.clock.now += self.cost * np.asarray(ids.data if hasattr(ids, "data") else ids).size
        if self.log is not None:
            self.log.append(acceleration.get_backend())
        return self.inner(ids)


def setup(seed=0, cost=1e-3, optimized_cost=None, **choices):
    """A tiny GPT, its optimized copy, validation batches, and a clock both models charge."""
    rng.manual_seed(seed)
    model = GPT(vocab_size=V, block_size=16, n_layer=1, n_head=2, n_embd=16)
    data = np.random.default_rng(seed).integers(0, V, size=(3, 13))
    val = [(data[:, :-1], data[:, 1:])]
    optimized = optimize(model, calibration=[data[:, :-1]], **choices)
    clock = WorkClock()
    model.tok_emb = Charge(model.tok_emb, clock, cost)
    optimized.model.tok_emb = Charge(optimized.model.tok_emb, clock, cost if optimized_cost is None else optimized_cost)
    return model, optimized, val, clock


def test_speed_is_measured_on_the_clock_given():
    """Speedup = uncached rows / cached rows exactly (22/7), its CI collapses on it, tokens/s = new tokens / median seconds.

    Hint: evaluate (tinytorch/capstone.py) times both generations with kata 19's compare(run_baseline,
    run_optimized, rounds=rounds, warmup=warmup, loops=1, clock=clock, seed=seed) and takes the seconds from
    comparison.a.median and comparison.b.median.
    """
    model, optimized, val, clock = setup()
    report = evaluate(model, optimized, val, new_tokens=N, prompt_len=T, rounds=3, clock=clock)
    assert isinstance(report, CapstoneReport), f"evaluate returned {type(report).__name__}"
    assert math.isclose(report.speedup, UNCACHED_ROWS / CACHED_ROWS, rel_tol=1e-9), report.speedup
    assert all(math.isclose(v, UNCACHED_ROWS / CACHED_ROWS, rel_tol=1e-9) for v in report.speedup_ci), report.speedup_ci
    assert math.isclose(report.baseline_seconds, UNCACHED_ROWS * 1e-3, rel_tol=1e-9)
    assert math.isclose(report.optimized_seconds, CACHED_ROWS * 1e-3, rel_tol=1e-9)
    assert math.isclose(report.optimized_tokens_per_s, N / (CACHED_ROWS * 1e-3), rel_tol=1e-9)
    assert report.comparison is not None and report.comparison.a.n == report.comparison.b.n == 3, "3 interleaved rounds each"


def test_a_slower_optimized_model_gets_a_smaller_speedup():
    """The optimized model charged 3x per row: the speedup is 3x smaller; without the KV cache it is exactly 1.

    Hint: the speedup must come from the comparison (comparison.speedup, comparison.speedup_ci), measured
    now on the models given; never a constant or a formula.
    """
    model, optimized, val, clock = setup(seed=1, optimized_cost=3e-3)
    slow = evaluate(model, optimized, val, new_tokens=N, prompt_len=T, rounds=2, warmup=0, clock=clock)
    assert math.isclose(slow.speedup, UNCACHED_ROWS / (3 * CACHED_ROWS), rel_tol=1e-9), slow.speedup
    model, optimized, val, clock = setup(seed=1, kv_cache=False)
    uncached = evaluate(model, optimized, val, new_tokens=N, prompt_len=T, rounds=2, warmup=0, clock=clock)
    assert math.isclose(uncached.speedup, 1.0, rel_tol=1e-9), f"no cache, same rows: speedup {uncached.speedup}"


def test_bytes_and_losses_are_measured_from_both_models():
    """Bytes are weight_bytes of each model; losses are validation_loss of each — and zeroed int8 weights show.

    Hint: evaluate fills the bytes with weight_bytes(baseline) and weight_bytes(optimized), the losses with
    validation_loss of each, and token_agreement from the tokens both generated in their last timed call.
    """
    model, optimized, val, clock = setup(seed=2)
    report = evaluate(model, optimized, val, new_tokens=N, prompt_len=T, rounds=2, warmup=0, clock=clock)
    assert (report.baseline_bytes, report.optimized_bytes) == (weight_bytes(model), weight_bytes(optimized))
    assert math.isclose(report.size_ratio, weight_bytes(model) / weight_bytes(optimized))
    assert math.isclose(report.baseline_loss, validation_loss(model, val), rel_tol=1e-9)
    assert math.isclose(report.optimized_loss, validation_loss(optimized, val), rel_tol=1e-9)
    assert abs(report.loss_delta) < 0.05 and report.token_agreement > 0.5
    optimized.model.head.weight_int8[...] = 0  # a wrong model: uniform logits
    wrong = evaluate(model, optimized, val, new_tokens=N, prompt_len=T, rounds=2, warmup=0, clock=clock)
    assert math.isclose(wrong.optimized_loss, math.log(V), rel_tol=1e-9), wrong.optimized_loss
    assert math.isclose(wrong.baseline_loss, report.baseline_loss, rel_tol=1e-12)
    prompt = val[0][0][:1, :T]
    assert (optimized.generate(prompt, N, greedy=True).data[0, T:] == 0).all(), "uniform logits: greedy picks token 0"
    baseline_tokens = model.generate(prompt, N, greedy=True).data[0, T:]
    assert math.isclose(wrong.token_agreement, float(np.mean(baseline_tokens == 0))), wrong.token_agreement


def test_the_baseline_runs_on_the_reference_backend():
    """With 'fast' selected around the call, the baseline still generates on 'reference', the optimized model on its own
    backend, and 'fast' is selected again afterwards.

    Hint: wrap the baseline's generation (and its validation loss) in `with use_backend('reference'):`; the
    optimized model selects its own backend inside its generate.
    """
    log_base, log_opt = [], []
    model, optimized, val, clock = setup(seed=3)
    model.tok_emb.log, optimized.model.tok_emb.log = log_base, log_opt
    previous = acceleration.set_backend("fast")
    try:
        evaluate(model, optimized, val, new_tokens=N, prompt_len=T, rounds=2, warmup=0, clock=clock)
        assert acceleration.get_backend() == "fast"
    finally:
        acceleration.set_backend(previous)
    assert log_base and set(log_base) == {"reference"}, f"baseline ran on {sorted(set(log_base))}"
    assert log_opt and set(log_opt) == {"fast"}, f"optimized ran on {sorted(set(log_opt))}"


def test_the_report_records_what_was_measured():
    """choices (a copy), the model's architecture, the settings and the machine are in the report.

    Hint: build the CapstoneReport with choices=dict(optimized.choices), model=model_config(baseline),
    settings={new_tokens, prompt_len, batch, rounds, warmup, seed, ...} and environment=environment().
    """
    model, optimized, val, clock = setup(seed=4)
    report = evaluate(model, optimized, val, new_tokens=N, prompt_len=T, rounds=2, warmup=0, seed=7, clock=clock)
    assert report.choices == optimized.choices and report.choices is not optimized.choices
    assert report.model == {"vocab_size": V, "block_size": 16, "n_layer": 1, "n_head": 2, "n_embd": 16}
    assert {k: report.settings.get(k) for k in ("new_tokens", "prompt_len", "rounds", "seed")} == \
        {"new_tokens": N, "prompt_len": T, "rounds": 2, "seed": 7}, report.settings
    assert {"python", "numpy", "blas_threads", "cpu_count", "load_average"} <= set(report.environment)


def test_a_batch_of_prompts_counts_every_row():
    """batch=2: two prompts generated together; each model does twice the rows, so the speedup is the same and tokens/s
    count both rows; agreement is over both rows.

    Hint: the prompts are first_inputs[:batch, :prompt_len]; pass batch=batch to CapstoneReport (its tokens/s
    multiply by it) and compute token_agreement over every row.
    """
    model, optimized, val, clock = setup(seed=6)
    report = evaluate(model, optimized, val, new_tokens=N, prompt_len=T, batch=2, rounds=2, warmup=0, clock=clock)
    assert report.batch == 2 and report.settings.get("batch") == 2
    assert math.isclose(report.speedup, UNCACHED_ROWS / CACHED_ROWS, rel_tol=1e-9), report.speedup
    assert math.isclose(report.baseline_seconds, 2 * UNCACHED_ROWS * 1e-3, rel_tol=1e-9)
    assert math.isclose(report.baseline_tokens_per_s, 2 * N / (2 * UNCACHED_ROWS * 1e-3), rel_tol=1e-9)
    prompts = val[0][0][:2, :T]
    both = model.generate(prompts, N, greedy=True).data[:, T:] == optimized.generate(prompts, N, greedy=True).data[:, T:]
    assert math.isclose(report.token_agreement, float(both.mean())), (report.token_agreement, both.mean())


def test_no_generation_past_the_context():
    """prompt_len + new_tokens - 1 > block_size, a prompt longer than the validation inputs or more prompts than rows: ValueError.

    Hint: check before measuring: ValueError unless new_tokens >= 1, 1 <= prompt_len <= the inputs'
    length, 1 <= batch <= their rows and prompt_len + new_tokens - 1 <= baseline.block_size.
    """
    model, optimized, val, clock = setup(seed=5)
    with raises(ValueError):
        evaluate(model, optimized, val, new_tokens=6, prompt_len=12, rounds=2, warmup=0, clock=clock)  # 12 + 6 - 1 = 17 > 16
    with raises(ValueError):
        evaluate(model, optimized, val, new_tokens=2, prompt_len=13, rounds=2, warmup=0, clock=clock)  # inputs are 12 long
    with raises(ValueError):
        evaluate(model, optimized, val, new_tokens=2, prompt_len=4, batch=4, rounds=2, warmup=0, clock=clock)  # 3 rows
    assert evaluate(model, optimized, val, new_tokens=5, prompt_len=12, rounds=2, warmup=0, clock=clock).new_tokens == 5
