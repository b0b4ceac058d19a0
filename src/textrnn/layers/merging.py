"""Layers that join several tensors of the functional API, as in keras.layers: Concatenate, Add,
Subtract, Multiply, Average, Maximum, Minimum. A joined sequence keeps a time step where every
input does (Keras's mask rule for merges)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from textrnn.errors import ConfigError
from textrnn.layers.base import Layer, Shape


class Merge(Layer):
    """The inputs are a list; build takes the list of their shapes."""

    takes_list = True

    def _check(self, shapes: Sequence[Shape]) -> None:
        if not isinstance(shapes, (list, tuple)) or len(shapes) < 2 or not isinstance(shapes[0], tuple):
            raise ConfigError(f"{type(self).__name__} joins a list of at least 2 inputs")

    def build(self, input_shape: Any) -> None:
        self._check(input_shape)
        shapes = [tuple(s) for s in input_shape]
        if any(s[1:] != shapes[0][1:] for s in shapes):
            raise ConfigError(f"{type(self).__name__} needs inputs of one shape, got {shapes}")
        super().build(input_shape)

    def compute_output_shape(self, input_shape: Any) -> Shape:
        return tuple(input_shape[0])

    def compute_mask(self, x: Any, mask: Any) -> torch.Tensor | None:
        masks = [m for m in (mask or []) if m is not None]
        return torch.stack(masks).all(0) if masks else None

    reduction = ""  # the torch reduction over the stacked inputs (Tensor.sum, .mean, ...)

    def merge(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        return getattr(torch.stack(inputs), self.reduction)(0)

    def forward(self, inputs: list[torch.Tensor], mask: Any = None) -> torch.Tensor:
        return self.merge(list(inputs))


class Concatenate(Merge):
    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = int(axis)

    def build(self, input_shape: Any) -> None:
        self._check(input_shape)
        shapes = [list(s) for s in input_shape]
        for s in shapes:
            s.pop(self.axis)
        if any(s != shapes[0] for s in shapes):
            raise ConfigError(f"Concatenate(axis={self.axis}) needs inputs alike but on that axis, got "
                              f"{[tuple(s) for s in input_shape]}")
        Layer.build(self, input_shape)

    def compute_output_shape(self, input_shape: Any) -> Shape:
        shape = list(input_shape[0])
        sizes = [s[self.axis] for s in input_shape]
        shape[self.axis] = None if any(v is None for v in sizes) else sum(sizes)
        return tuple(shape)

    def merge(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat(inputs, dim=self.axis)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}


class Add(Merge):
    reduction = "sum"


class Subtract(Merge):
    def build(self, input_shape: Any) -> None:
        if len(input_shape) != 2:
            raise ConfigError("Subtract takes exactly 2 inputs")
        super().build(input_shape)

    def merge(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        return inputs[0] - inputs[1]


class Multiply(Merge):
    reduction = "prod"


class Average(Merge):
    reduction = "mean"


class Maximum(Merge):
    reduction = "amax"


class Minimum(Merge):
    reduction = "amin"


# Keras's functional forms: `concatenate([a, b], axis=1)` is `Concatenate(axis=1)([a, b])`, and so on.
def _functional_form(layer_class: type[Merge]) -> Any:
    def merge(inputs: list[Any], **kwargs: Any) -> Any:
        return layer_class(**kwargs)(inputs)

    merge.__name__ = merge.__qualname__ = layer_class.__name__.lower()
    merge.__doc__ = f"keras.layers.{merge.__name__}(inputs, **kwargs): {layer_class.__name__} on inputs"
    return merge


concatenate, add, subtract, multiply, average, maximum, minimum = map(
    _functional_form, (Concatenate, Add, Subtract, Multiply, Average, Maximum, Minimum))

__all__ = ["Add", "Average", "Concatenate", "Maximum", "Merge", "Minimum", "Multiply", "Subtract", "add",
           "average", "concatenate", "maximum", "minimum", "multiply", "subtract"]
