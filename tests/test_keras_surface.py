"""Smaller parts of Keras's API that published text code uses, against real Keras: every activation
by name, the pooling layers' short names, loss and metric functions given as objects, losses and
top-k accuracies as metrics, the recurrent layers' execution arguments, `Sequential.pop` (a new
head on a trained body), `clone_model`, and `to_json` / `model_from_json` both ways."""

import json

import keras
import numpy as np
import pytest
import torch

import textrnn
from textrnn.errors import ConfigError

RNG = np.random.default_rng(0)
X = RNG.integers(1, 30, (40, 8))
Y = (X[:, 0] > 15).astype("float32")
CLASSES = RNG.integers(0, 10, 40)


@pytest.mark.parametrize("name", ["elu", "selu", "gelu", "silu", "swish", "softplus", "softsign",
                                  "leaky_relu", "relu6", "exponential", "mish", "hard_silu", "hard_sigmoid",
                                  "log_softmax", "relu", "tanh", "sigmoid", "softmax", "linear"])
def test_activations_are_kerass(name):
    values = np.linspace(-6, 6, 97, dtype="float32").reshape(1, -1)
    theirs = keras.ops.convert_to_numpy(keras.activations.get(name)(values))
    ours = textrnn.layers.activations.get(name)(torch.from_numpy(values)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_short_names_of_the_pooling_layers_are_the_same_classes():
    for short, long in (("GlobalMaxPool1D", "GlobalMaxPooling1D"), ("MaxPool1D", "MaxPooling1D"),
                        ("GlobalAvgPool1D", "GlobalAveragePooling1D"), ("AvgPool1D", "AveragePooling1D")):
        assert getattr(textrnn.layers, short) is getattr(textrnn.layers, long)
        assert (getattr(keras.layers, short) is getattr(keras.layers, long))  # as in Keras


def _pair(head=(1, "sigmoid"), **compile_args):
    keras.utils.set_random_seed(0)
    models = []
    for lib in (keras, textrnn):
        L = lib.layers
        model = lib.Sequential([lib.Input((8,), dtype="int32"), L.Embedding(30, 8),
                                L.GRU(6, unroll=False, use_cudnn="auto"),
                                L.Dense(head[0], activation=head[1])])
        args = {k: (v(lib) if callable(v) else v) for k, v in compile_args.items()}
        model.compile(optimizer=lib.optimizers.RMSprop(0.01), **args)
        models.append(model)
    models[1].set_weights(models[0].get_weights())
    return models


@pytest.mark.parametrize("head, labels, compile_args", [
    ((1, "sigmoid"), Y, {"loss": lambda lib: lib.losses.binary_crossentropy,
                         "metrics": lambda lib: [lib.metrics.binary_accuracy, "mae", "mse"]}),
    ((1, "sigmoid"), Y[:, None], {"loss": "mse", "metrics": ["binary_crossentropy", "mean_absolute_error"]}),
    ((10, "softmax"), CLASSES, {"loss": "sparse_categorical_crossentropy",
                                "metrics": ["sparse_top_k_categorical_accuracy", "accuracy"]}),
    ((10, "softmax"), np.eye(10)[CLASSES], {"loss": "categorical_crossentropy",
                                            "metrics": ["top_k_categorical_accuracy"]}),
])
def test_metrics_by_function_and_losses_as_metrics_log_as_kerass(head, labels, compile_args):
    theirs, ours = _pair(head, **compile_args)
    history = [m.fit(X, labels, batch_size=8, epochs=2, shuffle=False, validation_split=0.25,
                     verbose=0).history for m in (theirs, ours)]
    assert sorted(history[1]) == sorted(history[0])
    for name, values in history[0].items():
        np.testing.assert_allclose(history[1][name], values, rtol=1e-4, err_msg=name)


def test_recurrent_layers_take_kerass_execution_arguments():
    layer = textrnn.layers.LSTM(4, implementation=1, unroll=True, use_cudnn=False, seed=3, stateful=False)
    assert layer.units == 4 and not layer.stateful


def test_pop_puts_a_new_head_on_a_trained_body():
    """The lecture's transfer: keep the trained embedding and recurrent layer, train a new head."""
    theirs, ours = _pair(loss="binary_crossentropy")
    for model, lib in ((theirs, keras), (ours, textrnn)):
        model.fit(X, Y, batch_size=8, epochs=1, shuffle=False, verbose=0)
        popped = model.pop()
        assert isinstance(popped, lib.layers.Dense)
        model.layers[0].trainable = False
        model.add(lib.layers.Dense(10, activation="softmax"))
        model.compile(lib.optimizers.RMSprop(0.01), "sparse_categorical_crossentropy")
    ours.layers[-1].set_weights(theirs.layers[-1].get_weights())
    frozen = ours.layers[0].get_weights()[0].copy()
    history = [m.fit(X, CLASSES, batch_size=8, epochs=2, shuffle=False, verbose=0).history["loss"]
               for m in (theirs, ours)]
    np.testing.assert_allclose(history[1], history[0], rtol=1e-4)
    np.testing.assert_array_equal(ours.layers[0].get_weights()[0], frozen)
    assert ours.count_params() == theirs.count_params()
    with pytest.raises(ConfigError, match="no layers"):
        textrnn.Sequential().pop()


def test_clone_model_has_the_architecture_and_new_weights():
    _, ours = _pair(loss="binary_crossentropy")
    clone = textrnn.models.clone_model(ours)
    assert [type(layer) for layer in clone.layers] == [type(layer) for layer in ours.layers]
    assert clone.count_params() == ours.count_params() and not clone.compiled
    assert not np.allclose(clone.layers[1].get_weights()[0], ours.layers[1].get_weights()[0])


def test_to_json_and_model_from_json_cross_both_ways():
    theirs, ours = _pair(loss="binary_crossentropy")
    from_keras = textrnn.models.model_from_json(theirs.to_json())
    assert [layer.name for layer in from_keras.layers] == [layer.name for layer in theirs.layers]
    assert from_keras.count_params() == theirs.count_params()
    from_ours = keras.models.model_from_json(ours.to_json(indent=2))
    assert [type(la).__name__ for la in from_ours.layers] == [type(la).__name__ for la in ours.layers]
    assert from_ours.count_params() == ours.count_params()
    assert json.loads(ours.to_json())["class_name"] == "Sequential"
    with pytest.raises(ConfigError, match="not a JSON model description"):
        textrnn.models.model_from_json("{not json")
