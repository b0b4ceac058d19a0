"""Keras 3 itself is the oracle: same weights in, same numbers out (to 1e-5)."""

import keras
import numpy as np
import pytest
import torch

import textrnn
from textrnn import layers as L
from textrnn.models import Sequential

VOCAB, DIM, STEPS, BATCH = 50, 8, 12, 6


def _keras_layer(spec):
    kind, kwargs = spec
    if kind == "Bidirectional":
        inner, merge = kwargs
        return keras.layers.Bidirectional(_keras_layer(inner), merge_mode=merge)
    return getattr(keras.layers, kind)(**kwargs)


def _ours_layer(spec):
    kind, kwargs = spec
    if kind == "Bidirectional":
        inner, merge = kwargs
        return L.Bidirectional(_ours_layer(inner), merge_mode=merge)
    return getattr(L, kind)(**kwargs)


def _pair(specs, mask_zero=False):
    """The same stack in Keras and in textrnn, with Keras's random weights copied over."""
    km = keras.Sequential([keras.Input((STEPS,), dtype="int32"),
                           keras.layers.Embedding(VOCAB, DIM, mask_zero=mask_zero),
                           *[_keras_layer(s) for s in specs]])
    ours = Sequential([L.Embedding(VOCAB, DIM, mask_zero=mask_zero, input_length=STEPS),
                       *[_ours_layer(s) for s in specs]])
    ours.set_weights(km.get_weights())
    return km, ours


def _ids(pad="none", seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(1, VOCAB, size=(BATCH, STEPS))
    lengths = [STEPS, 1, 5, 0, 9, 3]
    for row, n in enumerate(lengths):
        if pad == "pre":
            x[row, : STEPS - n] = 0
        elif pad == "post":
            x[row, n:] = 0
        elif pad == "holes":  # zeros inside the sequence: not plain padding
            x[row, rng.integers(0, STEPS, size=3)] = 0
    return x


def _assert_same(km, ours, x):
    expected = np.asarray(km.predict(x, verbose=0))
    got = ours.predict(x)
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-5)


RNNS = {
    "SimpleRNN": ("SimpleRNN", {"units": 7}),
    "SimpleRNN-relu": ("SimpleRNN", {"units": 7, "activation": "relu"}),
    "LSTM": ("LSTM", {"units": 7}),
    "GRU": ("GRU", {"units": 7}),
    "GRU-reset-before": ("GRU", {"units": 7, "reset_after": False}),
    "LSTM-hard-sigmoid": ("LSTM", {"units": 7, "recurrent_activation": "hard_sigmoid"}),
    "LSTM-no-bias": ("LSTM", {"units": 7, "use_bias": False}),
}


def _with(spec, **extra):
    return (spec[0], {**spec[1], **extra})


@pytest.mark.parametrize("name", RNNS)
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_recurrent_layers_match_keras(name, return_sequences, go_backwards):
    spec = _with(RNNS[name], return_sequences=return_sequences, go_backwards=go_backwards)
    km, ours = _pair([spec])
    _assert_same(km, ours, _ids())


@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU", "GRU-reset-before"])
@pytest.mark.parametrize("pad", ["pre", "post", "holes"])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_masking_matches_keras(name, pad, return_sequences):
    spec = _with(RNNS[name], return_sequences=return_sequences)
    km, ours = _pair([spec], mask_zero=True)
    _assert_same(km, ours, _ids(pad))


@pytest.mark.parametrize("merge", ["concat", "sum", "mul", "ave"])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("mask_zero", [False, True])
def test_bidirectional_matches_keras(merge, return_sequences, mask_zero):
    spec = ("Bidirectional", (_with(RNNS["LSTM"], return_sequences=return_sequences), merge))
    km, ours = _pair([spec], mask_zero=mask_zero)
    _assert_same(km, ours, _ids("pre" if mask_zero else "none"))


@pytest.mark.parametrize("mask_zero", [False, True])
def test_stacked_with_head_matches_keras(mask_zero):
    specs = [
        _with(RNNS["LSTM"], return_sequences=True),
        ("Bidirectional", (_with(RNNS["GRU"], return_sequences=True), "concat")),
        _with(RNNS["SimpleRNN"], return_sequences=False),
        ("Dense", {"units": 1, "activation": "sigmoid"}),
    ]
    km, ours = _pair(specs, mask_zero=mask_zero)
    _assert_same(km, ours, _ids("pre" if mask_zero else "none"))



@pytest.mark.filterwarnings("ignore:Layer .* does not support masking")  # Keras 3's max pooling: known
@pytest.mark.parametrize("pool", ["GlobalMaxPooling1D", "GlobalAveragePooling1D"])
@pytest.mark.parametrize("mask_zero,pad", [(False, "none"), (True, "none"), (True, "pre"), (True, "post")])
@pytest.mark.parametrize("keepdims", [False, True])
def test_pooling_over_time_matches_keras(pool, mask_zero, pad, keepdims):
    """Pooling over a Bi-LSTM's sequence (the recipe's encoder); with a mask the average skips
    masked steps and the max does not, as in Keras 3. pad "none" with mask_zero: nothing masked,
    the unmasked fast path."""
    specs = [("Bidirectional", (_with(RNNS["LSTM"], return_sequences=True), "concat")),
             (pool, {"keepdims": keepdims})]
    if not keepdims:
        specs.append(("Dense", {"units": 1, "activation": "sigmoid"}))
    km, ours = _pair(specs, mask_zero=mask_zero)
    _assert_same(km, ours, _ids(pad))

def _lecture_models(lib):
    stacked = [lib.Embedding(10000, 32), lib.LSTM(32, return_sequences=True, dropout=0.2),
               lib.LSTM(32, return_sequences=True, dropout=0.2), lib.LSTM(32, dropout=0.2),
               lib.Dense(1, activation="sigmoid")]
    bi = [lib.Embedding(10000, 32), lib.Bidirectional(lib.LSTM(32, dropout=0.2)),
          lib.Dense(1, activation="sigmoid")]
    others = [
        [lib.Embedding(10000, 32), lib.SimpleRNN(32), lib.Dense(1, activation="sigmoid")],
        [lib.Embedding(10000, 32), lib.GRU(32), lib.Dense(1, activation="sigmoid")],
        [lib.Embedding(10000, 32), lib.GRU(32, reset_after=False), lib.Dense(1)],
        [lib.Embedding(10000, 32), lib.Bidirectional(lib.GRU(16, return_sequences=True)),
         lib.Bidirectional(lib.SimpleRNN(8)), lib.Dense(3, activation="softmax")],
    ]
    return [stacked, bi, *others]


def test_parameter_counts_match_keras():
    for k_layers, o_layers in zip(_lecture_models(keras.layers), _lecture_models(L)):
        km = keras.Sequential([keras.Input((500,)), *k_layers])
        ours = Sequential(o_layers)
        ours.build((None, 500))
        assert [l.count_params() for l in ours.layers] == [l.count_params() for l in km.layers]
        assert ours.count_params() == km.count_params()


def test_lecture_parameter_counts():
    stacked, bi = _lecture_models(L)[:2]
    m = Sequential(stacked)
    m.build((None, 500))
    assert [l.count_params() for l in m.layers] == [320_000, 8_320, 8_320, 8_320, 33]
    assert m.count_params() == 344_993
    m = Sequential(bi)
    m.build((None, 500))
    assert [l.count_params() for l in m.layers] == [320_000, 16_640, 65]
    assert m.count_params() == 336_705


def _keras_summary(model, width):
    lines = []
    model.summary(line_length=width, print_fn=lines.append)
    return "".join(lines)


@pytest.mark.parametrize("frozen", [False, True])
def test_summary_table_matches_keras(frozen):
    def build(lib, **input_kw):
        names = iter(["embedding", "bidirectional", "dense"])
        return [lib.Embedding(10000, 32, trainable=not frozen, name=next(names), **input_kw),
                lib.Bidirectional(lib.LSTM(32), name=next(names)),
                lib.Dense(1, activation="sigmoid", name=next(names))]

    km = keras.Sequential([keras.Input((500,)), *build(keras.layers)], name="sequential")
    ours = Sequential(build(L, input_length=500), name="sequential")
    for width in (76, 88):
        got = []
        ours.summary(line_length=width, print_fn=got.append)
        assert "".join(got) == _keras_summary(km, width)
    if frozen:
        assert "Trainable params: 16,705" in "".join(got)
        assert "Non-trainable params: 320,000" in "".join(got)


@pytest.mark.parametrize("options", [
    {"show_trainable": True}, {"layer_range": ["bi", "dense"]}, {"positions": [0.5, 0.75, 1.0]},
    {"expand_nested": True, "show_trainable": True},
])
def test_summary_options_match_keras(options):
    """Keras 3's summary arguments, on a subclassed model holding a Sequential, a frozen layer; and
    a held model frozen whole (`model.trainable = False`, Keras's transfer-learning idiom)."""
    def build(lib):
        layers = lib.layers

        class Tagger(lib.Model):
            def __init__(self):
                super().__init__(name="tagger")
                self.embedding = layers.Embedding(300, 8, trainable=False, name="embedding")
                self.encoder = lib.Sequential([lib.Input((20, 8)),
                                               layers.Bidirectional(layers.GRU(4), name="bi"),
                                               layers.Dense(6, name="hidden")], name="encoder")
                self.drop = layers.Dropout(0.1, name="drop")
                self.dense = layers.Dense(1, name="dense")

            def call(self, ids):
                return self.dense(self.drop(self.encoder(self.embedding(ids))))

        model = Tagger()
        model(np.ones((2, 20), dtype="int32"))
        model.encoder.trainable = False
        return model

    keras.utils.set_random_seed(0)
    theirs, ours = build(keras), build(textrnn)
    assert [layer.name for layer in ours.layers] == [layer.name for layer in theirs.layers]
    if "layer_range" in options:  # (a run of the outer layers: the nested model's are not its)
        options = {"layer_range": ["embedding", "drop"]}
    got = []
    ours.summary(line_length=100, print_fn=got.append, **options)
    assert "".join(got) == _keras_summary_with(theirs, 100, options)


def _keras_summary_with(model, width, options):
    lines = []
    model.summary(line_length=width, print_fn=lines.append, **options)
    return "".join(lines)


def test_unbuilt_summary_matches_keras():
    km = keras.Sequential([keras.layers.Embedding(100, 4, name="e"),
                           keras.layers.LSTM(3, name="l")], name="s")
    ours = Sequential([L.Embedding(100, 4, name="e"), L.LSTM(3, name="l")], name="s")
    got = []
    ours.summary(line_length=80, print_fn=got.append)
    assert "".join(got) == _keras_summary(km, 80)


@pytest.mark.parametrize("optimizer", ["rmsprop", "adam", "sgd"])
def test_training_steps_match_keras(optimizer):
    specs = [_with(RNNS["LSTM"], return_sequences=True), _with(RNNS["GRU"]),
             ("Dense", {"units": 1, "activation": "sigmoid"})]
    km, ours = _pair(specs)
    km.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=["acc"])
    ours.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=["acc"])
    x = _ids()
    y = np.array([0, 1, 1, 0, 1, 0], dtype="float32")
    for _ in range(3):
        k_loss, k_acc = km.train_on_batch(x, y)
        o_loss, o_acc = ours.train_on_batch(x, y)
        assert o_loss == pytest.approx(float(k_loss), abs=1e-5)
        assert o_acc == pytest.approx(float(k_acc))
    for got, expected in zip(ours.get_weights(), km.get_weights()):
        np.testing.assert_allclose(got, expected, atol=2e-5)


def test_get_weights_shapes_and_order_match_keras():
    bi = ("Bidirectional", (_with(RNNS["LSTM"], return_sequences=True), "concat"))
    km, ours = _pair([bi, _with(RNNS["GRU"])])
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in km.get_weights()]
    lstm = ours.layers[1].forward_layer
    assert lstm.kernel.shape == (DIM, 28) and lstm.recurrent_kernel.shape == (7, 28)
    assert lstm.bias.shape == (28,)


def test_lstm_initial_weights_follow_keras_defaults():
    layer = L.LSTM(32)
    layer.build((None, 10, 32))
    bias = layer.bias.detach().numpy()
    np.testing.assert_array_equal(bias[32:64], 1.0)  # unit_forget_bias
    np.testing.assert_array_equal(np.delete(bias, np.s_[32:64]), 0.0)
    rk = layer.recurrent_kernel.detach().numpy()  # orthogonal, (u, 4u): rows are orthonormal
    np.testing.assert_allclose(rk @ rk.T, np.eye(32), atol=1e-5)
    limit = np.sqrt(6 / (32 + 128))
    assert np.abs(layer.kernel.detach().numpy()).max() <= limit
    emb = L.Embedding(100, 8)
    emb.build((None, 5))
    assert np.abs(emb.embeddings.detach().numpy()).max() <= 0.05


def test_return_state_matches_keras():
    inputs = keras.Input((STEPS, DIM))
    outs = keras.layers.LSTM(5, return_state=True, return_sequences=True)(inputs)
    km = keras.Model(inputs, outs)
    ours = L.LSTM(5, return_state=True, return_sequences=True)
    ours.build((None, STEPS, DIM))
    ours.set_weights(km.get_weights())
    x = np.random.default_rng(1).normal(size=(3, STEPS, DIM)).astype("float32")
    expected = km.predict(x, verbose=0)
    ours.eval()
    got = ours(torch.from_numpy(x))
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g.detach().numpy(), e, atol=1e-5)
