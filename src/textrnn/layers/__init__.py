"""Keras-compatible layers: `from textrnn.layers import LSTM, Embedding, ...`."""

from textrnn.layers.base import Layer
from textrnn.layers.core import Activation, Dense, Dropout, SpatialDropout1D
from textrnn.layers.embedding import Embedding
from textrnn.layers.pooling import GlobalAveragePooling1D, GlobalMaxPooling1D
from textrnn.layers.recurrent import GRU, LSTM, RNN, SimpleRNN
from textrnn.layers.wrappers import Bidirectional

__all__ = ["GRU", "LSTM", "RNN", "Activation", "Bidirectional", "Dense", "Dropout", "Embedding",
           "GlobalAveragePooling1D", "GlobalMaxPooling1D", "Layer", "SimpleRNN", "SpatialDropout1D"]
