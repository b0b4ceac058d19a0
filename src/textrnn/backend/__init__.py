"""The compute layer: how a recurrent layer's sequence is run. `sequence.run_sequence` is the one
place that picks a path (textrnn's compiled kernels, PyTorch's fused kernels, or the reference step
loop) and declines cleanly to the next; `kernels` loads the C++ extension (csrc/) and wraps it in
autograd Functions. Nothing here knows about layers or models."""

from typing import Any

import numpy as np

from textrnn.backend.keras_backend import *  # noqa: F403 - Keras 2's K.dot, K.sum, ... for layers' call
from textrnn.backend.keras_backend import __all__ as _keras_functions
from textrnn.naming import clear_session  # keras.backend.clear_session, for `import textrnn as keras`

__all__ = ["clear_session", "get_value", "set_value", *_keras_functions]


def get_value(x: Any) -> Any:
    """Keras's `backend.get_value`: a value as NumPy (Keras 2 code reads
    `get_value(model.optimizer.lr)`)."""
    return np.asarray(x.detach().cpu() if hasattr(x, "detach") else x)


def set_value(x: Any, value: Any) -> None:
    """Keras's `backend.set_value`: `set_value(model.optimizer.lr, 1e-4)` sets the rate."""
    x.assign(value)
