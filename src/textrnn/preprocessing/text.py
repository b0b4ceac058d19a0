"""`keras.preprocessing.text` of Keras 2: `Tokenizer` and `text_to_word_sequence`, the text API most
published Keras text code still uses (Keras 3 dropped it; `import textrnn as keras` keeps it).
The same vocabulary, ids and matrices as Keras 2's (keras-preprocessing 1.1.2, the tests' oracle):
words are what is left between filter characters after lowercasing; the vocabulary is ordered by
count, ties in first-seen order, ids from 1 (the OOV token, if any, first); `num_words` keeps the
ids below it when texts are turned into sequences or matrices."""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from textrnn.errors import ConfigError

FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
MODES = ("binary", "count", "freq", "tfidf")


def text_to_word_sequence(text: str, filters: str = FILTERS, lower: bool = True,
                          split: str = " ") -> list[str]:
    """The words of a text: lowercased, every filter character made a separator, empty pieces dropped."""
    if lower:
        text = text.lower()
    text = text.translate(str.maketrans({c: split for c in filters}))
    return [word for word in text.split(split) if word]


class Tokenizer:
    """keras.preprocessing.text.Tokenizer: fit_on_texts, then texts_to_sequences / texts_to_matrix."""

    def __init__(self, num_words: int | None = None, filters: str = FILTERS, lower: bool = True,
                 split: str = " ", char_level: bool = False, oov_token: str | None = None,
                 document_count: int = 0, **kwargs: Any) -> None:
        if kwargs:
            raise ConfigError(f"Tokenizer: unknown argument(s) {', '.join(sorted(kwargs))}")
        self.num_words, self.filters, self.lower, self.split = num_words, filters, lower, split
        self.char_level, self.oov_token, self.document_count = char_level, oov_token, document_count
        self.word_counts: OrderedDict[str, int] = OrderedDict()
        self.word_docs: Counter[str] = Counter()
        self.word_index: dict[str, int] = {}
        self.index_word: dict[int, str] = {}
        self.index_docs: Counter[int] = Counter()

    def _words(self, text: str | Sequence[str]) -> list[str]:
        if self.char_level or isinstance(text, list):
            return [t.lower() for t in text] if self.lower else list(text)
        return text_to_word_sequence(text, self.filters, self.lower, self.split)

    def fit_on_texts(self, texts: Iterable[str | Sequence[str]]) -> None:
        for text in texts:
            self.document_count += 1
            words = self._words(text)
            for word in words:
                self.word_counts[word] = self.word_counts.get(word, 0) + 1
            self.word_docs.update(set(words))
        # sorted() is stable, reverse=True included: words of one count keep their first-seen order
        by_count = sorted(self.word_counts.items(), key=lambda item: item[1], reverse=True)
        vocabulary = ([self.oov_token] if self.oov_token is not None else []) + [w for w, _ in by_count]
        self.word_index = {word: i for i, word in enumerate(vocabulary, start=1)}
        self.index_word = {i: word for word, i in self.word_index.items()}
        self.index_docs = Counter({self.word_index[w]: n for w, n in self.word_docs.items()})

    def _kept(self, i: int) -> bool:
        return not self.num_words or i < self.num_words

    def texts_to_sequences(self, texts: Iterable[str | Sequence[str]]) -> list[list[int]]:
        oov = self.word_index.get(self.oov_token) if self.oov_token is not None else None
        sequences = []
        for text in texts:
            ids = []
            for word in self._words(text):
                i = self.word_index.get(word)
                if i is not None and self._kept(i):
                    ids.append(i)
                elif oov is not None:
                    ids.append(oov)
            sequences.append(ids)
        return sequences

    def sequences_to_texts(self, sequences: Iterable[Sequence[int]]) -> list[str]:
        oov = self.word_index.get(self.oov_token) if self.oov_token is not None else None
        texts = []
        for seq in sequences:
            words = []
            for i in seq:
                word = self.index_word.get(i)
                if word is not None and self._kept(i):
                    words.append(word)
                elif oov is not None:
                    words.append(self.index_word[oov])
            texts.append(" ".join(words))
        return texts

    def texts_to_matrix(self, texts: Iterable[str], mode: str = "binary") -> np.ndarray:
        return self.sequences_to_matrix(self.texts_to_sequences(texts), mode)

    def sequences_to_matrix(self, sequences: Sequence[Sequence[int]], mode: str = "binary") -> np.ndarray:
        """One row per sequence, one column per id below num_words (or the vocabulary's size + 1):
        binary presence, counts, counts / length, or Keras 2's tf-idf (1 + ln count) * ln(1 + docs /
        (1 + docs with the word))."""
        if mode not in MODES:
            raise ConfigError(f"Tokenizer: mode must be one of {', '.join(MODES)}, got {mode!r}")
        columns = self.num_words or (len(self.word_index) + 1 if self.word_index else 0)
        if not columns:
            raise ConfigError("Tokenizer: fit it on texts (or give num_words) before making matrices")
        if mode == "tfidf" and not self.document_count:
            raise ConfigError("Tokenizer: tf-idf needs the tokenizer fitted on texts")
        matrix = np.zeros((len(sequences), columns))
        for row, seq in enumerate(sequences):
            counts = Counter(i for i in seq if i < columns)
            for i, n in counts.items():
                if mode == "count":
                    matrix[row, i] = n
                elif mode == "freq":
                    matrix[row, i] = n / len(seq)
                elif mode == "binary":
                    matrix[row, i] = 1
                else:
                    idf = np.log(1 + self.document_count / (1 + self.index_docs.get(i, 0)))
                    matrix[row, i] = (1 + np.log(n)) * idf
        return matrix
