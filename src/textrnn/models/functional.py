"""`Model(inputs, outputs)`: Keras's functional API, for one input and one output. The layers called
on KerasTensors between them (textrnn.layers.base.call_symbolic) form a graph, run in the order they
were called, with each layer's mask passed on as Keras passes it; branches join through the merge
layers (textrnn.layers.merging). Training, evaluation, prediction, weights and saving are
Sequential's (this class is one, with a graph instead of a stack)."""

from __future__ import annotations

from typing import Any

import torch

from textrnn.errors import ConfigError
from textrnn.layers.base import KerasTensor, Layer, auto_name, layer_from_config, layer_to_config
from textrnn.layers.input_layer import InputLayer
from textrnn.models.sequential import Sequential


def _calls(output: KerasTensor) -> list[KerasTensor]:
    """The KerasTensors from the input to `output`, each after the ones it is computed from."""
    order: list[KerasTensor] = []
    seen: set[int] = set()

    def visit(tensor: KerasTensor) -> None:
        if id(tensor) in seen:
            return
        seen.add(id(tensor))
        for parent in tensor.inputs:
            visit(parent)
        order.append(tensor)

    visit(output)
    return order


class Model(Sequential):
    """keras.Model(inputs, outputs): a graph of layer calls from one Input to one output."""

    def __init__(self, inputs: Any = None, outputs: Any = None, name: str | None = None) -> None:
        inputs = _single(inputs, "inputs")
        outputs = _single(outputs, "outputs")
        if not isinstance(inputs, KerasTensor) or not isinstance(inputs.layer, InputLayer):
            raise ConfigError("Model(inputs, outputs): inputs must come from keras.Input(...)")
        if not isinstance(outputs, KerasTensor):
            raise ConfigError("Model(inputs, outputs): outputs must be a layer's output on the inputs")
        tensors = _calls(outputs)
        roots = [t for t in tensors if not t.inputs]
        if roots != [inputs]:
            raise ConfigError("Model(inputs, outputs): the outputs must be computed from the given "
                              "inputs only")
        super().__init__(name=name or auto_name("Functional"))
        self._tensors = tensors  # in computing order; tensors[0] is the input
        for tensor in tensors:
            self._layers.append(tensor.layer)
        self.build_input_shape = inputs.shape
        self.built = True

    def add(self, layer: Layer) -> None:
        raise ConfigError("a functional Model's layers are fixed by its inputs and outputs; use "
                          "Sequential to add layers")

    def build(self, input_shape: Any = None) -> None:
        self.built = True  # every layer was built when it was called on the graph

    @property
    def sequential_like(self) -> bool:
        """No branch and no join: each call takes the one before it (Keras's summary shows no links)."""
        return all(len(t.inputs) <= 1 for t in self._tensors) and all(
            len([u for u in self._tensors if t in u.inputs]) <= 1 for t in self._tensors)

    def connections(self, layer: Layer) -> str:
        """Keras's "Connected to" cell: the layers whose outputs this one takes."""
        tensor = next(t for t in self._tensors if t.layer is layer)
        return ", ".join(f"{parent.layer.name}[0][0]" for parent in tensor.inputs) or "-"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values: dict[int, tuple[Any, Any]] = {}
        for tensor in self._tensors:
            if not tensor.inputs:
                values[id(tensor)] = (x, None)
                continue
            got = [values[id(parent)] for parent in tensor.inputs]
            if len(got) == 1 and not tensor.layer.takes_list:
                value, mask = got[0]
            else:
                value, mask = [v for v, _ in got], [m for _, m in got]
            values[id(tensor)] = (tensor.layer(value, mask=mask), tensor.layer.compute_mask(value, mask))
        return values[id(self._tensors[-1])][0]

    def get_config(self) -> dict[str, Any]:
        index = {id(t): k for k, t in enumerate(self._tensors)}
        return {"class": "Functional", "name": self.name,
                "layers": [{**layer_to_config(t.layer), "inbound": [index[id(p)] for p in t.inputs]}
                           for t in self._tensors]}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Model:
        tensors: list[KerasTensor] = []
        for spec in config["layers"]:
            layer = layer_from_config(spec)
            if isinstance(layer, InputLayer):
                tensors.append(layer.output)
                continue
            inbound = [tensors[k] for k in spec["inbound"]]
            tensors.append(layer(inbound if layer.takes_list else inbound[0]))
        return cls(tensors[0], tensors[-1], name=config.get("name"))


def _single(value: Any, what: str) -> Any:
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            raise ConfigError(f"Model: one tensor of {what} is supported, got {len(value)}")
        return value[0]
    if isinstance(value, dict):
        raise ConfigError(f"Model: {what} as a dict are not supported; give one tensor")
    return value
