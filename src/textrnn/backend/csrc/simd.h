// The float32 AVX-512 building blocks of the layer kernels: vector exp / sigmoid / tanh, the
// matvecs that keep their sums in registers, the small weight-gradient GEMMs, and the plumbing a
// layer kernel's time loop reads its inputs through (StepInputs) and sends its finished rows'
// gradients to (LayerGrads). Compiled only where the CPU has AVX-512 (-march=native).
#pragma once
#include "common.h"
#if defined(__AVX512F__)
#include <immintrin.h>

namespace textrnn {
namespace {  // internal to each file that includes it, as helpers of one file are

// Why: the generic loops (common.h and each cell's header) are latency-bound (4 accumulators, libm's exp and a division per
// gate). Here a matvec keeps 8 vectors of sums per row in flight, two rows share every load of U
// (and hide each other's gate-math latency), and exp/sigmoid/tanh are a polynomial plus
// rcp14 with a Newton step (errors: see exp_neg_ps), far below the 1e-5 the tests ask for.


// exp(-S x) for S = 1 (sigmoid) or 2 (tanh), x clamped so that it stays finite and nonzero-safe:
// n = round(-S x log2 e) by adding and subtracting 1.5 * 2^23; r' = x + n ln2 / S (= -r / S, one
// FMA: ln2's float error times |n| <= 127 stays below 3e-7 in r); exp(r) = p(r) of degree 5
// (minimax, relative error 7.5e-8 on |r| <= ln2 / 2), evaluated in r' with the coefficients
// scaled by (-S)^k. 12 vector ops where the Cephes form (2 Cody-Waite steps, degree 6, a negation
// and roundscale) took 17: the gate math shares its ports with the matvecs' FMAs, so every op counts.
template <int S>
inline __m512 exp_neg_ps(__m512 x) {
  constexpr float s = S;
  const __m512 magic = _mm512_set1_ps(12582912.0f);
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.0f / s)), _mm512_set1_ps(87.0f / s));
  const __m512 n = _mm512_sub_ps(_mm512_fmadd_ps(x, _mm512_set1_ps(-1.44269504088896341f * s), magic), magic);
  const __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(0.693147180559945f / s), x);
  __m512 p = _mm512_set1_ps(-0.00829765f * s * s * s * s * s);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.04191538f * s * s * s * s));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(-0.16667575f * s * s * s));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.49998894f * s * s));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(-0.9999997f * s));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0000001f));
  return _mm512_scalef_ps(p, n);
}

// 1 / d: rcp14 (14 bits) and one Newton step (~28 bits).
inline __m512 reciprocal_ps(__m512 d) {
  const __m512 r = _mm512_rcp14_ps(d);
  return _mm512_mul_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(2.0f)));
}

inline __m512 sigmoid_ps(__m512 x) {
  return reciprocal_ps(_mm512_add_ps(_mm512_set1_ps(1.0f), exp_neg_ps<1>(x)));
}

inline __m512 tanh_ps(__m512 x) {  // 2 sigmoid(2x) - 1
  const __m512 sig2x = reciprocal_ps(_mm512_add_ps(_mm512_set1_ps(1.0f), exp_neg_ps<2>(x)));
  return _mm512_fmsub_ps(_mm512_set1_ps(2.0f), sig2x, _mm512_set1_ps(1.0f));
}

// out[r][n] = init[r][n] (or 0) + sum_k x[r][k] * M[k * N + n] for R rows, N % 16 == 0.
// Columns in chunks of NZ vectors; P partial sums over k when a chunk alone has too few sums
// in flight to cover the FMA latency.
template <int R, int NZ, int P>
inline void matvec_chunks(const float* const* init, const float* const* x, const float* M, int64_t K,
                          int64_t N, float* const* out) {
  for (int64_t n0 = 0; n0 + 16 * NZ <= N; n0 += 16 * NZ) {
    __m512 acc[R][P][NZ];
    for (int r = 0; r < R; ++r)
      for (int p = 0; p < P; ++p)
        for (int z = 0; z < NZ; ++z)
          acc[r][p][z] = (p == 0 && init[r]) ? _mm512_loadu_ps(init[r] + n0 + 16 * z) : _mm512_setzero_ps();
    const int64_t k_main = K - K % P;
    for (int64_t k = 0; k < k_main; k += P) {
      for (int p = 0; p < P; ++p) {
        const float* Mk = M + (k + p) * N + n0;
        __m512 m[NZ];
        for (int z = 0; z < NZ; ++z) m[z] = _mm512_loadu_ps(Mk + 16 * z);
        for (int r = 0; r < R; ++r) {
          const __m512 xr = _mm512_set1_ps(x[r][k + p]);
          for (int z = 0; z < NZ; ++z) acc[r][p][z] = _mm512_fmadd_ps(xr, m[z], acc[r][p][z]);
        }
      }
    }
    for (int64_t k = k_main; k < K; ++k) {
      for (int r = 0; r < R; ++r) {
        const __m512 xr = _mm512_set1_ps(x[r][k]);
        for (int z = 0; z < NZ; ++z)
          acc[r][0][z] = _mm512_fmadd_ps(xr, _mm512_loadu_ps(M + k * N + n0 + 16 * z), acc[r][0][z]);
      }
    }
    for (int r = 0; r < R; ++r)
      for (int z = 0; z < NZ; ++z) {
        __m512 a = acc[r][0][z];
        for (int p = 1; p < P; ++p) a = _mm512_add_ps(a, acc[r][p][z]);
        _mm512_storeu_ps(out[r] + n0 + 16 * z, a);
      }
  }
}

// Picks the chunking for N (a multiple of 16). out may be init (each chunk reads before it writes).
template <int R>
inline void matvec(const float* const* init, const float* const* x, const float* M, int64_t K, int64_t N,
                   float* const* out) {
  if (N % 128 == 0) {
    matvec_chunks<R, 8, 1>(init, x, M, K, N, out);
  } else if (N % 96 == 0) {
    matvec_chunks<R, 6, 1>(init, x, M, K, N, out);
  } else if (N % 32 == 0) {
    matvec_chunks<R, 2, 4>(init, x, M, K, N, out);
  } else {
    matvec_chunks<R, 1, 4>(init, x, M, K, N, out);
  }
}


// n floats from `storage`, 64-byte aligned: vectors written and read back within a step must not
// straddle cache lines (a split store cannot be forwarded to the load that follows it).
inline float* aligned_floats(std::vector<float>& storage, int64_t n) {
  storage.assign(n + 16, 0.0f);
  auto address = reinterpret_cast<std::uintptr_t>(storage.data());
  return storage.data() + ((64 - address % 64) % 64) / sizeof(float);
}

// M (K x N, row-major) += sum over `count` consecutive row-steps s of a_s^T d_s, a_s = A + s * lda
// (K floats), d_s = D + s * ldd (N floats): a weight gradient as a small GEMM over one row's steps.
// A tile of KT x 16 NZ sums stays in registers while the steps stream past (one load of d per
// vector, one broadcast of a per k, KT * NZ FMAs), so M is loaded and stored once per tile and
// call, not once per step as a rank-1 update per step must (that update of dU took 20 % of the
// LSTM layer backward at 32 units and 38 % at 128: benchmarks/kernel_speed.py, 2026-11-29).
template <int KT, int NZ>
inline void outer_tile(float* M, int64_t N, const float* A, int64_t lda, const float* D, int64_t ldd,
                       int64_t count) {
  __m512 acc[KT][NZ];
  for (int k = 0; k < KT; ++k)
    for (int z = 0; z < NZ; ++z) acc[k][z] = _mm512_loadu_ps(M + k * N + 16 * z);
  for (int64_t s = 0; s < count; ++s) {
    const float* a = A + s * lda;
    __m512 d[NZ];
    for (int z = 0; z < NZ; ++z) d[z] = _mm512_loadu_ps(D + s * ldd + 16 * z);
    for (int k = 0; k < KT; ++k) {
      const __m512 ak = _mm512_set1_ps(a[k]);
      for (int z = 0; z < NZ; ++z) acc[k][z] = _mm512_fmadd_ps(ak, d[z], acc[k][z]);
    }
  }
  for (int k = 0; k < KT; ++k)
    for (int z = 0; z < NZ; ++z) _mm512_storeu_ps(M + k * N + 16 * z, acc[k][z]);
}

// The same for any K % 8 == 0 and N % 16 == 0, in chunks of steps small enough that a chunk's
// d and a rows stay in L1 while every tile passes over them.
inline void add_outer_steps(float* M, const float* A, int64_t lda, int64_t K, const float* D, int64_t ldd,
                            int64_t N, int64_t count) {
  constexpr int64_t kChunk = 32;
  for (int64_t s0 = 0; s0 < count; s0 += kChunk) {
    const int64_t c = std::min(kChunk, count - s0);
    const float* a = A + s0 * lda;
    const float* d = D + s0 * ldd;
    for (int64_t k0 = 0; k0 < K; k0 += 8) {
      int64_t n0 = 0;
      for (; n0 + 32 <= N; n0 += 32) outer_tile<8, 2>(M + k0 * N + n0, N, a + k0, lda, d + n0, ldd, c);
      if (n0 < N) outer_tile<8, 1>(M + k0 * N + n0, N, a + k0, lda, d + n0, ldd, c);
    }
  }
}

// sum[n] += sum over `count` row-steps of D[s * ldd + n] (N % 16 == 0): a bias gradient.
inline void add_rows(float* sum, const float* D, int64_t ldd, int64_t N, int64_t count) {
  for (int64_t n0 = 0; n0 < N; n0 += 16) {
    __m512 acc = _mm512_loadu_ps(sum + n0);
    for (int64_t s = 0; s < count; ++s) acc = _mm512_add_ps(acc, _mm512_loadu_ps(D + s * ldd + n0));
    _mm512_storeu_ps(sum + n0, acc);
  }
}

// Weight gradients over one row's steps [first, end), from their pre-activation gradients D
// (ldd = G u floats per step). Input side: dW += x_t^T d_t and, db not null, db += d_t.
inline void add_input_weight_grads(float* dW, float* db, const float* X, int64_t in, const float* D, int64_t ldd,
                                   int64_t first, int64_t end) {
  if (end <= first) return;
  add_outer_steps(dW, X + first * in, in, in, D + first * ldd, ldd, ldd, end - first);
  if (db) add_rows(db, D + first * ldd, ldd, ldd, end - first);
}

// Recurrent side: dU += h_(t-1)^T d_t, where h_(first-1) is the initial state h0.
inline void add_recurrent_weight_grads(float* dU, const float* H, const float* h0, int64_t u, const float* D,
                                       int64_t ldd, int64_t first, int64_t end) {
  if (end <= first) return;
  add_outer_steps(dU, h0, u, u, D + first * ldd, ldd, ldd, 1);
  add_outer_steps(dU, H + first * u, u, u, D + (first + 1) * ldd, ldd, ldd, end - first - 1);
}

// out[j] = bias (or 0) + A[j] @ B for `count` rows of A (K floats, lda apart) into out (ldo apart),
// B (K x N), N % 16 == 0: eight rows per pass over B, so that each of its loads feeds eight FMAs.
inline void project_rows(float* out, int64_t ldo, const float* A, int64_t lda, int64_t count, int64_t K,
                         const float* B, int64_t N, const float* bias) {
  const float *x[8], *init[8];
  float* y[8];
  for (int r = 0; r < 8; ++r) init[r] = bias;
  int64_t j = 0;
  for (; j + 8 <= count; j += 8) {
    for (int r = 0; r < 8; ++r) {
      x[r] = A + (j + r) * lda;
      y[r] = out + (j + r) * ldo;
    }
    if (N % 32 == 0) matvec_chunks<8, 2, 1>(init, x, B, K, N, y);
    else matvec_chunks<8, 1, 2>(init, x, B, K, N, y);
  }
  for (; j < count; ++j) {
    x[0] = A + j * lda;
    y[0] = out + j * ldo;
    matvec<1>(init, x, B, K, N, y);
  }
}

// out[s] = (d_s @ W^T) * mask over `count` steps (mask (in) or null): the input gradient of one
// row's steps from their pre-activation gradients D (ldd floats per step, W^T (ldd x in)), eight
// steps per pass over W^T so that each of its loads feeds eight FMAs.
inline void input_grad_steps(float* out, int64_t in, const float* D, int64_t ldd, const float* WT, const float* mask,
                             int64_t count) {
  project_rows(out, in, D, ldd, count, ldd, WT, in, nullptr);
  if (mask)
    for (int64_t s = 0; s < count; ++s)
      for (int64_t j = 0; j < in; j += 16)
        _mm512_storeu_ps(out + s * in + j, _mm512_mul_ps(_mm512_loadu_ps(out + s * in + j), _mm512_loadu_ps(mask + j)));
}

// G[inv[s]] += D[s] (N floats each, N % 16 == 0) for steps s in [first, end): the gradients of a
// row's input projections summed per distinct token (see LayerGrads' token mode).
inline void scatter_steps(float* G, const int64_t* inv, const float* D, int64_t N, int64_t first, int64_t end) {
  for (int64_t s = first; s < end; ++s) {
    float* g = G + inv[s] * N;
    const float* d = D + s * N;
    for (int64_t j = 0; j < N; j += 16)
      _mm512_storeu_ps(g + j, _mm512_add_ps(_mm512_loadu_ps(g + j), _mm512_loadu_ps(d + j)));
  }
}

// n floats from `storage`, 64-byte aligned, not initialised; storage only grows (per-thread
// scratch reused across calls).
inline float* scratch_floats(std::vector<float>& storage, int64_t n) {
  if (static_cast<int64_t>(storage.size()) < n + 16) storage.resize(n + 16);
  auto address = reinterpret_cast<std::uintptr_t>(storage.data());
  return storage.data() + ((64 - address % 64) % 64) / sizeof(float);
}

// A row's distinct tokens' embedding rows (times its dropout mask, if any) into out (count x in):
// tok lists them (row_tokens).
inline void gather_rows(float* out, const float* table, const int64_t* tok, int64_t count, int64_t in,
                        const float* mask) {
  for (int64_t j = 0; j < count; ++j) {
    const float* e = table + tok[j] * in;
    for (int64_t c = 0; c < in; c += 16) {
      const __m512 v = _mm512_loadu_ps(e + c);
      _mm512_storeu_ps(out + j * in + c, mask ? _mm512_mul_ps(v, _mm512_loadu_ps(mask + c)) : v);
    }
  }
}

// Where a layer's finished rows send their gradients: dx (DX, through the dropout mask if any)
// and this thread's dW, db (input bias) and dU sums. Token mode (inv set: the layer's inputs are
// the rows of the batch's distinct tokens, inv (B, T) their positions): no dx and no dW here; the
// gradients of the input projections go, summed per distinct token, where dW would (that
// thread's (distinct tokens x N) buffer), and token_grads makes dx and dW from their total with
// two small GEMMs.
struct LayerGrads {
  int64_t steps, in, u;
  const float *X, *WT, *xmask, *H, *h0;  // X: the inputs as the projection saw them; xmask null: none
  float* DX;
  const int64_t* inv = nullptr;
  // Row-token mode (tok set; X the embedding table): a row's gradients go per distinct token of
  // that row: the input projections' gradients summed per token, then dW and the tokens' dx
  // (DX[b, j] for its j-th distinct token, j < counts[b]) from those few rows.
  const int64_t *tok = nullptr, *pos = nullptr, *counts = nullptr;

  // Row b from the gradients of its input projections DI and recurrent ones DR (the same array
  // for SimpleRNN and LSTM; ldd floats per step, from step 0), over its steps [first, end).
  void row(int64_t b, const float* DI, const float* DR, int64_t ldd, int64_t first, int64_t end, float* dW,
           float* db, float* dU) const {
    if (inv) {
      scatter_steps(dW, inv + b * steps, DI, ldd, first, end);
      if (db && end > first) add_rows(db, DI + first * ldd, ldd, ldd, end - first);
    } else if (tok) {
      thread_local std::vector<float> storage;
      const int64_t count = counts[b];
      const float* mask = xmask ? xmask + b * in : nullptr;
      float* sums = scratch_floats(storage, steps * (ldd + in));
      float* rows = sums + steps * ldd;
      std::fill_n(sums, count * ldd, 0.0f);
      scatter_steps(sums, pos + b * steps, DI, ldd, first, end);
      gather_rows(rows, X, tok + b * steps, count, in, mask);
      input_grad_steps(DX + b * steps * in, in, sums, ldd, WT, mask, count);
      add_input_weight_grads(dW, db, rows, in, sums, ldd, 0, count);
    } else {
      input_grad_steps(DX + b * steps * in, in, DI, ldd, WT, xmask ? xmask + b * in : nullptr, steps);
      add_input_weight_grads(dW, db, X + b * steps * in, in, DI, ldd, first, end);
    }
    add_recurrent_weight_grads(dU, H + b * steps * u, h0 + b * u, u, DR, ldd, first, end);
  }
};

// x: the layer's inputs as the projection saw them; WT = W^T contiguous; xmask (B, in) or empty;
// inv (B, T) or empty: token mode (x, WT, xmask and DX unused).
inline LayerGrads layer_grads(const at::Tensor& x, const at::Tensor& WT, const at::Tensor& xmask,
                              const at::Tensor& H, const at::Tensor& h0, at::Tensor& DX, const at::Tensor& inv,
                              const RowTokens& rt) {
  if (inv.numel())
    return {H.size(1), 0, H.size(2), nullptr, nullptr, nullptr, H.data_ptr<float>(), h0.data_ptr<float>(),
            nullptr, inv.data_ptr<int64_t>()};
  return {rt.steps, rt.in, H.size(2), x.data_ptr<float>(), WT.data_ptr<float>(),
          xmask.numel() ? xmask.data_ptr<float>() : nullptr, H.data_ptr<float>(), h0.data_ptr<float>(),
          DX.data_ptr<float>(), nullptr, rt.tok, rt.pos, rt.counts};
}

// Rows go in blocks of kRowBlock, time outer and the block's rows inner: one row's step is a
// latency chain (h -> matvec -> gates -> h), so the other rows' independent steps fill the wait;
// small blocks keep the number of memory streams low enough for the prefetcher.
#ifndef TEXTRNN_ROW_BLOCK
#define TEXTRNN_ROW_BLOCK 4
#endif
constexpr int64_t kRowBlock = TEXTRNN_ROW_BLOCK;

// out[j] = a[j] * b[j], n % 16 == 0: a row's inputs times its dropout mask.
inline void mul_f32(float* out, const float* a, const float* b, int64_t n) {
  for (int64_t j = 0; j < n; j += 16)
    _mm512_store_ps(out + j, _mm512_mul_ps(_mm512_loadu_ps(a + j), _mm512_loadu_ps(b + j)));
}

// A row's inputs at one step for the kernels: x_t, times the row's input dropout mask (Keras: one
// per row for all steps) when there is one, written into XM when training keeps the masked inputs
// for dW, else into a scratch row. With ids, X is a table and row (b, t) reads its row ids[b, t]
// (inference from token ids: the projections of every vocabulary entry, see token_table_forward).
struct StepInputs {
  int64_t b0, steps, in;
  const float *X, *xmask = nullptr;  // xmask (B, in) or null
  float *XM = nullptr, *xs = nullptr;  // XM (B, T, in) or null; xs: one scratch row per local row
  const int64_t* ids = nullptr;      // (B, T) or null
  // Row-token mode (tok set; X the embedding table): each row reads the projections of its own
  // distinct tokens (row_tokens' tok, pos, counts), made for a block of rows at a time by
  // begin_block (the row's dropout mask applied first: Keras draws one per row for all steps).
  const int64_t *tok = nullptr, *pos = nullptr, *counts = nullptr;
  const float *W = nullptr, *bias = nullptr;
  int64_t n = 0;                      // the projections' width (G u)
  float *P = nullptr, *rows = nullptr;  // the block's projections (kRowBlock x steps x n); scratch
  int64_t block = 0;                  // the block's first local row

  void begin_block(int64_t first, int64_t end) {
    if (!tok) return;
    block = first;
    for (int64_t i = first; i < end; ++i) {
      const int64_t b = b0 + i;
      gather_rows(rows, X, tok + b * steps, counts[b], in, xmask ? xmask + b * in : nullptr);
      project_rows(P + (i - first) * steps * n, n, rows, in, counts[b], in, W, n, bias);
    }
  }

  // row i (local) at step t
  const float* at(int64_t i, int64_t t) const {
    const int64_t row = (b0 + i) * steps + t;
    if (tok) return P + ((i - block) * steps + pos[row]) * n;
    if (ids) return X + ids[row] * in;
    if (!xmask) return X + row * in;
    float* masked = XM ? XM + row * in : xs + i * in;
    mul_f32(masked, X + row * in, xmask + (b0 + i) * in, in);
    return masked;
  }
};

// A forward kernel's inputs make a block's projections first (row-token mode); backwards have none.
template <class Kernel>
auto begin_rows(Kernel& k, int64_t first, int64_t end, int) -> decltype(k.xin.begin_block(first, end)) {
  k.xin.begin_block(first, end);
}
template <class Kernel>
void begin_rows(Kernel&, int64_t, int64_t, long) {}

template <class Kernel>
void run_row_blocks(Kernel& k, int64_t n, int64_t steps, bool reverse) {
  for (int64_t first = 0; first < n; first += kRowBlock) {
    const int64_t end = std::min(n, first + kRowBlock);
    begin_rows(k, first, end, 0);
    for (int64_t s = 0; s < steps; ++s) {
      const int64_t t = reverse ? steps - 1 - s : s;
      int64_t i = first;
      for (; i + 2 <= end; i += 2) k.template group<2>(i, t);
      if (i < end) k.template group<1>(i, t);
    }
  }
}

inline void add_f32(float* acc, const float* d, int64_t n) {
  for (int64_t j = 0; j < n; j += 16)
    _mm512_storeu_ps(acc + j, _mm512_add_ps(_mm512_loadu_ps(acc + j), _mm512_loadu_ps(d + j)));
}

// The inputs of rows [b0, b1) for a layer kernel's loop: the dropout mask (if any) goes into XM
// when training keeps it, else into scratch rows allocated here in `storage`.
inline StepInputs step_inputs(const at::Tensor& x, const at::Tensor& xmask, const at::Tensor& XM, int64_t b0, int64_t b1,
                       std::vector<float>& storage) {
  const bool masked = xmask.numel() > 0, kept = XM.numel() > 0;
  return {b0, x.size(1), x.size(2), x.data_ptr<float>(), masked ? xmask.data_ptr<float>() : nullptr,
          kept ? XM.data_ptr<float>() : nullptr,
          masked && !kept ? aligned_floats(storage, (b1 - b0) * x.size(2)) : nullptr};
}

// What a layer kernel's loop reads for rows [b0, b1): x (masked on the way in) when it projects in
// the loop, else the projections that project() made first (bias and mask applied).
inline StepInputs layer_inputs(bool in_loop, const at::Tensor& x, const at::Tensor& xmask, const at::Tensor& XM,
                        const at::Tensor& proj, int64_t b0, int64_t b1, std::vector<float>& storage) {
  if (in_loop) return step_inputs(x, xmask, XM, b0, b1, storage);
  return {b0, x.size(1), proj.size(2), proj.data_ptr<float>()};
}

// The same in row-token mode: x is the embedding table; each block of rows gets its distinct
// tokens' projections (n = G u wide) in `storage` first (StepInputs::begin_block).
inline StepInputs row_inputs(const RowTokens& rt, const at::Tensor& x, const at::Tensor& xmask, const at::Tensor& W,
                      const at::Tensor& bias, int64_t b0, int64_t b1, std::vector<float>& storage) {
  StepInputs s{b0, rt.steps, rt.in, x.data_ptr<float>(), xmask.numel() ? xmask.data_ptr<float>() : nullptr};
  s.tok = rt.tok;
  s.pos = rt.pos;
  s.counts = rt.counts;
  s.W = W.data_ptr<float>();
  s.bias = bias.numel() ? bias.data_ptr<float>() : nullptr;
  s.n = W.size(1);
  const int64_t block_floats = std::min(b1 - b0, kRowBlock) * rt.steps * s.n;
  s.P = scratch_floats(storage, block_floats + rt.steps * rt.in);
  s.rows = s.P + block_floats;
  return s;
}

// A layer forward's inputs for rows [b0, b1) in any of the three modes.
inline StepInputs any_inputs(const RowTokens& rt, bool in_loop, const at::Tensor& x, const at::Tensor& W,
                      const at::Tensor& bias, const at::Tensor& xmask, const at::Tensor& XM, const at::Tensor& proj,
                      int64_t b0, int64_t b1, std::vector<float>& storage) {
  if (rt.on()) return row_inputs(rt, x, xmask, W, bias, b0, b1, storage);
  return layer_inputs(in_loop, x, xmask, XM, proj, b0, b1, storage);
}

}  // namespace
}  // namespace textrnn
#endif
