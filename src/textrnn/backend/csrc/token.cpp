// Token mode: a layer read from token ids through a table of input projections (inference, and
// the direct step's first layer), and the small GEMMs over a batch's distinct tokens.
#include <string>

#include "gru.h"
#include "kernels.h"
#include "lstm.h"
#include "simple_rnn.h"

namespace textrnn {

namespace {
#if defined(__AVX512F__)
// A (M x K) @ B (K x N) (+ bias (N) when not empty), N % 16 == 0: eight rows of A per pass over B
// (each load of B feeds eight FMAs), the rows split over the threads. For the few-thousand-row,
// 32-column products of token mode, where a BLAS call took 40-60 us and this ~4x less.
at::Tensor rows_matmul(const at::Tensor& A, const at::Tensor& B, const at::Tensor& bias) {
  const int64_t M = A.size(0), K = A.size(1), N = B.size(1);
  auto out = at::empty({M, N}, A.options());
  const float *a = A.data_ptr<float>(), *b = B.data_ptr<float>(), *bp = bias.numel() ? bias.data_ptr<float>() : nullptr;
  float* o = out.data_ptr<float>();
  at::parallel_for(0, M, 128, [&](int64_t m0, int64_t m1) {
    project_rows(o + m0 * N, N, a + m0 * K, K, m1 - m0, K, b, N, bp);
  });
  return out;
}

// A^T @ D for A (M x K), D (M x N), K % 8 == 0, N % 16 == 0: per-thread sums of the rows' outer
// products (add_outer_steps), then one sum over the threads.
at::Tensor rows_outer(const at::Tensor& A, const at::Tensor& D) {
  const int64_t M = A.size(0), K = A.size(1), N = D.size(1);
  const int64_t chunk = std::max<int64_t>(64, grain(M));
  auto partial = at::zeros({(M + chunk - 1) / chunk, K, N}, A.options());
  const float *a = A.data_ptr<float>(), *d = D.data_ptr<float>();
  at::parallel_for(0, M, chunk, [&](int64_t m0, int64_t m1) {
    add_outer_steps(partial.data_ptr<float>() + (m0 / chunk) * K * N, a + m0 * K, K, K, d + m0 * N, N, N, m1 - m0);
  });
  return partial.sum(0);
}

#endif
}  // namespace

// Token mode's (dx, dW) from each distinct token's summed input-projection gradients Gc
// (distinct, n): the gradient into the tokens' rows Gc @ W^T and dW = rows^T @ Gc.
std::pair<at::Tensor, at::Tensor> token_grads(const at::Tensor& rows, const at::Tensor& WT, const at::Tensor& Gc) {
#if defined(__AVX512F__)
  return {rows_matmul(Gc, WT, at::Tensor()), rows_outer(rows, Gc)};
#else
  TORCH_CHECK(false, "token mode needs the AVX-512 layer kernels");
#endif
}

// A layer from token ids. When a layer's inputs are an embedding's rows, the projection
// x_t @ W + b of every vocabulary entry can be made once (table = embeddings @ W + b, (V, G*u),
// remade by the caller whenever a weight changes): each step then reads row ids[b, t] of the
// table instead of multiplying, which takes away the layer's input matmul (half of a 32-unit
// layer's forward arithmetic) and the embedding lookup. Dropout is off at inference, so the
// outputs are the layer's on the looked-up inputs (to float rounding: the sums run in another
// order). cell "lstm" (starts / ends as in lstm_layer_forward), "rnn_tanh" or "gru" (brec: its
// recurrent bias); float32, sizes % 16. Returns (H, h_T, c_T, C, G); c_T is empty but for the
// LSTM; C (LSTM) and G (LSTM, GRU) are what the layer backwards need, kept when `keep`: training
// takes this path too when the first layer has no input dropout (direct_step.py; the table then
// holds the projections of the batch's distinct tokens only, and ids are their positions).
std::vector<at::Tensor> token_layer_forward(const std::string& cell, at::Tensor ids, at::Tensor table, at::Tensor U,
                                            at::Tensor brec, at::Tensor h0, at::Tensor c0, at::Tensor starts,
                                            at::Tensor ends, bool keep) {
  const int64_t gates = cell == "lstm" ? 4 : cell == "gru" ? 3 : 1, u = U.size(0);
  TORCH_CHECK(cell == "lstm" || cell == "gru" || cell == "rnn_tanh", "token_layer_forward: unknown cell ", cell);
  TORCH_CHECK(ids.dim() == 2 && ids.scalar_type() == at::kLong && ids.is_contiguous(),
              "token_layer_forward: ids must be contiguous int64 (batch, steps)");
  TORCH_CHECK(table.dim() == 2 && table.size(1) == gates * u && table.scalar_type() == at::kFloat &&
                  table.is_contiguous() && U.size(1) == gates * u && fast_layer(16, u),
              "token_layer_forward: table (vocabulary, gates * units) float32, units % 16");
  if (ids.numel()) {
    const auto [low, high] = at::aminmax(ids);
    TORCH_CHECK(low.item<int64_t>() >= 0 && high.item<int64_t>() < table.size(0),
                "token_layer_forward: ids outside the table");
  }
  const int64_t batch = ids.size(0), steps = ids.size(1);
  auto options = table.options();
  auto H = at::empty({batch, steps, u}, options);
  auto hT = at::empty({batch, u}, options);
  auto cT = cell == "lstm" ? at::empty({batch, u}, options) : at::empty({0}, options);
  auto C = keep && cell == "lstm" ? at::empty({batch, steps, u}, options) : at::empty({0}, options);
  auto G = keep && cell != "rnn_tanh" ? at::empty({batch, steps, 4 * u}, options) : at::empty({0}, options);
  float* Cp = C.numel() ? C.data_ptr<float>() : nullptr;
  float* Gp = G.numel() ? G.data_ptr<float>() : nullptr;
#if defined(__AVX512F__)
  const int64_t* sp = starts.numel() ? starts.data_ptr<int64_t>() : nullptr;
  const int64_t* ep = starts.numel() ? ends.data_ptr<int64_t>() : nullptr;
  at::parallel_for(0, batch, grain(batch), [&](int64_t b0, int64_t b1) {
    StepInputs xin{b0, steps, gates * u, table.data_ptr<float>()};
    xin.ids = ids.data_ptr<int64_t>();
    if (cell == "lstm") {
      LstmLayerForward{b0, b1 - b0, steps, u, xin, nullptr, nullptr, U.data_ptr<float>(), h0.data_ptr<float>(),
                       c0.data_ptr<float>(), H.data_ptr<float>(), hT.data_ptr<float>(), cT.data_ptr<float>(),
                       Cp, Gp, sp, ep}.run();
    } else if (cell == "gru") {
      std::vector<float> storage;
      GruForwardF32 f{b0, steps, u, xin, nullptr, nullptr, U.data_ptr<float>(), brec.data_ptr<float>(),
                      h0.data_ptr<float>(), H.data_ptr<float>(), Gp, aligned_floats(storage, (b1 - b0) * 6 * u)};
      run_row_blocks(f, b1 - b0, steps, false);
    } else {
      RnnForwardF32 f{b0, steps, u, xin, nullptr, nullptr, U.data_ptr<float>(), h0.data_ptr<float>(), H.data_ptr<float>()};
      run_row_blocks(f, b1 - b0, steps, false);
    }
  });
#endif
  if (cell != "lstm") hT.copy_(steps ? H.select(1, steps - 1) : h0);
  return {H, hT, cT, C, G};
}

// rows @ W + bias (bias empty: none) for token mode's projections of the distinct tokens' rows
// (distinct, in); float32, sizes % 16.
at::Tensor token_projection(at::Tensor rows, at::Tensor W, at::Tensor bias) {
  TORCH_CHECK(rows.dim() == 2 && W.dim() == 2 && rows.size(1) == W.size(0) && rows.scalar_type() == at::kFloat &&
                  W.scalar_type() == at::kFloat && rows.size(1) % 16 == 0 && W.size(1) % 16 == 0 &&
                  (bias.numel() == 0 || bias.numel() == W.size(1)),
              "token_projection: rows (distinct, in) @ W (in, n) + bias (n), float32, sizes % 16");
#if defined(__AVX512F__)
  return rows_matmul(rows.contiguous(), W.contiguous(), bias.numel() ? bias.contiguous() : bias);
#else
  return bias.numel() ? at::addmm(bias, rows, W) : at::mm(rows, W);
#endif
}

}  // namespace textrnn
