"""Whole-encoder transfer: the language model's embedding and LSTM really reach the classifier,
the probe keeps them frozen and its folded head equals the logistic regression it fitted, and
fine-tuning moves every layer at its own rate."""

import json

import numpy as np
import pytest

from textrnn.app.runs import load_run_model
from textrnn.app.transfer import (
    FinetuneSettings,
    classifier_from_encoder,
    finetune,
    fit_probe,
    load_encoder,
    pooled_features,
    pretrain_encoder,
)
from textrnn.cli import main
from textrnn.errors import ConfigError


@pytest.fixture(scope="module")
def encoder_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("enc") / "enc"
    card = pretrain_encoder("sample", out, vocab="sample", vocab_size=600, dim=8, units=8, seq_len=16,
                            max_minutes=0.05, verbose=0)
    assert card["perplexity"] > 1 and card["tokens"] > 100_000 and card["steps"] >= 1
    return out


def test_the_encoder_folder_holds_the_language_models_layers(encoder_dir):
    encoder, card = load_encoder(encoder_dir)
    assert [type(layer).__name__ for layer in encoder.layers] == ["Embedding", "LSTM"]
    assert encoder.layers[0].mask_zero and encoder.layers[1].return_sequences
    assert card["vocab_size"] == encoder.text_encoder.vocabulary.size
    with pytest.raises(ConfigError, match="already holds"):
        pretrain_encoder("sample", encoder_dir, vocab="sample", vocab_size=600, verbose=0)


def test_the_probe_keeps_the_encoder_frozen_and_folds_its_regression(encoder_dir, tmp_path):
    from sklearn.linear_model import LogisticRegression

    metrics = finetune(FinetuneSettings(encoder=str(encoder_dir), data="sample", train_size=300,
                                        maxlen=60), tmp_path / "run", verbose=0)
    encoder, _ = load_encoder(encoder_dir)
    model = load_run_model(tmp_path / "run")
    for ours, theirs in zip(model.layers[:2], encoder.layers):
        for a, b in zip(ours.get_weights(), theirs.get_weights()):
            np.testing.assert_array_equal(a, b)  # carried over, and not moved by the probe
    rng = np.random.default_rng(0)
    features = rng.normal(size=(80, 6)) * rng.uniform(0.1, 10, size=6) + rng.normal(size=6)
    y = (features[:, 0] / features[:, 0].std() + rng.normal(size=80) > 0).astype(np.int64)
    kernel, bias, c = fit_probe(features.astype(np.float32), y, seed=0)
    z = (features - features.mean(0)) / (features.std(0) + 1e-6)
    expected = LogisticRegression(C=c, max_iter=2000).fit(z, y).predict_proba(z)[:, 1]
    folded = 1 / (1 + np.exp(-(features @ kernel[:, 0] + bias[0])))
    np.testing.assert_allclose(folded, expected, atol=1e-4)
    assert metrics["train_size"] == 300 and 0 <= metrics["test"]["accuracy"] <= 1
    assert json.loads((tmp_path / "run" / "run.json").read_text())["command"] == "finetune"


def test_fine_tuning_moves_each_layer_at_its_own_rate(encoder_dir, tmp_path, capsys):
    code = main(["finetune", str(encoder_dir), "--data", "sample", "--train-size", "200", "--maxlen", "40",
                 "--epochs", "1", "--out", str(tmp_path / "run"), "-q"])
    assert code == 0, capsys.readouterr().err
    encoder, _ = load_encoder(encoder_dir)
    model = load_run_model(tmp_path / "run")
    moved = [not np.array_equal(a, b) for ours, theirs in zip(model.layers[:2], encoder.layers)
             for a, b in zip(ours.get_weights(), theirs.get_weights())]
    assert any(moved)
    assert (tmp_path / "run" / "history.json").is_file()
    code = main(["predict", str(tmp_path / "run"), "a wonderful film", "--json"])
    assert code == 0 and json.loads(capsys.readouterr().out)[0]["label"] in ("neg", "pos")


def test_features_are_the_heads_inputs(encoder_dir):
    encoder, _ = load_encoder(encoder_dir)
    model = classifier_from_encoder(encoder, 2, 20)
    x = np.random.default_rng(0).integers(1, 500, size=(4, 20))
    x[0, :12] = 0  # padding: the features must not depend on it (nor on the row's batch-mates)
    features = pooled_features(model, x)
    kernel, bias = model.layers[3].get_weights()
    np.testing.assert_allclose(model.predict(x)[:, 0], 1 / (1 + np.exp(-(features @ kernel[:, 0] + bias[0]))),
                               atol=1e-5)


def test_balanced_draws_and_the_study_report(tmp_path):
    from textrnn.app.experiments.small_data import SmallDataSetup, balanced_draw, plot, render

    labels = np.array([0] * 60 + [1] * 40)
    rows = balanced_draw(labels, 20, seed=1)
    assert len(set(rows)) == 20 and np.bincount(labels[rows]).tolist() == [10, 10]
    assert not np.array_equal(rows, balanced_draw(labels, 20, seed=2))
    assert len(balanced_draw(labels, 100, seed=0)) == 100
    enc = tmp_path / "enc"
    enc.mkdir()
    (enc / "card.json").write_text(json.dumps({
        "units": 8, "corpus": "sample", "documents": 10, "tokens": 100, "dim": 4, "steps": 3, "seq_len": 16,
        "time_s": 60, "perplexity": 300.0, "date": "2026-12-06 17:00 UTC", "machine": "x86_64"}))
    setup = SmallDataSetup(encoder=str(enc), sizes=[100, 25000], seeds=2)
    results = {f"{n}/{s}": {"tfidf": 0.7 + s / 100, "probe": 0.75, "probe+tfidf": 0.8, "self": 0.76,
                            "self+tfidf": 0.81, "lecture": 0.6 + s / 100, "lecture-step3": 0.55 + s / 100,
                            "few-labels": 0.78 + s / 100, "seconds": {"tfidf": 9.0, "probe": 0.5}}
               for n, s in ((100, 0), (100, 1), (25000, 0))}
    text = render(setup, results)
    assert ("| 100 | 70.50 ± 0.71 | 60.50 ± 0.71 | 55.50 ± 0.71 | 75.00 ± 0.00 | 78.50 ± 0.71 "
            "| >= 80.0 |") in text
    assert "| 25,000 | 70.00 | 60.00 | 55.00 | 75.00 | 78.00 | |" in text
    assert "| 100 | 80.00 ± 0.00 | 76.00 ± 0.00 | 81.00 ± 0.00 |" in text  # the second table
    # claim 4 by n: step 3 loses 5 points to random (t = -7.1), the recipe's form wins 8 (t = 11.3)
    assert ("| 100 | does not hold (no pretraining is better by 5.00 points, t = -7.1) "
            "| holds (recipe +8.00 points, t = 11.3) |") in text
    plot(setup, results, tmp_path / "accuracy.png")
    assert (tmp_path / "accuracy.png").stat().st_size > 5000
