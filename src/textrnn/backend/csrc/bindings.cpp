// The Python module: every entry point of the kernel files and train_ops.cpp.
#include <torch/extension.h>

#include "common.h"
#include "kernels.h"

void register_train_ops(pybind11::module& m);  // train_ops.cpp

using namespace textrnn;

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
