"""Keras 3 files in and out: `.keras` archives (config.json + model.weights.h5 + metadata.json),
`.weights.h5` files and the legacy `.h5` files Keras 3 still writes for that name (their layout in
textrnn.interop.keras_h5), for models of Embedding, SimpleRNN, LSTM, GRU, Bidirectional, Dense,
Activation, Dropout, SpatialDropout1D, Masking, convolution and pooling, normalization, merge and
attention layers (MultiHeadAttention too), TimeDistributed over one of them, and the weightless
reshaping and activation layers (Flatten, RepeatVector, Reshape, Permute, ReLU, LeakyReLU, ELU,
Softmax, PReLU).
textrnn's own additions (length buckets, a linear head) are not part of a Keras file.

Reading never executes code from the file: the config is read as data, only the layer types above
are accepted (in a Sequential, or a Functional model: branches joined by the merge layers, shared
layers, a recurrent layer's states passed on through return_state / initial_state), and anything
else (another layer, a custom or lambda object) is refused with one line that names it. Weights follow
Keras's h5 layout: `layers/<class name in snake case, made unique in order>/vars/<i>`, RNN
weights under `.../cell/vars`, a Bidirectional's under `forward_layer/cell` and
`backward_layer/cell`. A compiled model's compile_config and its optimizer's variables cross too
(textrnn.interop.keras_compile). Mixed precision crosses as Keras keeps it, a dtype policy per
layer: the policy most layers have becomes the model's, a layer with another keeps its own (dtype=).
"""

from __future__ import annotations

import io
import json
import warnings
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from textrnn import layers as L
from textrnn.backend.dtype_policy import policy_name
from textrnn.errors import ConfigError, DataError
from textrnn.interop import keras_h5
from textrnn.interop.keras_compile import (
    LOSS_SCALE_VARIABLES,
    compile_config,
    compile_from_config,
    loss_scale_arrays,
    optimizer_arrays,
    optimizer_variable_count,
    restore_loss_scale,
    restore_optimizer_arrays,
)
from textrnn.io_utils import atomic_write_bytes
from textrnn.layers.recurrent import Recurrent
from textrnn.models import Sequential
from textrnn.naming import snake_case

SUPPORTED = ("Embedding", "SimpleRNN", "LSTM", "GRU", "Bidirectional", "Dense", "Activation", "Dropout",
             "GlobalMaxPooling1D", "GlobalAveragePooling1D", "Concatenate", "Add", "Subtract", "Multiply",
             "Average", "Maximum", "Minimum", "Attention", "AdditiveAttention", "Flatten", "RepeatVector",
             "Reshape", "Permute", "ReLU", "LeakyReLU", "ELU", "Softmax", "PReLU", "RNN", "Conv1D",
             "MaxPooling1D", "AveragePooling1D", "SpatialDropout1D", "Masking", "BatchNormalization",
             "LayerNormalization", "TimeDistributed", "MultiHeadAttention")
# weight and activity regularizers cross
_PENALTIES = ("kernel_regularizer", "bias_regularizer", "activity_regularizer")
_RNN_FIELDS = ("units", "activation", "recurrent_activation", "use_bias", "dropout", "recurrent_dropout",
               "return_sequences", "return_state", "go_backwards", "zero_output_for_mask", "stateful",
               "recurrent_regularizer", *_PENALTIES)
_FIELDS = {
    "Embedding": ("input_dim", "output_dim", "mask_zero", "embeddings_regularizer", "activity_regularizer"),
    "Dense": ("units", "activation", "use_bias", *_PENALTIES),
    "Activation": ("activation",),
    "Dropout": ("rate", "noise_shape"),
    "GlobalMaxPooling1D": ("keepdims",),
    "GlobalAveragePooling1D": ("keepdims",),
    "SimpleRNN": tuple(f for f in _RNN_FIELDS if f != "recurrent_activation"),
    "LSTM": (*_RNN_FIELDS, "unit_forget_bias"),
    "GRU": (*_RNN_FIELDS, "reset_after"),
    "Concatenate": ("axis",),
    "Attention": ("use_scale", "score_mode", "dropout", "seed"),
    "AdditiveAttention": ("use_scale", "dropout", "seed"),
    **{merge: () for merge in ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")},
    "Flatten": (), "RepeatVector": ("n",), "Reshape": ("target_shape",), "Permute": ("dims",),
    "ReLU": ("max_value", "negative_slope", "threshold"), "LeakyReLU": ("negative_slope",), "ELU": ("alpha",),
    "Softmax": ("axis",), "PReLU": ("shared_axes", "alpha_regularizer"),
    "RNN": ("return_sequences", "return_state", "go_backwards", "zero_output_for_mask", "stateful"),
    "Conv1D": ("filters", "kernel_size", "strides", "padding", "dilation_rate", "activation", "use_bias",
               *_PENALTIES),
    **{pool: ("pool_size", "strides", "padding") for pool in ("MaxPooling1D", "AveragePooling1D")},
    "SpatialDropout1D": ("rate",),
    "Masking": ("mask_value",),
    "LayerNormalization": ("axis", "epsilon", "center", "scale", "beta_regularizer", "gamma_regularizer"),
    "BatchNormalization": ("axis", "momentum", "epsilon", "center", "scale", "beta_regularizer",
                           "gamma_regularizer"),
    "TimeDistributed": (),  # (and the layer it wraps)
    "MultiHeadAttention": ("num_heads", "key_dim", "value_dim", "dropout", "use_bias", "seed", "output_shape",
                           "attention_axes", "use_gate", "sliding_window"),
}
# Settings of Keras's layers that textrnn's do not take, read only at Keras's default: any other value
# is refused in one line rather than dropped (a channels_first pooling, a grouped convolution)
_KERAS_DEFAULTS = {"data_format": "channels_last", "groups": 1, "renorm": False, "rms_scaling": False}
# Keras's cells, which an RNN layer holds (alone or in a StackedRNNCells): the layers' fields but
# the sequence ones
# Keras 2's cuDNN layers: read from Keras 2's files (Keras 3 has none), never written
_KERAS2_ONLY = {kind: ("units", "return_sequences", "return_state", "go_backwards", "stateful",
                       "kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
                       "activity_regularizer", *(("unit_forget_bias",) if kind == "CuDNNLSTM" else ()))
                for kind in ("CuDNNLSTM", "CuDNNGRU")}
_SEQUENCE_FIELDS = _FIELDS["RNN"]
_CELL_FIELDS = {f"{kind}Cell": tuple(f for f in _FIELDS[kind] if f not in _SEQUENCE_FIELDS)
                for kind in ("SimpleRNN", "LSTM", "GRU")}
KERAS_VERSION = "3.6.0"  # the oldest Keras 3 whose files we write; newer versions read them


def _unique_names(model: Sequential | list[L.Layer]) -> list[str]:
    """Keras's h5 group names of a model's layers (or a stack's cells): the snake-case class name,
    made unique in order (lstm, lstm_1)."""
    used: dict[str, int] = {}
    names = []
    for layer in model if isinstance(model, list) else model.layers:
        base = snake_case(type(layer).__name__)
        if base in used:
            used[base] += 1
            names.append(f"{base}_{used[base]}")
        else:
            used[base] = 0
            names.append(base)
    return names


# --- reading -------------------------------------------------------------------------------------
def _endpoints(value: Any, what: str, source: str) -> tuple[list[tuple[str, int, int]], bool]:
    """A functional config's inputs or outputs: ([(layer name, node, output index)], whether one
    alone was given) from [name, node, k] or [[name, node, k], ...]."""
    one = isinstance(value, list) and len(value) == 3 and isinstance(value[0], str)
    refs = [value] if one else value
    if not (isinstance(refs, list) and refs and all(
            isinstance(r, list) and len(r) == 3 and isinstance(r[0], str) and isinstance(r[1], int)
            and isinstance(r[2], int) for r in refs)):
        raise ConfigError(f"{source}: the model's {what} are not [layer, node, index] entries: {value!r}")
    return [tuple(r) for r in refs], one or len(refs) == 1


def _keras3_node(node: Any) -> Any:
    """An inbound node as Keras 3 writes it; Keras 2 wrote [[layer, node, tensor, kwargs], ...]
    (the layer called on one tensor, or on the list of them), as Keras 3 reads it."""
    if not isinstance(node, list):
        return node
    refs = [{"class_name": "__keras_tensor__", "config": {"keras_history": list(entry[:3])}}
            for entry in node if isinstance(entry, list)]
    kwargs = node[-1][3] if node and isinstance(node[-1], list) and len(node[-1]) > 3 else {}
    return {"args": [refs[0] if len(refs) == 1 else refs], "kwargs": kwargs}


def _functional_from_keras(config: dict[str, Any], source: str, policy: str) -> Sequential:
    """A Keras 3 Functional config as a textrnn.Model: each layer called once per inbound node, on
    the tensors the node names (a recurrent layer's initial_state among its kwargs), as soon as
    they exist (a shared layer's later call may take from layers listed after it)."""
    from textrnn.models import Model

    body = config.get("config", {})
    made: dict[tuple[str, int], list[Any]] = {}  # (layer, node) -> that call's output tensors
    pending = []  # (name, layer, node index, node), in the file's order
    for spec in body.get("layers", []):
        c = spec.get("config", {})
        name = c.get("name") or spec.get("name")
        if spec.get("class_name") == "InputLayer":
            shape = c.get("batch_shape") or c.get("batch_input_shape")
            made[name, 0] = [L.InputLayer(batch_shape=tuple(shape), dtype=c.get("dtype"), name=name).output]
            continue
        # Keras's graph of the masks (mask_zero's NotEqual, Masking's NotEqual and Any, an attention
        # layer's ConvertToTensor of its query's mask): textrnn's layers pass the masks on themselves
        if spec.get("class_name") in ("NotEqual", "Any", "ConvertToTensor"):
            continue
        layer = _layer_from_keras(spec, source, policy)
        pending += [(name, layer, k, _keras3_node(node))
                    for k, node in enumerate(spec.get("inbound_nodes") or [])]

    def history(ref: Any) -> tuple[str, int, int]:
        try:
            name, node, index = ref["config"]["keras_history"]
            return name, node, index
        except (KeyError, TypeError, ValueError):
            raise ConfigError(f"{source}: an inbound node names no layer output: {ref!r}") from None

    while pending:
        waiting = []
        for name, layer, k, node in pending:
            given = node.get("args") or [None]
            args = given if layer.separate_inputs and len(given) > 1 else given[0]
            kwargs = dict(node.get("kwargs") or {})
            kwargs.pop("training", None)  # Keras's call flags; textrnn's layers pass masks on themselves
            kwargs.pop("mask", None)
            states = kwargs.pop("initial_state", None) or []
            if kwargs:
                raise ConfigError(f"{source}: layer {name!r} is called with {', '.join(kwargs)}; textrnn "
                                  "reads a recurrent layer's initial_state only")
            refs = [history(r) for r in [*(args if isinstance(args, list) else [args]), *states]]
            if not all((n, node_k) in made for n, node_k, _ in refs):
                waiting.append((name, layer, k, node))
                continue
            try:
                tensors = [made[n, node_k][index] for n, node_k, index in refs]
            except IndexError:
                raise ConfigError(f"{source}: layer {name!r} takes an output its source does not "
                                  "have") from None
            positional = tensors[:len(tensors) - len(states)]
            extra = {"initial_state": tensors[len(positional):]} if states else {}
            out = layer(positional if isinstance(args, list) else positional[0], **extra)
            made[name, k] = out if isinstance(out, list) else [out]
        if len(waiting) == len(pending):
            raise ConfigError(f"{source}: layer {waiting[0][0]!r} takes an input the file does not define")
        pending = waiting
    ends = []
    for key, what in (("input_layers", "inputs"), ("output_layers", "outputs")):
        refs, one = _endpoints(body.get(key), what, source)
        try:
            found = [made[layer, node][index] for layer, node, index in refs]
        except (KeyError, IndexError):
            raise ConfigError(f"{source}: the model's {what} name layers the file does not define") from None
        ends.append(found[0] if one else found)
    return Model(*ends, name=body.get("name"))


_POLICY_CLASSES = ("DTypePolicy", "FloatDTypePolicy", "Policy")


def _layer_policy(spec: dict[str, Any], source: str) -> str | None:
    """A layer config's dtype policy (a name, or Keras's serialised DTypePolicy), None if none."""
    config = spec.get("config") or {}
    value = config.get("dtype")
    if isinstance(value, dict) and value.get("class_name") in _POLICY_CLASSES:
        value = (value.get("config") or {}).get("name")
    if value is None:
        return None
    try:
        return policy_name(value)
    except ConfigError:
        raise ConfigError(f"{source}: layer {config.get('name')!r} computes in dtype {value!r}; textrnn "
                          "reads float32, mixed_bfloat16 and mixed_float16 (weights in float32)") from None


def _model_policy(specs: list[dict[str, Any]], source: str) -> str:
    """The policy most of the layers have (their first in a tie): the model's."""
    found = [p for p in (_layer_policy(s, source) for s in specs if s.get("class_name") != "InputLayer")
             if p is not None]
    return max(found, key=found.count) if found else "float32"


def _layer_from_keras(spec: dict[str, Any], source: str, model_policy: str = "float32") -> L.Layer:
    class_name = spec.get("class_name")
    if spec.get("registered_name") not in (None, class_name) or class_name not in (*SUPPORTED, *_KERAS2_ONLY):
        raise ConfigError(f"{source}: unsupported layer {class_name!r} "
                          f"(textrnn reads {', '.join((*SUPPORTED, *_KERAS2_ONLY))})")
    config = spec.get("config", {})
    if config.get("time_major"):  # (Keras 2's: its inputs are time first)
        raise ConfigError(f"{source}: RNN layer {config.get('name')!r} is time_major; textrnn reads "
                          "batch-first layers")
    policy = _layer_policy(spec, source)
    own = {"dtype": policy} if policy not in (None, model_policy) else {}
    if class_name == "Bidirectional":
        inner = _layer_from_keras(config["layer"], source, policy or model_policy)
        backward = _given_backward(config, source, policy or model_policy)
        return L.Bidirectional(inner, merge_mode=config.get("merge_mode", "concat"), backward_layer=backward,
                               activity_regularizer=config.get("activity_regularizer"),
                               name=config.get("name"), trainable=config.get("trainable", True), **own)
    for key, default in _KERAS_DEFAULTS.items():
        if config.get(key, default) != default:
            raise ConfigError(f"{source}: layer {config.get('name')!r} ({class_name}) has {key}="
                              f"{config[key]!r}; textrnn reads {key}={default!r} only")
    kwargs = {k: config[k] for k in {**_FIELDS, **_KERAS2_ONLY}[class_name] if k in config}
    if class_name == "RNN":
        kwargs["cell"] = _cell_from_keras(config.get("cell") or {}, source)
    if class_name == "TimeDistributed":
        kwargs["layer"] = _layer_from_keras(config.get("layer") or {}, source, policy or model_policy)
    try:
        return getattr(L, class_name)(**kwargs, name=config.get("name"),
                                      trainable=config.get("trainable", True), **own)
    except ConfigError as exc:
        raise ConfigError(f"{source}: layer {config.get('name')!r}: {exc}") from None


def _given_backward(config: dict[str, Any], source: str, policy: str) -> L.Layer | None:
    """A Bidirectional's backward layer where it is not the copy of its layer Keras would make
    (Keras writes it always), else None."""
    spec = config.get("backward_layer")
    if not spec:
        return None
    ignored = ("name", "go_backwards", "zero_output_for_mask")

    def essence(one: dict[str, Any]) -> tuple:
        kept = {k: v for k, v in (one.get("config") or {}).items() if k not in ignored}
        return one.get("class_name"), json.dumps(kept, sort_keys=True, default=str)

    if essence(spec) == essence(config["layer"]):
        return None
    return _layer_from_keras(spec, source, policy)


def _cell_from_keras(spec: dict[str, Any], source: str) -> L.Layer:
    """An RNN layer's cell: one of Keras's, or a StackedRNNCells of them."""
    class_name, config = spec.get("class_name"), spec.get("config") or {}
    if class_name == "StackedRNNCells":
        return L.StackedRNNCells([_cell_from_keras(cell, source) for cell in config.get("cells") or []],
                                 name=config.get("name"))
    if spec.get("registered_name") not in (None, class_name) or class_name not in _CELL_FIELDS:
        raise ConfigError(f"{source}: unsupported RNN cell {class_name!r} (textrnn reads "
                          f"{', '.join(_CELL_FIELDS)} and StackedRNNCells of them)")
    kwargs = {k: config[k] for k in _CELL_FIELDS[class_name] if k in config}
    return getattr(L, class_name)(**kwargs, name=config.get("name"), trainable=config.get("trainable", True))


def model_from_keras_config(config: dict[str, Any], source: str = "config") -> Sequential:
    if config.get("class_name") not in ("Sequential", "Functional"):
        raise ConfigError(f"{source}: only Sequential and Functional models are supported, got "
                          f"{config.get('class_name')!r}")
    specs = config.get("config", {}).get("layers", [])
    policy = _model_policy(specs, source)
    build = _functional_from_keras if config["class_name"] == "Functional" else _sequential_from_keras
    model = build(config, source, policy)
    model.dtype_policy = policy
    return model


def _sequential_from_keras(config: dict[str, Any], source: str, policy: str) -> Sequential:
    specs = config.get("config", {}).get("layers", [])
    input_shape = None
    layers = []
    for spec in specs:
        if spec.get("class_name") == "InputLayer":
            c = spec.get("config", {})
            input_shape = c.get("batch_shape") or c.get("batch_input_shape")
            continue
        layers.append(_layer_from_keras(spec, source, policy))
        if input_shape is None and "build_config" in spec:
            input_shape = spec["build_config"].get("input_shape")
        if input_shape is None:  # Keras 2 kept it in the first layer's config
            input_shape = (spec.get("config") or {}).get("batch_input_shape")
    # (Keras 2's model built on data: the shape it was built for)
    input_shape = input_shape or config.get("config", {}).get("build_input_shape")
    model = Sequential(layers, name=config.get("config", {}).get("name"))
    if input_shape is None:
        raise ConfigError(f"{source}: the model has no input shape (it was never built)")
    model.build(tuple(input_shape))
    return model


def _weight_groups(layer: L.Layer, group: str) -> list[tuple[str, list[np.ndarray]]]:
    """(h5 group, arrays in Keras order) for one layer."""
    if isinstance(layer, L.Bidirectional):
        return (_weight_groups(layer.forward_layer, f"{group}/forward_layer")
                + _weight_groups(layer.backward_layer, f"{group}/backward_layer"))
    if isinstance(layer, Recurrent):
        return [(f"{group}/cell/vars", layer.get_weights())]
    if isinstance(layer, L.StackedRNNCells):
        return [(f"{group}/cells/{name}/vars", cell.get_weights())
                for cell, name in zip(layer.cells, _unique_names(layer.cells))]
    if isinstance(layer, L.RNN):
        if isinstance(layer.cell, L.StackedRNNCells):
            return _weight_groups(layer.cell, f"{group}/cell")
        return [(f"{group}/cell/vars", layer.get_weights())]
    if isinstance(layer, L.TimeDistributed):
        return _weight_groups(layer.layer, f"{group}/layer")
    if isinstance(layer, L.MultiHeadAttention):  # Keras's four EinsumDense sublayers, kernel then bias
        arrays, each = layer.get_weights(), 2 if layer.use_bias else 1
        return [(f"{group}/{part}_dense/vars", arrays[k * each:(k + 1) * each])
                for k, part in enumerate(("query", "key", "value", "output"))]
    return [(f"{group}/vars", layer.get_weights())]


def _read_weights(model: Sequential, h5: h5py.File, source: str) -> None:
    for layer, name in zip(model.layers, _unique_names(model)):
        arrays = []
        for group, expected in _weight_groups(layer, f"layers/{name}"):
            if not expected:
                continue
            if group not in h5:
                raise DataError(f"{source}: no weights for layer {layer.name!r} (missing {group})")
            for i, want in enumerate(expected):
                dataset = h5[group].get(str(i))
                if not isinstance(dataset, h5py.Dataset) or tuple(dataset.shape) != want.shape:
                    found = getattr(dataset, "shape", "nothing")
                    raise DataError(f"{source}: weight {group}/{i} of layer {layer.name!r} should have "
                                    f"shape {want.shape}, the file holds {found}")
                arrays.append(np.asarray(dataset))  # read only once its shape is the config's
        try:
            layer.set_weights(arrays)
        except ConfigError as exc:
            raise DataError(f"{source}: {exc}") from None


def _read_optimizer(model: Sequential, h5: h5py.File, source: str) -> None:
    """A compiled model's optimizer where the file's stopped, if the file holds one."""
    if not model.compiled or "optimizer/vars" not in h5:
        return
    arrays = _group_arrays(h5["optimizer/vars"])
    scaled = "optimizer/inner_optimizer/vars" in h5  # a LossScaleOptimizer (mixed_float16)
    inner = _group_arrays(h5["optimizer/inner_optimizer/vars"]) if scaled else arrays
    if not _optimizer_fits(model, inner, source):
        return
    if scaled:
        restore_loss_scale(model, arrays, source)
    restore_optimizer_arrays(model, inner, source)


def load_keras_weights(model: Sequential, path: str | Path) -> Sequential:
    """`model.load_weights(path)`: a Keras `.weights.h5` file (or a `.keras` file's weights) into a
    model of the same architecture; a compiled model takes the optimizer's state too, as Keras's."""
    if not model.built:
        raise ConfigError("build the model before loading weights into it")
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    if path.name.endswith(".keras"):
        try:
            with zipfile.ZipFile(path) as archive:
                data = _archive_weights(archive, model, path)
        except (zipfile.BadZipFile, KeyError) as exc:
            raise DataError(f"{path}: not a Keras 3 .keras archive ({type(exc).__name__}: {exc})") from None
        source: Any = io.BytesIO(data)
    elif path.name.endswith((".h5", ".hdf5")):
        source = path
    else:
        raise ConfigError(f"{path}: load_weights reads a .weights.h5 (or .h5) or .keras file")
    try:
        with h5py.File(source, "r") as h5:
            if keras_h5.is_legacy(h5):  # Keras 2's save_weights (or save) file: by layer order
                keras_h5.read_weights(model, h5.get("model_weights", h5), str(path))
                return model
            _read_weights(model, h5, str(path))
            _read_optimizer(model, h5, str(path))
    except OSError as exc:
        raise DataError(f"{path}: not a readable .weights.h5 file ({exc})") from None
    return model


def save_keras_weights(model: Sequential, path: str | Path) -> None:
    """`model.save_weights(path)`: Keras 3's `.weights.h5` file (the layers' weights and a trained
    optimizer's state, laid out as inside a `.keras` archive), written atomically; any other `.h5`
    (or `.hdf5`) name, as Keras 2's code gives, writes Keras 2's layout (save_legacy_weights)."""
    if not model.built:
        raise ConfigError("cannot save the weights of a model that has no weights yet")
    if str(path).endswith(".weights.h5"):
        atomic_write_bytes(path, _weights_h5(model))
    elif str(path).endswith((".h5", ".hdf5")):
        save_legacy_weights(model, path)
    else:
        raise ConfigError(f"save_weights: the file name must end in .weights.h5 (Keras 3) or .h5, got {path}")


def save_legacy_model(model: Sequential, path: str | Path) -> None:
    """`model.save("model.h5")`: Keras's legacy HDF5 model file, as Keras 3 writes one for that
    name (config, weights, training config and a trained optimizer's variables), written
    atomically; Keras 2 and 3's `load_model` open it."""
    refuse_unwritten_layers(model, legacy=True)
    config = keras_model_config(model)
    if model.text_encoder is not None:
        raise ConfigError(f"{path}: a Keras .h5 file has no place for the model's vocabulary; save it to a "
                          "folder (a path without .h5) to keep it")
    compiled = compile_config(model)
    optimizer = None
    if compiled is not None and model.optimizer_built:
        optimizer = _named_optimizer(model, compiled["optimizer"]["config"]["name"])
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5:
        keras_h5.write_model(h5, config, keras_h5.training_config_of(compiled), _named_weights(model),
                             optimizer, KERAS_VERSION)
    atomic_write_bytes(path, buffer.getvalue())


def save_legacy_weights(model: Sequential, path: str | Path) -> None:
    """Keras 2's `model.save_weights("weights.h5")`: the layers' weights in the legacy layout,
    which Keras 2's and Keras 3's `load_weights` read (by layer order)."""
    refuse_unwritten_layers(model, legacy=True)
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5:
        keras_h5.write_weights(h5, _named_weights(model), KERAS_VERSION)
    atomic_write_bytes(path, buffer.getvalue())


_CELLS = {"SimpleRNN": "simple_rnn_cell", "LSTM": "lstm_cell", "GRU": "gru_cell"}
_SLOT_NAMES = {"m": "momentum", "v": "velocity", "v_hat": "velocity_hat"}  # the others are Keras's


def _weight_paths(layer: L.Layer, prefix: str) -> list[str]:
    """Keras's variable paths of a layer's weights, in its weights' order."""
    if isinstance(layer, L.Bidirectional):
        inner = f"{prefix}/{layer.name}"
        return _weight_paths(layer.forward_layer, inner) + _weight_paths(layer.backward_layer, inner)
    owner = f"{prefix}/{layer.name}"
    if type(layer).__name__ in _CELLS:
        owner += f"/{_CELLS[type(layer).__name__]}"
    names = {id(param): name.replace(".", "/") for name, param in layer.named_parameters()}
    return [f"{owner}/{names[id(weight)]}" for weight in layer.weights]


def _named_weights(model: Sequential) -> list[tuple[str, keras_h5.Named]]:
    return [(layer.name, list(zip(_weight_paths(layer, model.name), layer.get_weights())))
            for layer in model.layers]


def _named_optimizer(model: Sequential, name: str) -> keras_h5.Named:
    """The optimizer's variables (a mixed_float16 model's LossScaleOptimizer's first) with Keras's
    names: the step count, the rate, then each slot of each trained weight."""
    spec = model._optimizer_spec
    weights = [path.replace("/", "_") for layer in model.layers
               for path, weight in zip(_weight_paths(layer, model.name), layer.weights)
               if weight.requires_grad]
    slots = [f"{weight}_{_SLOT_NAMES.get(slot, slot)}" for block in spec.keras_slots for weight in weights
             for slot in block]
    names = [*("iteration", "learning_rate")[:spec.keras_head_count], *slots, *spec.keras_tail]
    arrays = optimizer_arrays(model) or []
    named = [(f"{name}/{n}", array) for n, array in zip(names, arrays)]
    scale = loss_scale_arrays(model)
    if scale is not None:
        named = [(f"loss_scale_optimizer/{n}", a) for n, a in zip(LOSS_SCALE_VARIABLES, scale)] + named
    return named


def load_keras_model(path: str | Path) -> Sequential:
    """A `.keras` file saved by Keras 3, or a legacy `.h5` model file (Keras 2's `model.save`), as
    an equivalent textrnn Sequential."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    if keras_h5.is_hdf5_file(path):
        return _load_legacy_model(path)
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(_read_member(archive, "config.json", _config_limit(path), path))
            if not isinstance(config, dict):
                raise DataError(f"{path}: config.json should hold a JSON object")
            model = model_from_keras_config(config, str(path))
            weights = _archive_weights(archive, model, path)
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, RecursionError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a Keras 3 .keras archive ({type(exc).__name__}: {exc})") from None
    except (TypeError, AttributeError, ValueError) as exc:
        raise DataError(f"{path}: malformed Keras config ({type(exc).__name__}: {exc})") from None
    try:
        with h5py.File(io.BytesIO(weights), "r") as h5:
            _read_weights(model, h5, str(path))
            # Compiled as Keras saved it, and its optimizer where it stopped: training goes on.
            compile_from_config(model, config.get("compile_config"))
            _read_optimizer(model, h5, str(path))
    except OSError as exc:
        raise DataError(f"{path}: model.weights.h5 is not a readable HDF5 file ({exc})") from None
    return model


def _load_legacy_model(path: Path) -> Sequential:
    """A legacy `.h5` model file: its config, weights, training config (compiled as Keras 3
    compiles it) and, where they are Keras 3's, its optimizer's variables."""
    source = str(path)
    try:
        with h5py.File(path, "r") as h5:
            config = keras_h5.json_attribute(h5, "model_config", source)
            if config is None:
                raise DataError(f"{path}: holds weights only (no model_config): build the model and call "
                                "model.load_weights")
            if not isinstance(config, dict):
                raise DataError(f"{path}: model_config should hold a JSON object")
            if config.get("class_name") == "Model":  # (Keras 2 before TensorFlow 2.4 named it so)
                config = {**config, "class_name": "Functional"}
            try:
                model = model_from_keras_config(config, source)
            except (KeyError, TypeError, AttributeError, ValueError) as exc:
                raise DataError(f"{path}: malformed Keras config ({type(exc).__name__}: {exc})") from None
            weights = h5.get("model_weights")
            if not isinstance(weights, h5py.Group):
                raise DataError(f"{path}: no model_weights group")
            keras_h5.read_weights(model, weights, source)
            training = keras_h5.json_attribute(h5, "training_config", source)
            arrays = keras_h5.optimizer_weights(h5)
            compiled = compile_from_config(model, keras_h5.compile_config_of(training))
            scale = len(LOSS_SCALE_VARIABLES)  # a LossScaleOptimizer's variables come first
            if compiled and arrays is not None and model.loss_scaler() is not None and \
                    len(arrays) == scale + optimizer_variable_count(model):
                restore_loss_scale(model, arrays[:scale], source)
                arrays = arrays[scale:]
            if compiled and arrays is not None and _optimizer_fits(model, arrays, source):
                restore_optimizer_arrays(model, arrays, source)
    except OSError as exc:
        raise DataError(f"{path}: not a readable HDF5 file ({exc})") from None
    return model


def _optimizer_fits(model: Sequential, arrays: list[np.ndarray], source: str) -> bool:
    """Whether a file's optimizer variables are this compiled model's (all of them, or the two
    saved before its first step); others (another model's, or Keras 2's order) are skipped with a
    warning, as Keras skips them: the optimizer starts afresh."""
    expected = optimizer_variable_count(model)
    if len(arrays) in (model._optimizer_spec.keras_head_count, expected):
        return True
    warnings.warn(f"{source}: skipping the optimizer's {len(arrays)} variables; this model's optimizer "
                  f"has {expected}", stacklevel=5)
    return False


def _group_arrays(group: h5py.Group) -> list[np.ndarray]:
    return [np.asarray(group[str(i)]) for i in range(len(group))]


MAX_CONFIG_BYTES = 16 << 20  # a text model's config is a few KB; a zip bomb's is gigabytes


def _config_limit(path: Path) -> int:
    """How large config.json may inflate. Keras keeps an initializer's matrix in it (a frozen
    `Embedding(embeddings_initializer=Constant(glove_matrix))`: ~40 MB of JSON numbers for
    20,000 x 100), so the ceiling grows with the archive: numbers deflate 2-3x, a zip bomb's
    filler a thousandfold."""
    return max(MAX_CONFIG_BYTES, 32 * path.stat().st_size)


def _archive_weights(archive: zipfile.ZipFile, model: Sequential, path: Path) -> bytes:
    """A `.keras` archive's model.weights.h5, no larger than the model's parameters (with an
    optimizer's slots) plus HDF5's bookkeeping."""
    return _read_member(archive, "model.weights.h5", 4 * model.count_params() * 2 + (1 << 20), path)


def _read_member(archive: zipfile.ZipFile, name: str, limit: int, path: Path) -> bytes:
    """A member's bytes, refused as soon as more than `limit` come out (whatever its header says)."""
    with archive.open(name) as member:
        data = member.read(limit + 1)
    if len(data) > limit:
        raise DataError(f"{path}: {name} inflates to more than {limit:,} bytes; refused")
    return data


# --- writing -------------------------------------------------------------------------------------
def _policy_config(name: str) -> dict[str, Any]:
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": name}, "registered_name": None}


def _keras_layer_config(layer: L.Layer, input_shape, model_policy: str = "float32") -> dict[str, Any]:
    ours = layer.get_config()
    # Keras writes every layer's policy; textrnn does where one is not float32 (what a missing one means)
    policy = layer._own_policy or model_policy
    dtype = {"dtype": _policy_config(policy)} if (policy, model_policy) != ("float32", "float32") else {}
    if isinstance(layer, L.Bidirectional):
        inner = layer._layer_spec
        config = {"name": layer.name, "trainable": layer.trainable, "merge_mode": layer.merge_mode,
                  **{k: ours[k] for k in ("activity_regularizer",) if k in ours},
                  "layer": _keras_inner_config(inner, layer.forward_layer, input_shape[-1], dtype)}
        if layer._backward_given:
            config["backward_layer"] = _keras_inner_config(L.base.layer_to_config(layer.backward_layer),
                                                           layer.backward_layer, input_shape[-1], dtype)
    else:
        config = {k: ours[k] for k in _FIELDS[type(layer).__name__] if k in ours}
        config.update(name=layer.name, trainable=layer.trainable)
        if isinstance(layer, L.SpatialDropout1D):  # Keras's takes no trainable=
            del config["trainable"]
        if type(layer) is L.RNN:  # (not the layers, which count as RNNs too)
            config["cell"] = _keras_cell_config(layer.cell, input_shape[-1], dtype)
        if isinstance(layer, L.TimeDistributed):  # the wrapped layer sees one step
            config["layer"] = _keras_layer_config(layer.layer, [None, *input_shape[2:]], model_policy)
    config.update(dtype)
    build: dict[str, Any] = {"input_shape": list(input_shape)}
    if isinstance(layer, L.MultiHeadAttention):  # Keras builds it from named shapes
        build = {"shapes_dict": {f"{part}_shape": list(shape)
                                 for part, shape in zip(("query", "value", "key"), input_shape)}}
    return {"module": "keras.layers", "class_name": type(layer).__name__, "config": config,
            "registered_name": None, "build_config": build}


def _keras_inner_config(spec: dict[str, Any], layer: L.Layer, features: int,
                        dtype: dict[str, Any]) -> dict[str, Any]:
    """A Bidirectional's recurrent layer (`spec`: its config; `layer` holds its cell, if an RNN),
    as Keras serialises it."""
    config = {k: v for k, v in spec["config"].items() if k in _FIELDS[spec["class_name"]] or k == "name"}
    if type(layer) is L.RNN:
        config["cell"] = _keras_cell_config(layer.cell, features, dtype)
    return {"module": "keras.layers", "class_name": spec["class_name"], "config": {**config, **dtype},
            "registered_name": None}


def _keras_cell_config(cell: L.Layer, features: int, dtype: dict[str, Any]) -> dict[str, Any]:
    """An RNN layer's cell as Keras serialises it, built for `features` inputs a step."""
    if isinstance(cell, L.StackedRNNCells):
        cells = []
        for each in cell.cells:
            cells.append(_keras_cell_config(each, features, dtype))
            features = each.units
        config = {"name": cell.name, "trainable": cell.trainable, **dtype, "cells": cells}
    else:
        ours = cell.get_config()
        config = {"name": cell.name, "trainable": cell.trainable, **dtype,
                  **{k: ours[k] for k in _CELL_FIELDS[type(cell).__name__] if k in ours}}
    return {"module": "keras.layers", "class_name": type(cell).__name__, "config": config,
            "registered_name": None, "build_config": {"input_shape": [None, features]}}


def _functional_config(model: Any) -> dict[str, Any]:
    """Keras 3's Functional config of a textrnn.Model: each layer with its calls in this model
    (inbound nodes, numbered in the model's order), each naming the layer outputs it takes, a
    recurrent layer's initial states among its kwargs."""
    nodes: dict[int, list[Any]] = {}  # id(layer) -> its calls here, in order
    for tensor in model._calls:
        nodes.setdefault(id(tensor.layer), []).append(tensor)

    def history(tensor: Any) -> list[Any]:  # Keras's [layer, its call in this model, output]
        node = next(k for k, call in enumerate(nodes[id(tensor.layer)]) if call.outputs is tensor.outputs)
        return [tensor.layer.name, node, tensor.index]

    def ref(tensor: Any) -> dict[str, Any]:
        return {"class_name": "__keras_tensor__",
                "config": {"shape": list(tensor.shape), "dtype": tensor.dtype,
                           "keras_history": history(tensor)}}

    def inbound(tensor: Any) -> dict[str, Any]:
        positional = [ref(parent) for parent in tensor.positional]
        kwargs = ({"initial_state": [ref(s) for s in tensor.inputs[len(tensor.positional):]]}
                  if tensor.states else {})
        if tensor.layer.separate_inputs:  # MultiHeadAttention(query, value(, key))
            return {"args": positional, "kwargs": kwargs}
        return {"args": [positional if tensor.layer.takes_list else positional[0]], "kwargs": kwargs}

    layers = []
    for layer in model.layers:
        first = nodes[id(layer)][0]
        if isinstance(layer, L.InputLayer):
            layers.append({"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
                           "name": layer.name, "inbound_nodes": [],
                           "config": {"batch_shape": list(layer.batch_shape), "dtype": layer.dtype,
                                      "name": layer.name}})
            continue
        shapes = [list(parent.shape) for parent in first.positional]
        spec = _keras_layer_config(layer, shapes if layer.takes_list else shapes[0], model.dtype_policy.name)
        spec.update(name=layer.name, inbound_nodes=[inbound(call) for call in nodes[id(layer)]])
        layers.append(spec)

    def ends(tensors: list[Any], one: bool) -> list[Any]:
        refs = [history(t) for t in tensors]
        return refs[0] if one else refs

    return {"module": "keras.src.models.functional", "class_name": "Functional",  # as Keras writes it
            "registered_name": "Functional",
            "config": {"name": model.name, "trainable": True, "layers": layers,
                       "input_layers": ends(model._input_tensors, len(model._input_tensors) == 1),
                       "output_layers": ends(model._output_tensors, model._one_output)}}


def save_keras_model(model: Sequential, path: str | Path) -> None:
    """Write a `.keras` archive that `keras.saving.load_model` opens and that predicts the same."""
    config = keras_model_config(model)
    if model.compiled:
        config["compile_config"] = compile_config(model)
    metadata = {"keras_version": KERAS_VERSION, "date_saved": datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}
    zip_buffer = io.BytesIO()
    with zipfile.ZipFile(zip_buffer, "w") as archive:
        archive.writestr("metadata.json", json.dumps(metadata))
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("model.weights.h5", _weights_h5(model))
    atomic_write_bytes(path, zip_buffer.getvalue())


def refuse_unwritten_layers(model: Sequential, legacy: bool = False) -> None:
    """One line for the first layer Keras's files (`legacy`: its .h5 files) do not hold here (or
    a subclassed model, whose architecture is its code)."""
    if model.subclassed:
        model.check_savable("a Keras file")
    for layer in model.layers:
        kind = type(layer).__name__
        if kind not in _FIELDS and kind not in ("Bidirectional", "InputLayer"):
            raise ConfigError(f"layer {layer.name!r} ({kind}) is not one of the Keras layers a .keras file "
                              f"holds here ({', '.join(SUPPORTED)}); save the model as a textrnn folder")
        if isinstance(layer, L.TimeDistributed) and type(layer.layer).__name__ not in _FIELDS:
            raise ConfigError(f"layer {layer.name!r}: a .keras file holds a TimeDistributed here over one of "
                              f"{', '.join(SUPPORTED)}, not over {type(layer.layer).__name__}; save the "
                              "model as a textrnn folder")
        inner = [layer.forward_layer, layer.backward_layer] if isinstance(layer, L.Bidirectional) else [layer]
        if any(type(each) is L.RNN and (legacy or not _keras_cells(each.cell)) for each in inner):
            raise ConfigError(f"layer {layer.name!r}: {'a legacy .h5 file' if legacy else 'a .keras file'} "
                              f"holds an RNN here only over Keras's cells ({', '.join(_CELL_FIELDS)}) or a "
                              "StackedRNNCells of them" + (", in Keras 3's .keras files" if legacy else "")
                              + "; save the model as a textrnn folder")


def _keras_cells(cell: Any) -> bool:
    if isinstance(cell, L.StackedRNNCells):
        return all(_keras_cells(each) for each in cell.cells)
    return type(cell).__name__ in _CELL_FIELDS and type(cell) is getattr(L, type(cell).__name__)


def keras_model_config(model: Sequential) -> dict[str, Any]:
    """The model as Keras serialises it (a `.keras` file's config.json, `model.to_json()`)."""
    from textrnn.models import Model

    if not model.built:
        raise ConfigError("cannot describe a model that is not built yet (its input shape is unknown)")
    refuse_unwritten_layers(model)
    if isinstance(model, Model):
        config = _functional_config(model)
    else:
        shape = model.build_input_shape
        ids = isinstance(model.layers[0], L.Embedding)  # token ids, else numbers per step (Keras casts them)
        layers = [{"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
                   "config": {"batch_shape": list(shape), "dtype": "int32" if ids else "float32",
                              "name": "input_layer"}}]
        for layer in model.layers:
            layers.append(_keras_layer_config(layer, shape, model.dtype_policy.name))
            shape = layer.output_shape
        config = {"module": "keras", "class_name": "Sequential", "registered_name": None,
                  "config": {"name": model.name, "trainable": True, "layers": layers},
                  "build_config": {"input_shape": list(model.build_input_shape)}}
    if model.dtype_policy.name != "float32":
        config["config"]["dtype"] = _policy_config(model.dtype_policy.name)
    return config


def model_from_json(text: str) -> Sequential:
    """`keras.models.model_from_json`: the model a Keras (or textrnn) `to_json()` describes, with
    new weights."""
    try:
        config = json.loads(text)
    except (json.JSONDecodeError, TypeError) as exc:
        raise ConfigError(f"model_from_json: not a JSON model description ({exc})") from None
    if not isinstance(config, dict):
        raise ConfigError("model_from_json: the JSON should describe a model (an object)")
    return model_from_keras_config(config, "model_from_json")


def _weights_h5(model: Sequential) -> bytes:
    """Keras's weights file: each layer's arrays, then a trained optimizer's."""
    h5_buffer = io.BytesIO()
    with h5py.File(h5_buffer, "w") as h5:
        for layer, name in zip(model.layers, _unique_names(model)):
            h5.create_group(f"layers/{name}/vars")
            for group, arrays in _weight_groups(layer, f"layers/{name}"):
                g = h5.require_group(group)
                for i, array in enumerate(arrays):
                    g.create_dataset(str(i), data=array)
        h5.create_group("vars")
        arrays = optimizer_arrays(model) if model.compiled else None
        if arrays is not None:
            scale = loss_scale_arrays(model)
            groups = {"optimizer/vars": arrays} if scale is None else {  # as Keras's LossScaleOptimizer
                "optimizer/vars": [*scale, *arrays], "optimizer/inner_optimizer/vars": arrays}
            for group, values in groups.items():
                for i, array in enumerate(values):
                    h5.create_dataset(f"{group}/{i}", data=array)
    return h5_buffer.getvalue()
