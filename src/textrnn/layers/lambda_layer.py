"""keras.layers.Lambda: a Python function as a layer, for the small steps published models take
between layers (`Lambda(lambda x: K.sum(x, axis=1))`). Its function runs on torch tensors, through
`keras.ops` / `keras.backend` (textrnn.ops, textrnn.backend) or torch itself.

textrnn's files never hold code, so a model with a Lambda saves its weights (`save_weights`), not
itself: saving it whole is refused in one line."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import torch

from textrnn.errors import ConfigError
from textrnn.layers.base import Layer, Shape, _traced_shape


class Lambda(Layer):
    """`function(inputs, **arguments)` (given `mask` / `training` where it takes them). The output
    shape is `output_shape` (without the batch axis, or a function of the input shape) or, as
    Keras finds it, the function run on the inputs' shapes. `mask`: what the layer passes on (a
    function of (inputs, mask), or a fixed mask); without one the mask stops here, as in Keras."""

    saveable = False  # (textrnn's files never hold code)

    def __init__(self, function: Callable[..., Any], output_shape: Any = None, mask: Any = None,
                 arguments: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not callable(function):
            raise ConfigError(f"Lambda: function must be callable, got {type(function).__name__}")
        self.function = function
        self.output_shape_given = output_shape
        self.mask = mask
        self.arguments = dict(arguments or {})
        self.supports_masking = mask is not None
        try:
            takes = inspect.signature(function).parameters
        except (TypeError, ValueError):  # (a builtin without a signature)
            takes = {}
        self._takes = {name for name in ("mask", "training") if name in takes}
        self._integer: Any = False

    def build_for(self, input_shape: Any, integer: Any = False) -> None:
        self._integer = integer  # (for tracing: token ids stay integers)
        self.build(input_shape)

    def compute_output_shape(self, input_shape: Any) -> Shape:
        given = self.output_shape_given
        if given is None:
            return _traced_shape(self, input_shape, self._integer)
        if callable(given):
            return tuple(given(input_shape))
        batch = input_shape[0][0] if isinstance(input_shape, list) else input_shape[0]
        return (batch, *(given if isinstance(given, (list, tuple)) else (given,)))

    def call(self, inputs: Any, mask: Any = None, training: Any = None) -> Any:
        extra = dict(self.arguments)
        if "mask" in self._takes:
            extra["mask"] = mask
        if "training" in self._takes:
            extra["training"] = self.training if training is None else training
        return self.function(inputs, **extra)

    def compute_mask(self, x: Any, mask: Any) -> torch.Tensor | None:
        return self.mask(x, mask) if callable(self.mask) else self.mask

    def get_config(self) -> dict[str, Any]:
        """The function itself (clone_model makes a Lambda of it); not written to files."""
        return {**super().get_config(), "function": self.function, "output_shape": self.output_shape_given,
                "mask": self.mask, "arguments": self.arguments}
