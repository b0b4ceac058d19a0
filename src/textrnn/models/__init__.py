"""The models: Sequential (structure, config, saving, summary), the functional Model, and
load_model. `textrnn.models` is the public path, as `keras.models` is."""

from textrnn.models.functional import Model
from textrnn.models.sequential import (
    CONFIG_FILE,
    VOCAB_FILE,
    WEIGHTS_FILE,
    Sequential,
    clone_model,
    load_model,
    load_vocabulary_file,
    model_from_json,
)
from textrnn.serialization import load_weights_file, read_json

__all__ = ["CONFIG_FILE", "VOCAB_FILE", "WEIGHTS_FILE", "Model", "Sequential", "clone_model", "load_model",
           "load_vocabulary_file", "load_weights_file", "model_from_json", "read_json"]
