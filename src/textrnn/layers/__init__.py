"""Keras-compatible layers: `from textrnn.layers import LSTM, Embedding, ...`."""

from textrnn.layers.activation_layers import ELU, LeakyReLU, PReLU, ReLU, Softmax
from textrnn.layers.attention import AdditiveAttention, Attention, MultiHeadAttention
from textrnn.layers.base import Layer
from textrnn.layers.convolutional import AveragePooling1D, Conv1D, MaxPooling1D
from textrnn.layers.core import Activation, Dense, Dropout, Masking, SpatialDropout1D
from textrnn.layers.embedding import Embedding
from textrnn.layers.input_layer import Input, InputLayer
from textrnn.layers.lambda_layer import Lambda
from textrnn.layers.merging import (
    Add,
    Average,
    Concatenate,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    concatenate,
    maximum,
    minimum,
    multiply,
    subtract,
)
from textrnn.layers.normalization import BatchNormalization, LayerNormalization
from textrnn.layers.pooling import GlobalAveragePooling1D, GlobalMaxPooling1D
from textrnn.layers.recurrent import GRU, LSTM, CuDNNGRU, CuDNNLSTM, SimpleRNN
from textrnn.layers.recurrent_cells import GRUCell, LSTMCell, SimpleRNNCell
from textrnn.layers.reshaping import Flatten, Permute, RepeatVector, Reshape
from textrnn.layers.rnn import RNN, StackedRNNCells
from textrnn.layers.text_vectorization import TextVectorization
from textrnn.layers.wrappers import Bidirectional, TimeDistributed

# Keras's short names for the pooling layers: the same classes
GlobalMaxPool1D, GlobalAvgPool1D = GlobalMaxPooling1D, GlobalAveragePooling1D
MaxPool1D, AvgPool1D = MaxPooling1D, AveragePooling1D

__all__ = ["Activation", "Add", "AdditiveAttention", "Attention", "Average", "AveragePooling1D", "AvgPool1D",
           "BatchNormalization", "Bidirectional", "Concatenate", "Conv1D", "CuDNNGRU", "CuDNNLSTM", "Dense",
           "Dropout", "ELU", "Embedding", "Flatten", "GRU", "GRUCell", "GlobalAveragePooling1D",
           "GlobalAvgPool1D", "GlobalMaxPool1D", "GlobalMaxPooling1D", "Input", "InputLayer", "LSTM",
           "LSTMCell", "Lambda", "Layer", "LayerNormalization", "LeakyReLU", "Masking", "MaxPool1D",
           "MaxPooling1D", "Maximum", "Minimum", "MultiHeadAttention", "Multiply", "PReLU", "Permute", "RNN",
           "ReLU", "RepeatVector", "Reshape", "SimpleRNN", "SimpleRNNCell", "Softmax", "SpatialDropout1D",
           "StackedRNNCells", "Subtract", "TextVectorization", "TimeDistributed", "add", "average",
           "concatenate", "maximum", "minimum", "multiply", "subtract"]
