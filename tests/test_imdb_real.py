"""The loader on the real aclImdb_v1.tar.gz (skips when TEXTRNN_DATA does not point to it)."""

import numpy as np
import pytest

from textrnn.data import pad_sequences
from textrnn.data.datasets import prepare
from textrnn.datasets import imdb


@pytest.fixture(scope="module")
def real(imdb_archive, tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("TEXTRNN_CACHE", str(tmp_path_factory.mktemp("cache")))
    corpus = imdb.IMDBCorpus.load(imdb_archive, quiet=True)  # tokenizes all 100,000 reviews
    yield imdb_archive, corpus
    mp.undo()


def test_real_corpus_counts_and_labels(real):
    _, corpus = real
    assert {k: len(v) for k, v in corpus.splits.items()} == {"train": 25000, "test": 25000,
                                                            "unsup": 50000}
    for split in ("train", "test"):
        s = corpus.splits[split]
        assert s.labels.sum() == 12500
        assert ((s.ratings >= 7) == (s.labels == 1)).all() and (s.ratings[s.labels == 0] <= 4).all()
    assert corpus.words[0] == "the"


def test_load_data_has_keras_semantics(real):
    archive, corpus = real
    (x_train, y_train), (x_test, y_test) = imdb.load_data(archive, num_words=10000)
    assert len(x_train) == len(y_train) == 25000 and len(x_test) == 25000
    assert all(x[0] == 1 for x in x_train[:100])
    assert max(max(x) for x in x_train) == 9999 and min(min(x) for x in x_train) == 1
    assert 0.45 < y_train[:5000].mean() < 0.55  # shuffled, not sorted by label
    padded = pad_sequences(list(x_train), maxlen=500)
    data = prepare(archive, num_words=10000, maxlen=500, quiet=True)
    np.testing.assert_array_equal(data.x_train, padded)
    np.testing.assert_array_equal(data.y_train, y_train)
    # encoding a raw review with the saved encoder gives the same ids as the loader
    texts, labels = imdb.load_texts("test", archive)
    enc = data.encoder.encode(texts[:50])
    np.testing.assert_array_equal(enc, corpus.padded("test", 10000, 500)[0][:50])
    (short, _), _ = imdb.load_data(archive, num_words=10000, maxlen=100)
    assert 0 < len(short) < 25000 and max(len(x) for x in short) < 100
    assert imdb.get_word_index(archive)["the"] == 1
