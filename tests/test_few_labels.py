"""Few labelled rows: epochs of a minimum number of steps, the few-labels model, the recipe's
few-labels path with the user's unlabelled text, and unlabelled corpora read from files and folders."""

import json

import numpy as np
import pytest

from textrnn.app import few_labels
from textrnn.app.few_labels import SIF_A, fit_few_labels, frequency_weighted
from textrnn.app.pretrain.sources import corpus_tokens
from textrnn.app.pretrain.vectors import PretrainedEmbedding, corpus_counts
from textrnn.app.runs import TrainSettings, repeated_rows
from textrnn.app.transfer import pooled_features
from textrnn.cli import main
from textrnn.data.datasets import prepare
from textrnn.errors import DataError
from textrnn.models import load_model


def test_an_epoch_of_few_rows_repeats_them_to_the_minimum_of_steps():
    x, y = np.arange(200 * 3).reshape(200, 3), np.arange(200) % 2
    s = TrainSettings(model="lstm", batch_size=32, min_epoch_steps=50)
    rx, ry = repeated_rows(x, y, s, verbose=0)
    assert len(rx) == 200 * 8 and np.ceil(len(rx) / 32) >= 50  # 8 copies: 50 steps of 32
    np.testing.assert_array_equal(rx[200:400], x)
    np.testing.assert_array_equal(ry[-200:], y)
    many = np.zeros((1600, 3))
    assert repeated_rows(many, np.zeros(1600), s, 0)[0] is many  # 50 steps already: untouched
    keras = TrainSettings(model="lstm", min_epoch_steps=0)
    assert repeated_rows(x, y, keras, 0)[0] is x


def test_a_run_saved_before_the_option_keeps_kerass_epochs():
    assert TrainSettings.from_json({"model": "lstm"}).min_epoch_steps == 0
    assert TrainSettings(model="lstm").min_epoch_steps == 50
    with pytest.raises(Exception, match="min-epoch-steps"):
        TrainSettings(model="lstm", min_epoch_steps=-1).validate()


def test_a_small_run_trains_the_minimum_of_steps(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "lstm", "--data", "sample", "--train-size", "100", "--maxlen", "20",
                 "--epochs", "1", "--patience", "0", "--vocab-size", "500", "--out", str(out)]) == 0
    # 80 training rows repeated 20 times: 50 steps of 32 in the one epoch
    assert "each epoch repeats them 20 times" in capsys.readouterr().out
    assert (out / "metrics.json").is_file()


@pytest.fixture(scope="module")
def sample_vectors():
    """Word vectors for the sample's vocabulary from its own texts (seconds), and its arrays."""
    from textrnn.app.pretrain.word2vec import train_word2vec

    data = prepare("sample", num_words=3000, maxlen=150, quiet=True)
    vocab = data.encoder.vocabulary
    first = vocab.index_from + 1
    docs = [[vocab.words[i - first] for i in row if i >= first] for row in data.x_train]
    matrix, _ = train_word2vec(docs, vocab, 32, epochs=3, seed=0)
    return data, matrix


def test_the_few_labels_model_learns_from_200_rows_and_is_one_saved_model(sample_vectors, tmp_path):
    data, matrix = sample_vectors
    rows = np.concatenate([np.flatnonzero(data.y_train == c)[:100] for c in (0, 1)])
    model, chosen = fit_few_labels(data.x_train[rows], data.y_train[rows], matrix, 150, seed=0)
    assert chosen["folds"] == 5 and 0 <= chosen["blend"] <= 1
    assert model.layers[0].trainable is False
    np.testing.assert_array_equal(model.layers[0].get_weights()[0], matrix)  # the vectors as trained
    probs = model.predict(data.x_test).ravel()
    accuracy = float(np.mean((probs > 0.5) == data.y_test))
    assert accuracy > 0.6, accuracy  # 1,000 test reviews: chance is 0.5
    # The saved model is the blend of its two parts: the vectors' regression and the NB head.
    vectors = pooled_features(model, data.x_test)
    kernel, bias = model.layers[-1].get_weights()
    linear = 1 / (1 + np.exp(-(vectors @ kernel[:, 0] + bias[0])))
    expected = (1 - chosen["blend"]) * linear + chosen["blend"] * model.linear_head.predict_proba(data.x_test)
    np.testing.assert_allclose(probs, expected, atol=1e-5)
    model.save(tmp_path / "model")
    np.testing.assert_allclose(load_model(tmp_path / "model").predict(data.x_test).ravel(), probs, atol=1e-6)


def test_frequency_weighting_is_tried_and_chosen_by_cross_validation(sample_vectors):
    data, matrix = sample_vectors
    vocab = data.encoder.vocabulary
    first = vocab.index_from + 1
    docs = [[vocab.words[i - first] for i in row if i >= first] for row in data.x_train]
    counts = corpus_counts(docs, vocab)
    assert counts[vocab.encode_tokens(["the"])[-1]] == sum(d.count("the") for d in docs)
    weighted = frequency_weighted(matrix, counts)
    the = vocab.encode_tokens(["the"])[-1]
    p = counts[the] / counts.sum()
    np.testing.assert_allclose(weighted[the], matrix[the] * SIF_A / (SIF_A + p), rtol=1e-6)
    rare = first + int(np.argmin(counts[first:]))
    assert np.abs(weighted[rare]).sum() > 0.95 * np.abs(matrix[rare]).sum()  # rare words keep their vector
    rows = np.concatenate([np.flatnonzero(data.y_train == c)[:60] for c in (0, 1)])
    model, chosen = fit_few_labels(data.x_train[rows], data.y_train[rows], matrix, 150, seed=0, counts=counts)
    assert chosen["weighting"] in ("plain", "frequency-weighted")
    expected = weighted if chosen["weighting"] == "frequency-weighted" else matrix
    np.testing.assert_allclose(model.layers[0].get_weights()[0], expected, rtol=1e-6)


def test_self_training_labels_the_surest_texts_of_each_class_and_is_kept_only_where_cv_gains(
        sample_vectors, monkeypatch):
    data, matrix = sample_vectors
    rows = np.concatenate([np.flatnonzero(data.y_train == c)[:50] for c in (0, 1)])
    pool = np.delete(data.x_train, rows, axis=0)[:400]
    fits = []
    real_fit = few_labels.fit_parts
    monkeypatch.setattr(few_labels, "fit_parts",
                        lambda texts, y, *a: fits.append(y) or real_fit(texts, y, *a))
    monkeypatch.setattr(few_labels, "PSEUDO_PER_CLASS", 30)
    x, y = data.x_train[rows], data.y_train[rows]
    _, chosen = fit_few_labels(x, y, matrix, 150, seed=0, unlabelled=pool)
    st = chosen["self_training"]
    assert st["unlabelled"] == 400
    assert st["kept"] == (st["cv_accuracy"]["with"] > st["cv_accuracy"]["without"])
    students = [y for y in fits if len(y) in (80 + 60, 100 + 60)]  # a fold's 80 rows or all 100, + 60
    assert students and all(np.bincount(y[-60:]).tolist() == [30, 30] for y in students)  # 30 of each class
    final = fits[-1]
    assert len(final) == (len(rows) + 60 if st["kept"] else len(rows))
    # Fewer than 5 unlabelled texts: nothing to learn from, so no self-training.
    _, small = fit_few_labels(x, y, matrix, 150, seed=0, unlabelled=pool[:4])
    assert "self_training" not in small


def test_self_training_on_texts_the_teacher_is_sure_of_changes_the_model(sample_vectors):
    data, matrix = sample_vectors
    rows = np.concatenate([np.flatnonzero(data.y_train == c)[:50] for c in (0, 1)])
    model = few_labels.mean_vector_model(matrix, 150)
    texts = few_labels.Texts(pooled_features(model, data.x_train[rows]),
                             few_labels.NBLinear().features(data.x_train[rows]))
    pool_ids = np.delete(data.x_train, rows, axis=0)[:500]
    pool = few_labels.Texts(pooled_features(model, pool_ids), few_labels.NBLinear().features(pool_ids))
    choice = few_labels.Choice(vector_c=1.0, head_c=1.0, blend=0.5, ngrams=3, bits=24)
    teacher = few_labels.fit_parts(texts, data.y_train[rows], choice, seed=0)
    student = few_labels.self_trained(texts, data.y_train[rows], pool, choice, seed=0)
    assert not np.allclose(teacher.kernel, student.kernel)
    # The student agrees with its teacher on the texts it was taught with.
    surest = np.argsort(teacher.predict(pool))[[0, -1]]
    assert (student.predict(pool.take(surest)) > 0.5).tolist() == [False, True]


def test_an_embedding_folder_keeps_its_counts(tmp_path, sample_vectors):
    data, matrix = sample_vectors
    counts = np.arange(len(matrix), dtype=np.int64)
    PretrainedEmbedding(matrix, data.encoder.vocabulary, {"method": "test"}, counts).save(tmp_path / "emb")
    loaded = PretrainedEmbedding.load(tmp_path / "emb")
    np.testing.assert_array_equal(loaded.counts, counts)
    PretrainedEmbedding(matrix, data.encoder.vocabulary, {}).save(tmp_path / "plain")
    assert PretrainedEmbedding.load(tmp_path / "plain").counts is None


def test_the_mean_leaves_padding_out(sample_vectors):
    data, matrix = sample_vectors
    model, _ = fit_few_labels(data.x_train[:40], data.y_train[:40], matrix, 150, seed=0)
    row = data.x_train[:1]
    words = row[row != 0]
    np.testing.assert_allclose(pooled_features(model, row)[0], matrix[words].mean(axis=0), atol=1e-5)


def test_the_recipe_takes_the_few_labels_path_with_the_users_unlabelled_text(tmp_path, capsys):
    unlabelled = tmp_path / "more.txt"
    unlabelled.write_text("a quiet and lovely film\nthe plot was dull and far too long\n" * 50)
    out = tmp_path / "run"
    assert main(["recipe", "--data", "sample", "--train-size", "300", "--vocab-size", "3000",
                 "--maxlen", "150", "--dim", "16", "--w2v-epochs", "1", "--unlabelled", str(unlabelled),
                 "--out", str(out), "-q"]) == 0
    record = json.loads((out / "recipe.json").read_text())
    assert record["path"] == "few-labels" and record["test_accuracy"] > 0.55
    assert record["few_labels"]["self_training"]["unlabelled"] == 100  # the .txt's lines
    assert json.loads((out / "model" / "vocab.json").read_text())["maxlen"] == 1200  # --few-labels-maxlen
    card = json.loads((out / "embedding" / "card.json").read_text())
    assert str(unlabelled) in card["corpus"] and card["documents"] == 300 + 100
    capsys.readouterr()
    assert main(["predict", str(out), "A wonderful, moving film.", "--json"]) == 0
    assert "probability" in capsys.readouterr().out
    assert main(["evaluate", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == pytest.approx(record["test_accuracy"])
    # Rerunning the finished folder changes nothing.
    assert main(["recipe", "--data", "sample", "--train-size", "300", "--vocab-size", "3000", "--maxlen",
                 "150", "--dim", "16", "--w2v-epochs", "1", "--unlabelled", str(unlabelled), "--out",
                 str(out), "-q"]) == 0


def test_unlabelled_corpora_from_a_folder_and_a_table(tmp_path):
    folder = tmp_path / "texts"
    (folder / "deeper").mkdir(parents=True)
    (folder / "a.txt").write_text("Good fun.\nSecond line, same document.")
    (folder / "deeper" / "b.txt").write_text("Bad.")
    (folder / "notes.md").write_text("not a text file")
    assert corpus_tokens(str(folder)) == [["good", "fun", "second", "line", "same", "document"], ["bad"]]
    table = tmp_path / "texts.csv"
    table.write_text('text\n"one, two"\n"three\nfour"\n')
    assert corpus_tokens(str(table)) == [["one", "two"], ["three", "four"]]
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no .txt file"):
        corpus_tokens(str(tmp_path / "empty"))


def test_a_users_csv_of_400_labels_and_a_file_of_unlabelled_texts_take_the_few_labels_path(tmp_path, capsys):
    import csv

    from textrnn.data.sample import load_sample

    train, _ = load_sample()
    labels = np.asarray(train.labels)
    labelled = np.concatenate([np.flatnonzero(labels == c)[:250] for c in (0, 1)])  # 500: 400 train, 100 test
    with (tmp_path / "labels.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["review", "sentiment"])
        for row in labelled:
            writer.writerow([train.texts[row], ["negative", "positive"][labels[row]]])
    unlabelled = np.setdiff1d(np.arange(len(labels)), labelled)[:1000]
    (tmp_path / "more.txt").write_text("\n".join(train.texts[i].replace("\n", " ") for i in unlabelled))
    out = tmp_path / "run"
    assert main(["recipe", "--data", str(tmp_path / "labels.csv"), "--unlabelled", str(tmp_path / "more.txt"),
                 "--vocab-size", "5000", "--dim", "16", "--w2v-epochs", "2", "--out", str(out), "-q"]) == 0
    record = json.loads((out / "recipe.json").read_text())
    assert record["path"] == "few-labels" and record["test_accuracy"] > 0.6
    assert record["few_labels"]["self_training"]["unlabelled"] == 1000  # the text file's lines
    capsys.readouterr()
    assert main(["predict", str(out), "A wonderful, moving film.", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["label"] in ("negative", "positive")
