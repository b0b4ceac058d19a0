// The extension's entry points, one file per cell (lstm.cpp, simple_rnn.cpp, gru.cpp) and token
// mode (token.cpp), for bindings.cpp. Each function's comment is at its definition.
#pragma once
#include <ATen/ATen.h>

#include <string>
#include <vector>

namespace textrnn {

std::vector<at::Tensor> lstm_forward(at::Tensor xproj, at::Tensor U, at::Tensor h0, at::Tensor c0);
std::vector<at::Tensor> lstm_backward(at::Tensor dH, at::Tensor dhT, at::Tensor dcT, at::Tensor U,
                                      at::Tensor c0, at::Tensor C, at::Tensor G);
std::vector<at::Tensor> lstm_layer_forward(at::Tensor x, at::Tensor W, at::Tensor bias, at::Tensor U,
                                           at::Tensor h0, at::Tensor c0, bool keep, at::Tensor starts,
                                           at::Tensor ends, at::Tensor xmask, std::vector<at::Tensor> tokens);
std::vector<at::Tensor> lstm_layer_backward(at::Tensor x, at::Tensor W, at::Tensor U, at::Tensor h0,
                                            at::Tensor c0, at::Tensor H, at::Tensor C, at::Tensor G,
                                            at::Tensor dH, at::Tensor dhT, at::Tensor dcT, at::Tensor starts,
                                            at::Tensor ends, at::Tensor xmask, at::Tensor inv,
                                            std::vector<at::Tensor> tokens);
std::vector<at::Tensor> rnn_forward(at::Tensor xproj, at::Tensor U, at::Tensor h0);
std::vector<at::Tensor> rnn_backward(at::Tensor dH, at::Tensor dhT, at::Tensor U, at::Tensor h0, at::Tensor H);
std::vector<at::Tensor> rnn_layer_forward(at::Tensor x, at::Tensor W, at::Tensor bias, at::Tensor U, at::Tensor h0,
                                          bool keep, at::Tensor xmask, std::vector<at::Tensor> tokens);
std::vector<at::Tensor> rnn_layer_backward(at::Tensor x, at::Tensor W, at::Tensor U, at::Tensor h0, at::Tensor H,
                                           at::Tensor dH, at::Tensor dhT, at::Tensor xmask, at::Tensor inv,
                                           std::vector<at::Tensor> tokens);
std::vector<at::Tensor> gru_forward(at::Tensor xproj, at::Tensor U, at::Tensor brec, at::Tensor h0);
std::vector<at::Tensor> gru_backward(at::Tensor dH, at::Tensor dhT, at::Tensor U, at::Tensor h0,
                                     at::Tensor H, at::Tensor G);
std::vector<at::Tensor> gru_layer_forward(at::Tensor x, at::Tensor W, at::Tensor bias, at::Tensor U, at::Tensor brec,
                                          at::Tensor h0, bool keep, at::Tensor xmask, std::vector<at::Tensor> tokens);
std::vector<at::Tensor> gru_layer_backward(at::Tensor x, at::Tensor W, at::Tensor U, at::Tensor h0, at::Tensor H,
                                           at::Tensor G, at::Tensor dH, at::Tensor dhT, at::Tensor xmask,
                                           at::Tensor inv, std::vector<at::Tensor> tokens);
std::vector<at::Tensor> token_layer_forward(const std::string& cell, at::Tensor ids, at::Tensor table, at::Tensor U,
                                            at::Tensor brec, at::Tensor h0, at::Tensor c0, at::Tensor starts,
                                            at::Tensor ends, bool keep);
at::Tensor token_projection(at::Tensor rows, at::Tensor W, at::Tensor bias);

}  // namespace textrnn
