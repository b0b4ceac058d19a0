"""What a `.keras` file says about training, both ways: `compile_config` (optimizer, learning rate,
loss, metrics) and the optimizer's variables in model.weights.h5 (`optimizer/vars/<i>`), so a model
saved mid-training by either library trains on where it stopped in the other.

Keras's variables: the step count, the learning rate, then the slots (OptimizerSpec.keras_slots):
blocks of state, each interleaved over the trained weights in the model's weight order (Adam's
momentum and velocity of each weight, then AMSGrad's highest velocities; RMSprop's velocities, then
its momentums, then its average gradients), SGD's momentum or none without momentum; then Nadam's
momentum product; only the first two before the optimizer has stepped. Under mixed_float16 Keras
wraps the optimizer in a LossScaleOptimizer, saved as its own step count and (unused) rate, the
loss scale's step counter and scale, then the inner optimizer's variables, which
`optimizer/inner_optimizer/vars` holds again on their own.
Settings textrnn has no rule for (another optimizer, such as Ftrl or Lion, or loss) leave the
model uncompiled rather than compiled differently."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from textrnn.errors import ConfigError, DataError
from textrnn.models import Sequential
from textrnn.naming import snake_case
from textrnn.training import losses
from textrnn.training.optimizers import NEUTRAL, OPTIONS, RULES, OptimizerSpec

CLASS_NAMES = {"adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop", "sgd": "SGD", "nadam": "Nadam",
               "adamax": "Adamax", "adagrad": "Adagrad", "adadelta": "Adadelta"}


def compile_config(model: Sequential) -> dict[str, Any] | None:
    """Keras's compile_config for a compiled model, else None."""
    if not model.compiled:
        return None
    spec = model._optimizer_spec
    rate = spec.keras_learning_rate
    if model._optimizer is not None and spec.schedule is None:  # as Keras's: the rate now, set or not
        rate = float(model._optimizer.param_groups[0]["lr"])
    return {"optimizer": {"module": "keras.optimizers", "class_name": CLASS_NAMES[spec.name],
                          "config": {"name": snake_case(CLASS_NAMES[spec.name]), "learning_rate": rate,
                                     **spec.options, **spec.rules.config()},
                          "registered_name": None},
            **model.compile_entries(),
            "weighted_metrics": None, "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False}


def optimizer_arrays(model: Sequential) -> list[np.ndarray] | None:
    """Keras's optimizer variables for a compiled model whose optimizer exists, else None: the
    updates done, the rate (none with a schedule), the slots once it has stepped."""
    optimizer = model._optimizer
    if optimizer is None:
        return None
    spec = model._optimizer_spec
    rate = optimizer.param_groups[0]["lr"]
    if not model.optimizer_built:  # as Keras's before its first step: the step count and the rate
        return [np.asarray(0, np.int64)] + ([] if spec.schedule else [np.asarray(rate, np.float32)])
    weights = model.trainable_weights
    steps = max([optimizer.iterations]  # (files of textrnn 0.1 counted Adam's steps only)
                + [int(optimizer.state.get(w, {}).get("step", 0)) for w in weights])
    slots = []
    for block in spec.keras_slots:
        for weight in weights:
            state = optimizer.state.get(weight, {})
            slots += [state[k].detach().cpu().numpy() if k in state
                      else np.full(tuple(weight.shape), spec.slot_fill, np.float32) for k in block]
    head = [np.asarray(steps, np.int64)] + ([] if spec.schedule else [np.asarray(rate, np.float32)])
    tail = [np.asarray(optimizer.param_groups[0].get(k, 1.0), np.float32) for k in spec.keras_tail]
    return [*head, *slots, *tail]


def _known_metrics(value: Any) -> Any:
    """A compile_config's metrics with those textrnn does not compute left out (None)."""
    if isinstance(value, dict):
        return {k: _known_metrics(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_known_metrics(v) for v in value]
    if isinstance(value, str) and value not in losses.metric_names():
        return None
    return value


def compile_from_config(model: Sequential, config: Any) -> bool:
    """Compile the model as a .keras file's compile_config says, where textrnn has every rule it
    names (metrics it does not compute are left out); returns whether it did."""
    if not isinstance(config, dict) or not isinstance(config.get("optimizer"), dict):
        return False
    optimizer = config["optimizer"]
    name = str(optimizer.get("class_name", "")).lower()
    settings = optimizer.get("config") or {}
    rate = settings.get("learning_rate")  # a number, or a schedule's config
    if name not in CLASS_NAMES or not isinstance(rate, (int, float, dict)) or config.get("loss") is None:
        return False
    own = {k: settings[k] for k in OPTIONS[name] if settings.get(k) is not None}
    if any(k not in own and settings.get(k, v) not in (v, None) for k, v in NEUTRAL.items() if k != "name"):
        return False
    rules = {k: settings.get(k) for k in RULES}
    metrics = _known_metrics(losses.deserialize(config.get("metrics"), losses.METRIC_CLASSES,
                                                unknown_as_none=True))
    try:
        model.compile(OptimizerSpec(name, rate, options=own, rules=rules), loss=config["loss"],
                      metrics=metrics, loss_weights=config.get("loss_weights"))
    except ConfigError:  # a loss, or a setting of one or of the optimizer, textrnn has no rule for
        return False
    return True


def optimizer_variable_count(model: Sequential) -> int:
    """How many variables Keras's optimizer of this compiled model holds once it has stepped: the
    step count, the rate (not with a schedule), and its slots per trained weight."""
    return model._optimizer_spec.keras_variable_count(len(model.trainable_weights))


def restore_optimizer_arrays(model: Sequential, arrays: list[np.ndarray], source: str) -> None:
    """Put Keras's optimizer variables into the compiled model's optimizer: as many as
    `optimizer_variable_count` says, or only the head (saved before the first step)."""
    spec = model._optimizer_spec
    weights = model.trainable_weights
    head = spec.keras_head_count
    optimizer = model.create_optimizer()
    steps, slots = int(arrays[0]), list(arrays[head:])
    optimizer.param_groups[0]["iterations"] = steps
    if spec.schedule is None:  # (a schedule's rate follows from the step count)
        optimizer.learning_rate.assign(float(arrays[1]))
    optimizer.mark_loaded()  # built, as Keras's optimizer of a loaded model is
    if not slots:  # saved before its first step
        return
    states: dict[torch.Tensor, dict[str, Any]] = {weight: {} for weight in weights}
    values = iter(slots)
    for block in spec.keras_slots:
        for k, weight in enumerate(weights):
            for key in block:
                value = np.asarray(next(values), np.float32)
                if tuple(value.shape) != tuple(weight.shape):
                    raise DataError(f"{source}: optimizer variable {key!r} of weight {k} has shape "
                                    f"{tuple(value.shape)}, the weight {tuple(weight.shape)}")
                states[weight][key] = torch.as_tensor(value).to(weight.device)
    for key in spec.keras_tail:
        optimizer.param_groups[0][key] = float(next(values))
    for weight, state in states.items():
        if spec.rule == "adam":
            state["step"] = steps
        if state:
            optimizer.state[weight] = state


# Keras's LossScaleOptimizer's own variables, before its inner optimizer's
LOSS_SCALE_VARIABLES = ("iteration", "learning_rate", "step_counter", "dynamic_scale")


def loss_scale_arrays(model: Sequential) -> list[np.ndarray] | None:
    """A LossScaleOptimizer's own variables for a mixed_float16 model (None under other policies):
    step count and rate (Keras keeps them on the inner optimizer), step counter, scale."""
    scaler = model.loss_scaler() if model.dtype_policy.name == "mixed_float16" else None
    if scaler is None:
        return None
    state = scaler.state_dict()
    return [np.asarray(0, np.int64), np.asarray(0.0, np.float32),
            np.asarray(state["_growth_tracker"], np.int64), np.asarray(state["scale"], np.float32)]


def restore_loss_scale(model: Sequential, arrays: list[np.ndarray], source: str) -> None:
    """Keras's LossScaleOptimizer state into the model's loss scaling (a mixed_float16 model's)."""
    count = len(LOSS_SCALE_VARIABLES)
    if len(arrays) < count or any(np.asarray(a).shape != () for a in arrays[:count]):
        raise DataError(f"{source}: the LossScaleOptimizer's variables are not its step counter and scale")
    scaler = model.loss_scaler()
    if scaler is not None:
        scaler.load_state_dict({**scaler.state_dict(), "scale": float(arrays[3]),
                                "_growth_tracker": int(arrays[2])})
