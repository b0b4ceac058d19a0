"""Skip-gram with negative sampling (gensim's Word2Vec, multi-threaded) for a given vocabulary."""

from __future__ import annotations

import os

import numpy as np

from textrnn.app.pretrain.vectors import align_vectors
from textrnn.data.text import Vocabulary


def train_word2vec(docs: list[list[str]], vocabulary: Vocabulary, dim: int = 32, epochs: int = 5,
                   window: int = 5, negative: int = 5, seed: int = 0) -> tuple[np.ndarray, dict]:
    """Vectors for the vocabulary's words; others are left out of training (gensim drops them from
    the sentences). Returns (matrix aligned to the vocabulary, coverage)."""
    from gensim.models import Word2Vec
    from gensim.utils import RULE_DISCARD, RULE_KEEP

    keep = set(vocabulary.words)
    model = Word2Vec(
        sentences=docs, vector_size=dim, sg=1, negative=negative, window=window, min_count=1,
        trim_rule=lambda word, count, min_count: RULE_KEEP if word in keep else RULE_DISCARD,
        workers=os.cpu_count() or 1, epochs=epochs, seed=seed)
    return align_vectors(model.wv, vocabulary, seed)
