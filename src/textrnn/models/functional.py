"""`Model(inputs, outputs)`: Keras's functional API. The layers called on KerasTensors between the
inputs and the outputs (textrnn.layers.base.call_symbolic) form a graph, run in the order they were
called, with each layer's mask passed on as Keras passes it; branches join through the merge layers
(textrnn.layers.merging), a recurrent layer may give its final states (return_state) and start from
others (initial_state). Several inputs and outputs are allowed (compile then takes a loss per
output: textrnn.training.objective).
Training, evaluation, prediction, weights and saving are Sequential's (this class is one, with a
graph instead of a stack).
A class that subclasses Model with a `call` of its own and no inputs / outputs is Keras's
subclassed model: the same class with the layers its attributes hold, run by that call (its
parts in textrnn.models.subclassed; `subclassed` tells the two kinds apart)."""

from __future__ import annotations

import functools
from typing import Any

import torch
from torch import nn

from textrnn.errors import ConfigError, DataError, NotBuiltError
from textrnn.layers.base import (
    KerasTensor,
    Layer,
    WeightSplit,
    auto_name,
    call_keywords,
    layer_from_config,
    layer_to_config,
    training_mode,
)
from textrnn.layers.input_layer import InputLayer
from textrnn.models import subclassed
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
    """keras.Model(inputs, outputs): a graph of layer calls from its Inputs to its outputs; or,
    subclassed with a `call`, the layers it holds run by that call (textrnn.models.subclassed)."""

    def __init__(self, inputs: Any = None, outputs: Any = None, name: str | None = None,
                 **kwargs: Any) -> None:
        unknown = sorted(set(kwargs) - {"trainable"})
        if unknown:
            raise ConfigError(f"Model: unknown argument(s) {', '.join(unknown)}")
        if inputs is None and outputs is None:
            self._init_subclassed(name)
            self.__dict__["_trainable"] = bool(kwargs.get("trainable", True))  # (its layers come later)
            return
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
        if not kwargs.get("trainable", True):  # Keras's Model(..., trainable=False): all frozen
            self.trainable = False

    # --- a subclassed model ----------------------------------------------------------------------
    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("build")
        if own is not None:  # a build of its own (layers made there) runs once, as Keras's
            @functools.wraps(own)
            def build(self: Model, *args: Any, **kw: Any) -> Any:
                self.__dict__["_own_build_ran"] = True
                return own(self, *args, **kw)

            cls.build = build

    def _init_subclassed(self, name: str | None) -> None:
        if getattr(type(self), "call", None) is None:
            raise ConfigError("Model() takes inputs and outputs (the functional API), or is subclassed "
                              "with a call(inputs) method")
        super().__init__(name=name or auto_name(type(self).__name__))
        self._calls = self._input_tensors = self._output_tensors = None
        self._one_output = True
        self._layer_attributes: dict[str, None] = {}  # the attributes that may hold layers, in order
        self.subclassed = True

    def __setattr__(self, name: str, value: Any) -> None:
        if not self.__dict__.get("subclassed") or not isinstance(value, (WeightSplit, list, tuple, dict)):
            super().__setattr__(name, value)
            return
        # A layer set as an attribute is held once, in the model's list of layers (Keras's order)
        self._layer_attributes[name] = None
        self._modules.pop(name, None)
        object.__setattr__(self, name, value)
        self._track()

    def _track(self) -> None:
        """The model's layers: those its attributes hold now (a list appended to since counts)."""
        attributes = {n: self.__dict__[n] for n in self._layer_attributes if n in self.__dict__}
        held = subclassed.held_layers(attributes)
        if [id(layer) for layer in held] != [id(layer) for layer in self._layers]:
            self._layers = nn.ModuleList(held)
            self._weights_changed()

    @property
    def inputs(self) -> list[KerasTensor]:
        self._functional_only("inputs")
        return list(self._input_tensors)

    def _functional_only(self, what: str) -> None:
        if self.subclassed:
            raise ConfigError(f"model {self.name!r} is subclassed: it has no {what} (a functional Model's "
                              "Inputs and outputs); it takes what its call does")

    @property
    def input(self) -> KerasTensor | list[KerasTensor]:
        """Keras's `model.input`: the Input, or the list of them."""
        self._functional_only("input")
        return self._input_tensors[0] if len(self._input_tensors) == 1 else list(self._input_tensors)

    @property
    def outputs(self) -> list[KerasTensor]:
        self._functional_only("outputs")
        return list(self._output_tensors)

    @property
    def output(self) -> KerasTensor | list[KerasTensor]:
        self._functional_only("output")
        return self._output_tensors[0] if self._one_output else list(self._output_tensors)

    @property
    def input_names(self) -> list[str]:
        if self.subclassed:
            return ["input"]
        return [t.layer.name for t in self._input_tensors]

    @property
    def output_names(self) -> list[str]:
        """Keras's `model.output_names`: the layers that give the outputs, by name."""
        if self.subclassed:
            return ["output"]
        return [t.layer.name for t in self._output_tensors]

    @property
    def input_count(self) -> int:
        return 1 if self.subclassed else len(self._input_tensors)

    @property
    def output_count(self) -> int:
        return 1 if self._one_output else len(self._output_tensors)

    def add(self, layer: Layer) -> None:
        if self.subclassed:
            raise ConfigError("a subclassed Model holds the layers its attributes do; set one as an "
                              "attribute instead of add()")
        raise ConfigError("a functional Model's layers are fixed by its inputs and outputs; use "
                          "Sequential to add layers")

    def pop(self, rebuild: bool = True) -> Layer:
        if self.subclassed:
            raise ConfigError("a subclassed Model holds the layers its attributes do; pop() does not "
                              "apply")
        raise ConfigError("a functional Model's layers are fixed by its inputs and outputs; build a new "
                          "Model from a layer's output instead (model.layers[k].output)")

    def build(self, input_shape: Any = None) -> None:
        if not self.subclassed:
            self.built = True  # every layer was built when it was called on the graph
            return
        if input_shape is None:
            raise NotBuiltError(f"model {self.name!r} is subclassed: build it with an input shape, "
                                "build((None, maxlen)), or call it on data first")
        self._build_from(subclassed.example_batch(input_shape))
        subclassed.unbatched(self.layers)  # (Keras's build((None, ...)) leaves the batch size open)

    def _build_from(self, x: Any, rows: int = 32) -> None:
        """Built as Keras builds a subclassed model: its call run once, on the first batch's rows,
        builds the layers it calls (their output shapes keep that batch's size, as in Keras's
        summary); a functional or Sequential model is built from the shape alone."""
        if not self.subclassed:
            super()._build_from(x, rows)
            return
        if type(self).build is not Model.build and not self.__dict__.get("_own_build_ran"):
            self.build((None, *x.shape[1:]) if isinstance(x, torch.Tensor) else None)
        self._track()
        if self.built:  # (its build ran the model's)
            return
        first = [part[:rows] for part in x] if isinstance(x, list) else x if isinstance(x, dict) else x[:rows]
        with training_mode(self, False), torch.no_grad():
            self.forward(first)
        self._track()  # (layers a call made and kept)
        self.build_input_shape = (None, *x.shape[1:]) if isinstance(x, torch.Tensor) else None
        self.built = True
        if not self.trainable:  # Model(trainable=False): the layers its call made freeze too
            self.trainable = False

    @property
    def sequential_like(self) -> bool:
        """No branch, join or shared layer: each call takes the one before it (Keras's summary shows
        no links; nor for a subclassed model)."""
        if self.subclassed:
            return True
        single = len(self._layers) == len(self._calls) and all(len(t.inputs) <= 1 for t in self._calls)
        return single and all(
            len([u for u in self._calls if any(p.outputs is t.outputs for p in u.inputs)]) <= 1
            for t in self._calls)

    def connections(self, layer: Layer) -> str:
        """Keras's "Connected to" cell: the layer outputs this one takes, in all its calls
        (name[call][output])."""
        parents = [p for tensor in self._calls if tensor.layer is layer for p in tensor.inputs]
        return ", ".join(f"{p.layer.name}[{p.node}][{p.index}]" for p in parents) or "-"

    def _inputs_of(self, x: Any) -> Any:
        """A subclassed model's call takes what it is given (tensors in lists and dicts too)."""
        return subclassed.as_tensors(x) if self.subclassed else super()._inputs_of(x)

    def forward(self, x: torch.Tensor | list[torch.Tensor]) -> torch.Tensor | list[torch.Tensor]:
        if self.subclassed:
            out = self.call(x, **call_keywords(self))
            self.__dict__["output_masks"] = [getattr(out, "_keras_mask", None)]
            return out
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
        if self.subclassed:
            raise ConfigError(f"model {self.name!r} is subclassed: its layers are made by its Python code, "
                              "which textrnn's files never hold; save its weights (model.save_weights) "
                              "and make the model from its class")
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
