"""Layers of one's own, written as Keras's (a `Layer` subclass with build / add_weight / call, on
`keras.ops` or Keras 2's backend functions), against real Keras: the attention layer of many
published LSTM classifiers, a masked mean, weights that do not train, a regularized weight."""

import keras
import numpy as np
import pytest

import textrnn
from textrnn import backend as K
from textrnn.errors import ConfigError
from twins import train_both, twins

RNG = np.random.default_rng(0)
T = 10
X = RNG.integers(1, 40, (40, T))
X[::3, :4] = 0  # pre-padded rows
Y = (X[:, -1] > 20).astype("float32")


def attention_layer(lib, with_shape=True):
    """The attention over time of many published LSTM text classifiers (a weight per feature, a
    bias per step, softmax over the steps, the weighted sum), in Keras 3's ops."""
    ops = lib.ops

    class TemporalAttention(lib.layers.Layer):
        def build(self, input_shape):
            self.W = self.add_weight(name="att_weight", shape=(input_shape[-1], 1),
                                     initializer="glorot_uniform")
            self.b = self.add_weight(name="att_bias", shape=(input_shape[1], 1), initializer="zeros")
            super().build(input_shape)

        def call(self, x):
            scores = ops.squeeze(ops.tanh(ops.matmul(x, self.W) + self.b), axis=-1)
            weights = ops.expand_dims(ops.softmax(scores), axis=-1)
            return ops.sum(x * weights, axis=1)

    if with_shape:
        TemporalAttention.compute_output_shape = lambda self, shape: (shape[0], shape[-1])
    return TemporalAttention


class Keras2Attention(textrnn.layers.Layer):
    """The same layer as Keras 2 code writes it: `K.dot`, `K.squeeze`, `K.softmax`, `K.sum`."""

    def build(self, input_shape):
        self.W = self.add_weight(name="att_weight", shape=(input_shape[-1], 1), initializer="normal")
        self.b = self.add_weight(name="att_bias", shape=(input_shape[1], 1), initializer="zeros")
        super().build(input_shape)

    def call(self, x):
        e = K.squeeze(K.tanh(K.dot(x, self.W) + self.b), axis=-1)
        a = K.expand_dims(K.softmax(e))
        return K.sum(x * a, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])


def _lstm_with(lib, layer):
    L = lib.layers
    return lib.Sequential([lib.Input((T,), dtype="int32"), L.Embedding(40, 8),
                           L.LSTM(6, return_sequences=True), layer, L.Dense(1, activation="sigmoid")])


def _train_both(theirs, ours):
    train_both(theirs, ours, X, Y)


@pytest.mark.parametrize("with_shape", [True, False])
def test_a_published_attention_layer_trains_as_kerass(tmp_path, with_shape):
    theirs, ours = twins(lambda lib: _lstm_with(lib, attention_layer(lib, with_shape)()))
    np.testing.assert_allclose(ours.predict(X, verbose=0), theirs.predict(X, verbose=0), atol=1e-5)
    summaries = []
    for model in (theirs, ours):
        lines = []
        model.summary(print_fn=lines.append)
        summaries.append("\n".join(lines))
    assert "(TemporalAttention)" in summaries[1] and "Total params: 703" in summaries[1]
    assert [line for line in summaries[1].splitlines() if "params" in line] == [
        line for line in summaries[0].splitlines() if "params" in line]
    _train_both(theirs, ours)
    ours.save(tmp_path / "model")  # textrnn's folder: the class is found by its name, as Keras's
    loaded = textrnn.models.load_model(tmp_path / "model")  # custom_objects would find it
    np.testing.assert_allclose(loaded.predict(X, verbose=0), ours.predict(X, verbose=0), atol=1e-6)
    with pytest.raises(ConfigError, match="TemporalAttention"):
        ours.save(tmp_path / "model.keras")


def test_keras2_backend_functions_compute_what_keras_ops_do():
    ops_model = _lstm_with(textrnn, attention_layer(textrnn)())
    k2_model = _lstm_with(textrnn, Keras2Attention())
    k2_model.set_weights(ops_model.get_weights())
    np.testing.assert_allclose(k2_model.predict(X, verbose=0), ops_model.predict(X, verbose=0), atol=1e-6)
    x = np.arange(24, dtype="float32").reshape(2, 3, 4)
    assert K.batch_dot(x, np.ones((2, 4, 5), "float32")).shape == (2, 3, 5)
    assert tuple(K.permute_dimensions(x, (0, 2, 1)).shape) == (2, 4, 3)
    assert tuple(K.concatenate([x, x]).shape) == (2, 3, 8)  # Keras 2: the last axis


def masked_mean(lib):
    ops = lib.ops

    class MaskedMean(lib.layers.Layer):
        """The mean over the steps the mask keeps (call takes the mask)."""

        def call(self, x, mask=None):
            if mask is None:
                return ops.mean(x, axis=1)
            keep = ops.expand_dims(ops.cast(mask, x.dtype), axis=-1)
            return ops.sum(x * keep, axis=1) / ops.maximum(ops.sum(keep, axis=1), 1.0)

    return MaskedMean


def test_a_layer_of_ones_own_gets_the_mask_and_drops_it_as_kerass():
    def make(lib):
        L = lib.layers
        return lib.Sequential([lib.Input((T,), dtype="int32"), L.Embedding(40, 8, mask_zero=True),
                               L.LSTM(6, return_sequences=True), masked_mean(lib)(),
                               L.Dense(1, activation="sigmoid")])

    theirs, ours = twins(make)
    np.testing.assert_allclose(ours.predict(X, verbose=0), theirs.predict(X, verbose=0), atol=1e-5)
    _train_both(theirs, ours)

    def passes(lib):  # a layer of one's own that keeps the sequence: the mask stops there
        class Double(lib.layers.Layer):
            def call(self, x):
                return x * 2.0

        L = lib.layers
        return lib.Sequential([lib.Input((T,), dtype="int32"), L.Embedding(40, 8, mask_zero=True), Double(),
                               L.GlobalAveragePooling1D(), L.Dense(1, activation="sigmoid")])

    theirs, ours = twins(passes)
    np.testing.assert_allclose(ours.predict(X, verbose=0), theirs.predict(X, verbose=0), atol=1e-5)


def test_weights_that_do_not_train_and_regularized_ones_are_kerass():
    def make(lib):
        class Scaled(lib.layers.Layer):
            def build(self, input_shape):
                self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones",
                                             regularizer=lib.regularizers.L2(0.1), name="scale")
                self.shift = self.add_weight(shape=(input_shape[-1],), initializer="zeros", trainable=False,
                                             name="shift")

            def call(self, x):
                return x * self.scale + self.shift

            def compute_output_shape(self, input_shape):
                return input_shape

        L = lib.layers
        return lib.Sequential([lib.Input((T,), dtype="int32"), L.Embedding(40, 8), L.GRU(6), Scaled(),
                               L.Dense(1, activation="sigmoid")])

    theirs, ours = twins(make)
    assert len(ours.trainable_weights) == len(theirs.trainable_weights)
    assert len(ours.non_trainable_weights) == len(theirs.non_trainable_weights) == 1
    _train_both(theirs, ours)
    penalty = float(keras.ops.convert_to_numpy(theirs.losses[0]))
    assert float(ours.losses[0]) == pytest.approx(penalty, rel=1e-5)


def test_a_layer_of_ones_own_says_what_is_wrong_in_one_line():
    class NoCall(textrnn.layers.Layer):
        pass

    with pytest.raises(NotImplementedError, match="NoCall defines neither call"):
        NoCall()(np.ones((2, 3), "float32"))

    class Pair(textrnn.layers.Layer):
        def call(self, x):
            return x, x

    with pytest.raises(ConfigError, match="gives tuple"):
        Pair()(textrnn.Input((3,)))

    class Constrained(textrnn.layers.Layer):
        def build(self, input_shape):
            self.add_weight(shape=(3,), constraint="non_neg")

        def call(self, x):
            return x

    with pytest.raises(ConfigError, match="constraints are not supported"):
        Constrained()(textrnn.Input((3,)))


@pytest.mark.parametrize("name, args", [
    ("sum", {"axis": 1}), ("sum", {}), ("mean", {"axis": (0, 2), "keepdims": True}), ("max", {"axis": -1}),
    ("min", {}), ("prod", {"axis": 0}), ("softmax", {"axis": 1}), ("log_softmax", {}), ("tanh", {}),
    ("sigmoid", {}), ("relu", {}), ("exp", {}), ("square", {}), ("abs", {}), ("sign", {}), ("negative", {}),
    ("gelu", {}), ("silu", {}), ("erf", {}), ("squeeze", {"axis": None}), ("expand_dims", {"axis": 1}),
    ("reshape", {"newshape": (2, -1)}), ("transpose", {"axes": (1, 0, 2)}), ("transpose", {}),
    ("swapaxes", {"axis1": 0, "axis2": 2}), ("argmax", {"axis": -1}), ("cumsum", {"axis": 1}),
    ("clip", {"x_min": -0.5, "x_max": 0.5}), ("repeat", {"repeats": 2, "axis": 1}), ("ones_like", {}),
    ("flip", {"axis": 1}), ("flip", {}),
])
def test_keras_ops_are_kerass(name, args):
    x = np.random.default_rng(3).normal(size=(2, 3, 4)).astype("float32")
    expected = keras.ops.convert_to_numpy(getattr(keras.ops, name)(x, **args))
    got = getattr(textrnn.ops, name)(x, **args)
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-5, atol=1e-6)


def test_keras_ops_of_two_inputs_are_kerass():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(2, 3, 4)).astype("float32"), rng.normal(size=(2, 4, 5)).astype("float32")
    for name, args in (("matmul", (a, b)), ("einsum", ("btd,bdk->btk", a, b)), ("maximum", (a, a[::-1])),
                       ("concatenate", ([a, a],)), ("stack", ([a, a], 1)), ("where", (a > 0, a, -a)),
                       ("tensordot", (a, b[0], 1)), ("take", (a, np.array([2, 0]), 1))):
        expected = keras.ops.convert_to_numpy(getattr(keras.ops, name)(*args))
        got = np.asarray(getattr(textrnn.ops, name)(*args))
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6, err_msg=name)


def scorer_layer(lib):
    """A layer of one's own that holds Keras layers (two Dense) beside a weight of its own."""
    ops = lib.ops

    class Scorer(lib.layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.proj = lib.layers.Dense(units, activation="tanh")
            self.score = lib.layers.Dense(1)

        def build(self, input_shape):
            self.bias = self.add_weight(name="bias", shape=(1,), initializer="zeros")

        def call(self, x):
            weights = ops.softmax(self.score(self.proj(x)) + self.bias, axis=1)
            return ops.sum(x * weights, axis=1)

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    return Scorer


def test_a_layer_holding_keras_layers_counts_and_trains_their_weights_as_kerass(tmp_path):
    theirs, ours = twins(lambda lib: _lstm_with(lib, scorer_layer(lib)(5)))
    assert ours.count_params() == theirs.count_params() == 729
    np.testing.assert_allclose(ours.predict(X, verbose=0), theirs.predict(X, verbose=0), atol=1e-5)
    _train_both(theirs, ours)
    ours.save(tmp_path / "model")
    loaded = textrnn.models.load_model(tmp_path / "model")
    assert loaded.layers[2].units == 5
    np.testing.assert_allclose(loaded.predict(X, verbose=0), ours.predict(X, verbose=0), atol=1e-6)
    ours.layers[2].trainable = False  # as Keras's: the layers it holds stop training too
    assert ours.layers[2].proj.trainable is False and len(ours.trainable_weights) == len(theirs.weights) - 5


def test_a_weight_named_as_an_attribute_is_refused_in_one_line():
    class Clash(textrnn.layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.add_weight(name="units", shape=(self.units,))

        def call(self, x):
            return x

    with pytest.raises(ConfigError, match="names an attribute the layer has already"):
        Clash(3)(textrnn.Input((3,)))
