"""Keras's path `keras.metrics` (`from keras.metrics import AUC`): Keras's metrics
(textrnn.training.losses) beside textrnn's classification report (textrnn.training.metrics), the
same objects as on those paths."""

from textrnn.training.losses import (  # noqa: F401 - Keras's names
    AUC,
    BinaryAccuracy,
    CategoricalAccuracy,
    F1Score,
    FBetaScore,
    Precision,
    Recall,
    SparseCategoricalAccuracy,
    binary_accuracy,
    categorical_accuracy,
    sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    top_k_categorical_accuracy,
)
from textrnn.training.metrics import classification_report, log_loss, probabilities_to_labels  # noqa: F401
