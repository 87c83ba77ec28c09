"""Step 4: special_tokens — never split, one id each after the merges, decode to themselves."""

from hypothesis import example, given
from hypothesis import strategies as st

from dojo.testing import raises
from tinytorch.tokenization import BPETokenizer

EOT = "<|endoftext|>"


def trained(size=270):
    bpe = BPETokenizer()
    bpe.train("hello there, hello world. the world says hello back.\n" * 4, size)
    return bpe


_WITH_SPECIALS = {}  # BPETokenizer class -> trained() with EOT and <pad> added


def trained_with_specials():
    """trained() plus EOT and <pad>, built once per run and shared by the examples of a property test:
    encode and decode only read the tokenizer."""
    if BPETokenizer not in _WITH_SPECIALS:
        bpe = trained()
        bpe.add_special_tokens([EOT, "<pad>"])
        _WITH_SPECIALS[BPETokenizer] = bpe
    return _WITH_SPECIALS[BPETokenizer]


def test_special_tokens_get_the_next_ids():
    """After 14 merges (ids 256..269), the special tokens get 270, 271 in order.

    Hint: add_special_tokens gives each token the id len(self.vocab) at the time it is added, in the given
    order, and stores it in special_tokens and in vocab (its UTF-8 bytes), so the next one gets the next id.
    """
    bpe = trained()
    bpe.add_special_tokens([EOT, "<pad>"])
    assert bpe.special_tokens == {EOT: 270, "<pad>": 271}, f"special_tokens is {bpe.special_tokens}"
    assert bpe.vocab_size == 272


def test_special_token_is_one_id_in_encode():
    """"hello<|endoftext|>world" encodes the special token as its single id, the rest as usual.

    Hint: encode must split the text around the special tokens first (re.split with a capturing group keeps
    them), give each special part its single id and encode the other parts with encode_ordinary.
    """
    bpe = trained()
    bpe.add_special_tokens([EOT])
    eot = bpe.special_tokens[EOT]
    ids = bpe.encode("hello" + EOT + "world")
    assert ids == bpe.encode("hello") + [eot] + bpe.encode("world"), f"got {ids}"


def test_special_token_decodes_to_itself():
    """decode turns the special id back into "<|endoftext|>".

    Hint: Store vocab[id] = token.encode("utf-8") when adding a special token: decode then needs no special
    case; several special tokens in a row must each keep their id.
    """
    bpe = trained()
    bpe.add_special_tokens([EOT])
    text = "hello" + EOT + EOT + "world" + EOT
    assert bpe.decode(bpe.encode(text)) == text


def test_text_without_special_tokens_is_unchanged():
    """Registering a special token does not change the encoding of text that does not contain it.

    Hint: encode must hand the text between special tokens to encode_ordinary whole: splitting it further (on
    spaces, per character) loses merges that cross those boundaries, and add_special_tokens must not touch
    merges.
    """
    bpe = trained()
    before = bpe.encode("hello there world")
    bpe.add_special_tokens([EOT])
    assert bpe.encode("hello there world") == before


def test_longest_special_token_wins():
    """With "<a>" and "<a><b>" both special, "<a><b>" is one id, not "<a>" followed by "<b>".

    Hint: A regex alternation takes the first alternative that matches: put the special tokens in the pattern
    longest first (sorted by len, reverse=True) so "<a><b>" beats "<a>".
    """
    bpe = BPETokenizer()
    bpe.add_special_tokens(["<a>", "<a><b>"])
    assert bpe.encode("x<a><b><a>") == [120, bpe.special_tokens["<a><b>"], bpe.special_tokens["<a>"]]


def test_special_tokens_are_matched_literally():
    """Regex characters in a special token are plain characters: "a.b" does not match "axb".

    Hint: "." in a pattern matches any character: escape every special token with re.escape before joining
    them into the split pattern.
    """
    bpe = BPETokenizer()
    bpe.add_special_tokens(["a.b"])
    assert bpe.encode("axb") == [97, 120, 98]
    assert bpe.encode("a.b") == [256]


def test_adding_a_token_twice_keeps_its_id():
    """A token already registered keeps its id; the vocabulary does not grow.

    Hint: In add_special_tokens skip a token that is already in self.special_tokens, so it keeps its id and
    the vocabulary does not grow.
    """
    bpe = trained()
    bpe.add_special_tokens([EOT])
    bpe.add_special_tokens([EOT, "<pad>"])
    assert bpe.special_tokens == {EOT: 270, "<pad>": 271}


def test_empty_special_token_is_refused():
    """An empty string cannot be a special token (it would match everywhere): ValueError.

    Hint: add_special_tokens must raise ValueError for the empty string before registering it: an empty
    pattern would match between every two characters.
    """
    with raises(ValueError):
        BPETokenizer().add_special_tokens([""])


@given(parts=st.lists(st.one_of(st.sampled_from([EOT, "<pad>"]), st.text(alphabet="hel owrd<|>", max_size=8)), max_size=8))
@example(parts=[])
@example(parts=[EOT])
@example(parts=[EOT, EOT, "<pad>"])  # special tokens back to back
@example(parts=["hello", EOT, "world", "<pad>"])
@example(parts=["<|endoftext|", "<pa", "d", "|>"])  # almost special tokens: plain text
def test_decode_inverts_encode_with_special_tokens(parts):
    """Any mix of text and special tokens survives encode then decode.

    Hint: re.split leaves empty strings between adjacent special tokens: skip empty parts, and let near misses
    like "<|endoftext|" go through encode_ordinary as plain text.
    """
    bpe = trained_with_specials()
    text = "".join(parts)
    assert bpe.decode(bpe.encode(text)) == text
