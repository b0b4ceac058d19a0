"""Keras activation names mapped to torch functions."""

from collections.abc import Callable

import torch
import torch.nn.functional as F

from textrnn.errors import ConfigError

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "linear": lambda x: x,
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "softmax": lambda x: torch.softmax(x, dim=-1),
    # Keras 3's hard_sigmoid: relu6(x + 3) / 6.
    "hard_sigmoid": lambda x: torch.clamp(x / 6.0 + 0.5, 0.0, 1.0),
    # The others of keras.activations, with Keras's constants (leaky_relu's slope 0.2, exact gelu)
    "elu": F.elu,
    "selu": F.selu,
    "gelu": F.gelu,
    "silu": F.silu,
    "swish": F.silu,
    "softplus": F.softplus,
    "softsign": F.softsign,
    "leaky_relu": lambda x: F.leaky_relu(x, 0.2),
    "relu6": F.relu6,
    "exponential": torch.exp,
    "mish": F.mish,
    "hard_silu": F.hardswish,
    "hard_swish": F.hardswish,
    "log_softmax": lambda x: torch.log_softmax(x, dim=-1),
}


def get(name: str | None) -> Callable[[torch.Tensor], torch.Tensor]:
    """Return the activation called `name` (None means linear)."""
    key = "linear" if name is None else name
    if key not in ACTIVATIONS:
        raise ConfigError(f"unknown activation {name!r}; valid: {', '.join(sorted(ACTIVATIONS))}")
    return ACTIVATIONS[key]
