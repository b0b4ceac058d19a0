// GRU (reset_after)'s entry points: the sequence kernels and the whole-layer kernels.
#include "gru.h"

#include "kernels.h"

namespace textrnn {

std::vector<at::Tensor> gru_forward(at::Tensor xproj, at::Tensor U, at::Tensor brec, at::Tensor h0) {
  const int64_t batch = xproj.size(0), steps = xproj.size(1), u = U.size(0);
  auto H = at::empty({batch, steps, u}, xproj.options());
  auto G = at::empty({batch, steps, 4 * u}, xproj.options());
#if defined(__AVX512F__)
  if (fast_sequence(xproj, u)) {
    at::parallel_for(0, batch, grain(batch), [&](int64_t b0, int64_t b1) {
      std::vector<float> storage;
      GruForwardF32 f{b0, steps, u, StepInputs{b0, steps, 3 * u, xproj.data_ptr<float>()}, nullptr, nullptr, U.data_ptr<float>(),
                      brec.data_ptr<float>(), h0.data_ptr<float>(), H.data_ptr<float>(), G.data_ptr<float>(),
                      aligned_floats(storage, (b1 - b0) * 6 * u)};
      run_row_blocks(f, b1 - b0, steps, false);
    });
    return {H, G};
  }
#endif
  AT_DISPATCH_FLOATING_TYPES(xproj.scalar_type(), "gru_forward", [&] {
    at::parallel_for(0, batch, grain(batch), [&](int64_t b0, int64_t b1) {
      gru_forward_rows<scalar_t>(b0, b1, steps, u, xproj.data_ptr<scalar_t>(), U.data_ptr<scalar_t>(),
                                 brec.data_ptr<scalar_t>(), h0.data_ptr<scalar_t>(), H.data_ptr<scalar_t>(),
                                 G.data_ptr<scalar_t>());
    });
  });
  return {H, G};
}

// (DX, dU, db_rec, dh0, db_in): DX the input projections' gradients (B, T, 3u), db_in their sum
// over all steps (the input bias gradient). dH may be empty.
std::vector<at::Tensor> gru_backward(at::Tensor dH, at::Tensor dhT, at::Tensor U, at::Tensor h0,
                                     at::Tensor H, at::Tensor G) {
  const int64_t batch = H.size(0), steps = H.size(1), u = U.size(0);
  auto DX = at::empty({batch, steps, 3 * u}, H.options());
  auto DREC = at::empty({batch, steps, 3 * u}, H.options());
  auto dh0 = at::empty({batch, u}, H.options());
  auto UT = U.t().contiguous();
#if defined(__AVX512F__)
  if (fast_sequence(H, u)) {
    const int64_t g = grain(batch), chunks = (batch + g - 1) / g;
    auto sums = at::zeros({chunks, 4 * u}, H.options());  // one per chunk of rows, summed after
    at::parallel_for(0, batch, g, [&](int64_t b0, int64_t b1) {
      std::vector<float> storage;
      float* buf = aligned_floats(storage, (b1 - b0) * 2 * u);
      for (int64_t i = 0; i < b1 - b0; ++i)
        std::copy(dhT.data_ptr<float>() + (b0 + i) * u, dhT.data_ptr<float>() + (b0 + i + 1) * u, buf + i * 2 * u);
      GruBackwardF32 k{b0, steps, u, UT.data_ptr<float>(), h0.data_ptr<float>(), H.data_ptr<float>(),
                       G.data_ptr<float>(), dH.numel() ? dH.data_ptr<float>() : nullptr, DX.data_ptr<float>(),
                       DREC.data_ptr<float>(), sums.data_ptr<float>() + (b0 / g) * 4 * u, buf};
      run_row_blocks(k, b1 - b0, steps, true);
      for (int64_t i = 0; i < b1 - b0; ++i)
        std::copy(buf + i * 2 * u, buf + i * 2 * u + u, dh0.data_ptr<float>() + (b0 + i) * u);
    });
    auto total = sums.sum(0);
    auto dbrec = total.slice(0, 0, 3 * u);
    auto dbin = at::cat({total.slice(0, 0, 2 * u), total.slice(0, 3 * u)});
    return {DX, recurrent_weight_grad(h0, H, DREC), dbrec, dh0, dbin};
  }
#endif
  auto dHz = dH.numel() ? dH : at::zeros_like(H);
  AT_DISPATCH_FLOATING_TYPES(H.scalar_type(), "gru_backward", [&] {
    at::parallel_for(0, batch, grain(batch), [&](int64_t b0, int64_t b1) {
      gru_backward_rows<scalar_t>(b0, b1, steps, u, dHz.data_ptr<scalar_t>(), dhT.data_ptr<scalar_t>(),
                                  UT.data_ptr<scalar_t>(), h0.data_ptr<scalar_t>(), H.data_ptr<scalar_t>(),
                                  G.data_ptr<scalar_t>(), DX.data_ptr<scalar_t>(), DREC.data_ptr<scalar_t>(),
                                  dh0.data_ptr<scalar_t>());
    });
  });
  return {DX, recurrent_weight_grad(h0, H, DREC), DREC.reshape({-1, 3 * u}).sum(0), dh0,
          DX.reshape({-1, 3 * u}).sum(0)};
}

// The GRU layer kernels: as SimpleRNN's (simple_rnn.cpp), with three gates.
// (H, G, XM); G (B, T, 4u) only when keep (training).
std::vector<at::Tensor> gru_layer_forward(at::Tensor x, at::Tensor W, at::Tensor bias, at::Tensor U, at::Tensor brec,
                                          at::Tensor h0, bool keep, at::Tensor xmask, std::vector<at::Tensor> tokens) {
  const RowTokens rt(tokens, x);
  const int64_t batch = rt.batch, steps = rt.steps, in = rt.in, u = U.size(0);
  check_inputs("gru_layer_forward", x, u, xmask, rt);
  auto H = at::empty({batch, steps, u}, x.options());
  auto G = keep ? at::empty({batch, steps, 4 * u}, x.options()) : at::empty({0}, x.options());
  auto XM = keep && xmask.numel() && !rt.on() ? at::empty_like(x) : at::empty({0}, x.options());
  const bool in_loop = !rt.on() && project_in_loop(in, u, 3);
  auto proj = in_loop || rt.on() ? at::Tensor() : project(x, W, bias, xmask, XM);
#if defined(__AVX512F__)
  at::parallel_for(0, batch, grain(batch), [&](int64_t b0, int64_t b1) {
    std::vector<float> storage, xstorage;
    GruForwardF32 f{b0, steps, u, any_inputs(rt, in_loop, x, W, bias, xmask, XM, proj, b0, b1, xstorage),
                    in_loop ? W.data_ptr<float>() : nullptr,
                    in_loop && bias.numel() ? bias.data_ptr<float>() : nullptr, U.data_ptr<float>(),
                    brec.data_ptr<float>(), h0.data_ptr<float>(), H.data_ptr<float>(),
                    keep ? G.data_ptr<float>() : nullptr, aligned_floats(storage, (b1 - b0) * 6 * u)};
    run_row_blocks(f, b1 - b0, steps, false);
  });
#endif
  return {H, G, XM};
}

// (dx, dW, db_in, dU, db_rec, dh0). x: the inputs as the projection saw them (XM with a mask);
// token mode (x the distinct tokens' rows, inv) as in lstm_layer_backward.
std::vector<at::Tensor> gru_layer_backward(at::Tensor x, at::Tensor W, at::Tensor U, at::Tensor h0, at::Tensor H,
                                           at::Tensor G, at::Tensor dH, at::Tensor dhT, at::Tensor xmask,
                                           at::Tensor inv, std::vector<at::Tensor> tokens) {
  const int64_t batch = H.size(0), steps = H.size(1), u = U.size(0), n = 3 * u;
  const RowTokens rt(tokens, inv.numel() ? H : x);
  check_backward("gru_layer_backward", x, u, xmask, H, inv, rt);
  LayerBackwardArrays a(x, W, U, H, n, inv.numel() > 0, rt);
#if defined(__AVX512F__)
  const LayerGrads out = layer_grads(x, a.WT, xmask, H, h0, a.DX, inv, rt);
  at::parallel_for(0, batch, a.sums.chunk_rows, [&](int64_t b0, int64_t b1) {
    // per block of rows, as in rnn_layer_backward: DXP and DREC (the gradients of the input and
    // recurrent projections) of the block's rows only
    std::vector<float> storage;
    const int64_t block_floats = std::min(b1 - b0, kRowBlock) * steps * n;
    float* buf = aligned_floats(storage, (b1 - b0) * 2 * u + 2 * block_floats);
    float* DXP = buf + (b1 - b0) * 2 * u;
    float* DREC = DXP + block_floats;
    for (int64_t i = 0; i < b1 - b0; ++i)
      std::copy(dhT.data_ptr<float>() + (b0 + i) * u, dhT.data_ptr<float>() + (b0 + i + 1) * u, buf + i * 2 * u);
    for (int64_t first = b0; first < b1; first += kRowBlock) {
      const int64_t end = std::min(b1, first + kRowBlock);
      GruBackwardF32 k{first, steps, u, a.UT.data_ptr<float>(), out.h0, out.H, G.data_ptr<float>(),
                       dH.numel() ? dH.data_ptr<float>() : nullptr, DXP, DREC, nullptr, buf + (first - b0) * 2 * u,
                       first};
      run_row_blocks(k, end - first, steps, true);
      for (int64_t b = first; b < end; ++b) {
        const float* DI = DXP + (b - first) * steps * n;
        const float* DR = DREC + (b - first) * steps * n;
        out.row(b, DI, DR, n, 0, steps, a.sums.dW(b0), a.sums.db_in(b0), a.sums.dU(b0));
        add_rows(a.sums.db_rec(b0), DR, n, n, steps);
      }
    }
    for (int64_t i = 0; i < b1 - b0; ++i)
      std::copy(buf + i * 2 * u, buf + i * 2 * u + u, a.dh0.data_ptr<float>() + (b0 + i) * u);
  });
#endif
  auto grads = a.sums.total();
  if (inv.numel()) std::tie(a.DX, grads[0]) = token_grads(x, a.WT, grads[0]);
  return {a.DX, grads[0], grads[2], grads[1], grads[3], a.dh0};
}

}  // namespace textrnn
