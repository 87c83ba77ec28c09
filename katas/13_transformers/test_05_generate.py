"""Step 5: generate — sample_next (greedy, temperature, top-k, seeded) and GPT.generate."""

import numpy as np
import pytest

from dojo.testing import raises
from tinytorch import rng
from tinytorch.tensor import Tensor
from tinytorch.transformer import GPT, sample_next

CONFIG = dict(vocab_size=7, block_size=6, n_layer=1, n_head=2, n_embd=8)


def make(seed=0):
    rng.manual_seed(seed)
    return GPT(**CONFIG)


def logits_of(shape=(3, 7), seed=0, scale=2.0):
    return np.random.default_rng(seed).normal(size=shape) * scale


def test_greedy_is_the_argmax():
    """greedy=True picks the largest logit of each row (the first one on ties).

    Hint: With greedy=True return np.argmax of each row (axis=-1; it picks the first on ties) as int64, before
    any temperature or sampling.
    """
    z = np.array([[0.0, 5.0, 1.0], [2.0, 2.0, -1.0]])
    got = sample_next(z, greedy=True)
    assert got.tolist() == [1, 0] and got.dtype == np.int64, f"got {got!r}"


def test_top_k_one_is_greedy():
    """top_k=1 leaves one candidate per row: the argmax, whatever the random draw.

    Hint: Top-k keeps the logits >= the k-th largest of each row (np.sort(z, axis=-1)[:, -k]) and sets the
    rest to -inf; with k = 1 only the argmax survives.
    """
    z = logits_of((5, 7), seed=1)
    gen = np.random.default_rng(0)
    for _ in range(10):
        assert sample_next(z, top_k=1, generator=gen).tolist() == z.argmax(axis=1).tolist()


def test_top_k_never_samples_outside_the_top_k():
    """With top_k=3, every draw is one of the 3 largest logits of its row, and all 3 do occur.

    Hint: Tokens set to -inf get probability exactly 0, and the inverse CDF must never pick them: draw u in
    (0, 1] (1.0 - generator.random(...)) and count the cdf entries strictly below u.
    """
    z = logits_of((1, 7), seed=2, scale=0.5)
    gen = np.random.default_rng(1)
    draws = np.array([sample_next(z, top_k=3, generator=gen)[0] for _ in range(300)])
    top3 = set(np.argsort(z[0])[-3:].tolist())
    assert set(draws.tolist()) == top3, f"drew {sorted(set(draws.tolist()))}, the top 3 are {sorted(top3)}"


def test_samples_follow_the_softmax():
    """At temperature 1, 20,000 seeded draws from one row match softmax(logits) within 0.015.

    Hint: Sample from a stable softmax (subtract the row max before np.exp), with one uniform draw per row
    mapped through the normalised cumulative sum; check you draw from the generator given, once per row.
    """
    z = np.array([[1.0, 0.0, 2.0, -1.0]])
    gen = np.random.default_rng(2)
    draws = sample_next(np.repeat(z, 20000, axis=0), generator=gen)
    freq = np.bincount(draws, minlength=4) / 20000
    p = np.exp(z[0]) / np.exp(z[0]).sum()
    assert np.abs(freq - p).max() < 0.015, f"frequencies {freq.round(3)}, softmax {p.round(3)}"


def test_temperature_reshapes_the_distribution():
    """Temperature 0.5 samples from softmax(z / 0.5): sharper; a tiny temperature is greedy.

    Hint: Divide the logits by the temperature before the top-k cut and the softmax (z / temperature, not z *
    temperature); a tiny temperature then concentrates everything on the argmax.
    """
    z = np.array([[1.0, 0.0, 2.0, -1.0]])
    gen = np.random.default_rng(3)
    draws = sample_next(np.repeat(z, 20000, axis=0), temperature=0.5, generator=gen)
    freq = np.bincount(draws, minlength=4) / 20000
    p = np.exp(z[0] / 0.5) / np.exp(z[0] / 0.5).sum()
    assert np.abs(freq - p).max() < 0.015, f"frequencies {freq.round(3)}, softmax(z / 0.5) {p.round(3)}"
    assert sample_next(np.repeat(z, 50, axis=0), temperature=1e-3, generator=gen).tolist() == [2] * 50


@pytest.mark.parametrize("temperature", [0.0, -1.0])
def test_non_positive_temperature_is_refused(temperature):
    """temperature <= 0 raises ValueError (greedy=True is the way to ask for the argmax).

    Hint: When greedy is False, raise ValueError for temperature <= 0 before dividing by it.
    """
    with raises(ValueError):
        sample_next(logits_of(), temperature=temperature)


def test_same_generator_seed_same_samples():
    """Draws come from the generator given: the same seed repeats them.

    Hint: Draw only from the generator argument (falling back to tinytorch.rng.generator() when it is None),
    never from np.random directly.
    """
    z = logits_of((4, 7), seed=4, scale=0.3)
    a = [sample_next(z, generator=np.random.default_rng(5)).tolist() for _ in range(2)]
    assert a[0] == a[1]


def test_generate_appends_tokens_after_the_prompt():
    """generate returns an int64 Tensor (B, T + n) that starts with the prompt.

    Hint: Start from the prompt as an int64 array (np.array(idx.data if Tensor else idx, dtype=np.int64)),
    append each new token with np.concatenate along axis 1, and return Tensor(ids) of the whole sequence.
    """
    model = make()
    prompt = np.array([[1, 2], [3, 4]])
    out = model.generate(Tensor(prompt), max_new_tokens=5, seed=0)
    assert isinstance(out, Tensor) and out.shape == (2, 7) and out.dtype == np.int64, f"got {type(out).__name__} {out.shape}"
    assert np.array_equal(out.data[:, :2], prompt)
    assert out.data.min() >= 0 and out.data.max() < 7


def test_greedy_generation_is_the_argmax_step_by_step():
    """greedy=True appends, one at a time, the argmax of the model's logits at the last position.

    Hint: At each step feed the whole sequence so far and take the logits of the last position
    (self(ids).data[:, -1, :]), then append sample_next(..., greedy=True).
    """
    model = make(seed=1)
    ids = np.array([[0, 3]])
    out = model.generate(ids, max_new_tokens=4, greedy=True).data
    expected = ids
    for _ in range(4):
        nxt = model(Tensor(expected)).data[:, -1].argmax(axis=-1)
        expected = np.concatenate([expected, nxt[:, None]], axis=1)
    assert np.array_equal(out, expected), f"generated {out.tolist()}, expected {expected.tolist()}"


def test_greedy_generation_is_deterministic():
    """Greedy decoding ignores the seed: the same tokens every time.

    Hint: generate must pass greedy on to sample_next, and greedy must not consume random numbers or depend on
    the seed.
    """
    model = make(seed=2)
    a = model.generate([[1]], max_new_tokens=8, greedy=True, seed=0).data
    b = model.generate([[1]], max_new_tokens=8, greedy=True, seed=99).data
    assert np.array_equal(a, b)


def test_seeded_sampling_repeats():
    """The same seed gives the same sampled tokens; another seed gives others.

    Hint: Create the generator once per generate call from the seed (np.random.default_rng(seed)) and pass
    that same generator to every sample_next; reseeding at each step repeats one draw.
    """
    model = make(seed=3)
    a = model.generate([[1, 2]], max_new_tokens=6, seed=7).data
    b = model.generate([[1, 2]], max_new_tokens=6, seed=7).data
    c = model.generate([[1, 2]], max_new_tokens=6, seed=8).data
    assert np.array_equal(a, b), "same seed, different tokens"
    assert not np.array_equal(a, c), "seeds 7 and 8 gave the same 6 tokens"


def test_generation_beyond_block_size_crops_the_context():
    """Generating past block_size feeds only the last block_size tokens (no error), and the
    training mode is restored afterwards.

    Hint: Feed only the last block_size tokens (ids[:, -self.block_size:]) to the model, and restore the
    training mode you found (remember self.training, call self.eval(), then self.train(was_training) in a
    finally).
    """
    model = make(seed=4)
    model.train()
    out = model.generate([[1, 2, 3]], max_new_tokens=7, greedy=True)  # 10 tokens, block_size 6
    assert out.shape == (1, 10)
    assert model.training, "generate must restore training mode"
    expected = model.generate([[1, 2, 3]], max_new_tokens=6, greedy=True).data
    nxt = model(Tensor(expected[:, -6:])).data[:, -1].argmax(axis=-1)
    assert out.data[0, -1] == nxt[0]
