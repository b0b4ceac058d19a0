"""Mixed precision as Keras's dtype policies: "float32" (the default), "mixed_bfloat16" and
"mixed_float16" (`keras.mixed_precision.set_global_policy`; `textrnn --precision fp32|bf16|fp16`).

Under a mixed policy the weights and the optimizer stay float32; the forward runs under
torch.autocast in the compute dtype (matrix products, convolutions and the recurrent kernels: cuDNN
on a GPU), and the loss, metrics and predictions are computed from float32 outputs. "mixed_float16"
also scales the loss, as Keras's LossScaleOptimizer does: initial scale 2**15, doubled after 2,000
finite steps, halved with the step skipped when a gradient is inf / NaN (torch's GradScaler).

A model takes the global policy in force when it is created (Keras: when its layers are), and
`model.dtype_policy` can be set later. Saved models hold no policy (their weights are float32): a
loaded model takes the one in force when it is loaded. textrnn's own CPU kernels and the direct step
compute float32 only and step aside under autocast; mixed precision pays on a GPU.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import torch

from textrnn.errors import ConfigError
from textrnn.training.optimizers import step_optimizer

COMPUTE_DTYPES = {"float32": None, "mixed_bfloat16": torch.bfloat16, "mixed_float16": torch.float16}
SHORT_NAMES = {"fp32": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}
LOSS_SCALE = {"init_scale": 2.0 ** 15, "growth_interval": 2000}  # LossScaleOptimizer's defaults

_global_policy = "float32"


def policy_name(policy: Any) -> str:
    """The policy's Keras name, from a name ("mixed_bfloat16"), a short one ("bf16") or a
    DTypePolicy; one ConfigError line for anything else."""
    name = policy.name if isinstance(policy, DTypePolicy) else policy
    name = SHORT_NAMES.get(name, name) if isinstance(name, str) else name
    if name not in COMPUTE_DTYPES:
        raise ConfigError(f"unknown dtype policy {policy!r}; valid: {', '.join(COMPUTE_DTYPES)} "
                          f"(or {', '.join(SHORT_NAMES)})")
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
    """The policy of the models created from now on."""
    global _global_policy
    _global_policy = policy_name(policy)


def global_policy() -> DTypePolicy:
    return DTypePolicy(_global_policy)


def autocast(device: torch.device, policy: str) -> contextlib.AbstractContextManager:
    """The forward's context under `policy` on `device`: torch.autocast, or nothing for float32."""
    dtype = COMPUTE_DTYPES[policy]
    return contextlib.nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)


def backward_and_step(loss: torch.Tensor, optimizer: torch.optim.Optimizer,
                      scaler: torch.amp.GradScaler | None, clip: Callable[[], Any] | None = None) -> None:
    """loss.backward() and one optimizer step, `clip()` (gradient clipping) between them. With
    float16's scaler the loss is scaled, the gradients unscaled before `clip`, and the step skipped
    when one of them overflowed."""
    if scaler is None:
        loss.backward()
    else:
        scaler.scale(loss).backward()
        if clip is not None:
            scaler.unscale_(optimizer)
    if clip is not None:
        clip()
    if scaler is None:
        step_optimizer(optimizer)
    else:
        scaler.step(optimizer)
        scaler.update()


def grad_scaler(device: torch.device, policy: str) -> torch.amp.GradScaler | None:
    """Loss scaling for float16 (its gradients underflow without it); None for the others."""
    if policy != "mixed_float16":
        return None
    return torch.amp.GradScaler(device.type, **LOSS_SCALE)
