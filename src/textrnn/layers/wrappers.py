"""Bidirectional and TimeDistributed, as in keras.layers."""

from __future__ import annotations

from typing import Any

import torch

from textrnn.errors import ConfigError
from textrnn.layers.base import Layer, Shape, layer_from_config, layer_to_config
from textrnn.layers.rnn import RNN

MERGE_MODES = ("concat", "sum", "mul", "ave", None)


class Bidirectional(Layer):
    """Runs a copy of `layer` forward and a copy backward (go_backwards) over the sequence and
    merges their outputs. With return_sequences the backward outputs are re-reversed so both line
    up in time. As in Keras, without a mask the backward copy starts on the padding of pre-padded
    input; with `mask_zero=True` it skips it."""

    def __init__(self, layer: RNN, merge_mode: str | None = "concat", weights: Any = None,
                 backward_layer: RNN | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(layer, RNN):
            raise ConfigError(f"Bidirectional wraps SimpleRNN, LSTM, GRU or RNN, got {type(layer).__name__}")
        if merge_mode not in MERGE_MODES:
            raise ConfigError(f"unknown merge_mode {merge_mode!r}; valid: {MERGE_MODES}")
        if weights is not None:
            raise ConfigError("Bidirectional: weights= is not supported; call set_weights once it is built")
        if layer.built or (backward_layer is not None and backward_layer.built):
            raise ConfigError("Bidirectional needs unbuilt layers (it makes copies of them)")
        self.merge_mode = merge_mode
        self._layer_spec = layer_to_config(layer)
        base = layer.get_config()
        # Keras: both copies zero their outputs at masked steps when they return sequences.
        common = {"zero_output_for_mask": layer.return_sequences, "trainable": self.trainable}
        self.forward_layer = type(layer).from_config(
            {**base, **common, "name": f"forward_{layer.name}"})
        self._backward_given = backward_layer is not None
        if backward_layer is None:
            backward_layer = type(layer).from_config(
                {**base, **common, "name": f"backward_{layer.name}", "go_backwards": not layer.go_backwards})
        else:  # taken as it is, as Keras's: it runs the other way, and returns what the forward does
            _check_backward(layer, backward_layer)
            backward_layer.zero_output_for_mask = layer.return_sequences
        self.backward_layer = backward_layer
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state

    @property
    def weights(self) -> list[torch.nn.Parameter]:
        return self.forward_layer.weights + self.backward_layer.weights

    @property
    def stateful(self) -> bool:
        return self.forward_layer.stateful

    def reset_states(self, states: Any = None) -> None:
        """Both directions' held states (stateful=True) zeroed, or set: the forward's first."""
        half = None if states is None else len(states) // 2
        self.forward_layer.reset_states(None if states is None else states[:half])
        self.backward_layer.reset_states(None if states is None else states[half:])

    def reset_state(self) -> None:
        self.reset_states()

    def _apply_trainable(self) -> None:
        for sub in (self.forward_layer, self.backward_layer):
            sub.trainable = self._trainable

    def build(self, input_shape: Shape) -> None:
        self.forward_layer.build(input_shape)
        self.backward_layer.build(input_shape)
        super().build(input_shape)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        shape = self.forward_layer.compute_output_shape(input_shape)
        if self.merge_mode == "concat":
            return (*shape[:-1], shape[-1] + self.backward_layer.compute_output_shape(input_shape)[-1])
        return shape

    def compute_mask(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor | None:
        return mask if self.return_sequences else None

    def output_shapes(self, main: Shape | None = None) -> list[Shape]:
        """With return_state: the merged output(s), then each direction's final states."""
        merged = [main or self.output_shape] * (2 if self.merge_mode is None else 1)
        if not self.return_state:
            return merged
        states = [*self.forward_layer.output_shapes()[1:], *self.backward_layer.output_shapes()[1:]]
        return [*merged, *states]

    # Keras's initial_state: the forward layer's states, then the backward's (half and half)
    takes_initial_state = True

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, embedding=None,
                initial_state: list[torch.Tensor] | None = None):
        """With `embedding`, x holds token ids that both directions read through it (see
        RNN.forward)."""
        if embedding is None:
            self.ensure_built(x)
        half = None if initial_state is None else len(initial_state) // 2
        fwd = self.forward_layer(x, mask=mask, embedding=embedding,
                                 initial_state=None if half is None else list(initial_state[:half]))
        bwd = self.backward_layer(x, mask=mask, embedding=embedding,
                                  initial_state=None if half is None else list(initial_state[half:]))
        fwd_states: tuple[torch.Tensor, ...] = ()
        bwd_states: tuple[torch.Tensor, ...] = ()
        if self.return_state:
            fwd, *fwd_states = fwd
            bwd, *bwd_states = bwd
        if self.return_sequences:
            bwd = bwd.flip(1)
        merged = self._merge(fwd, bwd)
        if self.return_state:
            return (*(merged if isinstance(merged, list) else [merged]), *fwd_states, *bwd_states)
        return merged

    def _merge(self, fwd: torch.Tensor, bwd: torch.Tensor):
        if self.merge_mode == "concat":
            return torch.cat([fwd, bwd], dim=-1)
        if self.merge_mode == "sum":
            return fwd + bwd
        if self.merge_mode == "mul":
            return fwd * bwd
        if self.merge_mode == "ave":
            return (fwd + bwd) / 2
        return [fwd, bwd]

    def get_config(self) -> dict[str, Any]:
        config = {**super().get_config(), "layer": self._layer_spec, "merge_mode": self.merge_mode}
        if self._backward_given:
            config["backward_layer"] = layer_to_config(self.backward_layer)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Bidirectional:
        config = dict(config)
        layer = layer_from_config(config.pop("layer"))
        backward = config.pop("backward_layer", None)
        return cls(layer, backward_layer=None if backward is None else layer_from_config(backward), **config)


def _check_backward(layer: RNN, backward: Any) -> None:
    """Keras's checks of a given backward_layer, in one line each."""
    if not isinstance(backward, RNN):
        raise ConfigError("Bidirectional: backward_layer must be a recurrent layer, got "
                          f"{type(backward).__name__}")
    if backward.go_backwards == layer.go_backwards:
        raise ConfigError("Bidirectional: backward_layer must have the other go_backwards than the layer "
                          f"(both have go_backwards={layer.go_backwards})")
    for field in ("return_sequences", "return_state"):
        if getattr(backward, field) != getattr(layer, field):
            raise ConfigError(f"Bidirectional: backward_layer must have the layer's {field} "
                              f"({getattr(layer, field)}), got {getattr(backward, field)}")


class TimeDistributed(Layer):
    """Applies `layer` to every time step of a (batch, steps, ...) input: the steps are folded into
    the batch, so the layer (its weights shared by all steps) sees (batch * steps, ...). The mask
    passes through, as in Keras."""

    def __init__(self, layer: Layer, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(layer, Layer) or isinstance(layer, RNN):
            raise ConfigError(f"TimeDistributed wraps a non-recurrent layer, got {type(layer).__name__}")
        self.layer = layer

    @property
    def weights(self) -> list[torch.nn.Parameter]:
        return self.layer.weights

    def _apply_trainable(self) -> None:
        self.layer.trainable = self._trainable

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) < 3:
            raise ConfigError(f"{self.name}: TimeDistributed needs (batch, steps, ...), "
                              f"got {tuple(input_shape)}")
        self.layer.build((None, *input_shape[2:]))
        super().build(input_shape)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        inner = self.layer.compute_output_shape((None, *input_shape[2:]))
        return (input_shape[0], input_shape[1], *inner[1:])

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        self.ensure_built(x)
        batch, steps = x.shape[:2]
        y = self.layer(x.reshape(batch * steps, *x.shape[2:]))
        return y.reshape(batch, steps, *y.shape[1:])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "layer": layer_to_config(self.layer)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TimeDistributed:
        config = dict(config)
        return cls(layer_from_config(config.pop("layer")), **config)
