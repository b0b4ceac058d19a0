"""Losses and metrics with Keras's conventions."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from textrnn.errors import ConfigError

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


class Loss:
    """Keras's loss classes (`keras.losses.BinaryCrossentropy(from_logits=True)`, ...): called as
    loss(y_true, y_pred), taken by compile as their names are, saved as Keras serialises them."""

    function_name = ""  # the loss function it computes
    options: dict[str, Any] = {}  # its own arguments and their defaults
    # Keras's other arguments, taken at these values only
    neutral = {"reduction": ("sum_over_batch_size", "auto", None), "axis": (-1,), "dtype": (None, "float32"),
               "ignore_class": (None,)}

    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        self.name = name or self.function_name
        for key, value in kwargs.items():
            if key not in self.options and value not in self.neutral.get(key, ()):
                raise ConfigError(f"{type(self).__name__}({key}={value!r}) is not supported; textrnn takes "
                                  f"{', '.join(self.options) or 'no arguments'} (and name)")
        self.config = {k: kwargs.get(k, default) for k, default in self.options.items()}
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

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, **self.config}

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.get_config() == self.get_config()

    __hash__ = None  # noqa: PIE794 - equal by value, not kept in sets

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.config.items())})"


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


class Metric:
    """Keras's accuracy metric classes (`keras.metrics.BinaryAccuracy(threshold=0.0)`, ...): called
    as metric(y_true, y_pred) for a batch's value; compile takes them as it takes names."""

    function_name = ""
    options: dict[str, Any] = {}

    def __init__(self, name: str | None = None, dtype: Any = None, **kwargs: Any) -> None:
        unknown = sorted(set(kwargs) - set(self.options))
        if unknown:
            raise ConfigError(f"{type(self).__name__}({unknown[0]}=...) is not supported; textrnn takes "
                              f"{', '.join(self.options) or 'no arguments'} (and name)")
        self.name = name or self.function_name
        self.config = {k: kwargs.get(k, default) for k, default in self.options.items()}

    def __call__(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        if "threshold" in self.config:
            return _binary_accuracy_at(y_true, y_pred, self.config["threshold"])
        return METRICS[self.function_name](y_true, y_pred)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, **self.config}

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.get_config() == self.get_config()

    __hash__ = None  # noqa: PIE794


class BinaryAccuracy(Metric):
    function_name = "binary_accuracy"
    options = {"threshold": 0.5}


class CategoricalAccuracy(Metric):
    function_name = "categorical_accuracy"


class SparseCategoricalAccuracy(Metric):
    function_name = "sparse_categorical_accuracy"


METRICS = {"binary_accuracy": binary_accuracy, "categorical_accuracy": categorical_accuracy,
           "sparse_categorical_accuracy": sparse_categorical_accuracy}
METRIC_CLASSES = {cls.__name__: cls
                  for cls in (BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy)}


def metric(identifier: Any, accuracy: Any) -> tuple[str, Any]:
    """(log name, function) of a metric as compile takes it: "accuracy" / "acc" (computed by
    `accuracy`, the one that suits the output), a kind of accuracy by name, or a metric object."""
    if isinstance(identifier, Metric):
        return identifier.name, identifier
    if identifier in ACCURACY_NAMES:
        return identifier, accuracy
    if identifier in METRICS:
        return identifier, METRICS[identifier]
    raise ConfigError(f"unknown metric {identifier!r}; valid: {', '.join([*ACCURACY_NAMES, *METRICS])} or "
                      f"a keras.metrics object of {', '.join(METRIC_CLASSES)}")


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
        module = "keras.losses" if isinstance(value, Loss) else "keras.metrics"
        return {"module": module, "class_name": type(value).__name__, "config": value.get_config(),
                "registered_name": None}
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
