"""`keras.utils` as text-RNN code uses it: pad_sequences, to_categorical, set_random_seed,
text_dataset_from_directory, PyDataset (Keras 2's Sequence)."""

from __future__ import annotations

import random

import numpy as np
import torch

from textrnn.data.text import pad_sequences
from textrnn.data.text_dataset import text_dataset_from_directory
from textrnn.errors import ConfigError
from textrnn.training.batch_source import PyDataset, Sequence

__all__ = ["PyDataset", "Sequence", "pad_sequences", "set_random_seed", "text_dataset_from_directory",
           "to_categorical"]


def to_categorical(y, num_classes: int | None = None, dtype: str = "float32") -> np.ndarray:
    """One-hot rows for integer class ids, as keras.utils.to_categorical."""
    ids = np.asarray(y, dtype="int64")
    shape = ids.shape[:-1] if ids.ndim > 1 and ids.shape[-1] == 1 else ids.shape
    ids = ids.reshape(-1)
    if ids.size and ids.min() < 0:
        raise ConfigError(f"to_categorical: class ids must be >= 0, got {int(ids.min())}")
    n = int(num_classes) if num_classes is not None else (int(ids.max()) + 1 if ids.size else 0)
    if ids.size and ids.max() >= n:
        raise ConfigError(f"to_categorical: class id {int(ids.max())} >= num_classes {n}")
    out = np.zeros((ids.size, n), dtype=dtype)
    out[np.arange(ids.size), ids] = 1
    return out.reshape(*shape, n)


def set_random_seed(seed: int) -> None:
    """Seed Python, NumPy and torch at once, as keras.utils.set_random_seed."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
