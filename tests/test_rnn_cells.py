"""keras.layers.RNN over a cell, against real Keras: Keras's cells (SimpleRNNCell, LSTMCell, GRUCell),
a list of cells / StackedRNNCells, a cell of one's own (the Keras guide's MinimalRNNCell), with
masks, go_backwards, Bidirectional and return_state; predictions, parameter counts and training
equal to Keras's."""

import keras
import numpy as np
import pytest
import torch

import textrnn
from textrnn.errors import ConfigError
from twins import train_both, twins

RNG = np.random.default_rng(0)
T = 12
X = RNG.integers(1, 40, (40, T))
X[::3, :4] = 0  # pre-padded rows
X[1::3, -3:] = 0  # post-padded rows
Y = (X[:, 5] > 20).astype("float32")


def minimal_cell(lib):
    """The Keras guide's cell of one's own (keras.layers.RNN's docstring), as published."""
    ops = lib.ops

    class MinimalRNNCell(lib.layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.state_size = units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="uniform",
                                          name="kernel")
            self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), initializer="uniform",
                                                    name="recurrent_kernel")

        def call(self, inputs, states):
            prev_output = states[0]
            h = ops.matmul(inputs, self.kernel)
            output = ops.tanh(h + ops.matmul(prev_output, self.recurrent_kernel))
            return output, [output]

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    return MinimalRNNCell


def classifier(lib, make_rnn, mask_zero=False):
    """Embedding, the recurrent layer(s) `make_rnn(layers)` gives, a sigmoid unit."""
    L = lib.layers
    middle = make_rnn(L)
    return lib.Sequential([lib.Input((T,), dtype="int32"), L.Embedding(40, 8, mask_zero=mask_zero),
                           *(middle if isinstance(middle, list) else [middle]),
                           L.Dense(1, activation="sigmoid")])


def _params_lines(model):
    lines = []
    model.summary(print_fn=lines.append)
    return [line for line in "\n".join(lines).splitlines() if "params" in line]


def _train_both(theirs, ours):
    train_both(theirs, ours, X, Y, weights_atol=5e-4)  # (Adam magnifies float rounding a little)


RNNS = {
    "simple": lambda L: L.RNN(L.SimpleRNNCell(6)),
    "lstm": lambda L: L.RNN(L.LSTMCell(6)),
    "gru": lambda L: L.RNN(L.GRUCell(6)),
    "gru-reset-before": lambda L: L.RNN(L.GRUCell(6, reset_after=False)),
    "lstm-relu": lambda L: L.RNN(L.LSTMCell(6, activation="relu")),  # no fused kernel: step by step
    "backwards": lambda L: L.RNN(L.LSTMCell(6), go_backwards=True),
    "sequences-zeroed": lambda L: [L.RNN(L.GRUCell(6), return_sequences=True, zero_output_for_mask=True),
                                   L.GlobalMaxPooling1D()],
    "stacked-list": lambda L: L.RNN([L.LSTMCell(6), L.GRUCell(5)]),
    "stacked": lambda L: L.RNN(L.StackedRNNCells([L.SimpleRNNCell(4), L.LSTMCell(6)]), go_backwards=True),
    "bidirectional": lambda L: L.Bidirectional(L.RNN(L.LSTMCell(5))),
}


@pytest.mark.parametrize("mask_zero", [False, True])
@pytest.mark.parametrize("kind", sorted(RNNS))
def test_rnn_over_kerass_cells_predicts_and_trains_as_kerass(kind, mask_zero):
    theirs, ours = twins(lambda lib: classifier(lib, RNNS[kind], mask_zero))
    np.testing.assert_allclose(ours.predict(X, verbose=0), theirs.predict(X, verbose=0), atol=1e-5)
    assert _params_lines(ours) == _params_lines(theirs)
    _train_both(theirs, ours)


@pytest.mark.parametrize("mask_zero", [False, True])
def test_a_cell_of_ones_own_runs_alone_and_stacked_as_kerass(mask_zero):
    def make(lib):
        cell = minimal_cell(lib)
        return classifier(lib, lambda L: L.RNN([cell(5), L.LSTMCell(4)]), mask_zero)

    theirs, ours = twins(make)
    np.testing.assert_allclose(ours.predict(X, verbose=0), theirs.predict(X, verbose=0), atol=1e-5)
    assert _params_lines(ours) == _params_lines(theirs)
    _train_both(theirs, ours)
    theirs, ours = twins(lambda lib: classifier(lib, lambda L: L.RNN(minimal_cell(lib)(6)), mask_zero))
    np.testing.assert_allclose(ours.predict(X, verbose=0), theirs.predict(X, verbose=0), atol=1e-5)


@pytest.mark.parametrize("cells", [True, False])
def test_return_state_and_initial_state_in_a_model_graph_as_kerass(cells):
    """Given initial states in a graph, Keras 3 runs the layer without the mask (it passes a mask
    only to a call on one tensor), and its output keeps the mask: the same here, cells or layers."""
    def make(lib):
        L = lib.layers
        inputs = lib.Input((T,), dtype="int32")
        x = L.Embedding(40, 8, mask_zero=True)(inputs)
        first = L.RNN(L.LSTMCell(6), return_sequences=True, return_state=True) if cells else L.LSTM(
            6, return_sequences=True, return_state=True)
        seq, h, c = first(x)
        last = (L.RNN(L.GRUCell(6)) if cells else L.GRU(6))(seq, initial_state=[h])
        return lib.Model(inputs, L.Dense(1, activation="sigmoid")(L.Concatenate()([last, c])))

    theirs, ours = twins(make)
    np.testing.assert_allclose(ours.predict(X, verbose=0), theirs.predict(X, verbose=0), atol=1e-5)
    _train_both(theirs, ours)


def test_a_cell_keeps_one_dropout_mask_for_the_whole_sequence():
    """The same LSTMCell run by the sequence kernel and step by step (a subclass of it), in training
    mode from the same seed: the same masks, so the same outputs; and the masks change per batch."""
    L = textrnn.layers

    class StepByStep(L.LSTMCell):
        pass

    x = torch.from_numpy(RNG.normal(size=(6, T, 5)).astype("float32"))
    fast = L.RNN(L.LSTMCell(4, dropout=0.4, recurrent_dropout=0.3), return_sequences=True)
    slow = L.RNN(StepByStep(4, dropout=0.4, recurrent_dropout=0.3), return_sequences=True)
    fast.build(x.shape)
    slow.build(x.shape)
    slow.set_weights(fast.get_weights())
    for layer in (fast, slow):
        layer.train()
    torch.manual_seed(3)
    want = fast(x)
    torch.manual_seed(3)
    got = slow(x)
    torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-5)
    assert not torch.allclose(slow(x), got)  # a new batch, new masks
    for layer in (fast, slow):
        layer.eval()
    torch.testing.assert_close(slow(x), fast(x), atol=1e-6, rtol=1e-5)


def test_a_cell_called_alone_gives_one_step_as_kerass():
    x = RNG.normal(size=(3, 5)).astype("float32")
    h, c = (RNG.normal(size=(3, 4)).astype("float32") for _ in range(2))
    theirs, ours = keras.layers.LSTMCell(4), textrnn.layers.LSTMCell(4)
    theirs.build(x.shape)
    ours.build(x.shape)
    ours.set_weights(theirs.get_weights())
    want_out, want_states = theirs(x, [h, c])
    got_out, got_states = ours(torch.from_numpy(x), [torch.from_numpy(h), torch.from_numpy(c)])
    np.testing.assert_allclose(got_out.detach().numpy(), keras.ops.convert_to_numpy(want_out), atol=1e-6)
    for got, want in zip(got_states, want_states):
        np.testing.assert_allclose(got.detach().numpy(), keras.ops.convert_to_numpy(want), atol=1e-6)
    assert ours.state_size == theirs.state_size == [4, 4]
    assert textrnn.layers.GRUCell(3).state_size == keras.layers.GRUCell(3).state_size == 3


def test_rnn_models_save_and_load_as_textrnn_folders(tmp_path):
    model = classifier(textrnn, RNNS["stacked"], mask_zero=True)
    model.save(tmp_path / "model")
    loaded = textrnn.models.load_model(tmp_path / "model")
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0), atol=1e-6)
    assert [type(c).__name__ for c in loaded.layers[1].cell.cells] == ["SimpleRNNCell", "LSTMCell"]


def test_recurrent_layers_are_rnns_and_bad_cells_are_refused_in_one_line():
    L = textrnn.layers
    assert isinstance(L.LSTM(3), L.RNN) and isinstance(L.RNN(L.GRUCell(3)), L.RNN)
    assert not isinstance(L.Dense(3), L.RNN)
    with pytest.raises(ConfigError, match="a cell needs a `state_size`"):
        L.RNN(L.Dense(3))
    with pytest.raises(ConfigError, match="return_state=True with stacked cells"):
        L.RNN([L.LSTMCell(3), L.LSTMCell(3)], return_state=True)
    with pytest.raises(ConfigError, match="TimeDistributed wraps a non-recurrent layer"):
        L.TimeDistributed(L.RNN(L.GRUCell(3)))


@pytest.mark.parametrize("kind", ["lstm", "gru-reset-before", "stacked", "bidirectional"])
def test_rnn_layers_cross_keras_files_both_ways(tmp_path, kind):
    theirs, ours = twins(lambda lib: classifier(lib, RNNS[kind], mask_zero=True))
    for model, lib in ((theirs, keras), (ours, textrnn)):
        model.compile(lib.optimizers.Adam(0.02), "binary_crossentropy", metrics=["acc"])
        model.fit(X, Y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    want = theirs.predict(X, verbose=0)
    ours.save(tmp_path / "ours.keras")
    theirs.save(tmp_path / "theirs.keras")
    by_keras = keras.saving.load_model(tmp_path / "ours.keras")
    by_us = textrnn.models.load_model(tmp_path / "theirs.keras")
    for model in (by_keras, by_us):
        np.testing.assert_allclose(model.predict(X, verbose=0), want, atol=1e-5)
    # both go on training from the optimizer's state as the original does
    after = [m.fit(X, Y, batch_size=8, epochs=1, shuffle=False, verbose=0).history["loss"][0]
             for m in (theirs, by_us, by_keras)]
    np.testing.assert_allclose(after[1:], [after[0]] * 2, rtol=1e-4)


def test_rnns_keras_files_do_not_hold_are_refused_in_one_line(tmp_path):
    own = classifier(textrnn, lambda L: L.RNN(minimal_cell(textrnn)(4)))
    own_backward = classifier(textrnn, lambda L: L.Bidirectional(
        L.LSTM(4), backward_layer=L.RNN(minimal_cell(textrnn)(4), go_backwards=True)))
    for model, path, line in ((own, "m.keras", "a .keras file holds an RNN here only over Keras's cells"),
                              (own_backward, "m.keras", "a .keras file holds an RNN here only over"),
                              (classifier(textrnn, RNNS["bidirectional"]), "m.h5", "a legacy .h5 file")):
        with pytest.raises(ConfigError, match=line):
            model.save(tmp_path / path)
        assert not (tmp_path / path).exists()


BACKWARD = {
    "gru-under-lstm": lambda L: L.Bidirectional(
        L.LSTM(6, return_sequences=True), backward_layer=L.GRU(6, return_sequences=True, go_backwards=True)),
    "cell-under-layer": lambda L: L.Bidirectional(L.LSTM(5), merge_mode="sum",
                                                  backward_layer=L.RNN(L.LSTMCell(5), go_backwards=True)),
}


@pytest.mark.parametrize("mask_zero", [False, True])
@pytest.mark.parametrize("kind", sorted(BACKWARD))
def test_bidirectional_with_its_own_backward_layer_as_kerass(tmp_path, kind, mask_zero):
    def make(lib):
        middle = BACKWARD[kind](lib.layers)
        pooled = [middle, lib.layers.GlobalMaxPooling1D()] if middle.return_sequences else middle
        return classifier(lib, lambda L: pooled, mask_zero)

    theirs, ours = twins(make)
    np.testing.assert_allclose(ours.predict(X, verbose=0), theirs.predict(X, verbose=0), atol=1e-5)
    assert _params_lines(ours) == _params_lines(theirs)
    _train_both(theirs, ours)
    want = theirs.predict(X, verbose=0)
    ours.save(tmp_path / "ours.keras")
    theirs.save(tmp_path / "theirs.keras")
    ours.save(tmp_path / "folder")
    for loaded in (keras.saving.load_model(tmp_path / "ours.keras"),
                   textrnn.models.load_model(tmp_path / "theirs.keras"),
                   textrnn.models.load_model(tmp_path / "folder")):
        np.testing.assert_allclose(loaded.predict(X, verbose=0), want, atol=1e-5)
        assert type(loaded.layers[1].backward_layer).__name__ == type(ours.layers[1].backward_layer).__name__


def test_a_backward_layer_keras_would_refuse_is_refused_in_one_line():
    L = textrnn.layers
    for backward, line in ((L.LSTM(4), "the other go_backwards"),
                           (L.LSTM(4, go_backwards=True, return_sequences=True),
                            "the layer's return_sequences"),
                           (L.Dense(4), "backward_layer must be a recurrent layer")):
        with pytest.raises(ConfigError, match=line):
            L.Bidirectional(L.LSTM(4), backward_layer=backward)


STATEFUL = {
    "lstm": lambda L: L.LSTM(6, stateful=True),
    "gru-sequences": lambda L: [L.GRU(5, stateful=True, return_sequences=True), L.GlobalMaxPooling1D()],
    "cell": lambda L: L.RNN(L.LSTMCell(5), stateful=True),
    "bidirectional": lambda L: L.Bidirectional(L.LSTM(4, stateful=True)),
}


def stateful_classifier(lib, kind, mask_zero):
    L = lib.layers
    middle = STATEFUL[kind](L)
    middle = middle if isinstance(middle, list) else [middle]
    embedding = L.Embedding(40, 8, mask_zero=mask_zero)
    return lib.Sequential([lib.Input(batch_shape=(8, T), dtype="int32"), embedding, *middle,
                           L.Dense(1, activation="sigmoid")])


@pytest.mark.parametrize("mask_zero", [False, True])
@pytest.mark.parametrize("kind", sorted(STATEFUL))
def test_stateful_layers_carry_their_states_from_batch_to_batch_as_kerass(kind, mask_zero):
    theirs, ours = twins(lambda lib: stateful_classifier(lib, kind, mask_zero))
    first = theirs.predict(X, batch_size=8, verbose=0)  # 5 batches, each starting where the last ended
    np.testing.assert_allclose(ours.predict(X, batch_size=8, verbose=0), first, atol=1e-5)
    again = [m.predict(X, batch_size=8, verbose=0) for m in (theirs, ours)]
    np.testing.assert_allclose(again[1], again[0], atol=1e-5)
    assert np.abs(again[0] - first).max() > 1e-6  # (the states went on)
    for model in (theirs, ours):
        for layer in model.layers:
            if hasattr(layer, "reset_states") and getattr(layer, "stateful", False):
                layer.reset_states()
    np.testing.assert_allclose(ours.predict(X, batch_size=8, verbose=0), first, atol=1e-5)
    np.testing.assert_allclose(theirs.predict(X, batch_size=8, verbose=0), first, atol=1e-5)
    # Training. Keras 3.15 on PyTorch cannot train a stateful layer through its fused kernel (the
    # held state, updated in place, breaks its backward); a mask takes its step loop, so Keras's
    # model masks rows that have no padding (all ones: the same numbers as no mask).
    theirs, ours = twins(lambda lib: stateful_classifier(lib, kind, mask_zero or lib is keras))
    rows = np.where(X == 0, 1, X) if not mask_zero else X
    for model, lib in ((theirs, keras), (ours, textrnn)):
        model.compile(lib.optimizers.Adam(0.02), "binary_crossentropy", metrics=["acc"])
    history = [m.fit(rows, Y, batch_size=8, epochs=2, shuffle=False, verbose=0).history["loss"]
               for m in (theirs, ours)]
    np.testing.assert_allclose(history[1], history[0], rtol=1e-4)


def test_a_stateful_layer_refuses_a_batch_of_another_size_in_one_line():
    model = stateful_classifier(textrnn, "lstm", False)
    model.predict(X[:8], batch_size=8, verbose=0)
    with pytest.raises(ConfigError, match="holds states for batches of 8 rows and was given 4"):
        model.predict(X[:4], verbose=0)
    model.reset_states()  # Keras 2's, on the model
    assert not model.layers[1]._held[0].any()
    keras2 = textrnn.Sequential([textrnn.layers.Embedding(40, 8, batch_input_shape=(8, T)),
                                 textrnn.layers.LSTM(4, stateful=True)])
    assert keras2.predict(X, batch_size=8, verbose=0).shape == (40, 4)


@pytest.mark.parametrize("kind", ["stacked-list", "bidirectional", "cudnn"])
def test_rnns_over_cells_and_cudnn_layers_export_to_onnx(tmp_path, kind):
    import onnxruntime as ort

    from textrnn.interop.onnx_export import export_onnx

    make = (lambda L: L.Bidirectional(L.CuDNNLSTM(5))) if kind == "cudnn" else RNNS[kind]
    model = classifier(textrnn, make)
    export_onnx(model, tmp_path / "model.onnx")
    session = ort.InferenceSession(str(tmp_path / "model.onnx"))
    got = session.run(None, {session.get_inputs()[0].name: X.astype(np.int64)})[0]
    np.testing.assert_allclose(got, model.predict(X, verbose=0), atol=1e-5)
