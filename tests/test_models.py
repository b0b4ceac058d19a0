"""Sequential: fit / evaluate / predict semantics, callbacks, saving."""

import json

import numpy as np
import pytest
import torch

from textrnn import layers as L
from textrnn.app.ensemble import Ensemble
from textrnn.errors import ConfigError, DataError
from textrnn.models import Sequential, load_model
from textrnn.training.callbacks import Callback, EarlyStopping, ModelCheckpoint
from textrnn.training.optimizers import Adam, OptimizerSpec


def _toy(n=64, steps=10, seed=0):
    """Label = whether token 1 appears: learnable in a few epochs."""
    rng = np.random.default_rng(seed)
    x = rng.integers(2, 20, size=(n, steps))
    y = rng.integers(0, 2, size=n)
    x[y == 1, rng.integers(0, steps, size=int(y.sum()))] = 1
    return x, y


def _model():
    m = Sequential([L.Embedding(20, 8, input_length=10), L.LSTM(8), L.Dense(1, activation="sigmoid")])
    m.compile("adam", "binary_crossentropy", ["acc"])
    return m


def test_fit_learns_and_reports_keras_history_keys():
    x, y = _toy(256)
    model = _model()
    model.compile(optimizer=Adam(learning_rate=0.01), loss="binary_crossentropy", metrics=["acc"])
    hist = model.fit(x, y, epochs=15, batch_size=32, validation_split=0.25, verbose=0)
    assert list(hist.history) == ["acc", "loss", "val_acc", "val_loss"]
    assert len(hist.history["loss"]) == 15
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    loss, acc = model.evaluate(x, y, verbose=0)
    assert acc > 0.9


def test_embedding_learning_rate_is_a_second_parameter_group(tmp_path):
    x, y = _toy(64)
    runs = {}
    for rate in (None, 0.01, 1e-9):
        torch.manual_seed(0)
        model = _model()
        model.compile(optimizer=Adam(learning_rate=0.01, embedding_learning_rate=rate),
                      loss="binary_crossentropy")
        model.build((None, 10))
        start = [w.detach().clone() for w in model.weights]
        model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
        runs[rate] = [(w.detach() - w0).abs().max().item() for w, w0 in zip(model.weights, start)]
        assert len(model.optimizer.param_groups) == (1 if rate is None else 2)
    assert runs[0.01] == pytest.approx(runs[None], abs=1e-7)  # the same rate: the same training
    assert runs[1e-9][0] < 1e-6 < runs[None][0]  # the embedding's table barely moves...
    assert min(runs[1e-9][1:]) > 1e-4  # ...while the other layers train
    model.save(tmp_path / "m")  # the rate is part of the saved compile settings
    saved = json.loads((tmp_path / "m" / "config.json").read_text())["compile"]["optimizer"]
    assert saved == {"name": "adam", "learning_rate": 0.01, "embedding_learning_rate": 1e-9}
    assert len(load_model(tmp_path / "m").create_optimizer().param_groups) == 2


def test_learning_rates_must_be_positive():
    with pytest.raises(ConfigError, match="embedding learning rate must be positive"):
        Adam(embedding_learning_rate=0)
    with pytest.raises(ConfigError, match="learning rate must be positive"):
        OptimizerSpec("rmsprop", -1.0)


def test_validation_split_takes_the_last_rows():
    x, y = _toy(40)
    model = _model()
    model.fit(x, y, epochs=1, validation_split=0.25, verbose=0)
    expected = model.evaluate(x[30:], y[30:], verbose=0, return_dict=True)
    # val metrics of the last epoch were computed after it on the last 10 rows
    model2 = _model()
    torch.manual_seed(5)
    h = model2.fit(x, y, epochs=1, validation_split=0.25, verbose=0, shuffle=False)
    assert h.history["val_loss"][0] == pytest.approx(
        model2.evaluate(x[30:], y[30:], verbose=0, return_dict=True)["loss"], rel=1e-6)
    assert set(expected) == {"loss", "acc"}


def test_predict_shapes_and_determinism():
    x, _ = _toy(70)
    model = _model()
    p1, p2 = model.predict(x, batch_size=16), model.predict(x, batch_size=70)
    assert p1.shape == (70, 1)
    np.testing.assert_allclose(p1, p2, atol=1e-6)
    assert model.predict_on_batch(x[:3]).shape == (3, 1)


def test_early_stopping_stops_and_restores_best():
    x, y = _toy(64)
    model = _model()
    stopper = EarlyStopping(monitor="loss", patience=0, mode="max", restore_best_weights=True)
    hist = model.fit(x, y, epochs=10, verbose=0, callbacks=[stopper])
    # mode=max on a falling loss: the second epoch is "worse", so training stops there.
    assert len(hist.history["loss"]) == 2


def test_early_stopping_restores_the_best_epoch_when_training_runs_out_as_keras_3():
    # Keras 3 puts the best weights back in on_train_end, stopped early or not (early_stopping.py).
    x, y = _toy(64)
    model = _model()
    epoch_weights = []

    class Keep(Callback):
        def on_epoch_end(self, epoch, logs=None):
            epoch_weights.append([w.copy() for w in model.get_weights()])

    # mode=max on a falling loss: epoch 1 stays the best, and patience 5 never stops the 3 epochs.
    stopper = EarlyStopping(monitor="loss", patience=5, mode="max", restore_best_weights=True)
    hist = model.fit(x, y, epochs=3, verbose=0, callbacks=[Keep(), stopper])
    assert len(hist.history["loss"]) == 3 and stopper.stopped_epoch == 0
    for now, first in zip(model.get_weights(), epoch_weights[0]):
        np.testing.assert_array_equal(now, first)
    assert any(not np.array_equal(a, b) for a, b in zip(epoch_weights[0], epoch_weights[-1]))


def test_model_checkpoint_best_only(tmp_path):
    x, y = _toy(64)
    model = _model()
    ckpt = ModelCheckpoint(str(tmp_path / "best"), monitor="val_loss", save_best_only=True)
    model.fit(x, y, epochs=3, validation_split=0.25, verbose=0, callbacks=[ckpt])
    saved = load_model(tmp_path / "best")
    assert saved.count_params() == model.count_params()


def test_save_and_load_round_trip(tmp_path):
    x, y = _toy(32)
    model = Sequential([L.Embedding(20, 6, mask_zero=True, input_length=10),
                        L.Bidirectional(L.GRU(4, return_sequences=True), merge_mode="sum"),
                        L.LSTM(3, dropout=0.2), L.Dropout(0.1), L.Dense(1, activation="sigmoid")])
    model.layers[0].trainable = False
    model.compile("rmsprop", "binary_crossentropy", ["accuracy"])
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["config.json", "optimizer.safetensors",
                                                                  "weights.safetensors"]
    again = load_model(tmp_path / "m")
    np.testing.assert_allclose(again.predict(x), model.predict(x), atol=1e-6)
    assert again.layers[0].trainable is False
    assert again.metric_names == ["accuracy"]
    # saving over an existing model replaces it whole
    model.save(tmp_path / "m")
    assert not list(tmp_path.glob(".m*"))


def test_members_average_with_the_network_and_round_trip(tmp_path):
    x, _ = _toy(16)

    def network(units: int) -> Sequential:
        model = Sequential([L.Embedding(20, 6, input_length=10), L.GRU(units),
                            L.Dense(1, activation="sigmoid")])
        model.build((None, 10))
        return model

    first, second, third = network(3), network(4), network(5)
    alone = [m.predict(x) for m in (first, second, third)]
    first = Ensemble.around(first)
    first.attach_members([second, third])
    np.testing.assert_allclose(first.predict(x), np.mean(alone, axis=0), atol=1e-6)
    np.testing.assert_allclose(first.predict_on_batch(x), np.mean(alone, axis=0), atol=1e-6)
    first.compile(loss="binary_crossentropy", metrics=["accuracy"])
    y = (np.arange(len(x)) % 2).astype("float32")
    averaged = np.mean(alone, axis=0).ravel()
    loss, acc = first.test_on_batch(x, y)  # the ensemble's, as evaluate gives them
    assert acc == pytest.approx(np.mean((averaged > 0.5) == y))
    assert loss == pytest.approx(-np.mean(y * np.log(averaged) + (1 - y) * np.log(1 - averaged)), rel=1e-4)
    assert [loss, acc] == pytest.approx(first.evaluate(x, y, verbose=0))
    first.save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m" / "members").iterdir()) == ["0", "1"]
    again = load_model(tmp_path / "m")
    assert [m.layers[1].units for m in again.members] == [4, 5]
    np.testing.assert_allclose(again.predict(x), np.mean(alone, axis=0), atol=1e-6)
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["model"].pop("class") == "Ensemble"  # a folder of textrnn 0.1 did not name it
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    assert isinstance(load_model(tmp_path / "m"), Ensemble)
    wider = Sequential([L.Embedding(20, 6, input_length=10), L.GRU(3), L.Dense(2, activation="softmax")])
    wider.build((None, 10))
    with pytest.raises(ConfigError, match="outputs of shape"):
        first.attach_members([wider])
    with pytest.raises(ConfigError, match="single Sequential network"):
        Ensemble.around(second).attach_members([again])


def test_load_model_errors_are_one_line(tmp_path):
    with pytest.raises(DataError, match="not a saved textrnn model"):
        load_model(tmp_path)
    (tmp_path / "config.json").write_text("{nope")
    with pytest.raises(DataError, match="malformed model config"):
        load_model(tmp_path)


def test_bad_inputs_are_reported():
    model = _model()
    with pytest.raises(DataError, match="expected token ids"):
        model.fit(np.ones(4), np.ones(4), verbose=0)
    with pytest.raises(DataError, match="4 samples but y has 3"):
        model.fit(np.ones((4, 10), dtype=int), np.ones(3), verbose=0)
    with pytest.raises(ConfigError, match="compile"):
        Sequential([L.Dense(1)]).fit(np.ones((2, 3), dtype=int), np.ones(2), verbose=0)
    with pytest.raises(ConfigError, match="unknown optimizer 'ftrl'"):
        model.compile("ftrl")


def test_multiclass_softmax_training():
    rng = np.random.default_rng(0)
    x = rng.integers(3, 20, size=(90, 8))
    y = rng.integers(0, 3, size=90)
    x[:, -1] = y  # the last token gives the class away
    model = Sequential([L.Embedding(20, 8), L.GRU(8), L.Dense(3, activation="softmax")])
    model.compile(OptimizerSpec("adam", 0.01), "sparse_categorical_crossentropy", ["acc"])
    model.fit(x, y, epochs=30, verbose=0)
    assert model.evaluate(x, y, verbose=0)[1] > 0.9
    assert json.dumps(model.get_config())


# --- length buckets -------------------------------------------------------------------------------
def _prepadded(n=60, steps=12, seed=0):
    """Pre-padded ids with lengths 0..steps (0: an empty review) and labels."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 20, size=(n, steps))
    lengths = rng.integers(0, steps + 1, size=n)
    lengths[:3] = [0, steps, 1]
    for row, length in enumerate(lengths):
        x[row, :steps - length] = 0
    return x, rng.integers(0, 2, size=n), lengths


def test_row_lengths_and_length_batches_cover_every_row_once():
    from textrnn.data.buckets import POOL_BATCHES, batch_width, length_batches, row_lengths

    x, _, lengths = _prepadded(n=300)
    np.testing.assert_array_equal(row_lengths(x), lengths)
    fixed = length_batches(lengths, 4)
    assert [r.tolist() for r in fixed] == [r.tolist() for r in length_batches(lengths, 4)]
    assert np.all(np.diff(lengths[np.concatenate(fixed)]) >= 0)  # no rng: sorted by length
    shuffled = [length_batches(lengths, 4, np.random.default_rng(seed)) for seed in (1, 2)]
    for batches in (fixed, *shuffled):
        rows = np.concatenate(batches)
        assert sorted(rows.tolist()) == list(range(len(x)))
        assert all(1 <= len(r) <= 4 for r in batches) and len(batches) == 75  # full batches
    # shuffled: each pool of POOL_BATCHES batches is sorted, so lengths in a batch stay close ...
    spread = [np.ptp(lengths[r]) for r in shuffled[0]]
    assert np.mean(spread) < 0.25 * np.ptp(lengths) and POOL_BATCHES * 4 < len(x)
    # ... and which rows share a batch changes with the rng
    assert {tuple(sorted(r)) for r in shuffled[0]} != {tuple(sorted(r)) for r in shuffled[1]}
    # a batch keeps its longest row plus one masked step, never more than the array has
    assert batch_width(np.array([3, 5]), 12) == 6 and batch_width(np.array([12, 2]), 12) == 12
    assert batch_width(np.array([0]), 12) == 1


def _masked_model(buckets, pooled=False, units=8, cell="LSTM"):
    torch.manual_seed(0)
    if pooled:  # the recipe's shape: max over time takes masked steps' zeros, as in Keras
        body = [L.Bidirectional(getattr(L, cell)(units, return_sequences=True)), L.GlobalMaxPooling1D()]
    else:
        body = [L.LSTM(units, return_sequences=True), L.Bidirectional(L.LSTM(units))]
    m = Sequential([L.Embedding(20, units, mask_zero=True, input_length=12), *body,
                    L.Dense(1, activation="sigmoid")])
    m.compile("adam", "binary_crossentropy", ["acc"])
    m.length_buckets = buckets
    return m


@pytest.mark.parametrize("pooled, units, cell", [(False, 8, "LSTM"), (False, 16, "LSTM"), (True, 16, "LSTM"),
                                                 (True, 16, "GRU")])
def test_length_buckets_give_the_masked_padded_results(pooled, units, cell):
    """A mask_zero model skips padding, so cutting most of it off per bucket changes nothing but
    speed (units 16: textrnn's whole-layer kernel where the machine has it)."""
    x, y, _ = _prepadded()
    padded, bucketed = _masked_model(False, pooled, units, cell), _masked_model(True, pooled, units, cell)
    bucketed.set_weights(padded.get_weights())
    np.testing.assert_allclose(bucketed.predict(x, batch_size=8), padded.predict(x, batch_size=8), atol=1e-5)
    np.testing.assert_allclose(bucketed.evaluate(x, y, verbose=0), padded.evaluate(x, y, verbose=0),
                               atol=1e-5)
    # and a review alone gives what it gives in any batch
    np.testing.assert_allclose(bucketed.predict(x[5:6]), padded.predict(x)[5:6], atol=1e-5)


def test_length_bucketed_fit_learns_is_seeded_and_is_saved(tmp_path):
    x, y = _toy(256, steps=12)
    x[: len(x) // 2, :5] = 0  # half the reviews shorter
    runs = []
    for _ in range(2):
        model = _masked_model(True)
        model.compile(optimizer=Adam(learning_rate=0.01), loss="binary_crossentropy", metrics=["acc"])
        torch.manual_seed(3)
        runs.append(model.fit(x, y, epochs=8, batch_size=32, verbose=0).history["loss"])
    assert runs[0] == runs[1]
    assert runs[0][-1] < runs[0][0]
    assert model.evaluate(x, y, verbose=0)[1] > 0.9
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert loaded.length_buckets
    np.testing.assert_allclose(loaded.predict(x), model.predict(x), atol=1e-6)


def test_explain_running_trace_of_a_length_bucketed_model():
    """The per-word trace runs on the padded row; its last step is the bucketed prediction."""
    from textrnn.app.explain import explain
    from textrnn.data.text import TextEncoder, Vocabulary, pad_sequences

    words = [f"w{i}" for i in range(15)]
    torch.manual_seed(0)
    model = Sequential([L.Embedding(20, 8, mask_zero=True, input_length=12), L.LSTM(8),
                        L.Dense(1, activation="sigmoid")])
    model.length_buckets = True
    model.text_encoder = TextEncoder(Vocabulary(words), maxlen=12, labels=["neg", "pos"])
    exp = explain(model, "w1 w2 w3 w4", method="running")
    assert len(exp.running) == 4 and model.length_buckets
    x = pad_sequences([model.text_encoder.vocabulary.encode("w1 w2 w3 w4")], maxlen=12)
    assert exp.running[-1] == pytest.approx(float(model.predict(x)[0, 0]), abs=1e-6)


def test_a_loaded_model_trains_on_where_it_stopped(tmp_path):
    # Keras's saved models keep their optimizer's variables; without them RMSprop's averages would
    # restart and the third epoch would differ.
    x, y = _toy(64)
    torch.manual_seed(0)
    whole = _model()
    torch.manual_seed(0)
    split = _model()
    whole.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0)
    split.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    split.save(tmp_path / "m")
    assert (tmp_path / "m" / "optimizer.safetensors").is_file()
    loaded = load_model(tmp_path / "m")
    loaded.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    for a, b in zip(whole.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    fresh = load_model(tmp_path / "m", compile=False)
    assert fresh.optimizer is None
    (tmp_path / "m" / "optimizer.safetensors").write_bytes(b"garbage")
    with pytest.raises(DataError, match="damaged optimizer state"):
        load_model(tmp_path / "m")
