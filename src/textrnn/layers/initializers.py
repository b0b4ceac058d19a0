"""Keras initializer names, implemented with torch.nn.init (same distributions as Keras)."""

from collections.abc import Callable

import torch

from textrnn.errors import ConfigError


def _glorot_uniform(t: torch.Tensor) -> None:
    # Keras fan_in/fan_out of a (d, n) kernel are d and n; xavier uses their sum, so it agrees.
    torch.nn.init.xavier_uniform_(t)


def _uniform(t: torch.Tensor) -> None:
    # Keras's "uniform" / RandomUniform default range, used by Embedding.
    torch.nn.init.uniform_(t, -0.05, 0.05)


INITIALIZERS: dict[str, Callable[[torch.Tensor], None]] = {
    "glorot_uniform": _glorot_uniform,
    "glorot_normal": torch.nn.init.xavier_normal_,
    "orthogonal": torch.nn.init.orthogonal_,
    "zeros": torch.nn.init.zeros_,
    "ones": torch.nn.init.ones_,
    "uniform": _uniform,
    "random_uniform": _uniform,
    "he_uniform": lambda t: torch.nn.init.kaiming_uniform_(t.T, nonlinearity="relu"),
}


def initialize(tensor: torch.Tensor, name: str) -> None:
    """Fill `tensor` in place with the Keras initializer called `name`."""
    if name not in INITIALIZERS:
        raise ConfigError(
            f"unknown initializer {name!r}; valid: {', '.join(sorted(INITIALIZERS))}"
        )
    with torch.no_grad():
        INITIALIZERS[name](tensor)
