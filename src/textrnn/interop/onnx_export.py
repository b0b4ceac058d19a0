"""ONNX export of a model's inference graph (PyTorch's TorchScript-based exporter; checked against
onnxruntime in the tests). Input: int64 ids (batch, time); output: the model's probabilities.
Batch size is always dynamic; the sequence length is dynamic unless `fixed_length` is set. A model
of several inputs or outputs (the functional API) names them as the model does (`input_names`,
`output_names`), each input ids or numbers as its Input says.
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
from textrnn.layers import Embedding, Masking
from textrnn.models import Sequential

OPSET = 17


def export_onnx(model: Sequential, path: str | Path, fixed_length: bool = False) -> None:
    if not model.built:
        raise ConfigError("cannot export a model that has no weights yet")
    several_in, several_out = model.input_count > 1, model.output_count > 1
    input_names = model.input_names if several_in else ["ids"]
    output_names = model.output_names if several_out else ["probabilities"]
    masked = any((isinstance(layer, Embedding) and layer.mask_zero) or isinstance(layer, Masking)
                 for layer in model.layers)
    examples, axes = [], {}
    for name, (shape, integer) in zip(input_names, _input_specs(model)):
        example, sequence = _example(shape, integer, masked, model.device)
        examples.append(example)
        axes[name] = {0: "batch", **({1: "time"} if sequence and not fixed_length else {})}
    axes.update({name: {0: "batch"} for name in output_names})
    buffer = io.BytesIO()
    whole = model.inference_module()
    whole.eval()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the exporter's deprecation and RNN batch-size notes
        torch.onnx.export(whole, (examples if several_in else examples[0],), buffer, input_names=input_names,
                          output_names=output_names, dynamic_axes=axes, opset_version=OPSET, dynamo=False)
    atomic_write_bytes(path, buffer.getvalue())


def _input_specs(model: Sequential) -> list[tuple[tuple[int | None, ...], bool]]:
    """(shape with the batch, whether it holds ids) of each input."""
    if hasattr(model, "inputs"):  # a functional model: its Inputs
        return [(tuple(t.shape), "int" in t.dtype) for t in model.inputs]
    first = model.layers[0] if model.layers else None
    return [(tuple(model.build_input_shape), isinstance(first, Embedding))]


def _example(shape: tuple[int | None, ...], integer: bool, masked: bool,
             device: torch.device) -> tuple[torch.Tensor, bool]:
    """An input to trace (on the model's device) and whether its second axis is time: ids (batch,
    time) or vectors per step (batch, time, features); with masks, its first row half padding so
    that the trace takes (and records) the masked path."""
    sequence = len(shape) == (2 if integer else 3)
    dims = [2, *(16 if d is None else d for d in shape[1:])]
    example = torch.ones(dims, dtype=torch.long if integer else torch.float32, device=device)
    if masked and sequence:
        example[0, : dims[1] // 2] = 0
    return example, sequence
