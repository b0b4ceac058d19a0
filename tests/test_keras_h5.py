"""Keras's legacy `.h5` files (Keras 2's `model.save("model.h5")` and `save_weights("w.h5")`, still
written by Keras 3 for those names), read by textrnn with real Keras 3 as the judge: the same
predictions as Keras's model of those weights, compiled as the file says, Keras 3's optimizer
state where the file has it; and written by textrnn as Keras 3 writes them (the same layout as
Keras's own file of the same model), opened by Keras. Keras 2's recurrent configs, which Keras 3
itself no longer reads, are written here as TensorFlow 2's Keras wrote them."""

import json

import h5py
import keras
import numpy as np
import pytest

import textrnn
from textrnn.errors import DataError
from textrnn.models import load_model

RNG = np.random.default_rng(0)
X = RNG.integers(1, 100, (24, 20))
Y = (X[:, 0] > 50).astype("float32")


def _keras_model(name):
    L = keras.layers
    body = {"lstm": [L.LSTM(6, dropout=0.2)],
            "stacked-lstm": [L.LSTM(6, return_sequences=True), L.LSTM(6)],
            "bi-lstm": [L.Bidirectional(L.LSTM(4, return_sequences=True)), L.GRU(3), L.Dropout(0.2)]}[name]
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((20,), dtype="int32"), L.Embedding(100, 8), *body,
                             L.Dense(1, activation="sigmoid")])


@pytest.mark.parametrize("name", ["lstm", "stacked-lstm", "bi-lstm"])
def test_a_keras_h5_model_file_loads_compiled_and_goes_on_training(tmp_path, name):
    theirs = _keras_model(name)
    theirs.compile(keras.optimizers.Adam(0.01), "binary_crossentropy", metrics=["acc"])
    theirs.fit(X, Y, batch_size=8, epochs=1, verbose=0)
    theirs.save(tmp_path / "model.h5")  # Keras 3 writes the legacy HDF5 layout for this name
    ours = load_model(tmp_path / "model.h5")
    np.testing.assert_allclose(ours.predict(X, verbose=0), theirs.predict(X, verbose=0), atol=1e-5)
    assert ours.compiled and ours._optimizer_spec.name == "adam" and ours.metric_names == ["acc"]
    assert ours.optimizer.iterations == 3  # Keras 3's optimizer variables came along
    if name == "stacked-lstm":  # (the others draw dropout masks, which differ between the libraries)
        theirs.train_on_batch(X[:8], Y[:8])
        ours.train_on_batch(X[:8], Y[:8])
        for a, b in zip(ours.get_weights(), theirs.get_weights()):
            np.testing.assert_allclose(a, b, atol=2e-5)


# A file as Keras 2 (TensorFlow 2.x) wrote it: its config style (batch_input_shape in the first
# layer, initializers without a module, time_major), weight names with ":0", its metric objects.
def _initializer(name, **config):
    return {"class_name": name, "config": config}


LSTM2 = {"name": "lstm", "trainable": True, "dtype": "float32", "return_sequences": False,
         "return_state": False, "go_backwards": False, "stateful": False, "unroll": False,
         "time_major": False, "units": 4, "activation": "tanh", "recurrent_activation": "sigmoid",
         "use_bias": True, "kernel_initializer": _initializer("GlorotUniform", seed=None),
         "recurrent_initializer": _initializer("Orthogonal", gain=1.0, seed=None),
         "bias_initializer": _initializer("Zeros"), "unit_forget_bias": True,
         "kernel_regularizer": None, "recurrent_regularizer": None, "bias_regularizer": None,
         "activity_regularizer": None, "kernel_constraint": None, "recurrent_constraint": None,
         "bias_constraint": None, "dropout": 0.2, "recurrent_dropout": 0.0, "implementation": 2}
KERAS2_LAYERS = {
    "input": {"class_name": "InputLayer", "config": {
        "batch_input_shape": [None, 20], "dtype": "float32", "sparse": False, "ragged": False,
        "name": "embedding_input"}},
    "embedding": {"class_name": "Embedding", "config": {
        "name": "embedding", "trainable": True, "batch_input_shape": [None, 20], "dtype": "float32",
        "input_dim": 100, "output_dim": 8, "embeddings_initializer": _initializer(
            "RandomUniform", minval=-0.05, maxval=0.05, seed=None),
        "embeddings_regularizer": None, "activity_regularizer": None, "embeddings_constraint": None,
        "mask_zero": False, "input_length": 20}},
    "bidirectional": {"class_name": "Bidirectional", "config": {
        "name": "bidirectional", "trainable": True, "dtype": "float32", "merge_mode": "concat",
        "layer": {"class_name": "LSTM", "config": LSTM2}}},
    "lstm": {"class_name": "LSTM", "config": LSTM2},
    "dropout": {"class_name": "Dropout", "config": {"name": "dropout", "trainable": True, "dtype": "float32",
                                                    "rate": 0.5, "noise_shape": None, "seed": None}},
    "dense": {"class_name": "Dense", "config": {
        "name": "dense", "trainable": True, "dtype": "float32", "units": 1, "activation": "sigmoid",
        "use_bias": True, "kernel_initializer": _initializer("GlorotUniform", seed=None),
        "bias_initializer": _initializer("Zeros"), "kernel_regularizer": None, "bias_regularizer": None,
        "activity_regularizer": None, "kernel_constraint": None, "bias_constraint": None}},
}
CUDNN2 = {"name": "cu_dnnlstm", "trainable": True, "dtype": "float32", "return_sequences": False,
          "return_state": False, "go_backwards": False, "stateful": False, "units": 4,
          **{k: LSTM2[k] for k in ("kernel_initializer", "recurrent_initializer", "bias_initializer",
                                   "unit_forget_bias", "kernel_regularizer", "recurrent_regularizer",
                                   "bias_regularizer", "activity_regularizer", "kernel_constraint",
                                   "recurrent_constraint", "bias_constraint")}}
KERAS2_LAYERS["cudnn"] = {"class_name": "Bidirectional", "config": {
    "name": "bidirectional", "trainable": True, "dtype": "float32", "merge_mode": "concat",
    "layer": {"class_name": "CuDNNLSTM", "config": CUDNN2}}}
KERAS2_WEIGHTS = {"embedding": ["embedding/embeddings:0"],
                  "bidirectional": [f"bidirectional/{d}_lstm/lstm_cell/{w}:0" for d in ("forward", "backward")
                                    for w in ("kernel", "recurrent_kernel", "bias")],
                  "lstm": [f"lstm/lstm_cell/{w}:0" for w in ("kernel", "recurrent_kernel", "bias")],
                  "cudnn": [f"bidirectional/{d}_cu_dnnlstm/{w}:0" for d in ("forward", "backward")
                            for w in ("kernel", "recurrent_kernel", "bias")],
                  "dropout": [], "dense": ["dense/kernel:0", "dense/bias:0"]}
KERAS2_TRAINING = {
    "loss": "binary_crossentropy", "weighted_metrics": None, "loss_weights": None,
    "metrics": [[{"class_name": "MeanMetricWrapper",
                  "config": {"name": "acc", "dtype": "float32", "fn": "binary_accuracy"}}]],
    "optimizer_config": {"class_name": "RMSprop", "config": {
        "name": "RMSprop", "learning_rate": 0.002, "decay": 0.0, "rho": 0.9, "momentum": 0.0,
        "epsilon": 1e-07, "centered": False}}}


def _keras3_twin(recurrent):
    """Keras 3's model of the same layers, with weights of its own drawing: the judge of the
    file's predictions, and the source of the file's weights."""
    L = keras.layers
    cell = L.Bidirectional(L.LSTM(4)) if recurrent in ("bidirectional", "cudnn") else L.LSTM(4)
    keras.utils.set_random_seed(1)
    return keras.Sequential([keras.Input((20,), dtype="int32"), L.Embedding(100, 8), cell, L.Dropout(0.5),
                             L.Dense(1, activation="sigmoid")])


def _write_keras2_file(path, recurrent="bidirectional", with_model=True):
    names = ["embedding", recurrent, "dropout", "dense"]
    twin = _keras3_twin(recurrent)
    with h5py.File(path, "w") as h5:
        if with_model:
            h5.attrs["keras_version"] = b"2.9.0"
            h5.attrs["backend"] = b"tensorflow"
            h5.attrs["model_config"] = json.dumps({"class_name": "Sequential", "config": {
                "name": "sequential", "layers": [KERAS2_LAYERS[n] for n in ["input", *names]]}}).encode()
            h5.attrs["training_config"] = json.dumps(KERAS2_TRAINING).encode()
            group = h5.create_group("model_weights")
            optimizer = h5.create_group("optimizer_weights")  # Keras 2's own count and order
            optimizer.attrs["weight_names"] = [b"RMSprop/iter:0"]
            optimizer.create_dataset("RMSprop/iter:0", data=np.int64(5))
        else:
            group = h5
        group.attrs["layer_names"] = [name.encode() for name in names]
        group.attrs["backend"] = b"tensorflow"
        group.attrs["keras_version"] = b"2.9.0"
        for name, layer in zip(names, twin.layers):
            layer_group = group.create_group(name)
            layer_group.attrs["weight_names"] = [n.encode() for n in KERAS2_WEIGHTS[name]]
            values = layer.get_weights()
            if name == "cudnn":  # its two biases, which add up to the twin's one
                values = [w if w.ndim == 2 else np.concatenate([w - 0.25, np.full_like(w, 0.25)])
                          for w in values]
            for weight_name, value in zip(KERAS2_WEIGHTS[name], values):
                layer_group.create_dataset(weight_name, data=value)
    return path, twin


@pytest.mark.parametrize("recurrent", ["bidirectional", "lstm", "cudnn"])
def test_a_keras2_h5_model_file_loads(tmp_path, recurrent):
    path, twin = _write_keras2_file(tmp_path / "sentiment.h5", recurrent)
    with pytest.warns(UserWarning, match="skipping the optimizer's 1 variables; this model's optimizer has"):
        ours = load_model(path)
    expected = twin.predict(X, verbose=0)
    np.testing.assert_allclose(ours.predict(X, verbose=0), expected, atol=1e-5)
    with pytest.raises((TypeError, ValueError)):  # Keras 3.15 cannot read Keras 2's recurrent
        keras.models.load_model(path)  # configs (time_major; an inner layer without its module)
    assert [type(layer).__name__ for layer in ours.layers] == [
        "Embedding", "LSTM" if recurrent == "lstm" else "Bidirectional", "Dropout", "Dense"]
    if recurrent == "cudnn":  # (Keras 3 has no cuDNN layers to read it with)
        assert type(ours.layers[1].forward_layer).__name__ == "CuDNNLSTM"
    assert ours.compiled and ours._optimizer_spec.name == "rmsprop"
    assert float(ours.optimizer.learning_rate) == pytest.approx(0.002) and ours.metric_names == ["acc"]
    assert ours.optimizer.iterations == 0  # Keras 2's optimizer state is skipped, as Keras 3 skips it
    ours.fit(X, Y, epochs=1, verbose=0)


def test_a_keras2_h5_weights_file_loads_into_a_model_by_layer_order(tmp_path):
    path, twin = _write_keras2_file(tmp_path / "weights.h5", with_model=False)
    L = textrnn.layers
    ours = textrnn.Sequential([textrnn.Input((20,), dtype="int32"), L.Embedding(100, 8),
                               L.Bidirectional(L.LSTM(4)), L.Dropout(0.5), L.Dense(1, activation="sigmoid")])
    ours.load_weights(path)
    np.testing.assert_allclose(ours.predict(X, verbose=0), twin.predict(X, verbose=0), atol=1e-5)
    with pytest.raises(DataError, match="holds weights only"):
        load_model(path)


def test_bad_h5_files_are_refused_in_one_line(tmp_path):
    path, _ = _write_keras2_file(tmp_path / "weights.h5", with_model=False)
    L = textrnn.layers
    fewer = textrnn.Sequential([textrnn.Input((20,), dtype="int32"), L.Embedding(100, 8),
                                L.GlobalAveragePooling1D(), L.Dense(1)])
    with pytest.raises(DataError, match="the file holds the weights of 3 layers"):
        fewer.load_weights(path)
    one_way = textrnn.Sequential([textrnn.Input((20,), dtype="int32"), L.Embedding(100, 8), L.LSTM(4),
                                  L.Dense(1)])
    with pytest.raises(DataError, match="layer 'bidirectional' of the file has 6 weights; the model's layer"):
        one_way.load_weights(path)
    other = textrnn.Sequential([textrnn.Input((20,), dtype="int32"), L.Embedding(100, 16),
                                L.Bidirectional(L.LSTM(4)), L.Dense(1)])
    with pytest.raises(DataError, match="'embedding/embeddings:0' of layer 'embedding' should have shape"):
        other.load_weights(path)
    (tmp_path / "broken.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    with pytest.raises(DataError, match="not a readable HDF5 file"):
        load_model(tmp_path / "broken.h5")
    with h5py.File(tmp_path / "functional.h5", "w") as h5:
        h5.attrs["keras_version"] = b"2.9.0"
        h5.attrs["model_config"] = json.dumps({"class_name": "Functional", "config": {
            "layers": [], "input_layers": [], "output_layers": []}}).encode()
    with pytest.raises(textrnn.errors.ConfigError, match="the model's inputs are not"):
        load_model(tmp_path / "functional.h5")


def _node(*sources):
    """Keras 2's inbound node: the layer called on these layers' first outputs."""
    return [[[name, 0, 0, {}] for name in sources]]


@pytest.mark.parametrize("recurrent", [False, True])
def test_a_keras2_functional_h5_model_loads(tmp_path, recurrent):
    """A functional model as TensorFlow 2's Keras saved it (inbound nodes as [layer, node, tensor,
    kwargs] lists): two branches joined by Concatenate. The one without a recurrent layer Keras 3
    reads too, and both libraries agree; the one with a Bi-LSTM (which Keras 3 cannot read) is
    judged by Keras 3's model of the same weights."""
    L = keras.layers
    keras.utils.set_random_seed(2)
    ids = keras.Input((20,), dtype="int32")
    words = L.Embedding(100, 8)(ids)
    second = L.Bidirectional(L.LSTM(4))(words) if recurrent else L.GlobalMaxPooling1D()(words)
    joined = L.Concatenate()([L.GlobalAveragePooling1D()(words), second])
    twin = keras.Model(ids, L.Dense(1, activation="sigmoid")(joined))
    branch = "bidirectional" if recurrent else "global_max_pooling1d"
    layers = [
        {"class_name": "InputLayer", "name": "input_1", "inbound_nodes": [], "config": {
            "batch_input_shape": [None, 20], "dtype": "int32", "sparse": False, "ragged": False,
            "name": "input_1"}},
        {**KERAS2_LAYERS["embedding"], "name": "embedding", "inbound_nodes": _node("input_1")},
        {"class_name": "GlobalAveragePooling1D", "name": "global_average_pooling1d",
         "inbound_nodes": _node("embedding"), "config": {
             "name": "global_average_pooling1d", "trainable": True, "dtype": "float32",
             "data_format": "channels_last", "keepdims": False}},
        {**(KERAS2_LAYERS["bidirectional"] if recurrent else {
            "class_name": "GlobalMaxPooling1D", "config": {
                "name": "global_max_pooling1d", "trainable": True, "dtype": "float32",
                "data_format": "channels_last", "keepdims": False}}),
         "name": branch, "inbound_nodes": _node("embedding")},
        {"class_name": "Concatenate", "name": "concatenate", "config": {
            "name": "concatenate", "trainable": True, "dtype": "float32", "axis": -1},
         "inbound_nodes": _node("global_average_pooling1d", branch)},
        {**KERAS2_LAYERS["dense"], "name": "dense", "inbound_nodes": _node("concatenate")},
    ]
    config = {"class_name": "Functional", "config": {"name": "model", "layers": layers,
                                                     "input_layers": [["input_1", 0, 0]],
                                                     "output_layers": [["dense", 0, 0]]}}
    values = {layer.name: layer.get_weights() for layer in twin.layers}
    names = {"embedding": "embedding", branch: "bidirectional" if recurrent else "global_max_pooling1d",
             "dense": "dense"}
    with h5py.File(tmp_path / "functional.h5", "w") as h5:
        h5.attrs["keras_version"] = b"2.9.0"
        h5.attrs["backend"] = b"tensorflow"
        h5.attrs["model_config"] = json.dumps(config).encode()
        group = h5.create_group("model_weights")
        order = ("input_1", "embedding", "global_average_pooling1d", branch, "concatenate", "dense")
        group.attrs["layer_names"] = [n.encode() for n in order]
        for name in order:
            weight_names = KERAS2_WEIGHTS.get(name, []) if name in names else []
            layer_group = group.create_group(name)
            layer_group.attrs["weight_names"] = [w.encode() for w in weight_names]
            twin_name = next((n for n in values if n.startswith(names.get(name, "-"))), None)
            for weight_name, value in zip(weight_names, values.get(twin_name, [])):
                layer_group.create_dataset(weight_name, data=value)
    ours = load_model(tmp_path / "functional.h5")
    expected = twin.predict(X, verbose=0)
    np.testing.assert_allclose(ours.predict(X, verbose=0), expected, atol=1e-5)
    if not recurrent:
        theirs = keras.models.load_model(tmp_path / "functional.h5", compile=False)
        np.testing.assert_allclose(theirs.predict(X, verbose=0), expected, atol=1e-6)


# --- textrnn writes them: model.save("model.h5"), save_weights("weights.h5"), ModelCheckpoint -----
def _named(lib, name):
    """The same model in Keras 3 and in textrnn, layer names given, so that the files can match."""
    L = lib.layers
    body = {"lstm": [L.LSTM(6, name="lstm")],
            "bi-lstm": [L.Bidirectional(L.LSTM(4, return_sequences=True, name="lstm"), name="bidirectional"),
                        L.GRU(3, name="gru"), L.Dropout(0.2, name="dropout")]}[name]
    return lib.Sequential([lib.Input((20,), dtype="int32"),
                           L.Embedding(100, 8, mask_zero=True, name="embedding"), *body,
                           L.Dense(1, activation="sigmoid", name="dense")], name="sequential")


def _layout(path):
    """What a legacy file holds, names and shapes: {group path: (its weight_names, shapes)}."""
    out = {}
    with h5py.File(path, "r") as h5:
        out["/"] = sorted(h5.attrs)
        weights = h5["model_weights"]
        out["layer_names"] = list(weights.attrs["layer_names"])
        for layer in weights:
            names = list(weights[layer].attrs["weight_names"])
            out[layer] = [(n, weights[layer][n].shape) for n in names]
        if "optimizer_weights" in h5:  # (the optimizer's own name, e.g. rm_sprop_2, left out)
            group = h5["optimizer_weights"]
            out["optimizer"] = [(n.split("/", 1)[1], group[n].shape)
                                for n in group.attrs["weight_names"]]
    return out


@pytest.mark.parametrize("name", ["lstm", "bi-lstm"])
@pytest.mark.parametrize("optimizer", ["rmsprop", "adam"])
def test_model_save_h5_writes_the_file_keras_writes_and_keras_opens_it(tmp_path, name, optimizer):
    theirs, ours = _named(keras, name), _named(textrnn, name)
    for model in (theirs, ours):
        model.compile(optimizer, "binary_crossentropy", metrics=["acc"])
        model.fit(X, Y, batch_size=8, epochs=1, verbose=0)
    theirs.save(tmp_path / "keras.h5")
    ours.save(tmp_path / "ours.h5")
    assert _layout(tmp_path / "ours.h5") == _layout(tmp_path / "keras.h5")

    back = keras.models.load_model(tmp_path / "ours.h5")
    np.testing.assert_allclose(back.predict(X, verbose=0), ours.predict(X, verbose=0), atol=1e-6)
    assert type(back.optimizer).__name__ == type(theirs.optimizer).__name__
    assert back.loss.__name__ == "binary_crossentropy"
    # Keras 3.15 on PyTorch cannot train on from a legacy file's optimizer state, its own included
    for path in ("ours.h5", "keras.h5"):
        with pytest.raises(ValueError, match="Unknown variable"):
            keras.models.load_model(tmp_path / path).fit(X, Y, epochs=1, verbose=0)


@pytest.mark.parametrize("optimizer", ["rmsprop", "adam", "nadam"])
def test_training_goes_on_from_an_h5_file_as_if_never_stopped(tmp_path, optimizer):
    L = textrnn.layers

    def model():
        textrnn.utils.set_random_seed(0)
        m = textrnn.Sequential([textrnn.Input((20,), dtype="int32"), L.Embedding(100, 8),
                                L.Bidirectional(L.LSTM(4)), L.Dense(1, activation="sigmoid")])
        m.compile(optimizer, "binary_crossentropy", metrics=["acc"])
        return m

    whole, stopped = model(), model()
    whole.fit(X, Y, batch_size=8, epochs=2, verbose=0, shuffle=False)
    stopped.fit(X, Y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    stopped.save(tmp_path / "model.h5")
    resumed = load_model(tmp_path / "model.h5")
    assert resumed.optimizer.iterations == 3
    resumed.fit(X, Y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(resumed.get_weights(), whole.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_save_weights_to_an_h5_name_writes_keras2s_layout(tmp_path):
    ours = _named(textrnn, "bi-lstm")
    ours.save_weights(tmp_path / "w.h5")  # Keras 2's code names it so; Keras 3 reads it by layer order
    theirs = _named(keras, "bi-lstm")
    theirs.load_weights(tmp_path / "w.h5")
    np.testing.assert_allclose(theirs.predict(X, verbose=0), ours.predict(X, verbose=0), atol=1e-6)
    again = _named(textrnn, "bi-lstm")
    again.load_weights(tmp_path / "w.h5")
    np.testing.assert_allclose(again.predict(X, verbose=0), ours.predict(X, verbose=0), atol=0)
    with h5py.File(tmp_path / "w.h5", "r") as h5:
        assert "layer_names" in h5.attrs and "model_config" not in h5.attrs


def test_model_checkpoint_to_h5_names_writes_files_keras_opens(tmp_path):
    ours = _named(textrnn, "lstm")
    ours.compile("rmsprop", "binary_crossentropy", metrics=["acc"])
    checkpoint = textrnn.callbacks.ModelCheckpoint
    callbacks = [checkpoint(str(tmp_path / "best.h5"), monitor="loss", save_best_only=True),
                 checkpoint(str(tmp_path / "w-{epoch}.h5"), save_weights_only=True)]
    ours.fit(X, Y, batch_size=8, epochs=2, verbose=0, callbacks=callbacks)
    assert h5py.is_hdf5(tmp_path / "best.h5") and h5py.is_hdf5(tmp_path / "w-2.h5")
    back = keras.models.load_model(tmp_path / "best.h5")
    theirs = _named(keras, "lstm")
    theirs.load_weights(tmp_path / "w-2.h5")
    np.testing.assert_allclose(back.predict(X, verbose=0), theirs.predict(X, verbose=0), atol=1e-6)


def test_what_an_h5_file_cannot_hold_is_refused_in_one_line(tmp_path):
    from textrnn.data import TextEncoder, Vocabulary

    ours = _named(textrnn, "lstm")
    (tmp_path / "model.h5").mkdir()  # (a textrnn 0.1 model folder of that name, say)
    (tmp_path / "model.h5" / "config.json").write_text("{}")
    with pytest.raises(textrnn.errors.ConfigError, match="is a folder, and this writes a file there"):
        ours.save(tmp_path / "model.h5")
    assert (tmp_path / "model.h5" / "config.json").read_text() == "{}"
    ours.text_encoder = TextEncoder(Vocabulary(["a", "b"]), 20)
    with pytest.raises(textrnn.errors.ConfigError, match="no place for the model's vocabulary"):
        ours.save(tmp_path / "other.h5")
    with pytest.raises(textrnn.errors.ConfigError, match=r"must end in \.weights\.h5 \(Keras 3\) or \.h5"):
        ours.save_weights(tmp_path / "w.bin")
    assert not (tmp_path / "other.h5").exists()
