"""`import textrnn as keras`: the paths Keras 2 and 3 text code imports from, checked against real
Keras where they compute something."""

import keras
import numpy as np

import textrnn
from textrnn.preprocessing.sequence import pad_sequences
from textrnn.utils import to_categorical


def test_keras_style_code_runs_with_only_the_import_changed():
    k = textrnn  # import textrnn as keras
    model = k.Sequential([k.layers.Embedding(10000, 32), k.layers.LSTM(32, return_sequences=True),
                          k.layers.LSTM(32, return_sequences=True), k.layers.LSTM(32),
                          k.layers.Dense(1, activation="sigmoid")])
    model.build((None, 500))
    model.compile(optimizer=k.optimizers.RMSprop(learning_rate=0.001), loss="binary_crossentropy",
                  metrics=["acc"])
    assert model.count_params() == 344_993
    x = k.utils.pad_sequences([[5, 6, 7], [8]], maxlen=500)
    model.fit(x, np.array([0, 1]), epochs=1, verbose=0,
              callbacks=[k.callbacks.EarlyStopping(monitor="loss", patience=1)])
    assert k.datasets.imdb.load_data is not None


def test_pad_sequences_and_to_categorical_match_keras():
    seqs = [[1, 2, 3, 4, 5], [6], [], [7, 8]]
    for kwargs in ({"maxlen": 3}, {"maxlen": 3, "padding": "post", "truncating": "post"}, {}):
        np.testing.assert_array_equal(pad_sequences(seqs, **kwargs),
                                      keras.utils.pad_sequences(seqs, **kwargs))
    for y, n in (([0, 2, 1], None), ([[1], [0]], 3), (np.array([3, 0]), 5)):
        np.testing.assert_array_equal(to_categorical(y, n), keras.utils.to_categorical(y, n))


def test_default_layer_names_are_keras_names():
    from textrnn.layers.base import reset_names

    reset_names()
    ours = [textrnn.layers.SimpleRNN(4).name, textrnn.layers.GlobalMaxPooling1D().name,
            textrnn.layers.SimpleRNN(4).name]
    assert ours == ["simple_rnn", "global_max_pooling1d", "simple_rnn_1"]
    assert keras.layers.SimpleRNN(4).name.startswith("simple_rnn")
    assert keras.layers.GlobalMaxPooling1D().name.startswith("global_max_pooling1d")


def test_activation_and_spatial_dropout_match_keras():
    import torch

    x = np.random.default_rng(0).normal(size=(4, 6, 8)).astype("float32")
    for name in ("relu", "tanh", "sigmoid", "softmax"):
        ours = textrnn.layers.Activation(name)(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(ours, keras.ops.convert_to_numpy(keras.layers.Activation(name)(x)),
                                   atol=1e-6)
    layer = textrnn.layers.SpatialDropout1D(0.5)
    layer.build((None, 6, 8))
    layer.train()
    dropped = layer(torch.ones(64, 6, 8)) == 0
    assert torch.equal(dropped, dropped[:, :1].expand_as(dropped))  # whole channels, every step
    assert 0.35 < dropped.float().mean() < 0.65
    assert layer.get_config()["rate"] == 0.5 and "noise_shape" not in layer.get_config()
    model = textrnn.Sequential([textrnn.layers.Embedding(20, 4), textrnn.layers.SpatialDropout1D(0.2),
                                textrnn.layers.LSTM(3), textrnn.layers.Activation("tanh")])
    model.build((None, 5))
    again = textrnn.models.Sequential.from_config(model.get_config())
    assert [type(layer).__name__ for layer in again.layers] == ["Embedding", "SpatialDropout1D", "LSTM",
                                                                  "Activation"]


def test_clear_session_restarts_names():
    textrnn.backend.clear_session()
    assert textrnn.layers.Dense(1).name == "dense"
    textrnn.backend.clear_session()
    assert textrnn.layers.Dense(1).name == "dense"
