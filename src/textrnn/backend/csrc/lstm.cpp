// The LSTM's entry points: the sequence kernels (from input projections made by one GEMM first)
// and the whole-layer kernels (projection and dropout mask inside the time loop), forward and
// backward side by side.
#include "lstm.h"

#include "kernels.h"

namespace textrnn {

std::vector<at::Tensor> lstm_forward(at::Tensor xproj, at::Tensor U, at::Tensor h0, at::Tensor c0) {
  const int64_t batch = xproj.size(0), steps = xproj.size(1), u = U.size(0);
  auto H = at::empty({batch, steps, u}, xproj.options());
  auto C = at::empty({batch, steps, u}, xproj.options());
  auto G = at::empty({batch, steps, 4 * u}, xproj.options());
#if defined(__AVX512F__)
  if (xproj.scalar_type() == at::kFloat && fast_shape(u)) {
    const float *xp = xproj.data_ptr<float>(), *Up = U.data_ptr<float>(), *h0p = h0.data_ptr<float>(),
                *c0p = c0.data_ptr<float>();
    float *Hp = H.data_ptr<float>(), *Cp = C.data_ptr<float>(), *Gp = G.data_ptr<float>();
    at::parallel_for(0, batch, grain(batch), [&](int64_t b0, int64_t b1) {
      int64_t b = b0;
      for (; b + 2 <= b1; b += 2) lstm_forward_f32<2>(b, steps, u, xp, Up, h0p, c0p, Hp, Cp, Gp);
      if (b < b1) lstm_forward_f32<1>(b, steps, u, xp, Up, h0p, c0p, Hp, Cp, Gp);
    });
    return {H, C, G};
  }
#endif
  AT_DISPATCH_FLOATING_TYPES(xproj.scalar_type(), "lstm_forward", [&] {
    at::parallel_for(0, batch, grain(batch), [&](int64_t b0, int64_t b1) {
      forward_rows<scalar_t>(b0, b1, steps, u, xproj.data_ptr<scalar_t>(), U.data_ptr<scalar_t>(),
                             h0.data_ptr<scalar_t>(), c0.data_ptr<scalar_t>(), H.data_ptr<scalar_t>(),
                             C.data_ptr<scalar_t>(), G.data_ptr<scalar_t>());
    });
  });
  return {H, C, G};
}

std::vector<at::Tensor> lstm_backward(at::Tensor dH, at::Tensor dhT, at::Tensor dcT, at::Tensor U,
                                      at::Tensor c0, at::Tensor C, at::Tensor G) {
  const int64_t batch = G.size(0), steps = G.size(1), u = U.size(0);
  auto DG = at::empty_like(G);
  auto UT = U.t().contiguous();  // (4u, u): rows read contiguously in the backward loop
  auto dh0 = at::empty({batch, u}, G.options());
  auto dc0 = at::empty({batch, u}, G.options());
#if defined(__AVX512F__)
  if (G.scalar_type() == at::kFloat && fast_shape(u)) {
    const float *dHp = dH.data_ptr<float>(), *dhTp = dhT.data_ptr<float>(), *dcTp = dcT.data_ptr<float>(),
                *UTp = UT.data_ptr<float>(), *c0p = c0.data_ptr<float>(), *Cp = C.data_ptr<float>(),
                *Gp = G.data_ptr<float>();
    float *DGp = DG.data_ptr<float>(), *dh0p = dh0.data_ptr<float>(), *dc0p = dc0.data_ptr<float>();
    at::parallel_for(0, batch, grain(batch), [&](int64_t b0, int64_t b1) {
      int64_t b = b0;
      for (; b + 2 <= b1; b += 2)
        lstm_backward_f32<2>(b, steps, u, dHp, dhTp, dcTp, UTp, c0p, Cp, Gp, DGp, dh0p, dc0p);
      if (b < b1) lstm_backward_f32<1>(b, steps, u, dHp, dhTp, dcTp, UTp, c0p, Cp, Gp, DGp, dh0p, dc0p);
    });
    return {DG, dh0, dc0};
  }
#endif
  AT_DISPATCH_FLOATING_TYPES(G.scalar_type(), "lstm_backward", [&] {
    at::parallel_for(0, batch, grain(batch), [&](int64_t b0, int64_t b1) {
      backward_rows<scalar_t>(b0, b1, steps, u, dH.data_ptr<scalar_t>(), dhT.data_ptr<scalar_t>(),
                              dcT.data_ptr<scalar_t>(), UT.data_ptr<scalar_t>(), c0.data_ptr<scalar_t>(),
                              C.data_ptr<scalar_t>(), G.data_ptr<scalar_t>(), DG.data_ptr<scalar_t>(),
                              dh0.data_ptr<scalar_t>(), dc0.data_ptr<scalar_t>());
    });
  });
  return {DG, dh0, dc0};
}

// A whole LSTM layer from its inputs x (B, T, in), W (in, 4u), bias (4u) or empty, U (u, 4u):
// (H, h_T, c_T, C, G); with keep = false (inference) C and G are empty. float32, fast_layer() only.
// starts / ends (int64 (B,), or empty: all steps): each row runs only its steps [start, end), from
// the initial state; H is zero outside them and h_T, c_T are the states after the row's last step.
// xmask (B, in) or empty: Keras's input dropout mask (0 or 1 / (1 - rate)), applied to x_t inside
// the time loop; training with it also returns XM, the masked inputs (else XM is empty).
// tokens ({tok, pos, counts} from row_tokens, or empty): row-token mode, x is the embedding table
// (V, in) and each row's steps read the projections of its own distinct tokens, made per block
// of rows in the loop (no XM: the backward gathers those few rows again).
std::vector<at::Tensor> lstm_layer_forward(at::Tensor x, at::Tensor W, at::Tensor bias, at::Tensor U,
                                           at::Tensor h0, at::Tensor c0, bool keep, at::Tensor starts,
                                           at::Tensor ends, at::Tensor xmask, std::vector<at::Tensor> tokens) {
  const RowTokens rt(tokens, x);
  const int64_t batch = rt.batch, steps = rt.steps, in = rt.in, u = U.size(0);
  check_inputs("lstm_layer_forward", x, u, xmask, rt);
  auto H = at::empty({batch, steps, u}, x.options());
  auto hT = at::empty({batch, u}, x.options());
  auto cT = at::empty({batch, u}, x.options());
  auto C = keep ? at::empty({batch, steps, u}, x.options()) : at::empty({0}, x.options());
  auto G = keep ? at::empty({batch, steps, 4 * u}, x.options()) : at::empty({0}, x.options());
  // Training with a dropout mask: the masked inputs, which backward needs for dW (written here as
  // the loop makes them, instead of a separate x * mask pass there).
  auto XM = keep && xmask.numel() && !rt.on() ? at::empty_like(x) : at::empty({0}, x.options());
  const bool in_loop = !rt.on() && project_in_loop(in, u, 4);
  auto proj = in_loop || rt.on() ? at::Tensor() : project(x, W, bias, xmask, XM);
#if defined(__AVX512F__)
  const float* bp = bias.numel() ? bias.data_ptr<float>() : nullptr;
  const int64_t* sp = starts.numel() ? starts.data_ptr<int64_t>() : nullptr;
  const int64_t* ep = starts.numel() ? ends.data_ptr<int64_t>() : nullptr;
  at::parallel_for(0, batch, grain(batch), [&](int64_t b0, int64_t b1) {
    std::vector<float> storage;
    LstmLayerForward{b0, b1 - b0, steps, u, any_inputs(rt, in_loop, x, W, bias, xmask, XM, proj, b0, b1, storage),
                     in_loop ? W.data_ptr<float>() : nullptr, bp, U.data_ptr<float>(),
                     h0.data_ptr<float>(), c0.data_ptr<float>(), H.data_ptr<float>(), hT.data_ptr<float>(),
                     cT.data_ptr<float>(), keep ? C.data_ptr<float>() : nullptr, keep ? G.data_ptr<float>() : nullptr,
                     sp, ep}.run();
  });
#endif
  return {H, hT, cT, C, G, XM};
}

// Its backward: (dx, dW, dU, db, dh0, dc0). x: the inputs as the projection saw them (the forward's
// XM when there was a dropout mask); xmask: that mask, for dx. Token mode (inv (B, T) int64: the
// forward read row inv[b, t] of the distinct tokens' projections, token_layer_forward): x holds
// the distinct tokens' rows (distinct, in), and dx is the gradient into them. Row-token mode
// (tokens as in the forward, x the table): dx[b, j] is the gradient into row b's j-th distinct
// token (j < counts[b]; the rest unset), for row_tokens_grad.
std::vector<at::Tensor> lstm_layer_backward(at::Tensor x, at::Tensor W, at::Tensor U, at::Tensor h0,
                                            at::Tensor c0, at::Tensor H, at::Tensor C, at::Tensor G,
                                            at::Tensor dH, at::Tensor dhT, at::Tensor dcT, at::Tensor starts,
                                            at::Tensor ends, at::Tensor xmask, at::Tensor inv,
                                            std::vector<at::Tensor> tokens) {
  const int64_t batch = H.size(0), steps = H.size(1), u = U.size(0);
  const RowTokens rt(tokens, inv.numel() ? H : x);
  check_backward("lstm_layer_backward", x, u, xmask, H, inv, rt);
  LayerBackwardArrays a(x, W, U, H, 4 * u, inv.numel() > 0, rt);
  auto dc0 = at::empty({batch, u}, H.options());
#if defined(__AVX512F__)
  const LayerGrads out = layer_grads(x, a.WT, xmask, H, h0, a.DX, inv, rt);
  const float *UTp = a.UT.data_ptr<float>(), *h0p = h0.data_ptr<float>(), *c0p = c0.data_ptr<float>(),
              *Hp = H.data_ptr<float>(), *Cp = C.data_ptr<float>(), *Gp = G.data_ptr<float>(),
              *dHp = dH.numel() ? dH.data_ptr<float>() : nullptr, *dhTp = dhT.data_ptr<float>(),
              *dcTp = dcT.data_ptr<float>();
  float *dh0p = a.dh0.data_ptr<float>(), *dc0p = dc0.data_ptr<float>();
  const int64_t* sp = starts.numel() ? starts.data_ptr<int64_t>() : nullptr;
  const int64_t* ep = starts.numel() ? ends.data_ptr<int64_t>() : nullptr;
  at::parallel_for(0, batch, a.sums.chunk_rows, [&](int64_t b0, int64_t b1) {
    LstmLayerBackward{b0, b1 - b0, steps, u, out, UTp, h0p, c0p, Hp, Cp, Gp, dHp, dhTp, dcTp, a.sums.dW(b0),
                      a.sums.dU(b0), a.sums.db_in(b0), dh0p, dc0p, sp, ep}.run();
  });
#endif
  auto grads = a.sums.total();  // dW, dU, db (the LSTM has one bias: db_in)
  if (inv.numel()) std::tie(a.DX, grads[0]) = token_grads(x, a.WT, grads[0]);
  return {a.DX, grads[0], grads[1], grads[2], a.dh0, dc0};
}

}  // namespace textrnn
