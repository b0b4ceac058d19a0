"""ONNX export of a model's inference graph (PyTorch's TorchScript-based exporter; checked against
onnxruntime in the tests). Input: int64 ids (batch, time); output: the model's probabilities.
Batch size is always dynamic; the sequence length is dynamic unless `fixed_length` is set.
A `mask_zero=True` model is traced on a padded example, so the graph computes each row's valid
run from its ids and skips the padding exactly as textrnn does (zeros as padding, before or after
the words; a zero between words would be read as padding).

A model with ensemble members and an NB linear head (`textrnn recipe`) is exported whole: the graph
runs every network, averages their probabilities and blends in the head's, as `predict` does: the
graph is traced from the model's `inference_module()` (textrnn.app.ensemble.WholeModel)."""

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
    if model.input_count > 1 or model.output_count > 1:
        raise ConfigError("ONNX export takes models of one input (token ids) and one output")
    masked = any(isinstance(layer, Embedding) and layer.mask_zero for layer in model.layers)
    length = model.build_input_shape[1] or 16
    example = torch.ones(2, length, dtype=torch.long, device=model.device)  # a model on a GPU traces there
    if masked:  # a padded row makes the trace take (and record) the masked path
        example[0, : length // 2] = 0
    axes = {"ids": {0: "batch"}, "probabilities": {0: "batch"}}
    if not fixed_length:
        axes["ids"][1] = "time"
    buffer = io.BytesIO()
    whole = model.inference_module()
    whole.eval()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the exporter's deprecation and RNN batch-size notes
        torch.onnx.export(whole, (example,), buffer, input_names=["ids"], output_names=["probabilities"],
                          dynamic_axes=axes, opset_version=OPSET, dynamo=False)
    atomic_write_bytes(path, buffer.getvalue())
