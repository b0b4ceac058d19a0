"""The small layers published Keras text models put between the big ones, against real Keras:
Lambda, Reshape, Permute and the activation layers (ReLU, LeakyReLU, ELU, Softmax, PReLU), and
the attention-by-hand block of many Keras 2 LSTM classifiers (Dense(1) scores, Flatten, softmax,
RepeatVector, Permute, multiply, a Lambda sum) that needs them all."""

import keras
import numpy as np
import pytest
import torch

import textrnn
from textrnn.errors import ConfigError
from twins import twins

RNG = np.random.default_rng(0)
T = 12
X = RNG.integers(1, 40, (40, T))
X[::3, :4] = 0  # pre-padded rows
Y = (X[:, -1] > 20).astype("float32")


def _same(layer_args, x, mask=None, weights=None):
    """Keras's layer and textrnn's of the same class and arguments on the same input."""
    name, args, kwargs = layer_args
    theirs = getattr(keras.layers, name)(*args, **kwargs)
    ours = getattr(textrnn.layers, name)(*args, **kwargs)
    theirs.build(x.shape)
    ours.build(x.shape)
    if weights is not None:
        theirs.set_weights(weights)
        ours.set_weights(weights)
    extra = {} if mask is None else {"mask": mask}
    want = keras.ops.convert_to_numpy(theirs(x, **extra))
    ours_extra = {} if mask is None else {"mask": torch.from_numpy(mask)}
    got = ours(torch.from_numpy(x), **ours_extra).detach().numpy()
    return got, want


@pytest.mark.parametrize("name, args, kwargs", [
    ("ReLU", (), {}), ("ReLU", (), {"max_value": 6.0}),
    ("ReLU", (), {"negative_slope": 0.1, "threshold": 0.5}),
    ("ReLU", (), {"max_value": 1.0, "negative_slope": 0.2, "threshold": 0.3}),
    ("LeakyReLU", (), {}), ("LeakyReLU", (0.1,), {}), ("ELU", (), {}), ("ELU", (0.5,), {}),
    ("Softmax", (), {}), ("Softmax", (), {"axis": 1}), ("Softmax", (), {"axis": [1, 2]}),
    ("Reshape", ((4, 9),), {}), ("Reshape", ((-1, 2),), {}), ("Reshape", ((36,),), {}),
    ("Permute", ((2, 1),), {}),
])
def test_small_layers_compute_what_kerass_compute(name, args, kwargs):
    x = RNG.normal(size=(5, 6, 6)).astype("float32") * 3
    got, want = _same((name, args, kwargs), x)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_softmax_gives_masked_entries_no_share_as_kerass():
    x = RNG.normal(size=(4, 7)).astype("float32")
    mask = RNG.random((4, 7)) > 0.3
    got, want = _same(("Softmax", (), {}), x, mask=mask)
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert (got[~mask] == 0).all()
    with pytest.raises(ConfigError, match="does not broadcast"):
        textrnn.layers.Softmax()(torch.zeros(4, 7, 3), mask=torch.ones(4, 7, dtype=torch.bool))


@pytest.mark.parametrize("kwargs", [{}, {"shared_axes": [1]}])
def test_prelu_has_kerass_weight_and_values(kwargs):
    x = RNG.normal(size=(5, 6, 4)).astype("float32")
    alpha_shape = (1, 4) if kwargs else (6, 4)
    got, want = _same(("PReLU", (), kwargs), x, weights=[RNG.normal(size=alpha_shape).astype("float32")])
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_bad_arguments_are_refused_in_one_line():
    with pytest.raises(ConfigError, match="at most one -1"):
        textrnn.layers.Reshape((-1, -1))
    with pytest.raises(ConfigError, match="cannot reshape"):
        textrnn.layers.Reshape((5, 5)).build((None, 6, 4))
    with pytest.raises(ConfigError, match=r"dims must hold 1 \.\. 2"):
        textrnn.layers.Permute((0, 1))
    with pytest.raises(ConfigError, match="negative_slope must be a number >= 0"):
        textrnn.layers.LeakyReLU(-0.1)
    with pytest.raises(ConfigError, match="Lambda: function must be callable"):
        textrnn.layers.Lambda("sum")


def attention_by_hand(lib, mask_zero=False):
    """The attention block of many Keras 2 LSTM classifiers, as they publish it."""
    L, ops = lib.layers, lib.ops  # (published code has K.sum, which textrnn.backend has; Keras 3 has not)
    inputs = L.Input(shape=(T,))
    x = L.Embedding(40, 8, mask_zero=mask_zero)(inputs)
    lstm = L.Bidirectional(L.LSTM(6, return_sequences=True))(x)
    attention = L.Dense(1, activation="tanh")(lstm)
    attention = L.Flatten()(attention)
    attention = L.Activation("softmax")(attention)
    attention = L.RepeatVector(12)(attention)
    attention = L.Permute([2, 1])(attention)
    rep = L.multiply([lstm, attention])
    rep = L.Lambda(lambda xin: ops.sum(xin, axis=-2), output_shape=(12,))(rep)
    rep = L.Reshape((3, 4))(rep)
    rep = L.Flatten()(rep)
    rep = L.LeakyReLU(0.1)(L.Dense(8)(rep))
    return lib.Model(inputs, L.Dense(1, activation="sigmoid")(rep))


def _params_lines(model):
    lines = []
    model.summary(print_fn=lines.append)
    return [line for line in "\n".join(lines).splitlines() if "params" in line]


@pytest.mark.parametrize("mask_zero", [False, True])
def test_the_published_attention_by_hand_trains_as_kerass(tmp_path, mask_zero):
    theirs, ours = twins(lambda lib: attention_by_hand(lib, mask_zero))
    np.testing.assert_allclose(ours.predict(X, verbose=0), theirs.predict(X, verbose=0), atol=1e-5)
    assert _params_lines(ours) == _params_lines(theirs)
    for model, lib in ((theirs, keras), (ours, textrnn)):
        model.compile(lib.optimizers.Adam(0.02), "binary_crossentropy", metrics=["acc"])
    history = [m.fit(X, Y, batch_size=8, epochs=2, shuffle=False, verbose=0).history["loss"]
               for m in (theirs, ours)]
    np.testing.assert_allclose(history[1], history[0], rtol=1e-4)
    with pytest.raises(ConfigError, match=r"'lambda(_\d+)?' is Python code"):
        ours.save(tmp_path / "model")
    assert not (tmp_path / "model").exists()
    ours.save_weights(tmp_path / "w.weights.h5")  # the weights go; the model is built in code
    again = attention_by_hand(textrnn, mask_zero)
    again.load_weights(tmp_path / "w.weights.h5")
    np.testing.assert_allclose(again.predict(X, verbose=0), ours.predict(X, verbose=0), atol=1e-6)
    clone = textrnn.models.clone_model(ours)
    assert clone.count_params() == ours.count_params()


def test_a_lambda_takes_its_arguments_mask_and_training_as_kerass():
    def scaled_last(x, scale, mask=None):  # the last unmasked step, scaled
        steps = keras_free_last(x, mask)
        return steps * scale

    def keras_free_last(x, mask):  # (no mask while the output shape is traced, as in Keras)
        if mask is None:
            return x[:, -1]
        idx = mask.shape[1] - 1 - textrnn.ops.argmax(textrnn.ops.flip(textrnn.ops.cast(mask, "int32"), 1), 1)
        return x[torch.arange(x.shape[0]), idx]

    layer = textrnn.layers.Lambda(scaled_last, arguments={"scale": 2.0})
    model = textrnn.Sequential([textrnn.Input((T,), dtype="int32"),
                                textrnn.layers.Embedding(40, 4, mask_zero=True), layer])
    x = np.array([[0] * 8 + [3, 4, 5, 6], [7] * 11 + [0]])
    out = model.predict(x, verbose=0)
    table = model.layers[0].get_weights()[0]
    np.testing.assert_allclose(out, 2.0 * table[[6, 7]], atol=1e-6)
    assert model.layers[-1].output_shape == (None, 4)  # traced, as Keras finds it

    seen = []
    flag = textrnn.layers.Lambda(lambda x, training=None: seen.append(training) or x)
    flag(torch.zeros(2, 3))
    flag(torch.zeros(2, 3), training=True)
    # its output shape traced in inference mode, then a call for inference (Keras passes None, which
    # its layers take as inference) and one told training=True
    assert seen == [False, False, False, True]

    keeps = textrnn.layers.Lambda(lambda x: x * 2, mask=lambda inputs, mask: mask)
    drops = textrnn.layers.Lambda(lambda x: x * 2)
    mask = torch.tensor([[True, False]])
    assert keeps.compute_mask(torch.zeros(1, 2), mask) is mask
    assert drops.compute_mask(torch.zeros(1, 2), mask) is None


def test_a_lambda_of_several_inputs_and_an_output_shape_function():
    a, b = textrnn.layers.Input((5,)), textrnn.layers.Input((5,))
    distance = textrnn.layers.Lambda(lambda t: torch.abs(t[0] - t[1]), output_shape=lambda shapes: shapes[0])
    diff = distance([a, b])
    model = textrnn.Model([a, b], textrnn.layers.Dense(1)(diff))
    xa, xb = RNG.normal(size=(3, 5)).astype("float32"), RNG.normal(size=(3, 5)).astype("float32")
    kernel, bias = model.layers[-1].get_weights()
    np.testing.assert_allclose(model.predict([xa, xb], verbose=0), np.abs(xa - xb) @ kernel + bias, atol=1e-5)


def attention_without_lambda(lib):
    """The same block with its sum as a Permute, a Dense of ones and a Reshape, and the other
    activation layers (PReLU's weight too): every layer of it goes into `.keras` and `.h5` files."""
    L = lib.layers
    inputs = L.Input(shape=(T,))
    lstm = L.Bidirectional(L.LSTM(6, return_sequences=True))(L.Embedding(40, 8)(inputs))
    scores = L.Softmax()(L.Flatten()(L.Dense(1, activation="tanh")(lstm)))
    weights = L.Permute((2, 1))(L.RepeatVector(12)(scores))
    summed = L.Reshape((12,))(L.Dense(1, use_bias=False)(L.Permute((2, 1))(L.multiply([lstm, weights]))))
    hidden = L.ELU(0.5)(L.LeakyReLU(0.2)(L.ReLU(max_value=6.0)(L.Dense(8)(summed))))
    hidden = L.PReLU(alpha_initializer="random_uniform")(L.Dense(8)(hidden))
    return lib.Model(inputs, L.Dense(1, activation="sigmoid")(hidden))


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_the_reshaping_and_activation_layers_cross_keras_files_both_ways(tmp_path, suffix):
    theirs, ours = twins(attention_without_lambda)
    want = theirs.predict(X, verbose=0)
    np.testing.assert_allclose(ours.predict(X, verbose=0), want, atol=1e-5)
    theirs.save(tmp_path / f"theirs{suffix}")
    np.testing.assert_allclose(textrnn.models.load_model(tmp_path / f"theirs{suffix}").predict(X, verbose=0),
                               want, atol=1e-5)
    ours.save(tmp_path / f"ours{suffix}")
    np.testing.assert_allclose(keras.models.load_model(tmp_path / f"ours{suffix}").predict(X, verbose=0),
                               want, atol=1e-5)
