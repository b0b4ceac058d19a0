"""Keras 3's `model.summary()` table, rendered with rich the way keras.utils.summary_utils does."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import rich.console
import rich.markup
import rich.table

from textrnn.errors import ConfigError
from textrnn.layers.base import Layer

if TYPE_CHECKING:
    from textrnn.models import Sequential


def readable_memory_size(size: float) -> str:
    for unit in ["B", "KB", "MB", "GB", "TB"]:
        if size / 1024 < 1:
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} PB"


# Keras's layers with no build of their own: a subclassed model's summary knows no output shape for
# them ("?"), their call having built nothing (Keras's summary_utils, format_layer_shape)
_NO_BUILD = frozenset({"Activation", "AveragePooling1D", "Dropout", "ELU", "Flatten",
                       "GlobalAveragePooling1D", "GlobalMaxPooling1D", "Lambda", "LeakyReLU", "Masking",
                       "MaxPooling1D", "Permute",
                       "ReLU", "RepeatVector", "Reshape", "Softmax", "SpatialDropout1D"})


def _shape_unknown(model: Sequential, layer: Layer) -> bool:
    if not model.subclassed:
        return False
    if type(layer).__module__.startswith("textrnn."):
        return type(layer).__name__ in _NO_BUILD
    return getattr(type(layer), "build", None) is Layer.build  # a layer of one's own


def _shape_text(shape) -> str:
    return "?" if shape is None else "(" + ", ".join(str(d) for d in shape) + ")"


def _layer_range(layers: list, names: Any) -> slice:
    """Keras's `layer_range=[first, last]`: from the first layer whose name matches `first` (a
    regular expression, matched at the start) to the last that matches `last`, both kept."""
    if names is None:
        return slice(0, len(layers))
    if len(names) != 2 or not all(isinstance(n, str) for n in names):
        raise ConfigError(f"summary: layer_range takes two layer names, got {names!r}")
    low = [k for k, layer in enumerate(layers) if re.match(names[0], layer.name)]
    high = [k for k, layer in enumerate(layers) if re.match(names[1], layer.name)]
    if not low or not high:
        raise ConfigError(f"summary: layer_range {list(names)} names no layers of the model "
                          f"({', '.join(layer.name for layer in layers)})")
    if min(low) > max(high):
        return slice(min(high), max(low) + 1)
    return slice(min(low), max(high) + 1)


def render_summary(model: Sequential, line_length: int | None = None, positions: Any = None,
                   expand_nested: bool = False, show_trainable: bool = False,
                   layer_range: Any = None) -> str:
    """The summary as plain text (no colour), identical in layout to Keras's."""
    # A functional model with branches or joins gets Keras's wider table with a "Connected to" column.
    linked = not getattr(model, "sequential_like", True)
    positions = list(positions or ((0.3, 0.56, 0.74, 1.0) if linked else (0.45, 0.80, 1.0)))
    default = 108 if linked else 88
    if show_trainable:
        default += 12
        positions = [p * 0.90 for p in positions] + [1.0]
    line_length = line_length or min(default, shutil.get_terminal_size().columns - 4)
    widths, current = [], 0
    for pos in positions:
        widths.append(int(pos * line_length) - current)
        current += widths[-1]
    if min(widths) < 4:
        raise ConfigError("summary: insufficient console width to print the summary (line_length)")
    headers = [("Layer (type)", "left"), ("Output Shape", "left"), ("Param #", "right"),
               *([("Connected to", "left")] if linked else []),
               *([("Trainable", "center")] if show_trainable else [])]
    columns = [rich.table.Column(name, justify=justify, width=width)
               for (name, justify), width in zip(headers, widths)]
    table = rich.table.Table(*columns, width=line_length, show_lines=True)

    def rows(layer: Any, level: int = 0) -> list[list[str]]:
        prefix = "   " * level + "└ " if level else ""
        name = f"{rich.markup.escape(prefix + layer.name)} ({type(layer).__name__})"
        params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
        known = layer.built and hasattr(layer, "output_shapes") and not _shape_unknown(model, layer)
        shapes = layer.output_shapes() if known else [None]  # (a model held by a subclassed one: "?")
        shown = _shape_text(shapes[0]) if len(shapes) == 1 else f"[{', '.join(map(_shape_text, shapes))}]"
        row = [name, shown, params, *([model.connections(layer)] if linked else [])]
        if show_trainable:
            row.append(("Y" if layer.trainable else "N") if layer.weights else "-")
        found = [row]
        if expand_nested and getattr(layer, "layers", None):
            found += [r for inner in layer.layers for r in rows(inner, level + 1)]
        return found

    for layer in model.layers[_layer_range(model.layers, layer_range)]:
        for row in rows(layer):
            table.add_row(*row)

    trainable = model.trainable_weights
    frozen = model.non_trainable_weights
    n_train = sum(w.numel() for w in trainable)
    n_frozen = sum(w.numel() for w in frozen)
    size = 4  # bytes per float32 weight
    spec = getattr(model, "_optimizer_spec", None)
    # Keras adds the optimizer's variables once it is built (the first training step, or loaded).
    n_optimizer = (spec.keras_variable_count(n_train)
                   if spec is not None and getattr(model, "optimizer_built", False) else None)
    n_total = n_train + n_frozen + (n_optimizer or 0)

    # Same console settings as Keras's print_fn path, so wrapping behaves identically too.
    console = rich.console.Console(highlight=False, force_terminal=False, color_system=None)
    console.begin_capture()
    console.print(f'Model: "{rich.markup.escape(model.name)}"')
    console.print(table)
    console.print(f" Total params: {n_total:,} ({readable_memory_size(n_total * size)})")
    console.print(f" Trainable params: {n_train:,} ({readable_memory_size(n_train * size)})")
    console.print(f" Non-trainable params: {n_frozen:,} ({readable_memory_size(n_frozen * size)})")
    if n_optimizer is not None:
        console.print(f" Optimizer params: {n_optimizer:,} ({readable_memory_size(n_optimizer * size)})")
    return console.end_capture()


def print_summary(model: Sequential, line_length: int | None = None,
                  print_fn: Callable[[str], object] | None = None, **options: Any) -> None:
    text = render_summary(model, line_length, **options)
    if print_fn is None:
        print(text, end="")
    else:
        print_fn(text)
