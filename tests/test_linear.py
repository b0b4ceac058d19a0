"""The NB linear model on token ids (textrnn.linear): features, fit, saving."""

import numpy as np
import pytest

from textrnn.errors import ConfigError, DataError
from textrnn.linear import NBLinear, ngram_features


def test_ngram_features_count_distinct_ngrams_within_each_row_only():
    x = np.array([[0, 0, 5, 6, 5, 6],    # 5 6 5 6: unigrams {5,6}, bigrams {56, 65}, trigrams {565, 656}
                  [0, 0, 0, 0, 0, 7],    # 7 alone: one unigram; no n-gram reaches into the padding
                  [0, 0, 0, 0, 0, 0]])   # empty
    f = ngram_features(x, ngrams=3, bits=16, block=2)  # a block boundary between rows 1 and 2
    assert f.shape == (3, 2 ** 16)
    assert f.getnnz(axis=1).tolist() == [6, 1, 0]
    assert set(f.data.tolist()) == {1.0}
    assert f[1].indices.tolist() == ngram_features(np.array([[7]]), 3, 16).indices.tolist()


def test_nb_linear_learns_and_saves(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(3, 50, size=(400, 20))
    y = rng.integers(0, 2, size=400)
    x[y == 1, 5] = 1  # token 1 marks the positives, 2 the negatives
    x[y == 0, 5] = 2
    x[:50, :8] = 0
    model = NBLinear(ngrams=2, bits=16).fit(x[:300], y[:300])
    assert ((model.decision_function(x[300:]) > 0) == y[300:]).mean() > 0.95
    model.save_into(tmp_path, {"blend": 0.5})
    loaded, config = NBLinear.load_from(tmp_path)
    assert config["blend"] == 0.5
    np.testing.assert_allclose(loaded.predict_proba(x), model.predict_proba(x), rtol=1e-6)
    assert NBLinear.load_from(tmp_path / "nothing") is None


def test_nb_linear_rejects_labels_other_than_0_and_1():
    with pytest.raises(DataError, match="labels 0 and 1"):
        NBLinear(bits=8).fit(np.ones((3, 4), dtype=np.int64), np.array([0, 1, 2]))


def test_nb_linear_rejects_a_hash_size_it_cannot_hold():
    with pytest.raises(ConfigError, match="bits must be 1-28, got 40"):
        NBLinear(bits=40)


def test_more_hash_bits_merge_fewer_ngrams():
    x = np.random.default_rng(0).integers(1, 5000, size=(200, 60))
    few, many = ngram_features(x, 3, bits=10), ngram_features(x, 3, bits=20)
    assert few.nnz < many.nnz  # 1,024 columns must merge some of each row's ~177 n-grams
    assert many.nnz > 0.99 * 200 * (60 + 59 + 58)  # 2**20 columns keep nearly all of them apart
