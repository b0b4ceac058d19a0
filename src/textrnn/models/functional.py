"""`Model(inputs, outputs)`: Keras's functional API. The layers called on KerasTensors between the
inputs and the outputs (textrnn.layers.base.call_symbolic) form a graph, run in the order they were
called, with each layer's mask passed on as Keras passes it; branches join through the merge layers
(textrnn.layers.merging), a recurrent layer may give its final states (return_state) and start from
others (initial_state). Several inputs and outputs are allowed (compile then takes a loss per
output: textrnn.training.objective).
Training, evaluation, prediction, weights and saving are Sequential's (this class is one, with a
graph instead of a stack)."""

from __future__ import annotations

from typing import Any

import torch

from textrnn.errors import ConfigError, DataError
from textrnn.layers.base import KerasTensor, Layer, auto_name, layer_from_config, layer_to_config
from textrnn.layers.input_layer import InputLayer
from textrnn.models.sequential import Sequential


def _calls(inputs: list[KerasTensor], outputs: list[KerasTensor]) -> list[KerasTensor]:
    """One KerasTensor per layer call from the inputs to the outputs, each after the calls it takes
    from: the inputs first, in their order, then the calls in the order a depth-first walk from the
    outputs finishes them."""
    order: list[KerasTensor] = []
    seen: set[int] = set()

    def visit(tensor: KerasTensor) -> None:
        call = id(tensor.outputs)  # the tensors of one call share their `outputs` list
        if call in seen:
            return
        seen.add(call)
        for parent in tensor.inputs:
            visit(parent)
        order.append(tensor)

    for tensor in [*inputs, *outputs]:
        visit(tensor)
    return order


def _keras_layer_order(inputs: list[KerasTensor], outputs: list[KerasTensor]) -> list[Layer]:
    """The layers in Keras's order (keras/src/ops/function.py, map_graph): deepest first (depth:
    the most calls between a layer's call and an output), then in the order a depth-first walk
    from the outputs first meets them; an input no output uses comes last."""
    first_met: dict[int, int] = {}
    finished: list[KerasTensor] = []  # one tensor per call, each after the calls it takes from
    done: set[int] = set()

    def visit(tensor: KerasTensor) -> None:
        if id(tensor.outputs) in done:
            return
        first_met.setdefault(id(tensor.layer), len(first_met))
        for parent in tensor.inputs:
            visit(parent)
        done.add(id(tensor.outputs))
        finished.append(tensor)

    for tensor in outputs:
        visit(tensor)
    call_depth: dict[int, int] = {}
    layer_depth: dict[int, int] = {}
    layers = {id(t.layer): t.layer for t in [*finished, *inputs]}
    for tensor in reversed(finished):  # a call is as deep as its deepest taker, + 1
        depth = max(call_depth.setdefault(id(tensor.outputs), 0), layer_depth.get(id(tensor.layer), 0))
        layer_depth[id(tensor.layer)] = call_depth[id(tensor.outputs)] = depth
        for parent in tensor.inputs:
            call_depth[id(parent.outputs)] = max(depth + 1, call_depth.get(id(parent.outputs), 0))
    for tensor in inputs:
        if id(tensor.layer) not in layer_depth:
            layer_depth[id(tensor.layer)], first_met[id(tensor.layer)] = 0, -1
    return [layers[k] for k in sorted(layers, key=lambda k: (-layer_depth[k], first_met[k]))]


def _tensor_list(value: Any, what: str) -> list[KerasTensor]:
    if isinstance(value, dict):
        raise ConfigError(f"Model: {what} as a dict are not supported; give a tensor or a list")
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if not values or not all(isinstance(v, KerasTensor) for v in values):
        raise ConfigError(f"Model(inputs, outputs): {what} must be keras.Input(...) or layer outputs")
    return values


class Model(Sequential):
    """keras.Model(inputs, outputs): a graph of layer calls from its Inputs to its outputs."""

    def __init__(self, inputs: Any = None, outputs: Any = None, name: str | None = None) -> None:
        input_list, output_list = _tensor_list(inputs, "inputs"), _tensor_list(outputs, "outputs")
        if not all(isinstance(t.layer, InputLayer) for t in input_list):
            raise ConfigError("Model(inputs, outputs): inputs must come from keras.Input(...)")
        calls = _calls(input_list, output_list)
        roots = [t for t in calls if not t.inputs]
        if len(roots) != len(input_list):
            raise ConfigError("Model(inputs, outputs): the outputs must be computed from the given "
                              "inputs only")
        super().__init__(name=name or auto_name("Functional"))
        self._calls = calls  # one tensor per call, in computing order
        self._input_tensors, self._output_tensors = input_list, output_list
        self._one_output = not isinstance(outputs, (list, tuple)) or len(output_list) == 1
        for layer in _keras_layer_order(input_list, output_list):  # a shared layer once
            self._layers.append(layer)
        shapes = [t.shape for t in input_list]
        self.build_input_shape = shapes[0] if len(shapes) == 1 else shapes
        self.built = True

    @property
    def inputs(self) -> list[KerasTensor]:
        return list(self._input_tensors)

    @property
    def input(self) -> KerasTensor | list[KerasTensor]:
        """Keras's `model.input`: the Input, or the list of them."""
        return self._input_tensors[0] if len(self._input_tensors) == 1 else list(self._input_tensors)

    @property
    def outputs(self) -> list[KerasTensor]:
        return list(self._output_tensors)

    @property
    def output(self) -> KerasTensor | list[KerasTensor]:
        return self._output_tensors[0] if self._one_output else list(self._output_tensors)

    @property
    def input_names(self) -> list[str]:
        return [t.layer.name for t in self._input_tensors]

    @property
    def output_names(self) -> list[str]:
        """Keras's `model.output_names`: the layers that give the outputs, by name."""
        return [t.layer.name for t in self._output_tensors]

    @property
    def input_count(self) -> int:
        return len(self._input_tensors)

    @property
    def output_count(self) -> int:
        return 1 if self._one_output else len(self._output_tensors)

    def add(self, layer: Layer) -> None:
        raise ConfigError("a functional Model's layers are fixed by its inputs and outputs; use "
                          "Sequential to add layers")

    def pop(self, rebuild: bool = True) -> Layer:
        raise ConfigError("a functional Model's layers are fixed by its inputs and outputs; build a new "
                          "Model from a layer's output instead (model.layers[k].output)")

    def build(self, input_shape: Any = None) -> None:
        self.built = True  # every layer was built when it was called on the graph

    @property
    def sequential_like(self) -> bool:
        """No branch, join or shared layer: each call takes the one before it (Keras's summary shows
        no links)."""
        single = len(self._layers) == len(self._calls) and all(len(t.inputs) <= 1 for t in self._calls)
        return single and all(
            len([u for u in self._calls if any(p.outputs is t.outputs for p in u.inputs)]) <= 1
            for t in self._calls)

    def connections(self, layer: Layer) -> str:
        """Keras's "Connected to" cell: the layer outputs this one takes, in all its calls
        (name[call][output])."""
        parents = [p for tensor in self._calls if tensor.layer is layer for p in tensor.inputs]
        return ", ".join(f"{p.layer.name}[{p.node}][{p.index}]" for p in parents) or "-"

    def forward(self, x: torch.Tensor | list[torch.Tensor]) -> torch.Tensor | list[torch.Tensor]:
        xs = list(x) if isinstance(x, (list, tuple)) else [x]
        if len(xs) != len(self._input_tensors):
            raise DataError(f"model {self.name!r} takes {len(self._input_tensors)} inputs, got {len(xs)}")
        values: dict[int, tuple[Any, Any]] = {id(t): (v, None) for t, v in zip(self._input_tensors, xs)}
        for tensor in self._calls:
            if not tensor.inputs:
                continue
            got = [values[id(parent)] for parent in tensor.positional]
            if len(got) == 1 and not tensor.layer.takes_list:
                value, mask = got[0]
            else:
                value, mask = [v for v, _ in got], [m for _, m in got]
            kwargs = {"mask": mask}
            if tensor.states:
                kwargs["initial_state"] = [values[id(s)][0] for s in tensor.inputs[-tensor.states:]]
                # Keras 3 hands a layer the mask only when it is called on one tensor: given
                # initial states it runs unmasked, though its output keeps the mask
                kwargs["mask"] = None
            result = tensor.layer(value, **kwargs)
            out_mask = tensor.layer.compute_mask(value, mask)
            if len(tensor.outputs) == 1:
                values[id(tensor)] = (result, out_mask)
            else:  # the output keeps the mask, the states take none (as Keras's)
                for out in tensor.outputs:
                    values[id(out)] = (result[out.index], out_mask if out.index == 0 else None)
        results = [values[id(t)][0] for t in self._output_tensors]
        self.__dict__["output_masks"] = [values[id(t)][1] for t in self._output_tensors]
        return results[0] if self._one_output else results

    def get_config(self) -> dict[str, Any]:
        index = {}
        for k, t in enumerate(self._calls):
            for out in t.outputs:
                index[id(out)] = [k, out.index]
        calls, first_call = [], {}
        for k, t in enumerate(self._calls):
            if id(t.layer) in first_call:  # a shared layer's later call: the layer of call k
                spec: dict[str, Any] = {"same_as": first_call[id(t.layer)]}
            else:
                first_call[id(t.layer)] = k
                spec = layer_to_config(t.layer)
            spec["inbound"] = [index[id(p)] for p in t.inputs]
            if t.states:
                spec["states"] = t.states
            calls.append(spec)
        return {"class": "Functional", "name": self.name, "layers": calls,
                "inputs": [index[id(t)] for t in self._input_tensors],
                "outputs": [index[id(t)] for t in self._output_tensors], "one_output": self._one_output}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Model:
        calls: list[list[KerasTensor]] = []  # each call's outputs

        def tensor(ref: Any) -> KerasTensor:
            k, out = ref if isinstance(ref, list) else (ref, 0)  # a bare index: one output (0.2's files)
            return calls[k][out]

        layers: list[Layer] = []
        for spec in config["layers"]:
            layer = layers[spec["same_as"]] if "same_as" in spec else layer_from_config(spec)
            layers.append(layer)
            if isinstance(layer, InputLayer):
                calls.append([layer.output])
                continue
            parents = [tensor(ref) for ref in spec["inbound"]]
            states = spec.get("states", 0)
            positional = parents[:len(parents) - states]
            made = layer(positional if layer.takes_list else positional[0],
                         **({"initial_state": parents[len(parents) - states:]} if states else {}))
            calls.append(made if isinstance(made, list) else [made])
        inputs = [tensor(ref) for ref in config.get("inputs", [0])]
        outputs = [tensor(ref) for ref in config.get("outputs", [len(calls) - 1])]
        one = config.get("one_output", True)
        return cls(inputs if len(inputs) > 1 else inputs[0], outputs[0] if one else outputs,
                   name=config.get("name"))
