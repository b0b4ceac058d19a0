"""Layers that join several tensors of the functional API, as in keras.layers: Concatenate, Add,
Subtract, Multiply, Average, Maximum, Minimum, with Keras 3's mask rules: a joined sequence keeps a
step where any masked input does (none where an input has no mask, but Concatenate's: there an
unmasked input counts as keeping every step); Multiply, Maximum and Minimum leave a masked entry
out of the operation, and Multiply zeroes the steps no input keeps."""

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
        """The steps any input keeps, if every input has a mask (Keras's Merge.compute_mask)."""
        if not mask or any(m is None for m in mask):
            return None
        return torch.stack(list(mask)).any(0)

    reduction = ""  # the torch reduction over the stacked inputs (Tensor.sum, .mean, ...)

    def merge(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        return getattr(torch.stack(inputs), self.reduction)(0)

    def forward(self, inputs: list[torch.Tensor], mask: Any = None) -> torch.Tensor:
        return self.merge(list(inputs))


def _entry_masks(inputs: list[torch.Tensor], mask: Any) -> list[torch.Tensor | None]:
    """Each input's mask over its entries (a step's mask across its features), or None."""
    masks = list(mask) if mask else [None] * len(inputs)
    return [None if m is None else m.unsqueeze(-1).expand_as(x) if m.dim() < x.dim() else m
            for x, m in zip(inputs, masks)]


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

    def compute_mask(self, x: Any, mask: Any) -> torch.Tensor | None:
        """Keras's: the inputs' entry masks (all kept for an unmasked input) joined as the inputs
        are, a step kept where any of its entries is."""
        if not mask or all(m is None for m in mask):
            return None
        entries = [torch.ones_like(v, dtype=torch.bool) if m is None else m.bool()
                   for v, m in zip(x, _entry_masks(list(x), mask))]
        return torch.cat(entries, dim=self.axis).any(-1)

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
    """A masked entry counts as 1 (out of the product); with every input masked, a step that no
    input keeps is 0."""

    def forward(self, inputs: list[torch.Tensor], mask: Any = None) -> torch.Tensor:
        inputs = list(inputs)
        masks = _entry_masks(inputs, mask)
        out = None
        for x, m in zip(inputs, masks):
            x = x if m is None else torch.where(m, x, torch.ones_like(x))
            out = x if out is None else out * x
        if all(m is not None for m in masks):
            out = torch.where(torch.stack(masks).any(0), out, torch.zeros_like(out))
        return out


class Average(Merge):
    reduction = "mean"


class Maximum(Merge):
    """A masked entry takes no part (Keras's _apply_merge_op_and_or_mask)."""

    op = staticmethod(torch.maximum)

    def forward(self, inputs: list[torch.Tensor], mask: Any = None) -> torch.Tensor:
        inputs = list(inputs)
        masks = _entry_masks(inputs, mask)
        out, out_mask = inputs[0], masks[0]
        for x, m in zip(inputs[1:], masks[1:]):
            if m is not None:
                x = torch.where(m, x, out)
            if out_mask is not None:
                out = torch.where(out_mask, out, x)
            out_mask = out_mask | m if m is not None and out_mask is not None else None
            out = self.op(out, x)
        return out


class Minimum(Maximum):
    op = staticmethod(torch.minimum)


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
