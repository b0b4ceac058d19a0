"""Keras 3's `keras.ops` on torch tensors, for the `call` of a layer of one's own: the functions
published layers use (an attention layer's matmul, tanh, softmax, sum, ...), with Keras's names,
arguments and defaults (`axis=` for torch's `dim=`; `axis=None`: all axes). Also reachable as
`textrnn.ops` (`from keras import ops` under `import textrnn as keras`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16,
          "float64": torch.float64, "int32": torch.int32, "int64": torch.int64, "int8": torch.int8,
          "uint8": torch.uint8, "bool": torch.bool, "int16": torch.int16}


def _dtype(dtype: Any) -> torch.dtype | None:
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    name = str(dtype).removeprefix("torch.")
    if name not in DTYPES:
        raise TypeError(f"unknown dtype {dtype!r}; valid: {', '.join(DTYPES)}")
    return DTYPES[name]


def convert_to_tensor(x: Any, dtype: Any = None) -> torch.Tensor:
    if isinstance(x, np.ndarray):
        x = np.ascontiguousarray(x)  # (torch takes no negative strides: a[::-1])
    tensor = x if isinstance(x, torch.Tensor) else torch.as_tensor(x)
    return tensor if dtype is None else tensor.to(_dtype(dtype))


def _axes(x: torch.Tensor, axis: int | Sequence[int] | None) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(x.dim()))
    return tuple(axis) if isinstance(axis, (list, tuple)) else (axis,)


def _reduce(name: str):
    def reduce(x: Any, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> torch.Tensor:
        x = convert_to_tensor(x)
        if name in ("sum", "mean"):
            return getattr(torch, name)(x, dim=_axes(x, axis), keepdim=keepdims)
        out = x
        for a in sorted((d % x.dim() for d in _axes(x, axis)), reverse=True):
            out = getattr(torch, "amax" if name == "max" else "amin" if name == "min" else name)(
                out, dim=a, keepdim=keepdims)
        return out

    reduce.__name__ = name
    return reduce


sum, mean, max, min, prod = (_reduce(n) for n in ("sum", "mean", "max", "min", "prod"))  # noqa: A001


def matmul(x1: Any, x2: Any) -> torch.Tensor:
    return torch.matmul(convert_to_tensor(x1), convert_to_tensor(x2))


dot = matmul  # (NumPy's dot for the cases layers use: vectors, matrices, a batch times a matrix)


def tensordot(x1: Any, x2: Any, axes: Any = 2) -> torch.Tensor:
    return torch.tensordot(convert_to_tensor(x1), convert_to_tensor(x2), dims=axes)


def einsum(subscripts: str, *operands: Any) -> torch.Tensor:
    return torch.einsum(subscripts, *[convert_to_tensor(o) for o in operands])


def softmax(x: Any, axis: int = -1) -> torch.Tensor:
    return torch.softmax(convert_to_tensor(x), dim=axis)


def log_softmax(x: Any, axis: int = -1) -> torch.Tensor:
    return torch.log_softmax(convert_to_tensor(x), dim=axis)


def _elementwise(fn: Any, name: str):
    def apply(x: Any) -> torch.Tensor:
        return fn(convert_to_tensor(x))

    apply.__name__ = name
    return apply


tanh, sigmoid, relu, exp, log, sqrt, square, abs, sign, negative, erf, silu, logical_not = (  # noqa: A001
    _elementwise(fn, name) for fn, name in (
        (torch.tanh, "tanh"), (torch.sigmoid, "sigmoid"), (torch.relu, "relu"), (torch.exp, "exp"),
        (torch.log, "log"), (torch.sqrt, "sqrt"), (torch.square, "square"), (torch.abs, "abs"),
        (torch.sign, "sign"), (torch.neg, "negative"), (torch.erf, "erf"), (F.silu, "silu"),
        (torch.logical_not, "logical_not")))


def gelu(x: Any, approximate: bool = True) -> torch.Tensor:
    return F.gelu(convert_to_tensor(x), approximate="tanh" if approximate else "none")


def _binary(fn: Any, name: str):
    def apply(x1: Any, x2: Any) -> torch.Tensor:
        return fn(convert_to_tensor(x1), convert_to_tensor(x2))

    apply.__name__ = name
    return apply


(add, subtract, multiply, divide, power, maximum, minimum, equal, not_equal, greater, greater_equal, less,
 less_equal, logical_and, logical_or) = (_binary(fn, name) for fn, name in (
    (torch.add, "add"), (torch.sub, "subtract"), (torch.mul, "multiply"), (torch.true_divide, "divide"),
    (torch.pow, "power"), (torch.maximum, "maximum"), (torch.minimum, "minimum"), (torch.eq, "equal"),
    (torch.ne, "not_equal"), (torch.gt, "greater"), (torch.ge, "greater_equal"), (torch.lt, "less"),
    (torch.le, "less_equal"), (torch.logical_and, "logical_and"), (torch.logical_or, "logical_or")))


def squeeze(x: Any, axis: int | Sequence[int] | None = None) -> torch.Tensor:
    x = convert_to_tensor(x)
    return x.squeeze() if axis is None else x.squeeze(_axes(x, axis))


def expand_dims(x: Any, axis: int) -> torch.Tensor:
    return convert_to_tensor(x).unsqueeze(axis)


def reshape(x: Any, newshape: Sequence[int]) -> torch.Tensor:
    return convert_to_tensor(x).reshape(tuple(-1 if d is None else d for d in newshape))


def transpose(x: Any, axes: Sequence[int] | None = None) -> torch.Tensor:
    x = convert_to_tensor(x)
    return x.permute(*(reversed(range(x.dim())) if axes is None else axes))


def swapaxes(x: Any, axis1: int, axis2: int) -> torch.Tensor:
    return convert_to_tensor(x).transpose(axis1, axis2)


def concatenate(xs: Sequence[Any], axis: int = 0) -> torch.Tensor:
    return torch.cat([convert_to_tensor(x) for x in xs], dim=axis)


def stack(x: Sequence[Any], axis: int = 0) -> torch.Tensor:
    return torch.stack([convert_to_tensor(t) for t in x], dim=axis)


def repeat(x: Any, repeats: int, axis: int | None = None) -> torch.Tensor:
    return torch.repeat_interleave(convert_to_tensor(x), repeats, dim=axis)


def tile(x: Any, repeats: Sequence[int]) -> torch.Tensor:
    return convert_to_tensor(x).tile(tuple(repeats))


def flip(x: Any, axis: int | Sequence[int] | None = None) -> torch.Tensor:
    x = convert_to_tensor(x)
    return torch.flip(x, _axes(x, axis))


def where(condition: Any, x1: Any = None, x2: Any = None) -> torch.Tensor:
    condition = convert_to_tensor(condition)
    if x1 is None and x2 is None:
        return torch.stack(torch.where(condition), dim=-1)
    return torch.where(condition.bool(), convert_to_tensor(x1), convert_to_tensor(x2))


def clip(x: Any, x_min: float, x_max: float) -> torch.Tensor:
    return torch.clamp(convert_to_tensor(x), x_min, x_max)


def cast(x: Any, dtype: Any) -> torch.Tensor:
    return convert_to_tensor(x).to(_dtype(dtype))


def shape(x: Any) -> tuple[int, ...]:
    return tuple(convert_to_tensor(x).shape)


def argmax(x: Any, axis: int | None = None, keepdims: bool = False) -> torch.Tensor:
    return torch.argmax(convert_to_tensor(x), dim=axis, keepdim=keepdims)


def argmin(x: Any, axis: int | None = None, keepdims: bool = False) -> torch.Tensor:
    return torch.argmin(convert_to_tensor(x), dim=axis, keepdim=keepdims)


def cumsum(x: Any, axis: int | None = None, dtype: Any = None) -> torch.Tensor:
    x = convert_to_tensor(x)
    return torch.cumsum(x.reshape(-1) if axis is None else x, dim=0 if axis is None else axis,
                        dtype=_dtype(dtype))


def take(x: Any, indices: Any, axis: int | None = None) -> torch.Tensor:
    x, indices = convert_to_tensor(x), convert_to_tensor(indices).long()
    if axis is None:
        return x.reshape(-1)[indices]
    return torch.index_select(x, axis, indices.reshape(-1)).reshape(
        *x.shape[:axis % x.dim()], *indices.shape, *x.shape[axis % x.dim() + 1:])


def ones_like(x: Any, dtype: Any = None) -> torch.Tensor:
    return torch.ones_like(convert_to_tensor(x), dtype=_dtype(dtype))


def zeros_like(x: Any, dtype: Any = None) -> torch.Tensor:
    return torch.zeros_like(convert_to_tensor(x), dtype=_dtype(dtype))


def ones(shape: Sequence[int], dtype: Any = None) -> torch.Tensor:
    return torch.ones(tuple(shape), dtype=_dtype(dtype) or torch.float32)


def zeros(shape: Sequence[int], dtype: Any = None) -> torch.Tensor:
    return torch.zeros(tuple(shape), dtype=_dtype(dtype) or torch.float32)


def arange(start: int, stop: int | None = None, step: int = 1, dtype: Any = None) -> torch.Tensor:
    if stop is None:
        start, stop = 0, start
    return torch.arange(start, stop, step, dtype=_dtype(dtype))
