"""`import textrnn as keras`: the paths Keras 2 and 3 text code imports from, checked against real
Keras where they compute something."""

import keras
import numpy as np
import pytest

import textrnn
from textrnn.preprocessing.sequence import pad_sequences
from textrnn.utils import to_categorical


def test_keras_2_paths_load_their_submodules():
    assert textrnn.preprocessing.sequence.pad_sequences is pad_sequences
    assert textrnn.preprocessing.text.Tokenizer().word_index == {}


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


def test_keras_module_paths_import_as_in_keras_2_and_3():
    from textrnn.callbacks import EarlyStopping
    from textrnn.layers.convolutional import Conv1D, MaxPooling1D
    from textrnn.layers.core import Flatten
    from textrnn.layers.embeddings import Embedding
    from textrnn.layers.merge import Concatenate
    from textrnn.layers.pooling import GlobalMaxPooling1D
    from textrnn.optimizers import RMSprop

    assert textrnn.optimizers.RMSprop is RMSprop and textrnn.callbacks.EarlyStopping is EarlyStopping
    layers = textrnn.layers
    assert (Embedding, Flatten, Conv1D, MaxPooling1D, Concatenate, GlobalMaxPooling1D) == (
        layers.Embedding, layers.Flatten, layers.Conv1D, layers.MaxPooling1D, layers.Concatenate,
        layers.GlobalMaxPooling1D)


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


@pytest.mark.parametrize("kwargs", [{}, {"num_words": 300}, {"num_words": 300, "oov_token": "<OOV>"},
                                    {"lower": False, "filters": ".,!"},
                                    {"char_level": True, "num_words": 40}])
def test_the_keras_2_tokenizer_matches_keras_preprocessing(kwargs):
    """Keras 2's Tokenizer (keras-preprocessing 1.1.2, what Keras 2 imported) is the oracle."""
    from keras_preprocessing.text import Tokenizer as Keras2Tokenizer
    from keras_preprocessing.text import text_to_word_sequence as keras2_words

    from textrnn.data.sample import load_sample

    train, test = load_sample()
    ours, theirs = textrnn.preprocessing.text.Tokenizer(**kwargs), Keras2Tokenizer(**kwargs)
    ours.fit_on_texts(train.texts[:200])
    theirs.fit_on_texts(train.texts[:200])
    assert ours.word_index == theirs.word_index and ours.document_count == theirs.document_count
    texts = test.texts[:50] + ["", "Unseen words only: zyzzyva qwxz!"]
    assert ours.texts_to_sequences(texts) == theirs.texts_to_sequences(texts)
    sequences = theirs.texts_to_sequences(texts)
    assert ours.sequences_to_texts(sequences) == theirs.sequences_to_texts(sequences)
    if not kwargs.get("char_level"):
        for mode in ("binary", "count", "freq", "tfidf"):
            np.testing.assert_allclose(ours.texts_to_matrix(texts, mode), theirs.texts_to_matrix(texts, mode))
        assert textrnn.preprocessing.text.text_to_word_sequence(texts[0]) == keras2_words(texts[0])


@pytest.mark.parametrize("ours, theirs", [
    (lambda k: k.optimizers.Adam(lr=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-6),  # Keras 2's lr
     lambda k: k.optimizers.Adam(learning_rate=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-6)),
    (lambda k: k.optimizers.RMSprop(lr=0.01, rho=0.8), lambda k: k.optimizers.RMSprop(0.01, rho=0.8)),
    (lambda k: k.optimizers.SGD(lr=0.1, momentum=0.9), lambda k: k.optimizers.SGD(0.1, momentum=0.9)),
    (lambda k: k.optimizers.SGD(0.1, momentum=0.5, nesterov=True),
     lambda k: k.optimizers.SGD(0.1, momentum=0.5, nesterov=True)),
])
def test_keras_optimizer_arguments_take_keras_s_steps(ours, theirs, tmp_path):
    x = np.random.default_rng(0).integers(1, 50, (16, 8))
    y = (x[:, 0] > 25).astype("float32")
    models = []
    for lib, optimizer in ((keras, theirs), (textrnn, ours)):
        L = lib.layers
        model = lib.Sequential([L.Embedding(50, 4), L.GRU(3), L.Dense(1, activation="sigmoid")])
        model.build((None, 8))
        if models:
            model.set_weights(models[0].get_weights())
        model.compile(optimizer(lib), "binary_crossentropy")
        models.append(model)
    for _ in range(3):
        for model in models:
            model.train_on_batch(x, y)
    for a, b in zip(models[1].get_weights(), models[0].get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)
    models[1].save(tmp_path / "model")  # the settings travel with the model
    again = textrnn.models.load_model(tmp_path / "model")
    assert again._optimizer_spec.get_config() == models[1]._optimizer_spec.get_config()


def test_keras_optimizer_arguments_textrnn_has_no_rule_for_are_refused_in_one_line():
    with pytest.raises(textrnn.errors.ConfigError, match="use_ema=True is not supported"):
        textrnn.optimizers.RMSprop(use_ema=True)
    with pytest.raises(textrnn.errors.ConfigError, match="not both"):
        textrnn.optimizers.Adam(0.1, lr=0.1)
    textrnn.optimizers.Adam(clipnorm=None, name="adam")  # neutral values are fine
