"""Numbers in, sequences out, against real Keras: recurrent layers on one-hot / numeric inputs, a
softmax at every step, and the losses such models train with (categorical and sparse categorical
cross-entropy per step, mean squared / absolute error)."""

import keras
import numpy as np
import pytest
import torch

import textrnn
from textrnn.training import losses

RNG = np.random.default_rng(0)


def _probabilities(shape):
    p = RNG.random(shape).astype("float32") + 0.05
    return p / p.sum(-1, keepdims=True)


@pytest.mark.parametrize("name, y_true, y_pred", [
    ("categorical_crossentropy", np.eye(4, dtype="float32")[RNG.integers(0, 4, (6, 3))],
     _probabilities((6, 3, 4))),
    ("categorical_crossentropy", np.eye(4, dtype="float32")[RNG.integers(0, 4, 6)], _probabilities((6, 4))),
    ("sparse_categorical_crossentropy", RNG.integers(0, 4, (6, 3)).astype("float32"),
     _probabilities((6, 3, 4))),
    ("mse", RNG.normal(size=(6, 2)).astype("float32"), RNG.normal(size=(6, 2)).astype("float32")),
    ("mae", RNG.normal(size=(6, 3, 2)).astype("float32"), RNG.normal(size=(6, 3, 2)).astype("float32")),
])
def test_losses_match_keras(name, y_true, y_pred):
    theirs = float(np.mean(keras.ops.convert_to_numpy(keras.losses.get(name)(y_true, y_pred))))
    loss, accuracy = losses.get(name)
    ours = float(loss(torch.from_numpy(y_true), torch.from_numpy(y_pred)))
    assert ours == pytest.approx(theirs, rel=1e-5)
    assert 0 <= float(accuracy(torch.from_numpy(y_true), torch.from_numpy(y_pred))) <= 1


def _seq2seq(lib, steps_in=7, steps_out=4, classes=5):
    L = lib.layers
    return lib.Sequential([L.LSTM(16, input_shape=(steps_in, classes)), L.RepeatVector(steps_out),
                           L.LSTM(16, return_sequences=True),
                           L.TimeDistributed(L.Dense(classes, activation="softmax"))])


@pytest.mark.parametrize("loss", ["categorical_crossentropy", "sparse_categorical_crossentropy"])
def test_a_seq2seq_model_on_one_hot_inputs_trains_as_keras_does(loss):
    x = np.eye(5, dtype="float32")[RNG.integers(0, 5, (16, 7))]
    targets = RNG.integers(0, 5, (16, 4))
    y = np.eye(5, dtype="float32")[targets] if loss == "categorical_crossentropy" else targets
    theirs, ours = _seq2seq(keras), _seq2seq(textrnn)
    ours.set_weights(theirs.get_weights())
    assert ours.count_params() == theirs.count_params()
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), atol=1e-5)
    theirs.compile(keras.optimizers.SGD(0.5), loss, metrics=["accuracy"])
    ours.compile(textrnn.optimizers.SGD(0.5), loss, metrics=["accuracy"])
    their_loss, their_acc = theirs.evaluate(x, y, verbose=0)
    our_loss, our_acc = ours.evaluate(x, y, verbose=0)
    assert our_loss == pytest.approx(their_loss, rel=1e-5) and our_acc == pytest.approx(their_acc)
    theirs.train_on_batch(x, y)
    ours.train_on_batch(x, y)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_a_regression_on_numeric_sequences_matches_keras():
    x = RNG.normal(size=(32, 10, 3)).astype("float32")
    y = x.sum(axis=(1, 2))[:, None]
    theirs = keras.Sequential([keras.layers.GRU(8, input_shape=(10, 3)), keras.layers.Dense(1)])
    ours = textrnn.Sequential([textrnn.layers.GRU(8, input_shape=(10, 3)), textrnn.layers.Dense(1)])
    ours.set_weights(theirs.get_weights())
    theirs.compile(keras.optimizers.SGD(0.01), "mse")
    ours.compile(textrnn.optimizers.SGD(0.01), "mse")
    assert ours.evaluate(x, y, verbose=0) == pytest.approx(theirs.evaluate(x, y, verbose=0), rel=1e-5)
    theirs.train_on_batch(x, y)
    ours.train_on_batch(x, y)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_inputs_that_are_neither_ids_nor_numbers_are_refused_in_one_line():
    model = _seq2seq(textrnn)
    model.compile("adam", "categorical_crossentropy")
    with pytest.raises(textrnn.errors.DataError, match="token ids .* or numbers"):
        model.fit(np.array([["a", "b"]]), np.zeros((1, 4, 5)), verbose=0)


@pytest.mark.parametrize("recurrent", [
    lambda lib: lib.layers.LSTM(6),
    lambda lib: lib.layers.GRU(6, return_sequences=True),
    lambda lib: lib.layers.Bidirectional(lib.layers.LSTM(4)),
])
def test_masking_skips_padded_steps_as_keras_does(recurrent, tmp_path):
    x = RNG.normal(size=(5, 8, 3)).astype("float32")
    for row, length in enumerate([8, 5, 3, 6, 1]):
        x[row, length:] = 0.0  # padded after the sequence, as TextVectorization pads
    x[1, 1] = 0.0  # a step of zeros inside a sequence is masked too (Keras's rule)
    theirs = keras.Sequential([keras.layers.Masking(0.0, input_shape=(8, 3)), recurrent(keras)])
    ours = textrnn.Sequential([textrnn.layers.Masking(0.0, input_shape=(8, 3)), recurrent(textrnn)])
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), atol=1e-5)
    mask = textrnn.layers.Masking().compute_mask(torch.from_numpy(x), None).numpy()
    np.testing.assert_array_equal(mask, np.any(x != 0, axis=-1))
    ours.save(tmp_path / "model")
    np.testing.assert_allclose(textrnn.models.load_model(tmp_path / "model").predict(x, verbose=0),
                               theirs.predict(x, verbose=0), atol=1e-5)


def _batch_norm_model(lib):
    L = lib.layers
    return lib.Sequential([L.Embedding(50, 6, input_length=9), L.Conv1D(8, 3, activation="relu"),
                           L.BatchNormalization(momentum=0.9), L.GlobalMaxPooling1D(), L.Dense(4),
                           L.BatchNormalization(), L.Dense(1, activation="sigmoid")])


def test_batch_normalization_trains_and_predicts_as_keras_does(tmp_path, capsys):
    x = RNG.integers(1, 50, (16, 9))
    y = RNG.integers(0, 2, 16).astype("float32")
    theirs = _batch_norm_model(keras)
    theirs.build((None, 9))
    ours = _batch_norm_model(textrnn)
    ours.set_weights(theirs.get_weights())
    assert (ours.count_params(), len(ours.non_trainable_weights)) == (theirs.count_params(), 4)
    ours.summary()
    table = capsys.readouterr().out
    theirs.summary()
    assert table.split("Total params")[1] == capsys.readouterr().out.split("Total params")[1]
    theirs.compile(keras.optimizers.SGD(0.1), "binary_crossentropy", metrics=["accuracy"])
    ours.compile(textrnn.optimizers.SGD(0.1), "binary_crossentropy", metrics=["accuracy"])
    for _ in range(2):  # batch statistics in training, and the moving averages they update
        theirs.train_on_batch(x, y)
        ours.train_on_batch(x, y)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), atol=1e-5)
    ours.save(tmp_path / "model")
    again = textrnn.models.load_model(tmp_path / "model")
    assert len(again.non_trainable_weights) == 4
    np.testing.assert_allclose(again.predict(x, verbose=0), theirs.predict(x, verbose=0), atol=1e-5)


@pytest.mark.parametrize("optimizer", ["sgd", "rmsprop", "adam"])
def test_the_summary_counts_the_optimizers_variables_once_it_has_trained(optimizer, capsys):
    x, y = RNG.integers(1, 50, (8, 9)), RNG.integers(0, 2, 8).astype("float32")
    tables = []
    for lib in (keras, textrnn):
        model = _batch_norm_model(lib)
        model.build((None, 9))
        model.compile(optimizer, "binary_crossentropy")
        model.train_on_batch(x, y)
        model.summary()
        tables.append(capsys.readouterr().out.split("Total params")[1])
    assert "Optimizer params" in tables[1] and tables[0] == tables[1]
