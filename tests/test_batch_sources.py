"""fit / evaluate / predict of batches read one at a time, against real Keras 3 (PyTorch backend):
a `keras.utils.PyDataset` (Keras 2's `Sequence`), a Python generator with `steps_per_epoch`, a
torch DataLoader; Keras 2's `fit_generator` & co.; and the one-line refusals around them."""

import warnings

import keras
import numpy as np
import pytest
import torch

import textrnn
from textrnn.errors import ConfigError, DataError

RNG = np.random.default_rng(0)
X = RNG.integers(1, 40, (45, 12))
Y = (X[:, -1] > 20).astype("float32")
W = RNG.uniform(0.5, 2.0, len(X)).astype("float32")


def _model(lib):
    L = lib.layers
    model = lib.Sequential([lib.Input((12,), dtype="int32"), L.Embedding(40, 8), L.LSTM(6),
                            L.Dense(1, activation="sigmoid")])
    model.compile(lib.optimizers.Adam(0.02), "binary_crossentropy", metrics=["acc"])
    return model


def _pair():
    keras.utils.set_random_seed(0)
    theirs, ours = _model(keras), _model(textrnn)
    ours.set_weights(theirs.get_weights())
    return theirs, ours


def batches_class(lib, weighted=False):
    """A PyDataset of fixed batches, as Keras's guide writes one; it counts its epochs."""
    class Batches(lib.utils.PyDataset):
        def __init__(self, x, y, batch_size, **kwargs):
            super().__init__(**kwargs)
            self.x, self.y, self.batch_size, self.epochs_ended, self.read = x, y, batch_size, 0, []

        def __len__(self):
            return int(np.ceil(len(self.x) / self.batch_size))

        def __getitem__(self, index):
            self.read.append(index)
            rows = slice(index * self.batch_size, (index + 1) * self.batch_size)
            weights = W[:len(self.x)][rows]
            return (self.x[rows], self.y[rows], weights) if weighted else (self.x[rows], self.y[rows])

        def on_epoch_end(self):
            self.epochs_ended += 1

    return Batches


def _close(ours, theirs):
    assert sorted(ours) == sorted(theirs)
    for name, values in theirs.items():
        np.testing.assert_allclose(ours[name], values, rtol=1e-4, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("weighted", [False, True])
def test_a_pydataset_trains_validates_and_predicts_as_kerass(weighted):
    theirs, ours = _pair()
    histories, datasets = [], []
    for model, lib in ((theirs, keras), (ours, textrnn)):
        Batches = batches_class(lib, weighted)
        train, val = Batches(X[:36], Y[:36], 8), Batches(X[36:], Y[36:], 4)
        histories.append(model.fit(train, epochs=2, shuffle=False, validation_data=val, verbose=0).history)
        datasets.append(train)
    _close(histories[1], histories[0])
    assert datasets[1].epochs_ended == 2  # on_epoch_end after each epoch
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-4)
    np.testing.assert_allclose(ours.evaluate(batches_class(textrnn)(X, Y, 10), verbose=0),
                               theirs.evaluate(batches_class(keras)(X, Y, 10), verbose=0), rtol=1e-4)
    np.testing.assert_allclose(ours.predict(batches_class(textrnn)(X, Y, 10), verbose=0),
                               theirs.predict(batches_class(keras)(X, Y, 10), verbose=0), atol=1e-5)


def test_a_pydataset_is_shuffled_by_batch_each_epoch():
    ours = _model(textrnn)
    train = batches_class(textrnn)(X, Y, 5)
    ours.fit(train, epochs=2, verbose=0)
    first, second = train.read[-18:-9], train.read[-9:]
    assert sorted(first) == sorted(second) == list(range(9)) and first != second


def _endless(x, y, batch_size):
    while True:
        for start in range(0, len(x), batch_size):
            yield x[start:start + batch_size], y[start:start + batch_size]


def test_a_generator_with_steps_per_epoch_trains_as_kerass():
    theirs, ours = _pair()
    histories = [model.fit(_endless(X[:36], Y[:36], 8), steps_per_epoch=7, epochs=2, verbose=0,
                           validation_data=_endless(X[36:], Y[36:], 9), validation_steps=1).history
                 for model in (theirs, ours)]  # (7 batches an epoch: the generator runs on across epochs)
    _close(histories[1], histories[0])
    np.testing.assert_allclose(ours.evaluate(_endless(X, Y, 10), steps=5, verbose=0),
                               theirs.evaluate(_endless(X, Y, 10), steps=5, verbose=0), rtol=1e-4)
    np.testing.assert_allclose(ours.predict(_endless(X, Y, 10), steps=3, verbose=0),
                               theirs.predict(_endless(X, Y, 10), steps=3, verbose=0), atol=1e-5)


def _steps_seen(lib):
    """A callback of `lib` that counts the steps of each epoch, as callbacks see them."""
    class Seen(lib.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epochs = []

        def on_epoch_begin(self, epoch, logs=None):
            self.epochs.append(0)

        def on_train_batch_end(self, batch, logs=None):
            self.epochs[-1] += 1

    return Seen()


def test_arrays_with_steps_per_epoch_train_as_kerass():
    """Keras's steps_per_epoch over arrays: an epoch of 3 batches goes on through the same pass
    over the rows; a pass of 5 batches that runs out ends its epoch early, with Keras's warning,
    and the next epoch starts a new pass. validation_steps takes the first validation batches."""
    theirs, ours = _pair()
    histories, seen = [], []
    for model, lib in ((theirs, keras), (ours, textrnn)):
        steps = _steps_seen(lib)
        with pytest.warns(UserWarning, match="Your input ran out of data") as caught:
            histories.append(model.fit(X[:36], Y[:36], batch_size=8, steps_per_epoch=3, epochs=4,
                                       shuffle=False, validation_data=(X[36:], Y[36:]), validation_steps=1,
                                       validation_batch_size=4, callbacks=[steps], verbose=0).history)
        seen.append((steps.epochs, sum("ran out of data" in str(w.message) for w in caught)))
    assert seen[1] == seen[0] == ([3, 2, 3, 2], 2)
    _close(histories[1], histories[0])
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-4)


def test_evaluate_and_predict_of_arrays_with_steps_take_the_first_batches_as_kerass():
    theirs, ours = _pair()
    for model in (theirs, ours):
        model.fit(X, Y, batch_size=8, validation_split=0.2, validation_steps=1, shuffle=False, verbose=0)
    np.testing.assert_allclose(ours.evaluate(X, Y, batch_size=10, steps=2, verbose=0),
                               theirs.evaluate(X, Y, batch_size=10, steps=2, verbose=0), rtol=1e-4)
    np.testing.assert_allclose(ours.evaluate(X, Y, batch_size=10, steps=2, verbose=0),
                               ours.evaluate(X[:20], Y[:20], batch_size=10, verbose=0), rtol=1e-6)
    np.testing.assert_allclose(ours.predict(X, batch_size=10, steps=2),
                               theirs.predict(X, batch_size=10, steps=2, verbose=0), atol=1e-5)
    assert ours.predict(X, batch_size=10, steps=2).shape == (20, 1)
    with pytest.warns(UserWarning, match="Your input ran out of data"):  # more steps than batches: all rows
        assert ours.predict(X, batch_size=10, steps=9).shape == (45, 1)


def test_steps_over_passes_reshuffle_each_pass_and_leave_a_stopped_epochs_batches_to_the_next():
    from textrnn.training.array_steps import StepsOverPasses

    passes = []

    def new_pass():
        passes.append(np.random.default_rng(len(passes)).permutation(5).tolist())
        return passes[-1]

    steps = StepsOverPasses(new_pass, 2)
    taken = []
    for _ in range(4):
        assert steps.next_epoch_length() == (2 if len(taken) % 5 < 4 else 1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            taken += list(steps.epoch())
    assert taken == passes[0] + passes[1][:2] and passes[0] != passes[1]
    steps.next_epoch_length()
    for _ in steps.epoch():  # a callback stops the epoch after its first batch
        break
    assert steps.next_epoch_length() == 2 and list(steps.epoch()) == passes[1][3:]


def test_a_torch_dataloader_trains_as_kerass():
    theirs, ours = _pair()
    rows = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(Y))
    loader = torch.utils.data.DataLoader(rows, batch_size=8)
    _close(ours.fit(loader, epochs=2, verbose=0).history, theirs.fit(loader, epochs=2, verbose=0).history)
    np.testing.assert_allclose(ours.predict(loader, verbose=0), theirs.predict(loader, verbose=0), atol=1e-5)


def test_class_weight_weighs_batches_read_one_at_a_time_as_kerass():
    theirs, ours = _pair()
    histories = [model.fit(batches_class(lib)(X, Y, 8), class_weight={0: 1.0, 1: 3.0}, epochs=2,
                           shuffle=False, verbose=0).history
                 for model, lib in ((theirs, keras), (ours, textrnn))]
    _close(histories[1], histories[0])


def test_keras2s_generator_methods_train_as_fit_does():
    _, ours = _pair()
    _, again = _pair()
    kept = ours.fit_generator(_endless(X, Y, 9), steps_per_epoch=5, epochs=2, verbose=0, workers=4,
                              use_multiprocessing=True).history
    _close(kept, again.fit(_endless(X, Y, 9), steps_per_epoch=5, epochs=2, verbose=0).history)
    assert ours.evaluate_generator(_endless(X, Y, 9), steps=5) == again.evaluate(X, Y, batch_size=9,
                                                                                 verbose=0)
    np.testing.assert_allclose(ours.predict_generator(_endless(X, Y, 9), steps=5),
                               again.predict(X, verbose=0), atol=1e-6)


def test_what_does_not_fit_batches_read_one_at_a_time_is_refused_in_one_line():
    model = _model(textrnn)

    def finite():
        yield X[:8], Y[:8]
        yield X[8:16], Y[8:16]

    with pytest.raises(DataError, match="ran out of batches after 0 of this epoch's 2"):
        model.fit(finite(), steps_per_epoch=2, epochs=2, verbose=0)  # (Keras: "Your input ran out of data")
    with pytest.raises(ConfigError, match="y comes from its batches"):
        model.fit(_endless(X, Y, 8), Y, steps_per_epoch=2, verbose=0)
    with pytest.raises(ConfigError, match="validation_split needs arrays"):
        model.fit(_endless(X, Y, 8), steps_per_epoch=2, validation_split=0.2, verbose=0)
    with pytest.raises(ConfigError, match="fit: steps_per_epoch must be a whole number >= 1, got 0"):
        model.fit(X, Y, steps_per_epoch=0, verbose=0)
    with pytest.raises(ConfigError, match="fit: validation_steps must be a whole number >= 1, got 2.5"):
        model.fit(X, Y, validation_split=0.2, validation_steps=2.5, verbose=0)
    with pytest.raises(ConfigError, match="predict: steps must be a whole number >= 1"):
        model.predict(X, steps=-1)
    with pytest.raises(ConfigError, match="steps must be a whole number >= 1"):
        model.evaluate(_endless(X, Y, 8), steps=0, verbose=0)
    with pytest.raises(DataError, match="the generator gave no batch"):
        model.fit(iter([]), verbose=0)
    with pytest.raises(ConfigError, match="workers= is not supported"):
        model.fit(X, Y, workers=4, verbose=0)


def test_keras2s_predict_classes_predict_proba_and_metrics_names():
    """Keras 2's Sequential methods, common in older published code (gone from Keras since
    TensorFlow 2.6; Keras 3's metrics_names says "compile_metrics" for them all)."""
    _, ours = _pair()
    probs = ours.predict(X, verbose=0)
    np.testing.assert_array_equal(ours.predict_classes(X), (probs > 0.5).astype("int32"))
    np.testing.assert_array_equal(ours.predict_proba(X), probs)
    scores = ours.evaluate(X, Y, verbose=0)
    assert ours.metrics_names == ["loss", "acc"] and len(scores) == 2
    assert dict(zip(ours.metrics_names, scores)) == ours.evaluate(X, Y, verbose=0, return_dict=True)
    L = textrnn.layers
    three = textrnn.Sequential([textrnn.Input((12,), dtype="int32"), L.Embedding(40, 8), L.GRU(4),
                                L.Dense(3, activation="softmax")])
    three.compile("adam", "categorical_crossentropy", metrics=["acc", textrnn.metrics.AUC()])
    np.testing.assert_array_equal(three.predict_classes(X), three.predict(X, verbose=0).argmax(-1))
    labels = textrnn.utils.to_categorical(X[:, 0] % 3, 3)
    scores = three.evaluate(X, labels, verbose=0)
    assert len(three.metrics_names) == len(scores) == 3
    assert dict(zip(three.metrics_names, scores)) == three.evaluate(X, labels, verbose=0, return_dict=True)


def test_batches_read_one_at_a_time_validate_on_arrays_as_kerass():
    theirs, ours = _pair()
    histories = [model.fit(batches_class(lib)(X[:36], Y[:36], 8), epochs=2, shuffle=False, verbose=0,
                           validation_data=(X[36:], Y[36:])).history
                 for model, lib in ((theirs, keras), (ours, textrnn))]
    _close(histories[1], histories[0])
