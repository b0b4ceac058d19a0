"""Losses and metrics with Keras's conventions."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from textrnn.errors import ConfigError

EPSILON = 1e-7  # keras.backend.epsilon(): predictions are clipped to [ε, 1 - ε] in the loss


def binary_crossentropy(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    y_pred = y_pred.reshape(y_true.shape[0], -1)
    y_true = y_true.reshape(y_pred.shape).to(y_pred.dtype)
    p = y_pred.clamp(EPSILON, 1 - EPSILON)
    return F.binary_cross_entropy(p, y_true)


def _class_probabilities(y_pred: torch.Tensor) -> torch.Tensor:
    # Keras (from_logits=False) renormalises the probabilities and clips them before the log.
    return (y_pred / y_pred.sum(dim=-1, keepdim=True)).clamp(EPSILON, 1 - EPSILON)


def sparse_categorical_crossentropy(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """Class ids y_true (..., ) against probabilities (..., classes): one per row, or per time step
    of a sequence output."""
    p = _class_probabilities(y_pred).reshape(-1, y_pred.shape[-1])
    return F.nll_loss(torch.log(p), y_true.reshape(-1).long())


def categorical_crossentropy(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """One-hot (or soft) targets against probabilities, summed over the classes, averaged over the
    rest (rows and time steps)."""
    return -(y_true.reshape(y_pred.shape) * torch.log(_class_probabilities(y_pred))).sum(-1).mean()


def mean_squared_error(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    return (y_pred - y_true.reshape(y_pred.shape)).square().mean()


def mean_absolute_error(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    return (y_pred - y_true.reshape(y_pred.shape)).abs().mean()


def binary_accuracy(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    y_pred = y_pred.reshape(y_true.shape[0], -1)
    return ((y_pred > 0.5).to(y_pred.dtype) == y_true.reshape(y_pred.shape)).float().mean()


def sparse_categorical_accuracy(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    return (y_pred.argmax(dim=-1).reshape(-1) == y_true.reshape(-1).long()).float().mean()


def categorical_accuracy(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    return (y_pred.argmax(dim=-1) == y_true.reshape(y_pred.shape).argmax(dim=-1)).float().mean()


def accuracy_by_shape(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """"accuracy" beside a loss that names no kind of label (Keras's rule): one output is a binary
    probability, targets of the output's shape are one-hot, others are class ids."""
    if y_pred.shape[-1] == 1:
        return binary_accuracy(y_true, y_pred)
    if y_true.numel() == y_pred.numel():
        return categorical_accuracy(y_true, y_pred)
    return sparse_categorical_accuracy(y_true, y_pred)


LOSSES = {
    "binary_crossentropy": (binary_crossentropy, binary_accuracy),
    "sparse_categorical_crossentropy": (sparse_categorical_crossentropy, sparse_categorical_accuracy),
    "categorical_crossentropy": (categorical_crossentropy, categorical_accuracy),
    "mean_squared_error": (mean_squared_error, accuracy_by_shape),
    "mean_absolute_error": (mean_absolute_error, accuracy_by_shape),
}
ALIASES = {"mse": "mean_squared_error", "mae": "mean_absolute_error"}
ACCURACY_NAMES = ("acc", "accuracy")


def get(loss: str):
    """(loss function, matching accuracy metric) for a Keras loss name."""
    name = ALIASES.get(loss, loss)
    if name not in LOSSES:
        raise ConfigError(f"unknown loss {loss!r}; valid: {', '.join([*LOSSES, *ALIASES])}")
    return LOSSES[name]
