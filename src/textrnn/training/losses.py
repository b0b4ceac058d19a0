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


def sparse_categorical_crossentropy(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    # Keras (from_logits=False) renormalises the probabilities and clips them before the log.
    p = y_pred / y_pred.sum(dim=-1, keepdim=True)
    p = p.clamp(EPSILON, 1 - EPSILON)
    return F.nll_loss(torch.log(p), y_true.reshape(-1).long())


def binary_accuracy(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    y_pred = y_pred.reshape(y_true.shape[0], -1)
    return ((y_pred > 0.5).to(y_pred.dtype) == y_true.reshape(y_pred.shape)).float().mean()


def sparse_categorical_accuracy(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    return (y_pred.argmax(dim=-1) == y_true.reshape(-1).long()).float().mean()


LOSSES = {
    "binary_crossentropy": (binary_crossentropy, binary_accuracy),
    "sparse_categorical_crossentropy": (sparse_categorical_crossentropy, sparse_categorical_accuracy),
}
ACCURACY_NAMES = ("acc", "accuracy")


def get(loss: str):
    """(loss function, matching accuracy metric) for a Keras loss name."""
    if loss not in LOSSES:
        raise ConfigError(f"unknown loss {loss!r}; valid: {', '.join(LOSSES)}")
    return LOSSES[loss]
