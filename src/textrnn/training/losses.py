"""Losses and metrics with Keras's conventions."""

from __future__ import annotations

import math
import types
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from textrnn import keras_objects
from textrnn.errors import ConfigError, DataError
from textrnn.keras_objects import KerasObject
from textrnn.naming import auto_name

EPSILON = 1e-7  # keras.backend.epsilon(): predictions are clipped to [ε, 1 - ε] in the loss


def weighted_mean(values: torch.Tensor, sample_weight: torch.Tensor | None) -> torch.Tensor:
    """Keras's "sum_over_batch_size" reduction of per-sample values (a row's, or a row's per time
    step): each weighted by its row's sample weight, summed, divided by their number."""
    if sample_weight is None:
        return values.mean()
    weights = sample_weight.reshape(-1, *[1] * (values.dim() - 1)).to(values.dtype)
    return (values * weights).sum() / values.numel()


# Each loss: y_true, y_pred and optional sample weights (one per row) -> the batch's loss.
def binary_crossentropy(y_true: torch.Tensor, y_pred: torch.Tensor,
                        sample_weight: torch.Tensor | None = None) -> torch.Tensor:
    y_pred = y_pred.reshape(y_true.shape[0], -1)
    y_true = y_true.reshape(y_pred.shape).to(y_pred.dtype)
    p = y_pred.clamp(EPSILON, 1 - EPSILON)
    if sample_weight is None:
        return F.binary_cross_entropy(p, y_true)
    return weighted_mean(F.binary_cross_entropy(p, y_true, reduction="none").mean(-1), sample_weight)


def _class_probabilities(y_pred: torch.Tensor) -> torch.Tensor:
    # Keras (from_logits=False) renormalises the probabilities and clips them before the log.
    return (y_pred / y_pred.sum(dim=-1, keepdim=True)).clamp(EPSILON, 1 - EPSILON)


def sparse_categorical_crossentropy(y_true: torch.Tensor, y_pred: torch.Tensor,
                                    sample_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Class ids y_true (..., ) against probabilities (..., classes): one per row, or per time step
    of a sequence output."""
    p = _class_probabilities(y_pred).reshape(-1, y_pred.shape[-1])
    if sample_weight is None:
        return F.nll_loss(torch.log(p), y_true.reshape(-1).long())
    values = F.nll_loss(torch.log(p), y_true.reshape(-1).long(), reduction="none")
    return weighted_mean(values.reshape(y_pred.shape[:-1]), sample_weight)


def categorical_crossentropy(y_true: torch.Tensor, y_pred: torch.Tensor,
                             sample_weight: torch.Tensor | None = None) -> torch.Tensor:
    """One-hot (or soft) targets against probabilities, summed over the classes, averaged over the
    rest (rows and time steps)."""
    values = -(y_true.reshape(y_pred.shape) * torch.log(_class_probabilities(y_pred))).sum(-1)
    return weighted_mean(values, sample_weight)


def mean_squared_error(y_true: torch.Tensor, y_pred: torch.Tensor,
                       sample_weight: torch.Tensor | None = None) -> torch.Tensor:
    values = (y_pred - y_true.reshape(y_pred.shape)).square()
    return values.mean() if sample_weight is None else weighted_mean(values.mean(-1), sample_weight)


def mean_absolute_error(y_true: torch.Tensor, y_pred: torch.Tensor,
                        sample_weight: torch.Tensor | None = None) -> torch.Tensor:
    values = (y_pred - y_true.reshape(y_pred.shape)).abs()
    return values.mean() if sample_weight is None else weighted_mean(values.mean(-1), sample_weight)


def binary_accuracy(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    return _binary_accuracy_at(y_true, y_pred)


def _binary_accuracy_at(y_true: torch.Tensor, y_pred: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    y_pred = y_pred.reshape(y_true.shape[0], -1)
    return ((y_pred > threshold).to(y_pred.dtype) == y_true.reshape(y_pred.shape)).float().mean()


def sparse_categorical_accuracy(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    return (y_pred.argmax(dim=-1).reshape(-1) == y_true.reshape(-1).long()).float().mean()


def categorical_accuracy(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    return (y_pred.argmax(dim=-1) == y_true.reshape(y_pred.shape).argmax(dim=-1)).float().mean()


def sparse_top_k_categorical_accuracy(y_true: torch.Tensor, y_pred: torch.Tensor, k: int = 5) -> torch.Tensor:
    """Whether the true class is among the k most probable (a tie with the k-th counts, as Keras's)."""
    scores = y_pred.reshape(-1, y_pred.shape[-1])
    true_score = scores.gather(1, y_true.reshape(-1, 1).long())
    kth = scores.topk(min(k, scores.shape[-1]), dim=-1).values[:, -1:]
    return (true_score >= kth).float().mean()


def top_k_categorical_accuracy(y_true: torch.Tensor, y_pred: torch.Tensor, k: int = 5) -> torch.Tensor:
    return sparse_top_k_categorical_accuracy(y_true.reshape(y_pred.shape).argmax(dim=-1), y_pred, k)


def accuracy_by_shape(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """"accuracy" beside a loss that names no kind of label (Keras's rule): one output is a binary
    probability, targets of the output's shape are one-hot, others are class ids."""
    if y_pred.shape[-1] == 1:
        return binary_accuracy(y_true, y_pred)
    if y_true.numel() == y_pred.numel():
        return categorical_accuracy(y_true, y_pred)
    return sparse_categorical_accuracy(y_true, y_pred)


def _with_logits(y_true: torch.Tensor, logits: torch.Tensor, kind: str,
                 sample_weight: torch.Tensor | None) -> torch.Tensor:
    """The three cross-entropies on logits (Keras's from_logits=True): no clipping, as Keras's."""
    if kind == "binary_crossentropy":
        logits = logits.reshape(y_true.shape[0], -1)
        values = F.binary_cross_entropy_with_logits(logits, y_true.reshape(logits.shape).to(logits.dtype),
                                                    reduction="none").mean(-1)
    elif kind == "sparse_categorical_crossentropy":
        log_p = torch.log_softmax(logits, dim=-1).reshape(-1, logits.shape[-1])
        values = F.nll_loss(log_p, y_true.reshape(-1).long(), reduction="none").reshape(logits.shape[:-1])
    else:
        values = -(y_true.reshape(logits.shape) * torch.log_softmax(logits, dim=-1)).sum(-1)
    return weighted_mean(values, sample_weight)


LOSSES = {
    "binary_crossentropy": (binary_crossentropy, binary_accuracy),
    "sparse_categorical_crossentropy": (sparse_categorical_crossentropy, sparse_categorical_accuracy),
    "categorical_crossentropy": (categorical_crossentropy, categorical_accuracy),
    "mean_squared_error": (mean_squared_error, accuracy_by_shape),
    "mean_absolute_error": (mean_absolute_error, accuracy_by_shape),
}
ALIASES = {"mse": "mean_squared_error", "mae": "mean_absolute_error"}
ACCURACY_NAMES = ("acc", "accuracy")


class _KerasObject(KerasObject):
    """What Keras's loss and metric classes share here: their own arguments (`options`, with their
    defaults) kept in `config`, Keras's other arguments taken at the `neutral` values only, Keras's
    get_config."""

    function_name = ""  # the function it computes
    options: dict[str, Any] = {}
    neutral: dict[str, tuple[Any, ...]] = {"dtype": (None, "float32")}

    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        for key, value in kwargs.items():
            if key not in self.options and value not in self.neutral.get(key, ()):
                raise ConfigError(f"{type(self).__name__}({key}={value!r}) is not supported; textrnn takes "
                                  f"{', '.join(self.options) or 'no arguments'} (and name)")
        self.name = name or self.function_name
        self.config = {k: kwargs.get(k, default) for k, default in self.options.items()}

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, **self.config}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.config.items())})"


class Loss(_KerasObject):
    """Keras's loss classes (`keras.losses.BinaryCrossentropy(from_logits=True)`, ...): called as
    loss(y_true, y_pred), taken by compile as their names are, saved as Keras serialises them."""

    keras_module = "keras.losses"
    neutral = {"reduction": ("sum_over_batch_size", "auto", None), "axis": (-1,), "dtype": (None, "float32"),
               "ignore_class": (None,)}

    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        if not 0 <= self.config.get("label_smoothing", 0) < 1:
            raise ConfigError(f"{type(self).__name__}: label_smoothing must be in [0, 1)")

    @property
    def plain(self) -> bool:
        """Whether it computes exactly what its function's name does (no logits, no smoothing)."""
        return not self.config.get("from_logits") and not self.config.get("label_smoothing")

    def __call__(self, y_true: torch.Tensor, y_pred: torch.Tensor,
                 sample_weight: torch.Tensor | None = None) -> torch.Tensor:
        smoothing = self.config.get("label_smoothing", 0.0)
        if smoothing:  # Keras's: towards 1/2 for binary labels, 1/classes for one-hot ones
            share = 0.5 if self.function_name == "binary_crossentropy" else 1.0 / y_pred.shape[-1]
            y_true = y_true * (1.0 - smoothing) + smoothing * share
        if self.config.get("from_logits"):
            return _with_logits(y_true, y_pred, self.function_name, sample_weight)
        return LOSSES[self.function_name][0](y_true, y_pred, sample_weight)


class BinaryCrossentropy(Loss):
    function_name = "binary_crossentropy"
    options = {"from_logits": False, "label_smoothing": 0.0}


class CategoricalCrossentropy(Loss):
    function_name = "categorical_crossentropy"
    options = {"from_logits": False, "label_smoothing": 0.0}


class SparseCategoricalCrossentropy(Loss):
    function_name = "sparse_categorical_crossentropy"
    options = {"from_logits": False}


class MeanSquaredError(Loss):
    function_name = "mean_squared_error"


class MeanAbsoluteError(Loss):
    function_name = "mean_absolute_error"


LOSS_CLASSES = {cls.__name__: cls for cls in (BinaryCrossentropy, CategoricalCrossentropy,
                                               SparseCategoricalCrossentropy, MeanSquaredError,
                                               MeanAbsoluteError)}


class Metric(_KerasObject):
    """Keras's metric classes (`keras.metrics.BinaryAccuracy(threshold=0.0)`, ...): called as
    metric(y_true, y_pred) for a batch's value; compile takes them as it takes names."""

    keras_module = "keras.metrics"

    def __call__(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        return METRICS[self.function_name](y_true, y_pred)


class BinaryAccuracy(Metric):
    function_name = "binary_accuracy"
    options = {"threshold": 0.5}

    def __call__(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        return _binary_accuracy_at(y_true, y_pred, self.config["threshold"])


class CategoricalAccuracy(Metric):
    function_name = "categorical_accuracy"


class SparseCategoricalAccuracy(Metric):
    function_name = "sparse_categorical_accuracy"


class TopKCategoricalAccuracy(Metric):
    function_name = "top_k_categorical_accuracy"
    options = {"k": 5}

    def __call__(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        return METRICS[self.function_name](y_true, y_pred, self.config["k"])


class SparseTopKCategoricalAccuracy(TopKCategoricalAccuracy):
    function_name = "sparse_top_k_categorical_accuracy"
    options = {"k": 5, "from_sorted_ids": False}

    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        if self.config["from_sorted_ids"]:
            raise ConfigError("SparseTopKCategoricalAccuracy(from_sorted_ids=True) is not supported")


class LossMetric(Metric):
    """A loss class as a metric (`keras.metrics.MeanSquaredError()`,
    `keras.metrics.BinaryCrossentropy(from_logits=True)`, ...): the loss's mean over the epoch,
    unweighted, as Keras's metrics are. One class per loss class, of the same name (see
    LOSS_METRICS)."""

    loss_class: type[Loss]

    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self._loss = self.loss_class(**self.config)

    def __call__(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        return self._loss(y_true, y_pred)


class ConfusionMetric(Metric):
    """Keras's metrics of counts over the whole epoch (Precision, Recall, AUC), not means of
    batch values: a call gives the batch's counts per row (`states`), which add up over batches
    as the trainer adds a mean metric, and `result` turns the sums into the value."""

    state_size = 2

    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        super().__init__(name or auto_name(type(self).__name__), **kwargs)

    @staticmethod
    def _flat(y_true: torch.Tensor, y_pred: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Labels as booleans and predictions, element by element (Keras casts labels to bool)."""
        if y_true.numel() != y_pred.numel():
            raise DataError(f"precision / recall / AUC compare each output with its label: labels of "
                            f"shape {tuple(y_true.shape)} do not match outputs {tuple(y_pred.shape)} "
                            "(give one-hot labels)")
        return y_true.reshape(-1) != 0, y_pred.reshape(-1)

    def result(self, states: torch.Tensor) -> float:
        hits, total = float(states[0]), float(states[1])
        return hits / total if total > 0 else 0.0  # Keras's divide_no_nan


class _TruePositiveShare(ConfusionMetric):
    """True positives (above `thresholds`, 0.5) as a share of the predicted positives (precision)
    or of the positives (recall)."""

    options = {"thresholds": None, "top_k": None, "class_id": None}
    of_predicted = True

    def __call__(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        positive, score = self._flat(y_true, y_pred)
        called = score > _one_threshold(self)
        whole = called if self.of_predicted else positive
        return torch.stack([(called & positive).sum(), whole.sum()]).float() / len(y_true)


class Precision(_TruePositiveShare):
    function_name = "precision"


class Recall(_TruePositiveShare):
    function_name = "recall"
    of_predicted = False


class _Count(ConfusionMetric):
    """How many outputs of the epoch fall in one cell of the confusion matrix (an output above
    `thresholds`, 0.5, counts as called positive), as Keras's counts it: its value is the count,
    not a mean, so the trainer hands `result` the counts over all the rows (`totals`)."""

    options = {"thresholds": None}
    state_size = 1
    totals = True
    called: bool  # the cell: outputs called positive (or not) ...
    labelled: bool  # ... whose label is positive (or not)

    def __call__(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        positive, score = self._flat(y_true, y_pred)
        called = score > _one_threshold(self)
        in_cell = (called == self.called) & (positive == self.labelled)
        return in_cell.sum().float().reshape(1) / len(y_true)

    def result(self, states: torch.Tensor) -> float:
        return float(torch.round(states[0]))  # (a whole number, from means over rows times rows)


class TruePositives(_Count):
    function_name, called, labelled = "true_positives", True, True


class FalsePositives(_Count):
    function_name, called, labelled = "false_positives", True, False


class TrueNegatives(_Count):
    function_name, called, labelled = "true_negatives", False, False


class FalseNegatives(_Count):
    function_name, called, labelled = "false_negatives", False, True


def _one_threshold(metric: Metric) -> float:
    for option in ("top_k", "class_id"):
        if metric.config.get(option) is not None:
            raise ConfigError(f"{type(metric).__name__}({option}=...) is not supported")
    threshold = metric.config["thresholds"]
    threshold = threshold[0] if isinstance(threshold, (list, tuple)) and len(threshold) == 1 else threshold
    if threshold is not None and not isinstance(threshold, (int, float)):
        raise ConfigError(f"{type(metric).__name__}: one threshold is supported, got {threshold!r}")
    return 0.5 if threshold is None else float(threshold)


class FBetaScore(ConfusionMetric):
    """Keras's F-beta over the epoch from each class's true / false positives and false negatives:
    a prediction counts as positive above `threshold`, or (no threshold) where it is the row's
    largest. `average`: None (each class's score: an array in the logs, as Keras's; a number for
    one class), "micro" (counts pooled), "macro" (classes' mean) or "weighted" (by each class's
    support)."""

    function_name = "fbeta_score"
    options = {"average": None, "beta": 1.0, "threshold": None}
    AVERAGES = (None, "micro", "macro", "weighted")

    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        super().__init__(name or self.function_name, **kwargs)  # Keras's fixed default name
        if self.config["average"] not in self.AVERAGES:
            raise ConfigError(f"{type(self).__name__}: average must be one of {self.AVERAGES}, "
                              f"got {self.config['average']!r}")

    def __call__(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        classes = y_pred.shape[-1]
        if y_pred.dim() != 2 or y_true.numel() != y_pred.numel():
            raise DataError(f"{type(self).__name__} compares 2-D outputs (rows, classes) with labels of "
                            f"their shape: got outputs {tuple(y_pred.shape)}, labels {tuple(y_true.shape)} "
                            "(give one-hot labels, or labels of shape (rows, 1))")
        truth = y_true.reshape(y_pred.shape).float()
        threshold = self.config["threshold"]
        if threshold is None:  # the row's largest (a row of zeros stays all negative, as Keras's)
            called = (y_pred >= y_pred.max(-1, keepdim=True).values) & (y_pred.abs() > 1e-9)
        else:
            called = y_pred > threshold
        called = called.float()
        self.state_size = 4 * classes
        counts = [called * truth, called * (1 - truth), (1 - called) * truth, truth]
        return torch.cat([c.sum(0) for c in counts]) / len(y_true)

    def result(self, states: torch.Tensor) -> float | np.ndarray:
        tp, fp, fn, support = states.reshape(4, -1)
        eps, beta2 = EPSILON, self.config.get("beta", 1.0) ** 2
        if self.config["average"] == "micro":
            tp, fp, fn = tp.sum(), fp.sum(), fn.sum()
        precision, recall = tp / (tp + fp + eps), tp / (tp + fn + eps)
        score = (1 + beta2) * precision * recall / (beta2 * precision + recall + eps)
        if self.config["average"] == "weighted":
            score = (score * support / (support.sum() + eps)).sum()
        if self.config["average"] is None and score.numel() > 1:
            return score.numpy().astype(np.float32)  # one per class (Keras's float32 array)
        return float(score.mean())


class F1Score(FBetaScore):
    function_name = "f1_score"
    options = {"average": None, "threshold": None}


class AUC(ConfusionMetric):
    """Keras's AUC: true / false positives and negatives at `num_thresholds` thresholds spread
    over [0, 1] (plus one just below and one just above), then the area under the ROC or PR curve
    by Keras's summation (interpolation; PR's as Davis & Goadrich interpolate it)."""

    function_name = "auc"
    options = {"num_thresholds": 200, "curve": "ROC", "summation_method": "interpolation", "thresholds": None,
               "multi_label": False, "num_labels": None, "label_weights": None, "from_logits": False}

    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        c = self.config
        if c["multi_label"] or c["num_labels"] is not None or c["label_weights"] is not None:
            raise ConfigError("AUC(multi_label / num_labels / label_weights) is not supported")
        curve, summation = str(c["curve"]).upper(), str(c["summation_method"]).lower()
        if curve not in ("ROC", "PR") or summation not in ("interpolation", "minoring", "majoring"):
            raise ConfigError(f"AUC(curve={c['curve']!r}, summation_method={c['summation_method']!r}) is not "
                              "supported; curve ROC or PR, summation interpolation, minoring or majoring")
        if c["thresholds"] is not None:
            inner = sorted(float(t) for t in c["thresholds"])
        else:
            if not (isinstance(c["num_thresholds"], int) and c["num_thresholds"] > 1):
                raise ConfigError("AUC: num_thresholds must be an integer > 1")
            n = c["num_thresholds"]
            inner = [(i + 1) / (n - 1) for i in range(n - 2)]
        self.thresholds = torch.tensor([-EPSILON, *inner, 1 + EPSILON], dtype=torch.float32)
        self.state_size = 4 * len(self.thresholds)
        self.curve, self.summation = curve, summation

    def __call__(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        positive, score = self._flat(y_true, y_pred)
        if self.config["from_logits"]:
            score = torch.sigmoid(score)
        above = score.float()[None, :] > self.thresholds.to(score.device)[:, None]
        tp = (above & positive).sum(1)
        fp = above.sum(1) - tp
        fn, tn = positive.sum() - tp, (~positive).sum() - fp
        return torch.cat([tp, fp, tn, fn]).float() / len(y_true)

    def result(self, states: torch.Tensor) -> float:
        tp, fp, tn, fn = states.double().reshape(4, -1)
        if self.curve == "PR" and self.summation == "interpolation":
            return _pr_auc_interpolated(tp, fp, fn)
        recall = _divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _divide_no_nan(fp, fp + tn), recall
        else:
            x, y = recall, _divide_no_nan(tp, tp + fp)
        heights = {"interpolation": (y[:-1] + y[1:]) / 2, "minoring": torch.minimum(y[:-1], y[1:]),
                   "majoring": torch.maximum(y[:-1], y[1:])}[self.summation]
        return float(((x[:-1] - x[1:]) * heights).sum())


def _divide_no_nan(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.where(b != 0, a / torch.where(b != 0, b, torch.ones_like(b)), torch.zeros_like(a))


def _pr_auc_interpolated(tp: torch.Tensor, fp: torch.Tensor, fn: torch.Tensor) -> float:
    """Keras's AUC.interpolate_pr_auc (Davis & Goadrich 2006, section 4, in closed form)."""
    dtp = tp[:-1] - tp[1:]
    p = tp + fp
    dp = p[:-1] - p[1:]
    slope = _divide_no_nan(dtp, dp.clamp(min=0))
    intercept = tp[1:] - slope * p[1:]
    ratio = torch.where((p[:-1] > 0) & (p[1:] > 0), _divide_no_nan(p[:-1], p[1:].clamp(min=0)),
                        torch.ones_like(p[1:]))
    increment = _divide_no_nan(slope * (dtp + intercept * torch.log(ratio)), (tp[1:] + fn[1:]).clamp(min=0))
    return float(increment.sum())


METRICS = {"binary_accuracy": binary_accuracy, "categorical_accuracy": categorical_accuracy,
           "sparse_categorical_accuracy": sparse_categorical_accuracy,
           "top_k_categorical_accuracy": top_k_categorical_accuracy,
           "sparse_top_k_categorical_accuracy": sparse_top_k_categorical_accuracy}
class RootMeanSquaredError(ConfusionMetric):
    """The root of the squared errors' mean over the epoch (Keras's keeps their sum and count)."""

    function_name = "root_mean_squared_error"

    def __call__(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        error = y_pred.float() - y_true.reshape(y_pred.shape).float()
        return torch.stack([error.square().sum(), error.new_tensor(error.numel())]) / len(y_true)

    def result(self, states: torch.Tensor) -> float:
        return math.sqrt(super().result(states))


# keras.metrics.MeanSquaredError and the others named as a loss class: a metric class of that name
LOSS_METRICS = {cls.__name__: type(cls.__name__, (LossMetric,), {
    "__module__": __name__, "__doc__": f"keras.metrics.{cls.__name__}: the loss's mean as a metric.",
    "loss_class": cls, "function_name": cls.function_name, "options": cls.options, "neutral": cls.neutral})
    for cls in LOSS_CLASSES.values()}
METRIC_CLASSES = {cls.__name__: cls for cls in (BinaryAccuracy, CategoricalAccuracy,
                                                SparseCategoricalAccuracy, TopKCategoricalAccuracy,
                                                SparseTopKCategoricalAccuracy, Precision, Recall, AUC,
                                                F1Score, FBetaScore, RootMeanSquaredError,
                                                TruePositives, FalsePositives, TrueNegatives,
                                                FalseNegatives, *LOSS_METRICS.values())}
COUNTED = {cls.function_name: cls for cls in (  # by name, as Keras's metrics.get
    Precision, Recall, AUC, F1Score, FBetaScore, TruePositives, FalsePositives, TrueNegatives,
    FalseNegatives)}


def metric(identifier: Any, accuracy: Any) -> tuple[str, Any]:
    """(log name, function) of a metric as compile takes it: "accuracy" / "acc" (computed by
    `accuracy`, the one that suits the output), a kind of accuracy by name, or a metric object."""
    if isinstance(identifier, Metric):
        return identifier.name, identifier
    if identifier in ACCURACY_NAMES:
        return identifier, accuracy
    if identifier in METRICS:
        return identifier, METRICS[identifier]
    if identifier in COUNTED:
        return identifier, COUNTED[identifier](name=identifier)
    if identifier in LOSSES or identifier in ALIASES:  # a loss's mean over the epoch ("mae"), unweighted
        return identifier, LOSSES[ALIASES.get(identifier, identifier)][0]
    raise ConfigError(f"unknown metric {identifier!r}; valid: {', '.join(metric_names())} or a "
                      f"keras.metrics object of {', '.join(METRIC_CLASSES)}")


def metric_names() -> tuple[str, ...]:
    """The metric names compile takes."""
    return (*ACCURACY_NAMES, *METRICS, *COUNTED, *LOSSES, *ALIASES)


def get(loss: str | Loss):
    """(loss function, matching accuracy metric) for a Keras loss name or loss object."""
    if isinstance(loss, Loss):
        return loss, LOSSES[loss.function_name][1]
    if not isinstance(loss, str):
        raise ConfigError(f"unknown loss {loss!r}; give a loss name or a keras.losses object of "
                          f"{', '.join(LOSS_CLASSES)}")
    name = ALIASES.get(loss, loss)
    if name not in LOSSES:
        raise ConfigError(f"unknown loss {loss!r}; valid: {', '.join([*LOSSES, *ALIASES])}")
    return LOSSES[name]


def function_name(loss: Any) -> str | None:
    """The loss function's name where `loss` computes exactly it (a name, or a plain object)."""
    if isinstance(loss, Loss):
        return loss.function_name if loss.plain else None
    return ALIASES.get(loss, loss) if isinstance(loss, str) else None


def serialize(value: Any) -> Any:
    """compile's loss or metrics as Keras's compile_config holds them: names as they are, objects
    as Keras serialises them; lists and dicts (one entry per output) entry by entry."""
    if isinstance(value, (Loss, Metric)):
        return keras_objects.serialize(value)
    if isinstance(value, dict):
        return {k: serialize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [serialize(v) for v in value]
    return value


def deserialize(value: Any, classes: dict[str, type] = LOSS_CLASSES, unknown_as_none: bool = False) -> Any:
    """serialize's inverse, for Keras's entries too: a serialised object becomes one of `classes`
    (LOSS_CLASSES or METRIC_CLASSES); one of another class is a one-line ConfigError, or None."""
    if isinstance(value, dict) and value.get("class_name") == "function":
        return value.get("config")  # Keras's entry for a loss or metric given as a function
    function = isinstance(value, types.FunctionType) and value.__module__ == __name__
    if function and value.__name__ in (*LOSSES, *METRICS):
        return value.__name__  # keras.losses.binary_crossentropy given itself: its name, as Keras logs it
    if isinstance(value, dict) and "class_name" in value:
        cls = classes.get(value["class_name"])
        if cls is None:
            if unknown_as_none:
                return None
            raise ConfigError(f"unknown class {value['class_name']!r}; valid: {', '.join(classes)}")
        config = {k: v for k, v in (value.get("config") or {}).items() if k != "dtype"}
        return cls(**config)
    if isinstance(value, dict):
        return {k: deserialize(v, classes, unknown_as_none) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [deserialize(v, classes, unknown_as_none) for v in value]
    return value
