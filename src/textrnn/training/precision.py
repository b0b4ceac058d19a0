"""Mixed precision as Keras's dtype policies: "float32" (the default), "mixed_bfloat16" and
"mixed_float16" (`keras.mixed_precision.set_global_policy`; `textrnn --precision fp32|bf16|fp16`).

Under a mixed policy the weights and the optimizer stay float32; the forward runs under
torch.autocast in the compute dtype (matrix products, convolutions and the recurrent kernels: cuDNN
on a GPU), and the loss, metrics and predictions are computed from float32 outputs. "mixed_float16"
also scales the loss, as Keras's LossScaleOptimizer does: initial scale 2**15, doubled after 2,000
finite steps, halved with the step skipped when a gradient is inf / NaN (torch's GradScaler).

A model takes the global policy in force when it is created (Keras: when its layers are), and
`model.dtype_policy` can be set later; a layer given `dtype=` computes in its own policy whatever
its model's (textrnn.backend.dtype_policy, where the policies themselves are defined). textrnn's
folders keep the layers' own policies but not the model's (a loaded model takes the one in force
when it is loaded; a training run records its own in run.json); `.keras` files keep them all, as
Keras's do, with a LossScaleOptimizer's state. textrnn's own CPU kernels and the direct step
compute float32 only and step aside under autocast; mixed precision pays on a GPU.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from textrnn.backend.dtype_policy import (  # noqa: F401 - Keras's names, on Keras's path too
    COMPUTE_DTYPES,
    SHORT_NAMES,
    DTypePolicy,
    Policy,
    autocast,
    global_policy,
    policy_name,
    set_global_policy,
)
from textrnn.training.optimizers import step_optimizer

LOSS_SCALE = {"init_scale": 2.0 ** 15, "growth_interval": 2000}  # LossScaleOptimizer's defaults


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
