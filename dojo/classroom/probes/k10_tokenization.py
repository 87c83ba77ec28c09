"""Probes for kata 10 (Tokenization): the character tokenizer, pair counts and merges, byte-pair
encoding (training, encoding, decoding) and special tokens, on a text drawn from the seed."""

from dojo.classroom.probes import probe

WORDS = ["low", "lower", "newest", "widest", "the", "then", "at", "hat", "café", "naïve", "🙂", "snow", "slow"]


def _text(rng, words=40):
    return " ".join(WORDS[i] for i in rng.integers(0, len(WORDS), size=words))


@probe("char")
def char_tokenizer(rng):
    from tinytorch.tokenization import CharTokenizer

    text = _text(rng, 12)
    tok = CharTokenizer(text)
    strict = CharTokenizer(text, unk=None)
    ids = tok.encode(text[:20] + "Z#")
    return {"itos": tok.itos, "vocab_size": tok.vocab_size, "ids": ids, "decoded": tok.decode(ids),
            "strict": strict.encode(text[:10]), "empty": tok.encode("")}


@probe("char")
def char_decode_rejects_unknown_ids(rng):
    from tinytorch.tokenization import CharTokenizer

    tok = CharTokenizer("abc")
    return tok.decode([1, 2, int(rng.integers(10, 100))])


@probe("merges")
def pair_counts_and_merge(rng):
    from tinytorch.tokenization import merge_pair, pair_counts

    ids = rng.integers(0, 4, size=30).tolist()
    counts = pair_counts(ids)
    pair = max(sorted(counts), key=counts.get)
    return {"counts": {f"{a},{b}": c for (a, b), c in sorted(counts.items())}, "merged": merge_pair(ids, pair, 99),
            "overlap": merge_pair([1, 1, 1, 1, 1], (1, 1), 7), "unchanged": ids}


@probe("bpe")
def bpe_train_encode_decode(rng):
    from tinytorch.tokenization import BPETokenizer

    text = _text(rng)
    tok = BPETokenizer()
    tok.train(text, 256 + int(rng.integers(10, 30)))
    sample = _text(rng, 6)
    ids = tok.encode(sample)
    return {"merges": [[a, b, new] for (a, b), new in tok.merges.items()], "vocab_size": tok.vocab_size, "ids": ids,
            "decoded": tok.decode(ids), "split_char": tok.decode(list("é".encode("utf-8"))[:1])}


@probe("special_tokens")
def special_tokens(rng):
    from tinytorch.tokenization import BPETokenizer

    tok = BPETokenizer()
    tok.train(_text(rng), 280)
    tok.add_special_tokens(["<|endoftext|>", "<|pad|>"])
    tok.add_special_tokens(["<|pad|>"])  # already there: keeps its id
    text = _text(rng, 3) + "<|endoftext|>" + _text(rng, 3) + "<|pad|><|pad|>"
    ids = tok.encode(text)
    return {"special": sorted(tok.special_tokens.items()), "ids": ids, "decoded": tok.decode(ids), "vocab_size": tok.vocab_size}
