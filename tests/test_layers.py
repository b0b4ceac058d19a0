"""Layer behaviour that Keras parity alone does not pin down: dropout masks, the fused path against
the step loop (values and gradients), freezing, config round trips."""

import numpy as np
import pytest
import torch

from textrnn import layers as L
from textrnn.backend import kernels, sequence
from textrnn.errors import ConfigError
from textrnn.layers.base import layer_from_config, layer_to_config
from textrnn.models import Sequential


def _revealing_rnn(rate, dim=64):
    """SimpleRNN whose output reveals its input dropout mask: identity kernel, no recurrence, so
    output_t = tanh(x_t * mask)."""
    layer = L.SimpleRNN(dim, dropout=rate)
    layer.build((None, 5, dim))
    layer.set_weights([np.eye(dim, dtype="float32"), np.zeros((dim, dim), "float32"),
                       np.zeros(dim, "float32")])
    return layer


def test_input_dropout_mask_is_shared_by_all_time_steps():
    rate = 0.25
    layer = _revealing_rnn(rate)
    layer.train()
    layer.return_sequences = True
    seq = layer(torch.ones(16, 5, 64)).detach()
    # tanh(0) of a dropped unit: exactly 0, or within float rounding where the kernel's exp is a
    # vector approximation (the generic, non-AVX-512 build).
    dropped = seq.abs() < 1e-6
    # One mask per (sample, feature), the same at every step.
    assert torch.equal(dropped, dropped[:, :1].expand_as(dropped))
    # Different samples get different masks; the rate is about right; kept units are scaled.
    assert not torch.equal(dropped[0, 0], dropped[1, 0])
    assert abs(dropped[:, 0].float().mean().item() - rate) < 0.06
    kept = seq[~dropped]
    np.testing.assert_allclose(kept.numpy(), np.tanh(1 / (1 - rate)), rtol=1e-6)


def test_no_dropout_at_inference():
    layer = _revealing_rnn(0.5)
    layer.return_sequences = True
    layer.eval()
    seq = layer(torch.ones(4, 5, 64))
    np.testing.assert_allclose(seq.detach().numpy(), np.tanh(1.0), rtol=1e-6)


@pytest.mark.parametrize("noise_shape, shared_axis", [((None, None, 1), 2), ((None, 1, None), 1)])
def test_dropout_noise_shape_drops_whole_words_or_channels(noise_shape, shared_axis):
    layer = L.Dropout(0.4, noise_shape=noise_shape)
    layer.train()
    out = layer(torch.ones(32, 20, 8))
    dropped = out == 0
    # The mask is the same along the broadcast axis, differs along the others, and keeps ~60 %.
    first = dropped.narrow(shared_axis, 0, 1)
    assert torch.equal(dropped, first.expand_as(dropped))
    assert dropped.any() and not dropped.all()
    assert abs(dropped.float().mean().item() - 0.4) < 0.06
    np.testing.assert_allclose(out[~dropped].numpy(), 1 / 0.6, rtol=1e-6)
    layer.eval()
    assert torch.equal(layer(torch.ones(2, 3, 8)), torch.ones(2, 3, 8))
    with pytest.raises(ConfigError, match="noise_shape"):
        L.Dropout(0.4, noise_shape=(None, 1))(torch.ones(2, 3, 8))
    with pytest.raises(ConfigError, match="rate"):
        L.Dropout(1.5)
    everything = L.Dropout(1.0, noise_shape=noise_shape)
    everything.train()
    assert torch.equal(everything(torch.ones(2, 3, 8)), torch.zeros(2, 3, 8))


def test_recurrent_dropout_draws_masks_per_gate_and_uses_the_step_loop():
    layer = L.LSTM(8, dropout=0.3, recurrent_dropout=0.3)
    layer.build((None, 6, 4))
    layer.train()
    calls = []
    original = sequence.step_loop

    def spy(*args):
        calls.append(args[4])
        return original(*args)

    sequence.step_loop = spy
    try:
        layer(torch.randn(3, 6, 4))
    finally:
        sequence.step_loop = original
    assert len(calls) == 1 and len(calls[0]) == 4  # four gate masks for h(t-1)
    assert not torch.equal(calls[0][0], calls[0][1])


CELLS = [
    lambda: L.SimpleRNN(5, return_sequences=True),
    lambda: L.LSTM(5, return_sequences=True),
    lambda: L.GRU(5, return_sequences=True),
]


def _fused_against_step_loop(layer, x, mask, own, need_states, input_dropout=False, **tol):
    """run_sequence's fast path against the reference step loop: outputs, final states (only the
    output state where need_states is False) and gradients of x and every weight. With
    input_dropout, a Keras input dropout mask goes to run_sequence and x times it to the loop."""
    batch = x.shape[0]
    keep = torch.bernoulli(torch.full((batch, x.shape[2]), 0.6, dtype=x.dtype)) / 0.6
    input_mask = keep if input_dropout else None
    states = [x.new_zeros(batch, layer.units) for _ in range(layer.state_count)]

    def fused():
        out, final = sequence.run_sequence(
            own_kernel=layer.own_kernel() if own else None,
            span_kernel=layer.span_kernel() if own else None,
            fused_cell=layer.fused_cell, torch_weights=layer.torch_weights,
            project=lambda s: layer.project_inputs(s, None), step=layer.step,
            x=x, states=states, mask=mask, recurrent_masks=None, need_states=need_states,
            input_mask=input_mask)
        return out, final if need_states else final[:1]

    def stepped():
        xx = sequence.apply_input_mask(x, input_mask)
        out, final = sequence.step_loop(layer.step, layer.project_inputs(xx, None), states, mask, None)
        return out, final if need_states else final[:1]

    results = []
    for run in (fused, stepped):
        out, final = run()
        loss = (out * torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)).sum()
        loss = loss + sum(f.sum() for f in final)
        grads = torch.autograd.grad(loss, [x, *layer.weights])
        results.append((out.detach(), [f.detach() for f in final], grads))
    (o1, f1, g1), (o2, f2, g2) = results
    torch.testing.assert_close(o1, o2, **tol)
    assert len(f1) == len(f2)
    for a, b in zip(f1 + list(g1), f2 + list(g2)):
        torch.testing.assert_close(a, b, **tol)


def _padding_mask(pad, steps, lengths):
    t = torch.arange(steps)
    return (t[None] >= steps - lengths[:, None]) if pad == "pre" else (t[None] < lengths[:, None])


@pytest.mark.parametrize("make", CELLS)
@pytest.mark.parametrize("pad", [None, "pre", "post"])
@pytest.mark.parametrize("own, need_states", [(False, True), (False, False), (True, False)])
@pytest.mark.parametrize("input_dropout", [False, True])
def test_fused_path_matches_step_loop_values_and_gradients(make, pad, own, need_states, input_dropout):
    """Padding masks go through packing (every final state) or, with need_states off, through the
    unmasked kernel on left-aligned rows: PyTorch's or textrnn's own (own=True)."""
    if own and not kernels.available():
        pytest.skip("textrnn's compiled kernels are not built on this machine")
    layer = make().double()
    layer.build((None, 7, 3))
    layer.double()
    x = torch.randn(4, 7, 3, dtype=torch.float64, requires_grad=True)
    mask = _padding_mask(pad, 7, torch.tensor([7, 3, 1, 0])) if pad else None
    _fused_against_step_loop(layer, x, mask, own, need_states, input_dropout)


@pytest.mark.parametrize("pad", ["pre", "post"])
@pytest.mark.parametrize("grad, input_dropout", [(True, False), (True, True), (False, False)])
@pytest.mark.parametrize("size", [16, 48])  # 48: W and U outgrow L1, the projection is a GEMM first
def test_whole_layer_lstm_kernel_runs_each_row_on_its_valid_steps(pad, grad, input_dropout, size):
    """The float32 whole-layer kernel under padding masks, as length buckets use it: each row
    runs its steps [start, end) only (rows of near-equal and very different lengths, one empty);
    every final state (c too), outputs and gradients as the step loop gives them (also with an
    input dropout mask, which the kernel applies inside its loop); and with gradients off, the
    forward-only kernel's outputs."""
    if not kernels.available():
        pytest.skip("textrnn's compiled kernels are not built on this machine")
    layer = L.LSTM(size, return_sequences=True)
    layer.build((None, 9, size))
    if not layer._fits_layer_kernel():
        pytest.skip("the whole-layer kernel needs AVX-512")
    assert layer.span_kernel() is not None
    with torch.no_grad():
        layer.bias.normal_(0, 0.1)  # the GEMM-first path adds the bias itself
    x = torch.randn(7, 9, size, requires_grad=grad)
    mask = _padding_mask(pad, 9, torch.tensor([9, 8, 8, 5, 1, 0, 3]))
    if grad:
        _fused_against_step_loop(layer, x, mask, True, True, input_dropout, atol=2e-5, rtol=1e-4)
        return
    with torch.no_grad():
        fast = layer(x, mask=mask)
        states = [x.new_zeros(7, size)] * 2
        slow, _ = sequence.step_loop(layer.step, layer.project_inputs(x, None), states, mask, None)
    torch.testing.assert_close(fast, slow, atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("cell", ["SimpleRNN", "GRU"])
@pytest.mark.parametrize("pad", ["pre", "post"])
@pytest.mark.parametrize("grad, input_dropout", [(True, False), (True, True), (False, False)])
@pytest.mark.parametrize("size", [16, 64])  # 64: the GRU's W and U outgrow L1, a GEMM projects first
def test_whole_layer_simple_rnn_and_gru_kernels_under_padding_masks(cell, pad, grad, input_dropout, size):
    """The float32 whole-layer SimpleRNN / GRU kernels on left-aligned rows (how padding masks reach
    them), training (with and without an input dropout mask) and forward-only: as the step loop."""
    if not kernels.available():
        pytest.skip("textrnn's compiled kernels are not built on this machine")
    layer = getattr(L, cell)(size, return_sequences=True)
    layer.build((None, 9, size))
    if not layer._fits_layer_kernel():
        pytest.skip("the whole-layer kernels need AVX-512")
    with torch.no_grad():
        layer.bias.normal_(0, 0.1)
    x = torch.randn(7, 9, size, requires_grad=grad)
    mask = _padding_mask(pad, 9, torch.tensor([9, 8, 8, 5, 1, 0, 3]))
    if grad:
        assert layer.own_kernel() == layer._run_layer_kernel
        _fused_against_step_loop(layer, x, mask, True, False, input_dropout, atol=2e-5, rtol=1e-4)
        return
    with torch.no_grad():
        assert layer.own_kernel() == layer._run_layer_kernel  # the forward-only mode
        fast = layer(x, mask=mask)
        slow, _ = sequence.step_loop(layer.step, layer.project_inputs(x, None), [x.new_zeros(7, size)],
                                        mask, None)
    torch.testing.assert_close(fast, slow, atol=2e-5, rtol=1e-4)


def test_step_loop_gradcheck_float64():
    layer = L.GRU(3, return_sequences=True, reset_after=False)
    layer.build((None, 4, 2))
    layer.double()
    x = torch.randn(2, 4, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda inp: layer(inp), (x,))


@pytest.mark.parametrize("dim", [8, 80])  # 80: the kernel splits columns over threads, a partial block
def test_embedding_gradient_sums_repeated_ids_as_pytorch_does(dim):
    layer = L.Embedding(50, dim)
    ids = torch.randint(0, 50, (6, 40))
    ids[:, :5] = 7  # many repeats of one id
    out = layer(ids)
    grad = torch.randn_like(out)
    out.backward(grad)
    table = layer.embeddings.detach().clone().requires_grad_(True)
    torch.nn.functional.embedding(ids, table).backward(grad)
    torch.testing.assert_close(layer.embeddings.grad, table.grad)
    np.testing.assert_array_equal(out.detach().numpy(), table.detach()[ids].numpy())


def test_frozen_embedding_does_not_change_during_fit():
    matrix = np.random.default_rng(0).normal(size=(30, 4)).astype("float32")
    model = Sequential([L.Embedding(30, 4, weights=[matrix], trainable=False, input_length=6),
                        L.LSTM(3), L.Dense(1, activation="sigmoid")])
    model.compile("rmsprop", "binary_crossentropy", ["acc"])
    before_lstm = model.layers[1].get_weights()[0].copy()
    x = np.random.default_rng(1).integers(0, 30, size=(20, 6))
    y = np.random.default_rng(2).integers(0, 2, size=20)
    model.fit(x, y, epochs=2, batch_size=5, verbose=0)
    np.testing.assert_array_equal(model.layers[0].get_weights()[0], matrix)
    assert not np.array_equal(model.layers[1].get_weights()[0], before_lstm)


def test_trainable_flag_moves_params_between_counts():
    model = Sequential([L.Embedding(100, 4, input_length=3), L.Bidirectional(L.LSTM(2)), L.Dense(1)])
    trainable = sum(w.numel() for w in model.trainable_weights)
    model.layers[0].trainable = False
    assert sum(w.numel() for w in model.non_trainable_weights) == 400
    assert sum(w.numel() for w in model.trainable_weights) == trainable - 400
    model.layers[1].trainable = False
    assert all(not w.requires_grad for w in model.layers[1].weights)


@pytest.mark.parametrize("layer", [
    L.Embedding(10, 3, mask_zero=True), L.Dense(4, activation="tanh"), L.Dropout(0.3),
    L.Dropout(0.3, noise_shape=(None, None, 1)),
    L.SimpleRNN(3, activation="relu"), L.LSTM(3, go_backwards=True, unit_forget_bias=False),
    L.GRU(3, reset_after=False, dropout=0.1), L.Bidirectional(L.GRU(3, return_sequences=True), "ave"),
])
def test_config_round_trips(layer):
    spec = layer_to_config(layer)
    again = layer_from_config(spec)
    assert layer_to_config(again) == spec


def test_bad_arguments_raise_clear_errors():
    from textrnn.errors import ConfigError, DataError

    with pytest.raises(ConfigError, match="activation"):
        L.Dense(3, activation="swishy")
    with pytest.raises(ConfigError, match="dropout"):
        L.LSTM(3, dropout=1.5)
    with pytest.raises(ConfigError, match="merge_mode"):
        L.Bidirectional(L.LSTM(3), merge_mode="max")
    emb = L.Embedding(5, 2)
    with pytest.raises(DataError, match=r"\[0, 5\)"):
        emb(torch.tensor([[1, 7]]))
