"""Attention over a sequence, as keras.layers.Attention (dot-product, Luong's) and AdditiveAttention
(Bahdanau's): the layers published RNN text classifiers put over an LSTM's outputs. Called in a
model graph on [query, value] or [query, value, key] (the key is the value when not given); a
padded value step (its mask) gets no weight, and the output keeps the query's mask."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from textrnn.errors import ConfigError
from textrnn.layers import initializers
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


class MultiHeadAttention(Layer):
    """keras.layers.MultiHeadAttention (the transformer's): query, key and value projected to
    `num_heads` heads of `key_dim` (values: `value_dim`), softmax(q·kᵀ / sqrt(key_dim)) over the
    value steps, the heads projected back to the query's features. Called as Keras's,
    `mha(query, value)` or `mha(query, value, key)`, eagerly or in a model graph; the query's and
    value's masks (a model graph passes them, or query_mask= / value_mask= / key_mask=),
    `attention_mask` and `use_causal_mask` say which steps each query step may attend to; the
    output keeps the query's mask. Weights in Keras's order: the query, key, value and output
    projections, each kernel then bias."""

    takes_list = separate_inputs = True  # (recorded in a model graph as [query, value(, key)])

    def __init__(self, num_heads: int, key_dim: int, value_dim: int | None = None, dropout: float = 0.0,
                 use_bias: bool = True, output_shape: Any = None, attention_axes: Any = None,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 flash_attention: Any = None, sliding_window: Any = None, use_gate: bool = False,
                 seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        sizes = (("num_heads", num_heads), ("key_dim", key_dim), ("value_dim", value_dim or key_dim))
        for name, value in sizes:
            if not isinstance(value, int) or value <= 0:
                raise ConfigError(f"MultiHeadAttention: {name} must be a positive integer, got {value!r}")
        if attention_axes in (1, -2, [1], (1,), [-2], (-2,)):  # the steps: the default for 3-D inputs
            attention_axes = None
        for name, value in (("output_shape", output_shape), ("attention_axes", attention_axes),
                            ("sliding_window", sliding_window)):
            if value is not None:
                raise ConfigError(f"MultiHeadAttention({name}=...) is not supported")
        if use_gate:
            raise ConfigError("MultiHeadAttention(use_gate=True) is not supported")
        if not 0 <= float(dropout) < 1:
            raise ConfigError(f"MultiHeadAttention: dropout must be in [0, 1), got {dropout}")
        self.num_heads, self.key_dim, self.value_dim = num_heads, key_dim, value_dim or key_dim
        self.dropout, self.use_bias, self.seed = float(dropout), bool(use_bias), seed
        self.kernel_initializer = initializers.checked(kernel_initializer)
        self.bias_initializer = initializers.checked(bias_initializer)

    def build(self, input_shape: Any) -> None:
        shapes = [tuple(s) for s in input_shape]
        if len(shapes) not in (2, 3) or any(len(s) != 3 for s in shapes):
            raise ConfigError("MultiHeadAttention takes a query and a value (and a key), each of shape "
                              f"(batch, steps, features), got {shapes}")
        query, value = shapes[0], shapes[1]
        key = shapes[2] if len(shapes) > 2 else value
        heads = self.num_heads
        for part, features, size in (("query", query[-1], self.key_dim), ("key", key[-1], self.key_dim),
                                     ("value", value[-1], self.value_dim)):
            self.add_weight(f"{part}_kernel", (int(features), heads, size), self.kernel_initializer)
            if self.use_bias:
                self.add_weight(f"{part}_bias", (heads, size), self.bias_initializer)
        self.add_weight("output_kernel", (heads, self.value_dim, int(query[-1])), self.kernel_initializer)
        if self.use_bias:
            self.add_weight("output_bias", (int(query[-1]),), self.bias_initializer)
        Layer.build(self, input_shape)

    def compute_output_shape(self, input_shape: Any) -> Shape:
        return tuple(input_shape[0])

    def _project(self, x: torch.Tensor, part: str) -> torch.Tensor:
        out = torch.einsum("btd,dhk->bthk", x, getattr(self, f"{part}_kernel"))
        return out + getattr(self, f"{part}_bias") if self.use_bias else out

    def forward(self, query: Any, value: torch.Tensor | None = None, key: torch.Tensor | None = None,
                query_mask: torch.Tensor | None = None, value_mask: torch.Tensor | None = None,
                key_mask: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None,
                return_attention_scores: bool = False, training: bool | None = None,
                use_causal_mask: bool = False, mask: Any = None) -> Any:
        if isinstance(query, (list, tuple)):  # a model graph's call: the tensors and their masks
            masks = list(mask or []) + [None] * 3
            query, value, key = (list(query) + [None])[:3]
            query_mask, value_mask, key_mask = masks[0], masks[1], masks[2] if key is not None else None
        if value is None:
            raise ConfigError("MultiHeadAttention is called on a query and a value: mha(query, value)")
        key_given = key is not None and key is not value
        key = value if key is None else key
        if not self.built:
            self.build([tuple(query.shape), tuple(value.shape), *([tuple(key.shape)] if key_given else [])])
        allowed = _attention_mask(query, value, query_mask, value_mask, key_mask if key_given else None,
                                  attention_mask, use_causal_mask)
        q = self._project(query, "query") * (1.0 / math.sqrt(self.key_dim))
        k, v = self._project(key, "key"), self._project(value, "value")
        scores = torch.einsum("bshk,bthk->bhts", k, q)
        if allowed is not None:
            allowed = allowed.unsqueeze(1)  # every head
            lowest = -3e4 if scores.dtype == torch.float16 else -1e9  # Keras's softmax mask
            scores = torch.where(allowed, scores, torch.full_like(scores, lowest))
        weights = torch.softmax(scores, dim=-1)
        if allowed is not None:
            weights = torch.where(allowed, weights, torch.zeros_like(weights))
        dropping = self.training if training is None else training
        if dropping and self.dropout > 0:
            weights = F.dropout(weights, self.dropout)
        attended = torch.einsum("bhts,bshv->bthv", weights, v)
        output = torch.einsum("bthv,hvd->btd", attended, self.output_kernel)
        if self.use_bias:
            output = output + self.output_bias
        return (output, weights) if return_attention_scores else output

    def compute_mask(self, x: Any, mask: Any) -> torch.Tensor | None:
        return mask[0] if mask else None

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim,
                "value_dim": self.value_dim, "dropout": self.dropout, "use_bias": self.use_bias,
                "seed": self.seed, "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer)}


def _attention_mask(query: torch.Tensor, value: torch.Tensor, query_mask: Any, value_mask: Any,
                    key_mask: Any, attention_mask: Any, causal: bool) -> torch.Tensor | None:
    """Keras's: which value steps each query step may attend to, (batch, query steps, value steps),
    from the masks given (all of them must allow a pair), or None."""
    parts = []
    if query_mask is not None:
        parts.append(query_mask.bool().unsqueeze(-1))
    for mask in (value_mask, key_mask):
        if mask is not None:
            parts.append(mask.bool().unsqueeze(-2))
    if causal:
        steps, values = query.shape[1], value.shape[1]
        parts.append(torch.ones(steps, values, dtype=torch.bool, device=query.device).tril().unsqueeze(0))
    if attention_mask is not None:
        parts.append(torch.as_tensor(attention_mask, device=query.device).bool())
    if not parts:
        return None
    allowed = parts[0]
    for part in parts[1:]:
        allowed = allowed & part
    return allowed
