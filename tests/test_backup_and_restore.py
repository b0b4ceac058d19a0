"""Keras's BackupAndRestore: a fit stopped by a crash goes on, in a new fit, from the last epoch it
finished, with the weights and optimizer state it had then, so it ends where an unbroken run does;
the backup is written whole and removed (only its own files) when training ends."""

import numpy as np
import pytest

import textrnn
from textrnn.errors import ConfigError, DataError

RNG = np.random.default_rng(0)
X = RNG.integers(1, 40, (64, 10))
Y = (X[:, 0] > 20).astype("float32")


def _model():
    textrnn.utils.set_random_seed(0)
    model = textrnn.Sequential([textrnn.Input((10,), dtype="int32"), textrnn.layers.Embedding(40, 8),
                                textrnn.layers.GRU(6), textrnn.layers.Dense(1, activation="sigmoid")])
    model.compile(textrnn.optimizers.Adam(0.01), "binary_crossentropy", metrics=["accuracy"])
    return model


class Crash(textrnn.callbacks.Callback):
    def __init__(self, at_epoch):
        self.at_epoch = at_epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at_epoch:
            raise RuntimeError("power cut")


def _fit(model, callbacks):
    return model.fit(X, Y, batch_size=16, epochs=6, shuffle=False, verbose=0, callbacks=callbacks)


def test_a_crashed_fit_goes_on_from_its_last_epoch_and_ends_as_an_unbroken_one(tmp_path):
    unbroken = _model()
    whole = _fit(unbroken, []).history["loss"]

    backup = tmp_path / "backup"
    model = _model()
    with pytest.raises(RuntimeError, match="power cut"):
        _fit(model, [textrnn.callbacks.BackupAndRestore(str(backup), save_freq="epoch"), Crash(4)])
    assert (backup / "latest.weights.h5").exists()
    again = _model()  # a new process would make the model anew
    history = _fit(again, [textrnn.callbacks.BackupAndRestore(str(backup))])
    assert history.epoch == [4, 5] and len(history.history["loss"]) == 2  # as Keras's example
    np.testing.assert_allclose(history.history["loss"], whole[4:], rtol=1e-5)
    for a, b in zip(again.get_weights(), unbroken.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert not backup.exists()  # deleted once training ended


def test_only_its_own_files_are_deleted_and_a_broken_backup_is_one_line(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    _fit(_model(), [textrnn.callbacks.BackupAndRestore(str(tmp_path))])
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]

    (tmp_path / "latest.weights.h5").write_bytes(b"not hdf5")
    with pytest.raises(DataError, match="backup cannot be read") as refused:
        _fit(_model(), [textrnn.callbacks.BackupAndRestore(str(tmp_path))])
    assert "\n" not in str(refused.value)
    with pytest.raises(ConfigError, match="save_freq"):
        textrnn.callbacks.BackupAndRestore(str(tmp_path), save_freq="often")


def test_double_checkpoint_falls_back_to_the_previous_backup(tmp_path):
    model = _model()
    with pytest.raises(RuntimeError):
        _fit(model, [textrnn.callbacks.BackupAndRestore(str(tmp_path), double_checkpoint=True), Crash(3)])
    (tmp_path / "latest.weights.h5").write_bytes(b"torn")  # the latest copy spoiled
    history = _fit(_model(), [textrnn.callbacks.BackupAndRestore(str(tmp_path), double_checkpoint=True)])
    assert history.epoch == [2, 3, 4, 5]  # from the epoch before


def test_a_backup_every_few_batches_restarts_the_epoch_it_was_in(tmp_path):
    """save_freq=3 of 4 batches an epoch: the last backup before the crash at epoch 4 was taken in
    epoch 3 (its third batch), so training starts epoch 3 again from those weights, as Keras's."""
    with pytest.raises(RuntimeError):
        _fit(_model(), [textrnn.callbacks.BackupAndRestore(str(tmp_path), save_freq=3), Crash(4)])
    history = _fit(_model(), [textrnn.callbacks.BackupAndRestore(str(tmp_path), save_freq=3)])
    assert history.epoch == [3, 4, 5]
