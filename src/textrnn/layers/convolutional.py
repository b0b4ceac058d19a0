"""Conv1D and the 1-D pooling layers before a recurrent layer, as in keras.layers: channels last,
Keras's kernel layout (kernel_size, input channels, filters) and its "valid" / "same" / "causal"
padding. They do not pass a mask on (Keras's do not support masking)."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from textrnn.errors import ConfigError
from textrnn.layers import activations, initializers
from textrnn.layers.base import Layer, Shape


def _one(value: int | tuple[int, ...] | list[int], name: str) -> int:
    """Keras accepts an int or a 1-tuple for 1-D sizes."""
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise ConfigError(f"{name} must be an integer or a 1-tuple, got {value!r}")
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    return value


def _padding(padding: str, allowed: tuple[str, ...]) -> str:
    padding = str(padding).lower()
    if padding not in allowed:
        raise ConfigError(f"padding must be one of {', '.join(allowed)}, got {padding!r}")
    return padding


def _same_pads(length: int, window: int, stride: int) -> tuple[int, int]:
    """TensorFlow's "same": the output has ceil(length / stride) steps, the extra padding on the right."""
    total = max((math.ceil(length / stride) - 1) * stride + window - length, 0)
    return total // 2, total - total // 2


def _output_length(length: int | None, window: int, stride: int, padding: str) -> int | None:
    if length is None:
        return None
    if padding in ("same", "causal"):
        return math.ceil(length / stride)
    return max((length - window) // stride + 1, 0)


class Conv1D(Layer):
    """`activation(conv(x, kernel) + bias)` over time; kernel (kernel_size, channels, filters)."""

    regularizable = ("kernel", "bias")

    def __init__(self, filters: int, kernel_size: int | tuple[int], strides: int | tuple[int] = 1,
                 padding: str = "valid", dilation_rate: int | tuple[int] = 1, activation: str | None = None,
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 bias_initializer: Any = "zeros", data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last"):
            raise ConfigError(f"Conv1D: only data_format 'channels_last' is supported, got {data_format!r}")
        self.filters = _one(filters, "filters")
        self.kernel_size = _one(kernel_size, "kernel_size")
        self.strides = _one(strides, "strides")
        self.dilation_rate = _one(dilation_rate, "dilation_rate")
        self.padding = _padding(padding, ("valid", "same", "causal"))
        if self.strides > 1 and self.dilation_rate > 1:
            raise ConfigError("Conv1D: strides > 1 together with dilation_rate > 1 is not supported")
        self.activation = activation or "linear"
        self._activation_fn = activations.get(self.activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.checked(kernel_initializer)
        self.bias_initializer = initializers.checked(bias_initializer)

    def build(self, input_shape: Shape) -> None:
        shape = (self.kernel_size, int(input_shape[-1]), self.filters)
        self.add_weight("kernel", shape, self.kernel_initializer)
        if self.use_bias:
            self.add_weight("bias", (self.filters,), self.bias_initializer)
        super().build(input_shape)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        window = (self.kernel_size - 1) * self.dilation_rate + 1
        steps = _output_length(input_shape[1], window, self.strides, self.padding)
        return (input_shape[0], steps, self.filters)

    def compute_mask(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor | None:
        return None

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        self.ensure_built(x)
        window = (self.kernel_size - 1) * self.dilation_rate + 1
        seq = x.transpose(1, 2)  # (batch, channels, steps)
        if self.padding == "same":
            seq = F.pad(seq, _same_pads(seq.shape[-1], window, self.strides))
        elif self.padding == "causal":
            seq = F.pad(seq, (window - 1, 0))
        y = F.conv1d(seq, self.kernel.permute(2, 1, 0), self.bias if self.use_bias else None,
                     stride=self.strides, dilation=self.dilation_rate)
        return self._activation_fn(y.transpose(1, 2))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding, "dilation_rate": self.dilation_rate,
                "activation": self.activation, "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer)}


class _Pooling1D(Layer):
    def __init__(self, pool_size: int | tuple[int] = 2, strides: int | tuple[int] | None = None,
                 padding: str = "valid", data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last"):
            raise ConfigError(f"{type(self).__name__}: only data_format 'channels_last' is supported")
        self.pool_size = _one(pool_size, "pool_size")
        self.strides = self.pool_size if strides is None else _one(strides, "strides")
        self.padding = _padding(padding, ("valid", "same"))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (input_shape[0], _output_length(input_shape[1], self.pool_size, self.strides, self.padding),
                input_shape[2])

    def compute_mask(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor | None:
        return None

    def _pool(self, seq: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        self.ensure_built(x)
        return self._pool(x.transpose(1, 2)).transpose(1, 2)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides,
                "padding": self.padding}


class MaxPooling1D(_Pooling1D):
    """The largest value in each window of `pool_size` steps (padding never wins with "same")."""

    def _pool(self, seq: torch.Tensor) -> torch.Tensor:
        if self.padding == "same":
            seq = F.pad(seq, _same_pads(seq.shape[-1], self.pool_size, self.strides), value=-math.inf)
        return F.max_pool1d(seq, self.pool_size, self.strides)


class AveragePooling1D(_Pooling1D):
    """The mean of each window of `pool_size` steps; with "same" the padded steps are not counted
    (TensorFlow's rule; Keras's torch backend counts repeated edge steps where the padding is uneven)."""

    def __init__(self, pool_size: int | tuple[int], strides: int | tuple[int] | None = None,
                 padding: str = "valid", data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(pool_size, strides, padding, data_format, **kwargs)  # no default size, as Keras

    def _pool(self, seq: torch.Tensor) -> torch.Tensor:
        if self.padding != "same":
            return F.avg_pool1d(seq, self.pool_size, self.strides)
        pads = _same_pads(seq.shape[-1], self.pool_size, self.strides)
        sums = F.avg_pool1d(F.pad(seq, pads), self.pool_size, self.strides) * self.pool_size
        ones = F.pad(torch.ones_like(seq[:1, :1]), pads)
        counts = F.avg_pool1d(ones, self.pool_size, self.strides) * self.pool_size
        return sums / counts
