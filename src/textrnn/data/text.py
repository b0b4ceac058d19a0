"""Text to ids and back: the tokenizer, the Vocabulary, pad_sequences, and the TextEncoder that
bundles them (it travels inside every saved model as vocab.json).

Tokenizer (`tokenize`): lower-case; HTML line breaks (`<br />`) become spaces; words are runs of
letters and digits that may contain apostrophes ("don't", "director's" stay one token; curly
apostrophes count as straight ones); "!" and "?" are kept as tokens of their own (they carry
sentiment); all other punctuation separates words and is dropped.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from textrnn.errors import DataError

_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*|[!?]")


def tokenize(text: str) -> list[str]:
    text = _BREAK.sub(" ", text.lower()).replace("\u2019", "'")
    return _TOKEN.findall(text)


class Vocabulary:
    """Words ranked by frequency, with Keras IMDB's id conventions.

    id 0 = padding, `start_char` (1) opens each text, `oov_char` (2) stands for words outside the
    vocabulary, id 3 is unused; the word of frequency rank r (1-based) gets id r + index_from (3).
    Only ids < num_words are used, so num_words=10000 keeps ranks 1..9,996, as in
    keras.datasets.imdb.load_data.
    """

    def __init__(self, words: Sequence[str], num_words: int | None = None, start_char: int | None = 1,
                 oov_char: int = 2, index_from: int = 3) -> None:
        self.num_words = num_words
        self.start_char = start_char
        self.oov_char = oov_char
        self.index_from = index_from
        keep = len(words) if num_words is None else max(0, num_words - index_from - 1)
        self.words = list(words[:keep])
        self._ids = {w: i + 1 + index_from for i, w in enumerate(self.words)}

    @classmethod
    def fit(cls, token_lists: Iterable[list[str]], num_words: int | None = 10000,
            **kwargs: Any) -> Vocabulary:
        counts: Counter[str] = Counter()
        for tokens in token_lists:
            counts.update(tokens)
        # Ties are broken alphabetically so the ranking does not depend on reading order.
        ranked = sorted(counts, key=lambda w: (-counts[w], w))
        return cls(ranked, num_words=num_words, **kwargs)

    @property
    def size(self) -> int:
        """Ids in use are < size: the input_dim an Embedding needs."""
        return self.num_words if self.num_words is not None else len(self.words) + self.index_from + 1

    def word_index(self) -> dict[str, int]:
        """Word -> frequency rank (1-based), like keras.datasets.imdb.get_word_index()."""
        return {w: i + 1 for i, w in enumerate(self.words)}

    def encode_tokens(self, tokens: Sequence[str]) -> list[int]:
        ids = [self._ids.get(t, self.oov_char) for t in tokens]
        return ids if self.start_char is None else [self.start_char, *ids]

    def encode(self, text: str) -> list[int]:
        return self.encode_tokens(tokenize(text))

    def decode(self, ids: Iterable[int]) -> str:
        specials = {0: "", self.oov_char: "[?]"}
        if self.start_char is not None:
            specials[self.start_char] = ""
        out = []
        for i in ids:
            i = int(i)
            if i in specials:
                word = specials[i]
            elif self.index_from < i <= self.index_from + len(self.words):
                word = self.words[i - self.index_from - 1]
            else:
                word = "[?]"
            if word:
                out.append(word)
        return " ".join(out)

    def to_json(self) -> dict[str, Any]:
        return {"num_words": self.num_words, "start_char": self.start_char,
                "oov_char": self.oov_char, "index_from": self.index_from, "words": self.words}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Vocabulary:
        try:
            return cls(data["words"], num_words=data["num_words"], start_char=data["start_char"],
                       oov_char=data["oov_char"], index_from=data["index_from"])
        except KeyError as exc:
            raise DataError(f"vocabulary JSON lacks the field {exc}") from None


def pad_sequences(sequences: Sequence[Sequence[int]], maxlen: int | None = None, dtype: str = "int32",
                  padding: str = "pre", truncating: str = "pre", value: float = 0.0) -> np.ndarray:
    """keras.utils.pad_sequences: pad (or cut) every sequence to `maxlen` (default: the longest).
    'pre' pads at the start and, when cutting, keeps the LAST maxlen items."""
    for name, choice in (("padding", padding), ("truncating", truncating)):
        if choice not in ("pre", "post"):
            raise ValueError(f"{name} must be 'pre' or 'post', got {choice!r}")
    lengths = [len(s) for s in sequences]
    if maxlen is None:
        maxlen = max(lengths, default=0)
    out = np.full((len(sequences), maxlen), value, dtype=dtype)
    for row, seq in enumerate(sequences):
        if not len(seq) or maxlen == 0:
            continue
        cut = seq[-maxlen:] if truncating == "pre" else seq[:maxlen]
        cut = np.asarray(cut, dtype=dtype)
        if padding == "pre":
            out[row, maxlen - len(cut):] = cut
        else:
            out[row, :len(cut)] = cut
    return out


class TextEncoder:
    """Raw text -> (N, maxlen) id arrays, identical at training and serving time.
    Holds the Vocabulary, the sequence length and the class names."""

    def __init__(self, vocabulary: Vocabulary, maxlen: int, labels: Sequence[str] | None = None) -> None:
        self.vocabulary = vocabulary
        self.maxlen = int(maxlen)
        self.labels = list(labels) if labels is not None else ["neg", "pos"]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return pad_sequences([self.vocabulary.encode(t) for t in texts], maxlen=self.maxlen)

    def to_json(self) -> dict[str, Any]:
        return {"tokenizer": "textrnn-v1", "maxlen": self.maxlen, "labels": self.labels,
                "vocabulary": self.vocabulary.to_json()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TextEncoder:
        if data.get("tokenizer") != "textrnn-v1":
            raise DataError(f"vocab.json: unknown tokenizer {data.get('tokenizer')!r}")
        return cls(Vocabulary.from_json(data["vocabulary"]), data["maxlen"], data.get("labels"))
