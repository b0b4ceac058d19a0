"""Multi-process training with PyTorch's own engine: `torchrun ... -m textrnn train ...`.

torchrun sets RANK / WORLD_SIZE / MASTER_ADDR; `init_from_env` then joins the process group (gloo on
CPU; on GPUs nccl, and gloo for the few CPU tensors). Rules, chosen so N processes compute what one
process would:
- the global batch is --batch-size; each step every rank takes every N-th row of the same shuffled
  global batch (all ranks share the seed, hence the shuffle), so the learning rate needs no change;
- DistributedDataParallel averages the gradients; epoch loss / accuracy are averaged over ranks;
- every rank computes the validation metrics on the full validation rows, so early-stopping decisions
  agree without messages;
- only rank 0 writes checkpoints, logs and plots.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist

BACKENDS = {"cpu": "gloo", "cuda": "cpu:gloo,cuda:nccl"}


def init_from_env() -> bool:
    """Join the process group if launched by torchrun with more than one process."""
    if dist.is_available() and dist.is_initialized():
        return True
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    from textrnn.backend.device import resolve

    device = resolve(None)
    if device.type == "cuda":  # one GPU per process: torchrun's LOCAL_RANK picks it
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
        os.environ["TEXTRNN_DEVICE"] = str(device)  # where this process's model is placed
    # nccl carries CUDA tensors only: the few CPU ones (epoch means, rank 0's decisions) go by gloo
    dist.init_process_group(backend=BACKENDS[device.type])
    return True


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    return rank() == 0


def local_rows(batch_idx: torch.Tensor) -> torch.Tensor:
    """This rank's share of a global batch."""
    return batch_idx[rank()::world_size()]


def mean_over_ranks(*values: float) -> list[float]:
    if not active():
        return list(values)
    t = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(t)
    return (t / world_size()).tolist()


def decided_by_rank0(flag: bool) -> bool:
    """Rank 0's value of `flag` on every rank (e.g. a time budget read from one clock)."""
    if not active():
        return flag
    t = torch.tensor([1.0 if flag else 0.0])
    dist.broadcast(t, src=0)
    return bool(t.item())


def barrier() -> None:
    if active():
        dist.barrier()


def wrap(module: torch.nn.Module, find_unused_parameters: bool = False) -> torch.nn.Module:
    """DistributedDataParallel around `module` when distributed, else the module itself.
    find_unused_parameters: some parameters may get no gradient in a step (e.g. an adaptive
    softmax cluster no target of the batch falls in)."""
    if not active():
        return module
    from torch.autograd.graph import increment_version
    from torch.nn.parallel import DistributedDataParallel

    wrapped = DistributedDataParallel(module, find_unused_parameters=find_unused_parameters)
    increment_version(list(module.parameters()))  # rank 0's weights were copied in behind autograd's back
    return wrapped
