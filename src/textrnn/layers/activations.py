"""Keras activation names mapped to torch functions."""

from collections.abc import Callable

import torch

from textrnn.errors import ConfigError

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "linear": lambda x: x,
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "softmax": lambda x: torch.softmax(x, dim=-1),
    # Keras 3's hard_sigmoid: relu6(x + 3) / 6.
    "hard_sigmoid": lambda x: torch.clamp(x / 6.0 + 0.5, 0.0, 1.0),
}


def get(name: str | None) -> Callable[[torch.Tensor], torch.Tensor]:
    """Return the activation called `name` (None means linear)."""
    key = "linear" if name is None else name
    if key not in ACTIVATIONS:
        raise ConfigError(f"unknown activation {name!r}; valid: {', '.join(sorted(ACTIVATIONS))}")
    return ACTIVATIONS[key]
