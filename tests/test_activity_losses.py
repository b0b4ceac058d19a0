"""Losses a forward pass adds, against real Keras: activity regularizers (a penalty on a layer's
outputs, per row of the batch) and `add_loss` in a layer of one's own; in training, validation,
evaluate, `model.losses` and `.keras` files."""

import keras
import numpy as np
import pytest
import torch

import textrnn
from twins import twins

RNG = np.random.default_rng(0)
T = 12
X = RNG.integers(1, 40, (48, T))
X[::3, :4] = 0
Y = (X[:, -1] > 20).astype("float32")


def regularized(lib, mask_zero=False):
    L, R = lib.layers, lib.regularizers
    return lib.Sequential([
        lib.Input((T,), dtype="int32"),
        L.Embedding(40, 8, mask_zero=mask_zero, activity_regularizer=R.l2(1e-2)),
        L.Bidirectional(L.LSTM(6, return_sequences=True), activity_regularizer="l1"),
        L.LSTM(5, activity_regularizer=R.L1L2(l1=1e-3, l2=1e-2)),
        L.Dense(1, activation="sigmoid", activity_regularizer=R.l1(1e-2))])


def penalized(lib):
    """A layer of one's own that adds a loss of its outputs, as published Keras code writes one."""
    class Penalized(lib.layers.Layer):
        def call(self, x):
            self.add_loss(0.05 * lib.ops.mean(lib.ops.square(x)))
            return x

    L = lib.layers
    return lib.Sequential([lib.Input((T,), dtype="int32"), L.Embedding(40, 8),
                           L.LSTM(6, return_sequences=True), Penalized(), L.GlobalMaxPooling1D(),
                           L.Dense(1, activation="sigmoid")])


def _fit_both(theirs, ours):
    for model, lib in ((theirs, keras), (ours, textrnn)):
        model.compile(lib.optimizers.Adam(0.02), "binary_crossentropy", metrics=["acc"])
    histories = [m.fit(X, Y, batch_size=8, epochs=2, shuffle=False, validation_split=0.25, verbose=0).history
                 for m in (theirs, ours)]
    for key in ("loss", "val_loss", "acc", "val_acc"):
        np.testing.assert_allclose(histories[1][key], histories[0][key], rtol=1e-4, err_msg=key)
    np.testing.assert_allclose(ours.evaluate(X, Y, verbose=0), theirs.evaluate(X, Y, verbose=0), rtol=1e-4)


@pytest.mark.parametrize("mask_zero", [False, True])
def test_activity_regularizers_train_and_evaluate_as_kerass(mask_zero):
    theirs, ours = twins(lambda lib: regularized(lib, mask_zero))
    _fit_both(theirs, ours)
    theirs(X[:5])
    ours(X[:5])
    assert len(ours.losses) == len(theirs.losses) == 4  # one per layer (a Bidirectional: its output)
    np.testing.assert_allclose(float(sum(ours.losses)), float(keras.ops.sum(theirs.losses)), rtol=1e-5)
    ours(X[:2])  # a new call: its own losses only
    assert len(ours.losses) == 4


def test_a_layer_of_ones_own_adds_a_loss_as_kerass():
    theirs, ours = twins(penalized)
    _fit_both(theirs, ours)


def test_activity_regularizers_cross_keras_files_and_folders(tmp_path):
    theirs, ours = twins(regularized)
    ours.save(tmp_path / "ours.keras")
    theirs.save(tmp_path / "theirs.keras")
    ours.save(tmp_path / "folder")
    by_keras = keras.saving.load_model(tmp_path / "ours.keras")
    for loaded in (by_keras, textrnn.models.load_model(tmp_path / "theirs.keras"),
                   textrnn.models.load_model(tmp_path / "folder")):
        configs = [layer.get_config().get("activity_regularizer") for layer in loaded.layers]
        assert [c and c["class_name"] for c in configs] == ["L2", "L1", "L1L2", "L1"]
    assert by_keras.layers[0].activity_regularizer.l2 == pytest.approx(1e-2)
    again = textrnn.models.load_model(tmp_path / "theirs.keras")
    again.compile("adam", "binary_crossentropy")
    theirs.compile("adam", "binary_crossentropy")
    np.testing.assert_allclose(again.evaluate(X, Y, verbose=0), theirs.evaluate(X, Y, verbose=0), rtol=1e-5)


def test_predicting_keeps_no_losses_from_batch_to_batch():
    model = regularized(textrnn)
    model.predict(X, batch_size=4, verbose=0)
    assert len(model.losses) == 4 and all(isinstance(loss, torch.Tensor) for loss in model.losses)
