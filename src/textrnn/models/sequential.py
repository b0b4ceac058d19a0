"""Sequential: Keras's model API on torch. This module holds the structure (add, build, forward,
weights, summary), the config and saving; compile / fit / evaluate / predict come from the trainer
(textrnn.training.trainer), as Keras's Model inherits its Trainer. textrnn's addition: length
buckets, saved with the model. Models of other classes (the functional Model, the recipe's
Ensemble) save through the same folder format and are loaded by the class their config names."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.numpy
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from textrnn.errors import ConfigError, DataError, NotBuiltError
from textrnn.io_utils import atomic_write_dir, atomic_write_json, settle_dir
from textrnn.layers.base import (
    KerasTensor,
    Layer,
    Shape,
    WeightSplit,
    attach_mask,
    auto_name,
    clear_call_losses,
    layer_from_config,
    layer_to_config,
    training_mode,
)
from textrnn.layers.core import Dropout
from textrnn.layers.embedding import Embedding
from textrnn.layers.input_layer import InputLayer
from textrnn.layers.rnn import RNN
from textrnn.layers.wrappers import Bidirectional
from textrnn.models.summary import print_summary
from textrnn.serialization import arrays_in, arrays_out, load_weights_file, read_arrays, read_json
from textrnn.training import optimizers as optimizers_module
from textrnn.training.checkpoint import optimizer_parts, restore_optimizer
from textrnn.training.trainer import Trainer

CONFIG_FILE = "config.json"
ARRAYS_FILE = "config_arrays.safetensors"  # arrays the config names (serialization.arrays_out)
WEIGHTS_FILE = "weights.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"  # a trained model's optimizer state, beside its weights
VOCAB_FILE = "vocab.json"
# The .keras format lives in the interop layer above this one: named here and imported when first
# used, so that models never imports upward.
KERAS_FILES = "textrnn.interop.keras_io"
# Saved models of other classes, by the "class" their config names: (module, class), imported when
# first needed. Each is a Sequential whose _save_extras / _load_extras write and read its own files.
MODEL_CLASSES = {"Functional": ("textrnn.models.functional", "Model"),
                 "Ensemble": ("textrnn.app.ensemble", "Ensemble")}
# Folders written by textrnn 0.1 hold an ensemble without naming its class: these files tell.
_UNNAMED_ENSEMBLE_FILES = ("members", "linear_head.json")


def _plugin(module: str, name: str) -> Any:
    import importlib

    return getattr(importlib.import_module(module), name)


class Sequential(Trainer, WeightSplit, nn.Module):
    """A linear stack of layers, used exactly like keras.Sequential."""

    subclassed = False  # (a Model subclassed with its own call: textrnn.models.subclassed)

    def __init__(self, layers: Sequence[Layer] | None = None, name: str | None = None) -> None:
        super().__init__()
        self.training = False  # inference unless training (fit's steps), as Keras's calls
        self.name = name or auto_name("Sequential")
        self._layers = nn.ModuleList()
        self.built = False
        self.build_input_shape: Shape | None = None
        self._input_shape: Shape | None = None  # from an Input added first, as Keras allows
        self._init_trainer()
        self.text_encoder: Any = None  # textrnn.data.TextEncoder, saved as vocab.json
        # textrnn's addition to Keras's Sequential: fit, evaluate and predict in batches of rows of one
        # length, padding cut off (textrnn.data.buckets). Saved with the model.
        self.length_buckets = False
        for layer in layers or []:
            self.add(layer)

    # --- structure ------------------------------------------------------------------------------
    @property
    def layers(self) -> list[Layer]:
        return list(self._layers)

    def add(self, layer: Layer | KerasTensor) -> None:
        if isinstance(layer, KerasTensor) and isinstance(layer.layer, InputLayer):
            layer = layer.layer  # keras.Input(...) in a Sequential: its InputLayer
        if isinstance(layer, InputLayer):  # Keras's way to give the input shape: no layer of its own
            if self._layers:
                raise ConfigError("an Input must come first in a Sequential model")
            self._input_shape = layer.batch_shape
            return
        if not isinstance(layer, Layer):
            raise ConfigError(f"Sequential.add expects a textrnn layer, got {type(layer).__name__}")
        self._layers.append(layer)
        self._weights_changed()
        first_shape = self._layers[0].batch_input_shape or self._input_shape
        if first_shape is not None:
            self.build(first_shape)

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """A layer by name or by index, as Keras's `get_layer`."""
        if (name is None) == (index is None):
            raise ConfigError("get_layer: give a layer name or an index (one of them)")
        if index is not None:
            if not -len(self.layers) <= index < len(self.layers):
                raise ConfigError(f"get_layer: index {index} is out of range; the model has "
                                  f"{len(self.layers)} layers")
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ConfigError(f"get_layer: no layer named {name!r}; the model has "
                          f"{', '.join(layer.name for layer in self.layers)}")

    def pop(self, rebuild: bool = True) -> Layer:
        """Remove the last layer and return it, as Keras's (e.g. to put a new head on a trained
        body: the lecture's "keep the embedding, train new layers")."""
        if not self._layers:
            raise ConfigError("pop: there are no layers in the model")
        layer = self._layers[-1]
        del self._layers[-1]
        self._weights_changed()
        self.built = bool(self._layers) and all(kept.built for kept in self._layers)
        return layer

    def _weights_changed(self) -> None:
        """A trained optimizer holds the old weights: the next fit makes one over the new (as after
        compile), so an added layer trains."""
        self._optimizer = None

    def build(self, input_shape: Shape | None = None) -> None:
        """Create every layer's weights for inputs of `input_shape` (batch dimension included)."""
        shape = input_shape or self.build_input_shape
        if shape is None:
            raise NotBuiltError(
                "the model's input shape is unknown: give Embedding(input_length=...), call "
                "build((None, maxlen)), or fit/predict on data first")
        self.build_input_shape = tuple(shape)
        for layer in self._layers:
            if not layer.built:
                layer.build_for(shape)
            shape = layer.output_shape
        self.built = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mask = None
        looked_up = None  # at inference: an Embedding whose ids x still holds (see below)
        for layer in self._layers:
            if looked_up is not None:
                if isinstance(layer, (RNN, Bidirectional)):
                    next_mask = layer.compute_mask(x, mask)
                    x, mask, looked_up = layer(x, mask=mask, embedding=looked_up), next_mask, None
                    continue
                if isinstance(layer, Dropout):  # the identity at inference
                    continue
                x, looked_up = looked_up(x), None
            next_mask = layer.compute_mask(x, mask)
            if (isinstance(layer, Embedding) and not self.training and not torch.is_grad_enabled()
                    and layer.activity_regularizer is None):
                # The lookup waits: a recurrent layer right after it reads the ids itself, through
                # the input projection of every word (RNN.token_table), saving its input matmul.
                looked_up = layer
            else:
                x = layer(x, mask=mask)
            mask = next_mask
        self.__dict__["output_masks"] = [mask]  # (Keras's _keras_mask of the output: the loss reads it)
        return x if looked_up is None else looked_up(x)

    def __call__(self, x: Any, training: bool | None = None) -> torch.Tensor:  # numpy too, as Keras
        clear_call_losses(self)  # (the losses its layers add are this call's)
        x = self._inputs_of(x)
        if not self.built:  # (built on this call's batch, as Keras builds a model on its first call)
            self._build_from(x, len(x) if isinstance(x, torch.Tensor) else 32)
        with training_mode(self, training):
            outputs = super().__call__(x)
        masks = self.__dict__.get("output_masks") or [None]  # (a model called in one's own code)
        attach_mask(outputs, masks[0] if self.output_count == 1 else masks)
        return outputs

    def _inputs_of(self, x: Any) -> torch.Tensor | list[torch.Tensor]:
        """A call's inputs as tensors: one array, or one per input."""
        if isinstance(x, (list, tuple)) and self.input_count > 1:
            return [t if isinstance(t, torch.Tensor) else torch.as_tensor(np.asarray(t)) for t in x]
        return x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))

    def _build_from(self, x: Any, rows: int = 32) -> None:
        """Built for inputs like `x` (its first `rows` rows: a batch), before its first step."""
        self.build((None, *x.shape[1:]))

    def reset_states(self) -> None:
        """Keras 2's `model.reset_states()`: its stateful recurrent layers' held states zeroed."""
        for layer in self.layers:
            if getattr(layer, "stateful", False):
                layer.reset_states()

    @property
    def trainable(self) -> bool:
        return self.__dict__.get("_trainable", True)

    @trainable.setter
    def trainable(self, value: bool) -> None:
        """Keras's `model.trainable = False`: every layer frozen (a base model under a new head)."""
        self.__dict__["_trainable"] = bool(value)
        for layer in self._layers:
            layer.trainable = value

    def output_shapes(self, main: Shape | None = None) -> list[Shape]:
        """Its output's shape, as a layer's (a model held by another, in its summary)."""
        return self._layers[-1].output_shapes(main) if self._layers else [main]

    # --- weights --------------------------------------------------------------------------------
    @property
    def weights(self) -> list[nn.Parameter]:
        return [w for layer in self._layers for w in layer.weights]

    def get_weights(self) -> list[np.ndarray]:
        return [w for layer in self._layers for w in layer.get_weights()]

    def set_weights(self, weights: Sequence[np.ndarray]) -> None:
        weights = list(weights)
        for layer in self._layers:
            n = len(layer.weights)
            layer.set_weights(weights[:n])
            weights = weights[n:]
        if weights:
            raise ConfigError(f"set_weights got {len(weights)} more arrays than the model has")

    def count_params(self) -> int:
        if not self.built:
            raise NotBuiltError("the model is not built yet")
        return sum(w.numel() for w in self.weights)

    def summary(self, line_length: int | None = None, positions: Sequence[float] | None = None,
                print_fn: Callable[[str], object] | None = None, expand_nested: bool = False,
                show_trainable: bool = False, layer_range: Sequence[str] | None = None) -> None:
        """Keras's table of the layers (Keras 3's arguments: `show_trainable` adds its column,
        `expand_nested` the layers of a model held as a layer, `layer_range` a run of layers)."""
        print_summary(self, line_length=line_length, print_fn=print_fn, positions=positions,
                      expand_nested=expand_nested, show_trainable=show_trainable, layer_range=layer_range)

    def inference_module(self) -> nn.Module:
        """The module whose forward computes what predict gives (for graph export): the network
        itself; a model that adds more to its predictions (textrnn.app.ensemble) returns its own."""
        return self

    # --- config and saving ----------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "layers": [layer_to_config(layer) for layer in self._layers],
            "build_input_shape": list(self.build_input_shape) if self.build_input_shape else None,
            **({"length_buckets": True} if self.length_buckets else {}),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Sequential:
        model = cls([layer_from_config(spec) for spec in config["layers"]], name=config.get("name"))
        model.length_buckets = bool(config.get("length_buckets", False))
        if config.get("build_input_shape") and not model.built:
            model.build(tuple(config["build_input_shape"]))
        return model

    def save(self, path: str | Path) -> None:
        """Write a folder: config.json (architecture + compile settings), weights.safetensors and,
        if the model carries a text encoder, vocab.json. The folder appears atomically.
        A path ending in .keras writes a Keras 3 archive instead, one ending in .h5 (or .hdf5) Keras's
        legacy HDF5 file, as Keras 3 does (textrnn.interop.keras_io)."""
        if not self.built:
            raise NotBuiltError("cannot save a model that has no weights yet")
        self.check_savable(path)
        if str(path).endswith(".keras"):
            _plugin(KERAS_FILES, "save_keras_model")(self, path)
            return
        if str(path).endswith((".h5", ".hdf5")):
            _plugin(KERAS_FILES, "save_legacy_model")(self, path)
            return
        model_config, arrays = arrays_out(self.get_config())  # a Constant's matrix: not as JSON
        config = {"format": "textrnn-sequential-v1", "model": model_config}
        optimizer_tensors = None
        if self.compiled:
            config["compile"] = {"optimizer": self._optimizer_spec.get_config(), **self.compile_entries()}
            if self._optimizer is not None:  # its state (and rate) goes along, so training goes on
                optimizer_tensors, config["optimizer_state"] = optimizer_parts(self._optimizer)

        def fill(folder: Path) -> None:
            atomic_write_json(folder / CONFIG_FILE, config)
            if arrays:
                safetensors.numpy.save_file(arrays, str(folder / ARRAYS_FILE))
            tensors = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
            save_file(tensors, str(folder / WEIGHTS_FILE))
            if optimizer_tensors is not None:
                save_file(optimizer_tensors, str(folder / OPTIMIZER_FILE))
            if self.text_encoder is not None:
                atomic_write_json(folder / VOCAB_FILE, self.text_encoder.to_json())
            self._save_extras(folder)

        atomic_write_dir(path, fill)

    def check_savable(self, path: str | Path) -> None:
        """One ConfigError line where the model cannot be saved whole (ModelCheckpoint asks before
        training starts, rather than after its first epoch)."""
        code = [layer.name for layer in self.layers if not getattr(layer, "saveable", True)]
        if code:
            raise ConfigError(f"{path}: layer {code[0]!r} is Python code (a Lambda), which textrnn's files "
                              "never hold; save the weights (model.save_weights) and build the model in code")
        if self.subclassed:
            raise ConfigError(f"{path}: model {self.name!r} is subclassed: its layers are made by its Python "
                              "code, which textrnn's files never hold; save its weights (model.save_weights) "
                              "and make the model from its class")
        if str(path).endswith((".keras", ".h5", ".hdf5")):  # and the layers Keras's files hold
            _plugin(KERAS_FILES, "refuse_unwritten_layers")(self, legacy=not str(path).endswith(".keras"))

    def to_json(self, **kwargs: Any) -> str:
        """The architecture as Keras's JSON (`keras.models.model_from_json` reads it, and
        textrnn's model_from_json); json.dumps's arguments (indent=...) pass through."""
        return json.dumps(_plugin(KERAS_FILES, "keras_model_config")(self), **kwargs)

    def save_weights(self, filepath: str | Path, overwrite: bool = True) -> None:
        """Keras 3's `.weights.h5` file of the layers' weights (and a trained optimizer's state),
        which Keras's `load_weights` reads too; another `.h5` name writes Keras 2's layout."""
        if not overwrite and Path(filepath).exists():
            raise ConfigError(f"{filepath}: exists, and overwrite=False")
        _plugin(KERAS_FILES, "save_keras_weights")(self, filepath)

    def load_weights(self, filepath: str | Path, skip_mismatch: bool = False) -> None:
        """The weights of a `.weights.h5` file (Keras's or save_weights') or of a `.keras` file, into
        this model of the same architecture."""
        if skip_mismatch:
            raise ConfigError("load_weights: skip_mismatch=True is not supported")
        _plugin(KERAS_FILES, "load_keras_weights")(self, filepath)

    def _save_extras(self, folder: Path) -> None:
        """A subclass's own files, written into the model's folder before it appears."""

    def _load_extras(self, folder: Path) -> None:
        """A subclass's own files, read back after the weights."""


def load_model(path: str | Path, compile: bool = True) -> Sequential:
    """Load a folder written by `Sequential.save` (no pickle: JSON + safetensors), a Keras 3
    `.keras` file, or a Keras `.h5` model file (Keras 2's `model.save("model.h5")`)."""
    if str(path).endswith(".keras") or _plugin("textrnn.interop.keras_h5", "is_hdf5_file")(path):
        return _plugin(KERAS_FILES, "load_keras_model")(path)
    folder = settle_dir(path)
    config_path = folder / CONFIG_FILE
    if not config_path.is_file():
        raise DataError(f"{folder}: not a saved textrnn model (no {CONFIG_FILE})")
    config = read_json(config_path, "malformed model config")
    if (folder / ARRAYS_FILE).is_file():
        config["model"] = arrays_in(config.get("model"), read_arrays(folder / ARRAYS_FILE), str(config_path))
    try:
        model = _model_class(config["model"], folder).from_config(config["model"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DataError(f"{config_path}: malformed model config ({type(exc).__name__}: {exc})") from None
    weights_path = folder / WEIGHTS_FILE
    if not weights_path.is_file():
        raise DataError(f"{folder}: missing {WEIGHTS_FILE}")
    load_weights_file(model, weights_path)
    if compile and "compile" in config:
        c = config["compile"]
        model.compile(optimizers_module.OptimizerSpec.from_config(c["optimizer"]), loss=c["loss"],
                      metrics=c["metrics"], loss_weights=c.get("loss_weights"))
        if "optimizer_state" in config:
            _restore_optimizer_state(model, folder, config["optimizer_state"])
    model._load_extras(folder)
    vocab_path = folder / VOCAB_FILE
    if vocab_path.is_file():
        model.text_encoder = load_vocabulary_file(vocab_path)
    return model


def model_from_json(json_string: str) -> Sequential:
    """A model of the architecture a Keras `to_json()` string describes, with new weights."""
    return _plugin(KERAS_FILES, "model_from_json")(json_string)


def clone_model(model: Sequential) -> Sequential:
    """A model of the same architecture with new weights drawn by its initializers, as Keras's
    clone_model (not compiled)."""
    return type(model).from_config(model.get_config())


def _model_class(config: dict[str, Any], folder: Path) -> type[Sequential]:
    name = config.get("class") or ("Ensemble" if any((folder / f).exists() for f in _UNNAMED_ENSEMBLE_FILES)
                                   else "Sequential")
    if name == "Sequential":
        return Sequential
    if name not in MODEL_CLASSES:
        raise DataError(f"{folder / CONFIG_FILE}: unknown model class {name!r}; "
                        f"known: Sequential, {', '.join(MODEL_CLASSES)}")
    return _plugin(*MODEL_CLASSES[name])


def _restore_optimizer_state(model: Sequential, folder: Path, record: dict[str, Any]) -> None:
    """The optimizer's saved state (Adam's moments, RMSprop's averages, step counts), so a loaded
    model trains on where it stopped, as a Keras model loaded from a .keras file does."""
    from safetensors import SafetensorError

    path = folder / OPTIMIZER_FILE
    try:
        restore_optimizer(model.create_optimizer(), load_file(str(path)), record)
    except FileNotFoundError:
        raise DataError(f"{folder}: missing {OPTIMIZER_FILE} (config.json has an optimizer state)") from None
    except (SafetensorError, KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
        raise DataError(f"{path}: damaged optimizer state ({type(exc).__name__}: {exc})") from None


def load_vocabulary_file(path: Path) -> Any:
    """The TextEncoder of a vocab.json; any malformed content is one DataError line."""
    from textrnn.data.text import TextEncoder

    try:
        return TextEncoder.from_json(read_json(path))
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise DataError(f"{path}: malformed vocabulary ({type(exc).__name__}: {exc})") from None
