"""Keras files both ways and ONNX export, with real Keras 3 and real onnxruntime as the judges."""

import json
import zipfile

import keras
import numpy as np
import onnxruntime as ort
import pytest

import textrnn
from textrnn.app import zoo
from textrnn.cli import main
from textrnn.data.datasets import prepare
from textrnn.errors import ConfigError, DataError
from textrnn.interop.keras_io import load_keras_model, load_keras_weights, save_keras_model
from textrnn.models import load_model

T = 30


def _keras_lecture_model(name, mask_zero=False):
    kl = keras.layers
    body = {
        "simple-rnn": [kl.SimpleRNN(8)],
        "lstm": [kl.LSTM(8, dropout=0.2)],
        "stacked-lstm": [kl.LSTM(8, return_sequences=True, dropout=0.2),
                         kl.LSTM(8, return_sequences=True, dropout=0.2), kl.LSTM(8, dropout=0.2)],
        "bi-lstm": [kl.Bidirectional(kl.LSTM(8, dropout=0.2))],
        "gru": [kl.GRU(8), kl.Dropout(0.3)],
        "word-dropout": [kl.Dropout(0.3, noise_shape=(None, None, 1)), kl.LSTM(8)],
        "bi-gru": [kl.Bidirectional(kl.GRU(8, return_sequences=True), merge_mode="sum"), kl.SimpleRNN(4)],
    }[name]
    return keras.Sequential([keras.Input((T,), dtype="int32"), kl.Embedding(500, 16, mask_zero=mask_zero),
                             *body, kl.Dense(1, activation="sigmoid")])


@pytest.fixture(scope="module")
def reviews():
    data = prepare("sample", num_words=500, maxlen=T, quiet=True)
    return data.x_train[:64], data.y_train[:64].astype("float32"), data.x_test[:50]


@pytest.mark.parametrize("name", ["simple-rnn", "lstm", "stacked-lstm", "bi-lstm", "gru", "bi-gru"])
@pytest.mark.parametrize("mask_zero", [False, True])
def test_keras_trained_models_round_trip_both_ways(tmp_path, reviews, name, mask_zero):
    x, y, x_test = reviews
    km = _keras_lecture_model(name, mask_zero)
    km.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["acc"])
    km.fit(x, y, epochs=1, batch_size=32, verbose=0)  # a Keras-trained copy
    km.save(tmp_path / "k.keras")
    ours = load_keras_model(tmp_path / "k.keras")
    expected = km.predict(x_test, verbose=0)
    np.testing.assert_allclose(ours.predict(x_test), expected, atol=1e-5)
    assert ours.count_params() == km.count_params()

    ours.save(tmp_path / "back.keras")  # Sequential.save dispatches on the suffix
    again = keras.saving.load_model(tmp_path / "back.keras")
    np.testing.assert_allclose(again.predict(x_test, verbose=0), expected, atol=1e-5)
    assert [l.name for l in again.layers] == [l.name for l in km.layers]


def test_dropout_noise_shape_crosses_both_ways(tmp_path):
    km = _keras_lecture_model("word-dropout")
    km.save(tmp_path / "k.keras")
    ours = load_keras_model(tmp_path / "k.keras")
    assert ours.layers[1].noise_shape == (None, None, 1)
    ours.save(tmp_path / "back.keras")
    again = keras.saving.load_model(tmp_path / "back.keras")
    assert tuple(again.layers[1].noise_shape) == (None, None, 1)


def test_weights_h5_into_a_given_architecture(tmp_path, reviews):
    km = _keras_lecture_model("stacked-lstm")
    km.save_weights(tmp_path / "w.weights.h5")
    ours = zoo.build("stacked-lstm", zoo.ZooConfig(vocab_size=500, embedding_dim=16, units=8, maxlen=T))
    load_keras_weights(ours, tmp_path / "w.weights.h5")
    np.testing.assert_allclose(ours.predict(reviews[2]), km.predict(reviews[2], verbose=0), atol=1e-5)


def _rewrite_config(src, dst, edit):
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(dst, "w") as b:
        for item in a.namelist():
            data = a.read(item)
            if item == "config.json":
                data = json.dumps(edit(json.loads(data))).encode()
            b.writestr(item, data)


def test_unsupported_content_is_refused_in_one_line(tmp_path):
    kl = keras.layers
    noisy = keras.Sequential([keras.Input((T,), dtype="int32"), kl.Embedding(50, 4), kl.GaussianNoise(0.1),
                              kl.GlobalMaxPooling1D(), kl.Dense(1)])
    noisy.save(tmp_path / "noisy.keras")
    with pytest.raises(ConfigError, match="unsupported layer 'GaussianNoise'") as info:
        load_keras_model(tmp_path / "noisy.keras")
    assert "\n" not in str(info.value)
    km = _keras_lecture_model("lstm")
    km.save(tmp_path / "m.keras")

    def lambda_layer(cfg):
        cfg["config"]["layers"][2] = {"module": "keras.layers", "class_name": "Lambda",
                                      "config": {"function": "evil"}, "registered_name": None}
        return cfg

    _rewrite_config(tmp_path / "m.keras", tmp_path / "lambda.keras", lambda_layer)
    with pytest.raises(ConfigError, match="unsupported layer 'Lambda'"):
        load_keras_model(tmp_path / "lambda.keras")

    def custom(cfg):
        cfg["config"]["layers"][2]["registered_name"] = "MyPackage>MyLSTM"
        return cfg

    _rewrite_config(tmp_path / "m.keras", tmp_path / "custom.keras", custom)
    with pytest.raises(ConfigError, match="unsupported layer"):
        load_keras_model(tmp_path / "custom.keras")
    inputs, other = keras.Input((T,), dtype="int32"), keras.Input((T,), dtype="int32")
    shared = keras.layers.Embedding(50, 4)
    two_inputs = keras.layers.Concatenate()([keras.layers.GlobalAveragePooling1D()(shared(inputs)),
                                             keras.layers.GlobalAveragePooling1D()(shared(other))])
    theirs = keras.Model([inputs, other], keras.layers.Dense(1)(two_inputs))
    theirs.save(tmp_path / "f.keras")  # a shared layer and two inputs: read, and the same outputs
    ids = [np.random.default_rng(1).integers(0, 50, (4, T)) for _ in range(2)]
    ours = load_keras_model(tmp_path / "f.keras")
    np.testing.assert_allclose(ours.predict(ids), theirs.predict(ids, verbose=0), atol=1e-5)
    ours.save(tmp_path / "back.keras")
    np.testing.assert_allclose(keras.saving.load_model(tmp_path / "back.keras").predict(ids, verbose=0),
                               theirs.predict(ids, verbose=0), atol=1e-5)
    with pytest.raises(ConfigError, match="takes an input the file does not define"):
        def dangling(cfg):
            cfg["config"]["layers"][-1]["inbound_nodes"][0]["args"][0]["config"]["keras_history"][0] = "nope"
            return cfg

        _rewrite_config(tmp_path / "f.keras", tmp_path / "dangling.keras", dangling)
        load_keras_model(tmp_path / "dangling.keras")


def test_a_keras_functional_model_is_read_with_its_branches(tmp_path, reviews):
    x, y, x_test = reviews
    kl = keras.layers
    inputs = keras.Input((T,), dtype="int32")
    embedded = kl.Embedding(500, 16, mask_zero=True)(inputs)
    joined = kl.Concatenate()([kl.LSTM(8)(embedded), kl.Bidirectional(kl.GRU(4))(embedded)])
    km = keras.Model(inputs, kl.Dense(1, activation="sigmoid")(kl.Dropout(0.2)(joined)))
    km.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    km.fit(x, y, epochs=1, batch_size=32, verbose=0)
    km.save(tmp_path / "f.keras")
    ours = load_keras_model(tmp_path / "f.keras")
    np.testing.assert_allclose(ours.predict(x_test), km.predict(x_test, verbose=0), atol=1e-5)
    assert [layer.name for layer in ours.layers] == [layer.name for layer in km.layers]
    assert ours.compiled and ours.count_params() == km.count_params()
    ours.save(tmp_path / "back.keras")  # and written back: Keras reads the graph, compiled
    again = keras.saving.load_model(tmp_path / "back.keras")
    np.testing.assert_allclose(again.predict(x_test, verbose=0), km.predict(x_test, verbose=0), atol=1e-5)
    assert [layer.name for layer in again.layers] == [layer.name for layer in km.layers] and again.compiled


@pytest.mark.parametrize("name", ["lstm", "stacked-lstm", "bi-lstm", "bi-gru", "simple-rnn"])
def test_onnx_export_matches_on_real_reviews(tmp_path, reviews, name):
    model = zoo.build(name, zoo.ZooConfig(vocab_size=500, embedding_dim=16, units=8, maxlen=T))
    model.build((None, T))
    path = tmp_path / "m.onnx"
    from textrnn.interop.onnx_export import export_onnx

    export_onnx(model, path)
    session = ort.InferenceSession(str(path))
    x_test = reviews[2].astype(np.int64)
    got = session.run(None, {"ids": x_test})[0]
    np.testing.assert_allclose(got, model.predict(x_test), atol=1e-4)
    shorter = x_test[:7, -12:]  # dynamic batch and sequence length
    np.testing.assert_allclose(session.run(None, {"ids": shorter})[0], model.predict(shorter), atol=1e-4)


def test_cli_import_and_export_of_a_masked_model(tmp_path, capsys, reviews):
    km = _keras_lecture_model("bi-lstm", mask_zero=True)
    km.save(tmp_path / "k.keras")
    assert main(["import-keras", str(tmp_path / "k.keras"), "--out", str(tmp_path / "run")]) == 0
    assert "Total params" in capsys.readouterr().out
    loaded = load_model(tmp_path / "run" / "model")
    np.testing.assert_allclose(loaded.predict(reviews[2]), km.predict(reviews[2], verbose=0), atol=1e-5)
    run = str(tmp_path / "run")
    assert main(["export", run, "--format", "keras", "--out", str(tmp_path / "x.keras")]) == 0
    assert keras.saving.load_model(tmp_path / "x.keras").count_params() == km.count_params()
    assert main(["export", str(tmp_path / "run"), "--format", "onnx", "--out", str(tmp_path / "x.onnx")]) == 0
    session = ort.InferenceSession(str(tmp_path / "x.onnx"))  # the mask is computed in the graph
    x = _padded(reviews[2])
    np.testing.assert_allclose(session.run(None, {"ids": x})[0], km.predict(x, verbose=0), atol=1e-5)
    save_keras_model(loaded, tmp_path / "y.keras")
    assert (tmp_path / "y.keras").stat().st_size > 0


def _padded(x):
    """Reviews pre-padded to many lengths (every 4th row whole, one row empty), as real batches are."""
    x = x.astype(np.int64).copy()
    for i in range(len(x)):
        if i % 4:
            x[i, : (7 * i) % T] = 0
    x[1] = 0
    return x


def _recipe_pair(pool, cell="LSTM"):
    """The recipe's encoder shape (masked Bi-LSTM or Bi-GRU over time, pooled) in Keras."""
    kl = keras.layers
    return keras.Sequential([keras.Input((T,), dtype="int32"), kl.Embedding(500, 16, mask_zero=True),
                             kl.Bidirectional(getattr(kl, cell)(8, return_sequences=True)),
                             getattr(kl, pool)(),
                             kl.Dense(1, activation="sigmoid")])


@pytest.mark.parametrize("pool, cell", [("GlobalMaxPooling1D", "LSTM"), ("GlobalAveragePooling1D", "LSTM"),
                                        ("GlobalMaxPooling1D", "GRU")])
def test_pooled_models_round_trip_both_ways(tmp_path, reviews, pool, cell):
    km = _recipe_pair(pool, cell)
    km.save(tmp_path / "k.keras")
    ours = load_keras_model(tmp_path / "k.keras")
    expected = km.predict(reviews[2], verbose=0)
    np.testing.assert_allclose(ours.predict(reviews[2]), expected, atol=1e-5)
    ours.save(tmp_path / "back.keras")
    again = keras.saving.load_model(tmp_path / "back.keras")
    np.testing.assert_allclose(again.predict(reviews[2], verbose=0), expected, atol=1e-5)


@pytest.mark.parametrize("pool, cell", [("GlobalMaxPooling1D", "LSTM"), ("GlobalAveragePooling1D", "LSTM"),
                                        ("GlobalMaxPooling1D", "GRU")])
def test_onnx_export_of_a_masked_pooled_model_matches_keras(tmp_path, reviews, pool, cell):
    """The recipe's shape (mask_zero, Bi-LSTM or Bi-GRU over time, pooled), length-bucketed in
    textrnn: the ONNX graph, fed padded reviews of any width, gives Keras's predictions."""
    from textrnn.interop.onnx_export import export_onnx

    km = _recipe_pair(pool, cell)
    km.save(tmp_path / "k.keras")
    model = load_keras_model(tmp_path / "k.keras")
    model.length_buckets = True
    export_onnx(model, tmp_path / "m.onnx")
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    x = _padded(reviews[2])
    for ids in (x, x[:, -9:]):
        expected = km.predict(ids, verbose=0)
        np.testing.assert_allclose(session.run(None, {"ids": ids})[0], expected, atol=1e-5)
        np.testing.assert_allclose(model.predict(ids), expected, atol=1e-5)


@pytest.mark.parametrize("optimizer", ["adam", "rmsprop", "sgd", "sgd-momentum"])
def test_a_keras_file_keeps_training_where_it_stopped_both_ways(tmp_path, reviews, optimizer):
    """compile_config and the optimizer's variables cross in both directions: the next training
    step from the loaded model is the step the saving model would have taken."""
    x, y, _ = reviews
    rates = {"adam": 0.01, "rmsprop": 0.002, "sgd": 0.1, "sgd-momentum": 0.1}
    settings = {"sgd-momentum": {"momentum": 0.9, "nesterov": True}}.get(optimizer, {})
    km = _keras_lecture_model("bi-gru")  # no dropout: the two libraries would draw other masks
    km.compile(optimizer=keras.optimizers.get({"class_name": optimizer.split("-")[0], "config": {
                   "learning_rate": rates[optimizer], **settings}}),
               loss="binary_crossentropy", metrics=["accuracy"])
    optimizer = optimizer.split("-")[0]
    km.fit(x, y, epochs=1, batch_size=32, verbose=0)  # two steps: the optimizer holds state
    km.save(tmp_path / "k.keras")
    ours = load_keras_model(tmp_path / "k.keras")
    assert ours.compiled and ours.loss == "binary_crossentropy" and ours.metric_names == ["accuracy"]
    assert ours._optimizer_spec.name == optimizer and ours.optimizer.param_groups[0]["lr"] == pytest.approx(
        rates[optimizer])
    km.train_on_batch(x[:32], y[:32])
    ours.train_on_batch(x[:32], y[:32])
    for a, b in zip(ours.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, b, atol=2e-5)

    ours.save(tmp_path / "back.keras")  # and back: Keras's model is compiled, its optimizer restored
    again = keras.saving.load_model(tmp_path / "back.keras")
    assert again.compiled and type(again.optimizer).__name__.lower() == optimizer
    again.train_on_batch(x[32:], y[32:])
    ours.train_on_batch(x[32:], y[32:])
    for a, b in zip(ours.get_weights(), again.get_weights()):
        np.testing.assert_allclose(a, b, atol=2e-5)


def test_a_keras_file_compiled_with_what_textrnn_lacks_loads_uncompiled(tmp_path):
    km = _keras_lecture_model("lstm")
    km.compile(optimizer=keras.optimizers.Ftrl(0.1), loss="binary_crossentropy")
    km.save(tmp_path / "k.keras")
    assert not load_keras_model(tmp_path / "k.keras").compiled


def _compiled_pair(fit=True):
    keras.utils.set_random_seed(0)
    theirs = keras.Sequential([keras.Input((T,), dtype="int32"), keras.layers.Embedding(500, 8),
                               keras.layers.GRU(4), keras.layers.Dense(1, activation="sigmoid")])
    ours = textrnn.Sequential([textrnn.Input((T,), dtype="int32"), textrnn.layers.Embedding(500, 8),
                               textrnn.layers.GRU(4), textrnn.layers.Dense(1, activation="sigmoid")])
    for model, lib in ((theirs, keras), (ours, textrnn)):
        model.compile(lib.optimizers.Adam(0.01), "binary_crossentropy")
    return theirs, ours


def test_save_weights_and_load_weights_cross_both_ways_with_the_optimizer(tmp_path, reviews):
    x, y = reviews[0][:64], reviews[1][:64]
    theirs, ours = _compiled_pair()
    theirs.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    theirs.save_weights(tmp_path / "k.weights.h5")
    ours.load_weights(tmp_path / "k.weights.h5")  # layers and Adam's slots, as Keras's load_weights
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), atol=1e-5)
    for model in (theirs, ours):  # both train on from the same state
        model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-4)

    ours.save_weights(tmp_path / "t.weights.h5")
    again, _ = _compiled_pair()
    again.fit(x[:16], y[:16], batch_size=16, epochs=1, verbose=0)  # its optimizer made, then replaced
    again.load_weights(tmp_path / "t.weights.h5")
    np.testing.assert_allclose(again.predict(x, verbose=0), ours.predict(x, verbose=0), atol=1e-5)
    again.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    ours.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(again.get_weights(), ours.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-4)

    theirs.save(tmp_path / "k.keras")  # load_weights reads a .keras file's weights too
    fresh = _compiled_pair()[1]
    fresh.load_weights(tmp_path / "k.keras")
    np.testing.assert_allclose(fresh.predict(x, verbose=0), theirs.predict(x, verbose=0), atol=1e-5)


def test_save_weights_refuses_other_files_in_one_line(tmp_path):
    _, ours = _compiled_pair()
    with pytest.raises(ConfigError, match=r"must end in \.weights\.h5 \(Keras 3\) or \.h5"):
        ours.save_weights(tmp_path / "w.ckpt")
    with pytest.raises(DataError, match="file not found"):
        ours.load_weights(tmp_path / "missing.weights.h5")
    (tmp_path / "bad.weights.h5").write_bytes(b"not hdf5")
    with pytest.raises(DataError, match="not a readable .weights.h5 file"):
        ours.load_weights(tmp_path / "bad.weights.h5")
    assert not (tmp_path / "w.ckpt").exists()
    ours.save_weights(tmp_path / "keras2.h5")  # Keras 2's name for the file: Keras 2's layout
    ours.load_weights(tmp_path / "keras2.h5")


def test_load_weights_skips_another_models_optimizer_state_as_keras(tmp_path, reviews):
    """Deep Learning with Python saves a frozen-embedding model's weights and loads them into one
    whose embedding trains: the layers load, the optimizer's variables (for other weights) do not."""
    x, y = reviews[0][:32], reviews[1][:32]
    frozen, ours = _compiled_pair()[1], _compiled_pair()[1]
    frozen.layers[0].trainable = False
    frozen.compile(textrnn.optimizers.Adam(0.01), "binary_crossentropy")
    frozen.fit(x, y, epochs=1, verbose=0)
    frozen.save_weights(tmp_path / "frozen.weights.h5")
    ours.fit(x, y, epochs=1, verbose=0)
    skipped = "skipping the optimizer's 12 variables; this model's optimizer has 14"
    with pytest.warns(UserWarning, match=skipped):
        ours.load_weights(tmp_path / "frozen.weights.h5")
    np.testing.assert_array_equal(ours.get_weights()[0], frozen.get_weights()[0])
    keras_model = _compiled_pair()[0]
    keras_model.fit(x, y, epochs=1, verbose=0)
    with pytest.warns(UserWarning, match="Skipping variable loading for optimizer"):  # Keras's own
        keras_model.load_weights(tmp_path / "frozen.weights.h5")
    np.testing.assert_allclose(keras_model.predict(x, verbose=0), ours.predict(x, verbose=0), atol=1e-5)
