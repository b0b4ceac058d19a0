// What every kernel file shares, free of SIMD: row-token mode's arrays, the scalar gate math and
// matvecs of the generic (any dtype) paths, the per-thread weight-gradient sums, the layer
// kernels' input checks, and which path a size takes (fast_layer, fast_sequence).
// Batch rows are independent, so each thread owns a block of rows for the whole sequence
// (at::parallel_for: torch's own thread pool) and there is no per-step sync.
#pragma once
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

namespace textrnn {
namespace {  // internal to each file that includes it, as helpers of one file are

// Row-token mode's arrays ({tok, pos, counts} from row_tokens; empty: off) and the layer's shape:
// from x (B, T, in), or in row-token mode from tok (B, T) and the embedding table x (V, in).
struct RowTokens {
  const int64_t *tok = nullptr, *pos = nullptr, *counts = nullptr;
  int64_t batch, steps, in;

  RowTokens(const std::vector<at::Tensor>& t, const at::Tensor& x)
      : batch(t.empty() ? x.size(0) : t[0].size(0)), steps(t.empty() ? x.size(1) : t[0].size(1)),
        in(t.empty() ? x.size(2) : x.size(1)) {
    if (t.empty()) return;
    TORCH_CHECK(t.size() == 3 && t[0].dim() == 2 && t[1].sizes() == t[0].sizes() && t[2].dim() == 1 &&
                    t[2].size(0) == batch,
                "row tokens: (tok, pos) (batch, steps) and counts (batch,)");
    for (const auto& a : t)
      TORCH_CHECK(a.scalar_type() == at::kLong && a.is_contiguous(), "row tokens: contiguous int64");
    TORCH_CHECK(x.dim() == 2 && x.is_contiguous(), "row tokens: x is the embedding table (rows, in)");
    tok = t[0].data_ptr<int64_t>();
    pos = t[1].data_ptr<int64_t>();
    counts = t[2].data_ptr<int64_t>();
  }
  bool on() const { return tok != nullptr; }
};

constexpr int64_t kBlock = 64;  // forward: gate columns summed in registers at once (4 AVX-512 vectors)
constexpr int64_t kSum = 16;    // backward: state dims summed in registers at once
constexpr int64_t kSmall = 32;  // SimpleRNN forward: state dims summed in registers at once

template <typename T>
inline T sigmoid(T x) {
  x = x < T(-80) ? T(-80) : (x > T(80) ? T(80) : x);  // exp stays finite under -ffast-math
  return T(1) / (T(1) + std::exp(-x));
}

template <typename T>
inline T tanh_(T x) { return T(2) * sigmoid(T(2) * x) - T(1); }

// out[j] = init[j] + sum_k h[k] * U[k * cols + j], j < cols: columns in blocks of W whose sums stay
// in registers across the k loop (no load/store chain through memory), leftovers one by one.
template <typename T, int64_t W>
inline void add_matvec(const T* init, const T* h, const T* U, int64_t rows, int64_t cols, T* out) {
  int64_t jb = 0;
  for (; jb + W <= cols; jb += W) {
    T acc[W];
#pragma omp simd
    for (int64_t j = 0; j < W; ++j) acc[j] = init[jb + j];
    for (int64_t k = 0; k < rows; ++k) {
      const T hk = h[k];
      const T* Uk = U + k * cols + jb;
#pragma omp simd
      for (int64_t j = 0; j < W; ++j) acc[j] += hk * Uk[j];
    }
#pragma omp simd
    for (int64_t j = 0; j < W; ++j) out[jb + j] = acc[j];
  }
  for (; jb < cols; ++jb) {
    T a = init[jb];
    for (int64_t k = 0; k < rows; ++k) a += h[k] * U[k * cols + jb];
    out[jb] = a;
  }
}

// out[k] = base[k] (or 0) + sum_j d[j] * UT[j * u + k], k < u, with UT = U^T of shape (n, u):
// rows of U^T scaled and summed in blocks of kSum, four partial sums so additions do not wait.
template <typename T>
inline void add_matvec_t(const T* base, const T* d, const T* UT, int64_t n, int64_t u, T* out) {
  int64_t kb = 0;
  for (; kb + kSum <= u; kb += kSum) {
    T a0[kSum] = {}, a1[kSum] = {}, a2[kSum] = {}, a3[kSum] = {};
    int64_t j = 0;
    for (; j + 4 <= n; j += 4) {
      const T* r = UT + j * u + kb;
#pragma omp simd
      for (int64_t k = 0; k < kSum; ++k) {
        a0[k] += d[j] * r[k];
        a1[k] += d[j + 1] * r[u + k];
        a2[k] += d[j + 2] * r[2 * u + k];
        a3[k] += d[j + 3] * r[3 * u + k];
      }
    }
    for (; j < n; ++j) {
#pragma omp simd
      for (int64_t k = 0; k < kSum; ++k) a0[k] += d[j] * UT[j * u + kb + k];
    }
#pragma omp simd
    for (int64_t k = 0; k < kSum; ++k) out[kb + k] = (base ? base[kb + k] : T(0)) + (a0[k] + a1[k]) + (a2[k] + a3[k]);
  }
  for (; kb < u; ++kb) {
    T a = base ? base[kb] : T(0);
    for (int64_t j = 0; j < n; ++j) a += d[j] * UT[j * u + kb];
    out[kb] = a;
  }
}

// Whether u suits the float32 vector paths (whole AVX-512 vectors of 16 floats).
inline bool fast_shape(int64_t u) { return u % 16 == 0; }

// Whether the fused float32 layer kernels run for these sizes on this machine.
inline bool fast_layer(int64_t in, int64_t u) {
#if defined(__AVX512F__)
  return u % 16 == 0 && in % 16 == 0;
#else
  return false;
#endif
}

inline int64_t grain(int64_t batch) {
  const int64_t threads = at::get_num_threads();
  return std::max<int64_t>(1, (batch + threads - 1) / threads);
}

// The per-thread sums of a layer's weight and bias gradients, one chunk of rows each: dW (in x N),
// dU (u x N), db_in (N), db_rec (N), summed over chunks by total().
struct WeightGradSums {
  int64_t in, u, n, chunk_rows;
  at::Tensor acc;

  WeightGradSums(int64_t in_, int64_t u_, int64_t n_, int64_t batch, const at::TensorOptions& options)
      : in(in_), u(u_), n(n_), chunk_rows(grain(batch)),
        acc(at::zeros({(batch + chunk_rows - 1) / chunk_rows, (in + u + 2) * n}, options)) {}
  float* dW(int64_t b0) { return acc.data_ptr<float>() + (b0 / chunk_rows) * acc.size(1); }
  float* dU(int64_t b0) { return dW(b0) + in * n; }
  float* db_in(int64_t b0) { return dU(b0) + u * n; }
  float* db_rec(int64_t b0) { return db_in(b0) + n; }
  // (dW, dU, db_in, db_rec)
  std::vector<at::Tensor> total() const {
    auto t = acc.sum(0);
    return {t.slice(0, 0, in * n).view({in, n}), t.slice(0, in * n, (in + u) * n).view({u, n}),
            t.slice(0, (in + u) * n, (in + u + 1) * n), t.slice(0, (in + u + 1) * n)};
  }
};

// Whether a layer kernel projects x_t @ W inside its time loop: while W and U together fit in
// ~2/3 of L1 (up to 32 inputs and units for an LSTM). Beyond that, per step, W would stream from
// L2 for every pair of rows, and one GEMM first is faster (benchmarks/kernel_speed.py, the LSTM
// forward alone: even at 64 / 64, 16-21 % faster at 128 / 128).
inline bool project_in_loop(int64_t in, int64_t u, int64_t gates) {
  return (in + u) * gates * u * static_cast<int64_t>(sizeof(float)) <= 32 * 1024;
}

inline void check_layer(const char* name, const at::Tensor& x, int64_t u, const at::Tensor& xmask) {
  TORCH_CHECK(fast_layer(x.size(2), u) && x.scalar_type() == at::kFloat, name, ": float32, sizes % 16");
  TORCH_CHECK(x.dim() == 3 && x.is_contiguous(), name, ": x must be contiguous (batch, steps, in)");
  TORCH_CHECK(xmask.numel() == 0 || (xmask.sizes() == at::IntArrayRef{x.size(0), x.size(2)} &&
                                     xmask.is_contiguous() && xmask.scalar_type() == at::kFloat),
              name, ": xmask must be empty or (batch, in) float32");
}

// check_layer for either mode (row-token mode: x the table, checked by RowTokens).
inline void check_inputs(const char* name, const at::Tensor& x, int64_t u, const at::Tensor& xmask, const RowTokens& rt) {
  if (!rt.on()) return check_layer(name, x, u, xmask);
  TORCH_CHECK(fast_layer(rt.in, u) && x.scalar_type() == at::kFloat, name, ": float32, sizes % 16");
  TORCH_CHECK(xmask.numel() == 0 || (xmask.sizes() == at::IntArrayRef{rt.batch, rt.in} &&
                                     xmask.is_contiguous() && xmask.scalar_type() == at::kFloat),
              name, ": xmask must be empty or (batch, in) float32");
}

// What the three layer backwards start from (after check_backward): dx's array, dh0, the
// per-thread weight-gradient sums over n = G u gate columns, and U^T, W^T contiguous for the
// matvecs. Token mode (x: the distinct tokens' rows (distinct, in), inv (B, T) their positions):
// no dx array; the sums' dW part is (distinct x n), each token's summed input-projection
// gradients (see LayerGrads), which token_grads turns into dx and dW.
struct LayerBackwardArrays {
  at::Tensor DX, dh0, UT, WT;
  WeightGradSums sums;

  LayerBackwardArrays(const at::Tensor& x, const at::Tensor& W, const at::Tensor& U, const at::Tensor& H, int64_t n,
                      bool tokens, const RowTokens& rt)
      : DX(tokens ? at::empty({0}, H.options()) : at::empty({rt.batch, rt.steps, rt.in}, H.options())),
        dh0(at::empty({H.size(0), U.size(0)}, H.options())), UT(U.t().contiguous()), WT(W.t().contiguous()),
        sums(tokens ? x.size(0) : rt.in, U.size(0), n, H.size(0), H.options()) {}
};

// The layer backwards' input checks: x as the forward saw it, or in token mode the distinct
// tokens' rows (distinct, in) and inv (B, T) int64.
inline void check_backward(const char* name, const at::Tensor& x, int64_t u, const at::Tensor& xmask, const at::Tensor& H,
                    const at::Tensor& inv, const RowTokens& rt) {
  if (!inv.numel()) return check_inputs(name, x, u, xmask, rt);
  TORCH_CHECK(x.dim() == 2 && x.is_contiguous() && fast_layer(x.size(1), u) && x.scalar_type() == at::kFloat &&
                  H.scalar_type() == at::kFloat,
              name, ": token mode takes the distinct tokens' rows (distinct, in), float32, sizes % 16");
  TORCH_CHECK(inv.scalar_type() == at::kLong && inv.is_contiguous() && inv.dim() == 2 &&
                  inv.size(0) == H.size(0) && inv.size(1) == H.size(1) && xmask.numel() == 0,
              name, ": token mode takes inv (batch, steps) contiguous int64 and no dropout mask");
}

}  // namespace

// Token mode's (dx, dW) from each distinct token's summed input-projection gradients (token.cpp).
std::pair<at::Tensor, at::Tensor> token_grads(const at::Tensor& rows, const at::Tensor& WT, const at::Tensor& Gc);

namespace {

// The projection b + (x * mask) @ W as one GEMM, for weights that outgrow L1; fills XM if kept.
inline at::Tensor project(const at::Tensor& x, const at::Tensor& W, const at::Tensor& bias, const at::Tensor& xmask,
                   at::Tensor& XM) {
  if (XM.numel()) at::mul_out(XM, x, xmask.unsqueeze(1));
  auto xm = XM.numel() ? XM : xmask.numel() ? x * xmask.unsqueeze(1) : x;
  auto flat = xm.reshape({-1, x.size(2)});
  auto proj = bias.numel() ? at::addmm(bias, flat, W) : at::mm(flat, W);
  return proj.view({x.size(0), x.size(1), W.size(1)});
}

// Whether the float32 SimpleRNN / GRU sequence kernels take their vectorised path.
inline bool fast_sequence(const at::Tensor& t, int64_t u) {
#if defined(__AVX512F__)
  return t.scalar_type() == at::kFloat && fast_shape(u);
#else
  return false;
#endif
}

// sum over steps of h_(t-1)^T d_t (h_(-1) = h0): a recurrent weight gradient as GEMMs on contiguous
// memory, no shifted copy of H: H's flat rows against D's next rows, less the B - 1 pairs that
// cross from one sequence into the next, plus h0 against each sequence's first step.
inline at::Tensor recurrent_weight_grad(const at::Tensor& h0, const at::Tensor& H, const at::Tensor& D) {
  const int64_t batch = H.size(0), steps = H.size(1), u = H.size(2), n = D.size(2), rows = batch * steps;
  auto Hf = H.reshape({rows, u});
  auto Df = D.reshape({rows, n});
  auto firsts = D.select(1, 0);
  auto grad = at::mm(h0.t(), firsts);
  if (rows > 1) grad.addmm_(Hf.slice(0, 0, rows - 1).t(), Df.slice(0, 1, rows));
  if (batch > 1) grad.addmm_(H.select(1, steps - 1).slice(0, 0, batch - 1).t(), firsts.slice(0, 1, batch), 1, -1);
  return grad;
}

}  // namespace
}  // namespace textrnn
