"""Keras-style dataset loaders: `from textrnn.datasets import imdb; imdb.load_data(num_words=10000)`."""

from textrnn.data import imdb

__all__ = ["imdb"]
