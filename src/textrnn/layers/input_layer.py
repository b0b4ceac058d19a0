"""The functional API's symbolic side, as keras.Input and keras.layers.InputLayer: `Input(shape)`
gives a KerasTensor (a shape and where it came from, no values); a layer called on KerasTensors
builds itself for their shapes and gives a new KerasTensor that remembers the call. A
`textrnn.Model(inputs, outputs)` then runs those calls in order (textrnn.models.functional)."""

from __future__ import annotations

from typing import Any

from textrnn.errors import ConfigError
from textrnn.layers.base import KerasTensor, Layer, Shape


class InputLayer(Layer):
    """The layer behind `Input`: no weights; its output is the model's input."""

    def __init__(self, shape: Shape | None = None, dtype: str | None = None, batch_shape: Shape | None = None,
                 **kwargs: Any) -> None:
        kwargs.pop("input_shape", None)
        super().__init__(**kwargs)
        if batch_shape is None:
            if shape is None:
                raise ConfigError("Input needs a shape, e.g. Input(shape=(None,), dtype='int32')")
            batch_shape = (None, *tuple(shape))
        self.batch_shape, self.dtype = tuple(batch_shape), dtype or "float32"
        self.build(self.batch_shape)
        self._symbolic_calls = [KerasTensor(self.batch_shape, self.dtype, self)]  # its `output`

    def forward(self, x: Any, mask: Any = None) -> Any:
        return x

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "batch_shape": list(self.batch_shape), "dtype": self.dtype}


def Input(shape: Shape | None = None, batch_size: int | None = None, dtype: str | None = None,  # noqa: N802
          name: str | None = None, batch_shape: Shape | None = None) -> KerasTensor:
    """keras.Input: a model's input, a KerasTensor of `shape` (without the batch dimension), or of
    `batch_shape` (with it; `batch_size` gives it too, as a stateful RNN's model does)."""
    if batch_size is not None and batch_shape is None and shape is not None:
        batch_shape = (int(batch_size), *tuple(shape))
    return InputLayer(shape, dtype, batch_shape, name=name).output
