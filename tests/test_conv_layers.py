"""Conv1D, MaxPooling1D / AveragePooling1D, Flatten and RepeatVector against real Keras: outputs with
Keras's weights copied in, output shapes, parameter counts, and a text CNN-LSTM model's summary."""

import keras
import numpy as np
import pytest
import torch

import textrnn
from textrnn import layers as L
from textrnn.errors import ConfigError
from textrnn.models import load_model


def _compare(ours, theirs, x, atol=1e-5):
    out_theirs = keras.ops.convert_to_numpy(theirs(x))
    if theirs.weights:
        ours.build(x.shape)
        ours.set_weights(theirs.get_weights())
    out_ours = ours(torch.from_numpy(x)).detach().numpy()
    assert out_ours.shape == out_theirs.shape
    np.testing.assert_allclose(out_ours, out_theirs, atol=atol)
    shape = (None, *x.shape[1:])
    assert ours.compute_output_shape(shape)[1:] == theirs.compute_output_shape(shape)[1:]


@pytest.mark.parametrize("kwargs", [dict(filters=5, kernel_size=3),
                                    dict(filters=4, kernel_size=3, padding="same"),
                                    dict(filters=4, kernel_size=2, strides=2, padding="same"),
                                    dict(filters=3, kernel_size=4, strides=3),
                                    dict(filters=3, kernel_size=3, dilation_rate=2, padding="causal",
                                         activation="relu"),
                                    dict(filters=2, kernel_size=5, padding="same", use_bias=False)])
def test_conv1d_matches_keras(kwargs):
    x = np.random.default_rng(0).normal(size=(3, 11, 6)).astype("float32")
    _compare(L.Conv1D(**kwargs), keras.layers.Conv1D(**kwargs), x)


@pytest.mark.parametrize("cls", ["MaxPooling1D", "AveragePooling1D"])
@pytest.mark.parametrize("kwargs", [dict(pool_size=2), dict(pool_size=3),
                                    dict(pool_size=3, strides=2, padding="same"),
                                    dict(pool_size=4, padding="same"), dict(pool_size=2, strides=1)])
def test_pooling1d_matches_keras(cls, kwargs):
    x = np.random.default_rng(1).normal(size=(2, 11, 4)).astype("float32")
    if cls == "AveragePooling1D" and kwargs.get("padding") == "same" and kwargs["pool_size"] == 4:
        # Uneven "same" padding: textrnn follows TensorFlow (padded steps are not counted); Keras's
        # torch backend pads by repeating the edge step and counts it. The windows by hand:
        ours = L.AveragePooling1D(**kwargs)(torch.from_numpy(x)).numpy()
        expected = np.stack([x[:, 0:4].mean(1), x[:, 4:8].mean(1), x[:, 8:11].mean(1)], axis=1)
        np.testing.assert_allclose(ours, expected, atol=1e-6)
        return
    _compare(getattr(L, cls)(**kwargs), getattr(keras.layers, cls)(**kwargs), x)


def test_flatten_and_repeat_vector_match_keras():
    x = np.random.default_rng(2).normal(size=(2, 5, 3)).astype("float32")
    _compare(L.Flatten(), keras.layers.Flatten(), x)
    _compare(L.RepeatVector(4), keras.layers.RepeatVector(4), x[:, 0])
    with pytest.raises(ConfigError):
        L.RepeatVector(0)
    with pytest.raises(ConfigError, match="padding"):
        L.Conv1D(4, 3, padding="full")


def test_a_text_cnn_lstm_has_kerass_summary_and_trains(tmp_path):
    def build(k):
        return k.Sequential([k.layers.Embedding(1000, 16), k.layers.Conv1D(32, 5, activation="relu"),
                             k.layers.MaxPooling1D(4), k.layers.LSTM(8),
                             k.layers.Dense(1, activation="sigmoid")])

    ours, theirs = build(textrnn), build(keras)
    ours.build((None, 100))
    theirs.build((None, 100))
    assert ours.count_params() == theirs.count_params() == 16000 + 2592 + 1312 + 9  # emb, conv, lstm, dense
    assert [tuple(layer.output_shape) for layer in ours.layers] == [
        (None, 100, 16), (None, 96, 32), (None, 24, 32), (None, 8), (None, 1)]
    ours.set_weights(theirs.get_weights())
    x = np.random.default_rng(3).integers(1, 1000, size=(4, 100))
    np.testing.assert_allclose(ours.predict(x), keras.ops.convert_to_numpy(theirs(x)), atol=1e-5)
    ours.compile("adam", "binary_crossentropy", ["acc"])
    ours.fit(x, np.array([0, 1, 0, 1]), epochs=1, verbose=0)
    ours.save(tmp_path / "m")
    np.testing.assert_allclose(load_model(tmp_path / "m").predict(x), ours.predict(x), atol=1e-6)


@pytest.mark.parametrize("kwargs", [dict(), dict(epsilon=1e-5), dict(center=False), dict(scale=False)])
def test_layer_normalization_matches_keras(kwargs):
    x = np.random.default_rng(4).normal(2.0, 3.0, size=(3, 5, 6)).astype("float32")
    theirs = keras.layers.LayerNormalization(**kwargs)
    theirs.build(x.shape)
    rng = np.random.default_rng(5)
    theirs.set_weights([rng.normal(size=w.shape).astype("float32") for w in theirs.get_weights()])
    _compare(L.LayerNormalization(**kwargs), theirs, x)


def test_time_distributed_dense_matches_keras_in_a_sequence_model(tmp_path):
    def build(k):
        return k.Sequential([k.layers.Embedding(50, 8), k.layers.LSTM(6, return_sequences=True),
                             k.layers.TimeDistributed(k.layers.Dense(3, activation="softmax")),
                             k.layers.Flatten(), k.layers.Dense(1, activation="sigmoid")])

    ours, theirs = build(textrnn), build(keras)
    ours.build((None, 7))
    theirs.build((None, 7))
    assert ours.count_params() == theirs.count_params()
    assert ours.layers[2].name.startswith("time_distributed")
    assert tuple(ours.layers[2].output_shape) == (None, 7, 3)
    ours.set_weights(theirs.get_weights())
    x = np.random.default_rng(6).integers(1, 50, size=(4, 7))
    np.testing.assert_allclose(ours.predict(x), keras.ops.convert_to_numpy(theirs(x)), atol=1e-5)
    ours.compile("rmsprop", "binary_crossentropy", ["acc"])
    ours.fit(x, np.array([0, 1, 1, 0]), epochs=1, verbose=0)
    ours.save(tmp_path / "m")
    np.testing.assert_allclose(load_model(tmp_path / "m").predict(x), ours.predict(x), atol=1e-6)
    with pytest.raises(ConfigError, match="non-recurrent"):
        L.TimeDistributed(L.LSTM(3))


def test_the_new_layers_give_kerass_summary_table():
    def build(k):
        return k.Sequential([k.layers.Embedding(50, 8), k.layers.Conv1D(4, 3), k.layers.MaxPooling1D(2),
                             k.layers.LSTM(6, return_sequences=True), k.layers.LayerNormalization(),
                             k.layers.TimeDistributed(k.layers.Dense(3, activation="softmax")),
                             k.layers.Flatten(), k.layers.Dense(1, activation="sigmoid")])

    from textrnn.layers.base import reset_names

    reset_names()
    keras.backend.clear_session()
    ours, theirs = build(textrnn), build(keras)
    ours.build((None, 20))
    theirs.build((None, 20))
    lines_ours, lines_theirs = [], []
    ours.summary(print_fn=lines_ours.append)
    theirs.summary(print_fn=lambda line, **kwargs: lines_theirs.append(line))
    assert "\n".join(lines_ours) == "\n".join(lines_theirs)
