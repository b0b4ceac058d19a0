"""What compile / fit / evaluate / predict are given, read as Keras reads it: inputs (an array, or
one per input as a list or a dict by input name), labels (one array, or one per output as a list
or a dict by output name), class and sample weights, a one-output model's loss and metrics given
per output; and one line for an argument textrnn does not take. Bad input is a one-line
DataError / ConfigError naming the argument."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from textrnn.errors import ConfigError, DataError
from textrnn.training import losses
from textrnn.training.objective import OutputTerm

Tensors = torch.Tensor | list[torch.Tensor]


def as_array(data: Any, field: str) -> np.ndarray:
    try:
        return np.asarray(data)
    except Exception as exc:  # ragged lists and the like
        raise DataError(f"{field}: expected a rectangular array ({exc})") from None


def input_tensor(data: Any, field: str) -> torch.Tensor:
    xa = as_array(data, field)
    if xa.ndim == 2 and np.issubdtype(xa.dtype, np.integer):  # token ids
        return torch.from_numpy(np.ascontiguousarray(xa, dtype=np.int64))
    if xa.ndim in (2, 3) and (np.issubdtype(xa.dtype, np.number) or xa.dtype == bool):  # one-hot, ...
        return torch.from_numpy(np.ascontiguousarray(xa, dtype=np.float32))
    raise DataError(f"{field}: expected token ids (samples, timesteps) or numbers (samples, timesteps"
                    f"[, features]), got shape {xa.shape} of {xa.dtype}")


def inputs(x: Any, names: Sequence[str], count: int) -> Tensors:
    """x for a model of `count` inputs named `names`: one tensor, or a list of them."""
    if isinstance(x, dict):
        x = _by_name(x, names)
    many = isinstance(x, (list, tuple)) and len(x) == count and all(
        isinstance(part, np.ndarray) for part in x)
    if count > 1 and not many:
        raise DataError(f"x: this model takes {count} inputs; give a list of {count} arrays")
    if not (many and count > 1):
        return input_tensor(x[0] if many else x, "x")  # Keras also takes [array] for one input
    tensors = [input_tensor(part, f"x[{k}]") for k, part in enumerate(x)]
    counts = {len(part) for part in tensors}
    if len(counts) > 1:
        raise DataError(f"x: the inputs have different numbers of samples {sorted(counts)}")
    return tensors


def _by_name(x: dict[str, Any], names: Sequence[str]) -> list[Any]:
    """x given as {input name: array}, as Keras takes it, in the inputs' order."""
    if not names:
        raise DataError("x: this model names no inputs; give an array, not a dict")
    missing, unknown = [n for n in names if n not in x], sorted(set(x) - set(names))
    if missing or unknown:
        raise DataError(f"x: a dict of inputs needs one array per input name ({', '.join(names)}); "
                        + (f"missing {missing}" if missing else f"unknown {unknown}"))
    return [x[n] for n in names]


def labels(y: Any, n: int) -> torch.Tensor:
    """A one-output model's labels for `n` samples."""
    ya = as_array(y, "y")
    if len(ya) != n:
        raise DataError(f"x has {n} samples but y has {len(ya)}")
    return torch.from_numpy(np.ascontiguousarray(ya, dtype=np.float32))


def labels_per_output(y: Any, n: int, terms: Sequence[OutputTerm]) -> list[torch.Tensor | None]:
    """A model of several outputs' labels: a list in the outputs' order (or of the outputs that
    need labels, those with a loss or metric), or a dict by output name, as Keras takes them."""
    names = [t.name for t in terms]
    needed = [k for k, t in enumerate(terms) if t.needs_labels]
    if isinstance(y, dict):
        unknown = sorted(set(y) - set(names))
        if unknown:
            raise DataError(f"y: labels for outputs {unknown} the model does not have; its outputs: "
                            f"{', '.join(names)}")
        parts = [y.get(name) for name in names]
    elif isinstance(y, (list, tuple)) and len(y) in (len(names), len(needed)):
        parts = list(y) if len(y) == len(names) else [None] * len(names)
        if len(y) != len(names):
            for k, part in zip(needed, y):
                parts[k] = part
    else:
        raise DataError(f"y: this model has {len(names)} outputs ({', '.join(names)}); give a list of "
                        "label arrays, one per output, or a dict by output name")
    out: list[torch.Tensor | None] = []
    for k, part in enumerate(parts):
        if part is None:
            if k in needed:
                raise DataError(f"y: no labels for output {names[k]!r}, which has a loss or metric")
            out.append(None)
            continue
        ya = as_array(part, f"y[{names[k]!r}]")
        if len(ya) != n:
            raise DataError(f"x has {n} samples but the labels of output {names[k]!r} have {len(ya)}")
        out.append(torch.from_numpy(np.ascontiguousarray(ya, dtype=np.float32)))
    return out


def sample_weights(sample_weight: Any, class_weight: Any, yt: Any, n: int,
                   output_count: int = 1) -> torch.Tensor | None:
    """Keras's loss weights: `sample_weight` (one per row, or one per row and time step for a
    sequence output: Keras 2's "temporal" mode, which Keras 3 reads from the shape), or
    `class_weight` ({class: weight}, 1 for a class it leaves out) read from the labels as Keras
    reads them (the class id, a one-hot row's argmax, a binary label rounded)."""
    if class_weight is not None and sample_weight is not None:
        raise ConfigError("give class_weight or sample_weight, not both (Keras takes one)")
    if class_weight is not None:
        if not isinstance(class_weight, dict):
            raise ConfigError("class_weight must be a dict {class: weight}, got "
                              f"{type(class_weight).__name__}")
        if output_count > 1:
            raise ConfigError("class_weight is for models of one output (Keras's rule); give sample_weight")
        ys = yt.numpy()
        if ys.ndim > 1:
            ys = ys.argmax(-1) if ys.shape[-1] != 1 else ys[..., 0]
        ids = np.round(ys).astype(np.int64).reshape(len(ys), -1)[:, 0]
        return torch.tensor([float(class_weight.get(int(k), 1.0)) for k in ids], dtype=torch.float32)
    if sample_weight is None:
        return None
    weights = as_array(sample_weight, "sample_weight")
    if weights.ndim == 2 and weights.shape[1] == 1:
        weights = weights[:, 0]
    if weights.ndim not in (1, 2) or len(weights) != n or not np.issubdtype(weights.dtype, np.number):
        raise DataError(f"sample_weight: expected one number per sample ({n}), or one per sample and time "
                        f"step ({n}, steps), got shape {weights.shape} of {weights.dtype}")
    return torch.from_numpy(np.ascontiguousarray(weights, dtype=np.float32))


def only_entry(value: Any, output: str, what: str) -> Any:
    """A one-output model's loss or loss weight given per output, as Keras also takes it ([x],
    {output: x}), as the one value."""
    if isinstance(value, dict):
        if set(value) != {output}:
            raise ConfigError(f"compile: {what} names outputs {sorted(value)}; the model's output is "
                              f"{output!r}")
        return value[output]
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            raise ConfigError(f"compile: {what} has {len(value)} entries; the model has one output")
        return value[0]
    return value


def flat_metrics(metrics: Any) -> list[Any]:
    """A one-output model's metrics (names or metric objects), however nested (Keras flattens them
    for one output)."""
    if metrics is None:  # (also a metric a .keras file names that textrnn does not compute)
        return []
    if isinstance(metrics, (str, losses.Metric)):
        return [metrics]
    if isinstance(metrics, dict):
        metrics = list(metrics.values())
    return [m for entry in metrics for m in flat_metrics(entry)] if isinstance(
        metrics, (list, tuple)) else [metrics]


# Keras's arguments of fit / evaluate / predict that textrnn does not take
KERAS_ONLY = {"callbacks", "max_queue_size", "workers", "use_multiprocessing"}


def refuse(method: str, given: dict[str, Any]) -> None:
    """One line for an argument textrnn does not take (rather than Python's TypeError); Keras's at
    their defaults (None) pass, so calls that spell them out still run."""
    unknown = sorted(k for k in given if k not in KERAS_ONLY)
    if unknown:
        raise ConfigError(f"{method}: unknown argument {unknown[0]}=")
    used = sorted(k for k, v in given.items() if v is not None)
    if used:
        raise ConfigError(f"{method}: {used[0]}= is not supported by textrnn (batches are read in this "
                          "process, one at a time)")
