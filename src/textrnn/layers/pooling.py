"""GlobalMaxPooling1D and GlobalAveragePooling1D over the time axis, as in keras.layers
(channels_last). As in Keras 3, the average skips masked steps and the max does not (a masked step
of a Bidirectional or return_sequences RNN holds zeros, so it enters the max as 0); neither passes a
mask on."""

from __future__ import annotations

from typing import Any

import torch

from textrnn.layers.base import Layer, Shape


class _GlobalPooling1D(Layer):
    def __init__(self, keepdims: bool = False, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last"):
            raise ValueError(f"{type(self).__name__}: only data_format='channels_last' is supported")
        self.keepdims = bool(keepdims)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (input_shape[0], 1, input_shape[2]) if self.keepdims else (input_shape[0], input_shape[2])

    def compute_mask(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor | None:
        return None

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "keepdims": self.keepdims}


class GlobalMaxPooling1D(_GlobalPooling1D):
    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        self.ensure_built(x)
        return x.amax(dim=1, keepdim=self.keepdims)


class GlobalAveragePooling1D(_GlobalPooling1D):
    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        self.ensure_built(x)
        if mask is None:
            return x.mean(dim=1, keepdim=self.keepdims)
        weights = mask.to(x.dtype)[..., None]
        return (x * weights).sum(dim=1, keepdim=self.keepdims) / weights.sum(dim=1, keepdim=self.keepdims)

# Keras 2's keras.layers.pooling also held the windowed 1-D poolings.
from textrnn.layers.convolutional import AveragePooling1D, MaxPooling1D  # noqa: E402

__all__ = ["AveragePooling1D", "GlobalAveragePooling1D", "GlobalMaxPooling1D", "MaxPooling1D"]
