"""The same model built twice, by real Keras and by textrnn, textrnn's given Keras's weights: where
most of the oracle tests start."""

import keras

import textrnn


def twins(make):
    """(Keras's model, textrnn's) from `make(library)`, with equal weights in Keras's shapes."""
    keras.utils.set_random_seed(0)
    theirs, ours = make(keras), make(textrnn)
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()]
    ours.set_weights(theirs.get_weights())
    return theirs, ours
