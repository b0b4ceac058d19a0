"""Keras's weight regularizers (`keras.regularizers`): L1, L2, L1L2. A layer given
`kernel_regularizer=regularizers.l2(1e-3)` (or recurrent_, bias_, embeddings_, gamma_, beta_)
adds the penalty of that weight to the training loss, as Keras's does (and to evaluate's loss,
as Keras 3's does)."""

from __future__ import annotations

from typing import Any

import torch

from textrnn import keras_objects
from textrnn.errors import ConfigError
from textrnn.keras_objects import KerasObject
from textrnn.naming import snake_case


class Regularizer(KerasObject):
    """Called on a weight, the penalty (a scalar tensor) it adds to the loss."""

    keras_module = "keras.regularizers"

    def __call__(self, weight: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


def _factor(value: Any, name: str) -> float:
    value = 0.0 if value is None else value
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
        raise ConfigError(f"regularizer {name} must be a number >= 0, got {value!r}")
    return float(value)


class L1L2(Regularizer):
    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        self.l1, self.l2 = _factor(l1, "l1"), _factor(l2, "l2")

    def __call__(self, weight: torch.Tensor) -> torch.Tensor:
        penalty = weight.new_zeros(())
        if self.l1:
            penalty = penalty + self.l1 * weight.abs().sum()
        if self.l2:
            penalty = penalty + self.l2 * weight.square().sum()
        return penalty

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    def __init__(self, l1: float = 0.01) -> None:
        self.l1 = _factor(l1, "l1")

    def __call__(self, weight: torch.Tensor) -> torch.Tensor:
        return self.l1 * weight.abs().sum()

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1}


class L2(Regularizer):
    def __init__(self, l2: float = 0.01) -> None:
        self.l2 = _factor(l2, "l2")

    def __call__(self, weight: torch.Tensor) -> torch.Tensor:
        return self.l2 * weight.square().sum()

    def get_config(self) -> dict[str, Any]:
        return {"l2": self.l2}


CLASSES = {cls.__name__: cls for cls in (L1, L2, L1L2)}
NAMES = {**CLASSES, **{snake_case(name): cls for name, cls in CLASSES.items()}}
# A layer's `<argument>_regularizer` and the weight it penalises.
ARGUMENTS = {"kernel": "kernel", "recurrent": "recurrent_kernel", "bias": "bias",
             "embeddings": "embeddings", "gamma": "gamma", "beta": "beta", "alpha": "alpha"}


def get(identifier: Any) -> Regularizer | None:
    """A regularizer from a name ("l2"), Keras's config dict, or an object (kept)."""
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, str) and identifier in NAMES:
        return NAMES[identifier]()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Regularizer):
        return identifier()
    raise ConfigError(f"a regularizer should be one of {', '.join(sorted(NAMES))}, an object or its config; "
                      f"got {identifier!r}")


def deserialize(config: dict[str, Any]) -> Regularizer:
    return keras_objects.deserialize(config, NAMES, "regularizer")


def serialize(regularizer: Regularizer | None) -> dict[str, Any] | None:
    return None if regularizer is None else keras_objects.serialize(regularizer)
