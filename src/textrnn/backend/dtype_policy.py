"""Keras's dtype policies, the vocabulary: "float32" (the default), "mixed_bfloat16" and
"mixed_float16" (`keras.mixed_precision.set_global_policy`; `textrnn --precision fp32|bf16|fp16`),
the global policy, and how a forward computes under one (torch.autocast). Weights are float32
under every policy. The layers read this (a layer given `dtype=` computes in its own policy), the
trainer too; loss scaling and the optimizer step are training's (textrnn.training.precision).
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch

from textrnn.errors import ConfigError

COMPUTE_DTYPES = {"float32": None, "mixed_bfloat16": torch.bfloat16, "mixed_float16": torch.float16}
SHORT_NAMES = {"fp32": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}

_global_policy = "float32"


def policy_name(policy: Any) -> str:
    """The policy's Keras name, from a name ("mixed_bfloat16"), a short one ("bf16") or a
    DTypePolicy; one ConfigError line for anything else."""
    name = policy.name if isinstance(policy, DTypePolicy) else policy
    name = SHORT_NAMES.get(name, name) if isinstance(name, str) else name
    if name not in COMPUTE_DTYPES:
        raise ConfigError(f"unknown dtype policy {policy!r}; valid: {', '.join(COMPUTE_DTYPES)} "
                          f"(or {', '.join(SHORT_NAMES)}): textrnn keeps weights in float32")
    return name


class DTypePolicy:
    """keras.mixed_precision.DTypePolicy for the three policies textrnn computes."""

    def __init__(self, name: str = "float32") -> None:
        self.name = policy_name(name)

    @property
    def compute_dtype(self) -> str:
        return {"mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}.get(self.name, "float32")

    @property
    def variable_dtype(self) -> str:
        return "float32"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DTypePolicy) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f'<DTypePolicy "{self.name}">'


Policy = DTypePolicy


def set_global_policy(policy: str | DTypePolicy) -> None:
    """The policy of the models and layers created from now on."""
    global _global_policy
    _global_policy = policy_name(policy)


def global_policy() -> DTypePolicy:
    return DTypePolicy(_global_policy)


def autocast(device: torch.device, policy: str) -> contextlib.AbstractContextManager:
    """The forward's context under `policy` on `device`: torch.autocast, or nothing for float32."""
    dtype = COMPUTE_DTYPES[policy]
    return contextlib.nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)


def _first_tensor(value: Any) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (list, tuple)):
        return next((t for t in map(_first_tensor, value) if t is not None), None)
    return None


def _to_float32(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.float() if value.is_floating_point() else value
    if isinstance(value, (list, tuple)):
        return type(value)(_to_float32(v) for v in value)
    return value


def call_in_policy(policy: str, call: Any, args: tuple, kwargs: dict) -> Any:
    """`call(*args, **kwargs)` computing in `policy` whatever the surrounding model's (Keras: a
    layer computes in its own policy): under autocast to its compute dtype, or, for float32,
    with autocast off and float inputs cast to float32 (as Keras casts a layer's inputs)."""
    tensor = _first_tensor(args)
    device = tensor.device.type if tensor is not None else "cpu"
    dtype = COMPUTE_DTYPES[policy]
    if dtype is None:
        if not torch.is_autocast_enabled(device) and (tensor is None or tensor.dtype == torch.float32
                                                      or not tensor.is_floating_point()):
            return call(*args, **kwargs)  # nothing to change: the usual float32 case costs nothing
        with torch.autocast(device, enabled=False):
            return call(*_to_float32(args), **_to_float32(kwargs))
    with torch.autocast(device, dtype=dtype):
        return call(*args, **kwargs)
