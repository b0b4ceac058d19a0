"""Keras's legacy HDF5 layout, read and written as data: the `.h5` files of Keras 2's
`model.save("model.h5")` and `model.save_weights("weights.h5")`, which Keras 3 still writes (for
`model.save` of an `.h5` name) and reads.

A model file holds the model's config and its training config as JSON attributes, the weights in
`model_weights` and Keras 3's optimizer variables in `optimizer_weights`; a weights file holds the
weights at its root. The weights are grouped by layer: `layer_names` lists the layers, each layer's
group lists its `weight_names`, and they go to the model's layers that have weights by order, as
Keras loads them (trainable weights, then the others: a textrnn layer's get_weights order). Names
are read only to find each layer's arrays, as Keras reads them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from textrnn.errors import DataError

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
HEADER_LIMIT = 64512  # bytes an HDF5 attribute may hold; Keras splits longer lists (name0, name1, ...)


def is_hdf5_file(path: str | Path) -> bool:
    """Whether `path` is a file that starts as HDF5 files do."""
    path = Path(path)
    if not path.is_file():
        return False
    with path.open("rb") as file:
        return file.read(8) == HDF5_SIGNATURE


def is_legacy(h5: h5py.File) -> bool:
    """A legacy file (weights listed by layer name) rather than Keras 3's `.weights.h5` layout."""
    return "model_config" in h5.attrs or _has_list(h5, "layer_names")


def _has_list(group: h5py.Group, name: str) -> bool:
    return name in group.attrs or f"{name}0" in group.attrs


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _list(group: h5py.Group, name: str) -> list[str]:
    """A list attribute, which Keras splits into `name0`, `name1`, ... when it is too long for one."""
    if name in group.attrs:
        chunks = [group.attrs[name]]
    else:
        chunks, k = [], 0
        while f"{name}{k}" in group.attrs:
            chunks.append(group.attrs[f"{name}{k}"])
            k += 1
    return [_text(v) for chunk in chunks for v in np.atleast_1d(np.asarray(chunk, dtype=object))]


def keras_version(h5: h5py.File) -> str:
    """The Keras version that wrote the file ("" if it does not say)."""
    value = h5.attrs.get("keras_version")
    return "" if value is None else _text(value)


def json_attribute(h5: h5py.File, name: str, source: str) -> Any:
    """A JSON attribute (model_config, training_config), None if absent."""
    value = h5.attrs.get(name)
    if value is None:
        return None
    try:
        return json.loads(_text(value))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{source}: the {name} attribute is not JSON ({exc})") from None


def read_weights(model: Any, group: h5py.Group, source: str) -> None:
    """The weights of a legacy file's group into the model's layers, by order."""
    saved = [(name, _list(group[name], "weight_names")) for name in _list(group, "layer_names")
             if name in group and _has_list(group[name], "weight_names")]
    saved = [(name, weights) for name, weights in saved if weights]
    layers = [layer for layer in model.layers if layer.weights]
    if len(saved) != len(layers):
        listed = ", ".join(name for name, _ in saved)
        raise DataError(f"{source}: the file holds the weights of {len(saved)} layers ({listed}); "
                        f"the model has {len(layers)} layers with weights")
    for layer, (name, weight_names) in zip(layers, saved):
        expected = layer.get_weights()
        if len(weight_names) != len(expected):
            raise DataError(f"{source}: layer {name!r} of the file has {len(weight_names)} weights; "
                            f"the model's layer {layer.name!r} has {len(expected)}")
        arrays = []
        for weight_name, want in zip(weight_names, expected):
            dataset = group[name].get(weight_name)
            if not isinstance(dataset, h5py.Dataset) or tuple(dataset.shape) != want.shape:
                found = getattr(dataset, "shape", "nothing")
                raise DataError(f"{source}: weight {weight_name!r} of layer {name!r} should have shape "
                                f"{want.shape} for layer {layer.name!r}, the file holds {found}")
            arrays.append(np.asarray(dataset))
        layer.set_weights(arrays)


def optimizer_weights(h5: h5py.File) -> list[np.ndarray] | None:
    """A model file's optimizer variables in their saved order, None if it has none."""
    group = h5.get("optimizer_weights")
    if not isinstance(group, h5py.Group) or not _has_list(group, "weight_names"):
        return None
    return [np.asarray(group[name]) for name in _list(group, "weight_names")]


def compile_config_of(training_config: Any) -> dict[str, Any] | None:
    """A legacy training_config in the form of a `.keras` file's compile_config."""
    if not isinstance(training_config, dict):
        return None
    metrics = training_config.get("metrics")
    if isinstance(metrics, list) and len(metrics) == 1 and isinstance(metrics[0], list):
        metrics = metrics[0]  # Keras 2 wrote one list per output
    if isinstance(metrics, list):
        metrics = [_metric_name(m) for m in metrics]
    return {"optimizer": training_config.get("optimizer_config"), "loss": training_config.get("loss"),
            "metrics": metrics, "loss_weights": training_config.get("loss_weights")}


def _metric_name(metric: Any) -> Any:
    """Keras 2 saved `metrics=["acc"]` as a MeanMetricWrapper object named "acc": the name."""
    if isinstance(metric, dict) and metric.get("class_name") == "MeanMetricWrapper":
        return (metric.get("config") or {}).get("name", metric)
    return metric


# --- writing -------------------------------------------------------------------------------------
Named = list[tuple[str, np.ndarray]]  # (Keras's variable path, its array), in Keras's order


def write_list(group: h5py.Group, name: str, values: list[str]) -> None:
    """A list attribute as Keras writes it: split into `name0`, `name1`, ... when too long for one."""
    encoded = [v.encode("utf-8") for v in values]
    data = np.asarray(encoded)
    chunks = 1
    while any(part.nbytes > HEADER_LIMIT for part in np.array_split(data, chunks)):
        chunks += 1
    if chunks == 1:
        group.attrs[name] = encoded  # (as Keras stores it: variable-length strings)
    else:
        for k, part in enumerate(np.array_split(data, chunks)):
            group.attrs[f"{name}{k}"] = part


def write_weights(group: h5py.Group, layers: list[tuple[str, Named]], keras_version: str) -> None:
    """Each layer's group (all layers, those without weights too) with its `weight_names` and
    arrays, as Keras 3's save_weights_to_hdf5_group lays them out."""
    write_list(group, "layer_names", [name for name, _ in layers])
    group.attrs["backend"] = "torch"
    group.attrs["keras_version"] = keras_version
    for name, weights in sorted(layers, key=lambda item: item[0]):  # (Keras sorts them by name)
        layer_group = group.create_group(name)
        write_list(layer_group, "weight_names", [path for path, _ in weights])
        for path, array in weights:
            layer_group.create_dataset(path, data=array)
    write_list(group.create_group("top_level_model_weights"), "weight_names", [])


def write_model(h5: h5py.File, model_config: dict[str, Any], training_config: dict[str, Any] | None,
                layers: list[tuple[str, Named]], optimizer: Named | None, keras_version: str) -> None:
    """A legacy model file: the configs as JSON attributes, `model_weights`, `optimizer_weights`."""
    h5.attrs["keras_version"] = keras_version
    h5.attrs["backend"] = "torch"
    h5.attrs["model_config"] = json.dumps(model_config)
    if training_config is not None:
        h5.attrs["training_config"] = json.dumps(training_config)
    write_weights(h5.create_group("model_weights"), layers, keras_version)
    if optimizer:
        group = h5.create_group("optimizer_weights")
        write_list(group, "weight_names", [path for path, _ in optimizer])
        for path, array in optimizer:
            group.create_dataset(path, data=array)


def training_config_of(compile_config: dict[str, Any] | None) -> dict[str, Any] | None:
    """A `.keras` file's compile_config in the form of a legacy file's training_config (the inverse
    of compile_config_of)."""
    if compile_config is None:
        return None
    config = {k: v for k, v in compile_config.items() if k != "optimizer"}
    optimizer = compile_config["optimizer"]
    config["optimizer_config"] = {"class_name": optimizer["class_name"], "config": optimizer["config"]}
    return config
