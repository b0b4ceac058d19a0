"""The NB linear model on token ids (textrnn.app.linear_head): features, fit, saving."""

import numpy as np
import pytest
import torch

from textrnn.app.linear_head import NBLinear, NgramHeadGraph, ngram_features
from textrnn.errors import ConfigError, DataError


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


@pytest.mark.parametrize("bits", [16, 24])
def test_the_head_graph_gives_the_head_s_scores_in_torch(bits):
    rng = np.random.default_rng(1)
    x = rng.integers(1, 30_000, size=(300, 40))
    y = rng.integers(0, 2, size=300)
    x[y == 1, 7] = 3
    x[:, 20:23] = x[:, 10:13]  # a repeated trigram, counted once
    for i in range(len(x)):  # pre- and post-padding of every length, two empty rows
        x[i, :i % 41] = 0 if i % 2 else x[i, :i % 41]
        x[i, 40 - i % 41:] = x[i, 40 - i % 41:] if i % 2 else 0
    x[5], x[6] = 0, 0
    head = NBLinear(ngrams=3, bits=bits).fit(x, y)
    got = NgramHeadGraph(head)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, head.decision_function(x), rtol=1e-5, atol=1e-5)
    assert np.ptp(got) > 1.0  # the rows differ: the check compared real scores
    with pytest.raises(DataError, match="not fitted"):
        NgramHeadGraph(NBLinear(bits=8))
