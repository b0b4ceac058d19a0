"""The same model built twice, by real Keras and by textrnn, textrnn's given Keras's weights: where
most of the oracle tests start; and the two trained alike, where many of them end."""

import keras
import numpy as np

import textrnn


def twins(make):
    """(Keras's model, textrnn's) from `make(library)`, with equal weights in Keras's shapes."""
    keras.utils.set_random_seed(0)
    theirs, ours = make(keras), make(textrnn)
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()]
    ours.set_weights(theirs.get_weights())
    return theirs, ours


def train_both(theirs, ours, x, y, *, learning_rate=0.02, loss="binary_crossentropy", metrics=("acc",),
               weights_atol=1e-4):
    """Both compiled alike (Adam) and trained 2 epochs on the same rows in order: the loss
    histories equal (1e-4), and the weights after (`weights_atol`)."""
    for model, lib in ((theirs, keras), (ours, textrnn)):
        model.compile(lib.optimizers.Adam(learning_rate), loss, metrics=list(metrics))
    history = [m.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history["loss"]
               for m in (theirs, ours)]
    np.testing.assert_allclose(history[1], history[0], rtol=1e-4)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=weights_atol)
