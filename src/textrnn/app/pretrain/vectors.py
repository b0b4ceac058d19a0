"""Embedding matrices aligned to a Vocabulary: the EMB_DIR format, word-vector files, neighbours.

EMB_DIR layout (written atomically):
    embedding.safetensors  "embedding": float32 (vocabulary.size, dim); row i is the vector of id i;
                           optionally "counts": int64 (vocabulary.size,), each id's occurrences in
                           the corpus the vectors were trained on (for frequency weighting)
    vocab.json             the Vocabulary (the ids the rows belong to)
    card.json              how it was made: method, corpus, sizes, time, coverage
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from textrnn.data.text import Vocabulary
from textrnn.errors import DataError
from textrnn.io_utils import atomic_write_dir, atomic_write_json
from textrnn.serialization import read_json

MATRIX_FILE = "embedding.safetensors"
VOCAB_FILE = "vocab.json"
CARD_FILE = "card.json"


def keras_uniform_rows(rows: int, dim: int, seed: int) -> np.ndarray:
    """Keras's Embedding initialisation, uniform(-0.05, 0.05): the documented start for words that
    have no pretrained vector (and for the reserved ids 0-3)."""
    return np.random.default_rng(seed).uniform(-0.05, 0.05, size=(rows, dim)).astype(np.float32)


def corpus_counts(docs: list[list[str]], vocabulary: Vocabulary) -> np.ndarray:
    """How often each id of the vocabulary occurs in the token lists (unknown words count as its
    out-of-vocabulary id, a document's start mark once per document)."""
    counts = np.zeros(vocabulary.size, dtype=np.int64)
    for first in range(0, len(docs), 5000):  # one bincount per block of documents
        ids = [i for doc in docs[first:first + 5000] for i in vocabulary.encode_tokens(doc)]
        counts += np.bincount(np.asarray(ids, dtype=np.int64), minlength=vocabulary.size)
    return counts


class PretrainedEmbedding:
    def __init__(self, matrix: np.ndarray, vocabulary: Vocabulary, card: dict[str, Any],
                 counts: np.ndarray | None = None) -> None:
        if matrix.shape[0] != vocabulary.size:
            raise DataError(f"embedding has {matrix.shape[0]} rows but the vocabulary has "
                            f"{vocabulary.size} ids")
        if counts is not None and counts.shape != (vocabulary.size,):
            raise DataError(f"embedding counts have shape {counts.shape}, expected ({vocabulary.size},)")
        self.matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        self.vocabulary = vocabulary
        self.card = card
        self.counts = counts  # each id's occurrences in the pretraining corpus, where known

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1])

    def save(self, path: str | Path) -> None:
        def fill(folder: Path) -> None:
            tensors = {"embedding": torch.from_numpy(self.matrix)}
            if self.counts is not None:
                tensors["counts"] = torch.from_numpy(np.asarray(self.counts, dtype=np.int64))
            save_file(tensors, str(folder / MATRIX_FILE))
            atomic_write_json(folder / VOCAB_FILE, self.vocabulary.to_json())
            atomic_write_json(folder / CARD_FILE, self.card)

        atomic_write_dir(path, fill)

    @classmethod
    def load(cls, path: str | Path) -> PretrainedEmbedding:
        folder = Path(path)
        if not (folder / MATRIX_FILE).is_file():
            raise DataError(f"{folder}: not an embedding folder (no {MATRIX_FILE}); make one with "
                            "`textrnn pretrain`")
        tensors = load_file(str(folder / MATRIX_FILE))
        vocab = Vocabulary.from_json(read_json(folder / VOCAB_FILE))
        card_path = folder / CARD_FILE
        card = read_json(card_path) if card_path.is_file() else {}
        counts = tensors["counts"].numpy() if "counts" in tensors else None
        return cls(tensors["embedding"].numpy(), vocab, card, counts)

    def vector_of(self, word: str) -> np.ndarray:
        ids = self.vocabulary.encode_tokens([word.lower()])
        word_id = ids[-1]
        if word_id == self.vocabulary.oov_char:
            raise DataError(f"{word!r} is not in this embedding's vocabulary")
        return self.matrix[word_id]

    def neighbors(self, word: str, k: int = 10) -> list[tuple[str, float]]:
        """The k words with the highest cosine similarity to `word`."""
        target = self.vector_of(word)
        first = self.vocabulary.index_from + 1
        words = self.vocabulary.words
        rows = self.matrix[first:first + len(words)]
        norms = np.linalg.norm(rows, axis=1) * np.linalg.norm(target) + 1e-12
        sims = rows @ target / norms
        order = np.argsort(-sims)
        return [(words[i], float(sims[i])) for i in order if words[i] != word.lower()][:k]


def read_word_vectors(path: str | Path, fmt: str = "auto"):
    """A word-vector file as gensim KeyedVectors: word2vec text (header line "count dim"),
    word2vec binary, or GloVe text (no header). fmt: auto, word2vec, word2vec-binary, glove."""
    from gensim.models import KeyedVectors

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: word-vector file not found")
    if fmt == "auto":
        if path.suffix == ".bin":
            fmt = "word2vec-binary"
        else:
            with open(path, "rb") as f:
                first = f.readline().split()
            fmt = "word2vec" if len(first) == 2 and all(t.isdigit() for t in first) else "glove"
    if fmt not in ("word2vec", "word2vec-binary", "glove"):
        raise DataError(f"unknown vector format {fmt!r}; valid: word2vec, word2vec-binary, glove")
    try:
        return KeyedVectors.load_word2vec_format(str(path), binary=fmt == "word2vec-binary",
                                                 no_header=fmt == "glove", unicode_errors="replace")
    except (ValueError, EOFError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a valid {fmt} vector file ({exc})") from None


def align_vectors(vectors, vocabulary: Vocabulary, seed: int = 0) -> tuple[np.ndarray, dict[str, Any]]:
    """Matrix rows in the vocabulary's id order, taken from `vectors` (KeyedVectors or a
    word -> vector mapping); a word is looked up as is, then case-insensitively. Words without a vector
    (and the reserved ids) keep Keras's uniform(-0.05, 0.05) init. Returns (matrix, coverage)."""
    dim = vectors.vector_size if hasattr(vectors, "vector_size") else len(next(iter(vectors.values())))
    keys = vectors.index_to_key if hasattr(vectors, "index_to_key") else list(vectors)
    lowered: dict[str, str] = {}
    for key in keys:  # files list frequent words first: the first spelling wins
        lowered.setdefault(key.lower(), key)
    matrix = keras_uniform_rows(vocabulary.size, dim, seed)
    found, missing = 0, []
    for i, word in enumerate(vocabulary.words):
        key = word if word in vectors else lowered.get(word.lower())
        if key is None:
            missing.append(word)
            continue
        matrix[vocabulary.index_from + 1 + i] = np.asarray(vectors[key], dtype=np.float32)
        found += 1
    total = len(vocabulary.words)
    coverage = {"found": found, "total": total, "fraction": found / total if total else 0.0,
                "missing_examples": missing[:20]}
    return matrix, coverage
