"""Embedding, as keras.layers.Embedding: a (input_dim, output_dim) lookup table."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from textrnn.backend import kernels
from textrnn.errors import DataError
from textrnn.layers import initializers
from textrnn.layers.base import Layer, Shape


class _Lookup(torch.autograd.Function):
    """F.embedding with a faster backward on the CPU: the table's gradient summed in id order by
    textrnn's kernel (or index_add_ without it) instead of PyTorch's embedding_dense_backward,
    which sorts the ids; same sums (benchmarks/kernel_speed.py times the kernel against index_add_)."""

    @staticmethod
    def forward(ctx: Any, table: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        flat = ids.reshape(-1)
        ctx.save_for_backward(flat)
        ctx.table_shape = table.shape
        return table.index_select(0, flat).view(*ids.shape, table.shape[1])

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (flat,) = ctx.saved_tensors
        rows = grad.reshape(-1, ctx.table_shape[1])
        if rows.dtype in (torch.float32, torch.float64) and kernels.runs_on(rows, flat):
            return kernels.embedding_grad(flat, rows, ctx.table_shape[0]), None
        return grad.new_zeros(ctx.table_shape).index_add_(0, flat, rows), None


class Embedding(Layer):
    """Maps integer ids in [0, input_dim) to vectors of size output_dim.

    `mask_zero=True` treats id 0 as padding: the mask `ids != 0` flows to the next layers, and
    recurrent layers skip masked steps, carrying their state through. `weights=[matrix]` starts from
    a given matrix (e.g. pretrained word vectors); `trainable=False` freezes it.
    `input_length` (Keras 2) fixes the sequence length so the model can be built and summarised
    before it sees data.
    """

    regularizable = ("embeddings",)

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        embeddings_initializer: Any = "uniform",
        mask_zero: bool = False,
        weights: list[np.ndarray] | None = None,
        input_length: int | None = None,
        **kwargs: Any,
    ) -> None:
        if input_length is not None and "input_shape" not in kwargs:
            kwargs["input_shape"] = (int(input_length),)
        super().__init__(**kwargs)
        self.input_dim = int(input_dim)
        self.output_dim = int(output_dim)
        self.embeddings_initializer = initializers.checked(embeddings_initializer)
        self.mask_zero = mask_zero
        self.input_length = input_length
        self._initial_weights = weights

    def build(self, input_shape: Shape) -> None:
        self.add_weight("embeddings", (self.input_dim, self.output_dim), self.embeddings_initializer)
        super().build(input_shape)
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (*input_shape, self.output_dim)

    def token_ids(self, ids: torch.Tensor) -> torch.Tensor:
        """`ids` as integer indices, checked against the table (a clear error, not an index fault)."""
        if ids.dtype.is_floating_point:
            ids = ids.long()
        if not torch.jit.is_tracing() and ids.numel():  # an exported graph cannot raise Python errors
            low, high = (int(v) for v in torch.aminmax(ids))
            if low < 0 or high >= self.input_dim:
                raise DataError(f"layer {self.name!r}: token ids must lie in [0, {self.input_dim}), "
                                f"got values from {low} to {high}")
        return ids

    def forward(self, ids: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        self.ensure_built(ids)
        ids = self.token_ids(ids)
        checkable = not torch.jit.is_tracing()
        trains = self.embeddings.requires_grad and torch.is_grad_enabled()
        if checkable and trains and ids.device.type == "cpu":  # measured on the CPU only
            return _Lookup.apply(self.embeddings, ids)
        return F.embedding(ids, self.embeddings)

    def compute_mask(self, ids: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor | None:
        return ids != 0 if self.mask_zero else None

    def get_config(self) -> dict[str, Any]:
        config = {
            **super().get_config(),
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
            "mask_zero": self.mask_zero,
        }
        return config
