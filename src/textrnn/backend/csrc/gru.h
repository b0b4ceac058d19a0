// GRU (Keras's reset_after=True) kernels: the generic row loops of the sequence kernels and the
// float32 AVX-512 paths of the sequence and whole-layer kernels. gru.cpp and token.cpp run them.
#pragma once
#include "simd.h"

namespace textrnn {
namespace {  // internal to each file that includes it, as helpers of one file are

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

#if defined(__AVX512F__)
// As SimpleRNN's (simple_rnn.h): rows in blocks, two rows per matvec, activations in registers.
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

}  // namespace
}  // namespace textrnn
