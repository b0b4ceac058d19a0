"""Dense, Dropout, Activation, SpatialDropout1D and Masking, as in keras.layers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from textrnn.errors import ConfigError
from textrnn.layers import activations, initializers
from textrnn.layers.base import Layer, Shape


class Dense(Layer):
    """`output = activation(x @ kernel + bias)` on the last axis; kernel is (input_dim, units)."""

    regularizable = ("kernel", "bias")

    def __init__(
        self,
        units: int,
        activation: str | None = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.units = int(units)
        self.activation = activation or "linear"
        self._activation_fn = activations.get(self.activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.checked(kernel_initializer)
        self.bias_initializer = initializers.checked(bias_initializer)

    def build(self, input_shape: Shape) -> None:
        self.add_weight("kernel", (int(input_shape[-1]), self.units), self.kernel_initializer)
        if self.use_bias:
            self.add_weight("bias", (self.units,), self.bias_initializer)
        super().build(input_shape)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (*input_shape[:-1], self.units)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        self.ensure_built(x)
        y = x @ self.kernel
        if self.use_bias:
            y = y + self.bias
        return self._activation_fn(y)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "units": self.units,
            "activation": self.activation,
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
        }


class Dropout(Layer):
    """Zeroes a fraction `rate` of inputs during training and scales the rest by 1 / (1 - rate).

    `noise_shape` as in Keras: the shape of the keep mask, broadcast over the input, None for "as
    the input": (None, None, 1) on a (batch, steps, features) input drops whole word vectors,
    (None, 1, None) whole feature channels (Keras's SpatialDropout1D).
    """

    def __init__(self, rate: float, noise_shape: Sequence[int | None] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not 0 <= float(rate) <= 1:
            raise ConfigError(f"Dropout rate must be in [0, 1], got {rate}")
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)

    def build(self, input_shape: Shape) -> None:
        if self.noise_shape is not None and len(self.noise_shape) != len(input_shape):
            raise ConfigError(f"{self.name}: noise_shape {self.noise_shape} has {len(self.noise_shape)} "
                              f"axes, the input {len(input_shape)}")
        super().build(input_shape)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        self.ensure_built(x)
        if not (self.training and self.rate > 0):
            return x
        if self.noise_shape is None:
            return F.dropout(x, self.rate, training=True)
        shape = [x.shape[i] if n is None else n for i, n in enumerate(self.noise_shape)]
        keep = torch.empty(shape, dtype=x.dtype, device=x.device).bernoulli_(1 - self.rate)
        return x * keep / (1 - self.rate) if self.rate < 1 else x * keep  # rate 1: keep is all zeros

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate,
                "noise_shape": None if self.noise_shape is None else list(self.noise_shape)}


class Activation(Layer):
    """`output = activation(x)`, as keras.layers.Activation; it passes a mask through."""

    def __init__(self, activation: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.activation = activation
        self._activation_fn = activations.get(activation)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        self.ensure_built(x)
        return self._activation_fn(x)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "activation": self.activation}


class SpatialDropout1D(Dropout):
    """Dropout of whole feature channels of a (batch, steps, features) input, as
    keras.layers.SpatialDropout1D: Dropout with noise_shape (batch, 1, features)."""

    def __init__(self, rate: float, **kwargs: Any) -> None:
        kwargs.pop("noise_shape", None)
        super().__init__(rate, noise_shape=(None, 1, None), **kwargs)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.pop("noise_shape")
        return config


class Masking(Layer):
    """Marks the time steps whose every feature equals `mask_value` as padding, for the layers after
    it (keras.layers.Masking: what mask_zero does for token ids, for numeric sequences); those
    steps' values are zeroed."""

    def __init__(self, mask_value: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mask_value = float(mask_value)

    def compute_mask(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        return (x != self.mask_value).any(dim=-1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        self.ensure_built(x)
        return x * self.compute_mask(x, mask).unsqueeze(-1).to(x.dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mask_value": self.mask_value}

# Keras 2's keras.layers.core also held Flatten and RepeatVector.
from textrnn.layers.reshaping import Flatten, RepeatVector  # noqa: E402, F401
