"""textrnn's compiled LSTM and SimpleRNN kernels against the reference paths: values and gradients, float64
gradcheck, both thread counts, and the layer wired to it."""

import pytest
import torch

from textrnn import layers as L
from textrnn.backend import kernels, sequence

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
@pytest.mark.parametrize("features", [12, 32])  # 32: the whole-layer LSTM kernel where there is AVX-512
@pytest.mark.parametrize("input_dropout", [False, True])
def test_layer_matches_the_step_loop(cell, threads, go_backwards, features, input_dropout):
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        layer = getattr(L, cell)(32, return_sequences=True, go_backwards=go_backwards)
        layer.build((None, 50, features))
        if layer.use_bias:  # non-zero biases, so the bias paths are checked too
            with torch.no_grad():
                layer.bias.normal_(0, 0.1)
        x = torch.randn(9, 50, features, requires_grad=True)
        weights = [x, *layer.weights]
        # Keras's input dropout mask (0 or 1 / keep): the kernels take it (the LSTM layer kernel
        # inside its time loop), the reference multiplies x
        mask = (torch.bernoulli(torch.full((9, features), 0.7)) / 0.7) if input_dropout else None

        def run(use_kernel):
            states = [torch.zeros(9, 32) for _ in range(layer.state_count)]
            xx = x.flip(1) if go_backwards else x
            if use_kernel:
                out, final = layer.own_kernel()(xx, states, input_mask=mask)
            else:
                xx = sequence.apply_input_mask(xx, mask)
                out, final = sequence.step_loop(layer.step, layer.project_inputs(xx, None), states,
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


def test_inference_uses_the_forward_only_kernel_where_it_has_one():
    small = L.LSTM(8)  # state size not a multiple of 16: PyTorch's oneDNN forward
    small.build((None, 5, 4))
    assert small.own_kernel() is not None  # training kernel
    with torch.no_grad():
        assert small.own_kernel() is None


@pytest.mark.skipif(not kernels.fast_layer(32, 32), reason="no AVX-512 forward-only kernel on this CPU")
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("batch", [1, 7])
def test_forward_only_lstm_kernel_matches_pytorch(go_backwards, batch):
    torch.manual_seed(batch)
    layer = L.LSTM(32, return_sequences=True, return_state=True, go_backwards=go_backwards)
    layer.build((None, 40, 16))
    with torch.no_grad():
        layer.bias.normal_(0, 0.1)
    x = torch.randn(batch, 40, 16)
    h0, c0 = torch.randn(batch, 32), torch.randn(batch, 32)
    with torch.no_grad():
        assert layer.own_kernel() is not None
        out, h, c = layer(x, initial_state=[h0, c0])
        xx = x.flip(1) if go_backwards else x
        ref, (ref_h, ref_c) = sequence.fused_sequence("lstm", xx, [h0, c0], layer.torch_weights())
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(h, ref_h, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(c, ref_c, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("units", [16, 32, 48, 128])
def test_float32_kernel_matches_float64(units):
    """The float32 path (vectorised on AVX-512 machines) against the float64 one, values and grads."""
    torch.manual_seed(units)
    batch, steps = 5, 23
    base = [torch.randn(batch, steps, 4 * units, dtype=torch.float64) * 1.5,
            torch.randn(units, 4 * units, dtype=torch.float64) * 0.3,
            torch.randn(batch, units, dtype=torch.float64), torch.randn(batch, units, dtype=torch.float64)]
    weight = torch.randn(batch, steps, units, dtype=torch.float64)
    results = []
    for dtype in (torch.float64, torch.float32):
        args = [a.to(dtype).requires_grad_() for a in base]
        H, hT, cT = kernels.fused_lstm(*args)
        loss = (H * weight.to(dtype)).sum() + 0.5 * hT.sum() + 0.3 * cT.sum()
        results.append([H.detach(), *torch.autograd.grad(loss, args)])
    for exact, single in zip(*results):
        torch.testing.assert_close(single.double(), exact, atol=5e-5, rtol=1e-4)


@pytest.mark.parametrize("cell", ["simple_rnn", "gru"])
@pytest.mark.parametrize("units", [16, 20, 48, 128])  # 20: not a multiple of 16, the generic path
@pytest.mark.parametrize("batch, steps", [(5, 23), (1, 7), (4, 1)])
@pytest.mark.parametrize("last_only", [False, True])  # True: no gradient into H (None, not zeros)
def test_float32_sequence_kernels_match_float64(cell, units, batch, steps, last_only):
    """SimpleRNN / GRU float32 paths (vectorised on AVX-512, dU as GEMMs) against float64."""
    torch.manual_seed(units + batch)
    gates = 1 if cell == "simple_rnn" else 3
    base = [torch.randn(batch, steps, gates * units, dtype=torch.float64),
            # U scaled so that gradients do not grow through time: float32 rounding then stays far
            # below the tolerance (at 0.3 * randn they reach ~90, and PyTorch's own float32 is 1e-3 off)
            torch.randn(units, gates * units, dtype=torch.float64) * 0.8 / units ** 0.5]
    if cell == "gru":
        base.append(torch.randn(gates * units, dtype=torch.float64) * 0.1)
    base.append(torch.randn(batch, units, dtype=torch.float64))
    weight = torch.randn(batch, steps, units, dtype=torch.float64)
    run = kernels.fused_simple_rnn if cell == "simple_rnn" else kernels.fused_gru
    results = []
    for dtype in (torch.float64, torch.float32):
        args = [a.to(dtype).requires_grad_() for a in base]
        H, hT = run(*args)
        loss = 0.5 * hT.sum() + (0 if last_only else (H * weight.to(dtype)).sum())
        results.append([H.detach(), *torch.autograd.grad(loss, args)])
    for exact, single in zip(*results):
        torch.testing.assert_close(single.double(), exact, atol=5e-5, rtol=1e-4)


@pytest.mark.skipif(not kernels.fast_layer(32, 32), reason="no AVX-512 whole-layer kernel on this CPU")
@pytest.mark.parametrize("cell", ["LSTM", "SimpleRNN", "GRU"])
# (inputs, units): 32 / 32 projects inside the time loop; 128 / 128 (all cells) and 64 / 64 (GRU, LSTM)
# outgrow L1 and project with one GEMM first
@pytest.mark.parametrize("sizes", [(32, 32), (64, 64), (128, 128)])
@pytest.mark.parametrize("use_bias", [False, True])
def test_whole_layer_kernels_match_the_step_loop(cell, sizes, use_bias):
    torch.manual_seed(0)
    inputs, units = sizes
    layer = getattr(L, cell)(units, return_sequences=True, use_bias=use_bias)
    layer.build((None, 20, inputs))
    if use_bias:
        with torch.no_grad():
            layer.bias.normal_(0, 0.1)
    x = torch.randn(5, 20, inputs, requires_grad=True)
    mask = torch.bernoulli(torch.full((5, inputs), 0.7)) / 0.7  # Keras's input dropout mask

    def run(use_kernel):
        states = [torch.zeros(5, units) for _ in range(layer.state_count)]
        if use_kernel:
            out, final = layer.own_kernel()(x, states, input_mask=mask)
        else:
            projected = layer.project_inputs(x * mask[:, None], None)
            out, final = sequence.step_loop(layer.step, projected, states, None, None)
        loss = (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum() + final[0].sum()
        return out.detach(), torch.autograd.grad(loss, [x, *layer.weights])

    assert layer.own_kernel() == layer._run_layer_kernel
    (out_k, grads_k), (out_r, grads_r) = run(True), run(False)
    torch.testing.assert_close(out_k, out_r, atol=1e-5, rtol=1e-4)
    for a, b in zip(grads_k, grads_r):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-3)
    with torch.no_grad():  # inference (no dropout): the forward-only mode of the same kernel
        states = [torch.zeros(5, units) for _ in range(layer.state_count)]
        ref, _ = sequence.step_loop(layer.step, layer.project_inputs(x, None), states, None, None)
        torch.testing.assert_close(layer(x), ref, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", ["rmsprop", "adam"])
def test_one_pass_optimizer_updates_match_the_foreach_path(name, monkeypatch):
    """The C++ one-pass RMSprop / Adam against the same rule in torch's foreach ops, float64 and
    float32, several steps (the Keras parity tests pin the rule itself)."""
    if not kernels.available():
        pytest.skip("textrnn's compiled kernels are not built on this machine")
    from textrnn.training import optimizers

    results = []
    for fused in (True, False):
        if not fused:
            monkeypatch.setattr(kernels, f"{name}_step", lambda *args: False)
        gen = torch.Generator().manual_seed(0)
        params = [torch.nn.Parameter(torch.randn(300, 7, generator=gen, dtype=dtype))
                  for dtype in (torch.float64, torch.float32)]
        opt = optimizers.OptimizerSpec(name, 0.01).create(params)
        for _ in range(5):
            for p in params:
                p.grad = torch.randn(p.shape, generator=gen, dtype=p.dtype)
            opt.step()
        results.append([p.detach().clone() for p in params])
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
        assert not torch.equal(a, torch.zeros_like(a))


@pytest.mark.parametrize("name", ["rmsprop", "adam"])
def test_a_tensor_the_one_pass_update_cannot_take_leaves_the_step_to_torch(name):
    """A non-contiguous gradient: the C++ update declines before touching anything (all or nothing)
    and torch's foreach ops take the whole step, with the same result as contiguous gradients."""
    if not kernels.available():
        pytest.skip("textrnn's compiled kernels are not built on this machine")
    from textrnn.training import optimizers

    results = []
    for contiguous in (True, False):
        gen = torch.Generator().manual_seed(0)
        params = [torch.nn.Parameter(torch.randn(30, 7, generator=gen)) for _ in range(2)]
        opt = optimizers.OptimizerSpec(name, 0.01).create(params)
        for _ in range(3):
            grads = [torch.randn(7, 30, generator=gen).t() for _ in params]  # (30, 7), strided
            for p, g in zip(params, grads):
                p.grad = g.contiguous() if contiguous else g
            probe = [torch.zeros_like(p) for p in params]  # lr 0 below: a probe that changes nothing
            assert kernels.rmsprop_step(params, [p.grad for p in params], probe, 0.0, 0.9, 1e-7) is contiguous
            opt.step()
        results.append([p.detach().clone() for p in params])
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)  # float rounding, as above


def test_vector_activations_are_accurate_over_the_whole_range():
    """The AVX-512 tanh and sigmoid (a degree-5 exp, see exp_neg_ps) against float64 on [-60, 60],
    the saturated tails included: within 1e-6 absolute, two orders below what the parity tests ask.
    tanh: a SimpleRNN with W = I, U = 0 outputs tanh(x_t); sigmoid: an LSTM whose input, forget and
    candidate gates are pinned (i = tanh(c~) = 1 to float precision, f = 1/2) outputs
    sigmoid(x_o) * tanh(c_t), with c_t known in closed form."""
    if not kernels._module.fast_layer(16, 16):
        pytest.skip("the vector activations need AVX-512")
    x = torch.linspace(-60, 60, 16 * 4001, dtype=torch.float64).reshape(1, -1, 16).float()
    empty = torch.empty(0)
    eye, zeros = torch.eye(16), torch.zeros(16, 16)
    H, _ = kernels._module.rnn_layer_forward(x, eye, torch.zeros(16), zeros, torch.zeros(1, 16), False,
                                             empty, [])
    assert (H.double() - torch.tanh(x.double())).abs().max() < 1e-6
    W = torch.zeros(16, 64)
    W[:, 48:] = torch.eye(16)  # x drives the output gate only
    bias = torch.zeros(64)
    bias[:16], bias[32:48] = 50.0, 50.0  # i and c~ saturated at 1, f = sigmoid(0) = 1/2
    H, *_ = kernels._module.lstm_layer_forward(x, W, bias, torch.zeros(16, 64), torch.zeros(1, 16),
                                               torch.zeros(1, 16), False, torch.empty(0, dtype=torch.long),
                                               torch.empty(0, dtype=torch.long), empty, [])
    steps = x.shape[1]
    c = 2.0 - 2.0 * 0.5 ** torch.arange(1, steps + 1, dtype=torch.float64)  # c_t = c_(t-1) / 2 + 1
    expected = torch.sigmoid(x.double()) * torch.tanh(c)[None, :, None]
    assert (H.double() - expected).abs().max() < 1e-6
