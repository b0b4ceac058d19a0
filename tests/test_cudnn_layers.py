"""Keras 2's CuDNNLSTM / CuDNNGRU, which much published GPU code (Kaggle's text kernels above all)
imports: their weights in Keras 2's layout (two biases, the input's and the state's), their
outputs against Keras 3's LSTM / GRU given the same math (the biases added up), and their
training against PyTorch's nn.LSTM / nn.GRU, which keep two biases as cuDNN does."""

import keras
import numpy as np
import pytest
import torch

import textrnn
from textrnn.errors import ConfigError

RNG = np.random.default_rng(0)
L = textrnn.layers


def _built(layer, x):
    layer.build(x.shape)
    for w in layer.weights:  # (biases too: zeros would hide a wrong half)
        with torch.no_grad():
            w.copy_(torch.from_numpy(RNG.normal(scale=0.3, size=tuple(w.shape)).astype("float32")))
    return layer


@pytest.mark.parametrize("return_sequences", [False, True])
def test_cudnn_layers_compute_kerass_lstm_and_gru_with_the_biases_added(return_sequences):
    x = RNG.normal(size=(4, 9, 5)).astype("float32")
    ours = _built(L.CuDNNLSTM(6, return_sequences=return_sequences, go_backwards=True), x)
    kernel, recurrent, bias = ours.get_weights()
    assert bias.shape == (48,)
    theirs = keras.layers.LSTM(6, return_sequences=return_sequences, go_backwards=True)
    theirs.build(x.shape)
    theirs.set_weights([kernel, recurrent, bias[:24] + bias[24:]])
    np.testing.assert_allclose(ours(torch.from_numpy(x)).detach().numpy(),
                               keras.ops.convert_to_numpy(theirs(x)), atol=1e-5)
    ours = _built(L.CuDNNGRU(6, return_sequences=return_sequences), x)
    kernel, recurrent, bias = ours.get_weights()
    assert bias.shape == (36,)
    theirs = keras.layers.GRU(6, return_sequences=return_sequences, reset_after=True)
    theirs.build(x.shape)
    theirs.set_weights([kernel, recurrent, bias.reshape(2, 18)])
    np.testing.assert_allclose(ours(torch.from_numpy(x)).detach().numpy(),
                               keras.ops.convert_to_numpy(theirs(x)), atol=1e-5)


def _torch_twin(layer):
    """nn.LSTM / nn.GRU with the layer's weights (gates reordered: Keras's z, r, h is torch's r, z, n)."""
    kernel, recurrent, bias = [torch.from_numpy(w) for w in layer.get_weights()]
    u = layer.units
    if isinstance(layer, L.CuDNNLSTM):
        net, order = torch.nn.LSTM(kernel.shape[0], u, batch_first=True), [0, 1, 2, 3]
    else:
        net, order = torch.nn.GRU(kernel.shape[0], u, batch_first=True), [1, 0, 2]

    def gates(w):
        return torch.cat([w[..., g * u:(g + 1) * u] for g in order], dim=-1)

    half = bias.shape[0] // 2
    with torch.no_grad():
        net.weight_ih_l0.copy_(gates(kernel).t())
        net.weight_hh_l0.copy_(gates(recurrent).t())
        net.bias_ih_l0.copy_(gates(bias[:half]))
        net.bias_hh_l0.copy_(gates(bias[half:]))
    return net


@pytest.mark.parametrize("kind", ["CuDNNLSTM", "CuDNNGRU"])
def test_cudnn_layers_train_as_pytorchs_two_bias_kernels(kind):
    x = torch.from_numpy(RNG.normal(size=(8, 7, 5)).astype("float32"))
    target = torch.from_numpy(RNG.normal(size=(8, 6)).astype("float32"))
    ours = _built(getattr(L, kind)(6), x)
    theirs = _torch_twin(ours)
    for model, run in ((ours, lambda: ours(x)), (theirs, lambda: theirs(x)[0][:, -1])):
        optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
        for _ in range(3):
            optimizer.zero_grad()
            ((run() - target) ** 2).mean().backward()
            optimizer.step()
    np.testing.assert_allclose(ours(x).detach().numpy(), theirs(x)[0][:, -1].detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(_torch_twin(ours).bias_hh_l0.detach().numpy(),
                               theirs.bias_hh_l0.detach().numpy(), atol=1e-5)  # each half trained as its own


def test_a_published_cudnn_model_builds_counts_trains_and_saves(tmp_path):
    """Keras 2's Kaggle pattern: Bidirectional(CuDNNLSTM(..., return_sequences=True)), CuDNNGRU."""
    x = RNG.integers(1, 100, (32, 20))
    y = (x[:, 0] > 50).astype("float32")
    model = textrnn.Sequential([textrnn.Input((20,), dtype="int32"), L.Embedding(100, 32),
                                L.Bidirectional(L.CuDNNLSTM(32, return_sequences=True)), L.CuDNNGRU(32),
                                L.Dense(1, activation="sigmoid")])
    # 4u(d + u) + 8u a direction: 8,448 for 32 units on 32 inputs, 9,408 for the GRU's 3u(64 + 32) + 6u
    assert [layer.count_params() for layer in model.layers[1:3]] == [2 * 8448, 9408]
    assert model.layers[2].name.startswith("cu_dnngru")
    assert model.layers[1].forward_layer.bias[5 * 32:6 * 32].eq(1).all()  # unit_forget_bias, Keras 2's place
    model.compile("adam", "binary_crossentropy", metrics=["acc"])
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0).history
    assert history["loss"][1] < history["loss"][0]
    model.save(tmp_path / "model")
    loaded = textrnn.models.load_model(tmp_path / "model")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    with pytest.raises(ConfigError, match=r"\(CuDNNLSTM\) is not one of the Keras layers"):
        textrnn.Sequential([textrnn.Input((20,), dtype="int32"), L.Embedding(100, 8), L.CuDNNLSTM(4)]).save(
            tmp_path / "m.keras")


def test_what_cudnn_layers_do_not_take_is_refused_in_one_line():
    with pytest.raises(ConfigError, match="CuDNNLSTM: unknown argument 'dropout'"):
        L.CuDNNLSTM(4, dropout=0.2)
    with pytest.raises(ConfigError, match="CuDNNGRU: unknown argument 'activation'"):
        L.CuDNNGRU(4, activation="relu")
    model = textrnn.Sequential([textrnn.Input((6,), dtype="int32"), L.Embedding(10, 4, mask_zero=True),
                                L.CuDNNGRU(3)])
    with pytest.raises(ConfigError, match="CuDNNGRU takes no mask, as in Keras 2"):
        model.predict(np.ones((2, 6), dtype="int64"), verbose=0)
