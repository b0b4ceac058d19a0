"""Flatten and RepeatVector, as in keras.layers (neither passes a mask on, as in Keras)."""

from __future__ import annotations

import math
from typing import Any

import torch

from textrnn.errors import ConfigError
from textrnn.layers.base import Layer, Shape


class Flatten(Layer):
    """(batch, ...) -> (batch, product of the rest)."""

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        rest = input_shape[1:]
        return (input_shape[0], None if any(d is None for d in rest) else math.prod(rest))

    def compute_mask(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor | None:
        return None

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        self.ensure_built(x)
        return x.reshape(x.shape[0], -1)


class RepeatVector(Layer):
    """(batch, features) -> (batch, n, features): the input repeated n times along a new time axis."""

    def __init__(self, n: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"RepeatVector: n must be a positive integer, got {n!r}")
        self.n = n

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) != 2:
            raise ConfigError(f"{self.name}: RepeatVector takes (batch, features), got {tuple(input_shape)}")
        super().build(input_shape)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (input_shape[0], self.n, input_shape[1])

    def compute_mask(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor | None:
        return None

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        self.ensure_built(x)
        return x.unsqueeze(1).expand(-1, self.n, -1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "n": self.n}
