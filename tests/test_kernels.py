"""textrnn's compiled LSTM and SimpleRNN kernels against the reference paths: values and gradients, float64
gradcheck, both thread counts, and the layer wired to it."""

import numpy as np
import pytest
import torch

from textrnn import kernels
from textrnn import layers as L
from textrnn.layers import rnn_kernels

pytestmark = pytest.mark.skipif(not kernels.available(), reason="the C++ kernel could not be built here")


@pytest.mark.parametrize("units", [5, 16, 32, 20])
def test_gradcheck_float64(units):
    torch.manual_seed(units)
    xp = torch.randn(3, 6, 4 * units, dtype=torch.float64, requires_grad=True)
    U = (0.3 * torch.randn(units, 4 * units, dtype=torch.float64)).requires_grad_()
    h0 = torch.randn(3, units, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn(3, units, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(kernels.fused_lstm, (xp, U, h0, c0))


@pytest.mark.parametrize("units", [5, 16, 32, 33])
def test_simple_rnn_gradcheck_float64(units):
    torch.manual_seed(units)
    xp = torch.randn(3, 6, units, dtype=torch.float64, requires_grad=True)
    U = (0.3 * torch.randn(units, units, dtype=torch.float64)).requires_grad_()
    h0 = torch.randn(3, units, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(kernels.fused_simple_rnn, (xp, U, h0))


@pytest.mark.parametrize("units", [5, 16, 32])
def test_gru_gradcheck_float64(units):
    torch.manual_seed(units)
    xp = torch.randn(3, 6, 3 * units, dtype=torch.float64, requires_grad=True)
    U = (0.3 * torch.randn(units, 3 * units, dtype=torch.float64)).requires_grad_()
    b = (0.1 * torch.randn(3 * units, dtype=torch.float64)).requires_grad_()
    h0 = torch.randn(3, units, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(kernels.fused_gru, (xp, U, b, h0))


@pytest.mark.parametrize("cell", ["LSTM", "SimpleRNN", "GRU"])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_layer_matches_the_step_loop(cell, threads, go_backwards):
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        layer = getattr(L, cell)(32, return_sequences=True, go_backwards=go_backwards)
        layer.build((None, 50, 12))
        if layer.use_bias:  # non-zero biases, so the bias paths are checked too
            with torch.no_grad():
                layer.bias.normal_(0, 0.1)
        x = torch.randn(9, 50, 12, requires_grad=True)
        weights = [x, *layer.weights]

        def run(use_kernel):
            states = [torch.zeros(9, 32) for _ in range(layer.state_count)]
            xx = x.flip(1) if go_backwards else x
            if use_kernel:
                out, final = layer.own_kernel()(xx, states)
            else:
                out, final = rnn_kernels.step_loop(layer.step, layer.project_inputs(xx, None), states,
                                                   None, None)
            loss = (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum() + final[-1].sum()
            return out.detach(), torch.autograd.grad(loss, weights)

        out_k, grads_k = run(True)
        out_r, grads_r = run(False)
        torch.testing.assert_close(out_k, out_r, atol=1e-5, rtol=1e-4)
        for a, b in zip(grads_k, grads_r):
            torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-3)
    finally:
        torch.set_num_threads(saved)


def test_layers_without_a_kernel_use_pytorch_kernels():
    relu = L.SimpleRNN(4, activation="relu")
    gru = L.GRU(4, reset_after=False)
    assert relu.own_kernel() is None and gru.own_kernel() is None


def test_training_uses_the_kernel_and_inference_does_not():
    layer = L.LSTM(8)
    layer.build((None, 5, 4))
    assert layer.own_kernel() is not None
    with torch.no_grad():
        assert layer.own_kernel() is None  # inference: PyTorch's oneDNN forward is faster
    x = torch.randn(2, 5, 4)
    with torch.no_grad():
        reference = layer(x)
    np.testing.assert_allclose(layer(x).detach().numpy(), reference.numpy(), atol=1e-6)
