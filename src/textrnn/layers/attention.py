"""Attention over a sequence, as keras.layers.Attention (dot-product, Luong's) and AdditiveAttention
(Bahdanau's): the layers published RNN text classifiers put over an LSTM's outputs. Called in a
model graph on [query, value] or [query, value, key] (the key is the value when not given); a
padded value step (its mask) gets no weight, and the output keeps the query's mask."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from textrnn.errors import ConfigError
from textrnn.layers.base import Layer, Shape


class Attention(Layer):
    """scores = query · keyᵀ (times `scale` if use_scale; score_mode="concat": the weight times
    the sum of tanh(query + key)); weights = softmax over the value steps; output = weights · value."""

    takes_list = True

    def __init__(self, use_scale: bool = False, score_mode: str = "dot", dropout: float = 0.0,
                 seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if score_mode not in ("dot", "concat"):
            raise ConfigError(f"{type(self).__name__}: score_mode must be 'dot' or 'concat', got "
                              f"{score_mode!r}")
        if not 0 <= float(dropout) < 1:
            raise ConfigError(f"{type(self).__name__}: dropout must be in [0, 1), got {dropout}")
        self.use_scale, self.score_mode = bool(use_scale), score_mode
        self.dropout, self.seed = float(dropout), seed

    def _shapes(self, input_shape: Any) -> list[tuple]:
        if not isinstance(input_shape, (list, tuple)) or not input_shape or not isinstance(
                input_shape[0], (list, tuple)) or len(input_shape) not in (2, 3):
            raise ConfigError(f"{type(self).__name__} is called on a list [query, value] or "
                              "[query, value, key]")
        shapes = [tuple(s) for s in input_shape]
        if any(len(s) != 3 for s in shapes):
            raise ConfigError(f"{type(self).__name__} takes sequences (batch, steps, features), got {shapes}")
        if shapes[0][-1] != shapes[-1][-1]:
            raise ConfigError(f"{type(self).__name__}: the query and the key need as many features, "
                              f"got {shapes}")
        return shapes

    def build(self, input_shape: Any) -> None:
        self._shapes(input_shape)
        if self.use_scale:
            self.add_weight("scale", (), "ones")
        if self.score_mode == "concat":
            self.add_weight("concat_score_weight", (), "ones")
        super().build(input_shape)

    def compute_output_shape(self, input_shape: Any) -> Shape:
        return (*input_shape[0][:-1], input_shape[1][-1])

    def scores(self, query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
        """(batch, query steps, value steps)."""
        if self.score_mode == "dot":
            scores = query @ key.transpose(-2, -1)
            return scores * self.scale if self.use_scale else scores
        summed = query.unsqueeze(-2) + key.unsqueeze(-3)
        if self.use_scale:
            summed = self.scale * summed
        return self.concat_score_weight * torch.tanh(summed).sum(-1)

    def forward(self, inputs: list[torch.Tensor], mask: Any = None) -> torch.Tensor:
        if not self.built:
            self.build([tuple(t.shape) for t in inputs])
        query, value = inputs[0], inputs[1]
        key = inputs[2] if len(inputs) > 2 else value
        query_mask, value_mask = (list(mask) + [None, None])[:2] if mask else (None, None)
        scores = self.scores(query, key)
        if value_mask is not None:  # Keras's: padded steps' scores lowered by 1e9 (65504 in float16)
            big = 65504.0 if scores.dtype == torch.float16 else 1.0e9
            scores = torch.where(value_mask.unsqueeze(-2), scores, scores - big)
        weights = torch.softmax(scores, dim=-1)
        if self.training and self.dropout > 0:
            weights = F.dropout(weights, self.dropout)
        output = weights @ value
        if query_mask is not None:
            output = torch.where(query_mask.unsqueeze(-1), output, torch.zeros_like(output))
        return output

    def compute_mask(self, x: Any, mask: Any) -> torch.Tensor | None:
        return mask[0] if mask else None

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "use_scale": self.use_scale, "score_mode": self.score_mode,
                "dropout": self.dropout, "seed": self.seed}


class AdditiveAttention(Attention):
    """scores = Σ scale · tanh(query + key) over the features (`scale` a learned vector, Glorot
    uniform; all ones without use_scale)."""

    def __init__(self, use_scale: bool = True, dropout: float = 0.0, **kwargs: Any) -> None:
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def build(self, input_shape: Any) -> None:
        shapes = self._shapes(input_shape)
        if self.use_scale:
            self.add_weight("scale", (shapes[0][-1],), "glorot_uniform")
        Layer.build(self, input_shape)

    def scores(self, query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
        summed = torch.tanh(query.unsqueeze(-2) + key.unsqueeze(-3))
        return (self.scale * summed if self.use_scale else summed).sum(-1)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["score_mode"]
        return config
