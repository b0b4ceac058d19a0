"""Reading saved files with one-line errors: JSON documents and safetensors weights. A damaged,
empty or mismatched file is one DataError naming it, never a traceback from a parser."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.numpy
import torch
from safetensors.torch import load_file
from torch import nn

from textrnn.errors import DataError

MAX_JSON_BYTES = 256 << 20  # a vocabulary of a million words is ~20 MB; past this it is not ours


def read_json(path: Path, what: str = "not valid JSON") -> Any:
    """A JSON file's content; an empty, truncated, non-UTF-8, oversized or absurdly nested file is
    one DataError line (its size is checked before it is read)."""
    size = path.stat().st_size
    if size > MAX_JSON_BYTES:
        raise DataError(f"{path}: {size:,} bytes, more than a textrnn JSON file holds ({MAX_JSON_BYTES:,})")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise DataError(f"{path}: {what} ({type(exc).__name__}: {str(exc)[:200]})") from None


def load_weights_file(model: nn.Module, path: Path, strict: bool = True) -> None:
    """Load a safetensors file into `model`: a damaged file, a missing or extra tensor, a tensor of
    the wrong shape, or a NaN / infinite weight is one DataError line naming the file."""
    from safetensors import SafetensorError

    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise DataError(f"{path}: damaged weights file ({exc})") from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if (missing or unexpected) and strict:
        raise DataError(f"{path}: weights do not match the config "
                        f"(missing {missing}, unexpected {unexpected})")
    for name, tensor in state.items():
        if name in expected and tuple(tensor.shape) != tuple(expected[name].shape):
            raise DataError(f"{path}: tensor {name} has shape {tuple(tensor.shape)}, the model expects "
                            f"{tuple(expected[name].shape)}")
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise DataError(f"{path}: tensor {name} holds NaN or infinite values")
    model.load_state_dict(state, strict=False)


# Keras keeps an array inside a config (a Constant initializer's matrix of pretrained vectors) as
# {"class_name": "__numpy__", "config": {"value": nested lists, "dtype": ...}}: 85 MB of JSON for a
# 20,000 x 100 matrix. A saved model's config.json names such arrays by key; their values live in
# a safetensors file beside it.
ARRAY_ENTRY = "__numpy__"
SAVED_ARRAY = "__saved_array__"


def arrays_out(config: Any) -> tuple[Any, dict[str, np.ndarray]]:
    """(the config with each Keras array entry replaced by a key, {key: array})."""
    arrays: dict[str, np.ndarray] = {}

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            if value.get("class_name") == ARRAY_ENTRY:
                key = f"array_{len(arrays)}"
                inner = value.get("config") or {}
                arrays[key] = np.ascontiguousarray(np.asarray(inner.get("value"), dtype=inner.get("dtype")))
                return {"class_name": SAVED_ARRAY, "config": {"key": key}}
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return walk(config), arrays


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    """A safetensors file of NumPy arrays; a damaged one is one DataError line."""
    from safetensors import SafetensorError

    try:
        return safetensors.numpy.load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise DataError(f"{path}: damaged arrays file ({exc})") from None


def arrays_in(config: Any, arrays: dict[str, np.ndarray], source: str) -> Any:
    """arrays_out's inverse: each key replaced by its array (taken by the objects as Keras's entry)."""
    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            if value.get("class_name") == SAVED_ARRAY:
                key = (value.get("config") or {}).get("key")
                if key not in arrays:
                    raise DataError(f"{source}: the config names array {key!r}, which the file does not hold")
                return arrays[key]
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return walk(config)
