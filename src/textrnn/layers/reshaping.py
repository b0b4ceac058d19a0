"""Flatten, RepeatVector, Reshape and Permute, as in keras.layers (none passes a mask on, as in
Keras)."""

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


class Reshape(Layer):
    """(batch, ...) -> (batch, *target_shape); one entry of target_shape may be -1 (the size that
    makes the element count match)."""

    def __init__(self, target_shape: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        shape = tuple(target_shape) if isinstance(target_shape, (list, tuple)) else (target_shape,)
        if not all(isinstance(d, int) and not isinstance(d, bool) and (d > 0 or d == -1) for d in shape) \
                or shape.count(-1) > 1:
            raise ConfigError(f"Reshape: target_shape must be positive integers with at most one -1, "
                              f"got {target_shape!r}")
        self.target_shape = shape

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        rest = input_shape[1:]
        if -1 not in self.target_shape:
            if None not in rest and math.prod(rest) != math.prod(self.target_shape):
                raise ConfigError(f"{self.name}: cannot reshape {tuple(rest)} ({math.prod(rest)} values a "
                                  f"row) to {self.target_shape}")
            return (input_shape[0], *self.target_shape)
        known = -math.prod(self.target_shape)
        if None in rest:
            unknown = None
        elif math.prod(rest) % known:
            raise ConfigError(f"{self.name}: cannot reshape {tuple(rest)} to {self.target_shape}")
        else:
            unknown = math.prod(rest) // known
        return (input_shape[0], *(unknown if d == -1 else d for d in self.target_shape))

    def compute_mask(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor | None:
        return None

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        self.ensure_built(x)
        return x.reshape(x.shape[0], *self.target_shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "target_shape": list(self.target_shape)}


class Permute(Layer):
    """The axes after the batch reordered: `dims` lists them, counting from 1 ((2, 1) swaps the
    steps and the features of a sequence)."""

    def __init__(self, dims: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        dims = tuple(dims)
        if sorted(dims) != list(range(1, len(dims) + 1)):
            raise ConfigError(f"Permute: dims must hold 1 .. {len(dims)} once each, got {dims!r}")
        self.dims = dims

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) != len(self.dims) + 1:
            raise ConfigError(f"{self.name}: Permute{self.dims} takes inputs of {len(self.dims) + 1} axes, "
                              f"got {tuple(input_shape)}")
        super().build(input_shape)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (input_shape[0], *(input_shape[d] for d in self.dims))

    def compute_mask(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor | None:
        return None

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        self.ensure_built(x)
        return x.permute(0, *self.dims)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "dims": list(self.dims)}
