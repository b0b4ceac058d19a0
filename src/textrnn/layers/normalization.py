"""LayerNormalization and BatchNormalization over the last axis, as in keras.layers (both pass a
mask on)."""

from __future__ import annotations

from typing import Any

import torch

from textrnn.errors import ConfigError
from textrnn.layers import initializers
from textrnn.layers.base import Layer, Shape


class _FeatureNormalization(Layer):
    """(x - mean) / sqrt(var + epsilon) * gamma + beta over the features (the last axis); the
    subclasses say which mean and variance."""

    regularizable = ("gamma", "beta")

    def __init__(self, axis: int | list[int], epsilon: float, center: bool, scale: bool,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if axis not in (-1, [-1]):
            raise ConfigError(f"{type(self).__name__}: only axis=-1 (the features) is supported, "
                              f"got {axis!r}")
        self.epsilon, self.center, self.scale = float(epsilon), bool(center), bool(scale)

    def normalized(self, x: torch.Tensor, mean: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
        y = (x - mean) * torch.rsqrt(var + self.epsilon)
        if self.scale:
            y = y * self.gamma
        if self.center:
            y = y + self.beta
        return y


class LayerNormalization(_FeatureNormalization):
    """Each row normalised over its own features; weights gamma, beta."""

    def __init__(self, axis: int | list[int] = -1, epsilon: float = 1e-3, center: bool = True,
                 scale: bool = True, beta_initializer: Any = "zeros", gamma_initializer: Any = "ones",
                 **kwargs: Any) -> None:
        super().__init__(axis, epsilon, center, scale, **kwargs)
        self.beta_initializer = initializers.checked(beta_initializer)
        self.gamma_initializer = initializers.checked(gamma_initializer)

    def build(self, input_shape: Shape) -> None:
        if self.scale:
            self.add_weight("gamma", (int(input_shape[-1]),), self.gamma_initializer)
        if self.center:
            self.add_weight("beta", (int(input_shape[-1]),), self.beta_initializer)
        super().build(input_shape)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        self.ensure_built(x)
        var, mean = torch.var_mean(x, dim=-1, keepdim=True, correction=0)
        return self.normalized(x, mean, var)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": -1, "epsilon": self.epsilon, "center": self.center,
                "scale": self.scale, "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer)}


class BatchNormalization(_FeatureNormalization):
    """keras.layers.BatchNormalization over the last axis: in training, each feature normalised by
    the batch's mean and (biased) variance, padded steps of a masked sequence left out, and the
    moving averages updated (moving = moving * momentum + batch * (1 - momentum)); at inference,
    normalised by the moving averages. Weights gamma, beta (trainable), moving_mean,
    moving_variance (never trained by the optimizer)."""

    def __init__(self, axis: int | list[int] = -1, momentum: float = 0.99, epsilon: float = 1e-3,
                 center: bool = True, scale: bool = True, beta_initializer: Any = "zeros",
                 gamma_initializer: Any = "ones", moving_mean_initializer: Any = "zeros",
                 moving_variance_initializer: Any = "ones", **kwargs: Any) -> None:
        super().__init__(axis, epsilon, center, scale, **kwargs)
        self.momentum = float(momentum)
        self.initializers = {name: initializers.checked(init) for name, init in (
            ("beta", beta_initializer), ("gamma", gamma_initializer),
            ("moving_mean", moving_mean_initializer), ("moving_variance", moving_variance_initializer))}

    def build(self, input_shape: Shape) -> None:
        features = (int(input_shape[-1]),)
        for name in ("gamma", "beta", "moving_mean", "moving_variance"):
            if (name != "gamma" or self.scale) and (name != "beta" or self.center):
                self.add_weight(name, features, self.initializers[name])
        super().build(input_shape)

    def _apply_trainable(self) -> None:
        super()._apply_trainable()
        for name in ("moving_mean", "moving_variance"):
            if name in self._weight_names:
                getattr(self, name).requires_grad_(False)  # statistics, not parameters to train

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        self.ensure_built(x)
        if self.training and self.trainable:
            rows = x.reshape(-1, x.shape[-1])
            if mask is not None and x.dim() == 3:
                rows = rows[mask.reshape(-1)]
            var, mean = torch.var_mean(rows, dim=0, correction=0)
            with torch.no_grad():
                self.moving_mean.mul_(self.momentum).add_(mean.detach(), alpha=1 - self.momentum)
                self.moving_variance.mul_(self.momentum).add_(var.detach(), alpha=1 - self.momentum)
        else:
            mean, var = self.moving_mean, self.moving_variance
        return self.normalized(x, mean, var)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": -1, "momentum": self.momentum, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale,
                **{f"{name}_initializer": initializers.serialize(init)
                   for name, init in self.initializers.items()}}
