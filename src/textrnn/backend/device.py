"""Which device a model computes on: CUDA when there is one, else the CPU, as Keras does.

`resolve(spec)` reads "cpu", "cuda", "cuda:N" or "auto" (None: the TEXTRNN_DEVICE environment
variable, else "auto"). A model is placed on the resolved device the first time it trains or
predicts, unless it was moved before (`model.to(device)`); its batches follow it there. Saved models
and runs hold no device: they load on the CPU and are placed where they are used.
"""

from __future__ import annotations

import os

import torch

from textrnn.errors import ConfigError

ENV = "TEXTRNN_DEVICE"


def resolve(spec: str | torch.device | None = None) -> torch.device:
    """The torch.device for `spec`; one ConfigError line for a device this machine does not have."""
    if isinstance(spec, torch.device):
        spec = str(spec)
    name = (spec or os.environ.get(ENV) or "auto").strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r} (from {'--device' if spec else ENV}); give cpu, cuda, "
                          "cuda:N or auto") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ConfigError(f"device {name!r}: this machine has no CUDA device (torch "
                              f"{torch.__version__}); use cpu or auto")
        if device.index is not None and device.index >= count:
            raise ConfigError(f"device {name!r}: this machine has {count} CUDA device(s), cuda:0 to "
                              f"cuda:{count - 1}")
    elif device.type != "cpu":
        raise ConfigError(f"device {name!r}: textrnn runs on cpu or cuda")
    return device


def move_optimizer_state(optimizer: torch.optim.Optimizer, device: torch.device) -> None:
    """An optimizer's state tensors (moments, averages) to `device`, after its parameters moved."""
    for state in optimizer.state.values():
        for key, value in state.items():
            if isinstance(value, torch.Tensor) and value.device != device and value.dim() > 0:
                state[key] = value.to(device)
