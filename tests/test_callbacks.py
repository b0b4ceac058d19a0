"""Keras's learning-rate and logging callbacks, driven with the same epochs' logs as real Keras's."""

from types import SimpleNamespace

import keras
import numpy as np
import pytest

from textrnn import layers as L
from textrnn.errors import ConfigError
from textrnn.models import Sequential
from textrnn.training.callbacks import (
    CSVLogger,
    EarlyStopping,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
    TensorBoard,
    TerminateOnNaN,
    get_learning_rate,
)
from textrnn.training.optimizers import SGD, Adam

VAL_LOSS = [1.0, 0.9, 0.95, 0.96, 0.97, 0.5, 0.6, 0.7, 0.8, 0.85, 0.4, 0.41]


def _model(optimizer="rmsprop"):
    model = Sequential([L.Embedding(20, 4), L.LSTM(3), L.Dense(1, activation="sigmoid")])
    model.build((None, 6))
    model.compile(optimizer, "binary_crossentropy", ["acc"])
    return model


def _keras_stub(rate):
    """What Keras's callbacks read and write of a model: optimizer.learning_rate."""
    return SimpleNamespace(optimizer=SimpleNamespace(learning_rate=rate))


def _drive(callback, model, epochs_logs):
    """Epoch begin / end with the given logs; the rate after each epoch."""
    callback.set_model(model)
    callback.on_train_begin()
    rates = []
    for epoch, logs in enumerate(epochs_logs):
        callback.on_epoch_begin(epoch)
        callback.on_epoch_end(epoch, logs)
        rates.append(logs.get("learning_rate"))
    return rates


@pytest.mark.parametrize("kwargs", [dict(patience=2, factor=0.5),
                                    dict(patience=1, factor=0.2, cooldown=2, min_lr=2e-4),
                                    dict(patience=2, factor=0.5, min_delta=0.1, mode="min")])
def test_reduce_lr_on_plateau_follows_keras(kwargs):
    ours = _drive(ReduceLROnPlateau(**kwargs), _model(), [{"val_loss": v} for v in VAL_LOSS])
    theirs = _drive(keras.callbacks.ReduceLROnPlateau(**kwargs), _keras_stub(0.001),
                    [{"val_loss": v} for v in VAL_LOSS])
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    assert min(ours) < 0.001  # the plateau did lower it


def test_reduce_lr_keeps_an_embeddings_own_rate_in_proportion():
    model = _model(Adam(learning_rate=0.01, embedding_learning_rate=0.0025))
    _drive(ReduceLROnPlateau(patience=1, factor=0.5), model, [{"val_loss": 1.0}, {"val_loss": 2.0}])
    assert [g["lr"] for g in model.optimizer.param_groups] == pytest.approx([0.005, 0.00125])
    with pytest.raises(ConfigError, match="factor"):
        ReduceLROnPlateau(factor=1.0)


def test_learning_rate_scheduler_follows_keras_in_fit():
    def schedule(epoch, lr):
        return lr if epoch < 2 else lr * 0.5

    x = np.random.default_rng(0).integers(1, 20, size=(16, 6))
    y = np.arange(16) % 2
    history = _model().fit(x, y, epochs=4, verbose=0, callbacks=[LearningRateScheduler(schedule)])
    theirs = _drive(keras.callbacks.LearningRateScheduler(schedule), _keras_stub(0.001),
                    [{"loss": 1.0} for _ in range(4)])  # Keras writes into non-empty logs only
    np.testing.assert_allclose(history.history["learning_rate"], theirs, rtol=1e-6)
    assert theirs[-1] == pytest.approx(0.00025)
    model = _model()
    _drive(LearningRateScheduler(lambda epoch: 0.1 / (epoch + 1)), model, [{} for _ in range(3)])  # old form
    assert get_learning_rate(model) == pytest.approx(0.1 / 3)
    with pytest.raises(ConfigError, match="finite float"):
        _drive(LearningRateScheduler(lambda epoch, lr: "fast"), _model(), [{}])


@pytest.mark.parametrize("logs", [[{"loss": 0.5, "acc": 0.75}, {"loss": 0.25, "acc": 0.875}],
                                  [{"loss": 0.5, "val_loss": 0.6}, {"loss": 0.4, "val_loss": 0.55}]])
def test_csv_logger_writes_kerass_file(tmp_path, logs):
    _drive(CSVLogger(tmp_path / "ours.csv"), _model(), [dict(x) for x in logs])
    theirs = keras.callbacks.CSVLogger(str(tmp_path / "theirs.csv"))
    _drive(theirs, _keras_stub(0.001), [dict(x) for x in logs])
    theirs.on_train_end()
    assert (tmp_path / "ours.csv").read_bytes() == (tmp_path / "theirs.csv").read_bytes()
    # append=True continues the file without a second header
    again = CSVLogger(tmp_path / "ours.csv", append=True)
    _drive(again, _model(), [dict(logs[0])])
    assert (tmp_path / "ours.csv").read_text().count("epoch") == 1


def _events(folder):
    """{tag: [(step, value), ...]} of the event files in a folder, read with tensorboard's reader."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_tensorboard_writes_keras_s_tags_that_tensorboard_reads(tmp_path):
    model = _model("adam")
    x = np.random.default_rng(0).integers(1, 20, (40, 6))
    y = (x[:, 0] > 10).astype("float32")
    history = model.fit(x, y, epochs=3, batch_size=8, validation_split=0.25, verbose=0,
                        callbacks=[TensorBoard(tmp_path / "logs")])
    train, validation = _events(tmp_path / "logs" / "train"), _events(tmp_path / "logs" / "validation")
    assert set(train) == {"epoch_loss", "epoch_acc", "epoch_learning_rate"}
    assert set(validation) == {"epoch_loss", "epoch_acc"}
    for name, tags in (("loss", train), ("val_loss", validation)):
        steps, values = zip(*tags["epoch_loss"])
        assert steps == (0, 1, 2)
        np.testing.assert_allclose(values, history.history[name], rtol=1e-6)
    assert [v for _, v in train["epoch_learning_rate"]] == pytest.approx([0.001] * 3)


def test_lambda_callback_hooks_run_where_keras_runs_them_with_the_same_logs():
    """The same small model (Keras's weights copied in), the same rows in order: every hook in the
    same order, with the same logs (the batch logs are the epoch's running means)."""
    import textrnn

    x = np.random.default_rng(1).integers(1, 20, (24, 6))
    y = (x[:, 0] > 10).astype("float32")
    events = {}
    for lib in (keras, textrnn):
        L = lib.layers
        model = lib.Sequential([L.Embedding(20, 4), L.GRU(3), L.Dense(1, activation="sigmoid")])
        model.build((None, 6))
        if lib is keras:
            weights = model.get_weights()
        else:
            model.set_weights(weights)
        model.compile(lib.optimizers.SGD(0.1), "binary_crossentropy", metrics=["accuracy"])
        seen = events[lib.__name__] = []

        def note(name, seen=seen):  # logs come in place or by keyword (batch hooks), as Keras passes them
            def hook(*args, logs=None):
                logs = logs if logs is not None else next((a for a in args if isinstance(a, dict)), {})
                seen.append((name, *[a for a in args if not isinstance(a, dict)],
                             {k: round(float(v), 4) for k, v in logs.items()}))
            return hook

        hooks = {name: note(name) for name in ("on_train_begin", "on_epoch_begin", "on_train_batch_begin",
                                               "on_train_batch_end", "on_epoch_end", "on_train_end")}
        model.fit(x, y, batch_size=8, epochs=2, shuffle=False, validation_data=(x, y), verbose=0,
                  callbacks=[lib.callbacks.LambdaCallback(**hooks)])
    ours, theirs = events["textrnn"], events["keras"]
    assert [e[:2] for e in ours] == [e[:2] for e in theirs]
    for a, b in zip(ours, theirs):
        logs_a, logs_b = a[-1], b[-1]
        assert logs_a.keys() == logs_b.keys(), (a, b)
        for key in logs_a:
            assert logs_a[key] == pytest.approx(logs_b[key], abs=2e-4), (a, b)


def test_terminate_on_nan_stops_inside_the_epoch():
    model = _model("sgd")
    model.compile(SGD(1e20), "mse")  # a rate that blows the weights up to inf, then NaN
    x = np.random.default_rng(0).integers(1, 20, (64, 6))
    steps = []
    record = LambdaCallback(on_train_batch_end=lambda batch, logs: steps.append(batch))
    model.fit(x, np.full(64, 1e20), epochs=3, batch_size=8, verbose=0, callbacks=[TerminateOnNaN(), record])
    assert model.stop_training and len(steps) < 3 * 8
    with pytest.raises(ConfigError, match="unknown hook"):
        LambdaCallback(on_step=print)


def _keras_model():
    model = keras.Sequential([keras.Input((6,), dtype="int32"), keras.layers.Embedding(20, 4),
                              keras.layers.LSTM(3), keras.layers.Dense(1, activation="sigmoid")])
    model.compile("rmsprop", "binary_crossentropy")
    return model


def _run(callback, model, logs_per_epoch):
    """Epochs with the given logs, as fit drives a callback (stopping where it says)."""
    callback.set_model(model)
    model.stop_training = False
    callback.on_train_begin()
    for epoch, logs in enumerate(logs_per_epoch):
        callback.on_epoch_begin(epoch)
        callback.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    callback.on_train_end()
    return epoch


@pytest.mark.parametrize("kwargs", [dict(patience=2, verbose=1),
                                    dict(patience=1, baseline=0.92, verbose=1),
                                    dict(patience=2, start_from_epoch=3, verbose=1,
                                         restore_best_weights=True),
                                    dict(patience=3, min_delta=0.05, mode="min", verbose=1)])
def test_early_stopping_takes_kerass_arguments_and_prints_its_lines(kwargs, capsys):
    logs = [{"val_loss": v} for v in VAL_LOSS]
    theirs = _run(keras.callbacks.EarlyStopping(**kwargs), _keras_model(), logs)
    printed = capsys.readouterr().out
    ours = _run(EarlyStopping(**kwargs), _model(), logs)
    assert (ours, capsys.readouterr().out) == (theirs, printed)
    assert "early stopping" in printed


@pytest.mark.parametrize("kwargs", [dict(save_best_only=True, verbose=1), dict(verbose=1),
                                    dict(save_best_only=True, initial_value_threshold=0.93, verbose=1),
                                    dict(save_best_only=True, save_weights_only=True, verbose=1)])
def test_model_checkpoint_takes_kerass_arguments_and_prints_its_lines(tmp_path, kwargs, capsys):
    suffix = ".weights.h5" if kwargs.get("save_weights_only") else ".keras"
    logs = [{"val_loss": v} for v in VAL_LOSS[:7]]
    _run(keras.callbacks.ModelCheckpoint(str(tmp_path / "k" / ("e{epoch}" + suffix)), **kwargs),
         _keras_model(), logs)
    printed = capsys.readouterr().out.replace(str(tmp_path / "k"), "DIR")
    _run(ModelCheckpoint(str(tmp_path / "t" / ("e{epoch}" + suffix)), **kwargs), _model(), logs)
    assert capsys.readouterr().out.replace(str(tmp_path / "t"), "DIR") == printed
    saved = [sorted(p.name for p in (tmp_path / side).iterdir()) for side in ("t", "k")]
    assert saved[0] == saved[1]
