// The LSTM's kernels (Keras's gate order i, f, c, o): the generic row loops of the sequence
// kernels, and the float32 AVX-512 paths (two rows at a time, gate math in vector registers) of
// the sequence and whole-layer kernels. lstm.cpp and token.cpp run them.
#pragma once
#include "simd.h"

namespace textrnn {
namespace {  // internal to each file that includes it, as helpers of one file are

// Forward for rows [b0, b1). gates_out stores the activated gates (i, f, g, o), needed by backward.
// Inlined into its caller, as it was when every kernel was one file (the generic path's stacked
// LSTM step was 1-2 % slower without: benchmarks/step_ab.py, 2026-12-07).
template <typename T>
[[gnu::always_inline]] inline void forward_rows(int64_t b0, int64_t b1, int64_t steps, int64_t u,
                                                const T* xproj, const T* U, const T* h0, const T* c0,
                                                T* H, T* C, T* G) {
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
[[gnu::always_inline]] inline void backward_rows(int64_t b0, int64_t b1, int64_t steps, int64_t u,
                                                 const T* dH, const T* dhT, const T* dcT, const T* UT,
                                                 const T* c0, const T* C, const T* G, T* DG, T* dh0,
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

#if defined(__AVX512F__)
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

// A whole LSTM layer forward from its inputs for rows [b0, b1): per step g = bias + x_t @ W + h @ U
// in registers (no (B, T, 4u) projection written to memory first), then the gates. Training
// keeps the activated gates G and cell states C for backward; inference (G = nullptr) keeps
// nothing; rows in blocks of kRowBlock (simd.h).
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
#endif

}  // namespace
}  // namespace textrnn
