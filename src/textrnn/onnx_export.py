"""ONNX export of a model's inference graph (PyTorch's TorchScript-based exporter; checked against
onnxruntime in the tests). Input: int64 ids (batch, time); output: the model's probabilities.
Batch size is always dynamic; the sequence length is dynamic unless `fixed_length` is set."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import torch

from textrnn.errors import ConfigError
from textrnn.io_utils import atomic_write_bytes
from textrnn.layers import Embedding
from textrnn.models import Sequential

OPSET = 17


def export_onnx(model: Sequential, path: str | Path, fixed_length: bool = False) -> None:
    if not model.built:
        raise ConfigError("cannot export a model that has no weights yet")
    masked = any(isinstance(layer, Embedding) and layer.mask_zero for layer in model.layers)
    if masked and not model.length_buckets:
        raise ConfigError("ONNX export cannot express masking (mask_zero=True): the padded steps "
                          "would be computed; export a model trained without mask_zero")
    # A length-bucketed model never sees padding: the graph is exact for rows without padding (one
    # review per call, or reviews of one length), which is how textrnn itself runs it.
    length = model.build_input_shape[1] or 16
    example = torch.ones(2, length, dtype=torch.long)
    axes = {"ids": {0: "batch"}, "probabilities": {0: "batch"}}
    if not fixed_length:
        axes["ids"][1] = "time"
    buffer = io.BytesIO()
    model.eval()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the exporter's deprecation and RNN batch-size notes
        torch.onnx.export(model, (example,), buffer, input_names=["ids"], output_names=["probabilities"],
                          dynamic_axes=axes, opset_version=OPSET, dynamo=False)
    atomic_write_bytes(path, buffer.getvalue())
