"""keras.layers.Attention and AdditiveAttention over an RNN's outputs, against real Keras: outputs
with padded reviews (the value's mask), training, `.keras` files both ways."""

import keras
import numpy as np
import pytest

import textrnn
from textrnn.errors import ConfigError
from twins import train_both

RNG = np.random.default_rng(0)
T = 12
X = RNG.integers(1, 40, (40, T))
X[::3, :5] = 0  # pre-padded rows: their steps get no attention
Y = (X[:, -1] > 20).astype("float32")

LAYERS = {
    "dot": lambda lib: lib.layers.Attention(),
    "dot-scaled": lambda lib: lib.layers.Attention(use_scale=True),
    "concat": lambda lib: lib.layers.Attention(use_scale=True, score_mode="concat"),
    "additive": lambda lib: lib.layers.AdditiveAttention(),
    "additive-unscaled": lambda lib: lib.layers.AdditiveAttention(use_scale=False),
}


def _model(lib, kind, with_key=False):
    L = lib.layers
    ids = lib.Input((T,), dtype="int32")
    words = L.Embedding(40, 8, mask_zero=True)(ids)
    states = L.Bidirectional(L.LSTM(5, return_sequences=True))(words)
    query = L.Dense(10, activation="tanh")(states)
    inputs = [query, states, query] if with_key else [query, states]
    attended = LAYERS[kind](lib)(inputs)
    pooled = L.GlobalAveragePooling1D()(attended)
    return lib.Model(ids, L.Dense(1, activation="sigmoid")(pooled))


def _pair(kind, with_key=False):
    keras.utils.set_random_seed(0)
    theirs, ours = _model(keras, kind, with_key), _model(textrnn, kind, with_key)
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()]
    ours.set_weights(theirs.get_weights())
    return theirs, ours


@pytest.mark.parametrize("kind", list(LAYERS))
def test_attention_over_an_lstm_is_kerass(kind, tmp_path):
    theirs, ours = _pair(kind)
    np.testing.assert_allclose(ours.predict(X, verbose=0), theirs.predict(X, verbose=0), atol=1e-5)
    train_both(theirs, ours, X, Y)

    theirs.save(tmp_path / "k.keras")
    from_keras = textrnn.models.load_model(tmp_path / "k.keras")
    np.testing.assert_allclose(from_keras.predict(X, verbose=0), theirs.predict(X, verbose=0), atol=1e-5)
    ours.save(tmp_path / "t.keras")
    back = keras.saving.load_model(tmp_path / "t.keras")
    np.testing.assert_allclose(back.predict(X, verbose=0), theirs.predict(X, verbose=0), atol=1e-5)
    ours.save(tmp_path / "folder")
    again = textrnn.models.load_model(tmp_path / "folder")
    np.testing.assert_allclose(again.predict(X, verbose=0), ours.predict(X, verbose=0), atol=1e-6)


def test_a_separate_key_and_the_masks_act():
    theirs, ours = _pair("dot-scaled", with_key=True)
    np.testing.assert_allclose(ours.predict(X, verbose=0), theirs.predict(X, verbose=0), atol=1e-5)
    padded = X.copy()
    padded[:, :5] = 0
    rows = ours.predict(padded, verbose=0)
    changed = padded.copy()
    changed[:, 5:] = X[:, 5:]
    changed[:, :5] = 0
    np.testing.assert_allclose(rows, ours.predict(changed, verbose=0))  # the same words, the same output
    unmasked = _model(textrnn, "dot-scaled", with_key=True)
    unmasked.layers[1].mask_zero = False
    unmasked.set_weights(ours.get_weights())
    assert not np.allclose(unmasked.predict(padded, verbose=0), rows, atol=1e-4)  # the mask mattered


def test_attention_is_called_on_a_list_in_one_line():
    L = textrnn.layers
    ids = textrnn.Input((T,), dtype="int32")
    states = L.LSTM(4, return_sequences=True)(L.Embedding(40, 8)(ids))
    with pytest.raises(ConfigError, match="called on a list"):
        L.Attention()(states)
    with pytest.raises(ConfigError, match="score_mode must be"):
        L.Attention(score_mode="general")
