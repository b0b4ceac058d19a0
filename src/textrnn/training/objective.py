"""compile()'s loss, loss_weights and metrics for a model of several outputs, read as Keras 3 reads
them (keras/src/trainers/compile_utils.py):

- `loss`: one name for every output, a list in the outputs' order, or a dict by output name; an
  output whose loss is None is not trained (its labels may then be left out).
- `loss_weights`: a list or a dict the same way (default 1 each); the loss is the weighted sum.
- `metrics`: a list with one entry per output (a metric or a list of them) or a dict by output
  name. "accuracy" / "acc" is binary, sparse or categorical by the shapes, as Keras picks it.
- losses and metrics by name or as keras.losses / keras.metrics objects (textrnn.training.losses).

A model of one output with several metrics, or one counted over the epoch (precision, recall,
AUC: their batches' counts add up, `finalize` turns them into the value), is computed here too
(its names carry no prefix).

The values a step reports, in Keras's order (`evaluate`'s list): the total loss, each trained
output's own (unweighted) loss as "<output>_loss" when more than one is trained, then the metrics
as "<output>_<metric>", sorted by name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from textrnn.errors import ConfigError
from textrnn.training import losses, masking


@dataclass
class OutputTerm:
    """One output's part: its loss (None: not trained), the loss's weight and its metrics."""

    name: str
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None
    weight: float
    metrics: list[tuple[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]]]  # (name, function)

    @property
    def needs_labels(self) -> bool:
        return self.loss is not None or bool(self.metrics)


def _per_output(value: Any, names: Sequence[str], what: str, default: Any) -> list[Any]:
    """`value` given once for all outputs, as a list in their order, or as a dict by name."""
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise ConfigError(f"compile: {what} names outputs {unknown} the model does not have; its "
                              f"outputs: {', '.join(names)}")
        return [value.get(name, default) for name in names]
    if isinstance(value, (list, tuple)):
        if len(value) != len(names):
            raise ConfigError(f"compile: {what} has {len(value)} entries; the model has {len(names)} "
                              f"outputs ({', '.join(names)})")
        return list(value)
    raise ConfigError(f"compile: {what} for a model of {len(names)} outputs must be a list (one "
                      "entry per output) or a dict by output name")


def _loss(loss: Any) -> Callable | None:
    return None if loss is None else losses.get(loss)[0]


def _metrics(value: Any) -> list[tuple[str, Callable]]:
    if value is None:
        return []
    entries = [value] if isinstance(value, (str, losses.Metric)) else [v for v in value if v is not None]
    return [losses.metric(m, losses.accuracy_by_shape) for m in entries]


class Objective:
    """The loss and metrics of a model of several outputs (see the module)."""

    def __init__(self, loss: Any, loss_weights: Any, metrics: Any, output_names: Sequence[str],
                 masked: bool = False) -> None:
        # masked: outputs may carry a mask (textrnn.training.masking); each mean metric then
        # gives two values per row, its masked sum and the steps kept, whose ratio is Keras's
        self.masked = masked
        names = list(output_names)
        one = isinstance(loss, (str, losses.Loss))
        loss_list = [loss] * len(names) if one else _per_output(loss, names, "loss", None)
        weights = [1.0] * len(names) if loss_weights is None else _per_output(
            loss_weights, names, "loss_weights", 1.0)
        metric_list = [None] * len(names) if not metrics else _per_output(metrics, names, "metrics", None)
        self.terms = [OutputTerm(name, _loss(lo), float(1.0 if w is None else w), _metrics(m))
                      for name, lo, w, m in zip(names, loss_list, weights, metric_list)]
        if not any(t.loss is not None for t in self.terms):
            raise ConfigError("compile: every output's loss is None; give at least one output a loss")
        trained = [k for k, t in enumerate(self.terms) if t.loss is not None]
        self._own_losses = trained if len(trained) > 1 else []  # Keras tracks them only when several
        # Keras names a metric after its output when there are several, a second of one name
        # name_1, and sorts them by name
        prefix, seen, metric_values = len(self.terms) > 1, {}, []
        for k, t in enumerate(self.terms):
            for j, (m, _) in enumerate(t.metrics):
                name = f"{t.name}_{m}" if prefix else m
                seen[name] = seen.get(name, 0) + 1
                metric_values.append((name if seen[name] == 1 else f"{name}_{seen[name] - 1}", k, j))
        metric_values.sort()
        # Keras's evaluate lists these first, if the logs hold them: then the rest by name
        self.listed_first = ["loss", *(m for t in self.terms for m, _ in t.metrics),
                             *(f"{self.terms[k].name}_loss" for k in self._own_losses)]
        self._metrics = [(k, j) for _, k, j in metric_values]
        self.names = [f"{self.terms[k].name}_loss" for k in self._own_losses] + [
            name for name, _, _ in metric_values]

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: torch.Tensor | None = None,
                 masks: list[torch.Tensor | None] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(the weighted total loss, the other values in the order of `names`) for one batch;
        `sample_weight` (one per row) weighs every output's loss, not the metrics (Keras's);
        `masks` (per output, or None) leave masked time steps out of the loss and mean metrics. A
        model of one output gives its tensors as they are."""
        if len(self.terms) == 1 and not isinstance(y_pred, list):
            y_true, y_pred = [y_true], [y_pred]
        masks = masks or [None] * len(self.terms)
        own = {}
        total = None
        for k, term in enumerate(self.terms):
            if term.loss is not None:
                own[k] = masking.masked_loss(term.loss, y_true[k], y_pred[k], sample_weight, masks[k])
                total = own[k] * term.weight if total is None else total + own[k] * term.weight
        values = [own[k] for k in self._own_losses]
        for k, j in self._metrics:
            fn = self.terms[k].metrics[j][1]
            if self.masked and not hasattr(fn, "result"):  # (Keras's counted metrics take no mask)
                values.append(masking.masked_mean_sums(fn, y_true[k], y_pred[k], masks[k]))
            else:
                values.append(fn(y_true[k], y_pred[k]))
        if not values:
            return total, total.detach().new_zeros(0)
        return total, torch.cat([v.detach().reshape(-1).to(total.dtype) for v in values])

    def finalize(self, states: list[float], rows: int) -> list[float]:
        """The values named by `names` from the batches' values averaged over `rows`: a mean's as
        it is, a counted metric's (precision, recall, AUC) from its counts per row, a count's
        (true positives, ...) from its counts over the rows."""
        out = [float(v) for v in states[:len(self._own_losses)]]
        at = len(self._own_losses)
        for k, j in self._metrics:
            fn = self.terms[k].metrics[j][1]
            mean_sums = self.masked and not hasattr(fn, "result")
            size = 2 if mean_sums else getattr(fn, "state_size", 1)
            part = torch.tensor(states[at:at + size], dtype=torch.float64)
            if getattr(fn, "totals", False):
                part = part * rows
            if mean_sums:  # the masked sum over the steps kept (Keras's Mean of weighted values)
                out.append(float(part[0] / part[1]) if part[1] > 0 else 0.0)
            else:
                out.append(fn.result(part) if hasattr(fn, "result") else float(part[0]))
            at += size
        return out
