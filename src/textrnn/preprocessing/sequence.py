"""`keras.preprocessing.sequence.pad_sequences`."""

from textrnn.data.text import pad_sequences

__all__ = ["pad_sequences"]
