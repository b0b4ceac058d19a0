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
#include <vector>

namespace {

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

int64_t grain(int64_t batch) {
  const int64_t threads = at::get_num_threads();
  return std::max<int64_t>(1, (batch + threads - 1) / threads);
}


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


std::vector<at::Tensor> rnn_forward(at::Tensor xproj, at::Tensor U, at::Tensor h0) {
  const int64_t batch = xproj.size(0), steps = xproj.size(1), u = U.size(0);
  auto H = at::empty({batch, steps, u}, xproj.options());
  AT_DISPATCH_FLOATING_TYPES(xproj.scalar_type(), "rnn_forward", [&] {
    at::parallel_for(0, batch, grain(batch), [&](int64_t b0, int64_t b1) {
      rnn_forward_rows<scalar_t>(b0, b1, steps, u, xproj.data_ptr<scalar_t>(), U.data_ptr<scalar_t>(),
                                 h0.data_ptr<scalar_t>(), H.data_ptr<scalar_t>());
    });
  });
  return {H};
}

std::vector<at::Tensor> rnn_backward(at::Tensor dH, at::Tensor dhT, at::Tensor U, at::Tensor H) {
  const int64_t batch = H.size(0), steps = H.size(1), u = U.size(0);
  auto DP = at::empty_like(H);
  auto dh0 = at::empty({batch, u}, H.options());
  auto UT = U.t().contiguous();
  AT_DISPATCH_FLOATING_TYPES(H.scalar_type(), "rnn_backward", [&] {
    at::parallel_for(0, batch, grain(batch), [&](int64_t b0, int64_t b1) {
      rnn_backward_rows<scalar_t>(b0, b1, steps, u, dH.data_ptr<scalar_t>(), dhT.data_ptr<scalar_t>(),
                                  UT.data_ptr<scalar_t>(), H.data_ptr<scalar_t>(), DP.data_ptr<scalar_t>(),
                                  dh0.data_ptr<scalar_t>());
    });
  });
  return {DP, dh0};
}


std::vector<at::Tensor> gru_forward(at::Tensor xproj, at::Tensor U, at::Tensor brec, at::Tensor h0) {
  const int64_t batch = xproj.size(0), steps = xproj.size(1), u = U.size(0);
  auto H = at::empty({batch, steps, u}, xproj.options());
  auto G = at::empty({batch, steps, 4 * u}, xproj.options());
  AT_DISPATCH_FLOATING_TYPES(xproj.scalar_type(), "gru_forward", [&] {
    at::parallel_for(0, batch, grain(batch), [&](int64_t b0, int64_t b1) {
      gru_forward_rows<scalar_t>(b0, b1, steps, u, xproj.data_ptr<scalar_t>(), U.data_ptr<scalar_t>(),
                                 brec.data_ptr<scalar_t>(), h0.data_ptr<scalar_t>(), H.data_ptr<scalar_t>(),
                                 G.data_ptr<scalar_t>());
    });
  });
  return {H, G};
}

std::vector<at::Tensor> gru_backward(at::Tensor dH, at::Tensor dhT, at::Tensor U, at::Tensor h0,
                                     at::Tensor H, at::Tensor G) {
  const int64_t batch = H.size(0), steps = H.size(1), u = U.size(0);
  auto DX = at::empty({batch, steps, 3 * u}, H.options());
  auto DREC = at::empty({batch, steps, 3 * u}, H.options());
  auto dh0 = at::empty({batch, u}, H.options());
  auto UT = U.t().contiguous();
  AT_DISPATCH_FLOATING_TYPES(H.scalar_type(), "gru_backward", [&] {
    at::parallel_for(0, batch, grain(batch), [&](int64_t b0, int64_t b1) {
      gru_backward_rows<scalar_t>(b0, b1, steps, u, dH.data_ptr<scalar_t>(), dhT.data_ptr<scalar_t>(),
                                  UT.data_ptr<scalar_t>(), h0.data_ptr<scalar_t>(), H.data_ptr<scalar_t>(),
                                  G.data_ptr<scalar_t>(), DX.data_ptr<scalar_t>(), DREC.data_ptr<scalar_t>(),
                                  dh0.data_ptr<scalar_t>());
    });
  });
  return {DX, DREC, dh0};
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("lstm_forward", &lstm_forward, "fused LSTM forward over a whole sequence");
  m.def("lstm_backward", &lstm_backward, "fused LSTM backward over a whole sequence");
  m.def("rnn_forward", &rnn_forward, "fused SimpleRNN (tanh) forward over a whole sequence");
  m.def("rnn_backward", &rnn_backward, "fused SimpleRNN (tanh) backward over a whole sequence");
  m.def("gru_forward", &gru_forward, "fused GRU (reset_after) forward over a whole sequence");
  m.def("gru_backward", &gru_backward, "fused GRU (reset_after) backward over a whole sequence");
}
