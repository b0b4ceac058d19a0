"""Inference from token ids: a recurrent layer right after an Embedding reads each step's input
projection from a table of every word's projection (RNN.token_table) instead of looking the word
up and multiplying. It must give what the lookup gives, follow every weight change, and keep the
Embedding's checks."""

import numpy as np
import pytest
import torch

from textrnn import layers as L
from textrnn.backend import kernels
from textrnn.errors import DataError
from textrnn.models import Sequential

pytestmark = pytest.mark.skipif(not kernels.available() or not kernels._module.fast_layer(16, 16),
                                reason="the token kernel needs textrnn's compiled AVX-512 kernels")

VOCAB, DIM, STEPS = 50, 16, 11


def _looked_up(model, ids):
    """The model's output with every word looked up first (gradients on: no token path)."""
    mask, x = None, ids
    for layer in model.layers:
        next_mask = layer.compute_mask(x, mask)
        x, mask = layer(x, mask=mask), next_mask
    return x.detach()


def _ids(pad, seed=0):
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, VOCAB, (6, STEPS), generator=gen)
    lengths = torch.tensor([STEPS, 7, 1, 0, STEPS, 3])  # one row all padding
    t = torch.arange(STEPS)
    if pad == "pre":
        ids[t[None] < STEPS - lengths[:, None]] = 0
    elif pad == "post":
        ids[t[None] >= lengths[:, None]] = 0
    return ids


def _model(recurrent, mask_zero=False, dropout_between=False):
    layers = [L.Embedding(VOCAB, DIM, mask_zero=mask_zero)]
    if dropout_between:
        layers.append(L.Dropout(0.5))
    model = Sequential(layers + recurrent + [L.Dense(1, activation="sigmoid")])
    model.build((None, STEPS))
    with torch.no_grad():  # biases away from zero, so that a missing bias would show
        for name, weight in model.named_parameters():
            if name.endswith("bias"):
                weight.normal_(0, 0.3)
    model.eval()
    return model


CASES = {
    "lstm": lambda: [L.LSTM(16)],
    "gru": lambda: [L.GRU(16)],
    "simple-rnn": lambda: [L.SimpleRNN(16)],
    "lstm-backwards": lambda: [L.LSTM(16, go_backwards=True)],
    "bi-lstm": lambda: [L.Bidirectional(L.LSTM(16))],
    "bi-gru-sequences": lambda: [L.Bidirectional(L.GRU(16, return_sequences=True)), L.GlobalMaxPooling1D()],
    "stacked-lstm": lambda: [L.LSTM(16, return_sequences=True), L.LSTM(16)],
    "lstm-32": lambda: [L.LSTM(32, return_sequences=True), L.GlobalMaxPooling1D()],
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("pad", [None, "pre", "post"])
def test_token_path_gives_what_looking_up_gives(case, pad):
    """Every cell, both directions, stacked, pooled, with and without mask_zero padding (the LSTM
    runs each row on its valid steps, the other cells on ids moved to the front of their rows)."""
    model = _model(CASES[case](), mask_zero=pad is not None)
    ids = _ids(pad)
    with torch.no_grad():
        fast = model(ids)
    torch.testing.assert_close(fast, _looked_up(model, ids), atol=2e-6, rtol=1e-5)
    first = model.layers[1]
    cells = [first.forward_layer, first.backward_layer] if isinstance(first, L.Bidirectional) else [first]
    for cell in cells:  # the token table was made, and so used
        assert cell._token_cache is not None


def test_dropout_between_embedding_and_layer_is_skipped_at_inference_only():
    model = _model([L.LSTM(16)], dropout_between=True)
    ids = _ids(None)
    with torch.no_grad():
        fast = model(ids)
    torch.testing.assert_close(fast, _looked_up(model, ids), atol=2e-6, rtol=1e-5)
    model.train()  # training mode: no token path, the dropout acts
    with torch.no_grad():
        noisy = model(ids)
    assert model.layers[2]._token_cache is not None and not torch.allclose(noisy, fast)


def test_token_table_follows_weight_changes():
    """The table is remade after a fit (the one-pass RMSprop writes through data pointers and must
    say so), after set_weights and after an in-place edit of the embedding."""
    torch.manual_seed(0)
    model = _model([L.LSTM(16)])
    model.compile(optimizer="rmsprop", loss="binary_crossentropy")
    ids = _ids(None).numpy()
    labels = np.array([0, 1, 0, 1, 1, 0], dtype="float32")
    before = model.predict(ids)
    model.fit(ids, labels, epochs=2, batch_size=3, verbose=0)
    after = model.predict(ids)
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, _looked_up(model, torch.as_tensor(ids)).numpy(), atol=2e-6)
    weights = model.get_weights()
    weights[1] = weights[1] * 0.5  # the LSTM's kernel
    model.set_weights(weights)
    np.testing.assert_allclose(model.predict(ids), _looked_up(model, torch.as_tensor(ids)).numpy(), atol=2e-6)
    with torch.no_grad():
        model.layers[0].embeddings[ids[0, 0]] += 1.0
    np.testing.assert_allclose(model.predict(ids), _looked_up(model, torch.as_tensor(ids)).numpy(), atol=2e-6)


def test_token_path_keeps_the_embedding_id_check():
    model = _model([L.LSTM(16)])
    ids = _ids(None)
    ids[2, 3] = VOCAB
    with pytest.raises(DataError, match=r"token ids must lie in \[0, 50\)"):
        model.predict(ids.numpy())
