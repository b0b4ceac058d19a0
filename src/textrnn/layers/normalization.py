"""LayerNormalization, as keras.layers.LayerNormalization over the last axis (it passes a mask on)."""

from __future__ import annotations

from typing import Any

import torch

from textrnn.errors import ConfigError
from textrnn.layers.base import Layer, Shape


class LayerNormalization(Layer):
    """(x - mean) / sqrt(var + epsilon) * gamma + beta over the last axis; weights gamma, beta."""

    def __init__(self, axis: int | list[int] = -1, epsilon: float = 1e-3, center: bool = True,
                 scale: bool = True, beta_initializer: str = "zeros", gamma_initializer: str = "ones",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if axis not in (-1, [-1]):
            raise ConfigError(f"LayerNormalization: only axis=-1 (the features) is supported, got {axis!r}")
        self.epsilon, self.center, self.scale = float(epsilon), bool(center), bool(scale)
        self.beta_initializer, self.gamma_initializer = beta_initializer, gamma_initializer

    def build(self, input_shape: Shape) -> None:
        if self.scale:
            self.add_weight("gamma", (int(input_shape[-1]),), self.gamma_initializer)
        if self.center:
            self.add_weight("beta", (int(input_shape[-1]),), self.beta_initializer)
        super().build(input_shape)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        self.ensure_built(x)
        var, mean = torch.var_mean(x, dim=-1, keepdim=True, correction=0)
        y = (x - mean) * torch.rsqrt(var + self.epsilon)
        if self.scale:
            y = y * self.gamma
        if self.center:
            y = y + self.beta
        return y

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": -1, "epsilon": self.epsilon, "center": self.center,
                "scale": self.scale, "beta_initializer": self.beta_initializer,
                "gamma_initializer": self.gamma_initializer}
