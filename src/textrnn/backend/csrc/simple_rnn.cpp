// SimpleRNN (tanh)'s entry points: the sequence kernels and the whole-layer kernels.
#include "simple_rnn.h"

#include "kernels.h"

namespace textrnn {

std::vector<at::Tensor> rnn_forward(at::Tensor xproj, at::Tensor U, at::Tensor h0) {
  const int64_t batch = xproj.size(0), steps = xproj.size(1), u = U.size(0);
  auto H = at::empty({batch, steps, u}, xproj.options());
#if defined(__AVX512F__)
  if (fast_sequence(xproj, u)) {
    at::parallel_for(0, batch, grain(batch), [&](int64_t b0, int64_t b1) {
      RnnForwardF32 f{b0, steps, u, StepInputs{b0, steps, u, xproj.data_ptr<float>()}, nullptr, nullptr, U.data_ptr<float>(),
                      h0.data_ptr<float>(), H.data_ptr<float>()};
      run_row_blocks(f, b1 - b0, steps, false);
    });
    return {H};
  }
#endif
  AT_DISPATCH_FLOATING_TYPES(xproj.scalar_type(), "rnn_forward", [&] {
    at::parallel_for(0, batch, grain(batch), [&](int64_t b0, int64_t b1) {
      rnn_forward_rows<scalar_t>(b0, b1, steps, u, xproj.data_ptr<scalar_t>(), U.data_ptr<scalar_t>(),
                                 h0.data_ptr<scalar_t>(), H.data_ptr<scalar_t>());
    });
  });
  return {H};
}

// (DP, dU, dh0): DP the pre-activation gradients (B, T, u). dH may be empty: no gradient into H.
std::vector<at::Tensor> rnn_backward(at::Tensor dH, at::Tensor dhT, at::Tensor U, at::Tensor h0, at::Tensor H) {
  const int64_t batch = H.size(0), steps = H.size(1), u = U.size(0);
  auto DP = at::empty_like(H);
  auto dh0 = at::empty({batch, u}, H.options());
  auto UT = U.t().contiguous();
#if defined(__AVX512F__)
  if (fast_sequence(H, u)) {
    at::parallel_for(0, batch, grain(batch), [&](int64_t b0, int64_t b1) {
      std::vector<float> storage;
      float* dh = aligned_floats(storage, (b1 - b0) * u);
      std::copy(dhT.data_ptr<float>() + b0 * u, dhT.data_ptr<float>() + b1 * u, dh);
      RnnBackwardF32 k{b0, steps, u, UT.data_ptr<float>(), H.data_ptr<float>(),
                       dH.numel() ? dH.data_ptr<float>() : nullptr, DP.data_ptr<float>(), dh};
      run_row_blocks(k, b1 - b0, steps, true);
      std::copy(dh, dh + (b1 - b0) * u, dh0.data_ptr<float>() + b0 * u);
    });
    return {DP, recurrent_weight_grad(h0, H, DP), dh0};
  }
#endif
  auto dHz = dH.numel() ? dH : at::zeros_like(H);
  AT_DISPATCH_FLOATING_TYPES(H.scalar_type(), "rnn_backward", [&] {
    at::parallel_for(0, batch, grain(batch), [&](int64_t b0, int64_t b1) {
      rnn_backward_rows<scalar_t>(b0, b1, steps, u, dHz.data_ptr<scalar_t>(), dhT.data_ptr<scalar_t>(),
                                  UT.data_ptr<scalar_t>(), H.data_ptr<scalar_t>(), DP.data_ptr<scalar_t>(),
                                  dh0.data_ptr<scalar_t>());
    });
  });
  return {DP, recurrent_weight_grad(h0, H, DP), dh0};
}

// ---- SimpleRNN and GRU layers from their inputs (float32, fast_layer() only) ----------------------
// As lstm_layer_forward / backward: x (B, T, in), W (in, G u), input bias (G u) or empty, U (u, G u);
// xmask (B, in) or empty: Keras's input dropout mask, applied inside the loop (training keeps the
// masked inputs XM for dW). The projection x_t @ W runs in the loop while W and U fit in L1 with
// room to spare, else it is one GEMM first (as the LSTM's). Backward runs the sequence kernels'
// time loop one block of rows at a time; as each block finishes, its steps go into dx, dW, dU and
// the bias gradients (inside the loop, dx as one small matvec per step was no faster).

// (H, XM)
std::vector<at::Tensor> rnn_layer_forward(at::Tensor x, at::Tensor W, at::Tensor bias, at::Tensor U, at::Tensor h0,
                                          bool keep, at::Tensor xmask, std::vector<at::Tensor> tokens) {
  const RowTokens rt(tokens, x);
  const int64_t batch = rt.batch, steps = rt.steps, in = rt.in, u = U.size(0);
  check_inputs("rnn_layer_forward", x, u, xmask, rt);
  auto H = at::empty({batch, steps, u}, x.options());
  auto XM = keep && xmask.numel() && !rt.on() ? at::empty_like(x) : at::empty({0}, x.options());
  const bool in_loop = !rt.on() && project_in_loop(in, u, 1);
  auto proj = in_loop || rt.on() ? at::Tensor() : project(x, W, bias, xmask, XM);
#if defined(__AVX512F__)
  at::parallel_for(0, batch, grain(batch), [&](int64_t b0, int64_t b1) {
    std::vector<float> storage;
    RnnForwardF32 f{b0, steps, u, any_inputs(rt, in_loop, x, W, bias, xmask, XM, proj, b0, b1, storage),
                    in_loop ? W.data_ptr<float>() : nullptr,
                    in_loop && bias.numel() ? bias.data_ptr<float>() : nullptr, U.data_ptr<float>(),
                    h0.data_ptr<float>(), H.data_ptr<float>()};
    run_row_blocks(f, b1 - b0, steps, false);
  });
#endif
  return {H, XM};
}

// (dx, dW, db, dU, dh0). x: the inputs as the projection saw them (the forward's XM with a mask);
// token mode (x the distinct tokens' rows, inv) as in lstm_layer_backward.
std::vector<at::Tensor> rnn_layer_backward(at::Tensor x, at::Tensor W, at::Tensor U, at::Tensor h0, at::Tensor H,
                                           at::Tensor dH, at::Tensor dhT, at::Tensor xmask, at::Tensor inv,
                                           std::vector<at::Tensor> tokens) {
  const int64_t batch = H.size(0), steps = H.size(1), u = U.size(0);
  const RowTokens rt(tokens, inv.numel() ? H : x);
  check_backward("rnn_layer_backward", x, u, xmask, H, inv, rt);
  LayerBackwardArrays a(x, W, U, H, u, inv.numel() > 0, rt);
#if defined(__AVX512F__)
  const LayerGrads out = layer_grads(x, a.WT, xmask, H, h0, a.DX, inv, rt);
  at::parallel_for(0, batch, a.sums.chunk_rows, [&](int64_t b0, int64_t b1) {
    // per block of rows: the time loop into DP (the pre-activation gradients of the block's rows,
    // kept in L2), then dx and the weight gradients from it
    std::vector<float> storage;
    float* dh = aligned_floats(storage, (b1 - b0) * u + std::min(b1 - b0, kRowBlock) * steps * u);
    float* DP = dh + (b1 - b0) * u;
    std::copy(dhT.data_ptr<float>() + b0 * u, dhT.data_ptr<float>() + b1 * u, dh);
    for (int64_t first = b0; first < b1; first += kRowBlock) {
      const int64_t end = std::min(b1, first + kRowBlock);
      RnnBackwardF32 k{first, steps, u, a.UT.data_ptr<float>(), out.H, dH.numel() ? dH.data_ptr<float>() : nullptr,
                       DP, dh + (first - b0) * u, first};
      run_row_blocks(k, end - first, steps, true);
      for (int64_t b = first; b < end; ++b) {
        const float* D = DP + (b - first) * steps * u;
        out.row(b, D, D, u, 0, steps, a.sums.dW(b0), a.sums.db_in(b0), a.sums.dU(b0));
      }
    }
    std::copy(dh, dh + (b1 - b0) * u, a.dh0.data_ptr<float>() + b0 * u);
  });
#endif
  auto grads = a.sums.total();
  if (inv.numel()) std::tie(a.DX, grads[0]) = token_grads(x, a.WT, grads[0]);
  return {a.DX, grads[0], grads[2], grads[1], a.dh0};
}

}  // namespace textrnn
