// Fused whole-sequence LSTM, SimpleRNN (tanh) and GRU (reset_after) for the CPU, forward and backward side by side (Keras gate order i, f, c, o).
//
// The Python side hoists the input projection (xproj = x @ kernel + bias, one large GEMM) and the
// recurrent-kernel gradient (dU = H_prev^T @ dGates, one large GEMM) out of the time loop; what is
// left here is the part that must walk the steps: h @ U per step, the gate math, and the gradient's
// way back through time. Batch rows are independent, so each thread owns a block of rows for the
// whole sequence (at::parallel_for: torch's own thread pool) and there is no per-step sync.
#include <torch/extension.h>
#include <ATen/Parallel.h>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace {

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

// Forward for rows [b0, b1). gates_out stores the activated gates (i, f, g, o), needed by backward.
template <typename T>
void forward_rows(int64_t b0, int64_t b1, int64_t steps, int64_t u, const T* xproj, const T* U,
                  const T* h0, const T* c0, T* H, T* C, T* G) {
  const int64_t g4 = 4 * u;
  for (int64_t b = b0; b < b1; ++b) {
    const T* h_prev = h0 + b * u;
    const T* c_prev = c0 + b * u;
    for (int64_t t = 0; t < steps; ++t) {
      const int64_t row = b * steps + t;
      T* g = G + row * g4;
      const T* xp = xproj + row * g4;
      add_matvec<T, kBlock>(xp, h_prev, U, u, g4, g);  // g = xp + h_prev @ U
      T* c = C + row * u;
      T* h = H + row * u;
#pragma omp simd
      for (int64_t j = 0; j < u; ++j) {
        const T i = sigmoid(g[j]);
        const T f = sigmoid(g[u + j]);
        const T cc = tanh_(g[2 * u + j]);
        const T o = sigmoid(g[3 * u + j]);
        g[j] = i; g[u + j] = f; g[2 * u + j] = cc; g[3 * u + j] = o;
        c[j] = f * c_prev[j] + i * cc;
        h[j] = o * tanh_(c[j]);
      }
      h_prev = h;
      c_prev = c;
    }
  }
}

// Backward for rows [b0, b1): gradients of the gate pre-activations (DG), and of h0, c0.
template <typename T>
void backward_rows(int64_t b0, int64_t b1, int64_t steps, int64_t u, const T* dH, const T* dhT,
                   const T* dcT, const T* UT, const T* c0, const T* C, const T* G, T* DG, T* dh0,
                   T* dc0) {
  const int64_t g4 = 4 * u;
  std::vector<T> dh(u), dc(u);
  for (int64_t b = b0; b < b1; ++b) {
    for (int64_t j = 0; j < u; ++j) { dh[j] = dhT[b * u + j]; dc[j] = dcT[b * u + j]; }
    for (int64_t t = steps - 1; t >= 0; --t) {
      const int64_t row = b * steps + t;
      const T* g = G + row * g4;
      const T* c = C + row * u;
      const T* c_prev = t > 0 ? C + (row - 1) * u : c0 + b * u;
      const T* dh_out = dH + row * u;
      T* dg = DG + row * g4;
#pragma omp simd
      for (int64_t j = 0; j < u; ++j) {
        const T i = g[j], f = g[u + j], cc = g[2 * u + j], o = g[3 * u + j];
        const T tc = tanh_(c[j]);
        const T dhj = dh[j] + dh_out[j];
        const T dcj = dc[j] + dhj * o * (T(1) - tc * tc);
        dg[j] = dcj * cc * i * (T(1) - i);
        dg[u + j] = dcj * c_prev[j] * f * (T(1) - f);
        dg[2 * u + j] = dcj * i * (T(1) - cc * cc);
        dg[3 * u + j] = dhj * tc * o * (T(1) - o);
        dc[j] = dcj * f;
      }
      add_matvec_t<T>(nullptr, dg, UT, g4, u, dh.data());  // dh(t-1) = dg @ U^T
    }
    for (int64_t j = 0; j < u; ++j) { dh0[b * u + j] = dh[j]; dc0[b * u + j] = dc[j]; }
  }
}

// ---- float32 fast path (AVX-512): two rows at a time, gate math in vector registers -------------
// Why: the generic loops above are latency-bound (4 accumulators, libm's exp and a division per
// gate). Here a matvec keeps 8 vectors of sums per row in flight, two rows share every load of U
// (and hide each other's gate-math latency), and exp/sigmoid/tanh are a polynomial plus
// rcp14 with a Newton step (errors: see exp_neg_ps), far below the 1e-5 the tests ask for.
#if defined(__AVX512F__)

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

inline bool fast_shape(int64_t u) { return u % 16 == 0; }

// n floats from `storage`, 64-byte aligned: vectors written and read back within a step must not
// straddle cache lines (a split store cannot be forwarded to the load that follows it).
inline float* aligned_floats(std::vector<float>& storage, int64_t n) {
  storage.assign(n + 16, 0.0f);
  auto address = reinterpret_cast<std::uintptr_t>(storage.data());
  return storage.data() + ((64 - address % 64) % 64) / sizeof(float);
}

// Activates the pre-activations g (i, f, c~, o) in place when keep_gates, and writes c and h.
inline void lstm_gates_f32(float* g, const float* c_prev, float* c, float* h, int64_t u, bool keep_gates) {
  for (int64_t j = 0; j < u; j += 16) {
    const __m512 i = sigmoid_ps(_mm512_loadu_ps(g + j));
    const __m512 f = sigmoid_ps(_mm512_loadu_ps(g + u + j));
    const __m512 cc = tanh_ps(_mm512_loadu_ps(g + 2 * u + j));
    const __m512 o = sigmoid_ps(_mm512_loadu_ps(g + 3 * u + j));
    if (keep_gates) {
      _mm512_storeu_ps(g + j, i);
      _mm512_storeu_ps(g + u + j, f);
      _mm512_storeu_ps(g + 2 * u + j, cc);
      _mm512_storeu_ps(g + 3 * u + j, o);
    }
    const __m512 cn = _mm512_fmadd_ps(f, _mm512_loadu_ps(c_prev + j), _mm512_mul_ps(i, cc));
    _mm512_storeu_ps(c + j, cn);
    _mm512_storeu_ps(h + j, _mm512_mul_ps(o, tanh_ps(cn)));
  }
}

// Backward through one step's gates: from dh (this step's output gradient, all paths summed) and
// dc (carried from step t+1, updated in place to step t-1's) to dg, the gate pre-activation grads.
inline void lstm_gate_grads_f32(const float* g, const float* c, const float* c_prev, const float* dh, float* dc,
                                float* dg, int64_t u) {
  const __m512 one = _mm512_set1_ps(1.0f);
  for (int64_t j = 0; j < u; j += 16) {
    const __m512 i = _mm512_loadu_ps(g + j), f = _mm512_loadu_ps(g + u + j);
    const __m512 cc = _mm512_loadu_ps(g + 2 * u + j), o = _mm512_loadu_ps(g + 3 * u + j);
    const __m512 tc = tanh_ps(_mm512_loadu_ps(c + j));
    const __m512 dhj = _mm512_loadu_ps(dh + j);
    const __m512 dcj = _mm512_fmadd_ps(_mm512_mul_ps(dhj, o), _mm512_fnmadd_ps(tc, tc, one), _mm512_loadu_ps(dc + j));
    _mm512_storeu_ps(dg + j, _mm512_mul_ps(_mm512_mul_ps(dcj, cc), _mm512_mul_ps(i, _mm512_sub_ps(one, i))));
    _mm512_storeu_ps(dg + u + j, _mm512_mul_ps(_mm512_mul_ps(dcj, _mm512_loadu_ps(c_prev + j)),
                                               _mm512_mul_ps(f, _mm512_sub_ps(one, f))));
    _mm512_storeu_ps(dg + 2 * u + j, _mm512_mul_ps(_mm512_mul_ps(dcj, i), _mm512_fnmadd_ps(cc, cc, one)));
    _mm512_storeu_ps(dg + 3 * u + j, _mm512_mul_ps(_mm512_mul_ps(dhj, tc), _mm512_mul_ps(o, _mm512_sub_ps(one, o))));
    _mm512_storeu_ps(dc + j, _mm512_mul_ps(dcj, f));
  }
}

// LSTM forward over rows [b0, b1), two rows at a time (one when a row is left over).
template <int R>
void lstm_forward_f32(int64_t b, int64_t steps, int64_t u, const float* xproj, const float* U,
                      const float* h0, const float* c0, float* H, float* C, float* G) {
  const int64_t g4 = 4 * u;
  const float* hp[R];
  const float* cp[R];
  for (int r = 0; r < R; ++r) { hp[r] = h0 + (b + r) * u; cp[r] = c0 + (b + r) * u; }
  for (int64_t t = 0; t < steps; ++t) {
    const float* xp[R];
    float* g[R];
    for (int r = 0; r < R; ++r) {
      const int64_t row = (b + r) * steps + t;
      xp[r] = xproj + row * g4;
      g[r] = G + row * g4;
    }
    matvec<R>(xp, hp, U, u, g4, g);  // g = xp + h_prev @ U
    for (int r = 0; r < R; ++r) {
      const int64_t row = (b + r) * steps + t;
      float* c = C + row * u;
      float* h = H + row * u;
      float* gr = g[r];
      lstm_gates_f32(gr, cp[r], c, h, u, true);
      hp[r] = h;
      cp[r] = c;
    }
  }
}

// LSTM backward over rows b..b+R: DG (gate pre-activation gradients), dh0, dc0.
// dh for step t-1 starts as dH[t-1] and receives dg_t @ U^T in one matvec.
template <int R>
void lstm_backward_f32(int64_t b, int64_t steps, int64_t u, const float* dH, const float* dhT,
                       const float* dcT, const float* UT, const float* c0, const float* C, const float* G,
                       float* DG, float* dh0, float* dc0) {
  const int64_t g4 = 4 * u;
  std::vector<float> dh_buf(R * u), dc_buf(R * u);
  float* dh[R];
  float* dc[R];
  for (int r = 0; r < R; ++r) {
    dh[r] = dh_buf.data() + r * u;
    dc[r] = dc_buf.data() + r * u;
    const int64_t last = (b + r) * steps + steps - 1;
    for (int64_t j = 0; j < u; ++j) {
      dh[r][j] = dhT[(b + r) * u + j] + (steps > 0 ? dH[last * u + j] : 0.0f);
      dc[r][j] = dcT[(b + r) * u + j];
    }
  }
  for (int64_t t = steps - 1; t >= 0; --t) {
    const float* dgc[R];
    const float* init[R];
    for (int r = 0; r < R; ++r) {
      const int64_t row = (b + r) * steps + t;
      const float* g = G + row * g4;
      const float* c = C + row * u;
      const float* c_prev = t > 0 ? C + (row - 1) * u : c0 + (b + r) * u;
      float* dg = DG + row * g4;
      lstm_gate_grads_f32(g, c, c_prev, dh[r], dc[r], dg, u);
      dgc[r] = dg;
      init[r] = t > 0 ? dH + (row - 1) * u : nullptr;
    }
    matvec<R>(init, dgc, UT, g4, u, dh);  // dh(t-1) = dH[t-1] + dg_t @ U^T
  }
  for (int r = 0; r < R; ++r)
    for (int64_t j = 0; j < u; ++j) { dh0[(b + r) * u + j] = dh[r][j]; dc0[(b + r) * u + j] = dc[r][j]; }
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

// A whole LSTM layer forward from its inputs for rows [b0, b1): per step g = bias + x_t @ W + h @ U
// in registers (no (B, T, 4u) projection written to memory first), then the gates. Training
// keeps the activated gates G and cell states C for backward; inference (G = nullptr) keeps
// nothing. Rows go in blocks of kRowBlock, time outer and the block's rows inner: one row's step
// is a latency chain (h -> matvec -> gates -> h), so the other rows' independent steps fill the
// wait; small blocks keep the number of memory streams low enough for the prefetcher.
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

struct LstmLayerForward {
  int64_t b0, n, steps, u;
  StepInputs xin;  // each step's inputs; with W null, its rows are the projections x_t @ W + bias (4u)
  const float *W, *bias, *U, *h0, *c0;
  float *H, *hT, *cT, *C, *G;
  const int64_t *span_start = nullptr, *span_end = nullptr;  // per row: valid steps [start, end)
  std::vector<const float*> hp, cp;
  std::vector<float> storage;
  float* scratch = nullptr;  // inference: gates and two cell states per row

  float* gates(int64_t i, int64_t row) {
    return G ? G + row * 4 * u : scratch + i * 6 * u;
  }
  float* cell(int64_t i, int64_t row, int64_t t) {
    return G ? C + row * u : scratch + i * 6 * u + 4 * u + (t % 2) * u;
  }
  bool active(int64_t i, int64_t t) const {
    return !span_start || (t >= span_start[b0 + i] && t < span_end[b0 + i]);
  }

  template <int R>
  void group(const int64_t* idx, int64_t t) {
    const float* x[R];
    const float* h_prev[R];
    const float* binit[R];
    float* g[R];
    for (int r = 0; r < R; ++r) {
      const int64_t i = idx[r], row = (b0 + i) * steps + t;
      x[r] = xin.at(i, t);  // dropout applied on the way in (kept for dW only when training)
      h_prev[r] = hp[i];
      binit[r] = bias;
      g[r] = gates(i, row);
    }
    if (W) {
      matvec<R>(binit, x, W, xin.in, 4 * u, g);  // g = bias + x_t @ W
      matvec<R>(g, h_prev, U, u, 4 * u, g);  // g += h_prev @ U
    } else {
      matvec<R>(x, h_prev, U, u, 4 * u, g);  // g = projection + h_prev @ U
    }
    for (int r = 0; r < R; ++r) {
      const int64_t i = idx[r], row = (b0 + i) * steps + t;
      float* c = cell(i, row, t);
      float* h = H + row * u;
      lstm_gates_f32(g[r], cp[i], c, h, u, G != nullptr);
      hp[i] = h;
      cp[i] = c;
    }
  }

  void run() {
    hp.resize(n);
    cp.resize(n);
    if (!G) scratch = aligned_floats(storage, n * 6 * u);
    for (int64_t i = 0; i < n; ++i) {
      hp[i] = h0 + (b0 + i) * u;
      cp[i] = c0 + (b0 + i) * u;
    }
    int64_t idx[kRowBlock];
    for (int64_t first = 0; first < n; first += kRowBlock) {
      const int64_t end = std::min(n, first + kRowBlock);
      xin.begin_block(first, end);
      for (int64_t t = 0; t < steps; ++t) {
        int64_t k = 0;
        for (int64_t i = first; i < end; ++i) {
          if (active(i, t)) idx[k++] = i;
          else {  // outside its span: zeros (XM too: backward's dW multiplies it by zero gradients)
            std::fill_n(H + ((b0 + i) * steps + t) * u, u, 0.0f);
            if (xin.XM) std::fill_n(xin.XM + ((b0 + i) * steps + t) * xin.in, xin.in, 0.0f);
          }
        }
        int64_t j = 0;
        for (; j + 2 <= k; j += 2) group<2>(idx + j, t);
        if (j < k) group<1>(idx + j, t);
      }
    }
    for (int64_t i = 0; i < n; ++i) {
      std::copy(hp[i], hp[i] + u, hT + (b0 + i) * u);
      std::copy(cp[i], cp[i] + u, cT + (b0 + i) * u);
    }
  }
};

// Its backward for rows [b0, b1): dx, and dW, dU, db summed into this thread's buffers. Per step
// and row: dg (the gate pre-activation gradients), then dh(t-1) = dH[t-1] + dg @ U^T. Time outer,
// rows inner, as in the forward. dx and the weight gradients do not feed the time loop: once a
// block of rows has run all its steps, its dg (DG: one block's rows x steps x 4u, so it stays in
// L2 instead of a (B, T, 4u) array going out to memory and back) go into dx, dW, dU and db.
struct LstmLayerBackward {
  int64_t b0, n, steps, u;
  LayerGrads out;
  const float *UT, *h0, *c0, *H, *C, *G, *dH, *dhT, *dcT;  // dH null: no gradient into H
  float *dW, *dU, *db, *dh0, *dc0;
  const int64_t *span_start = nullptr, *span_end = nullptr;  // as in the forward
  std::vector<float> storage;
  float* buf = nullptr;  // per row: dh (u), dc (u)
  float* DG = nullptr;   // the current block's dg
  int64_t block = 0;     // its first row

  float* dh(int64_t i) { return buf + i * 2 * u; }
  float* dc(int64_t i) { return dh(i) + u; }
  float* dg(int64_t i, int64_t t) { return DG + ((i - block) * steps + t) * 4 * u; }
  int64_t first_step(int64_t i) const { return span_start ? span_start[b0 + i] : 0; }
  int64_t end_step(int64_t i) const { return span_start ? span_end[b0 + i] : steps; }

  template <int R>
  void group(const int64_t* idx, int64_t t) {
    const float* init[R];
    const float* dgc[R];
    float* dhs[R];
    for (int r = 0; r < R; ++r) {
      const int64_t i = idx[r], row = (b0 + i) * steps + t;
      const bool first = t == first_step(i);  // the step before holds the initial state
      const float* c_prev = first ? c0 + (b0 + i) * u : C + (row - 1) * u;
      float* d = dg(i, t);
      lstm_gate_grads_f32(G + row * 4 * u, C + row * u, c_prev, dh(i), dc(i), d, u);
      init[r] = first || !dH ? nullptr : dH + (row - 1) * u;
      dgc[r] = d;
      dhs[r] = dh(i);
    }
    // two rows per matvec (four would run out of vector registers)
    constexpr int P = R < 2 ? R : 2;
    for (int p = 0; p < R; p += P) matvec<P>(init + p, dgc + p, UT, 4 * u, u, dhs + p);  // dh(t-1)
  }

  void run() {
    buf = aligned_floats(storage, n * 2 * u + std::min(n, kRowBlock) * steps * 4 * u);
    DG = buf + n * 2 * u;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t b = b0 + i, last = end_step(i) - 1;
      const bool any = last >= first_step(i);
      for (int64_t j = 0; j < u; ++j) {
        dh(i)[j] = dhT[b * u + j] + (any && dH ? dH[(b * steps + last) * u + j] : 0.0f);
        dc(i)[j] = dcT[b * u + j];
      }
    }
    int64_t idx[kRowBlock];
    for (block = 0; block < n; block += kRowBlock) {
      const int64_t end = std::min(n, block + kRowBlock);
      for (int64_t t = steps - 1; t >= 0; --t) {
        int64_t k = 0;
        for (int64_t i = block; i < end; ++i) {
          if (t >= first_step(i) && t < end_step(i)) idx[k++] = i;
          else std::fill_n(dg(i, t), 4 * u, 0.0f);  // no gradient there
        }
        int64_t j = 0;
        for (; j + 4 <= k; j += 4) group<4>(idx + j, t);
        for (; j + 2 <= k; j += 2) group<2>(idx + j, t);
        if (j < k) group<1>(idx + j, t);
      }
      for (int64_t i = block; i < end; ++i)
        out.row(b0 + i, dg(i, 0), dg(i, 0), 4 * u, first_step(i), end_step(i), dW, db, dU);
    }
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < u; ++j) {
        dh0[(b0 + i) * u + j] = dh(i)[j];
        dc0[(b0 + i) * u + j] = dc(i)[j];
      }
  }
};

// ---- SimpleRNN and GRU float32 paths (AVX-512) ---------------------------------------------------
// As the LSTM's: rows in blocks of kRowBlock, time outer and the block's rows inner (one row's step
// is a latency chain; the other rows' steps fill the wait), two rows per matvec sharing every load
// of U, activations in vector registers. The sequence kernels (rnn_forward, gru_forward) take input
// projections made by one GEMM before the loop; the layer kernels (rnn_layer_forward,
// gru_layer_forward, below) make them inside it. The weight gradients are not summed step by step
// inside the loop (a rank-1 update of dU per step cost more than the rest of their backward): the
// layer kernels sum them per finished block of rows (LayerGrads), the sequence kernels with one
// GEMM after the loop (recurrent_weight_grad).
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

// h_t = tanh(b + x_t @ W + h_(t-1) @ U) for rows b0 .. b0 + n. W null: xin gives the projections
// x_t @ W + b (u wide).
struct RnnForwardF32 {
  int64_t b0, steps, u;
  StepInputs xin;
  const float *W, *bias, *U, *h0;
  float* H;

  template <int R>
  void group(int64_t i0, int64_t t) {
    const float *x[R], *hp[R], *binit[R];
    float* h[R];
    for (int r = 0; r < R; ++r) {
      const int64_t b = b0 + i0 + r, row = b * steps + t;
      x[r] = xin.at(i0 + r, t);
      binit[r] = bias;
      hp[r] = t ? H + (row - 1) * u : h0 + b * u;
      h[r] = H + row * u;
    }
    if (W) {
      matvec<R>(binit, x, W, xin.in, u, h);  // h = b + x_t @ W (h's row as scratch)
      matvec<R>(h, hp, U, u, u, h);          // h += h_prev @ U
    } else {
      matvec<R>(x, hp, U, u, u, h);
    }
    for (int r = 0; r < R; ++r)
      for (int64_t j = 0; j < u; j += 16) _mm512_storeu_ps(h[r] + j, tanh_ps(_mm512_loadu_ps(h[r] + j)));
  }
};

// Its backward: DP (the pre-activation gradients) and dh0; the weight and input gradients are GEMMs
// over DP afterwards (dx = dp @ W^T inside the loop was slower than one GEMM after it).
struct RnnBackwardF32 {
  int64_t b0, steps, u;
  const float *UT, *H, *dH;  // dH null: no gradient into H
  float* DP;  // from row drow0 on
  float* dh;  // per row: the gradient reaching h_t from later steps (u)
  int64_t drow0 = 0;

  template <int R>
  void group(int64_t i0, int64_t t) {
    const float* none[R] = {};
    const float* dp[R];
    float* d[R];
    const __m512 one = _mm512_set1_ps(1.0f);
    for (int r = 0; r < R; ++r) {
      const int64_t row = (b0 + i0 + r) * steps + t;
      d[r] = dh + (i0 + r) * u;
      const float* h = H + row * u;
      float* p = DP + (row - drow0 * steps) * u;
      for (int64_t j = 0; j < u; j += 16) {
        __m512 g = _mm512_loadu_ps(d[r] + j);
        if (dH) g = _mm512_add_ps(g, _mm512_loadu_ps(dH + row * u + j));
        const __m512 hj = _mm512_loadu_ps(h + j);
        _mm512_storeu_ps(p + j, _mm512_mul_ps(g, _mm512_fnmadd_ps(hj, hj, one)));
      }
      dp[r] = p;
    }
    matvec<R>(none, dp, UT, u, u, d);  // dh(t-1) = dp @ U^T
  }
};

// Keras's GRU (reset_after): xp = b_in + x_t @ W, rec = b_rec + h_(t-1) @ U, gates as in
// gru_forward_rows; G keeps (z, r, n, rec_h) per step (null: inference keeps nothing). W null: xin
// gives the projections xp (3u wide).
struct GruForwardF32 {
  int64_t b0, steps, u;
  StepInputs xin;
  const float *W, *bias, *U, *brec, *h0;
  float *H, *G;
  float* scratch;  // per row: rec (3u), xp (3u)

  template <int R>
  void group(int64_t i0, int64_t t) {
    const float *init[R], *hp[R], *x[R], *binit[R], *xp[R];
    float *rc[R], *xps[R];
    for (int r = 0; r < R; ++r) {
      const int64_t b = b0 + i0 + r, row = b * steps + t;
      init[r] = brec;
      binit[r] = bias;
      hp[r] = t ? H + (row - 1) * u : h0 + b * u;
      rc[r] = scratch + (i0 + r) * 6 * u;
      xps[r] = rc[r] + 3 * u;
      x[r] = xin.at(i0 + r, t);
      xp[r] = W ? xps[r] : x[r];
    }
    if (W) matvec<R>(binit, x, W, xin.in, 3 * u, xps);  // xp = b_in + x_t @ W
    matvec<R>(init, hp, U, u, 3 * u, rc);                // rec = b_rec + h_prev @ U
    for (int r = 0; r < R; ++r) {
      const int64_t row = (b0 + i0 + r) * steps + t;
      float* g = G ? G + row * 4 * u : nullptr;
      float* h = H + row * u;
      for (int64_t j = 0; j < u; j += 16) {
        const __m512 z = sigmoid_ps(_mm512_add_ps(_mm512_loadu_ps(xp[r] + j), _mm512_loadu_ps(rc[r] + j)));
        const __m512 rr = sigmoid_ps(_mm512_add_ps(_mm512_loadu_ps(xp[r] + u + j), _mm512_loadu_ps(rc[r] + u + j)));
        const __m512 rh = _mm512_loadu_ps(rc[r] + 2 * u + j);
        const __m512 nn = tanh_ps(_mm512_fmadd_ps(rr, rh, _mm512_loadu_ps(xp[r] + 2 * u + j)));
        if (g) {
          _mm512_storeu_ps(g + j, z);
          _mm512_storeu_ps(g + u + j, rr);
          _mm512_storeu_ps(g + 2 * u + j, nn);
          _mm512_storeu_ps(g + 3 * u + j, rh);
        }
        _mm512_storeu_ps(h + j, _mm512_fmadd_ps(z, _mm512_sub_ps(_mm512_loadu_ps(hp[r] + j), nn), nn));
      }
    }
  }
};

// Its backward: DXP (gradients of the input projections), DREC (of the recurrent projections), and
// summed into this thread's buffer db_rec (3u) and the n columns of DXP (u; its z and r columns
// are db_rec's), so that no pass over DXP sums the input bias gradient; dU, dW and dx are GEMMs
// afterwards.
struct GruBackwardF32 {
  int64_t b0, steps, u;
  const float *UT, *h0, *H, *G, *dH;  // dH null: no gradient into H
  float *DXP, *DREC, *dbrec;  // DXP, DREC from row drow0 on; dbrec: 4u, or null: the caller sums them
  float* buf;  // per row: dh (u) and the direct path d * z (u)
  int64_t drow0 = 0;

  template <int R>
  void group(int64_t i0, int64_t t) {
    const float *init[R], *drc[R];
    float* d[R];
    const __m512 one = _mm512_set1_ps(1.0f);
    for (int r = 0; r < R; ++r) {
      const int64_t b = b0 + i0 + r, row = b * steps + t;
      d[r] = buf + (i0 + r) * 2 * u;
      float* direct = d[r] + u;
      const float* g = G + row * 4 * u;
      const float* h_prev = t ? H + (row - 1) * u : h0 + b * u;
      float* dxr = DXP + (row - drow0 * steps) * 3 * u;
      float* drec = DREC + (row - drow0 * steps) * 3 * u;
      for (int64_t j = 0; j < u; j += 16) {
        const __m512 z = _mm512_loadu_ps(g + j), rr = _mm512_loadu_ps(g + u + j);
        const __m512 nn = _mm512_loadu_ps(g + 2 * u + j), rh = _mm512_loadu_ps(g + 3 * u + j);
        __m512 dj = _mm512_loadu_ps(d[r] + j);
        if (dH) dj = _mm512_add_ps(dj, _mm512_loadu_ps(dH + row * u + j));
        const __m512 dn = _mm512_mul_ps(_mm512_mul_ps(dj, _mm512_sub_ps(one, z)), _mm512_fnmadd_ps(nn, nn, one));
        const __m512 dz = _mm512_mul_ps(_mm512_mul_ps(dj, _mm512_sub_ps(_mm512_loadu_ps(h_prev + j), nn)),
                                        _mm512_mul_ps(z, _mm512_sub_ps(one, z)));
        const __m512 dr = _mm512_mul_ps(_mm512_mul_ps(dn, rh), _mm512_mul_ps(rr, _mm512_sub_ps(one, rr)));
        _mm512_storeu_ps(dxr + j, dz);
        _mm512_storeu_ps(dxr + u + j, dr);
        _mm512_storeu_ps(dxr + 2 * u + j, dn);
        _mm512_storeu_ps(drec + j, dz);
        _mm512_storeu_ps(drec + u + j, dr);
        _mm512_storeu_ps(drec + 2 * u + j, _mm512_mul_ps(dn, rr));
        _mm512_storeu_ps(direct + j, _mm512_mul_ps(dj, z));
      }
      if (dbrec) {
        add_f32(dbrec, drec, 3 * u);
        add_f32(dbrec + 3 * u, dxr + 2 * u, u);
      }
      init[r] = direct;
      drc[r] = drec;
    }
    matvec<R>(init, drc, UT, 3 * u, u, d);  // dh(t-1) = d * z + drec @ U^T
  }
};
#endif

// Whether the fused float32 layer kernels run for these sizes on this machine.
bool fast_layer(int64_t in, int64_t u) {
#if defined(__AVX512F__)
  return u % 16 == 0 && in % 16 == 0;
#else
  return false;
#endif
}

int64_t grain(int64_t batch) {
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


// ---- SimpleRNN (tanh): h_t = tanh(xp_t + h_{t-1} @ U) -------------------------------------------
template <typename T>
void rnn_forward_rows(int64_t b0, int64_t b1, int64_t steps, int64_t u, const T* xproj, const T* U,
                      const T* h0, T* H) {
  for (int64_t b = b0; b < b1; ++b) {
    const T* h_prev = h0 + b * u;
    for (int64_t t = 0; t < steps; ++t) {
      const int64_t row = b * steps + t;
      const T* xp = xproj + row * u;
      T* h = H + row * u;
      add_matvec<T, kSmall>(xp, h_prev, U, u, u, h);
#pragma omp simd
      for (int64_t j = 0; j < u; ++j) h[j] = tanh_(h[j]);
      h_prev = h;
    }
  }
}

template <typename T>
void rnn_backward_rows(int64_t b0, int64_t b1, int64_t steps, int64_t u, const T* dH, const T* dhT,
                       const T* UT, const T* H, T* DP, T* dh0) {
  std::vector<T> dh(u);
  for (int64_t b = b0; b < b1; ++b) {
    for (int64_t j = 0; j < u; ++j) dh[j] = dhT[b * u + j];
    for (int64_t t = steps - 1; t >= 0; --t) {
      const int64_t row = b * steps + t;
      const T* h = H + row * u;
      const T* dh_out = dH + row * u;
      T* dp = DP + row * u;
#pragma omp simd
      for (int64_t j = 0; j < u; ++j) dp[j] = (dh[j] + dh_out[j]) * (T(1) - h[j] * h[j]);
      add_matvec_t<T>(nullptr, dp, UT, u, u, dh.data());  // dh(t-1) = dp @ U^T
    }
    for (int64_t j = 0; j < u; ++j) dh0[b * u + j] = dh[j];
  }
}


// ---- GRU, Keras's reset_after=True, gates z, r, h ----------------------------------------------
//   rec = h_prev @ U + b_rec;  z = sig(xz + rec_z);  r = sig(xr + rec_r);  n = tanh(xh + r * rec_h)
//   h = z * h_prev + (1 - z) * n.   G keeps (z, r, n, rec_h) per step for the backward pass.
template <typename T>
void gru_forward_rows(int64_t b0, int64_t b1, int64_t steps, int64_t u, const T* xproj, const T* U,
                      const T* brec, const T* h0, T* H, T* G) {
  const int64_t g3 = 3 * u;
  std::vector<T> rec(g3);
  for (int64_t b = b0; b < b1; ++b) {
    const T* h_prev = h0 + b * u;
    for (int64_t t = 0; t < steps; ++t) {
      const int64_t row = b * steps + t;
      const T* xp = xproj + row * g3;
      add_matvec<T, kSmall>(brec, h_prev, U, u, g3, rec.data());  // rec = b_rec + h_prev @ U
      T* g = G + row * 4 * u;
      T* h = H + row * u;
#pragma omp simd
      for (int64_t j = 0; j < u; ++j) {
        const T z = sigmoid(xp[j] + rec[j]);
        const T r = sigmoid(xp[u + j] + rec[u + j]);
        const T n = tanh_(xp[2 * u + j] + r * rec[2 * u + j]);
        g[j] = z; g[u + j] = r; g[2 * u + j] = n; g[3 * u + j] = rec[2 * u + j];
        h[j] = z * h_prev[j] + (T(1) - z) * n;
      }
      h_prev = h;
    }
  }
}

template <typename T>
void gru_backward_rows(int64_t b0, int64_t b1, int64_t steps, int64_t u, const T* dH, const T* dhT,
                       const T* UT, const T* h0, const T* H, const T* G, T* DX, T* DREC, T* dh0) {
  const int64_t g3 = 3 * u;
  std::vector<T> dh(u), direct(u);
  for (int64_t b = b0; b < b1; ++b) {
    for (int64_t j = 0; j < u; ++j) dh[j] = dhT[b * u + j];
    for (int64_t t = steps - 1; t >= 0; --t) {
      const int64_t row = b * steps + t;
      const T* g = G + row * 4 * u;
      const T* h_prev = t > 0 ? H + (row - 1) * u : h0 + b * u;
      const T* dh_out = dH + row * u;
      T* dx = DX + row * g3;
      T* dr = DREC + row * g3;
#pragma omp simd
      for (int64_t j = 0; j < u; ++j) {
        const T z = g[j], r = g[u + j], n = g[2 * u + j], rech = g[3 * u + j];
        const T d = dh[j] + dh_out[j];
        const T dn = d * (T(1) - z) * (T(1) - n * n);   // through tanh
        const T dz = d * (h_prev[j] - n) * z * (T(1) - z);
        const T drr = dn * rech * r * (T(1) - r);
        dx[j] = dz; dx[u + j] = drr; dx[2 * u + j] = dn;
        dr[j] = dz; dr[u + j] = drr; dr[2 * u + j] = dn * r;
        direct[j] = d * z;
      }
      add_matvec_t<T>(direct.data(), dr, UT, g3, u, dh.data());  // dh(t-1) = direct + drec @ U^T
    }
    for (int64_t j = 0; j < u; ++j) dh0[b * u + j] = dh[j];
  }
}

}  // namespace

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


// ---- shared by the layer kernels (lstm_layer_*, rnn_layer_*, gru_layer_*) ----------------------
namespace {

// Whether a layer kernel projects x_t @ W inside its time loop: while W and U together fit in
// ~2/3 of L1 (up to 32 inputs and units for an LSTM). Beyond that, per step, W would stream from
// L2 for every pair of rows, and one GEMM first is faster (benchmarks/kernel_speed.py, the LSTM
// forward alone: even at 64 / 64, 16-21 % faster at 128 / 128).
bool project_in_loop(int64_t in, int64_t u, int64_t gates) {
  return (in + u) * gates * u * static_cast<int64_t>(sizeof(float)) <= 32 * 1024;
}

void check_layer(const char* name, const at::Tensor& x, int64_t u, const at::Tensor& xmask) {
  TORCH_CHECK(fast_layer(x.size(2), u) && x.scalar_type() == at::kFloat, name, ": float32, sizes % 16");
  TORCH_CHECK(x.dim() == 3 && x.is_contiguous(), name, ": x must be contiguous (batch, steps, in)");
  TORCH_CHECK(xmask.numel() == 0 || (xmask.sizes() == at::IntArrayRef{x.size(0), x.size(2)} &&
                                     xmask.is_contiguous() && xmask.scalar_type() == at::kFloat),
              name, ": xmask must be empty or (batch, in) float32");
}

// check_layer for either mode (row-token mode: x the table, checked by RowTokens).
void check_inputs(const char* name, const at::Tensor& x, int64_t u, const at::Tensor& xmask, const RowTokens& rt) {
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
void check_backward(const char* name, const at::Tensor& x, int64_t u, const at::Tensor& xmask, const at::Tensor& H,
                    const at::Tensor& inv, const RowTokens& rt) {
  if (!inv.numel()) return check_inputs(name, x, u, xmask, rt);
  TORCH_CHECK(x.dim() == 2 && x.is_contiguous() && fast_layer(x.size(1), u) && x.scalar_type() == at::kFloat &&
                  H.scalar_type() == at::kFloat,
              name, ": token mode takes the distinct tokens' rows (distinct, in), float32, sizes % 16");
  TORCH_CHECK(inv.scalar_type() == at::kLong && inv.is_contiguous() && inv.dim() == 2 &&
                  inv.size(0) == H.size(0) && inv.size(1) == H.size(1) && xmask.numel() == 0,
              name, ": token mode takes inv (batch, steps) contiguous int64 and no dropout mask");
}

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

// Token mode's (dx, dW) from each distinct token's summed input-projection gradients Gc
// (distinct, n): the gradient into the tokens' rows Gc @ W^T and dW = rows^T @ Gc.
std::pair<at::Tensor, at::Tensor> token_grads(const at::Tensor& rows, const at::Tensor& WT, const at::Tensor& Gc) {
#if defined(__AVX512F__)
  return {rows_matmul(Gc, WT, at::Tensor()), rows_outer(rows, Gc)};
#else
  TORCH_CHECK(false, "token mode needs the AVX-512 layer kernels");
#endif
}

// The projection b + (x * mask) @ W as one GEMM, for weights that outgrow L1; fills XM if kept.
at::Tensor project(const at::Tensor& x, const at::Tensor& W, const at::Tensor& bias, const at::Tensor& xmask,
                   at::Tensor& XM) {
  if (XM.numel()) at::mul_out(XM, x, xmask.unsqueeze(1));
  auto xm = XM.numel() ? XM : xmask.numel() ? x * xmask.unsqueeze(1) : x;
  auto flat = xm.reshape({-1, x.size(2)});
  auto proj = bias.numel() ? at::addmm(bias, flat, W) : at::mm(flat, W);
  return proj.view({x.size(0), x.size(1), W.size(1)});
}

#if defined(__AVX512F__)
// The inputs of rows [b0, b1) for a layer kernel's loop: the dropout mask (if any) goes into XM
// when training keeps it, else into scratch rows allocated here in `storage`.
StepInputs step_inputs(const at::Tensor& x, const at::Tensor& xmask, const at::Tensor& XM, int64_t b0, int64_t b1,
                       std::vector<float>& storage) {
  const bool masked = xmask.numel() > 0, kept = XM.numel() > 0;
  return {b0, x.size(1), x.size(2), x.data_ptr<float>(), masked ? xmask.data_ptr<float>() : nullptr,
          kept ? XM.data_ptr<float>() : nullptr,
          masked && !kept ? aligned_floats(storage, (b1 - b0) * x.size(2)) : nullptr};
}

// What a layer kernel's loop reads for rows [b0, b1): x (masked on the way in) when it projects in
// the loop, else the projections that project() made first (bias and mask applied).
StepInputs layer_inputs(bool in_loop, const at::Tensor& x, const at::Tensor& xmask, const at::Tensor& XM,
                        const at::Tensor& proj, int64_t b0, int64_t b1, std::vector<float>& storage) {
  if (in_loop) return step_inputs(x, xmask, XM, b0, b1, storage);
  return {b0, x.size(1), proj.size(2), proj.data_ptr<float>()};
}

// The same in row-token mode: x is the embedding table; each block of rows gets its distinct
// tokens' projections (n = G u wide) in `storage` first (StepInputs::begin_block).
StepInputs row_inputs(const RowTokens& rt, const at::Tensor& x, const at::Tensor& xmask, const at::Tensor& W,
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
StepInputs any_inputs(const RowTokens& rt, bool in_loop, const at::Tensor& x, const at::Tensor& W,
                      const at::Tensor& bias, const at::Tensor& xmask, const at::Tensor& XM, const at::Tensor& proj,
                      int64_t b0, int64_t b1, std::vector<float>& storage) {
  if (rt.on()) return row_inputs(rt, x, xmask, W, bias, b0, b1, storage);
  return layer_inputs(in_loop, x, xmask, XM, proj, b0, b1, storage);
}
#endif

}  // namespace

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

// Whether the float32 SimpleRNN / GRU sequence kernels take their vectorised path.
bool fast_sequence(const at::Tensor& t, int64_t u) {
#if defined(__AVX512F__)
  return t.scalar_type() == at::kFloat && fast_shape(u);
#else
  return false;
#endif
}

// sum over steps of h_(t-1)^T d_t (h_(-1) = h0): a recurrent weight gradient as GEMMs on contiguous
// memory, no shifted copy of H: H's flat rows against D's next rows, less the B - 1 pairs that
// cross from one sequence into the next, plus h0 against each sequence's first step.
at::Tensor recurrent_weight_grad(const at::Tensor& h0, const at::Tensor& H, const at::Tensor& D) {
  const int64_t batch = H.size(0), steps = H.size(1), u = H.size(2), n = D.size(2), rows = batch * steps;
  auto Hf = H.reshape({rows, u});
  auto Df = D.reshape({rows, n});
  auto firsts = D.select(1, 0);
  auto grad = at::mm(h0.t(), firsts);
  if (rows > 1) grad.addmm_(Hf.slice(0, 0, rows - 1).t(), Df.slice(0, 1, rows));
  if (batch > 1) grad.addmm_(H.select(1, steps - 1).slice(0, 0, batch - 1).t(), firsts.slice(0, 1, batch), 1, -1);
  return grad;
}

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

void register_train_ops(pybind11::module& m);  // train_ops.cpp

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  register_train_ops(m);
  m.def("lstm_forward", &lstm_forward, "fused LSTM forward over a whole sequence");
  m.def("lstm_backward", &lstm_backward, "fused LSTM backward over a whole sequence");
  m.def("lstm_layer_forward", &lstm_layer_forward, "a whole LSTM layer from its inputs (float32)");
  m.def("lstm_layer_backward", &lstm_layer_backward, "its backward, weight gradients included");
  m.def("fast_layer", &fast_layer, "whether the float32 layer kernels run for (in, u) here");
  m.def("rnn_forward", &rnn_forward, "fused SimpleRNN (tanh) forward over a whole sequence");
  m.def("rnn_backward", &rnn_backward, "fused SimpleRNN (tanh) backward over a whole sequence");
  m.def("gru_forward", &gru_forward, "fused GRU (reset_after) forward over a whole sequence");
  m.def("gru_backward", &gru_backward, "fused GRU (reset_after) backward over a whole sequence");
  m.def("rnn_layer_forward", &rnn_layer_forward, "a whole SimpleRNN (tanh) layer from its inputs (float32)");
  m.def("rnn_layer_backward", &rnn_layer_backward, "its backward, weight gradients included");
  m.def("gru_layer_forward", &gru_layer_forward, "a whole GRU (reset_after) layer from its inputs (float32)");
  m.def("gru_layer_backward", &gru_layer_backward, "its backward, weight gradients included");
  m.def("token_projection", &token_projection, "token mode's projections of the distinct tokens' rows");
  m.def("token_layer_forward", &token_layer_forward, "inference of a layer on token ids via a projection table");
}
