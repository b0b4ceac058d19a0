"""Public path kept: `textrnn.keras_io` is `textrnn.interop.keras_io`."""

from textrnn.interop.keras_io import *  # noqa: F401,F403
from textrnn.interop.keras_io import load_keras_model, save_keras_model  # noqa: F401
