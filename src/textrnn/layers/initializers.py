"""Keras's initializers (`keras.initializers`): the same distributions, fans and configs, drawn with
torch's random generator (a seeded one draws the same values on every call, as Keras's do).

A layer keeps what it was given (a name such as "glorot_uniform", an initializer object, or Keras's
config dict of one) and saves it as Keras does: a name as the name, an object as its
`{"module": "keras.initializers", "class_name": ..., "config": ...}`. `Constant(matrix)` is how
published Keras code starts an Embedding from pretrained word vectors (GloVe)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from textrnn import keras_objects
from textrnn.errors import ConfigError
from textrnn.keras_objects import KerasObject
from textrnn.naming import snake_case


class Initializer(KerasObject):
    """Called as `init(shape, dtype=None)` it returns a new tensor; layers fill their weights
    through `fill_`. A subclass defines `fill_` (or `__call__`) and `get_config`."""

    keras_module = "keras.initializers"

    def __call__(self, shape, dtype=None) -> torch.Tensor:
        tensor = torch.empty(tuple(int(n) for n in shape), dtype=torch.float32)
        with torch.no_grad():
            self.fill_(tensor)
        return tensor if dtype is None else tensor.to(_torch_dtype(dtype))

    def fill_(self, tensor: torch.Tensor) -> None:
        """Fill `tensor` in place (a user's subclass that defines only __call__ gets this one)."""
        tensor.copy_(torch.as_tensor(np.asarray(self(tuple(tensor.shape))), dtype=tensor.dtype))



def _torch_dtype(dtype: Any) -> torch.dtype:
    return dtype if isinstance(dtype, torch.dtype) else getattr(torch, str(dtype))


class _Seeded(Initializer):
    """A random initializer: torch's global generator unless a seed is given (then a generator of
    its own, made afresh on every call, so each call draws the same values)."""

    def __init__(self, seed: int | None = None) -> None:
        if seed is not None and not isinstance(seed, (int, np.integer)):
            raise ConfigError(f"{type(self).__name__}: seed must be an integer or None, got {seed!r}")
        self.seed = None if seed is None else int(seed)

    def generator(self) -> torch.Generator | None:
        return None if self.seed is None else torch.Generator().manual_seed(self.seed)

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed}


class Zeros(Initializer):
    def fill_(self, tensor: torch.Tensor) -> None:
        tensor.zero_()


class Ones(Initializer):
    def fill_(self, tensor: torch.Tensor) -> None:
        tensor.fill_(1.0)


class Constant(Initializer):
    """A value broadcast to the weight's shape: a number, or an array such as a matrix of
    pretrained word vectors for an Embedding."""

    def __init__(self, value: Any = 0.0) -> None:
        if isinstance(value, dict) and value.get("class_name") == "__numpy__":  # Keras's saved array
            value = np.asarray(value["config"]["value"], dtype=value["config"].get("dtype"))
        self.value = value

    def fill_(self, tensor: torch.Tensor) -> None:
        value = torch.as_tensor(np.asarray(self.value), dtype=tensor.dtype)
        try:
            tensor.copy_(value.expand(tensor.shape))
        except RuntimeError:
            raise ConfigError(f"Constant initializer: a value of shape {tuple(value.shape)} does not fit "
                              f"a weight of shape {tuple(tensor.shape)}") from None

    def get_config(self) -> dict[str, Any]:
        if isinstance(self.value, (np.ndarray, np.generic, torch.Tensor)):
            array = np.asarray(self.value)
            if array.ndim:  # as Keras saves an array
                return {"value": {"class_name": "__numpy__",
                                  "config": {"value": array.tolist(), "dtype": str(array.dtype)}}}
            return {"value": array.item()}
        return {"value": self.value}


class Identity(Initializer):
    """`gain` times the identity matrix (2-D weights only)."""

    def __init__(self, gain: float = 1.0) -> None:
        self.gain = float(gain)

    def fill_(self, tensor: torch.Tensor) -> None:
        if tensor.dim() != 2:
            raise ConfigError(f"Identity initializer: needs a 2-D weight, got shape {tuple(tensor.shape)}")
        torch.nn.init.eye_(tensor).mul_(self.gain)

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain}


class RandomUniform(_Seeded):
    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None) -> None:
        super().__init__(seed)
        self.minval, self.maxval = float(minval), float(maxval)

    def fill_(self, tensor: torch.Tensor) -> None:
        tensor.uniform_(self.minval, self.maxval, generator=self.generator())

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval}


class RandomNormal(_Seeded):
    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None) -> None:
        super().__init__(seed)
        self.mean, self.stddev = float(mean), float(stddev)

    def fill_(self, tensor: torch.Tensor) -> None:
        tensor.normal_(self.mean, self.stddev, generator=self.generator())

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class TruncatedNormal(RandomNormal):
    """A normal distribution redrawn beyond two standard deviations of the mean, as Keras's."""

    def fill_(self, tensor: torch.Tensor) -> None:
        low, high = self.mean - 2 * self.stddev, self.mean + 2 * self.stddev
        torch.nn.init.trunc_normal_(tensor, self.mean, self.stddev, low, high, generator=self.generator())


def compute_fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """Keras's fan-in and fan-out: a (inputs, outputs) kernel's two sizes; a convolution kernel's
    channels times its window."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


class VarianceScaling(_Seeded):
    MODES = ("fan_in", "fan_out", "fan_avg")
    DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")

    def __init__(self, scale: float = 1.0, mode: str = "fan_in", distribution: str = "truncated_normal",
                 seed: int | None = None, input_axes=None, output_axes=None) -> None:
        super().__init__(seed)
        distribution = "untruncated_normal" if distribution == "normal" else distribution
        if mode not in self.MODES or distribution not in self.DISTRIBUTIONS or float(scale) <= 0:
            raise ConfigError(f"VarianceScaling: mode must be one of {self.MODES}, distribution one of "
                              f"{self.DISTRIBUTIONS} and scale > 0; got {mode!r}, {distribution!r}, {scale}")
        if input_axes is not None or output_axes is not None:
            raise ConfigError("VarianceScaling: input_axes / output_axes are not supported")
        self.scale, self.mode, self.distribution = float(scale), mode, distribution

    def fill_(self, tensor: torch.Tensor) -> None:
        fan_in, fan_out = compute_fans(tuple(tensor.shape))
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        scale = self.scale / max(1.0, fan)
        generator = self.generator()
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * scale)
            tensor.uniform_(-limit, limit, generator=generator)
        elif self.distribution == "untruncated_normal":
            tensor.normal_(0.0, math.sqrt(scale), generator=generator)
        else:  # the constant is the stddev of a standard normal truncated to (-2, 2), as in Keras
            stddev = math.sqrt(scale) / 0.87962566103423978
            torch.nn.init.trunc_normal_(tensor, 0.0, stddev, -2 * stddev, 2 * stddev, generator=generator)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "scale": self.scale, "mode": self.mode,
                "distribution": self.distribution}


def _variance_scaling(name: str, scale: float, mode: str, distribution: str) -> type[VarianceScaling]:
    """Keras's named variance-scaling initializers: only the seed is theirs to set."""

    def __init__(self, seed: int | None = None, input_axes=None, output_axes=None) -> None:
        VarianceScaling.__init__(self, scale, mode, distribution, seed, input_axes, output_axes)

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed}

    return type(name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config,
                                          "__doc__": f"VarianceScaling({scale}, {mode!r}, {distribution!r})"})


GlorotUniform = _variance_scaling("GlorotUniform", 1.0, "fan_avg", "uniform")
GlorotNormal = _variance_scaling("GlorotNormal", 1.0, "fan_avg", "truncated_normal")
HeUniform = _variance_scaling("HeUniform", 2.0, "fan_in", "uniform")
HeNormal = _variance_scaling("HeNormal", 2.0, "fan_in", "truncated_normal")
LecunUniform = _variance_scaling("LecunUniform", 1.0, "fan_in", "uniform")
LecunNormal = _variance_scaling("LecunNormal", 1.0, "fan_in", "truncated_normal")


class Orthogonal(_Seeded):
    """Keras's: the weight flattened to (product of all but the last size, last size) gets
    orthonormal rows or columns from the QR of a normal draw, times `gain`. The draw is laid out as
    torch.nn.init.orthogonal_ lays it out, so a seed gives the recurrent kernels it always gave."""

    def __init__(self, gain: float = 1.0, seed: int | None = None) -> None:
        super().__init__(seed)
        self.gain = float(gain)

    def fill_(self, tensor: torch.Tensor) -> None:
        if tensor.dim() < 2:
            raise ConfigError(f"Orthogonal initializer: needs a weight of 2 or more dimensions, got "
                              f"shape {tuple(tensor.shape)}")
        rows, cols = math.prod(tensor.shape[:-1]), tensor.shape[-1]
        draw = torch.empty(rows, cols).normal_(0.0, 1.0, generator=self.generator())
        wide = rows < cols
        q, r = torch.linalg.qr(draw.T if wide else draw)
        q = q * torch.sign(torch.diagonal(r))
        tensor.copy_((q.T if wide else q).reshape(tensor.shape) * self.gain)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "gain": self.gain}


CLASSES = {cls.__name__: cls for cls in (
    Constant, Zeros, Ones, Identity, RandomUniform, RandomNormal, TruncatedNormal, VarianceScaling,
    GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal, Orthogonal)}
# Keras's names: each class's snake case, and its aliases
NAMES = {**{snake_case(name): cls for name, cls in CLASSES.items()},
         "uniform": RandomUniform, "normal": RandomNormal, "zero": Zeros, "one": Ones,
         "IdentityInitializer": Identity, "OrthogonalInitializer": Orthogonal}


def get(identifier: Any) -> Initializer | None:
    """An initializer from a name ("glorot_uniform" or "GlorotUniform"), Keras's config dict, an
    initializer object or class, or an array (its values, as Keras takes one)."""
    if identifier is None or isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        cls = NAMES.get(identifier) or CLASSES.get(identifier)
        if cls is None:
            raise ConfigError(f"unknown initializer {identifier!r}; valid: {', '.join(sorted(NAMES))}")
        return cls()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if isinstance(identifier, (np.ndarray, np.generic, torch.Tensor)):
        return Constant(identifier)
    raise ConfigError(f"an initializer should be a name, a keras.initializers object or its config, "
                      f"got {type(identifier).__name__}")


def deserialize(config: dict[str, Any]) -> Initializer:
    return keras_objects.deserialize(config, {**NAMES, **CLASSES}, "initializer")


def serialize(initializer: Any) -> Any:
    """As a layer's config keeps it: a name stays a name, an object becomes Keras's dict."""
    if initializer is None or isinstance(initializer, (str, dict)):
        return initializer
    return keras_objects.serialize(initializer)


def checked(identifier: Any) -> Any:
    """What a layer keeps of its `*_initializer` argument: a name (checked now, so a wrong one fails
    when the layer is made, as in Keras) or an initializer object (a config dict made into one)."""
    resolved = get(identifier)
    return identifier if isinstance(identifier, str) else resolved


def initialize(tensor: torch.Tensor, identifier: Any) -> None:
    """Fill `tensor` in place with the initializer `identifier` names or is."""
    with torch.no_grad():
        get(identifier).fill_(tensor)
