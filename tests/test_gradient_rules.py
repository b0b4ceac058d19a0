"""Keras's settings common to every optimizer, against real Keras: gradient clipping (`clipnorm`,
`clipvalue`, `global_clipnorm`; the RNN's guard against exploding gradients) and decoupled
`weight_decay`, `AdamW`; training as Keras's, and the settings crossing `.keras` files both ways."""

import keras
import numpy as np
import pytest

import textrnn
from textrnn.errors import ConfigError

RNG = np.random.default_rng(0)
X = RNG.integers(1, 50, (48, 15))
Y = (X[:, 0] > 25).astype("float32")


def _pair(optimizer, **settings):
    keras.utils.set_random_seed(0)
    models = []
    for lib in (keras, textrnn):
        L = lib.layers
        model = lib.Sequential([lib.Input((15,), dtype="int32"), L.Embedding(50, 8), L.LSTM(6),
                                L.Dense(1, activation="sigmoid")])
        model.compile(getattr(lib.optimizers, optimizer)(**settings), "binary_crossentropy", metrics=["acc"])
        models.append(model)
    models[1].set_weights(models[0].get_weights())
    return models


def _train(models):
    return [m.fit(X, Y, batch_size=8, epochs=2, shuffle=False, verbose=0).history["loss"] for m in models]


@pytest.mark.parametrize("optimizer, settings", [
    ("RMSprop", {"learning_rate": 0.05, "clipnorm": 0.05}),
    ("Adam", {"learning_rate": 0.05, "global_clipnorm": 0.05}),
    ("SGD", {"learning_rate": 0.5, "momentum": 0.9, "clipvalue": 0.002}),
    ("Adam", {"learning_rate": 0.02, "weight_decay": 0.5, "clipnorm": 0.1}),
    ("AdamW", {"learning_rate": 0.02}),
    ("AdamW", {"learning_rate": 0.02, "weight_decay": 0.3, "global_clipnorm": 0.1}),
    ("SGD", {"learning_rate": 0.3, "weight_decay": 0.2}),
])
def test_gradient_rules_train_as_kerass(optimizer, settings):
    theirs, ours = _pair(optimizer, **settings)
    history = _train([theirs, ours])
    np.testing.assert_allclose(history[1], history[0], rtol=1e-4)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-4)
    plain = {k: v for k, v in settings.items() if k not in ("clipnorm", "clipvalue", "global_clipnorm",
                                                             "weight_decay")}
    unruled = _pair("Adam" if optimizer == "AdamW" else optimizer, **plain)[1]
    if optimizer == "AdamW":
        unruled.compile(textrnn.optimizers.Adam(**plain), "binary_crossentropy")
    _train([unruled])
    assert not np.allclose(unruled.get_weights()[1], ours.get_weights()[1], atol=1e-4)  # the rules acted


def test_the_rules_cross_keras_files_both_ways(tmp_path):
    theirs, _ = _pair("Adam", learning_rate=0.01, clipnorm=0.5, weight_decay=0.01)
    theirs.fit(X, Y, batch_size=8, epochs=1, verbose=0)
    theirs.save(tmp_path / "k.keras")
    ours = textrnn.models.load_model(tmp_path / "k.keras")
    assert ours._optimizer_spec.rules.config() == {"clipnorm": 0.5, "clipvalue": None,
                                                   "global_clipnorm": None, "weight_decay": 0.01}
    ours.save(tmp_path / "t.keras")
    back = keras.saving.load_model(tmp_path / "t.keras")
    assert (back.optimizer.clipnorm, back.optimizer.weight_decay) == (0.5, 0.01)
    ours.save(tmp_path / "folder")
    assert textrnn.models.load_model(tmp_path / "folder")._optimizer_spec.rules.clipnorm == 0.5
    adamw = _pair("AdamW", learning_rate=0.01)[1]
    adamw.fit(X, Y, batch_size=8, epochs=1, verbose=0)
    adamw.save(tmp_path / "w.keras")
    loaded = keras.saving.load_model(tmp_path / "w.keras")
    assert type(loaded.optimizer).__name__ == "AdamW" and loaded.optimizer.weight_decay == 0.004


def test_rules_keras_refuses_are_refused_in_one_line():
    with pytest.raises(ConfigError, match="only one of clipnorm, clipvalue and global_clipnorm"):
        textrnn.optimizers.Adam(clipnorm=1.0, clipvalue=0.5)
    with pytest.raises(ConfigError, match="clipnorm must be a positive number"):
        textrnn.optimizers.RMSprop(clipnorm=-1.0)
