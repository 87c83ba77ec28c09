"""Step 1: char — CharTokenizer: a sorted vocabulary of characters, an unknown token, encode and decode."""

from hypothesis import example, given
from hypothesis import strategies as st

from dojo.testing import raises
from tinytorch.tokenization import CharTokenizer

CORPUS = "to be, or not to be: that is the question."


def test_vocabulary_is_the_sorted_characters_after_the_unknown_token():
    """itos is ["<unk>"] followed by the distinct characters of the text in sorted order.

    Hint: In CharTokenizer.__init__ (tinytorch/tokenization.py) itos is [unk] followed by sorted(set(text)):
    each character once, sorted, with the unknown token first so unk_id is 0.
    """
    tok = CharTokenizer("hello")
    assert tok.itos == ["<unk>", "e", "h", "l", "o"], f"itos is {tok.itos}"
    assert tok.unk_id == 0, f"unk_id is {tok.unk_id}, expected 0"
    assert tok.vocab_size == 5, f"vocab_size is {tok.vocab_size}, expected 5"


def test_stoi_is_the_inverse_of_itos():
    """stoi[itos[i]] == i for every id.

    Hint: Build stoi from itos itself ({token: i for i, token in enumerate(self.itos)}), after the unknown
    token was put first, so the two can never disagree.
    """
    tok = CharTokenizer(CORPUS)
    assert all(tok.stoi[token] == i for i, token in enumerate(tok.itos)), f"stoi {tok.stoi} does not invert itos {tok.itos}"
    assert len(tok.stoi) == len(tok.itos)


def test_vocabulary_does_not_depend_on_the_order_of_the_text():
    """Sorting makes the ids depend only on which characters occur: "cab" and "abc" agree.

    Hint: The vocabulary must be sorted(set(text)), not the characters in order of first appearance
    (dict.fromkeys(text) or a list you append to keeps the text's order).
    """
    assert CharTokenizer("cab").itos == CharTokenizer("abcabc").itos


def test_encode_gives_known_ids():
    """With the vocabulary ["<unk>", "a", "b", "c"], "cab" is [3, 1, 2].

    Hint: encode returns a list with one id per character, stoi[c]; with the unknown token at 0, "a" is 1, not
    0: check that stoi was built after the unknown token was inserted.
    """
    assert CharTokenizer("abca").encode("cab") == [3, 1, 2]


def test_decode_gives_known_text():
    """decode([3, 1, 2]) is "cab" for the vocabulary ["<unk>", "a", "b", "c"]; decode([]) is "".

    Hint: decode looks each id up in itos and joins the strings with "".join; an empty list of ids gives the
    empty string.
    """
    tok = CharTokenizer("abca")
    assert tok.decode([3, 1, 2]) == "cab"
    assert tok.decode([]) == ""


@given(text=st.text(alphabet=sorted(set(CORPUS)), max_size=40))
@example(text="")
@example(text=CORPUS)  # every character the vocabulary knows
@example(text="  ,,..:: tttt")  # repeats, punctuation, the first and last characters
def test_decode_inverts_encode_on_covered_text(text):
    """decode(encode(s)) == s for any text made of characters the vocabulary knows.

    Hint: encode must give exactly one id per character (iterate over the string, not over words or set(text))
    and decode must join itos[id] in the same order.
    """
    tok = CharTokenizer(CORPUS)
    ids = tok.encode(text)
    assert len(ids) == len(text), "one id per character"
    assert tok.decode(ids) == text


def test_unknown_characters_become_the_unknown_token():
    """Characters never seen in training map to unk_id and decode to "<unk>".

    Hint: In encode map a character missing from stoi to unk_id (self.stoi.get(c, self.unk_id)) instead of
    skipping it or raising; decode then gives back "<unk>" for id 0.
    """
    tok = CharTokenizer("abc")
    assert tok.encode("a?b") == [1, 0, 2]
    assert tok.decode(tok.encode("a?b")) == "a<unk>b"


def test_custom_unknown_token():
    """unk="?" makes "?" the unknown token at id 0.

    Hint: Use the unk argument, not a hard-coded "<unk>": itos starts with unk (here "?"), and encode maps
    unseen characters to its id 0.
    """
    tok = CharTokenizer("ba", unk="?")
    assert tok.itos == ["?", "a", "b"]
    assert tok.encode("xab") == [0, 1, 2]


def test_without_unknown_token_ids_start_at_zero():
    """unk=None: no unknown token, the characters start at id 0.

    Hint: With unk=None leave the unknown token out of itos entirely (no None entry), so characters start at
    id 0, and set unk_id to None.
    """
    tok = CharTokenizer("abca", unk=None)
    assert tok.itos == ["a", "b", "c"] and tok.unk_id is None
    assert tok.encode("cab") == [2, 0, 1]


def test_without_unknown_token_unseen_character_raises():
    """unk=None: encoding a character that is not in the vocabulary raises a KeyError naming it.

    Hint: With unk=None and a character missing from stoi, encode must raise KeyError whose message contains
    the character (here "z"), not map it to None or skip it.
    """
    tok = CharTokenizer("abc", unk=None)
    with raises(KeyError, match="z"):
        tok.encode("abz")


def test_decode_rejects_ids_out_of_range():
    """decode raises a ValueError for an id outside [0, vocab_size) (including -1).

    Hint: itos[-1] is silently the last token in Python: in decode check 0 <= id < vocab_size for every id and
    raise ValueError naming the bad id.
    """
    tok = CharTokenizer("abc")
    for bad in (4, -1):
        with raises(ValueError, match=str(bad)):
            tok.decode([1, bad])


def test_encode_empty_text():
    """encode("") is [].

    Hint: encode("") must return an empty list: no special case should add an id, and return a list, not a
    generator or a NumPy array.
    """
    assert CharTokenizer("abc").encode("") == []
