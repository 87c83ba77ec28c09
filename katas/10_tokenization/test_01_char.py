"""Step 1: char — CharTokenizer: a sorted vocabulary of characters, an unknown token, encode and decode."""

from hypothesis import example, given
from hypothesis import strategies as st

from dojo.testing import raises
from tinytorch.tokenization import CharTokenizer

CORPUS = "to be, or not to be: that is the question."


def test_vocabulary_is_the_sorted_characters_after_the_unknown_token():
    """itos is ["<unk>"] followed by the distinct characters of the text in sorted order."""
    tok = CharTokenizer("hello")
    assert tok.itos == ["<unk>", "e", "h", "l", "o"], f"itos is {tok.itos}"
    assert tok.unk_id == 0, f"unk_id is {tok.unk_id}, expected 0"
    assert tok.vocab_size == 5, f"vocab_size is {tok.vocab_size}, expected 5"


def test_stoi_is_the_inverse_of_itos():
    """stoi[itos[i]] == i for every id."""
    tok = CharTokenizer(CORPUS)
    assert all(tok.stoi[token] == i for i, token in enumerate(tok.itos)), f"stoi {tok.stoi} does not invert itos {tok.itos}"
    assert len(tok.stoi) == len(tok.itos)


def test_vocabulary_does_not_depend_on_the_order_of_the_text():
    """Sorting makes the ids depend only on which characters occur: "cab" and "abc" agree."""
    assert CharTokenizer("cab").itos == CharTokenizer("abcabc").itos


def test_encode_gives_known_ids():
    """With the vocabulary ["<unk>", "a", "b", "c"], "cab" is [3, 1, 2]."""
    assert CharTokenizer("abca").encode("cab") == [3, 1, 2]


def test_decode_gives_known_text():
    """decode([3, 1, 2]) is "cab" for the vocabulary ["<unk>", "a", "b", "c"]; decode([]) is ""."""
    tok = CharTokenizer("abca")
    assert tok.decode([3, 1, 2]) == "cab"
    assert tok.decode([]) == ""


@given(text=st.text(alphabet=sorted(set(CORPUS)), max_size=40))
@example(text="")
@example(text=CORPUS)  # every character the vocabulary knows
@example(text="  ,,..:: tttt")  # repeats, punctuation, the first and last characters
def test_decode_inverts_encode_on_covered_text(text):
    """decode(encode(s)) == s for any text made of characters the vocabulary knows."""
    tok = CharTokenizer(CORPUS)
    ids = tok.encode(text)
    assert len(ids) == len(text), "one id per character"
    assert tok.decode(ids) == text


def test_unknown_characters_become_the_unknown_token():
    """Characters never seen in training map to unk_id and decode to "<unk>"."""
    tok = CharTokenizer("abc")
    assert tok.encode("a?b") == [1, 0, 2]
    assert tok.decode(tok.encode("a?b")) == "a<unk>b"


def test_custom_unknown_token():
    """unk="?" makes "?" the unknown token at id 0."""
    tok = CharTokenizer("ba", unk="?")
    assert tok.itos == ["?", "a", "b"]
    assert tok.encode("xab") == [0, 1, 2]


def test_without_unknown_token_ids_start_at_zero():
    """unk=None: no unknown token, the characters start at id 0."""
    tok = CharTokenizer("abca", unk=None)
    assert tok.itos == ["a", "b", "c"] and tok.unk_id is None
    assert tok.encode("cab") == [2, 0, 1]


def test_without_unknown_token_unseen_character_raises():
    """unk=None: encoding a character that is not in the vocabulary raises a KeyError naming it."""
    tok = CharTokenizer("abc", unk=None)
    with raises(KeyError, match="z"):
        tok.encode("abz")


def test_decode_rejects_ids_out_of_range():
    """decode raises a ValueError for an id outside [0, vocab_size) (including -1)."""
    tok = CharTokenizer("abc")
    for bad in (4, -1):
        with raises(ValueError, match=str(bad)):
            tok.decode([1, bad])


def test_encode_empty_text():
    """encode("") is []."""
    assert CharTokenizer("abc").encode("") == []
