"""Kata 10 — Tokenization: turn text into the integer ids a model can embed, and back.

A language model reads and writes integers. A *tokenizer* is the two-way dictionary between
text and those integers:

* :class:`CharTokenizer` — one id per character seen in a training text, plus an *unknown*
  token for characters it never saw. Tiny vocabulary, long sequences.
* :class:`BPETokenizer` — byte-pair encoding, the scheme of GPT-2: start from the 256 byte
  values (so *every* string can be encoded), then learn merges: repeatedly replace the most
  frequent adjacent pair of ids by a new id. Bigger vocabulary, shorter sequences.
* special tokens (``"<|endoftext|>"``) that are never split and get ids of their own.

Both tokenizers satisfy ``decode(encode(s)) == s`` for every text they cover.

Example
-------
>>> tok = CharTokenizer("hello world")
>>> tok.encode("hold")
[4, 6, 5, 2]
>>> tok.decode([4, 6, 5, 2])
'hold'
>>> bpe = BPETokenizer()
>>> bpe.train("aaabdaaabac", vocab_size=259)
>>> bpe.merges
{(97, 97): 256, (97, 98): 257, (256, 257): 258}
>>> bpe.encode("aaabdaaabac")
[258, 100, 258, 97, 99]
"""

from __future__ import annotations

import re

__all__ = ["CharTokenizer", "BPETokenizer", "pair_counts", "merge_pair"]


# ---------------------------------------------------------------------------------------------
# Step 1: a character-level tokenizer
# ---------------------------------------------------------------------------------------------


class CharTokenizer:
    """One id per character of a training text, plus an optional unknown token.

    Parameters
    ----------
    text : str
        The training text. Its distinct characters, **sorted** (by code point), form the
        vocabulary, so the same text always gives the same ids.
    unk : str or None
        The unknown token (default ``"<unk>"``). When given it takes id ``0`` and the
        characters follow from id ``1``; :meth:`encode` maps every character that is not in the
        vocabulary to it. With ``unk=None`` there is no unknown token: characters start at id
        ``0`` and encoding an unseen character raises a ``KeyError`` that names it.

    Attributes
    ----------
    itos : list of str
        id → token (``itos[0]`` is ``unk`` when there is one).
    stoi : dict
        token → id (the inverse of ``itos``).
    unk_id : int or None
        The id of the unknown token.

    Examples
    --------
    >>> tok = CharTokenizer("abca")
    >>> tok.itos
    ['<unk>', 'a', 'b', 'c']
    >>> tok.encode("cab!")
    [3, 1, 2, 0]
    >>> tok.decode([3, 1, 2, 0])
    'cab<unk>'
    >>> CharTokenizer("abca", unk=None).encode("cab")
    [2, 0, 1]
    """

    def __init__(self, text: str, unk: str | None = "<unk>"):
        raise NotImplementedError("not implemented yet: CharTokenizer.__init__ (kata 10, step 1: char)")

    @property
    def vocab_size(self) -> int:
        """Number of ids (characters, plus the unknown token if there is one)."""
        return len(self.itos)

    def encode(self, text: str) -> list:
        """The id of every character of ``text``, as a list of ints.

        A character outside the vocabulary becomes ``unk_id`` (or raises ``KeyError`` naming the
        character when there is no unknown token). ``encode("")`` is ``[]``.
        """
        raise NotImplementedError("not implemented yet: CharTokenizer.encode (kata 10, step 1: char)")

    def decode(self, ids) -> str:
        """The text of a sequence of ids (a list, or a 1-D array of ints).

        The unknown token decodes to its string (``"<unk>"``). An id outside
        ``[0, vocab_size)`` raises a ``ValueError`` naming it.
        """
        raise NotImplementedError("not implemented yet: CharTokenizer.decode (kata 10, step 1: char)")


# ---------------------------------------------------------------------------------------------
# Step 2: the two operations byte-pair encoding repeats
# ---------------------------------------------------------------------------------------------


def pair_counts(ids) -> dict:
    """How often each adjacent pair of ids occurs in ``ids``.

    Pairs overlap: ``[1, 1, 1]`` holds the pair ``(1, 1)`` twice.

    >>> pair_counts([1, 2, 3, 1, 2])
    {(1, 2): 2, (2, 3): 1, (3, 1): 1}
    >>> pair_counts([7])
    {}
    """
    raise NotImplementedError("not implemented yet: pair_counts (kata 10, step 2: merges)")


def merge_pair(ids, pair, new_id) -> list:
    """Replace every occurrence of ``pair`` in ``ids`` by ``new_id``, scanning left to right.

    Occurrences do not overlap: once two ids are merged they are consumed, so merging
    ``(1, 1)`` in ``[1, 1, 1]`` gives ``[new_id, 1]``. ``ids`` itself is not changed.

    >>> merge_pair([1, 2, 3, 1, 2], (1, 2), 99)
    [99, 3, 99]
    >>> merge_pair([1, 1, 1], (1, 1), 99)
    [99, 1]
    """
    raise NotImplementedError("not implemented yet: merge_pair (kata 10, step 2: merges)")


# ---------------------------------------------------------------------------------------------
# Steps 3 and 4: the byte-pair-encoding tokenizer
# ---------------------------------------------------------------------------------------------


class BPETokenizer:
    """Byte-level byte-pair encoding (the scheme of GPT-2, without its regex pre-split).

    The base vocabulary is the 256 byte values: a text is first turned into its UTF-8 bytes, so
    every string — emoji included — can be encoded and nothing is ever unknown. Training then
    learns *merges*: each one replaces an adjacent pair of ids by a new id (256, 257, ...).

    Attributes
    ----------
    merges : dict
        ``(id_a, id_b) -> new_id`` in the order they were learned (dicts keep insertion order;
        a lower new id means an earlier merge).
    vocab : dict
        ``id -> bytes``: ``vocab[i] = bytes([i])`` for the 256 bytes, and
        ``vocab[new] = vocab[a] + vocab[b]`` for each merge (and, after
        :meth:`add_special_tokens`, the UTF-8 bytes of each special token).
    special_tokens : dict
        ``str -> id`` for the special tokens (step 4).

    Examples
    --------
    >>> bpe = BPETokenizer()
    >>> bpe.train("low lower lowest", vocab_size=258)
    >>> [bpe.vocab[i] for i in bpe.merges.values()]
    [b'lo', b'low']
    >>> bpe.decode(bpe.encode("slow owl"))
    'slow owl'
    """

    def __init__(self):
        self.merges = {}
        self.vocab = {i: bytes([i]) for i in range(256)}
        self.special_tokens = {}

    @property
    def vocab_size(self) -> int:
        """256 bytes + one id per merge + one per special token."""
        return len(self.vocab)

    def train(self, text: str, vocab_size: int) -> None:
        """Learn ``vocab_size - 256`` merges from ``text`` (replacing any earlier training).

        Start from ``list(text.encode("utf-8"))``. Each round: count the adjacent pairs
        (:func:`pair_counts`), pick the most frequent one — **ties go to the smallest pair**
        ``(a, b)`` (compare the tuples), so training is deterministic — give it the next id
        (256, 257, ...), record it in ``merges`` and ``vocab``, and replace it everywhere
        (:func:`merge_pair`). Stop early when no pair is left (the text has become one id, or is
        empty).

        Raises ``ValueError`` when ``vocab_size < 256``.

        >>> bpe = BPETokenizer()
        >>> bpe.train("abab", vocab_size=300)   # asks for 44 merges, only 2 are possible
        >>> bpe.merges
        {(97, 98): 256, (256, 256): 257}
        """
        raise NotImplementedError("not implemented yet: BPETokenizer.train (kata 10, step 3: bpe)")

    def encode_ordinary(self, text: str) -> list:
        """Encode ``text`` with the learned merges, ignoring special tokens.

        Start from the UTF-8 bytes and apply merges in the order they were **learned**: while
        some adjacent pair has a merge, merge the pair whose merge came first (the lowest new
        id) everywhere. This reproduces exactly what training did to the training text.

        >>> bpe = BPETokenizer()
        >>> bpe.encode_ordinary("hi")   # no merges yet: the bytes
        [104, 105]
        """
        raise NotImplementedError("not implemented yet: BPETokenizer.encode_ordinary (kata 10, step 3: bpe)")

    def encode(self, text: str) -> list:
        """Encode ``text``; each special token in it (step 4) becomes its single id."""
        if not self.special_tokens:
            return self.encode_ordinary(text)
        raise NotImplementedError("not implemented yet: BPETokenizer.encode (kata 10, step 4: special_tokens)")

    def decode(self, ids) -> str:
        """The text of ``ids``: join ``vocab[i]`` for every id and decode the bytes as UTF-8.

        An id may end in the middle of a multi-byte character, so decode the *joined* bytes, not
        each token separately; bytes that are not valid UTF-8 become ``"\\ufffd"``
        (``errors="replace"``). An id not in ``vocab`` raises ``ValueError`` naming it.
        """
        raise NotImplementedError("not implemented yet: BPETokenizer.decode (kata 10, step 3: bpe)")

    def add_special_tokens(self, tokens) -> None:
        """Give each new string of ``tokens`` the next free id (after the merges), in order.

        A special token is never split by :meth:`encode` and decodes to itself: its id maps to
        its UTF-8 bytes in ``vocab`` and to itself in ``special_tokens``. A token already
        registered keeps its id. An empty string raises ``ValueError``. Train first: training
        again forgets the special tokens.

        >>> bpe = BPETokenizer()
        >>> bpe.add_special_tokens(["<|endoftext|>"])
        >>> bpe.encode("hi<|endoftext|>")
        [104, 105, 256]
        """
        raise NotImplementedError("not implemented yet: BPETokenizer.add_special_tokens (kata 10, step 4: special_tokens)")
