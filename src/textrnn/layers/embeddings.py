"""Keras 2's module path `keras.layers.embeddings`, for code that still imports from it."""

from textrnn.layers.embedding import Embedding

__all__ = ["Embedding"]
