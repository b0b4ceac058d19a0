// SimpleRNN (tanh) kernels: the generic row loops of the sequence kernels and the float32
// AVX-512 paths of the sequence and whole-layer kernels. simple_rnn.cpp and token.cpp run them.
#pragma once
#include "simd.h"

namespace textrnn {
namespace {  // internal to each file that includes it, as helpers of one file are

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

#if defined(__AVX512F__)
// ---- SimpleRNN and GRU float32 paths (AVX-512) ---------------------------------------------------
// As the LSTM's: rows in blocks of kRowBlock, time outer and the block's rows inner (one row's step
// is a latency chain; the other rows' steps fill the wait), two rows per matvec sharing every load
// of U, activations in vector registers. The sequence kernels (rnn_forward, gru_forward) take input
// projections made by one GEMM before the loop; the layer kernels (rnn_layer_forward,
// gru_layer_forward, below) make them inside it. The weight gradients are not summed step by step
// inside the loop (a rank-1 update of dU per step cost more than the rest of their backward): the
// layer kernels sum them per finished block of rows (LayerGrads), the sequence kernels with one
// GEMM after the loop (recurrent_weight_grad).

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
#endif

}  // namespace
}  // namespace textrnn
