"""The functional API against real Keras: `Input`, layers called on KerasTensors, `Model(inputs,
outputs)` with branches joined by the merge layers; outputs with Keras's weights copied in, the
summary table, a training step, save / load, and one-line refusals of what is not supported."""

import keras
import numpy as np
import pytest
import torch

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
    shared = L.Dense(4)
    shared(textrnn.Input(shape=(3,)))
    with pytest.raises(ConfigError, match="a shared layer takes inputs of one shape"):
        shared(textrnn.Input(shape=(5,)))
    with pytest.raises(ConfigError, match="computed from the given inputs"):
        textrnn.Model(other, L.Dense(1)(L.Flatten()(L.Embedding(100, 2)(inputs))))
    with pytest.raises(ConfigError, match="Concatenate"):
        L.Concatenate()([L.Embedding(100, 2)(inputs), L.Embedding(100, 3, input_length=12)(other)][:1])
    with pytest.raises(ConfigError, match="Dense called in a model graph with initial_state="):
        L.Dense(4)(textrnn.Input(shape=(None, 3)), initial_state=[other])
    with pytest.raises(ConfigError, match="must be layer outputs or Inputs"):
        L.LSTM(4)(textrnn.Input(shape=(None, 3)), initial_state=[np.zeros((1, 4))])


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


def _text_and_numbers(lib):
    """Two inputs (ids under a mask, and numbers per row), two outputs (a sigmoid, a softmax)."""
    L = lib.layers
    ids, numbers = lib.Input((None,), dtype="int32", name="ids_in"), lib.Input((3,), name="numbers")
    encoded = L.Bidirectional(L.GRU(5))(L.Embedding(40, 6, mask_zero=True)(ids))
    joined = L.Concatenate()([encoded, L.Dense(4, activation="relu")(numbers)])
    return lib.Model([ids, numbers], [L.Dense(1, activation="sigmoid", name="spam")(joined),
                                      L.Dense(3, activation="softmax", name="topic")(joined)])


def test_models_of_several_inputs_and_outputs_export_to_onnx(tmp_path):
    import onnxruntime as ort

    from textrnn.interop.onnx_export import export_onnx

    L = textrnn.layers
    numbers_per_step = textrnn.Sequential([textrnn.Input((None, 3)), L.Masking(), L.LSTM(4), L.Dense(1)])
    two_by_two, (seq2seq, _) = _text_and_numbers(textrnn), _seq2seq(textrnn)
    for model in (two_by_two, seq2seq, numbers_per_step):
        export_onnx(model, tmp_path / "model.onnx")
        session = ort.InferenceSession(str(tmp_path / "model.onnx"))
        assert [i.name for i in session.get_inputs()] == (["ids"] if model is numbers_per_step
                                                          else model.input_names)
        assert [o.name for o in session.get_outputs()] == (model.output_names if model is two_by_two
                                                           else ["probabilities"])
        if model is two_by_two:  # another batch size and length than traced; padding before the words
            ids = RNG.integers(1, 40, (5, 11))
            ids[:2, :4] = 0
            x = [ids, RNG.normal(size=(5, 3)).astype("float32")]
            feed = {"ids_in": ids.astype(np.int64), "numbers": x[1]}
        elif model is seq2seq:
            x = [RNG.random((5, 9, 7)).astype("float32"), RNG.random((5, 4, 9)).astype("float32")]
            feed = dict(zip(model.input_names, x))
        else:  # steps of zeros masked, at the start of two rows
            x = RNG.random((5, 9, 3)).astype("float32")
            x[:2, :3] = 0.0
            feed = {"ids": x}
        got, expected = session.run(None, feed), model.predict(x, verbose=0)
        for a, b in zip(got, expected if isinstance(expected, list) else [expected]):
            np.testing.assert_allclose(a, b, atol=1e-5)


def _seq2seq(lib, cell="LSTM"):
    """keras.io's lstm_seq2seq: the encoder's final states start the decoder (two inputs)."""
    L = lib.layers
    encoder_inputs = lib.Input(shape=(None, 7))
    _, *states = getattr(L, cell)(6, return_state=True)(encoder_inputs)
    decoder_inputs = lib.Input(shape=(None, 9))
    decoded, *_ = getattr(L, cell)(6, return_sequences=True, return_state=True)(decoder_inputs,
                                                                                 initial_state=states)
    outputs = L.Dense(9, activation="softmax")(decoded)
    return lib.Model([encoder_inputs, decoder_inputs], outputs), lib.Model(encoder_inputs, states)


@pytest.mark.parametrize("cell", ["LSTM", "GRU"])
def test_an_encoder_decoder_of_two_inputs_and_return_state_is_kerass(cell, capsys, tmp_path):
    keras.backend.clear_session()
    textrnn.backend.clear_session()
    (theirs, their_encoder), (ours, our_encoder) = _seq2seq(keras, cell), _seq2seq(textrnn, cell)
    assert _summary(ours, capsys) == _summary(theirs, capsys)
    assert _summary(our_encoder, capsys) == _summary(their_encoder, capsys)
    ours.set_weights(theirs.get_weights())
    x = [RNG.random((16, 5, 7)).astype("float32"), RNG.random((16, 4, 9)).astype("float32")]
    y = np.eye(9, dtype="float32")[RNG.integers(0, 9, (16, 4))]
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), atol=1e-5)
    got, want = our_encoder.predict(x[0], verbose=0), their_encoder.predict(x[0], verbose=0)
    assert type(got) is type(want)  # LSTM's two states a list, GRU's one state an array
    for a, b in zip(got, want) if isinstance(want, list) else [(got, want)]:
        np.testing.assert_allclose(a, b, atol=1e-5)
    for model, lib in ((theirs, keras), (ours, textrnn)):
        model.compile(lib.optimizers.RMSprop(0.01), "categorical_crossentropy", metrics=["accuracy"])
    history = [m.fit(x, y, batch_size=8, epochs=2, shuffle=False, validation_split=0.25, verbose=0).history
               for m in (theirs, ours)]
    np.testing.assert_allclose(history[1]["val_loss"], history[0]["val_loss"], rtol=1e-4)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-4)
    ours.save(tmp_path / "model")  # textrnn's folder, then Keras's file both ways
    again = textrnn.models.load_model(tmp_path / "model")
    np.testing.assert_allclose(again.predict(x, verbose=0), theirs.predict(x, verbose=0), atol=1e-5)
    ours.save(tmp_path / "ours.keras")
    np.testing.assert_allclose(keras.saving.load_model(tmp_path / "ours.keras").predict(x, verbose=0),
                               theirs.predict(x, verbose=0), atol=1e-5)
    theirs.save(tmp_path / "theirs.keras")
    np.testing.assert_allclose(textrnn.models.load_model(tmp_path / "theirs.keras").predict(x, verbose=0),
                               theirs.predict(x, verbose=0), atol=1e-5)
    if cell == "LSTM":
        with pytest.raises(ConfigError, match="loss has 3 entries; the model has 2 outputs"):
            our_encoder.compile("rmsprop", ["mse"] * 3)
    with pytest.raises(textrnn.errors.DataError, match="takes 2 inputs"):
        ours.predict(x[0])


def _seq2seq_inference(lib):
    """keras.io's lstm_seq2seq as its inference part rebuilds it from the saved model: the trained
    layers called again (shared) on new Inputs for the states, through model.input / layer.output."""
    L = lib.layers
    model, _ = _seq2seq(lib)
    encoder_inputs = model.input[0]
    _, state_h_enc, state_c_enc = model.layers[2].output
    encoder_model = lib.Model(encoder_inputs, [state_h_enc, state_c_enc])
    decoder_inputs = model.input[1]
    states_in = [L.Input(shape=(6,)), L.Input(shape=(6,))]
    decoder_lstm, decoder_dense = model.layers[3], model.layers[4]
    decoded, state_h, state_c = decoder_lstm(decoder_inputs, initial_state=states_in)
    decoder_model = lib.Model([decoder_inputs, *states_in], [decoder_dense(decoded), state_h, state_c])
    return model, encoder_model, decoder_model


def test_shared_layers_as_keras_io_decodes_step_by_step(capsys, tmp_path):
    keras.backend.clear_session()
    textrnn.backend.clear_session()
    (theirs, their_encoder, their_decoder), (ours, our_encoder, our_decoder) = (
        _seq2seq_inference(keras), _seq2seq_inference(textrnn))
    assert _summary(our_decoder, capsys) == _summary(their_decoder, capsys)
    assert _summary(ours, capsys) == _summary(theirs, capsys)  # the layers' later calls listed too
    ours.set_weights(theirs.get_weights())  # the inference models share them
    assert len(our_decoder.get_weights()) == len(their_decoder.get_weights()) == 5
    source = RNG.random((3, 5, 7)).astype("float32")
    step = np.zeros((3, 1, 9), dtype="float32")
    step[:, 0, 0] = 1.0
    states = [our_encoder.predict(source, verbose=0), their_encoder.predict(source, verbose=0)]
    for _ in range(3):  # decode_sequence's loop
        got = our_decoder.predict([step, *states[0]], verbose=0)
        want = their_decoder.predict([step, *states[1]], verbose=0)
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, atol=1e-5)
        step = np.eye(9, dtype="float32")[got[0].argmax(-1)]
        states = [got[1:], want[1:]]
    our_decoder.save(tmp_path / "decoder")
    again = textrnn.models.load_model(tmp_path / "decoder")
    for a, b in zip(again.predict([step, *states[0]], verbose=0), our_decoder.predict([step, *states[0]])):
        np.testing.assert_allclose(a, b, atol=1e-6)
    feed = [step, *states[1]]
    our_decoder.save(tmp_path / "ours.keras")
    their_decoder.save(tmp_path / "theirs.keras")
    for a, b in zip(keras.saving.load_model(tmp_path / "ours.keras").predict(feed, verbose=0),
                    textrnn.models.load_model(tmp_path / "theirs.keras").predict(feed, verbose=0)):
        np.testing.assert_allclose(a, b, atol=1e-5)
    ours.save(tmp_path / "s2s.keras")  # Keras reads the training model back and computes the same
    np.testing.assert_allclose(
        keras.saving.load_model(tmp_path / "s2s.keras").predict([source, step], verbose=0),
        ours.predict([source, step], verbose=0), atol=1e-5)


def _tickets(lib):
    """The functional API guide's model of several inputs and outputs: a ticket's title, body and
    tags give its priority and its department."""
    L = lib.layers
    title = lib.Input(shape=(None,), name="title", dtype="int32")
    body = lib.Input(shape=(None,), name="body", dtype="int32")
    tags = lib.Input(shape=(5,), name="tags")
    title_features = L.LSTM(8)(L.Embedding(50, 6)(title))
    body_features = L.LSTM(4)(L.Embedding(50, 6)(body))
    x = L.concatenate([title_features, body_features, tags])
    priority = L.Dense(1, activation="sigmoid", name="priority")(x)
    department = L.Dense(3, activation="softmax", name="department")(x)
    return lib.Model(inputs=[title, body, tags], outputs=[priority, department])


def test_a_model_of_several_outputs_trains_evaluates_and_saves_as_kerass(capsys, tmp_path):
    keras.backend.clear_session()
    textrnn.backend.clear_session()
    theirs, ours = _tickets(keras), _tickets(textrnn)
    assert [layer.name for layer in ours.layers] == [layer.name for layer in theirs.layers]  # Keras's order
    assert _summary(ours, capsys) == _summary(theirs, capsys)
    ours.set_weights(theirs.get_weights())
    x = [RNG.integers(1, 50, (24, 7)), RNG.integers(1, 50, (24, 9)),
         RNG.integers(0, 2, (24, 5)).astype("float32")]
    y = {"priority": RNG.integers(0, 2, (24, 1)).astype("float32"), "department": RNG.integers(0, 3, 24)}
    for model, lib in ((theirs, keras), (ours, textrnn)):  # by output name, as the guide gives them
        model.compile(optimizer=lib.optimizers.RMSprop(0.01),
                      loss={"priority": "binary_crossentropy",
                            "department": "sparse_categorical_crossentropy"},
                      loss_weights={"priority": 1.0, "department": 0.2},
                      metrics={"priority": ["accuracy"], "department": ["accuracy"]})
    history = [m.fit(x, y, batch_size=8, epochs=2, shuffle=False, validation_split=0.25, verbose=0).history
               for m in (theirs, ours)]
    assert list(history[1]) == list(history[0])  # Keras's names, in Keras's order
    for name, values in history[0].items():
        np.testing.assert_allclose(history[1][name], values, rtol=1e-4, err_msg=name)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-4)
    by_name = dict(zip(["title", "body", "tags"], x))  # inputs by name, as Deep Learning with Python gives
    np.testing.assert_allclose(ours.predict(by_name)[1], theirs.predict(by_name, verbose=0)[1], atol=1e-5)
    with pytest.raises(textrnn.errors.DataError, match=r"missing \['tags'\]"):
        ours.predict({"title": x[0], "body": x[1]})
    labels = [y["priority"], y["department"]]  # a list in the outputs' order
    want = theirs.evaluate(x, labels, verbose=0)
    np.testing.assert_allclose(ours.evaluate(x, labels, verbose=0), want, rtol=1e-4)
    np.testing.assert_allclose(ours.test_on_batch(x, y), theirs.test_on_batch(x, y), rtol=1e-4)
    assert ours.evaluate(x, y, verbose=0, return_dict=True).keys() == theirs.evaluate(
        x, y, verbose=0, return_dict=True).keys()
    ours.save(tmp_path / "model")  # compiled with its losses, weights and metrics per output
    np.testing.assert_allclose(textrnn.models.load_model(tmp_path / "model").evaluate(x, y, verbose=0), want,
                               rtol=1e-4)
    ours.save(tmp_path / "ours.keras")
    np.testing.assert_allclose(keras.saving.load_model(tmp_path / "ours.keras").evaluate(x, y, verbose=0),
                               want, rtol=1e-4)
    theirs.save(tmp_path / "theirs.keras")
    np.testing.assert_allclose(textrnn.models.load_model(tmp_path / "theirs.keras").evaluate(x, y, verbose=0),
                               want, rtol=1e-4)


def test_losses_and_labels_per_output_follow_kerass_rules():
    keras.backend.clear_session()
    textrnn.backend.clear_session()
    theirs, ours = _tickets(keras), _tickets(textrnn)
    ours.set_weights(theirs.get_weights())
    x = [RNG.integers(1, 50, (16, 7)), RNG.integers(1, 50, (16, 9)),
         RNG.integers(0, 2, (16, 5)).astype("float32")]
    priority, department = RNG.integers(0, 2, (16, 1)).astype("float32"), RNG.integers(0, 3, 16)
    for loss, metrics in (("mse", None),  # one loss for every output
                          ({"priority": "binary_crossentropy", "department": None}, {"department": "acc"})):
        for model in (theirs, ours):
            model.compile("rmsprop", loss, metrics=metrics)
        labels = [priority, np.eye(3, dtype="float32")[department] if loss == "mse" else department]
        got, want = (m.evaluate(x, labels, verbose=0, return_dict=True) for m in (ours, theirs))
        assert got.keys() == want.keys()
        np.testing.assert_allclose(list(got.values()), list(want.values()), rtol=1e-5)
    ours.compile("rmsprop", ["binary_crossentropy", None])  # an output without loss needs no labels
    ours.fit(x, [priority], epochs=1, verbose=0)
    with pytest.raises(ConfigError, match=r"loss names outputs \['urgency'\]"):
        ours.compile("rmsprop", {"urgency": "mse"})
    with pytest.raises(ConfigError, match="every output's loss is None"):
        ours.compile("rmsprop", [None, None])
    ours.compile("rmsprop", ["binary_crossentropy", "sparse_categorical_crossentropy"])
    with pytest.raises(textrnn.errors.DataError, match="no labels for output 'department'"):
        ours.fit(x, {"priority": priority}, verbose=0)
    with pytest.raises(textrnn.errors.DataError, match="labels of output 'department' have 3"):
        ours.fit(x, [priority, department[:3]], verbose=0)


def _bidirectional_states(lib, cell):
    """A Bidirectional encoder's final states (forward's, then backward's) joined to start a
    decoder; the model also gives the encoder's output, which has no loss."""
    L = lib.layers
    encoder_inputs, decoder_inputs = lib.Input((None, 5)), lib.Input((None, 6))
    encoded, *states = L.Bidirectional(getattr(L, cell)(4, return_state=True))(encoder_inputs)
    half = len(states) // 2
    joined = [L.Concatenate()([f, b]) for f, b in zip(states[:half], states[half:])]
    decoded = getattr(L, cell)(8, return_sequences=True)(decoder_inputs, initial_state=joined)
    return lib.Model([encoder_inputs, decoder_inputs], [L.Dense(6, activation="softmax")(decoded), encoded])


@pytest.mark.parametrize("cell", ["LSTM", "GRU"])
def test_a_bidirectional_layers_states_start_a_decoder_as_in_keras(cell, capsys):
    keras.backend.clear_session()
    textrnn.backend.clear_session()
    theirs, ours = _bidirectional_states(keras, cell), _bidirectional_states(textrnn, cell)
    assert _summary(ours, capsys) == _summary(theirs, capsys)
    ours.set_weights(theirs.get_weights())
    x = [RNG.random((16, 7, 5)).astype("float32"), RNG.random((16, 3, 6)).astype("float32")]
    for a, b in zip(ours.predict(x), theirs.predict(x, verbose=0)):
        np.testing.assert_allclose(a, b, atol=1e-5)
    y = np.eye(6, dtype="float32")[RNG.integers(0, 6, (16, 3))]
    for model, lib in ((theirs, keras), (ours, textrnn)):  # the encoder's output is not trained
        model.compile(lib.optimizers.RMSprop(0.01), ["categorical_crossentropy", None])
        model.fit(x, [y], batch_size=8, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-4)


@pytest.mark.parametrize("kind, axis", [
    ("Concatenate", -1), ("Concatenate", 1), ("Add", None), ("Subtract", None), ("Multiply", None),
    ("Average", None), ("Maximum", None), ("Minimum", None)])
@pytest.mark.parametrize("second_masked", [True, False])
def test_merges_join_two_inputs_masks_as_kerass(kind, axis, second_masked):
    """Two inputs padded differently (a question and an answer, say), or one of them unmasked: the
    joined sequence keeps a step where either keeps it (an unmasked input keeps every step for
    Concatenate, and leaves Add's and the others' result without a mask); Multiply, Maximum and
    Minimum leave masked entries out. An LSTM after the join shows the mask it got."""
    def model(lib):
        L = lib.layers
        a, b = L.Input((5,)), L.Input((5,))
        joined = getattr(L, kind)(**({} if axis is None else {"axis": axis}))(
            [L.Embedding(10, 3, mask_zero=True)(a), L.Embedding(10, 3, mask_zero=second_masked)(b)])
        return lib.Model([a, b], L.LSTM(4)(joined))

    keras.utils.set_random_seed(0)
    theirs, ours = model(keras), model(textrnn)
    ours.set_weights(theirs.get_weights())
    x = [np.array([[0, 0, 1, 2, 3], [1, 2, 3, 4, 5], [0, 0, 0, 0, 1]]),
         np.array([[0, 4, 5, 0, 6], [0, 0, 0, 1, 1], [1, 2, 0, 0, 0]])]
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), atol=1e-6)


def _bidirectional_decoder(lib, cell, masked):
    """A Bidirectional encoder's final states start a Bidirectional decoder (Keras: the forward
    layer's states, then the backward's); with `masked`, the decoder's input is masked, which
    Keras 3 does not hand a layer given initial states."""
    L = lib.layers
    encoder_inputs, decoder_inputs = lib.Input((None, 5)), lib.Input((None, 6))
    encoded, *states = L.Bidirectional(getattr(L, cell)(4, return_state=True))(encoder_inputs)
    decoder_in = L.Masking()(decoder_inputs) if masked else decoder_inputs
    decoded = L.Bidirectional(getattr(L, cell)(4, return_sequences=True))(decoder_in, initial_state=states)
    return lib.Model([encoder_inputs, decoder_inputs], L.Dense(6, activation="softmax")(decoded))


@pytest.mark.parametrize("cell,masked", [("LSTM", False), ("GRU", False), ("LSTM", True)])
def test_a_bidirectional_layer_takes_initial_states_as_kerass(cell, masked, capsys):
    keras.backend.clear_session()
    textrnn.backend.clear_session()
    theirs, ours = _bidirectional_decoder(keras, cell, masked), _bidirectional_decoder(textrnn, cell, masked)
    assert _summary(ours, capsys) == _summary(theirs, capsys)
    ours.set_weights(theirs.get_weights())
    decoder_x = RNG.random((16, 3, 6)).astype("float32")
    decoder_x[::3, -1] = 0.0  # (rows a Masking layer would mask at the end)
    x = [RNG.random((16, 7, 5)).astype("float32"), decoder_x]
    np.testing.assert_allclose(ours.predict(x), theirs.predict(x, verbose=0), atol=1e-5)
    y = np.eye(6, dtype="float32")[RNG.integers(0, 6, (16, 3))]
    for model, lib in ((theirs, keras), (ours, textrnn)):
        model.compile(lib.optimizers.RMSprop(0.01), "categorical_crossentropy")
        model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-4)


def test_a_bidirectional_layer_called_on_values_takes_initial_states_as_kerass():
    keras.utils.set_random_seed(0)
    theirs, ours = (lib.layers.Bidirectional(lib.layers.LSTM(4, return_sequences=True))
                    for lib in (keras, textrnn))
    x = RNG.random((2, 5, 3)).astype("float32")
    states = [RNG.random((2, 4)).astype("float32") for _ in range(4)]
    expected = keras.ops.convert_to_numpy(theirs(x, initial_state=states))
    ours.build((None, 5, 3))
    ours.set_weights(theirs.get_weights())
    got = ours(torch.from_numpy(x), initial_state=[torch.from_numpy(s) for s in states])
    np.testing.assert_allclose(got.detach().numpy(), expected, atol=1e-6)
    assert not np.allclose(expected, keras.ops.convert_to_numpy(theirs(x)), atol=1e-3)  # the states count
