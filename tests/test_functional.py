"""The functional API against real Keras: `Input`, layers called on KerasTensors, `Model(inputs,
outputs)` with branches joined by the merge layers; outputs with Keras's weights copied in, the
summary table, a training step, save / load, and one-line refusals of what is not supported."""

import keras
import numpy as np
import pytest

import textrnn
from textrnn.errors import ConfigError

RNG = np.random.default_rng(0)
X = RNG.integers(0, 100, (16, 12))
Y = RNG.integers(0, 2, 16).astype("float32")


def _two_branches(lib, merge="Concatenate", mask_zero=False):
    L = lib.layers
    inputs = lib.Input(shape=(12,), dtype="int32")
    embedded = L.Embedding(100, 8, mask_zero=mask_zero)(inputs)
    left = L.LSTM(6)(embedded)
    right = L.GRU(6)(embedded)
    joined = getattr(L, merge)()([left, right])
    outputs = L.Dense(1, activation="sigmoid")(joined)  # no dropout: the two would draw other masks
    return lib.Model(inputs, outputs)


def _chain(lib):
    L = lib.layers
    inputs = lib.Input(shape=(12,), dtype="int32")
    x = L.Embedding(100, 8)(inputs)
    x = L.Bidirectional(L.LSTM(5, return_sequences=True))(x)
    x = L.GlobalMaxPooling1D()(x)
    return lib.Model(inputs, L.Dense(1, activation="sigmoid")(x))


def _summary(model, capsys):
    model.summary()
    return capsys.readouterr().out


@pytest.mark.parametrize("build", [_chain, _two_branches,
                                   lambda lib: _two_branches(lib, "Add"),
                                   lambda lib: _two_branches(lib, "Average", mask_zero=True)])
def test_a_functional_model_computes_trains_and_prints_as_keras(build, capsys, tmp_path):
    keras.backend.clear_session()
    textrnn.backend.clear_session()
    theirs, ours = build(keras), build(textrnn)
    X[:4, :5] = 0  # padding for the masked model (and ids like any other for the rest)
    if not ours.layers[1].mask_zero:  # Keras's graph shows mask_zero's mask as an operation of its own
        assert _summary(ours, capsys) == _summary(theirs, capsys)
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(ours.predict(X, verbose=0), theirs.predict(X, verbose=0), atol=1e-5)
    theirs.compile(keras.optimizers.SGD(0.5), "binary_crossentropy", metrics=["accuracy"])
    ours.compile(textrnn.optimizers.SGD(0.5), "binary_crossentropy", metrics=["accuracy"])
    theirs.train_on_batch(X, Y)
    ours.train_on_batch(X, Y)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)
    ours.save(tmp_path / "model")
    again = textrnn.models.load_model(tmp_path / "model")
    np.testing.assert_allclose(again.predict(X, verbose=0), theirs.predict(X, verbose=0), atol=1e-5)
    assert [layer.name for layer in again.layers] == [layer.name for layer in theirs.layers]


def test_what_the_functional_api_does_not_support_is_refused_in_one_line():
    L = textrnn.layers
    inputs = textrnn.Input(shape=(12,), dtype="int32")
    other = textrnn.Input(shape=(12,), dtype="int32")
    shared = L.Embedding(100, 8)
    shared(inputs)
    with pytest.raises(ConfigError, match="shared layers"):
        shared(other)
    with pytest.raises(ConfigError, match="one tensor of inputs"):
        textrnn.Model([inputs, other], L.Dense(1)(L.Flatten()(L.Embedding(100, 2)(inputs))))
    with pytest.raises(ConfigError, match="computed from the given inputs"):
        textrnn.Model(other, L.Dense(1)(L.Flatten()(L.Embedding(100, 2)(inputs))))
    with pytest.raises(ConfigError, match="Concatenate"):
        L.Concatenate()([L.Embedding(100, 2)(inputs), L.Embedding(100, 3, input_length=12)(other)][:1])
    with pytest.raises(ConfigError, match="return_state=True"):
        L.LSTM(4, return_state=True)(textrnn.Input(shape=(None, 3)))
    with pytest.raises(ConfigError, match="initial_state="):
        L.LSTM(4)(textrnn.Input(shape=(None, 3)), initial_state=[other, other])


def test_an_input_first_in_a_sequential_gives_its_shape_as_in_keras():
    """keras.Input / layers.Input as a Sequential's first entry (keras.io's examples do this)."""
    x = np.random.default_rng(0).random((6, 7, 12)).astype("float32")
    models = []
    keras.backend.clear_session()
    textrnn.backend.clear_session()  # the default names count from here in both
    for lib in (keras, textrnn):
        L = lib.layers
        model = lib.Sequential([lib.Input(shape=(7, 12)), L.LSTM(8), L.RepeatVector(3)])
        model.add(L.LSTM(5, return_sequences=True))
        model.add(L.Dense(12, activation="softmax"))
        if models:
            model.set_weights(models[0].get_weights())
        models.append(model)
    theirs, ours = models
    assert [layer.name for layer in ours.layers] == [layer.name for layer in theirs.layers]
    assert ours.count_params() == theirs.count_params()
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), atol=1e-5)
    with pytest.raises(ConfigError, match="Input must come first"):
        textrnn.Sequential([textrnn.layers.Dense(2), textrnn.Input(shape=(3,))])


def test_a_functional_model_exports_to_onnx_and_to_keras_files(tmp_path):
    import onnxruntime as ort

    from textrnn.interop.onnx_export import export_onnx

    model = _two_branches(textrnn, "Concatenate", mask_zero=True)
    ids = np.maximum(X, 1)
    ids[:4, :5] = 0  # padding before the words, as pad_sequences puts it
    export_onnx(model, tmp_path / "model.onnx")
    session = ort.InferenceSession(str(tmp_path / "model.onnx"))
    got = session.run(None, {"ids": ids.astype(np.int64)})[0]
    np.testing.assert_allclose(got, model.predict(ids, verbose=0), atol=1e-5)
    model.save(tmp_path / "model.keras")
    theirs = keras.saving.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(theirs.predict(ids, verbose=0), model.predict(ids, verbose=0), atol=1e-5)
