"""`keras.regularizers` against real Keras: L1, L2 and L1L2 on a layer's kernel, recurrent kernel,
bias or embeddings add their penalties to the loss in training and evaluation as Keras 3's do
(histories, evaluate, weights, `model.losses`), Bidirectional's two directions included; the
regularizers cross `.keras` files and textrnn's folders; what textrnn does not take is refused in
one line."""

import json

import keras
import numpy as np
import pytest

import textrnn
from textrnn.errors import ConfigError

RNG = np.random.default_rng(0)
X = RNG.integers(1, 40, (40, 10))
Y = (X[:, 0] > 20).astype("float32")


def _model(lib):
    L, R = lib.layers, lib.regularizers
    return lib.Sequential([
        lib.Input((10,), dtype="int32"),
        L.Embedding(40, 8, embeddings_regularizer=R.l1(1e-3)),
        L.Bidirectional(L.GRU(6, return_sequences=True, kernel_regularizer="l2")),
        L.LSTM(5, kernel_regularizer=R.L1L2(l1=1e-3, l2=1e-2), recurrent_regularizer=R.l2(0.05),
               bias_regularizer=R.l1(0.1)),
        L.Dense(1, activation="sigmoid", kernel_regularizer=R.L2(0.02))])


def _penalty(model):
    return float(sum(keras.ops.convert_to_numpy(p) if model.__module__.startswith("keras") else p.detach()
                     for p in model.losses))


def _pair():
    keras.utils.set_random_seed(0)
    theirs, ours = _model(keras), _model(textrnn)
    ours.set_weights(theirs.get_weights())
    for model, lib in ((theirs, keras), (ours, textrnn)):
        model.compile(lib.optimizers.Adam(0.01), "binary_crossentropy", metrics=["accuracy"])
    return theirs, ours


def test_penalties_train_and_evaluate_as_kerass():
    theirs, ours = _pair()
    penalty = [_penalty(theirs), _penalty(ours)]
    assert penalty[1] == pytest.approx(penalty[0], rel=1e-5) and penalty[0] > 0.1
    history = [m.fit(X, Y, batch_size=8, epochs=2, shuffle=False, validation_split=0.25, verbose=0).history
               for m in (theirs, ours)]
    for name in ("loss", "val_loss", "accuracy"):
        np.testing.assert_allclose(history[1][name], history[0][name], rtol=1e-4, err_msg=name)
    np.testing.assert_allclose(ours.evaluate(X, Y, verbose=0), theirs.evaluate(X, Y, verbose=0), rtol=1e-4)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-4)


def test_regularizers_cross_keras_files_and_folders(tmp_path):
    theirs, ours = _pair()
    theirs.save(tmp_path / "k.keras")
    loaded = textrnn.models.load_model(tmp_path / "k.keras")
    assert _penalty(loaded) == pytest.approx(_penalty(ours), rel=1e-5)
    loaded.save(tmp_path / "t.keras")
    back = keras.saving.load_model(tmp_path / "t.keras")
    assert back.layers[2].kernel_regularizer.get_config() == {"l1": 1e-3, "l2": 1e-2}
    assert _penalty(back) == pytest.approx(_penalty(ours), rel=1e-5)
    ours.save(tmp_path / "folder")
    again = textrnn.models.load_model(tmp_path / "folder")
    assert json.dumps(again.get_config()) == json.dumps(ours.get_config())
    assert _penalty(again) == pytest.approx(_penalty(ours), rel=1e-6)


def test_what_textrnn_does_not_take_is_refused_in_one_line():
    with pytest.raises(ConfigError, match="a regularizer should be one of"):
        textrnn.layers.Dense(3, activity_regularizer="l3")
    with pytest.raises(ConfigError, match="Dense: unknown argument 'recurrent_regularizer'"):
        textrnn.layers.Dense(3, recurrent_regularizer="l2")
    with pytest.raises(ConfigError, match="a regularizer should be one of"):
        textrnn.layers.LSTM(3, kernel_regularizer="l3")
    with pytest.raises(ConfigError, match="l2 must be a number >= 0"):
        textrnn.regularizers.L2(-1.0)
