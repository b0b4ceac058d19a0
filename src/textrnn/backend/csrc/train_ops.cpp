// The small per-step operations around the recurrent kernels that PyTorch runs as several passes
// over memory or ops: the embedding table's gradient, the optimizers' updates and the sigmoid
// head's loss and gradient (for the direct step), and the token modes' distinct ids (and the
// table's gradient from them: direct_step.py). Here each is one pass;
// on the lecture's 10,000 x 32 table (93 % of its weights) that is 2.3-2.6x faster than index_add_
// and the five foreach passes of the Python optimizers (benchmarks/kernel_speed.py).
#include <torch/extension.h>

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <tuple>
#include <vector>

namespace {

constexpr int64_t kGrain = 16384;  // elements per task: below this, threads cost more than they save

// Whether a and b are contiguous CPU tensors of one shape and dtype (the one-pass updates' inputs).
bool same_layout(const at::Tensor& a, const at::Tensor& b) {
  return a.sizes() == b.sizes() && a.scalar_type() == b.scalar_type() && a.is_contiguous() &&
         b.is_contiguous() && a.device().is_cpu() && b.device().is_cpu() &&
         (a.scalar_type() == at::kFloat || a.scalar_type() == at::kDouble);
}

// Whether every tensor list lines up with `params` (same_layout at each position).
bool all_same_layout(const std::vector<at::Tensor>& params,
                     std::initializer_list<const std::vector<at::Tensor>*> others) {
  for (const auto* other : others) {
    if (other->size() != params.size()) return false;
    for (size_t k = 0; k < params.size(); ++k)
      if (!same_layout(params[k], (*other)[k])) return false;
  }
  return true;
}

// out[ids[i]][c] += grad[i][c] for every i in order, columns [c0, c1) (restrict: the gradient and
// the table never overlap, so the column loop vectorises).
template <typename T>
void add_rows(T* __restrict out, const T* __restrict grad, const int64_t* __restrict ids, int64_t n,
              int64_t dim, int64_t c0, int64_t c1) {
  for (int64_t i = 0; i < n; ++i) {
    T* dst = out + ids[i] * dim;
    const T* src = grad + i * dim;
    for (int64_t c = c0; c < c1; ++c) dst[c] += src[c];
  }
}

}  // namespace

// The (rows, dim) gradient of an embedding table looked up at `ids` (N,) whose outputs got `grad`
// (N, dim): row ids[n] += grad[n]. Each thread owns a slice of the columns and walks every id in
// order, so each element is summed in the same order as a serial loop (deterministic, and the
// same sums as index_add_).
at::Tensor embedding_grad(at::Tensor ids, at::Tensor grad, int64_t rows) {
  TORCH_CHECK(ids.scalar_type() == at::kLong && ids.dim() == 1 && grad.dim() == 2 &&
                  grad.size(0) == ids.size(0),
              "embedding_grad: ids (N,) int64 and grad (N, dim)");
  ids = ids.contiguous();
  grad = grad.contiguous();
  const int64_t n = ids.size(0), dim = grad.size(1);
  auto out = at::zeros({rows, dim}, grad.options());
  const int64_t* id = ids.data_ptr<int64_t>();
  AT_DISPATCH_FLOATING_TYPES(grad.scalar_type(), "embedding_grad", [&] {
    const scalar_t* g = grad.data_ptr<scalar_t>();
    scalar_t* o = out.data_ptr<scalar_t>();
    constexpr int64_t kCols = 64 / sizeof(scalar_t);  // one cache line of a row per column block
    const int64_t blocks = (dim + kCols - 1) / kCols;
    // Split the columns over threads only for rows of 4+ cache lines: for the lecture's 32-wide
    // table one thread was faster (0.18 vs 0.23 ms), for 64 wide two were (0.5 vs 1.0 ms).
    const int64_t grain = dim * static_cast<int64_t>(sizeof(scalar_t)) >= 256 ? 1 : blocks;
    at::parallel_for(0, blocks, grain, [&](int64_t k0, int64_t k1) {
      add_rows<scalar_t>(o, g, id, n, dim, k0 * kCols, std::min(dim, k1 * kCols));
    });
  });
  return out;
}

// The distinct ids of `ids` (any shape, int64, each in [0, rows)) in order of first appearance,
// and each id's position among them (inverse, ids' shape): one pass with a marker per table row,
// for the direct step's token mode (a layer's input side computed once per distinct token).
std::tuple<at::Tensor, at::Tensor> distinct_tokens(at::Tensor ids, int64_t rows) {
  TORCH_CHECK(ids.scalar_type() == at::kLong && rows > 0 && rows < (int64_t{1} << 31),
              "distinct_tokens: int64 ids and a table of 1 .. 2^31 - 1 rows");
  ids = ids.contiguous();
  const int64_t n = ids.numel();
  const int64_t* id = ids.data_ptr<int64_t>();
  auto inverse = at::empty_like(ids);
  int64_t* inv = inverse.data_ptr<int64_t>();
  std::vector<int32_t> position(rows, -1);
  std::vector<int64_t> distinct;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t v = id[i];
    TORCH_CHECK(v >= 0 && v < rows, "distinct_tokens: id ", v, " outside the table's ", rows, " rows");
    int32_t& p = position[v];
    if (p < 0) {
      p = static_cast<int32_t>(distinct.size());
      distinct.push_back(v);
    }
    inv[i] = p;
  }
  auto out = at::empty({static_cast<int64_t>(distinct.size())}, ids.options());
  std::copy(distinct.begin(), distinct.end(), out.data_ptr<int64_t>());
  return {out, inverse};
}

// Each row's distinct ids, for the layer kernels' row-token mode: (tok (B, T): row b's distinct
// ids in order of first appearance in tok[b, :counts[b]], zeros after; pos (B, T): the position
// of ids[b, t] in that list; counts (B,)). ids (B, T) int64, each in [0, rows).
std::tuple<at::Tensor, at::Tensor, at::Tensor> row_tokens(at::Tensor ids, int64_t rows) {
  TORCH_CHECK(ids.scalar_type() == at::kLong && ids.dim() == 2 && rows > 0 && rows < (int64_t{1} << 31),
              "row_tokens: int64 ids (batch, steps) and a table of 1 .. 2^31 - 1 rows");
  ids = ids.contiguous();
  const int64_t batch = ids.size(0), steps = ids.size(1);
  auto tok = at::zeros_like(ids), pos = at::empty_like(ids), counts = at::empty({batch}, ids.options());
  const int64_t* id = ids.data_ptr<int64_t>();
  int64_t *tk = tok.data_ptr<int64_t>(), *ps = pos.data_ptr<int64_t>(), *ct = counts.data_ptr<int64_t>();
  std::vector<int32_t> seen(rows, -1), position(rows);  // seen[v]: the last row that had v
  for (int64_t b = 0; b < batch; ++b) {
    int32_t count = 0;
    for (int64_t t = 0; t < steps; ++t) {
      const int64_t v = id[b * steps + t];
      TORCH_CHECK(v >= 0 && v < rows, "row_tokens: id ", v, " outside the table's ", rows, " rows");
      if (seen[v] != b) {
        seen[v] = static_cast<int32_t>(b);
        position[v] = count;
        tk[b * steps + count++] = v;
      }
      ps[b * steps + t] = position[v];
    }
    ct[b] = count;
  }
  return {tok, pos, counts};
}

// The (rows, dim) gradient of the table from row-token mode's per-row gradients: grads[k][b, j]
// (each (B, T, dim)) belongs to row b's j-th distinct id tok[b, j], j < counts[b]; summed in order
// (row, position, k), one thread (see embedding_grad).
at::Tensor row_tokens_grad(at::Tensor tok, at::Tensor counts, std::vector<at::Tensor> grads, int64_t rows) {
  TORCH_CHECK(!grads.empty() && tok.dim() == 2 && tok.is_contiguous() && counts.is_contiguous(),
              "row_tokens_grad: tok (batch, steps), counts (batch,) and (batch, steps, dim) gradients");
  const int64_t batch = tok.size(0), steps = tok.size(1), dim = grads[0].size(2);
  for (const auto& g : grads)
    TORCH_CHECK(g.scalar_type() == at::kFloat && g.is_contiguous() && g.dim() == 3 && g.size(0) == batch &&
                    g.size(1) == steps && g.size(2) == dim,
                "row_tokens_grad: float32 (batch, steps, dim) gradients");
  auto out = at::zeros({rows, dim}, grads[0].options());
  float* o = out.data_ptr<float>();
  const int64_t *tk = tok.data_ptr<int64_t>(), *ct = counts.data_ptr<int64_t>();
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t j = 0; j < ct[b]; ++j) {
      float* __restrict dst = o + tk[b * steps + j] * dim;
      for (const auto& g : grads) {
        const float* __restrict src = g.data_ptr<float>() + (b * steps + j) * dim;
        for (int64_t c = 0; c < dim; ++c) dst[c] += src[c];
      }
    }
  return out;
}

// Keras's RMSprop on elements [i0, i1), one pass (restrict: the three arrays never overlap, so
// the loop vectorises):  v = rho v + (1 - rho) g^2;  w -= lr g / sqrt(v + eps)
template <typename T>
void rmsprop_range(T* __restrict w, T* __restrict v, const T* __restrict g, int64_t i0, int64_t i1,
                   T lr, T rho, T eps) {
  const T one_minus_rho = T(1) - rho;
  for (int64_t i = i0; i < i1; ++i) {
    const T vi = v[i] * rho + one_minus_rho * g[i] * g[i];
    v[i] = vi;
    w[i] -= lr * g[i] / std::sqrt(vi + eps);
  }
}

// Keras's Adam on elements [i0, i1) (alpha = lr sqrt(1 - b2^t) / (1 - b1^t), from the caller):
//   m += (g - m)(1 - b1);  v = b2 v + (1 - b2) g^2;  w -= alpha m / (sqrt(v) + eps)
template <typename T>
void adam_range(T* __restrict w, T* __restrict m, T* __restrict v, const T* __restrict g, int64_t i0,
                int64_t i1, T alpha, T b1, T b2, T eps) {
  const T one_minus_b1 = T(1) - b1, one_minus_b2 = T(1) - b2;
  for (int64_t i = i0; i < i1; ++i) {
    const T mi = m[i] + (g[i] - m[i]) * one_minus_b1;
    const T vi = v[i] * b2 + one_minus_b2 * g[i] * g[i];
    m[i] = mi;
    v[i] = vi;
    w[i] -= alpha * mi / (std::sqrt(vi) + eps);
  }
}

// Keras's RMSprop on every tensor, or nothing and false when one does not fit (the caller then
// takes PyTorch's ops): checked here, before any update, so a mismatch never leaves half a step.
bool rmsprop_step(std::vector<at::Tensor> params, std::vector<at::Tensor> grads,
                  std::vector<at::Tensor> velocities, double lr, double rho, double eps) {
  if (!all_same_layout(params, {&grads, &velocities})) return false;
  for (size_t k = 0; k < params.size(); ++k) {
    AT_DISPATCH_FLOATING_TYPES(params[k].scalar_type(), "rmsprop_step", [&] {
      scalar_t* w = params[k].data_ptr<scalar_t>();
      scalar_t* v = velocities[k].data_ptr<scalar_t>();
      const scalar_t* g = grads[k].data_ptr<scalar_t>();
      at::parallel_for(0, params[k].numel(), kGrain, [&](int64_t i0, int64_t i1) {
        rmsprop_range<scalar_t>(w, v, g, i0, i1, lr, rho, eps);
      });
    });
  }
  return true;
}

// Keras's Adam on every tensor, or nothing and false (as rmsprop_step).
bool adam_step(std::vector<at::Tensor> params, std::vector<at::Tensor> grads, std::vector<at::Tensor> ms,
               std::vector<at::Tensor> vs, double alpha, double beta_1, double beta_2, double eps) {
  if (!all_same_layout(params, {&grads, &ms, &vs})) return false;
  for (size_t k = 0; k < params.size(); ++k) {
    AT_DISPATCH_FLOATING_TYPES(params[k].scalar_type(), "adam_step", [&] {
      scalar_t* w = params[k].data_ptr<scalar_t>();
      scalar_t* m = ms[k].data_ptr<scalar_t>();
      scalar_t* v = vs[k].data_ptr<scalar_t>();
      const scalar_t* g = grads[k].data_ptr<scalar_t>();
      at::parallel_for(0, params[k].numel(), kGrain, [&](int64_t i0, int64_t i1) {
        adam_range<scalar_t>(w, m, v, g, i0, i1, alpha, beta_1, beta_2, eps);
      });
    });
  }
  return true;
}

// The loss side of a Dense(1, sigmoid) head under binary cross-entropy, for p = sigmoid(z) (B, 1)
// and labels y (B,): (mean loss, accuracy, d loss / dz (B, 1)), as the torch ops of
// losses.binary_crossentropy / binary_accuracy and their backward compute them (clamp p to
// [eps, 1 - eps]; BCE; (p > 0.5) == y; dz = where(eps <= p <= 1 - eps, (pc - y) / max((1 - pc) pc,
// 1e-12) / B, 0) (1 - p) p), one fused pass instead of ~20 small ops (0.1 ms a step). dz and the
// accuracy are the same floats (no fast-math here: every operation rounds as torch's does); the
// loss, only reported, may differ from torch's in the last bit (its log and its summation order).
#pragma GCC push_options
#pragma GCC optimize("no-fast-math")
std::tuple<double, double, at::Tensor> sigmoid_bce(at::Tensor p, at::Tensor y) {
  TORCH_CHECK(p.scalar_type() == at::kFloat && y.scalar_type() == at::kFloat && p.dim() == 2 &&
                  p.size(1) == 1 && y.numel() == p.size(0),
              "sigmoid_bce: p (B, 1) and y (B,) float32");
  p = p.contiguous();
  y = y.contiguous();
  const int64_t n = p.size(0);
  auto dz = at::empty_like(p);
  const float* pp = p.data_ptr<float>();
  const float* yy = y.data_ptr<float>();
  float* d = dz.data_ptr<float>();
  const float eps = static_cast<float>(1e-7), high = static_cast<float>(1.0 - 1e-7);
  float loss = 0.0f, correct = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    const float pi = pp[i], yi = yy[i];
    const float pc = std::min(std::max(pi, eps), high);
    loss += (yi - 1.0f) * std::max(std::log(1.0f - pc), -100.0f) - yi * std::max(std::log(pc), -100.0f);
    correct += ((pi > 0.5f ? 1.0f : 0.0f) == yi) ? 1.0f : 0.0f;
    float dp = (pc - yi) / std::max((1.0f - pc) * pc, 1e-12f);
    dp = dp / static_cast<float>(n);
    dp = (pi >= eps && pi <= high) ? dp : 0.0f;
    d[i] = dp * (1.0f - pi) * pi;
  }
  return {loss / static_cast<float>(n), correct / static_cast<float>(n), dz};
}
#pragma GCC pop_options

void register_train_ops(pybind11::module& m) {
  m.def("sigmoid_bce", &sigmoid_bce, "binary cross-entropy, accuracy and dloss/dz of a sigmoid output");
  m.def("distinct_tokens", &distinct_tokens, "the distinct ids in order of appearance, and each id's position");
  m.def("row_tokens", &row_tokens, "each row's distinct ids, their positions and counts");
  m.def("row_tokens_grad", &row_tokens_grad, "the table's gradient from row-token mode's per-row gradients");
  m.def("embedding_grad", &embedding_grad, "an embedding table's gradient, summed in id order");
  m.def("rmsprop_step", &rmsprop_step, "Keras's RMSprop update, one pass per tensor (false: not applied)");
  m.def("adam_step", &adam_step, "Keras's Adam update, one pass per tensor (false: not applied)");
}
