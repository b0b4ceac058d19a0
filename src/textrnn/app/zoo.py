"""The lecture's models by name, each readable top to bottom.

Lecture settings: vocabulary 10,000 words, embedding dim 32, 500 words per review, state dim 32,
dropout 0.2 on the recurrent layers' inputs, Dense(1, sigmoid) on top.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from textrnn.errors import ConfigError
from textrnn.layers import GRU, LSTM, Bidirectional, Dense, Dropout, Embedding, GlobalMaxPooling1D, SimpleRNN
from textrnn.models import Sequential


@dataclass
class ZooConfig:
    vocab_size: int = 10000    # ids in use are < vocab_size (Embedding input_dim)
    embedding_dim: int = 32    # size of each word vector
    maxlen: int = 500          # words per review after padding / truncation
    units: int = 32            # state dim of each recurrent layer
    layers: int = 3            # depth of stacked-lstm (other models have one recurrent layer)
    dropout: float | None = None  # input dropout of the recurrent layers; None: the model's default
    word_dropout: bool = False  # bi-lstm-pool, bi-gru-pool: the embedding dropout drops whole words
    num_classes: int = 2       # 2: Dense(1, sigmoid); more: Dense(k, softmax)
    embedding_weights: np.ndarray | None = None  # start from this matrix (pretrained vectors)
    freeze_embedding: bool = False               # make the embedding non-trainable

    def to_json(self) -> dict:
        data = asdict(self)
        data.pop("embedding_weights")
        return data


def _embedding(c: ZooConfig, mask_zero: bool = False) -> Embedding:
    weights = None if c.embedding_weights is None else [c.embedding_weights]
    return Embedding(c.vocab_size, c.embedding_dim, input_length=c.maxlen, weights=weights,
                     trainable=not c.freeze_embedding, mask_zero=mask_zero)


def _head(c: ZooConfig) -> Dense:
    if c.num_classes == 2:
        return Dense(1, activation="sigmoid")
    return Dense(c.num_classes, activation="softmax")


def _drop(c: ZooConfig, default: float) -> float:
    return default if c.dropout is None else c.dropout


def simple_rnn(c: ZooConfig) -> Sequential:
    return Sequential([_embedding(c), SimpleRNN(c.units, dropout=_drop(c, 0.0)), _head(c)])


def lstm(c: ZooConfig) -> Sequential:
    return Sequential([_embedding(c), LSTM(c.units, dropout=_drop(c, 0.2)), _head(c)])


def stacked_lstm(c: ZooConfig) -> Sequential:
    model = Sequential([_embedding(c)])
    for i in range(c.layers):
        last = i == c.layers - 1
        model.add(LSTM(c.units, return_sequences=not last, dropout=_drop(c, 0.2)))
    model.add(_head(c))
    return model


def bi_lstm(c: ZooConfig) -> Sequential:
    return Sequential([_embedding(c), Bidirectional(LSTM(c.units, dropout=_drop(c, 0.2))), _head(c)])


def gru(c: ZooConfig) -> Sequential:
    return Sequential([_embedding(c), GRU(c.units, dropout=_drop(c, 0.2)), _head(c)])


def bi_gru(c: ZooConfig) -> Sequential:
    return Sequential([_embedding(c), Bidirectional(GRU(c.units, dropout=_drop(c, 0.2))), _head(c)])


def _pooled(c: ZooConfig, cell: type) -> Sequential:
    """The recipe's encoders (textrnn recipe): every time step of a bidirectional layer pooled by
    max, so the verdict can come from anywhere in the review rather than from the last state alone.
    Padding is masked and the model runs in length buckets: it reads each review without padding."""
    rate = _drop(c, 0.3)
    words = (None, None, 1) if c.word_dropout else None  # one draw per word: its whole vector or nothing
    model = Sequential([_embedding(c, mask_zero=True), Dropout(rate, noise_shape=words),
                        Bidirectional(cell(c.units, return_sequences=True)), GlobalMaxPooling1D(),
                        Dropout(rate), _head(c)])
    model.length_buckets = True
    return model


def bi_lstm_pool(c: ZooConfig) -> Sequential:
    return _pooled(c, LSTM)


def bi_gru_pool(c: ZooConfig) -> Sequential:
    return _pooled(c, GRU)


ZOO: dict[str, tuple[Callable[[ZooConfig], Sequential], str]] = {
    "simple-rnn": (simple_rnn, "Embedding -> SimpleRNN(32) -> Dense(1, sigmoid)"),
    "lstm": (lstm, "Embedding -> LSTM(32, dropout=0.2) -> Dense(1, sigmoid)"),
    "stacked-lstm": (stacked_lstm, "Embedding -> 3 x LSTM(32, dropout=0.2) -> Dense(1, sigmoid)"),
    "bi-lstm": (bi_lstm, "Embedding -> Bidirectional(LSTM(32, dropout=0.2)) -> Dense(1, sigmoid)"),
    "gru": (gru, "Embedding -> GRU(32, dropout=0.2) -> Dense(1, sigmoid)"),
    "bi-gru": (bi_gru, "Embedding -> Bidirectional(GRU(32, dropout=0.2)) -> Dense(1, sigmoid)"),
    "bi-lstm-pool": (bi_lstm_pool, "Embedding(mask_zero) -> Dropout(0.3) -> Bidirectional(LSTM(32, "
                     "return_sequences)) -> GlobalMaxPooling1D -> Dropout(0.3) -> Dense(1, sigmoid); "
                     "length buckets"),
    "bi-gru-pool": (bi_gru_pool, "Embedding(mask_zero) -> Dropout(0.3) -> Bidirectional(GRU(32, "
                    "return_sequences)) -> GlobalMaxPooling1D -> Dropout(0.3) -> Dense(1, sigmoid); "
                    "length buckets"),
}


def build(name: str, config: ZooConfig | None = None) -> Sequential:
    """Build the zoo model `name` (see ZOO) with `config` (the lecture's settings by default)."""
    if name not in ZOO:
        raise ConfigError(f"unknown model {name!r}; valid: {', '.join(ZOO)}")
    if config is not None and config.word_dropout and name not in ("bi-lstm-pool", "bi-gru-pool"):
        raise ConfigError(f"word dropout is an option of bi-lstm-pool and bi-gru-pool only, not of {name}")
    return ZOO[name][0](config or ZooConfig())
