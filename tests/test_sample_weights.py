"""fit's `class_weight` and `sample_weight`, evaluate's `sample_weight`, `validation_data` with
weights and `validation_freq`, against real Keras: the weights weigh the loss (Keras's
"sum_over_batch_size"), not the metrics; validation_split splits the weights too; class weights
apply to the training rows only. Arguments textrnn does not take are refused in one line."""

import keras
import numpy as np
import pytest

import textrnn
from textrnn.errors import ConfigError, DataError

RNG = np.random.default_rng(0)
X = RNG.integers(1, 50, (40, 12))
Y = (X[:, 0] > 30).astype("float32")  # about a third positive
WEIGHTS = RNG.random(40).astype("float32") * 2


def _model(lib, head=("sigmoid", 1)):
    L = lib.layers
    return lib.Sequential([lib.Input((12,), dtype="int32"), L.Embedding(50, 8), L.GRU(6),
                           L.Dense(head[1], activation=head[0])])


def _both(loss="binary_crossentropy", head=("sigmoid", 1)):
    keras.utils.set_random_seed(0)
    theirs, ours = _model(keras, head), _model(textrnn, head)
    ours.set_weights(theirs.get_weights())
    for model, lib in ((theirs, keras), (ours, textrnn)):
        model.compile(lib.optimizers.RMSprop(0.01), loss, metrics=["accuracy"])
    return theirs, ours


@pytest.mark.parametrize("fit", [
    {"class_weight": {0: 1.0, 1: 3.0}, "validation_split": 0.25},
    {"sample_weight": WEIGHTS, "validation_split": 0.25},
    {"sample_weight": WEIGHTS, "validation_data": (X[:12], Y[:12], WEIGHTS[:12]), "validation_freq": 2},
])
def test_weighted_training_is_kerass(fit):
    theirs, ours = _both()
    history = [m.fit(X, Y, batch_size=8, epochs=2, shuffle=False, verbose=0, **fit).history
               for m in (theirs, ours)]
    assert list(history[1]) == list(history[0])
    for name, values in history[0].items():
        np.testing.assert_allclose(history[1][name], values, rtol=1e-4, err_msg=name)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-4)


def test_weighted_evaluation_and_batches_are_kerass():
    labels = RNG.integers(0, 3, 40)
    theirs, ours = _both("sparse_categorical_crossentropy", head=("softmax", 3))
    np.testing.assert_allclose(ours.evaluate(X, labels, sample_weight=WEIGHTS, verbose=0),
                               theirs.evaluate(X, labels, sample_weight=WEIGHTS, verbose=0), rtol=1e-5)
    np.testing.assert_allclose(ours.train_on_batch(X[:8], labels[:8], class_weight={2: 5.0}),
                               theirs.train_on_batch(X[:8], labels[:8], class_weight={2: 5.0}), rtol=1e-5)
    np.testing.assert_allclose(ours.test_on_batch(X, labels, sample_weight=WEIGHTS),
                               theirs.test_on_batch(X, labels, sample_weight=WEIGHTS), rtol=1e-5)


def test_what_fit_does_not_take_is_refused_in_one_line():
    _, ours = _both()
    with pytest.raises(ConfigError, match="class_weight or sample_weight, not both"):
        ours.fit(X, Y, class_weight={0: 1.0}, sample_weight=WEIGHTS, verbose=0)
    with pytest.raises(DataError, match=r"sample_weight: expected one number per sample \(40\)"):
        ours.fit(X, Y, sample_weight=WEIGHTS[:5], verbose=0)
    with pytest.raises(ConfigError, match="fit: unknown argument epoch="):
        ours.fit(X, Y, epoch=3)
    with pytest.raises(ConfigError, match="fit: steps_per_epoch must be a whole number >= 1, got '5'"):
        ours.fit(X, Y, steps_per_epoch="5")
    ours.fit(X, Y, steps_per_epoch=None, verbose=0)  # Keras's defaults spelled out still run
    with pytest.raises(ConfigError, match="validation_freq must be a whole number"):
        ours.fit(X, Y, validation_freq=[1, 2])
    ours.compile("rmsprop", "binary_crossentropy", metrics=["acc"], run_eagerly=True, jit_compile=False,
                 steps_per_execution=4)  # how Keras runs, not what it computes
    with pytest.raises(ConfigError, match="compile: weighted_metrics= is not supported"):
        ours.compile("rmsprop", "binary_crossentropy", weighted_metrics=["acc"])
    with pytest.raises(ConfigError, match="compile: unknown argument metric="):
        ours.compile("rmsprop", "binary_crossentropy", metric=["acc"])


def test_sample_weights_weigh_every_outputs_loss_as_kerass():
    from test_functional import _tickets

    keras.backend.clear_session()
    textrnn.backend.clear_session()
    theirs, ours = _tickets(keras), _tickets(textrnn)
    ours.set_weights(theirs.get_weights())
    x = [X[:, :7], X[:, 5:], RNG.integers(0, 2, (40, 5)).astype("float32")]
    y = [Y[:, None], RNG.integers(0, 3, 40)]
    for model, lib in ((theirs, keras), (ours, textrnn)):
        model.compile(lib.optimizers.RMSprop(0.01),
                      ["binary_crossentropy", "sparse_categorical_crossentropy"],
                      loss_weights=[1.0, 0.5], metrics=[["accuracy"], ["accuracy"]])
    history = [m.fit(x, y, sample_weight=WEIGHTS, batch_size=8, epochs=1, shuffle=False,
                     validation_split=0.25, verbose=0).history for m in (theirs, ours)]
    for name, values in history[0].items():
        np.testing.assert_allclose(history[1][name], values, rtol=1e-4, err_msg=name)
