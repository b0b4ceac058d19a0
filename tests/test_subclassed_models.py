"""Keras's subclassed models (`class MyModel(keras.Model)` with layers as attributes and a `call`),
and Keras 3's masks riding on tensors through a `call`, against real Keras: the layers and their
order, outputs, two epochs of training, the summary, weights files; what textrnn's files cannot
hold (the class's code) refused in one line before any training."""

import keras
import numpy as np
import pytest
import torch

import textrnn
from textrnn.errors import ConfigError, NotBuiltError

RNG = np.random.default_rng(0)
T = 12
X = RNG.integers(1, 50, (48, T))
X[::3, :5] = 0  # pre-padded rows: the masks matter
Y = (X[:, -1] > 25).astype("float32")


def classifier_class(lib, rate=0.0):
    """A subclassed classifier as tutorials write it: an Embedding(mask_zero) whose mask rides into
    a list of recurrent blocks, `training` passed to a Dropout, and a call that is not a plain
    stack (the head sees the last block's output twice)."""
    L = lib.layers

    class Classifier(lib.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.embed = L.Embedding(50, 8, mask_zero=True)
            self.blocks = []
            self.blocks.append(L.Bidirectional(L.LSTM(6, return_sequences=True)))
            self.blocks.append(L.GRU(5))
            self.drop = L.Dropout(rate)
            self.head = L.Dense(1, activation="sigmoid")

        def call(self, inputs, training=False):
            x = self.embed(inputs)
            for block in self.blocks:
                x = block(x)
            return self.head(self.drop(x, training=training) + x)

    return Classifier


def _pair(rate=0.0):
    keras.utils.set_random_seed(0)
    keras.backend.clear_session()  # both name their layers from 0
    textrnn.backend.clear_session()
    theirs, ours = classifier_class(keras, rate)(), classifier_class(textrnn, rate)()
    for model in (theirs, ours):
        model(X[:2])  # built by a first call, as Keras's
    assert [layer.name for layer in ours.layers] == [layer.name for layer in theirs.layers]
    ours.set_weights(theirs.get_weights())
    return theirs, ours


def test_a_subclassed_model_computes_and_trains_as_kerass():
    theirs, ours = _pair()
    np.testing.assert_allclose(ours.predict(X, verbose=0), theirs.predict(X, verbose=0), atol=1e-5)
    for model, lib in ((theirs, keras), (ours, textrnn)):
        model.compile(lib.optimizers.Adam(0.02), "binary_crossentropy", metrics=["accuracy"])
    histories = [m.fit(X, Y, batch_size=8, epochs=2, shuffle=False, verbose=0).history
                 for m in (theirs, ours)]
    for key in ("loss", "accuracy"):
        np.testing.assert_allclose(histories[1][key], histories[0][key], rtol=1e-4)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-4)
    np.testing.assert_allclose(ours.evaluate(X, Y, verbose=0), theirs.evaluate(X, Y, verbose=0), rtol=1e-4)


def test_the_masks_ride_on_the_tensors_as_kerass():
    """Without the Embedding's mask the padded rows would differ (the test's own control)."""
    theirs, ours = _pair()
    want = theirs.predict(X, verbose=0)
    np.testing.assert_allclose(ours.predict(X, verbose=0), want, atol=1e-5)
    ours.embed.mask_zero = False
    assert np.abs(ours.predict(X[::3], verbose=0) - want[::3]).max() > 1e-3
    ours.embed.mask_zero = True
    mask = ours.embed(torch.as_tensor(X[:3]))._keras_mask
    assert mask.tolist() == (X[:3] != 0).tolist()


def test_training_reaches_the_call_and_the_summary_is_kerass(capsys):
    keras.backend.clear_session()
    textrnn.backend.clear_session()
    theirs, ours = classifier_class(keras, 0.5)(), classifier_class(textrnn, 0.5)()  # unbuilt: fit builds
    x = torch.as_tensor(X[:8])
    for model, lib in ((theirs, keras), (ours, textrnn)):
        model.compile(lib.optimizers.Adam(0.01), "binary_crossentropy")
        model.fit(X, Y, batch_size=16, epochs=1, verbose=0)
    assert torch.equal(ours(x), ours(x, training=False))  # inference: no dropout
    assert not torch.equal(ours(x, training=True), ours(x, training=True))  # the Dropout drew
    assert not ours.training
    summaries = []
    for model in (theirs, ours):
        model.summary(line_length=88)
        summaries.append(capsys.readouterr().out)
    assert summaries[1] == summaries[0]


def test_model_build_and_an_unbuilt_summary():
    ours = classifier_class(textrnn)(name="reviews")
    assert ours.name == "reviews" and ours.layers[0].name.startswith("embedding")
    with pytest.raises(NotBuiltError):
        ours.count_params()
    ours.build((None, T))
    assert ours.layers[0].output_shape == (None, T, 8) and ours.count_params() > 0


def test_what_files_cannot_hold_is_refused_before_training(tmp_path):
    theirs, ours = _pair()
    ours.compile("adam", "binary_crossentropy")
    for path in ("folder", "m.keras", "m.h5"):
        with pytest.raises(ConfigError, match="subclassed") as refused:
            ours.save(tmp_path / path)
        assert "\n" not in str(refused.value)
    with pytest.raises(ConfigError, match="subclassed"):
        ours.to_json()
    before = ours.get_weights()
    checkpoint = textrnn.callbacks.ModelCheckpoint(str(tmp_path / "best.keras"))
    with pytest.raises(ConfigError, match="subclassed"):
        ours.fit(X, Y, epochs=1, verbose=0, callbacks=[checkpoint])
    for a, b in zip(ours.get_weights(), before):
        np.testing.assert_array_equal(a, b)  # refused before the first step
    assert not list(tmp_path.iterdir())

    ours.fit(X, Y, epochs=1, verbose=0, callbacks=[
        textrnn.callbacks.ModelCheckpoint(str(tmp_path / "w.weights.h5"), save_weights_only=True)])
    again = classifier_class(textrnn)()
    again(X[:2])
    again.load_weights(tmp_path / "w.weights.h5")
    np.testing.assert_allclose(again.predict(X, verbose=0), ours.predict(X, verbose=0), atol=1e-6)


def test_a_model_class_without_call_and_unknown_arguments_are_refused():
    class NoCall(textrnn.Model):
        pass

    with pytest.raises(ConfigError, match="call"):
        NoCall()
    with pytest.raises(ConfigError, match="unknown argument"):
        textrnn.Model(colour="red")


def test_masks_ride_into_attention_inside_a_layer_of_ones_own():
    """keras.io's transformer block pattern with a padding mask: MultiHeadAttention inside a layer's
    call takes the query's and value's masks from the tensors, as Keras's."""
    def block_class(lib):
        L = lib.layers

        class Encoder(L.Layer):
            def __init__(self):
                super().__init__()
                self.embed = L.Embedding(50, 8, mask_zero=True)
                self.attend = L.MultiHeadAttention(2, 4)
                self.pool = L.GlobalAveragePooling1D()

            def call(self, ids):
                x = self.embed(ids)
                return self.pool(self.attend(x, x))

        return Encoder

    keras.utils.set_random_seed(0)
    theirs, ours = block_class(keras)(), block_class(textrnn)()
    want = keras.ops.convert_to_numpy(theirs(X))
    ours(torch.as_tensor(X))
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(ours(torch.as_tensor(X)).detach().numpy(), want, atol=1e-5)


def test_layers_made_in_a_build_of_the_models_own():
    class Built(textrnn.Model):
        def build(self, input_shape):
            self.embed = textrnn.layers.Embedding(50, 4)
            self.pool = textrnn.layers.GlobalAveragePooling1D()
            self.head = textrnn.layers.Dense(1)

        def call(self, inputs):
            return self.head(self.pool(self.embed(inputs)))

    model = Built()
    model.compile("adam", "mse")
    model.fit(X, Y, epochs=1, verbose=0)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Embedding", "GlobalAveragePooling1D", "Dense"]
    assert model.count_params() == 50 * 4 + 4 + 1
    explicit = Built()
    explicit.build((None, T))
    explicit(X[:2])
    assert len(explicit.layers) == 3  # built once


def test_model_trainable_false_freezes_its_layers_and_true_keeps_frozen_ones():
    frozen = classifier_class(textrnn)(trainable=False)
    frozen(X[:2])
    assert not frozen.trainable_weights and frozen.non_trainable_weights
    inputs = textrnn.Input((T,), dtype="int32")
    words = textrnn.layers.Embedding(50, 4, trainable=False)(inputs)
    graph = textrnn.Model(inputs, textrnn.layers.Dense(1)(textrnn.layers.GlobalAveragePooling1D()(words)))
    assert [w.shape for w in graph.non_trainable_weights] == [(50, 4)]  # (trainable=True froze nothing)
    textrnn.Model(inputs, graph.outputs, trainable=False)
    assert not graph.trainable_weights
