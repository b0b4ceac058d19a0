"""Keras 2's module path `keras.layers.merge`, for code that still imports from it."""

from textrnn.layers.merging import *  # noqa: F403
from textrnn.layers.merging import __all__  # noqa: F401
