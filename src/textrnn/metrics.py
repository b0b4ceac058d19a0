"""Keras's path `keras.metrics` (`from keras.metrics import AUC`): Keras's metrics
(textrnn.training.losses) beside textrnn's classification report (textrnn.training.metrics), the
same objects as on those paths."""

from textrnn.training.losses import (  # noqa: F401 - Keras's names
    AUC,
    LOSS_METRICS,
    BinaryAccuracy,
    CategoricalAccuracy,
    F1Score,
    FalseNegatives,
    FalsePositives,
    FBetaScore,
    Precision,
    Recall,
    RootMeanSquaredError,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
    TrueNegatives,
    TruePositives,
    binary_accuracy,
    categorical_accuracy,
    sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    top_k_categorical_accuracy,
)
from textrnn.training.metrics import classification_report, log_loss, probabilities_to_labels  # noqa: F401

# the metric classes named as Keras's loss classes (keras.metrics.MeanSquaredError, ...)
MeanSquaredError = LOSS_METRICS["MeanSquaredError"]
MeanAbsoluteError = LOSS_METRICS["MeanAbsoluteError"]
BinaryCrossentropy = LOSS_METRICS["BinaryCrossentropy"]
CategoricalCrossentropy = LOSS_METRICS["CategoricalCrossentropy"]
SparseCategoricalCrossentropy = LOSS_METRICS["SparseCategoricalCrossentropy"]
