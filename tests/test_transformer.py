"""keras.layers.MultiHeadAttention against real Keras: keras.io's "Text classification with
Transformer" (layers of one's own holding Embedding, MultiHeadAttention, a Sequential, layer
normalisation and dropout) and MultiHeadAttention called in a model graph on masked reviews."""

import keras
import numpy as np
import pytest

import textrnn
from textrnn.errors import ConfigError
from twins import train_both, twins

RNG = np.random.default_rng(0)
T, VOCAB = 12, 50
X = RNG.integers(1, VOCAB, (40, T))
X[::3, :5] = 0  # pre-padded rows
Y = (X[:, -1] > 25).astype("float32")


def transformer_classifier(lib, rate=0.0):
    """keras.io/examples/nlp/text_classification_with_transformer (its classes as published;
    sizes smaller)."""
    layers, ops = lib.layers, lib.ops

    class TransformerBlock(layers.Layer):
        def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1):
            super().__init__()
            self.att = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
            self.ffn = lib.Sequential([layers.Dense(ff_dim, activation="relu"), layers.Dense(embed_dim)])
            self.layernorm1 = layers.LayerNormalization(epsilon=1e-6)
            self.layernorm2 = layers.LayerNormalization(epsilon=1e-6)
            self.dropout1 = layers.Dropout(rate)
            self.dropout2 = layers.Dropout(rate)

        def call(self, inputs):
            attn_output = self.att(inputs, inputs)
            attn_output = self.dropout1(attn_output)
            out1 = self.layernorm1(inputs + attn_output)
            ffn_output = self.ffn(out1)
            ffn_output = self.dropout2(ffn_output)
            return self.layernorm2(out1 + ffn_output)

    class TokenAndPositionEmbedding(layers.Layer):
        def __init__(self, maxlen, vocab_size, embed_dim):
            super().__init__()
            self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
            self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

        def call(self, x):
            maxlen = ops.shape(x)[-1]
            positions = ops.arange(start=0, stop=maxlen, step=1)
            positions = self.pos_emb(positions)
            x = self.token_emb(x)
            return x + positions

    embed_dim, num_heads, ff_dim = 8, 2, 16
    inputs = layers.Input(shape=(T,))
    x = TokenAndPositionEmbedding(T, VOCAB, embed_dim)(inputs)
    x = TransformerBlock(embed_dim, num_heads, ff_dim, rate)(x)
    x = layers.GlobalAveragePooling1D()(x)
    x = layers.Dropout(rate)(x)
    x = layers.Dense(10, activation="relu")(x)
    x = layers.Dropout(rate)(x)
    outputs = layers.Dense(2, activation="softmax")(x)
    return lib.Model(inputs=inputs, outputs=outputs)


def test_kerasios_transformer_classifier_is_kerass():
    theirs, ours = twins(transformer_classifier)
    assert ours.count_params() == theirs.count_params()
    np.testing.assert_allclose(ours.predict(X, verbose=0), theirs.predict(X, verbose=0), atol=1e-5)
    train_both(theirs, ours, X, Y, learning_rate=0.01, loss="sparse_categorical_crossentropy",
               metrics=["accuracy"])
    with_dropout = twins(lambda lib: transformer_classifier(lib, rate=0.1))  # dropout only in training
    np.testing.assert_allclose(with_dropout[1].predict(X, verbose=0), with_dropout[0].predict(X, verbose=0),
                               atol=1e-5)


def _graph(lib, causal_key=False):
    L = lib.layers
    ids = lib.Input((T,), dtype="int32")
    x = L.Embedding(VOCAB, 8, mask_zero=True)(ids)
    context = L.Dense(6)(x)
    attended = L.MultiHeadAttention(num_heads=2, key_dim=4, value_dim=3)(x, context, context) if causal_key \
        else L.MultiHeadAttention(num_heads=2, key_dim=4)(x, x)
    pooled = L.GlobalAveragePooling1D()(attended)
    return lib.Model(ids, L.Dense(1, activation="sigmoid")(pooled))


@pytest.mark.parametrize("with_key", [False, True])
def test_multi_head_attention_in_a_model_graph_takes_the_masks_as_kerass(with_key):
    theirs, ours = twins(lambda lib: _graph(lib, with_key))
    np.testing.assert_allclose(ours.predict(X, verbose=0), theirs.predict(X, verbose=0), atol=1e-5)
    for model, lib in ((theirs, keras), (ours, textrnn)):
        model.compile(lib.optimizers.RMSprop(0.01), "binary_crossentropy")
    history = [m.fit(X, Y, batch_size=8, epochs=2, shuffle=False, verbose=0).history["loss"]
               for m in (theirs, ours)]
    np.testing.assert_allclose(history[1], history[0], rtol=1e-4)


def test_multi_head_attention_eagerly_with_masks_and_a_causal_mask():
    import torch

    keras.utils.set_random_seed(0)
    theirs = keras.layers.MultiHeadAttention(num_heads=2, key_dim=3)
    ours = textrnn.layers.MultiHeadAttention(num_heads=2, key_dim=3)
    rng = np.random.default_rng(1)
    query, value = rng.normal(size=(3, 5, 4)).astype("float32"), rng.normal(size=(3, 6, 4)).astype("float32")
    value_mask = np.ones((3, 6), bool)
    value_mask[0, 4:] = False
    args = {"value_mask": value_mask, "return_attention_scores": True}
    expected, expected_scores = theirs(query, value, **args)
    ours.build([query.shape, value.shape])
    ours.set_weights(theirs.get_weights())
    got, scores = ours(torch.as_tensor(query), torch.as_tensor(value),
                       value_mask=torch.as_tensor(value_mask), return_attention_scores=True)
    np.testing.assert_allclose(got.detach().numpy(), keras.ops.convert_to_numpy(expected), atol=1e-5)
    expected_scores = keras.ops.convert_to_numpy(expected_scores)
    np.testing.assert_allclose(scores.detach().numpy(), expected_scores, atol=1e-6)
    square = rng.normal(size=(2, 5, 4)).astype("float32")
    causal = keras.ops.convert_to_numpy(theirs(square, square, use_causal_mask=True))
    np.testing.assert_allclose(ours(torch.as_tensor(square), torch.as_tensor(square), use_causal_mask=True)
                               .detach().numpy(), causal, atol=1e-5)
    with pytest.raises(ConfigError, match="attention_axes"):
        textrnn.layers.MultiHeadAttention(2, 4, attention_axes=(1, 2))  # (1,), the default, is taken
