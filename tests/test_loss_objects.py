"""Keras's loss and metric objects against real Keras: `keras.losses.BinaryCrossentropy(
from_logits=True)` and the other cross-entropies with logits and label smoothing, the accuracy
metrics as classes (a threshold on logits) and by name, several metrics on one output; a model
trained with them as Keras's, saved and crossing `.keras` files compiled."""

import keras
import numpy as np
import pytest
import torch

import textrnn
from textrnn.errors import ConfigError
from textrnn.training import losses

RNG = np.random.default_rng(0)
LOGITS = RNG.normal(size=(8, 4)).astype("float32") * 3
ONE_HOT = np.eye(4, dtype="float32")[RNG.integers(0, 4, 8)]
BINARY_LOGITS = RNG.normal(size=(8, 1)).astype("float32") * 3
BINARY = RNG.integers(0, 2, (8, 1)).astype("float32")


@pytest.mark.parametrize("cls, kwargs, y_true, y_pred", [
    ("BinaryCrossentropy", {"from_logits": True}, BINARY, BINARY_LOGITS),
    ("BinaryCrossentropy", {"label_smoothing": 0.1}, BINARY, 1 / (1 + np.exp(-BINARY_LOGITS))),
    ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.2}, BINARY, BINARY_LOGITS),
    ("CategoricalCrossentropy", {"from_logits": True}, ONE_HOT, LOGITS),
    ("CategoricalCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, ONE_HOT, LOGITS),
    ("SparseCategoricalCrossentropy", {"from_logits": True}, ONE_HOT.argmax(1), LOGITS),
    ("MeanSquaredError", {}, ONE_HOT, LOGITS),
    ("MeanAbsoluteError", {}, ONE_HOT, LOGITS),
])
def test_loss_objects_compute_kerass_losses(cls, kwargs, y_true, y_pred):
    theirs = float(keras.ops.convert_to_numpy(getattr(keras.losses, cls)(**kwargs)(y_true, y_pred)))
    loss = getattr(textrnn.losses, cls)(**kwargs)
    ours = float(loss(torch.as_tensor(y_true, dtype=torch.float32), torch.from_numpy(y_pred)))
    assert ours == pytest.approx(theirs, rel=1e-5)
    config = getattr(keras.losses, cls)(**kwargs).get_config()  # Keras's own config reads back
    assert losses.deserialize({"class_name": cls, "config": config}) == loss


def test_accuracy_metrics_as_objects_and_names_are_kerass():
    y_pred = np.concatenate([BINARY_LOGITS, -BINARY_LOGITS], 1)
    one_hot = np.eye(2, dtype="float32")[BINARY[:, 0].astype(int)]
    for name, kwargs, y_true, pred in (("BinaryAccuracy", {"threshold": 0.0}, BINARY, BINARY_LOGITS),
                                       ("BinaryAccuracy", {}, BINARY, 1 / (1 + np.exp(-BINARY_LOGITS))),
                                       ("CategoricalAccuracy", {}, one_hot, y_pred),
                                       ("SparseCategoricalAccuracy", {}, BINARY, y_pred)):
        theirs = getattr(keras.metrics, name)(**kwargs)
        theirs.update_state(y_true, pred)
        ours = getattr(textrnn.metrics, name)(**kwargs)
        assert float(ours(torch.from_numpy(y_true), torch.from_numpy(pred))) == pytest.approx(
            float(keras.ops.convert_to_numpy(theirs.result())))
        assert ours.name == theirs.name
    with pytest.raises(ConfigError, match="MeanIoU"):
        losses.deserialize({"class_name": "MeanIoU", "config": {}}, losses.METRIC_CLASSES)
    with pytest.raises(ConfigError, match="ignore_class=3"):
        textrnn.losses.SparseCategoricalCrossentropy(ignore_class=3)


def _logits_model(lib):
    """A Dense(1) without activation trained on logits, as Keras's text classification tutorial."""
    L = lib.layers
    return lib.Sequential([lib.Input((12,), dtype="int32"), L.Embedding(50, 8), L.GRU(6), L.Dense(1)])


def _trained_on_logits(metrics):
    """Keras's model and textrnn's, from the same weights, compiled with a logits loss and
    `metrics(library)`, after two epochs: (theirs, ours, x, y, their history, ours)."""
    keras.backend.clear_session()
    textrnn.backend.clear_session()
    keras.utils.set_random_seed(0)
    theirs, ours = _logits_model(keras), _logits_model(textrnn)
    ours.set_weights(theirs.get_weights())
    x = RNG.integers(1, 50, (40, 12))
    y = (x[:, 0] > 25).astype("float32")
    for model, lib in ((theirs, keras), (ours, textrnn)):
        model.compile(lib.optimizers.Adam(0.01), loss=lib.losses.BinaryCrossentropy(from_logits=True),
                      metrics=metrics(lib))
    history = [m.fit(x, y, batch_size=16, epochs=2, shuffle=False, validation_split=0.2, verbose=0).history
               for m in (theirs, ours)]
    return theirs, ours, x, y, history


def test_a_model_trained_on_logits_with_several_metrics_is_kerass(tmp_path):
    theirs, ours, x, y, history = _trained_on_logits(
        lambda lib: [lib.metrics.BinaryAccuracy(threshold=0.0), "binary_accuracy"])
    assert list(history[1]) == list(history[0])
    for name, values in history[0].items():
        np.testing.assert_allclose(history[1][name], values, rtol=1e-4, err_msg=name)
    want = theirs.evaluate(x, y, verbose=0)
    np.testing.assert_allclose(ours.evaluate(x, y, verbose=0), want, rtol=1e-4)
    ours.save(tmp_path / "model")  # the loss and metric objects kept
    again = textrnn.models.load_model(tmp_path / "model")
    assert again.loss == ours.loss and again.metric_names == ours.metric_names
    np.testing.assert_allclose(again.evaluate(x, y, verbose=0), want, rtol=1e-4)
    ours.save(tmp_path / "ours.keras")
    np.testing.assert_allclose(keras.saving.load_model(tmp_path / "ours.keras").evaluate(x, y, verbose=0),
                               want, rtol=1e-4)
    theirs.save(tmp_path / "theirs.keras")
    loaded = textrnn.models.load_model(tmp_path / "theirs.keras")
    assert loaded.loss == textrnn.losses.BinaryCrossentropy(from_logits=True)
    np.testing.assert_allclose(loaded.evaluate(x, y, verbose=0), want, rtol=1e-4)


@pytest.mark.parametrize("name, kwargs", [
    ("Precision", {}), ("Recall", {"thresholds": 0.3}), ("AUC", {}), ("AUC", {"curve": "PR"}),
    ("AUC", {"num_thresholds": 17, "summation_method": "minoring"}), ("AUC", {"from_logits": True}),
])
def test_counted_metrics_add_up_over_batches_as_kerass(name, kwargs):
    """Precision, recall and AUC are counts over everything seen, not means of batch values: the
    batches' counts added up give Keras's value over the same batches."""
    scores = RNG.random((50, 1)).astype("float32")
    labels = (RNG.random((50, 1)) < scores * 0.8 + 0.1).astype("float32")
    theirs, ours = getattr(keras.metrics, name)(**kwargs), getattr(textrnn.metrics, name)(**kwargs)
    states = 0
    for rows in (slice(0, 32), slice(32, 50)):  # a full and a short batch
        theirs.update_state(labels[rows], scores[rows])
        states = states + ours(torch.from_numpy(labels[rows]), torch.from_numpy(scores[rows])) * len(
            labels[rows])
    assert ours.result(states / 50) == pytest.approx(float(keras.ops.convert_to_numpy(theirs.result())),
                                                     abs=1e-6)


def test_a_model_with_precision_recall_and_auc_logs_kerass_values(tmp_path):
    theirs, ours, x, y, history = _trained_on_logits(
        lambda lib: ["precision", lib.metrics.Recall(thresholds=0.0), lib.metrics.AUC(from_logits=True),
                     lib.metrics.AUC(from_logits=True, curve="PR")])
    assert list(history[1]) == list(history[0])  # auc, auc_1, ... named as Keras names them
    for name, values in history[0].items():
        np.testing.assert_allclose(history[1][name], values, rtol=1e-4, atol=1e-6, err_msg=name)
    np.testing.assert_allclose(ours.evaluate(x, y, verbose=0), theirs.evaluate(x, y, verbose=0), rtol=1e-4)
    ours.save(tmp_path / "ours.keras")
    back = keras.saving.load_model(tmp_path / "ours.keras")
    np.testing.assert_allclose(back.evaluate(x, y, verbose=0), theirs.evaluate(x, y, verbose=0), rtol=1e-4)


def _imbalanced_data_metrics(lib):
    """The metrics of TensorFlow's "Classification on imbalanced data" tutorial, as published."""
    m = lib.metrics
    return [m.BinaryCrossentropy(name="cross entropy"), m.MeanSquaredError(name="Brier score"),
            m.TruePositives(name="tp"), m.FalsePositives(name="fp"), m.TrueNegatives(name="tn"),
            m.FalseNegatives(name="fn"), m.BinaryAccuracy(name="accuracy"), m.Precision(name="precision"),
            m.Recall(name="recall"), m.AUC(name="auc"), m.AUC(name="prc", curve="PR")]


def test_counts_of_the_confusion_matrix_are_kerass_over_the_epoch(tmp_path):
    """TruePositives & co. log counts over the epoch (and over the validation rows), not means."""
    rng = np.random.default_rng(2)
    x = rng.integers(1, 30, (45, 6))
    y = (x[:, :1] > 20).astype("float32")  # about a third positive

    def pair():
        keras.utils.set_random_seed(0)
        models = []
        for lib in (keras, textrnn):
            model = lib.Sequential([lib.Input((6,), dtype="int32"), lib.layers.Embedding(30, 8),
                                    lib.layers.GRU(5), lib.layers.Dense(1, activation="sigmoid")])
            model.compile(lib.optimizers.Adam(0.02), "binary_crossentropy",
                          metrics=[*_imbalanced_data_metrics(lib), "true_positives"])
            models.append(model)
        models[1].set_weights(models[0].get_weights())
        return models

    theirs, ours = pair()
    history = [m.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0).history for m in (theirs, ours)]
    assert sorted(history[1]) == sorted(history[0])
    for name, values in history[0].items():
        np.testing.assert_allclose(history[1][name], values, rtol=1e-4, atol=1e-6, err_msg=name)
    want = theirs.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    got = ours.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    assert got["tp"] + got["fp"] + got["tn"] + got["fn"] == len(x)  # counts, not shares
    for name, value in want.items():
        assert got[name] == pytest.approx(value, rel=1e-4, abs=1e-6), name
    batch = [theirs.test_on_batch(x[:10], y[:10]), ours.test_on_batch(x[:10], y[:10])]
    np.testing.assert_allclose(batch[1], batch[0], rtol=1e-4, atol=1e-6)
    ours.save(tmp_path / "ours.keras")
    back = keras.saving.load_model(tmp_path / "ours.keras")
    assert back.evaluate(x, y, batch_size=8, verbose=0, return_dict=True) == pytest.approx(want, rel=1e-4)

    # With validation, the val_ counts are Keras's; the training counts are the training rows'.
    # (Keras 3.15 on PyTorch logs the validation counts under the training names too: its count
    # is a view of the variable that validation refills; on JAX it logs the training rows'.)
    theirs, ours = pair()
    history = [m.fit(x, y, batch_size=8, epochs=2, shuffle=False, validation_split=0.2, verbose=0).history
               for m in (theirs, ours)]
    for name in ("val_tp", "val_fp", "val_tn", "val_fn", "val_precision", "val_auc", "val_loss"):
        np.testing.assert_allclose(history[1][name], history[0][name], rtol=1e-4, atol=1e-6, err_msg=name)
    assert history[0]["tp"] == history[0]["val_tp"] and history[0]["tn"] == history[0]["val_tn"]
    ours_counts = {k: np.array(history[1][k]) for k in ("tp", "fp", "tn", "fn")}
    assert (ours_counts["tp"] + ours_counts["fn"] == y[:36].sum()).all()
    assert (sum(ours_counts.values()) == 36).all()


@pytest.mark.parametrize("head, metrics", [
    (1, lambda lib: [lib.metrics.F1Score(threshold=0.5),
                     lib.metrics.FBetaScore(beta=2.0, threshold=0.4, average="micro")]),
    (3, lambda lib: [lib.metrics.F1Score(average="macro"),
                     lib.metrics.F1Score(average="weighted", name="wf1"),
                     lib.metrics.FBetaScore(beta=0.5, average="micro")]),
])
def test_f_scores_are_counted_over_the_epoch_as_kerass(head, metrics):
    rng = np.random.default_rng(1)
    x = rng.integers(1, 30, (44, 6))
    labels = (np.eye(3)[x[:, 0] % 3] if head == 3 else (x[:, :1] > 12)).astype("float32")
    keras.utils.set_random_seed(0)
    models = []
    for lib in (keras, textrnn):
        model = lib.Sequential([lib.Input((6,), dtype="int32"), lib.layers.Embedding(30, 8),
                                lib.layers.GRU(5),
                                lib.layers.Dense(head, activation="softmax" if head > 1 else "sigmoid")])
        loss = "categorical_crossentropy" if head > 1 else "binary_crossentropy"
        model.compile(lib.optimizers.Adam(0.02), loss, metrics=metrics(lib))
        models.append(model)
    models[1].set_weights(models[0].get_weights())
    history = [m.fit(x, labels, batch_size=8, epochs=3, shuffle=False, validation_split=0.25,
                     verbose=0).history for m in models]
    assert sorted(history[1]) == sorted(history[0])
    for name, values in history[0].items():
        np.testing.assert_allclose(np.ravel(history[1][name]), np.ravel(values), rtol=1e-4, atol=1e-6,
                                   err_msg=name)


def test_a_per_class_f1_logs_an_array_per_epoch_as_kerass(tmp_path, capsys):
    """Keras's F1Score() (average=None) of several classes: each class's score, a float32 array in
    the history, evaluate's list and dict; the progress line shows its mean and CSVLogger writes
    it as Keras's does."""
    rng = np.random.default_rng(3)
    x = rng.integers(1, 30, (40, 8))
    labels = np.eye(3, dtype="float32")[x[:, 0] % 3]
    keras.utils.set_random_seed(0)
    models, histories = [], []
    for lib in (keras, textrnn):
        L = lib.layers
        model = lib.Sequential([lib.Input((8,), dtype="int32"), L.Embedding(30, 8), L.LSTM(6),
                                L.Dense(3, activation="softmax")])
        model.compile(lib.optimizers.Adam(0.02), "categorical_crossentropy",
                      metrics=["accuracy", lib.metrics.F1Score()])
        models.append(model)
    models[1].set_weights(models[0].get_weights())
    for model, lib in zip(models, (keras, textrnn)):
        logger = lib.callbacks.CSVLogger(str(tmp_path / f"{lib.__name__}.csv"))
        histories.append(model.fit(x, labels, batch_size=16, epochs=2, shuffle=False, validation_split=0.25,
                                   verbose=2, callbacks=[logger]).history)
    assert sorted(histories[1]) == sorted(histories[0])
    for name, values in histories[0].items():
        for ours, theirs in zip(histories[1][name], values):
            assert np.shape(ours) == np.shape(theirs), name
            np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6, err_msg=name)
    assert histories[1]["f1_score"][0].dtype == np.float32 and histories[1]["f1_score"][0].shape == (3,)
    shown = capsys.readouterr().out  # each library's epoch lines: the array shown by its mean
    mean = f"f1_score: {np.mean(histories[1]['f1_score'][-1]):.4f}"
    assert shown.count(mean) == 2
    theirs_csv, ours_csv = ((tmp_path / f"{name}.csv").read_text().splitlines()
                            for name in ("keras", "textrnn"))
    assert [row.split(",")[0] for row in ours_csv] == [row.split(",")[0] for row in theirs_csv]
    assert '"""[' in ours_csv[1] and ours_csv[0] == theirs_csv[0]
    theirs, ours = (m.evaluate(x, labels, verbose=0) for m in models)
    assert len(ours) == len(theirs) == 3
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert models[1].evaluate(x, labels, verbose=0, return_dict=True)["f1_score"].shape == (3,)


@pytest.mark.parametrize("head, metrics", [
    (1, lambda lib: [lib.metrics.MeanSquaredError(), lib.metrics.MeanAbsoluteError(name="mae_too"),
                     lib.metrics.BinaryCrossentropy(), lib.metrics.RootMeanSquaredError()]),
    (3, lambda lib: [lib.metrics.CategoricalCrossentropy(label_smoothing=0.1),
                     lib.metrics.TopKCategoricalAccuracy(k=2),
                     lib.metrics.RootMeanSquaredError(name="rmse")]),
    ("sparse", lambda lib: [lib.metrics.SparseCategoricalCrossentropy(),
                            lib.metrics.SparseTopKCategoricalAccuracy(k=2)]),
])
def test_loss_and_top_k_metric_objects_log_kerass_values(tmp_path, head, metrics):
    """keras.metrics.MeanSquaredError() and the rest of Keras's loss-named metric classes, the
    root mean squared error (counted over the epoch) and the top-k accuracies as objects."""
    rng = np.random.default_rng(2)
    x = rng.integers(1, 30, (44, 6))
    classes = x[:, 0] % 3
    labels = {1: (x[:, :1] > 12).astype("float32"), 3: np.eye(3)[classes].astype("float32"),
              "sparse": classes}[head]
    keras.utils.set_random_seed(0)
    models = []
    for lib in (keras, textrnn):
        units = 1 if head == 1 else 3
        L = lib.layers
        model = lib.Sequential([lib.Input((6,), dtype="int32"), L.Embedding(30, 8), L.GRU(5),
                                L.Dense(units, activation="sigmoid" if units == 1 else "softmax")])
        loss = {1: "binary_crossentropy", 3: "categorical_crossentropy",
                "sparse": "sparse_categorical_crossentropy"}[head]
        model.compile(lib.optimizers.Adam(0.02), loss, metrics=metrics(lib))
        models.append(model)
    theirs, ours = models
    ours.set_weights(theirs.get_weights())
    history = [m.fit(x, labels, batch_size=8, epochs=2, shuffle=False, validation_split=0.25,
                     verbose=0).history for m in models]
    assert sorted(history[1]) == sorted(history[0])
    for name, values in history[0].items():
        np.testing.assert_allclose(history[1][name], values, rtol=1e-4, atol=1e-6, err_msg=name)
    ours.save(tmp_path / "ours.keras")  # the metric objects cross both ways
    back = keras.saving.load_model(tmp_path / "ours.keras")
    np.testing.assert_allclose(back.evaluate(x, labels, verbose=0), theirs.evaluate(x, labels, verbose=0),
                               rtol=1e-4)
    theirs.save(tmp_path / "theirs.keras")
    again = textrnn.models.load_model(tmp_path / "theirs.keras")
    np.testing.assert_allclose(again.evaluate(x, labels, verbose=0), theirs.evaluate(x, labels, verbose=0),
                               rtol=1e-4)
