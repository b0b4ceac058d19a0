"""Keras 3's masked losses and metrics: where a model's output carries a mask (a sequence output
after an `Embedding(mask_zero=True)` or a `Masking` layer), the loss is the mean over the time steps
it keeps, sample-weighted (keras/src/losses/loss.py `apply_mask`: sum(loss x weight) / kept), and
a mean metric (accuracy, a loss as a metric) counts only those steps over the epoch
(MeanMetricWrapper). Both are computed on the kept steps taken as rows; sample weights per row
and time step (Keras 2's "temporal" mode) go the same way."""

from __future__ import annotations

from collections.abc import Callable

import torch

from textrnn.errors import DataError


def _kept_steps(y_true: torch.Tensor, y_pred: torch.Tensor, mask: torch.Tensor,
                sample_weight: torch.Tensor | None = None):
    """The labels, outputs and row weights of the time steps `mask` (rows, steps) keeps, a row each."""
    rows, steps = mask.shape
    keep = mask.reshape(-1).bool()
    y = y_true.reshape(rows * steps, -1)[keep]
    p = y_pred.reshape(rows * steps, *y_pred.shape[2:])[keep]
    w = None if sample_weight is None else sample_weight.reshape(rows, -1).expand(rows, steps).reshape(-1)
    return y, p, None if w is None else w[keep]


def masked_loss(loss: Callable, y_true: torch.Tensor, y_pred: torch.Tensor,
                sample_weight: torch.Tensor | None, mask: torch.Tensor | None) -> torch.Tensor:
    """`loss` over the steps `mask` keeps (all of them without one); 0 when it keeps none, as
    Keras's divide_no_nan gives. Sample weights per row and time step (rows, steps) weigh each
    step of a sequence output."""
    if sample_weight is not None and sample_weight.dim() == 2:
        if y_pred.dim() < 3 or y_pred.shape[:2] != sample_weight.shape:
            raise DataError(f"sample_weight of shape {tuple(sample_weight.shape)} weighs time steps; the "
                            f"output's shape is {tuple(y_pred.shape)} (give one number per sample)")
        if mask is None:
            mask = torch.ones_like(sample_weight, dtype=torch.bool)
    if mask is None:
        return loss(y_true, y_pred, sample_weight)
    y, p, w = _kept_steps(y_true, y_pred, mask, sample_weight)
    if len(p) == 0:
        return y_pred.sum() * 0.0
    return loss(y, p, w)


def masked_mean_sums(metric: Callable, y_true: torch.Tensor, y_pred: torch.Tensor,
                     mask: torch.Tensor | None) -> torch.Tensor:
    """A mean metric's two values per row of the batch: its sum over the steps `mask` keeps and
    their number (each divided by the rows, as the trainer sums values per row); their ratio over
    the epoch is Keras's value. Without a mask every step counts (one per row)."""
    rows = y_pred.shape[0]
    if mask is None:
        return torch.stack([metric(y_true, y_pred).float(), y_pred.new_ones(())])
    y, p, _ = _kept_steps(y_true, y_pred, mask)
    kept = len(p)
    if kept == 0:
        return y_pred.new_zeros(2)
    return torch.stack([metric(y, p).float() * kept, y_pred.new_tensor(float(kept))]) / rows
