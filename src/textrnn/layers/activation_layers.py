"""The activation layers of keras.layers: ReLU, LeakyReLU, ELU, Softmax and PReLU. Each passes a
mask on, as Keras's do; Softmax also uses it (masked entries get no share)."""

from __future__ import annotations

from typing import Any

import torch

from textrnn.errors import ConfigError
from textrnn.layers import initializers, regularizers
from textrnn.layers.base import Layer, Shape


def _not_negative(layer: str, name: str, value: Any) -> float:
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigError(f"{layer}: {name} must be a number >= 0, got {value!r}")
    return float(value)


class ReLU(Layer):
    """max(x, 0), or with Keras's options: values at or below `threshold` become
    negative_slope * (x - threshold), and none exceeds `max_value`."""

    def __init__(self, max_value: float | None = None, negative_slope: float = 0.0, threshold: float = 0.0,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_value = None if max_value is None else _not_negative("ReLU", "max_value", max_value)
        self.negative_slope = _not_negative("ReLU", "negative_slope", negative_slope)
        self.threshold = _not_negative("ReLU", "threshold", threshold)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        self.ensure_built(x)
        above = torch.where(x > self.threshold, x, torch.zeros_like(x))
        if self.max_value is not None:
            above = above.clamp(max=self.max_value)
        if self.negative_slope:
            above = above - self.negative_slope * torch.relu(self.threshold - x)
        return above

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "max_value": self.max_value, "negative_slope": self.negative_slope,
                "threshold": self.threshold}


class LeakyReLU(Layer):
    """x, or negative_slope * x below 0 (Keras 2's `alpha` is taken for negative_slope)."""

    def __init__(self, negative_slope: float = 0.3, **kwargs: Any) -> None:
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
        super().__init__(**kwargs)
        self.negative_slope = _not_negative("LeakyReLU", "negative_slope", negative_slope)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        self.ensure_built(x)
        return torch.nn.functional.leaky_relu(x, self.negative_slope)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "negative_slope": self.negative_slope}


class ELU(Layer):
    """x, or alpha * (exp(x) - 1) below 0."""

    def __init__(self, alpha: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.alpha = float(alpha)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        self.ensure_built(x)
        return torch.nn.functional.elu(x, self.alpha)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "alpha": self.alpha}


class Softmax(Layer):
    """Softmax over `axis` (or several axes together). A mask, broadcast from the right as
    Keras broadcasts it, gives its masked entries no share."""

    def __init__(self, axis: int | list[int] = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = list(axis) if isinstance(axis, (list, tuple)) else axis

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        self.ensure_built(x)
        if mask is not None:
            pairs = zip(mask.shape[::-1], x.shape[::-1])
            if mask.dim() > x.dim() or any(m != 1 and m != d for m, d in pairs):
                raise ConfigError(f"{self.name}: the mask {tuple(mask.shape)} does not broadcast to the "
                                  f"inputs {tuple(x.shape)} (Keras's rule: from the last axis, 1 or equal)")
            mask = mask.bool() if mask.dtype == torch.bool else mask > 0.5
            x = x.masked_fill(~mask, torch.finfo(x.dtype).min / 2)  # Keras's large negative number
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        out = torch.exp(x - torch.logsumexp(x, dim=axes, keepdim=True))
        return out if mask is None else out.masked_fill(~mask, 0.0)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}


class PReLU(Layer):
    """x, or alpha * x below 0, with alpha a weight per input entry (shared along `shared_axes`,
    counted from 1 after the batch), trained with the model."""

    def __init__(self, alpha_initializer: Any = "Zeros", alpha_regularizer: Any = None,
                 alpha_constraint: Any = None, shared_axes: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if alpha_constraint is not None:
            raise ConfigError("PReLU: alpha_constraint is not supported")
        self.alpha_initializer = initializers.checked(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        shared = [shared_axes] if isinstance(shared_axes, int) else shared_axes
        self.shared_axes = None if shared is None else [int(a) for a in shared]

    def build(self, input_shape: Shape) -> None:
        shape = list(input_shape[1:])
        for axis in self.shared_axes or ():
            if not 1 <= axis <= len(shape):
                raise ConfigError(f"{self.name}: shared_axes {self.shared_axes} name axes past the input's "
                                  f"{tuple(input_shape)}")
            shape[axis - 1] = 1
        if None in shape:
            raise ConfigError(f"{self.name}: PReLU needs every axis it does not share to have a size; inputs "
                              f"{tuple(input_shape)} (give shared_axes for the steps)")
        self.add_weight("alpha", tuple(shape), self.alpha_initializer, regularizer=self.alpha_regularizer)
        super().build(input_shape)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        self.ensure_built(x)
        return torch.relu(x) - self.alpha * torch.relu(-x)

    def get_config(self) -> dict[str, Any]:  # (alpha_regularizer: the base's, as for every weight)
        return {**super().get_config(), "alpha_initializer": initializers.serialize(self.alpha_initializer),
                "shared_axes": self.shared_axes}
