"""Keras 2's backend functions (`from keras import backend as K`: K.dot, K.sum, K.softmax, ...) on
torch tensors, for the `call` of a layer written for Keras 2; Keras 2's defaults where they differ
from keras.ops (concatenate joins the last axis, softmax and expand_dims take the last)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from textrnn.backend import ops
from textrnn.backend.ops import (  # noqa: F401 - the same functions under Keras 2's names
    abs,
    cast,
    equal,
    exp,
    log,
    maximum,
    minimum,
    not_equal,
    relu,
    sigmoid,
    sign,
    sqrt,
    square,
    stack,
    tanh,
)
from textrnn.backend.ops import max as max  # noqa: A004, PLC0414
from textrnn.backend.ops import mean as mean  # noqa: PLC0414
from textrnn.backend.ops import min as min  # noqa: A004, PLC0414
from textrnn.backend.ops import sum as sum  # noqa: A004, PLC0414

dot = ops.matmul


def batch_dot(x: Any, y: Any, axes: int | Sequence[int] | None = None) -> torch.Tensor:
    """Per sample, x's axis axes[0] against y's axes[1] (by default x's last and y's second to
    last, as Keras 2)."""
    x, y = ops.convert_to_tensor(x), ops.convert_to_tensor(y)
    if axes is None:
        axes = (x.dim() - 1, y.dim() - 2 if y.dim() > 2 else y.dim() - 1)
    elif isinstance(axes, int):
        axes = (axes, axes)
    x = x.movedim(axes[0], -1)
    y = y.movedim(axes[1], 1)
    out = torch.matmul(x.reshape(x.shape[0], -1, x.shape[-1]), y.reshape(y.shape[0], y.shape[1], -1))
    out = out.reshape(*x.shape[:-1], *y.shape[2:])
    return out.unsqueeze(-1) if out.dim() == 1 else out


def softmax(x: Any, axis: int = -1) -> torch.Tensor:
    return ops.softmax(x, axis)


def expand_dims(x: Any, axis: int = -1) -> torch.Tensor:
    return ops.expand_dims(x, axis)


def squeeze(x: Any, axis: int) -> torch.Tensor:
    return ops.squeeze(x, axis)


def concatenate(tensors: Sequence[Any], axis: int = -1) -> torch.Tensor:
    return ops.concatenate(tensors, axis)


def reshape(x: Any, shape: Sequence[int]) -> torch.Tensor:
    return ops.reshape(x, shape)


def permute_dimensions(x: Any, pattern: Sequence[int]) -> torch.Tensor:
    return ops.transpose(x, pattern)


def transpose(x: Any) -> torch.Tensor:
    return ops.transpose(x)


def repeat_elements(x: Any, rep: int, axis: int) -> torch.Tensor:
    return ops.repeat(x, rep, axis)


def clip(x: Any, min_value: float, max_value: float) -> torch.Tensor:
    return ops.clip(x, min_value, max_value)


def pow(x: Any, a: float) -> torch.Tensor:  # noqa: A001
    return ops.power(x, a)


def argmax(x: Any, axis: int = -1) -> torch.Tensor:
    return ops.argmax(x, axis)


def l2_normalize(x: Any, axis: int | None = None) -> torch.Tensor:
    x = ops.convert_to_tensor(x)
    squares = ops.sum(ops.square(x), axis=axis, keepdims=True)
    return x * torch.rsqrt(torch.clamp(squares, min=1e-12))


def zeros_like(x: Any, dtype: Any = None) -> torch.Tensor:
    return ops.zeros_like(x, dtype)


def ones_like(x: Any, dtype: Any = None) -> torch.Tensor:
    return ops.ones_like(x, dtype)


def int_shape(x: Any) -> tuple[int, ...]:
    return ops.shape(x)


shape = int_shape


def epsilon() -> float:
    return 1e-7


def floatx() -> str:
    return "float32"


__all__ = ["abs", "argmax", "batch_dot", "cast", "clip", "concatenate", "dot", "epsilon", "equal", "exp",
           "expand_dims", "floatx", "int_shape", "l2_normalize", "log", "max", "maximum", "mean", "min",
           "minimum", "not_equal", "ones_like", "permute_dimensions", "pow", "relu", "repeat_elements",
           "reshape", "shape", "sigmoid", "sign", "softmax", "sqrt", "square", "squeeze", "stack", "sum",
           "tanh", "transpose", "zeros_like"]
