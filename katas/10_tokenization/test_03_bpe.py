"""Step 3: bpe — train to a vocabulary size with a deterministic merge order, encode, decode."""

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from dojo.testing import raises
from tinytorch.tokenization import BPETokenizer

CORPUS = (
    "the quick brown fox jumps over the lazy dog. the dog sleeps; the fox runs. "
    "then the other fox and the other dog meet there, and neither bothers the other.\n"
) * 3


@pytest.fixture(scope="module")
def trained():
    bpe = BPETokenizer()
    bpe.train(CORPUS, vocab_size=300)
    return bpe


def test_known_merges_on_a_toy_corpus():
    """"aaabdaaabac": "aa" is most frequent (256); then "ab" and "Za" tie at 2 and the smaller
    pair (97, 98) wins (257); then (256, 257) (258) — Wikipedia's byte-pair example.

    Hint: BPETokenizer.train works on list(text.encode("utf-8")) and each round merges the most frequent pair
    everywhere with merge_pair before counting again; new ids count up from 256.
    """
    bpe = BPETokenizer()
    bpe.train("aaabdaaabac", vocab_size=259)
    assert bpe.merges == {(97, 97): 256, (97, 98): 257, (256, 257): 258}, f"merges are {bpe.merges}"
    assert bpe.vocab[258] == b"aaab", f"vocab[258] is {bpe.vocab[258]!r}"
    assert bpe.encode("aaabdaaabac") == [258, 100, 258, 97, 99]


def test_ties_go_to_the_smallest_pair():
    """In "abcd" every pair occurs once: (97, 98) first, then (99, 100) (smaller than (256, 99)),
    then (256, 257). Breaking ties by position or at random gives other merges.

    Hint: Among pairs with the highest count pick the smallest tuple (min over the tied pairs); max(counts,
    key=counts.get) returns the first one met, which is a tie-break by position.
    """
    bpe = BPETokenizer()
    bpe.train("abcd", vocab_size=259)
    assert bpe.merges == {(97, 98): 256, (99, 100): 257, (256, 257): 258}, f"merges are {bpe.merges}"


def test_training_stops_when_no_pair_is_left():
    """"abab" allows only two merges, whatever vocab_size asks for; vocab_size counts them.

    Hint: When pair_counts returns {} (one id left), stop the loop instead of failing or adding merges;
    vocab_size is len(self.vocab), so only learned merges count.
    """
    bpe = BPETokenizer()
    bpe.train("abab", vocab_size=300)
    assert bpe.merges == {(97, 98): 256, (256, 256): 257}
    assert bpe.vocab_size == 258


def test_vocab_holds_the_bytes_of_every_token(trained):
    """vocab[i] is bytes([i]) for the 256 bytes and vocab[a] + vocab[b] for each merge (a, b).

    Hint: For every merge store vocab[new_id] = vocab[a] + vocab[b] (bytes concatenation), next to merges[(a,
    b)] = new_id; the 256 bytes stay bytes([i]).
    """
    assert all(trained.vocab[i] == bytes([i]) for i in range(256))
    for (a, b), new in trained.merges.items():
        assert trained.vocab[new] == trained.vocab[a] + trained.vocab[b], f"vocab[{new}] is wrong"
    assert trained.vocab_size == 300 and list(trained.merges.values()) == list(range(256, 300))


def test_training_is_deterministic():
    """Training twice on the same text gives the same merges in the same order.

    Hint: Iterating over a set of pairs has no fixed order: pick the best pair by count, then by the smallest
    tuple, never by iteration order or a random choice.
    """
    a, b = BPETokenizer(), BPETokenizer()
    a.train(CORPUS, 280)
    b.train(CORPUS, 280)
    assert list(a.merges.items()) == list(b.merges.items())


def test_training_again_starts_afresh():
    """train() replaces earlier merges instead of adding to them.

    Hint: train must reset self.merges and self.vocab (back to the 256 bytes) before learning, not add to what
    an earlier call learned.
    """
    bpe = BPETokenizer()
    bpe.train("xyxyxy", 260)
    bpe.train("aaabdaaabac", 259)
    assert bpe.merges == {(97, 97): 256, (97, 98): 257, (256, 257): 258}


def test_more_merges_shorten_the_encoding():
    """Every merge learned on a text shortens that text's encoding by at least one id.

    Hint: encode must replay the learned merges until no adjacent pair has one; applying each merge once over
    the original bytes, or only some of them, leaves the encoding too long.
    """
    lengths = []
    for size in (256, 260, 270, 290, 320):
        bpe = BPETokenizer()
        bpe.train(CORPUS, size)
        lengths.append(len(bpe.encode(CORPUS)))
    assert lengths[0] == len(CORPUS.encode("utf-8")), "with no merges the ids are the bytes"
    assert all(b <= a - (m - n) for a, b, n, m in zip(lengths, lengths[1:], (256, 260, 270, 290), (260, 270, 290, 320))), (
        f"encoding lengths {lengths} for vocab sizes 256, 260, 270, 290, 320"
    )


def test_encode_applies_merges_in_the_order_learned():
    """With merges (98, 99) -> 256 learned before (97, 98) -> 257, "abc" is [97, 256]: the
    earliest merge wins even though "ab" comes first in the text.

    Hint: In encode_ordinary, among the pairs present pick the one whose merge was learned first (lowest
    merges[pair]), not the leftmost pair in the text, then merge it everywhere and repeat.
    """
    bpe = BPETokenizer()
    bpe.merges = {(98, 99): 256, (97, 98): 257}
    bpe.vocab.update({256: b"bc", 257: b"ab"})
    assert bpe.encode("abc") == [97, 256]


def test_encode_without_merges_gives_the_utf8_bytes():
    """An untrained tokenizer encodes to the UTF-8 bytes: "é" is two ids.

    Hint: Start encoding from list(text.encode("utf-8")), not from ord(c) of each character: é is two bytes,
    195 and 169.
    """
    assert BPETokenizer().encode("hé") == [104, 195, 169]


@given(text=st.text(max_size=30))
@example(text="")
@example(text="é")  # two bytes
@example(text="🎉 hé\n\ttoken")  # four bytes, a newline, a tab
@example(text="the the the ")  # text the merges compress
def test_decode_inverts_encode_for_any_text(trained, text):
    """Byte-level BPE covers every string (accents, emoji, newlines): decode(encode(s)) == s.

    Hint: decode joins vocab[id] for every id into one bytes object and decodes it as UTF-8 once; if emoji or
    accents fail, encode did not start from the UTF-8 bytes or decode decodes piece by piece.
    """
    assert trained.decode(trained.encode(text)) == text


def test_decode_joins_bytes_before_decoding():
    """A multi-byte character split over two ids decodes correctly when both are there; a lone
    continuation byte becomes the replacement character.

    Hint: Decode b"".join(pieces) once with .decode("utf-8", errors="replace"): decoding each id alone fails
    on the halves of é, and without errors="replace" a lone byte raises.
    """
    bpe = BPETokenizer()
    assert bpe.decode([195, 169]) == "é"
    assert bpe.decode([169]) == "\ufffd"


def test_decode_rejects_unknown_ids(trained):
    """decode raises a ValueError naming an id that is not in the vocabulary.

    Hint: Check each id is in self.vocab before looking it up and raise ValueError naming it (300), rather
    than letting a KeyError escape.
    """
    with raises(ValueError, match="300"):
        trained.decode([104, 300])


def test_vocab_size_below_256_is_refused():
    """The 256 byte values are the base vocabulary: vocab_size=100 raises ValueError.

    Hint: train must raise ValueError when vocab_size < 256 (the byte values are the base vocabulary), before
    any counting.
    """
    with raises(ValueError):
        BPETokenizer().train("abc", 100)


def test_vocab_size_256_is_the_boundary():
    """vocab_size=256 is allowed and learns no merge (encode gives the UTF-8 bytes); 255 is refused.

    Hint: 256 is allowed and means zero merges (range(256, 256) is empty), while 255 raises: compare with <
    256, not <= 256.
    """
    bpe = BPETokenizer()
    bpe.train("abab abab", 256)
    assert bpe.merges == {} and bpe.encode("ab") == [97, 98]
    with raises(ValueError):
        BPETokenizer().train("abab", 255)
