"""`textrnn pretrain`: steps 1 and 2 of the lecture in one call, written as an EMB_DIR."""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from textrnn.app.pretrain.sources import corpus_tokens, load_vocabulary
from textrnn.app.pretrain.vectors import PretrainedEmbedding, align_vectors, corpus_counts, read_word_vectors
from textrnn.errors import ConfigError
from textrnn.setting import setting
from textrnn.training import distributed

METHODS = ("word2vec", "lm", "classifier")


@dataclass
class PretrainSettings:
    """`textrnn pretrain`'s options, one flag each: `pretrain`'s arguments but `out` and `verbose`
    (tests/test_cli.py holds the two to the same names and defaults)."""

    method: str = setting(None, "how the embedding learns: word2vec (skip-gram), lm (a next-word LSTM) or "
                          "classifier (a zoo model trained on labelled data)", choices=list(METHODS),
                          required=True)
    corpus: str = setting("imdb-unsup", "imdb-unsup (50,000 unlabelled reviews), sample, or a path (.txt one "
                          "document per line, CSV/JSONL, folder); for classifier: a labelled data source")
    vocab: str = setting("imdb", "imdb, sample, corpus, or a vocab.json / model / run / EMB_DIR path")
    vocab_size: int = setting(10000, "words in the vocabulary")
    dim: int = setting(32, "embedding size")
    epochs: int | None = setting(None, "passes over the corpus",
                                 default_help="word2vec 5, lm 1, classifier 5")
    seed: int = setting(0, "random seed")
    units: int = setting(128, "lm: LSTM state size")
    seq_len: int = setting(64, "lm: words per training window")
    max_minutes: float | None = setting(None, "lm: stop training after this long")
    model: str = setting("lstm", "classifier: the zoo model to train")


def pretrain(method: str, corpus: str, out: str | Path, vocab: str = "imdb", vocab_size: int = 10000,
             dim: int = 32, epochs: int | None = None, seed: int = 0, units: int = 128,
             seq_len: int = 64, max_minutes: float | None = None, model: str = "lstm",
             verbose: int = 1) -> PretrainedEmbedding:
    if method not in METHODS:
        raise ConfigError(f"unknown pretraining method {method!r}; valid: {', '.join(METHODS)}")
    distributed.init_from_env()  # under torchrun (lm only: the other methods run on rank 0's terms)
    start = time.perf_counter()
    card: dict[str, Any] = {"method": method, "corpus": corpus, "dim": dim, "seed": seed}
    counts = None  # the corpus's word counts, kept for frequency weighting (textrnn.app.few_labels)
    if method == "classifier":
        # The corpus is a labelled dataset here; the vocabulary must exist before training.
        vocabulary = load_vocabulary(vocab, vocab_size, quiet=not verbose)
        from textrnn.app.pretrain.classifier import train_classifier_embedding

        matrix, extra = train_classifier_embedding(corpus, vocabulary, dim, model, epochs=epochs or 5,
                                                   seed=seed, verbose=verbose)
    else:
        docs = corpus_tokens(corpus, quiet=not verbose)
        vocabulary = load_vocabulary(vocab, vocab_size, corpus=docs, quiet=not verbose)
        card.update(documents=len(docs), tokens=sum(len(d) for d in docs))
        counts = corpus_counts(docs, vocabulary)
        if method == "word2vec":
            from textrnn.app.pretrain.word2vec import train_word2vec

            matrix, extra = train_word2vec(docs, vocabulary, dim, epochs=epochs or 5, seed=seed)
        else:
            from textrnn.app.pretrain.language_model import train_language_model

            matrix, extra = train_language_model(docs, vocabulary, dim, units=units, seq_len=seq_len,
                                                 epochs=epochs or 1, max_minutes=max_minutes,
                                                 seed=seed, verbose=verbose)
    card.update(extra)
    card.update(vocabulary=vocab, vocab_size=vocabulary.size, time_s=round(time.perf_counter() - start, 1),
                date=f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
                machine=f"{platform.machine()}, {os.cpu_count()} cores")
    embedding = PretrainedEmbedding(matrix, vocabulary, card, counts)
    if distributed.is_main():
        embedding.save(out)
    distributed.barrier()
    return embedding


def import_vectors(path: str, out: str | Path, vocab: str = "imdb", vocab_size: int = 10000,
                   fmt: str = "auto", seed: int = 0) -> PretrainedEmbedding:
    """A standard word-vector file (word2vec text/binary, GloVe) aligned to a vocabulary."""
    vectors = read_word_vectors(path, fmt)
    vocabulary = load_vocabulary(vocab, vocab_size)
    matrix, coverage = align_vectors(vectors, vocabulary, seed)
    card = {"method": "import", "source": str(path), "dim": int(matrix.shape[1]), "coverage": coverage,
            "vocabulary": vocab, "vocab_size": vocabulary.size,
            "unmatched_init": "uniform(-0.05, 0.05), Keras's Embedding default"}
    embedding = PretrainedEmbedding(matrix, vocabulary, card)
    embedding.save(out)
    return embedding
