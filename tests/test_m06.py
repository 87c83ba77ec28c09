"""Milestone 06's pieces (the quick run itself is checked end to end by `make test`'s milestone part).

The fixed pipeline must be one function (cached generation = arg-max of its own forward), its
bytes must be what the arrays hold (two independent counts agree), and the quick metric — the
speedup on a work clock — must be exactly the ratio of token rows the two models are fed.
"""

import numpy as np
import pytest

from milestones import m06_systems as m06

V = 13


@pytest.fixture
def tiny(solutions):
    from tinytorch import rng
    from tinytorch.transformer import GPT

    rng.manual_seed(0)
    model = GPT(vocab_size=V, block_size=24, n_layer=2, n_head=2, n_embd=16)
    ids = np.random.default_rng(0).integers(0, V, size=400)
    calibration = [x for x, _ in m06.windows(ids, 24, 4, 2, seed=1)]
    validation = m06.windows(ids, 24, 3, 2, seed=2)
    return model, calibration, validation


def test_config_steps_from_the_environment(monkeypatch):
    """TINYTORCH_SYSTEMS_STEPS changes the full run's training steps (not the quick run's); nonsense is an error."""
    monkeypatch.setenv(m06.STEPS_ENV, "40")
    assert m06.config()["training"]["steps"] == 40
    assert m06.config(quick=True)["training"]["steps"] == m06.QUICK["training"]["steps"]
    assert m06.FULL["training"]["steps"] != 40, "config() must copy, not modify FULL"
    monkeypatch.setenv(m06.STEPS_ENV, "many")
    with pytest.raises(ValueError, match=m06.STEPS_ENV):
        m06.config()


def test_full_context_fits_the_prompt_and_the_new_tokens():
    """256 new tokens after the prompt fit the context (a KV cache cannot crop), in both configurations."""
    for cfg in (m06.FULL, m06.QUICK):
        ev = cfg["evaluation"]
        assert ev["prompt_len"] + ev["new_tokens"] - 1 <= cfg["model"]["block_size"]
    assert m06.FULL["evaluation"]["new_tokens"] == 256
    assert {k: m06.FULL["model"][k] for k in ("n_layer", "n_head", "n_embd")} == {"n_layer": 3, "n_head": 4, "n_embd": 128}


def test_fixed_pipeline_is_int8_and_one_function(tiny):
    """Every Linear int8 (static scales), both embeddings int8 rows; its cached greedy tokens are the arg-max of its own forward."""
    from tinytorch.layers import Linear
    from tinytorch.quantization import QuantizedLinear, modules

    model, calibration, validation = tiny
    pipeline = m06.FixedPipeline(model, calibration)
    layers = modules(pipeline.model)
    assert not [m for m in layers if isinstance(m, Linear)]
    quantized = [m for m in layers if isinstance(m, QuantizedLinear)]
    assert len(quantized) == 13 and all(q.input_scale is not None for q in quantized)
    assert pipeline.model.tok_emb.codes.dtype == np.int8 and pipeline.model.pos_emb.codes.dtype == np.int8
    prompt = validation[0][0][:2, :5]
    out = pipeline.generate(prompt, 15).data
    predicted = pipeline.logits(out[:, :-1]).data[:, 4:].argmax(-1)
    assert np.array_equal(predicted, out[:, 5:])
    assert isinstance(model.head, Linear), "the baseline model is left as it was"


def test_bytes_are_what_the_arrays_hold(tiny):
    """The milestone's count (kata 15's distinct_nbytes over parameters and buffers) equals the re-deriving harness's
    walk over every array the model holds; the float model is 4 bytes per parameter."""
    from dojo.classroom.capstone_check import held_bytes

    model, calibration, _ = tiny
    pipeline = m06.FixedPipeline(model, calibration)
    assert m06.weight_bytes(model) == held_bytes(model) == 4 * sum(p.data.size for p in model.parameters())
    assert m06.weight_bytes(pipeline.model) == held_bytes(pipeline.model)
    assert m06.weight_bytes(model) / m06.weight_bytes(pipeline.model) > 2.5


def test_the_work_clock_speedup_is_the_ratio_of_rows(tiny):
    """measure(work_clock=True): the speedup on the work clock is exactly uncached rows / cached rows; losses from logits."""
    model, calibration, validation = tiny
    pipeline = m06.FixedPipeline(model, calibration)
    T, n, batch = 4, 9, 2
    figures = m06.measure(model, pipeline, validation, {"new_tokens": n, "prompt_len": T, "batch": batch, "rounds": 2},
                          work_clock=True, log=lambda *a: None)
    work = figures["work"]
    assert work.a.median == batch * sum(T + i for i in range(n)) and work.b.median == batch * (T + n - 1)
    assert abs(work.speedup - sum(T + i for i in range(n)) / (T + n - 1)) < 1e-12
    assert abs(figures["optimized_loss"] - figures["baseline_loss"]) < 0.05
    assert figures["outputs"]["optimized"].shape == (batch, T + n)
    assert model.tok_emb.__class__.__name__ == "Embedding", "the row counters are removed afterwards"


def test_cross_entropy_reads_the_logits(tiny):
    """Uniform logits give log V exactly."""
    from tinytorch.tensor import Tensor

    _, _, validation = tiny
    assert abs(m06.cross_entropy(lambda x: Tensor(np.zeros((*x.shape, V), np.float32)), validation) - np.log(V)) < 1e-12
