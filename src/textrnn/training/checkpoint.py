"""Full training state on disk without pickle: weights, optimizer state, RNG state, progress.

Layout of a checkpoint folder (written atomically, so a crash leaves the previous one intact):
    weights.safetensors   model.state_dict()
    optimizer.safetensors optimizer tensors, keyed "<param index>.<name>"
    rng.safetensors       torch's CPU generator state
    state.json            optimizer scalars and param groups, plus the caller's progress record
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from textrnn.errors import DataError
from textrnn.io_utils import atomic_write_dir, atomic_write_json, settle_dir


def optimizer_parts(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """An optimizer's state as (tensors keyed "<param index>.<name>", a JSON-able record of its
    scalars and parameter groups): what optimizer.safetensors and a JSON file hold."""
    opt_state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, entries in opt_state["state"].items():
        for name, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{index}.{name}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{index}.{name}"] = value
    return tensors, {"optimizer_scalars": scalars, "param_groups": opt_state["param_groups"]}


def restore_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                      record: dict[str, Any]) -> None:
    """Put back what optimizer_parts took out (raises KeyError / ValueError on a mismatch)."""
    state: dict[int, dict[str, Any]] = {}
    for key, value in [*tensors.items(), *record["optimizer_scalars"].items()]:
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": record["param_groups"]})


def save_checkpoint(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    progress: dict[str, Any]) -> None:
    tensors, record = optimizer_parts(optimizer)

    def fill(folder: Path) -> None:
        save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
                  str(folder / "weights.safetensors"))
        save_file(tensors, str(folder / "optimizer.safetensors"))
        save_file({"torch": torch.get_rng_state()}, str(folder / "rng.safetensors"))
        atomic_write_json(folder / "state.json", {**record, "progress": progress})

    atomic_write_dir(path, fill)


def load_checkpoint(path: Path, model: torch.nn.Module,
                    optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """Restore model, optimizer and RNG from `path`; return the progress record."""
    from safetensors import SafetensorError

    from textrnn.serialization import load_weights_file, read_json

    path = settle_dir(path)
    try:
        meta = read_json(path / "state.json")
        load_weights_file(model, path / "weights.safetensors")
        tensors = load_file(str(path / "optimizer.safetensors"))
        rng = load_file(str(path / "rng.safetensors"))["torch"]
        restore_optimizer(optimizer, tensors, meta)
        torch.set_rng_state(rng)
        progress = meta["progress"]
        progress["epochs_done"], progress["history"]  # noqa: B018 - the keys resuming reads
    except FileNotFoundError as exc:
        raise DataError(f"{path}: incomplete checkpoint ({exc.filename} missing)") from None
    except (SafetensorError, KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
        raise DataError(f"{path}: damaged checkpoint ({type(exc).__name__}: {exc}); delete it to "
                        "restart the run from its first epoch") from None
    return progress
