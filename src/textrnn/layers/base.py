"""The Layer base class: a torch.nn.Module with Keras's naming, build, weights and config; and the
functional API's KerasTensor (a shape and the layer call that made it, no values), which a layer
called on one returns."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from textrnn.backend.dtype_policy import DTypePolicy, call_in_policy, global_policy, policy_name
from textrnn.errors import ConfigError, NotBuiltError
from textrnn.layers import regularizers
from textrnn.layers.initializers import initialize
from textrnn.naming import auto_name, reset_names  # noqa: F401 - re-exported

Shape = tuple[int | None, ...]

LAYER_REGISTRY: dict[str, type[Layer]] = {}


class WeightSplit:
    """trainable / non-trainable views of `self.weights` (for layers and models alike)."""

    weights: list[nn.Parameter]

    @property
    def trainable_weights(self) -> list[nn.Parameter]:
        return [w for w in self.weights if w.requires_grad]

    @property
    def non_trainable_weights(self) -> list[nn.Parameter]:
        return [w for w in self.weights if not w.requires_grad]


class KerasTensor:
    """A symbolic tensor: its shape (batch dimension first, None), dtype, and the layer call that
    made it (`layer`, `inputs`: the tensors it took, a recurrent layer's `initial_state` last, the
    `states` of them), or none for a model's input. A call with several outputs (a recurrent layer
    with return_state) gives one KerasTensor each: `index` is this one's place among `outputs`."""

    def __init__(self, shape: Shape, dtype: str = "float32", layer: Layer | None = None,
                 inputs: list[KerasTensor] | None = None, index: int = 0, states: int = 0,
                 node: int = 0) -> None:
        self.shape, self.dtype = tuple(shape), dtype
        self.layer, self.inputs = layer, list(inputs or [])
        self.index, self.states = index, states
        self.node = node  # which call of its layer made it (a shared layer is called more than once)
        self.outputs: list[KerasTensor] = [self]  # the call's outputs, shared by its tensors

    @property
    def positional(self) -> list[KerasTensor]:
        """The inputs the call took as its first argument (without the initial states)."""
        return self.inputs[:len(self.inputs) - self.states]

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}>"



class Layer(WeightSplit, nn.Module):
    """A Keras-style layer.

    The constructor only stores arguments; `build(input_shape)` creates the weights (Keras layout,
    registered as torch parameters in Keras's order), and `forward(x, mask)` computes.
    """

    # Whether the layer takes a list of tensors (the merge layers), where others take one; and
    # whether it takes them as separate arguments (MultiHeadAttention's query, value).
    takes_list = False
    separate_inputs = False
    # The `<name>_regularizer` arguments the layer takes (regularizers.ARGUMENTS: kernel, bias, ...).
    regularizable: tuple[str, ...] = ()
    # Whether the mask goes on past the layer. textrnn's layers pass it on (or compute their own);
    # a layer of one's own, written with `call`, drops it unless it says otherwise, as in Keras.
    supports_masking = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        LAYER_REGISTRY[cls.__name__] = cls
        if "call" in cls.__dict__ and "supports_masking" not in cls.__dict__:
            cls.supports_masking = False

    def __init__(
        self,
        name: str | None = None,
        trainable: bool = True,
        input_shape: tuple[int, ...] | None = None,
        batch_input_shape: tuple[int | None, ...] | None = None,
        dtype: str | DTypePolicy | None = None,
        activity_regularizer: Any = None,
        **weight_regularizers: Any,
    ) -> None:
        super().__init__()
        self.training = False  # Keras's default: a call computes for inference unless told training=True
        kind = type(self).__name__
        for argument in weight_regularizers:
            if argument.removesuffix("_regularizer") not in self.regularizable or not argument.endswith(
                    "_regularizer"):
                raise ConfigError(f"{kind}: unknown argument {argument!r}")
        # weight name -> its regularizer, for the penalties `losses` gives
        self._regularizers = {regularizers.ARGUMENTS[a.removesuffix("_regularizer")]: regularizers.get(r)
                              for a, r in weight_regularizers.items() if r is not None}
        # Keras's: a penalty on the layer's outputs, per row of the batch, added to the loss
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self._call_losses: list[torch.Tensor] = []  # add_loss's and the activity penalties, this call
        self.name = name or auto_name(type(self).__name__)
        self._trainable = trainable
        # Keras's dtype= : a layer given one computes in it whatever its model's policy (e.g. a
        # float32 output layer in a mixed_float16 model); the others compute in their model's.
        self._own_policy = None if dtype is None else policy_name(dtype)
        self._policy_at_creation = global_policy().name
        self.built = False
        # Keras 2's batch_input_shape gives the batch size too (a stateful RNN's model)
        self.batch_input_shape: Shape | None = (
            tuple(batch_input_shape) if batch_input_shape is not None
            else (None, *input_shape) if input_shape is not None else None
        )
        self.output_shape: Shape | None = None
        self._weight_names: list[str] = []
        self._frozen_weights: set[str] = set()  # add_weight(trainable=False)

    # --- building -------------------------------------------------------------------------------
    def build(self, input_shape: Shape) -> None:
        """Create weights for inputs of `input_shape` (batch dimension included)."""
        self.built = True
        self.output_shape = self.compute_output_shape(input_shape)
        self._apply_trainable()

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return input_shape

    def add_weight(self, *args: Any, **kwargs: Any) -> nn.Parameter:
        """A weight of this layer, in Keras's order. Positionally (name, shape, initializer), or
        Keras 3's order when the first argument is a shape; by keyword as in Keras: name, shape,
        initializer (glorot_uniform if none), dtype (float32), trainable, regularizer."""
        keys = ("shape", "initializer", "dtype", "trainable") if args and not isinstance(args[0], str) \
            else ("name", "shape", "initializer", "dtype", "trainable")
        given = {**dict(zip(keys, args)), **kwargs}
        unknown = set(given) - {"name", "shape", "initializer", "dtype", "trainable", "regularizer",
                                "constraint", "autocast", "aggregation", "synchronization", "use_resource"}
        if unknown:
            raise ConfigError(f"{self.name}: add_weight has no argument {', '.join(sorted(unknown))}")
        if given.get("constraint") is not None:
            raise ConfigError(f"{self.name}: weight constraints are not supported")
        if given.get("dtype") not in (None, "float32", torch.float32):
            raise ConfigError(f"{self.name}: weights are float32, not {given['dtype']}")
        shape = tuple(int(d) for d in (given.get("shape") or ()))
        name = str(given.get("name") or "variable").replace("/", "_").replace(".", "_")
        while name in self._weight_names:  # Keras's names may repeat
            name += "_1"
        if hasattr(self, name):
            raise ConfigError(f"{self.name}: add_weight(name={name!r}) names an attribute the layer has "
                              "already; give the weight another name")
        param = nn.Parameter(torch.empty(shape, dtype=torch.float32))
        initialize(param, given.get("initializer") or "glorot_uniform")
        self.register_parameter(name, param)
        self._weight_names.append(name)
        if given.get("trainable") is False:
            self._frozen_weights.add(name)
        if given.get("regularizer") is not None:
            self._regularizers[name] = regularizers.get(given["regularizer"])
        param.requires_grad_(self._trainable and name not in self._frozen_weights)
        return param

    def compute_mask(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor | None:
        """The mask passed on to the next layer (Keras: layers keep the mask by default)."""
        return mask if self.supports_masking else None

    def __setattr__(self, name: str, value: Any) -> None:
        # Keras code keeps what add_weight gives as an attribute (self.W = self.add_weight(...)): a
        # second name for a weight the layer holds, not a second weight (nor a second saved tensor)
        held = self.__dict__.get("_parameters", {}).values()
        if isinstance(value, nn.Parameter) and any(value is p for p in held):
            object.__setattr__(self, name, value)
            return
        super().__setattr__(name, value)

    # --- a layer of one's own, written as Keras's: build(input_shape) and call(inputs, ...) ------
    def call(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} defines neither call() nor forward()")

    def forward(self, inputs: Any, mask: Any = None) -> Any:
        """`call(inputs)`, given `mask` and `training` where its signature takes them."""
        if not self.built:
            self.build_for(_shapes_of(inputs))
        extra = call_keywords(self, mask)
        return self.call(inputs, **extra)

    def build_for(self, input_shape: Any, integer: Any = False) -> None:
        """build(input_shape), and the layer counted as built even where a Keras 3 layer's own
        build does not call the base's; a layer of one's own gets its output shape from its call
        unless it gives compute_output_shape (`integer`: whether the inputs are token ids)."""
        self.build(input_shape)
        if not self.built:
            self.built = True
            self._apply_trainable()
        if type(self).call is not Layer.call:  # one run of call builds the layers it holds, as Keras's
            traced = _traced_shape(self, input_shape, integer)
            self.output_shape = traced if _traces_shape(self) else self.compute_output_shape(input_shape)
        elif self.output_shape is None:
            self.output_shape = self.compute_output_shape(input_shape)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """On tensors, the forward pass; on the functional API's KerasTensors, a recorded call."""
        if args and is_symbolic(args[0]):
            if self.separate_inputs and len(args) > 1 and all(is_symbolic(a) for a in args):
                args = (list(args),)  # MultiHeadAttention(query, value): recorded as one list
            initial_state = kwargs.pop("initial_state", None) if self.takes_initial_state else None
            if len(args) > 1 or kwargs:
                given = ", ".join(f"{k}=" for k in kwargs) or "a second argument"
                raise ConfigError(f"{type(self).__name__} called in a model graph with {given}: textrnn's "
                                  "functional API passes one input (or one list of inputs) per call"
                                  + (", and a recurrent layer's initial_state" if self.takes_initial_state
                                     else ""))
            return call_symbolic(self, args[0], initial_state)
        # A call in one's own code (a layer's call, a subclassed model's): Keras 3's masks ride on
        # the tensors. The models pass masks themselves (mask=), so their calls skip this.
        riding = "mask" not in kwargs and bool(args)
        if riding:
            previous = take_riding_masks(self, args, kwargs)
        # Keras's `layer(x, training=...)`: given to a forward that takes it, else the call runs in
        # that mode (a Dropout drops, or not)
        training = kwargs.pop("training", None) if "training" in kwargs else None
        if training is not None and "training" in _forward_arguments(type(self)):
            kwargs["training"], training = training, None
        with training_mode(self, training):
            if self._own_policy is not None:
                outputs = call_in_policy(self._own_policy, super().__call__, args, kwargs)
            else:
                outputs = super().__call__(*args, **kwargs)
        if riding and self.supports_masking:
            attach_mask(outputs, self.compute_mask(args[0], previous))
        if self.activity_regularizer is not None:
            for output in _flat_tensors(outputs):  # Keras 3: the penalty per row of the batch
                penalty = self.activity_regularizer(output.float())
                self.add_loss(penalty / output.shape[0] if output.ndim > 0 and output.shape[0] else penalty)
        return outputs

    def add_loss(self, loss: Any) -> None:
        """Keras's `add_loss` in a layer's call: a scalar added to the loss of this forward pass
        (training and evaluation), and among `losses` until the model's next call."""
        self._call_losses.append(loss if isinstance(loss, torch.Tensor) else torch.tensor(float(loss)))

    @property
    def dtype_policy(self) -> DTypePolicy:
        """Keras's `layer.dtype_policy`: the one it was given, else the global policy when it was
        created (it then computes in its model's)."""
        return DTypePolicy(self._own_policy or self._policy_at_creation)

    @property
    def compute_dtype(self) -> str:
        return self.dtype_policy.compute_dtype

    @property
    def variable_dtype(self) -> str:
        return "float32"

    # Whether a call in a model graph may pass `initial_state=` (the recurrent layers).
    takes_initial_state = False

    def output_shapes(self, main: Shape | None = None) -> list[Shape]:
        """The shape of each of the layer's outputs (several: a recurrent layer with return_state),
        `main` the first one's (default: the one it was built for)."""
        return [main or self.output_shape]

    @property
    def output(self) -> KerasTensor | list[KerasTensor]:
        """Keras's `layer.output`: what its (first) call in a model graph gave."""
        calls = getattr(self, "_symbolic_calls", None)
        if not calls:
            raise ConfigError(f"layer {self.name!r} has not been called in a model graph, so it has no "
                              "output")
        return calls[0]

    def ensure_built(self, x: torch.Tensor) -> None:
        if not self.built:
            self.build_for(tuple(x.shape))

    # --- weights --------------------------------------------------------------------------------
    @property
    def weights(self) -> list[nn.Parameter]:
        """This layer's weights in Keras's order: its own (those add_weight made trainable first),
        then those of the layers it holds (a layer of one's own may hold Dense layers, a
        Sequential, ...), in the order it took them."""
        own = [n for n in self._weight_names if n not in self._frozen_weights] + [
            n for n in self._weight_names if n in self._frozen_weights]
        return [getattr(self, n) for n in own] + [w for held in self._held_layers() for w in held.weights]

    def _held_layers(self) -> list[Any]:
        return [m for m in self._modules.values() if isinstance(m, WeightSplit)]

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        self._apply_trainable()
        for held in self._held_layers():  # as Keras's: the layers it holds follow
            held.trainable = value

    def _apply_trainable(self) -> None:
        for name in self._weight_names:
            getattr(self, name).requires_grad_(self._trainable and name not in self._frozen_weights)

    def get_weights(self) -> list[np.ndarray]:
        return [w.detach().cpu().numpy().copy() for w in self.weights]

    def set_weights(self, weights: list[np.ndarray]) -> None:
        own = self.weights
        if not self.built:
            raise NotBuiltError(f"layer {self.name!r} has no weights yet: build it or call it first")
        if len(weights) != len(own):
            raise ConfigError(
                f"layer {self.name!r} expects {len(own)} weight arrays, got {len(weights)}"
            )
        for param, value in zip(own, weights):
            value = np.asarray(value)
            if tuple(value.shape) != tuple(param.shape):
                raise ConfigError(
                    f"layer {self.name!r}: weight shape {tuple(value.shape)} does not match "
                    f"expected {tuple(param.shape)}"
                )
            with torch.no_grad():
                param.copy_(torch.as_tensor(value, dtype=param.dtype))

    def count_params(self) -> int:
        if not self.built:
            raise NotBuiltError(f"layer {self.name!r} is not built, so it has no parameters yet")
        return sum(w.numel() for w in self.weights)

    # --- config ---------------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"name": self.name, "trainable": self.trainable}
        if self.batch_input_shape is not None:
            config["input_shape"] = list(self.batch_input_shape[1:])
        if self._own_policy is not None:
            config["dtype"] = self._own_policy
        for argument, weight in regularizers.ARGUMENTS.items():
            if weight in self._regularizers:
                config[f"{argument}_regularizer"] = regularizers.serialize(self._regularizers[weight])
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        return config

    @property
    def losses(self) -> list[torch.Tensor]:
        """Keras's `layer.losses`: those of its last call (add_loss, activity penalties) and the
        penalties of its regularized weights, its own and those of the layers inside it (a
        Bidirectional's two directions); training adds them to the loss."""
        return call_losses(self) + penalties(self)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        return cls(**config)


def layer_from_config(spec: dict[str, Any]) -> Layer:
    """Rebuild a layer from `{"class_name": ..., "config": {...}}`."""
    class_name = spec.get("class_name")
    if class_name not in LAYER_REGISTRY:
        raise ConfigError(
            f"unknown layer type {class_name!r}; valid: {', '.join(sorted(LAYER_REGISTRY))}"
        )
    return LAYER_REGISTRY[class_name].from_config(dict(spec["config"]))


def penalties(module: nn.Module) -> list[torch.Tensor]:
    """The weight regularizers' penalties of every layer in `module` (a layer, or a whole model)."""
    return [regularizer(getattr(layer, weight)) for layer in module.modules() if isinstance(layer, Layer)
            for weight, regularizer in layer._regularizers.items() if weight in layer._weight_names]


def call_losses(module: nn.Module) -> list[torch.Tensor]:
    """The losses the last call of `module` added (add_loss, activity penalties), by its layers."""
    return [loss for layer in module.modules() if isinstance(layer, Layer) for loss in layer._call_losses]


def clear_call_losses(module: nn.Module) -> None:
    """Forget the last call's losses: a model's call starts with none, as Keras's does."""
    for layer in module.modules():
        if isinstance(layer, Layer) and layer._call_losses:
            layer._call_losses = []


def regularized(module: nn.Module) -> bool:
    """Whether any layer in `module` has a weight or activity regularizer."""
    return any(isinstance(layer, Layer) and (layer._regularizers or layer.activity_regularizer is not None)
               for layer in module.modules())


def _flat_tensors(value: Any) -> list[torch.Tensor]:
    if isinstance(value, (list, tuple)):
        return [t for part in value for t in _flat_tensors(part)]
    return [value] if isinstance(value, torch.Tensor) else []


def layer_to_config(layer: Layer) -> dict[str, Any]:
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def is_symbolic(value: Any) -> bool:
    """Whether a layer is called on KerasTensors (the functional API), not on values."""
    return isinstance(value, KerasTensor) or (
        isinstance(value, (list, tuple)) and bool(value) and all(isinstance(v, KerasTensor) for v in value))


def call_symbolic(layer: Layer, inputs: KerasTensor | list[KerasTensor],
                  initial_state: KerasTensor | list[KerasTensor] | None = None,
                  ) -> KerasTensor | list[KerasTensor]:
    """`layer(inputs)` on KerasTensors: build it for their shapes, and remember the call. A layer
    with several outputs gives a list of KerasTensors, as Keras does. Calling a layer again (a
    shared layer) reuses its weights, for inputs of the shape it was built for."""
    many = isinstance(inputs, (list, tuple))
    shapes = [t.shape for t in inputs] if many else inputs.shape
    calls = layer.__dict__.setdefault("_symbolic_calls", [])
    integer = ["int" in t.dtype for t in inputs] if many else "int" in inputs.dtype
    first_call = not layer.built
    if first_call:
        layer.build_for(shapes, integer)
    elif calls:  # a shared layer: inputs of the first call's shape
        first = calls[0][0] if isinstance(calls[0], list) else calls[0]
        built = [t.shape for t in first.positional] if many else first.positional[0].shape
        if not _same_features(built, shapes, inputs):
            raise ConfigError(f"layer {layer.name!r} was built for inputs of shape {built} and is now "
                              f"called on {shapes}; a shared layer takes inputs of one shape")
    states = [] if initial_state is None else (
        list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state])
    if not all(isinstance(s, KerasTensor) for s in states):
        raise ConfigError(f"{type(layer).__name__}: initial_state in a model graph must be layer outputs "
                          "or Inputs (KerasTensors)")
    parents = [*(list(inputs) if many else [inputs]), *states]
    if not _traces_shape(layer):
        main = layer.compute_output_shape(shapes)
    else:  # (build_for has just traced the first call)
        main = layer.output_shape if first_call else _traced_shape(layer, shapes, integer)
    outputs = [KerasTensor(shape, "float32", layer, parents, index, len(states), node=len(calls))
               for index, shape in enumerate(layer.output_shapes(main))]
    for tensor in outputs:
        tensor.outputs = outputs
    made = outputs if len(outputs) > 1 else outputs[0]
    calls.append(made)
    return made


def _same_features(built: Any, now: Any, tensors: Any) -> bool:
    """Whether inputs of shape `now` fit a layer built for `built`: the same rank and feature size
    (token ids: any length)."""
    if isinstance(built, list) != isinstance(now, list):
        return False
    if isinstance(built, list):
        return len(built) == len(now) and all(_same_features(a, b, t) for a, b, t in zip(built, now, tensors))
    ids = len(now) == 2 and "int" in tensors.dtype
    return len(built) == len(now) and (ids or built[-1] == now[-1])


def _shapes_of(inputs: Any) -> Any:
    return [tuple(t.shape) for t in inputs] if isinstance(inputs, (list, tuple)) else tuple(inputs.shape)


def training_mode(module: nn.Module, training: bool | None) -> contextlib.AbstractContextManager:
    """Keras's `training=` argument of a call: the call in that mode (dropout on or off), then back;
    None (or the mode it is in) changes nothing."""
    if training is None or bool(training) == module.training:
        return contextlib.nullcontext()
    return _in_mode(module, bool(training))


@contextlib.contextmanager
def _in_mode(module: nn.Module, training: bool) -> Iterator[None]:
    was = module.training
    module.train(training)
    try:
        yield
    finally:
        module.train(was)


def _mask_of(value: Any) -> Any:
    """Keras's `_keras_mask` riding on a tensor (a list of them: each one's, or None if none has one)."""
    if isinstance(value, (list, tuple)):
        masks = [getattr(v, "_keras_mask", None) for v in value]
        return masks if any(m is not None for m in masks) else None
    return getattr(value, "_keras_mask", None)


def _is_tensors(value: Any) -> bool:
    return isinstance(value, torch.Tensor) or (
        isinstance(value, (list, tuple)) and bool(value) and all(isinstance(v, torch.Tensor) for v in value))


def take_riding_masks(layer: Layer, args: tuple, kwargs: dict[str, Any]) -> Any:
    """Keras 3's rule for a layer called on tensors that carry masks, the masks put in `kwargs`:
    called on one tensor (or one list of them), its mask goes to `mask=`; on several (a
    MultiHeadAttention's query and value), each one's to `<argument>_mask=`. Returns the masks the
    layer took (what its compute_mask passes on), or None."""
    names = _forward_arguments(type(layer))
    given = {**dict(zip(names, args)), **kwargs}
    tensors = {name: value for name, value in given.items() if _is_tensors(value)}
    if len(tensors) == 1:
        mask = _mask_of(next(iter(tensors.values())))
        if mask is not None and "mask" in names:
            kwargs["mask"] = mask
        return mask
    taken = []
    for name, value in tensors.items():
        key = f"{name}_mask"
        if key in names and given.get(key) is None:
            mask = _mask_of(value)
            if mask is not None:
                kwargs[key] = mask
        taken.append(kwargs.get(key))
    return taken if any(m is not None for m in taken) else None


def attach_mask(outputs: Any, mask: Any) -> None:
    """Keras's `_keras_mask` on a call's output (the first, for a recurrent layer's [output, states])."""
    if mask is None:
        return
    if isinstance(outputs, (list, tuple)):
        masks = mask if isinstance(mask, (list, tuple)) else [mask]
        for output, each in zip(outputs, masks):
            if isinstance(output, torch.Tensor) and each is not None:
                output._keras_mask = each
    elif isinstance(outputs, torch.Tensor) and isinstance(mask, torch.Tensor):
        outputs._keras_mask = mask


_ARGUMENTS: dict[tuple[type, str], tuple[str, ...]] = {}


def _arguments(cls: type, method: str) -> tuple[str, ...]:
    """The argument names of a class's method, `self` left out, in order (looked up once)."""
    if (cls, method) not in _ARGUMENTS:
        import inspect

        _ARGUMENTS[cls, method] = tuple(list(inspect.signature(getattr(cls, method)).parameters)[1:])
    return _ARGUMENTS[cls, method]


def _forward_arguments(cls: type) -> tuple[str, ...]:
    return _arguments(cls, "forward")


def _call_arguments(cls: type) -> tuple[str, ...]:
    """The argument names of a layer's (or a subclassed model's) call()."""
    return _arguments(cls, "call")


def call_keywords(owner: nn.Module, mask: Any = None) -> dict[str, Any]:
    """What a Keras-style `call` is given beside its inputs, where its signature takes them: the
    mask, and `training` (the module's mode), as Keras passes them."""
    takes = _call_arguments(type(owner))
    return {**({"mask": mask} if "mask" in takes else {}),
            **({"training": owner.training} if "training" in takes else {})}


def _traces_shape(layer: Layer) -> bool:
    """A layer of one's own (written with call) that gives no compute_output_shape."""
    kind = type(layer)
    return kind.call is not Layer.call and kind.compute_output_shape is Layer.compute_output_shape


def _traced_shape(layer: Layer, shapes: Any, integer: Any) -> Shape:
    """The output shape of a layer of one's own that gives no compute_output_shape, as Keras finds
    it: its call run on zeros of the inputs' shapes (twice: unknown sizes 3, then 4, so that the
    sizes that follow them stay unknown)."""
    def example(shape: Shape, ids: bool, unknown: int) -> torch.Tensor:
        size = [2] + [unknown if d is None else int(d) for d in shape[1:]]
        return torch.zeros(size, dtype=torch.long if ids else torch.float32)

    many = isinstance(shapes, list)
    found = []
    # (no dropout; a batch normalisation it holds keeps its statistics)
    with training_mode(layer, False), torch.no_grad():
        for unknown in (3, 4):
            values = ([example(s, i, unknown) for s, i in zip(shapes, integer)] if many
                      else example(shapes, bool(integer), unknown))
            out = layer.call(values)
            if not isinstance(out, torch.Tensor):
                raise ConfigError(f"{type(layer).__name__}.call gives {type(out).__name__}; in a model graph "
                                  "a layer of one's own gives one tensor (or give compute_output_shape)")
            found.append(tuple(out.shape[1:]))
    return (None, *(a if a == b else None for a, b in zip(*found)))
