"""The direct training step (direct_step.py) against the autograd step: the same weights, optimizer
state and accuracies to float rounding (the reported loss too), for every model shape it takes;
and the autograd step for what it does not."""

import numpy as np
import pytest
import torch

from textrnn import layers as L
from textrnn.app import zoo
from textrnn.backend import kernels
from textrnn.models import Sequential
from textrnn.training.direct_step import DirectStep
from textrnn.training.optimizers import RMSprop

pytestmark = pytest.mark.skipif(not (kernels.available() and kernels.fast_layer(16, 16)),
                                reason="the whole-layer kernels need the compiled extension and AVX-512")


def _data(vocab=60, rows=40, steps=30, seed=0, zeros=False):
    rng = np.random.default_rng(seed)
    x = rng.integers(0 if zeros else 1, vocab, size=(rows, steps))
    return x, rng.integers(0, 2, size=rows).astype("float32")


def _train(build, monkeypatch, direct: bool, optimizer="rmsprop", data=None, epochs=2, shuffle=True):
    monkeypatch.setenv("TEXTRNN_DIRECT_STEP", "1" if direct else "0")
    torch.manual_seed(0)
    model = build()
    model.compile(optimizer, "binary_crossentropy", ["acc"])
    x, y = data or _data()
    history = model.fit(x, y, batch_size=16, epochs=epochs, verbose=0, shuffle=shuffle)
    state = model.optimizer.state_dict()["state"]  # velocities (pending decays applied); Adam: m, v
    slots = [value for k in sorted(state) for value in state[k].values() if isinstance(value, torch.Tensor)]
    return model, [w.detach().clone() for w in model.weights] + slots, history.history


def _assert_same(build, monkeypatch, optimizer="rmsprop", data=None, expect_direct=True, shuffle=True):
    """The same to float rounding (the first layers' input side is summed per distinct token, not
    per word): tight under SGD (the weights move by lr times the gradient), within the issue's
    1e-5 under RMSprop / Adam, whose steps of ~lr per weight whatever the gradient's size turn a
    rounding difference in a near-zero gradient into up to ~1e-6 (a wrong gradient would move
    weights by ~lr = 1e-3). Bit for bit where both take the autograd step."""
    model, direct_weights, direct_history = _train(build, monkeypatch, True, optimizer, data, shuffle=shuffle)
    plan = model._direct_step()
    assert (plan is not None) == expect_direct
    exact = plan is None
    _, weights, history = _train(build, monkeypatch, False, optimizer, data, shuffle=shuffle)
    assert direct_history["acc"] == history["acc"]
    assert direct_history["loss"] == pytest.approx(history["loss"], rel=1e-6)  # only reported: log rounding
    for a, b in zip(direct_weights, weights):
        if exact:
            assert torch.equal(a, b)
        else:
            tight = optimizer == "sgd"
            torch.testing.assert_close(a, b, rtol=1e-5 if tight else 1e-4, atol=1e-7 if tight else 1e-5)


def _small(*blocks, embedding=lambda: L.Embedding(60, 16)):
    """A model factory (fresh layers per call) of an embedding, `blocks` and the sigmoid head."""
    return lambda: Sequential([embedding(), *[b() for b in blocks], L.Dense(1, activation="sigmoid")])


@pytest.mark.parametrize("name", ["simple-rnn", "lstm", "gru", "stacked-lstm", "bi-lstm", "bi-gru"])
@pytest.mark.parametrize("optimizer", ["rmsprop", "adam", "sgd"])
def test_the_lecture_models_train_as_through_autograd(name, optimizer, monkeypatch):
    data = _data(vocab=10_000, rows=48, steps=40)
    _assert_same(lambda: zoo.build(name), monkeypatch, optimizer, data)


@pytest.mark.parametrize("build", [
    _small(lambda: L.LSTM(16, go_backwards=True, dropout=0.3)),
    _small(lambda: L.GRU(16, use_bias=False, dropout=0.1)),
    _small(lambda: L.SimpleRNN(16, use_bias=False)),
    _small(lambda: L.Bidirectional(L.GRU(16, return_sequences=True, dropout=0.2)),
           lambda: L.Bidirectional(L.LSTM(16, dropout=0.2))),
    _small(lambda: L.SimpleRNN(16, return_sequences=True), lambda: L.GRU(32, dropout=0.5),
           embedding=lambda: L.Embedding(60, 32, trainable=False)),
], ids=["backwards-lstm", "gru-no-bias", "rnn-no-bias", "stacked-bidirectional", "frozen-embedding"])
def test_other_shapes_train_as_through_autograd(build, monkeypatch):
    _assert_same(build, monkeypatch)


@pytest.mark.parametrize("build", [
    _small(lambda: L.Bidirectional(L.GRU(16))),
    _small(lambda: L.LSTM(16, go_backwards=True, return_sequences=True), lambda: L.SimpleRNN(16)),
    _small(lambda: L.Bidirectional(L.LSTM(16, use_bias=False), merge_mode="concat")),
], ids=["bidirectional-gru", "backwards-lstm-stack", "bidirectional-lstm-no-bias"])
@pytest.mark.parametrize("optimizer", ["sgd", "rmsprop"])
def test_token_mode_trains_as_through_autograd(build, optimizer, monkeypatch):
    """First layers without input dropout take token mode (both directions of a Bidirectional
    one reading the same distinct tokens, a backwards one in reverse)."""
    model, *_ = _train(build, monkeypatch, True)
    assert model._direct_step().token_mode(training=True)
    _assert_same(build, monkeypatch, optimizer)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("build", [
    _small(lambda: L.SimpleRNN(16)),                               # token mode
    _small(lambda: L.Bidirectional(L.LSTM(16, dropout=0.2))),       # row-token mode
], ids=["token", "row-token"])
def test_token_modes_under_one_and_two_threads(build, threads, monkeypatch):
    """The per-thread sums (tokens' gradients, weight gradients) add up whatever the split."""
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        _assert_same(build, monkeypatch, "sgd")
    finally:
        torch.set_num_threads(saved)


def test_distinct_tokens_are_unique_in_order_of_appearance():
    ids = torch.tensor([[5, 3, 5, 0], [3, 9, 9, 0]])
    distinct, inv = kernels.distinct_tokens(ids, 10)
    assert distinct.tolist() == [5, 3, 0, 9]
    assert torch.equal(distinct[inv], ids)
    with pytest.raises(RuntimeError, match="id 10 outside the table's 10 rows"):
        kernels.distinct_tokens(torch.tensor([1, 10]), 10)


def test_row_tokens_list_each_rows_distinct_ids():
    ids = torch.tensor([[5, 3, 5, 0], [3, 9, 9, 9]])
    tok, pos, counts = kernels._module.row_tokens(ids, 10)
    assert counts.tolist() == [3, 2]
    assert tok.tolist() == [[5, 3, 0, 0], [3, 9, 0, 0]]
    assert torch.equal(tok.gather(1, pos), ids)
    grads = torch.arange(2 * 4 * 16, dtype=torch.float32).view(2, 4, 16)
    table_grad = kernels._module.row_tokens_grad(tok, counts, [grads, grads], 10)
    expected = torch.zeros(10, 16)
    for b in range(2):
        for j in range(int(counts[b])):
            expected[tok[b, j]] += 2 * grads[b, j]
    assert torch.equal(table_grad, expected)


def test_an_embedding_learning_rate_is_kept(monkeypatch):
    _assert_same(lambda: zoo.build("lstm"), monkeypatch, RMSprop(1e-3, embedding_learning_rate=1e-4),
                 _data(vocab=10_000))


def _count_direct_steps(monkeypatch) -> list:
    steps = []
    direct_call = DirectStep.__call__
    monkeypatch.setattr(DirectStep, "__call__", lambda *args: steps.append(direct_call(*args)) or steps[-1])
    return steps


def test_padded_batches_of_other_layers_take_the_autograd_step(monkeypatch):
    steps = _count_direct_steps(monkeypatch)
    build = _small(lambda: L.GRU(16), embedding=lambda: L.Embedding(60, 16, mask_zero=True))
    x, y = _data()
    x[:16, :5] = 0  # the first batch of each epoch is padded: autograd; the other two: direct
    _assert_same(build, monkeypatch, data=(x, y), shuffle=False)
    assert [result is not None for result in steps] == [False, True, True] * 2


@pytest.mark.parametrize("padding", ["pre", "post", "inside", "empty-row"])
@pytest.mark.parametrize("dropout", [0.2, 0.0])  # 0: token mode
def test_padded_batches_of_lstm_stacks_train_as_through_autograd(padding, dropout, monkeypatch):
    """Under mask_zero, stacked plain LSTMs take padded batches (each row on its span); padding
    inside a row or a row of padding only go through autograd."""
    steps = _count_direct_steps(monkeypatch)
    build = _small(lambda: L.LSTM(16, return_sequences=True, dropout=dropout),
                   lambda: L.LSTM(16, dropout=0.2), embedding=lambda: L.Embedding(60, 16, mask_zero=True))
    x, y = _data()
    lengths = np.random.default_rng(1).integers(1, 30, size=len(x))
    for row, n in enumerate(lengths):  # Keras's pre-padding (or post-)
        if padding == "post":
            x[row, n:] = 0
        else:
            x[row, :30 - n] = 0
    if padding == "inside":
        x[20, 28] = 0
    if padding == "empty-row":
        x[20] = 0
    _assert_same(build, monkeypatch, "sgd" if dropout == 0 else "rmsprop", data=(x, y), shuffle=False)
    expected = {"pre": [True] * 3, "post": [True] * 3, "inside": [True, False, True],
                "empty-row": [True, False, True]}[padding]
    assert [result is not None for result in steps] == expected * 2


@pytest.mark.parametrize("build", [
    _small(lambda: L.LSTM(16, recurrent_dropout=0.2)),
    _small(lambda: L.LSTM(12)),                                  # not a multiple of 16
    _small(lambda: L.LSTM(16, return_sequences=True), lambda: L.Dropout(0.2), lambda: L.LSTM(16)),
    _small(lambda: L.Bidirectional(L.LSTM(16), merge_mode="sum")),
    _small(lambda: L.LSTM(16, activation="relu")),
    lambda: Sequential([L.Embedding(60, 16), L.LSTM(16), L.Dense(1)]),  # no sigmoid
], ids=["recurrent-dropout", "units-12", "dropout-layer", "merge-sum", "relu", "linear-head"])
def test_other_models_take_the_autograd_step(build, monkeypatch):
    _assert_same(build, monkeypatch, expect_direct=False)


def test_the_plan_follows_the_model(monkeypatch):
    model = zoo.build("lstm")
    model.compile("rmsprop", "binary_crossentropy", ["acc"])
    model.build((None, 20))
    assert model._direct_step() is not None
    model.compile("rmsprop", "sparse_categorical_crossentropy", ["acc"])
    assert model._direct_step() is None
    monkeypatch.setenv("TEXTRNN_DIRECT_STEP", "0")
    model.compile("rmsprop", "binary_crossentropy", ["acc"])
    assert model._direct_step() is None


def test_optimizer_step_hooks_still_run():
    model = zoo.build("lstm")
    model.compile("rmsprop", "binary_crossentropy", ["acc"])
    model.build((None, 30))
    calls = []
    model.create_optimizer().register_step_post_hook(lambda *args: calls.append(1))
    model.fit(*_data(), batch_size=16, epochs=1, verbose=0)
    assert len(calls) == 3


def test_the_fused_head_gives_autograds_gradient():
    """kernels.sigmoid_bce against losses.binary_crossentropy / binary_accuracy and autograd through
    sigmoid, saturated outputs (the clip to [1e-7, 1 - 1e-7]) and p = 0.5 included."""
    from textrnn.training import losses

    z = torch.cat([torch.randn(200) * 4, torch.tensor([0.0, 30.0, -30.0, 16.0, -16.0, 17.0, -17.0])])[:, None]
    y = (torch.rand(len(z)) > 0.5).float()
    y[-7:] = torch.tensor([1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0])
    leaf = z.clone().requires_grad_()
    p = torch.sigmoid(leaf)
    loss = losses.binary_crossentropy(y, p)
    loss.backward()
    fused_loss, fused_acc, dz = kernels.sigmoid_bce(torch.sigmoid(z), y)
    assert torch.equal(dz, leaf.grad)
    assert fused_acc == float(losses.binary_accuracy(y, p.detach()))
    assert fused_loss == pytest.approx(loss.item(), rel=1e-6)
