"""Keras 3's `model.summary()` table, rendered with rich the way keras.utils.summary_utils does."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import TYPE_CHECKING

import rich.console
import rich.markup
import rich.table

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


def render_summary(model: Sequential, line_length: int | None = None) -> str:
    """The summary as plain text (no colour), identical in layout to Keras's."""
    # A functional model with branches or joins gets Keras's wider table with a "Connected to" column.
    linked = not getattr(model, "sequential_like", True)
    positions = (0.3, 0.56, 0.74, 1.0) if linked else (0.45, 0.80, 1.0)
    line_length = line_length or min(108 if linked else 88, shutil.get_terminal_size().columns - 4)
    widths, current = [], 0
    for pos in positions:
        widths.append(int(pos * line_length) - current)
        current += widths[-1]
    columns = [rich.table.Column("Layer (type)", justify="left", width=widths[0]),
               rich.table.Column("Output Shape", justify="left", width=widths[1]),
               rich.table.Column("Param #", justify="right", width=widths[2])]
    if linked:
        columns.append(rich.table.Column("Connected to", justify="left", width=widths[3]))
    table = rich.table.Table(*columns, width=line_length, show_lines=True)
    for layer in model.layers:
        name = f"{rich.markup.escape(layer.name)} ({type(layer).__name__})"
        params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
        known = layer.built and hasattr(layer, "output_shapes") and not _shape_unknown(model, layer)
        shapes = layer.output_shapes() if known else [None]  # (a model held by a subclassed one: "?")
        shown = _shape_text(shapes[0]) if len(shapes) == 1 else f"[{', '.join(map(_shape_text, shapes))}]"
        row = [name, shown, params]
        table.add_row(*row, *([model.connections(layer)] if linked else []))

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
                  print_fn: Callable[[str], object] | None = None) -> None:
    text = render_summary(model, line_length)
    if print_fn is None:
        print(text, end="")
    else:
        print_fn(text)
