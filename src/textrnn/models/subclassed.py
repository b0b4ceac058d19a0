"""Keras's subclassed models: `class MyModel(keras.Model)` whose `__init__` sets layers as attributes
(alone, or in lists and dicts) and whose `call(inputs, training=None)` computes. The model's
`layers` are those it holds, in the order they were set (Keras's tracking), so its weights,
summary, get_weights / set_weights and weights files follow Keras's order; `call` is run as it is
written, each layer passing its mask on the tensors as Keras 3's do (layers.base.take_riding_masks).
Its architecture is Python code, which textrnn's files never hold: it saves its weights.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from textrnn.layers.base import Layer, WeightSplit


def held_layers(attributes: dict[str, Any]) -> list[Any]:
    """The layers (and models) a subclassed model's attributes hold, in the order they were set;
    a list, tuple or dict of them in its order (Keras tracks those too)."""
    found: list[Any] = []
    for value in attributes.values():
        values = value.values() if isinstance(value, dict) else value
        for each in values if isinstance(value, (list, tuple, dict)) else [value]:
            if isinstance(each, WeightSplit) and not any(each is f for f in found):
                found.append(each)
    return found


def example_batch(input_shape: Any) -> Any:
    """Zeros of `input_shape` (a list of shapes: one each), unknown sizes 2, for a first call that
    builds the layers; float32, which an Embedding takes as ids (Keras builds on float32 too)."""
    if isinstance(input_shape, list) and input_shape and isinstance(input_shape[0], (list, tuple)):
        return [example_batch(shape) for shape in input_shape]
    return torch.zeros([2 if d is None else int(d) for d in input_shape])


def unbatched(layers: list[Any]) -> None:
    """Output shapes with an unknown batch size, as after Keras's build((None, ...))."""
    for layer in layers:
        shape = getattr(layer, "output_shape", None)
        if isinstance(layer, Layer) and isinstance(shape, tuple) and shape:
            layer.output_shape = (None, *shape[1:])


def as_tensors(x: Any) -> Any:
    """Arrays (in lists, tuples and dicts too) as tensors, as Keras converts a call's inputs."""
    if isinstance(x, dict):
        return {k: as_tensors(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)) and x and all(isinstance(v, (np.ndarray, torch.Tensor)) for v in x):
        return [as_tensors(v) for v in x]
    return x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
