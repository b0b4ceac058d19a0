"""Keras 3's masked losses and metrics, against real Keras (PyTorch backend): where a model's
output carries a mask (a sequence output after `Embedding(mask_zero=True)` or `Masking`), the loss
is the mean over the steps it keeps, sample-weighted, and mean metrics count only those steps over
the epoch. A sequence tagger (the NER / POS shape of much published code), per-step sigmoids, a
seq2seq decoder, several metrics and outputs."""

import keras
import numpy as np
import pytest

import textrnn
from textrnn.training import masking
from twins import twins

RNG = np.random.default_rng(0)
LENGTHS = RNG.integers(1, 9, 40)  # uneven padding, so batches keep different shares of steps
X = np.zeros((40, 8), dtype="int64")
for row, length in enumerate(LENGTHS):
    X[row, :length] = RNG.integers(1, 30, length)  # post-padded, as taggers pad
TAGS = np.where(X > 0, X % 4, 0)


def _tagger(lib, head="TimeDistributed"):
    L = lib.layers
    dense = L.Dense(4, activation="softmax")
    return lib.Sequential([lib.Input((8,), dtype="int32"), L.Embedding(30, 8, mask_zero=True),
                           L.Bidirectional(L.LSTM(6, return_sequences=True)),
                           L.TimeDistributed(dense) if head == "TimeDistributed" else dense])


def _fit_both(theirs, ours, x, y, loss, metrics, **fit):
    histories = []
    for model, lib in ((theirs, keras), (ours, textrnn)):
        model.compile(lib.optimizers.Adam(0.02), loss, metrics=metrics)
        histories.append(model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0, **fit).history)
    assert sorted(histories[1]) == sorted(histories[0])
    for name, values in histories[0].items():
        np.testing.assert_allclose(histories[1][name], values, rtol=2e-4, atol=1e-6, err_msg=name)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-4)
    return histories[1]


@pytest.mark.parametrize("head", ["TimeDistributed", "Dense"])
def test_a_tagger_trains_on_the_kept_steps_as_kerass(head):
    theirs, ours = twins(lambda lib: _tagger(lib, head))
    history = _fit_both(theirs, ours, X, TAGS, "sparse_categorical_crossentropy", ["accuracy"],
                        validation_split=0.25)
    np.testing.assert_allclose(ours.evaluate(X, TAGS, verbose=0), theirs.evaluate(X, TAGS, verbose=0),
                               rtol=1e-4)
    # the validation accuracy is that of the kept steps alone
    pred = ours.predict(X).argmax(-1)
    kept = X > 0
    assert history["val_accuracy"][-1] == pytest.approx((pred == TAGS)[30:][kept[30:]].mean(), abs=1e-6)


def test_one_hot_labels_and_a_loss_as_a_metric_with_a_mask_as_kerass():
    theirs, ours = twins(_tagger)
    _fit_both(theirs, ours, X, np.eye(4, dtype="float32")[TAGS], "categorical_crossentropy",
              ["categorical_accuracy", "categorical_crossentropy"])


def test_per_step_sigmoids_with_a_masking_layer_as_kerass():
    def make(lib):
        L = lib.layers
        return lib.Sequential([lib.Input((8, 3)), L.Masking(), L.GRU(5, return_sequences=True),
                               L.Dense(1, activation="sigmoid")])

    x = RNG.normal(size=(40, 8, 3)).astype("float32")
    x[X == 0] = 0.0
    y = (RNG.random((40, 8, 1)) > 0.5).astype("float32")  # (Keras takes labels of the output's shape here)
    theirs, ours = twins(make)
    _fit_both(theirs, ours, x, y, "binary_crossentropy", ["acc", "mse"],
              validation_data=(x[:10], y[:10]))


def test_a_masked_decoder_beside_an_unmasked_output_as_kerass():
    """Two outputs: the decoder's steps (masked) and a class of the whole input (no mask)."""
    def make(lib):
        L = lib.layers
        ids = lib.Input((8,), dtype="int32")
        embedded = L.Embedding(30, 8, mask_zero=True)(ids)
        steps = L.LSTM(6, return_sequences=True)(embedded)
        tags = L.Dense(4, activation="softmax", name="tags")(steps)
        whole = L.Dense(1, activation="sigmoid", name="whole")(L.LSTM(3)(embedded))
        return lib.Model(ids, [tags, whole])

    theirs, ours = twins(make)
    y = [TAGS, (LENGTHS > 4).astype("float32")]
    _fit_both(theirs, ours, X, y, ["sparse_categorical_crossentropy", "binary_crossentropy"],
              [["accuracy"], ["accuracy"]])


def test_a_batch_whose_steps_are_all_masked_adds_nothing():
    import torch

    from textrnn.training import losses

    mask = torch.zeros(2, 3, dtype=torch.bool)
    y, p = torch.zeros(2, 3), torch.full((2, 3, 4), 0.25, requires_grad=True)
    loss = masking.masked_loss(losses.sparse_categorical_crossentropy, y, p, None, mask)
    assert loss.item() == 0.0 and loss.requires_grad
    assert masking.masked_mean_sums(losses.sparse_categorical_accuracy, y, p, mask).tolist() == [0.0, 0.0]


@pytest.mark.parametrize("masked", [True, False])
def test_sample_weights_per_time_step_as_kerass(masked):
    """Keras 2's sample_weight_mode="temporal" (Keras 3 reads it from the weights' shape): a weight
    per row and time step, with the mask's steps left out or without a mask."""
    def make(lib):
        L = lib.layers
        return lib.Sequential([lib.Input((8,), dtype="int32"), L.Embedding(30, 8, mask_zero=masked),
                               L.LSTM(6, return_sequences=True), L.Dense(4, activation="softmax")])

    weights = RNG.uniform(0.0, 2.0, X.shape).astype("float32")
    theirs, ours = twins(make)
    ours.compile("rmsprop", "sparse_categorical_crossentropy", sample_weight_mode="temporal")  # (Keras 2's)
    _fit_both(theirs, ours, X, TAGS, "sparse_categorical_crossentropy", ["accuracy"], sample_weight=weights,
              validation_data=(X[:10], TAGS[:10], weights[:10]))


def test_sample_weights_that_do_not_fit_are_refused_in_one_line():
    ours = _tagger(textrnn)
    ours.compile("rmsprop", "sparse_categorical_crossentropy")
    with pytest.raises(textrnn.errors.DataError, match=r"one per sample and time step \(40, steps\), got "
                                                       r"shape \(40, 2, 2\)"):
        ours.fit(X, TAGS, sample_weight=np.ones((40, 2, 2)), verbose=0)
    with pytest.raises(textrnn.errors.DataError, match=r"sample_weight of shape \(16, 3\) weighs time steps; "
                                                       r"the output's shape is \(16, 8, 4\)"):
        ours.fit(X, TAGS, sample_weight=np.ones((40, 3)), batch_size=16, verbose=0)
    with pytest.raises(textrnn.errors.ConfigError, match="sample_weight_mode must be None or 'temporal'"):
        ours.compile("rmsprop", "sparse_categorical_crossentropy", sample_weight_mode="sequence")
