"""Keras files of models with the convolution, pooling, normalization, masking, TimeDistributed and
MultiHeadAttention layers, both ways against real Keras: a file Keras wrote predicts the same in
textrnn (and trains on from where Keras stopped), a file textrnn wrote predicts the same in Keras,
and settings textrnn's layers lack are refused in one line rather than dropped."""

import json
import zipfile

import keras
import numpy as np
import onnxruntime as ort
import pytest

import textrnn
from textrnn.errors import ConfigError
from textrnn.interop.onnx_export import export_onnx
from textrnn.models import load_model
from twins import twins

RNG = np.random.default_rng(0)
T = 16
X = RNG.integers(1, 60, (64, T))
X[::4, :5] = 0  # pre-padded rows: the masks matter
Y = (X[:, -1] > 30).astype("float32")
STEPS = RNG.normal(size=(64, T, 3)).astype("float32")
STEPS[::4, :5] = 0.0  # padded steps, which Masking masks
INPUTS = {"masked_steps": STEPS}


def transformer_cnn(lib):
    """Every layer of this file's subject in one graph: an attention branch over Embedding(mask_zero)'s
    mask, a convolution branch."""
    L = lib.layers
    inputs = lib.Input((T,), dtype="int32")
    words = L.Embedding(60, 8, mask_zero=True)(inputs)
    attended = L.GlobalAveragePooling1D()(L.MultiHeadAttention(2, 4)(words, words))
    x = L.Conv1D(6, 3, padding="same", activation="relu")(L.Embedding(60, 8)(inputs))
    x = L.MaxPooling1D(2)(x)
    x = L.AveragePooling1D(2, padding="same")(x)
    x = L.SpatialDropout1D(0.1)(x)
    x = L.BatchNormalization()(x)
    x = L.LayerNormalization(epsilon=1e-5)(x)
    x = L.TimeDistributed(L.Dense(5, activation="tanh"))(x)
    convolved = L.GlobalMaxPooling1D()(x)
    return lib.Model(inputs, L.Dense(1, activation="sigmoid")(L.concatenate([attended, convolved])))


def masked_steps(lib):
    """Numbers per step, zero rows masked (Keras's Masking), each step through a Dense."""
    L = lib.layers
    return lib.Sequential([lib.Input((T, 3)), L.Masking(0.0), L.TimeDistributed(L.Dense(4)), L.LSTM(5),
                           L.Dense(1, activation="sigmoid")])


def cnn_lstm(lib):
    """Keras's imdb_cnn_lstm example with a batch normalization, as a Sequential."""
    L = lib.layers
    return lib.Sequential([lib.Input((T,), dtype="int32"), L.Embedding(60, 8, mask_zero=False),
                           L.Conv1D(8, 5, activation="relu", kernel_regularizer=lib.regularizers.l2(1e-3)),
                           L.MaxPooling1D(pool_size=2), L.BatchNormalization(momentum=0.9),
                           L.LSTM(6), L.Dense(1, activation="sigmoid")])


def _equal_predictions(a, b, x):
    np.testing.assert_allclose(a.predict(x, verbose=0), b.predict(x, verbose=0), atol=2e-5)


@pytest.mark.parametrize("make", [transformer_cnn, cnn_lstm, masked_steps])
@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_files_keras_wrote_load_and_files_textrnn_wrote_load_in_keras(tmp_path, make, suffix):
    x = INPUTS.get(make.__name__, X)
    theirs, ours = twins(make)
    theirs.compile("adam", "binary_crossentropy")
    theirs.fit(x, Y, batch_size=16, epochs=1, verbose=0)  # batch normalization's moving statistics move
    theirs.save(tmp_path / f"theirs{suffix}")
    loaded = load_model(tmp_path / f"theirs{suffix}")
    _equal_predictions(loaded, theirs, x)

    ours.set_weights(theirs.get_weights())
    _equal_predictions(ours, theirs, x)
    ours.save(tmp_path / f"ours{suffix}")
    _equal_predictions(keras.models.load_model(tmp_path / f"ours{suffix}"), theirs, x)


def test_a_keras_file_trains_on_in_textrnn_as_in_keras(tmp_path):
    """Adam's slots of the new layers' weights (not the moving statistics) cross in Keras's order."""
    theirs, _ = twins(cnn_lstm)
    theirs.compile(keras.optimizers.Adam(0.01), "binary_crossentropy")
    theirs.fit(X, Y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    theirs.save(tmp_path / "k.keras")
    ours = load_model(tmp_path / "k.keras")
    assert ours.compiled
    for model in (theirs, ours):
        model.train_on_batch(X[:16], Y[:16])
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=2e-5)


def test_the_configs_carry_kerass_settings(tmp_path):
    _, ours = twins(transformer_cnn)
    ours.save(tmp_path / "m.keras")
    layers = {spec["class_name"]: spec for spec in json.loads(
        zipfile.ZipFile(tmp_path / "m.keras").read("config.json"))["config"]["layers"]}
    assert layers["Conv1D"]["config"]["padding"] == "same"
    assert layers["AveragePooling1D"]["config"]["padding"] == "same"
    assert layers["LayerNormalization"]["config"]["epsilon"] == 1e-5
    assert layers["TimeDistributed"]["config"]["layer"]["config"]["activation"] == "tanh"
    attention = layers["MultiHeadAttention"]
    shapes = {"query_shape": [None, T, 8], "value_shape": [None, T, 8]}
    assert attention["build_config"]["shapes_dict"] == shapes
    assert len(attention["inbound_nodes"][0]["args"]) == 2  # query and value, as Keras passes them


def _keras_file_with(tmp_path, edit):
    """A Keras file of cnn_lstm (Keras's own), its config changed by `edit(layers)`."""
    theirs, _ = twins(cnn_lstm)
    theirs.save(tmp_path / "k.keras")
    with zipfile.ZipFile(tmp_path / "k.keras") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(members["config.json"])
    edit({spec["class_name"]: spec["config"] for spec in config["config"]["layers"]})
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(tmp_path / "edited.keras", "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return tmp_path / "edited.keras"


@pytest.mark.parametrize("edit, message", [
    (lambda c: c["Conv1D"].update(groups=2),
     r"'conv1d\w*' \(Conv1D\) has groups=2; textrnn reads groups=1 only"),
    (lambda c: c["MaxPooling1D"].update(data_format="channels_first"), "data_format='channels_last' only"),
    (lambda c: c["BatchNormalization"].update(renorm=True), "renorm=True"),
    (lambda c: c["Conv1D"].update(padding="full"), r"layer 'conv1d\w*'"),
])
def test_settings_textrnn_lacks_are_refused_in_one_line(tmp_path, edit, message):
    path = _keras_file_with(tmp_path, edit)
    with pytest.raises(ConfigError, match=message) as refused:
        load_model(path)
    assert "\n" not in str(refused.value) and str(path) in str(refused.value)


def test_a_time_distributed_layer_keras_files_lack_is_refused_when_saving(tmp_path):
    L = textrnn.layers
    model = textrnn.Sequential([textrnn.Input((T, 4)), L.TimeDistributed(L.Lambda(lambda x: x * 2))])
    with pytest.raises(ConfigError, match="TimeDistributed here over one of"):
        model.save(tmp_path / "m.keras")
    assert not (tmp_path / "m.keras").exists()


def test_the_attention_and_convolution_graph_exports_to_onnx(tmp_path):
    _, ours = twins(transformer_cnn)
    export_onnx(ours, tmp_path / "m.onnx")
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    for ids in (X, X[:5]):  # another batch size than the export's
        np.testing.assert_allclose(session.run(None, {"ids": ids.astype(np.int64)})[0],
                                   ours.predict(ids, verbose=0), atol=1e-5)
