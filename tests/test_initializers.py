"""`keras.initializers` against real Keras: every class's distribution (bounds, spread, fans of a
kernel and of a convolution kernel), configs read both ways, seeds, and the published way to start
an Embedding from pretrained word vectors, `embeddings_initializer=Constant(matrix)` with
`trainable=False` (Keras 2's and Deep Learning with Python's GloVe models): trained as Keras's,
saved and loaded with its initializer."""

import json

import keras
import numpy as np
import pytest

import textrnn
from textrnn import initializers
from textrnn.errors import ConfigError, DataError

RNG = np.random.default_rng(0)
SHAPES = [(200, 300), (5, 40, 60)]  # a kernel (inputs, outputs); a Conv1D kernel (window, in, out)
RANDOM = [("RandomUniform", {}), ("RandomUniform", {"minval": 0.1, "maxval": 0.3}), ("RandomNormal", {}),
          ("TruncatedNormal", {"stddev": 0.2}), ("GlorotUniform", {}), ("GlorotNormal", {}),
          ("HeUniform", {}), ("HeNormal", {}), ("LecunUniform", {}), ("LecunNormal", {}),
          ("VarianceScaling", {"scale": 2.0, "mode": "fan_out", "distribution": "untruncated_normal"}),
          ("VarianceScaling", {"scale": 0.5, "mode": "fan_avg", "distribution": "uniform"})]


def _draw(lib, name, kwargs, shape, seed):
    init = getattr(lib.initializers, name)(**kwargs, seed=seed)
    return np.asarray(keras.ops.convert_to_numpy(init(shape)) if lib is keras else init(shape))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name, kwargs", RANDOM)
def test_random_initializers_draw_kerass_distributions(name, kwargs, shape):
    ours, theirs = _draw(textrnn, name, kwargs, shape, 1), _draw(keras, name, kwargs, shape, 2)
    assert ours.shape == shape and ours.dtype == np.float32
    spread = float(theirs.std())
    assert ours.mean() == pytest.approx(theirs.mean(), abs=0.03 * spread + 1e-3)
    assert ours.std() == pytest.approx(spread, rel=0.03)
    if "untruncated" in str(kwargs) or name == "RandomNormal":
        return  # unbounded: the tails differ from draw to draw
    assert ours.min() >= theirs.min() - 0.02 * spread and ours.max() <= theirs.max() + 0.02 * spread
    assert ours.min() == pytest.approx(float(theirs.min()), abs=0.3 * spread)  # the same bounds, reached


@pytest.mark.parametrize("shape", [(32, 128), (128, 32), (4, 8, 16)])
def test_orthogonal_is_kerass(shape):
    ours = np.asarray(textrnn.initializers.Orthogonal(gain=2.0, seed=3)(shape)).reshape(-1, shape[-1])
    theirs = keras.ops.convert_to_numpy(keras.initializers.Orthogonal(gain=2.0, seed=3)(shape))
    small = min(ours.shape)
    gram = ours.T @ ours if ours.shape[0] >= ours.shape[1] else ours @ ours.T
    np.testing.assert_allclose(gram, 4.0 * np.eye(small), atol=1e-4)
    assert theirs.shape == shape and ours.size == theirs.size
    np.testing.assert_allclose(np.linalg.norm(ours), np.linalg.norm(theirs), rtol=1e-4)


@pytest.mark.parametrize("name, kwargs", [("Zeros", {}), ("Ones", {}), ("Constant", {"value": 0.7}),
                                          ("Identity", {"gain": 3.0})])
def test_deterministic_initializers_equal_kerass(name, kwargs):
    ours = np.asarray(getattr(textrnn.initializers, name)(**kwargs)((6, 6)))
    theirs = keras.ops.convert_to_numpy(getattr(keras.initializers, name)(**kwargs)((6, 6)))
    np.testing.assert_array_equal(ours, theirs)


def test_a_seeded_initializer_draws_the_same_values_each_call():
    init = textrnn.initializers.GlorotUniform(seed=7)
    np.testing.assert_array_equal(init((10, 20)), init((10, 20)))
    assert not np.array_equal(init((10, 20)), textrnn.initializers.GlorotUniform(seed=8)((10, 20)))


@pytest.mark.parametrize("name, kwargs", RANDOM + [
    ("Orthogonal", {"gain": 0.5}), ("Constant", {"value": 2.0}), ("Zeros", {}), ("Identity", {"gain": 2.0})])
def test_configs_cross_both_ways(name, kwargs):
    if name not in ("Constant", "Zeros", "Identity"):
        kwargs = {**kwargs, "seed": 5}
    theirs = keras.initializers.serialize(getattr(keras.initializers, name)(**kwargs))
    ours = initializers.get(json.loads(json.dumps(theirs)))  # Keras's config, as a file holds it
    assert type(ours).__name__ == name
    back = keras.initializers.deserialize(initializers.serialize(ours))
    assert type(back).__name__ == name
    kept = back.get_config()  # (Keras's Identity keeps no gain in its config)
    for key in kept.keys() & ours.get_config().keys():
        assert kept[key] == pytest.approx(ours.get_config()[key]), key


def test_names_are_kerass():
    for name in ("glorot_uniform", "GlorotUniform", "uniform", "normal", "zero", "one", "he_normal",
                 "lecun_uniform", "truncated_normal", "variance_scaling", "orthogonal", "identity"):
        ours, theirs = initializers.get(name), keras.initializers.get(name)
        assert type(ours).__name__ == type(theirs).__name__, name
    assert textrnn.initializers.glorot_uniform is textrnn.initializers.GlorotUniform
    with pytest.raises(ConfigError, match="unknown initializer 'glorot'"):
        textrnn.layers.LSTM(4, kernel_initializer="glorot")  # when the layer is made, as Keras
    with pytest.raises(ConfigError, match="does not fit a weight of shape"):
        layer = textrnn.layers.Embedding(10, 4, embeddings_initializer=initializers.Constant(np.ones((9, 4))))
        layer.build((None, 3))


def test_layers_keep_initializer_objects_in_their_configs():
    layer = textrnn.layers.LSTM(4, kernel_initializer=textrnn.initializers.HeNormal(seed=1),
                                recurrent_initializer="orthogonal")
    config = layer.get_config()
    keras_config = keras.layers.LSTM(4, kernel_initializer=keras.initializers.HeNormal(seed=1)).get_config()
    assert config["kernel_initializer"]["class_name"] == keras_config["kernel_initializer"]["class_name"]
    assert config["recurrent_initializer"] == "orthogonal"
    clone = textrnn.layers.LSTM.from_config(json.loads(json.dumps(config)))
    clone.build((None, 5, 3))
    layer.build((None, 5, 3))
    np.testing.assert_array_equal(clone.get_weights()[0], layer.get_weights()[0])  # seeded: same draw


VOCAB, DIM, STEPS = 60, 8, 12
GLOVE = RNG.normal(size=(VOCAB, DIM)).astype("float32")  # stands for a matrix of pretrained vectors
X = RNG.integers(0, VOCAB, (48, STEPS)) * (RNG.random((48, STEPS)) > 0.2)
Y = (X[:, 0] > VOCAB // 2).astype("float32")


def _glove_model(lib):
    L = lib.layers
    return lib.Sequential([
        lib.Input((STEPS,), dtype="int32"),
        L.Embedding(VOCAB, DIM, embeddings_initializer=lib.initializers.Constant(GLOVE), trainable=False,
                    mask_zero=True),
        L.Bidirectional(L.LSTM(6)), L.Dense(1, activation="sigmoid")])


def test_a_frozen_constant_embedding_trains_as_kerass(tmp_path):
    keras.utils.set_random_seed(0)
    theirs, ours = _glove_model(keras), _glove_model(textrnn)
    np.testing.assert_array_equal(ours.layers[0].get_weights()[0], GLOVE)
    ours.set_weights(theirs.get_weights())
    for model, lib in ((theirs, keras), (ours, textrnn)):
        model.compile(lib.optimizers.RMSprop(0.01), "binary_crossentropy", metrics=["accuracy"])
    history = [m.fit(X, Y, batch_size=8, epochs=2, shuffle=False, verbose=0).history for m in (theirs, ours)]
    np.testing.assert_allclose(history[1]["loss"], history[0]["loss"], rtol=1e-4)
    np.testing.assert_array_equal(ours.layers[0].get_weights()[0], GLOVE)  # frozen
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-4)
    assert ours.count_params() == theirs.count_params()

    ours.save(tmp_path / "glove")  # textrnn's folder keeps the initializer, as Keras's config does,
    config_text = (tmp_path / "glove" / "config.json").read_text()  # its matrix beside the JSON
    assert "__numpy__" not in config_text and len(config_text) < 10_000
    loaded = textrnn.models.load_model(tmp_path / "glove")
    init = loaded.layers[0].embeddings_initializer
    assert isinstance(init, textrnn.initializers.Constant)
    np.testing.assert_array_equal(np.asarray(init.value), GLOVE)
    np.testing.assert_allclose(loaded.predict(X, verbose=0), ours.predict(X, verbose=0), atol=1e-6)
    assert loaded.get_config() == ours.get_config()
    (tmp_path / "glove" / "config_arrays.safetensors").write_bytes(b"damaged")
    with pytest.raises(DataError, match="damaged arrays file"):
        textrnn.models.load_model(tmp_path / "glove")

    theirs.save(tmp_path / "glove.keras")  # Keras's file, its config holding the matrix
    from_keras = textrnn.models.load_model(tmp_path / "glove.keras")
    np.testing.assert_allclose(from_keras.predict(X, verbose=0), theirs.predict(X, verbose=0), atol=1e-5)


def test_a_keras_file_holding_a_vocabulary_sized_matrix_in_its_config_loads(tmp_path):
    """Keras writes Constant(embedding_matrix) into config.json as JSON numbers: for a real
    vocabulary tens of MB, past the fixed 16 MB a config of layers alone would need."""
    import zipfile

    rng = np.random.default_rng(1)
    matrix = rng.normal(size=(12_000, 100)).astype("float32")
    L = keras.layers
    glove = keras.initializers.Constant(matrix)
    theirs = keras.Sequential([keras.Input((STEPS,), dtype="int32"),
                               L.Embedding(12_000, 100, embeddings_initializer=glove, trainable=False),
                               L.LSTM(4), L.Dense(1, activation="sigmoid")])
    theirs.save(tmp_path / "big.keras")
    with zipfile.ZipFile(tmp_path / "big.keras") as archive:
        assert archive.getinfo("config.json").file_size > 16 << 20
    ours = textrnn.models.load_model(tmp_path / "big.keras")
    np.testing.assert_array_equal(ours.layers[0].get_weights()[0], matrix)
    np.testing.assert_allclose(ours.predict(X, verbose=0), theirs.predict(X, verbose=0), atol=1e-5)
