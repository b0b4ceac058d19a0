"""The recurrent cells' math, shared by the layers (SimpleRNN, LSTM, GRU in `recurrent.py`) and by
Keras's cells (SimpleRNNCell, LSTMCell, GRUCell), which `keras.layers.RNN` runs over a sequence.

Weights are in Keras's layout (kernel (d, G*u), recurrent_kernel (u, G*u), bias) and mapped onto
PyTorch's fused kernels at call time; the per-step `step` methods are the readable reference (and
the path for recurrent dropout and for masks that are not plain padding). `CellWeights` and the
`*Gates` classes are mixins: the layer and the cell of one kind share them, so that both compute
the same thing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import torch

from textrnn.backend import sequence
from textrnn.errors import ConfigError
from textrnn.layers import activations, initializers
from textrnn.layers.base import Layer, Shape


def dropout_masks(batch: int, dim: int, rate: float, count: int, like: torch.Tensor):
    """Keras's dropout masks for RNNs: drawn once per batch, shared by all time steps,
    values 0 or 1 / (1 - rate). Drawn from the CPU's generator whatever the device (they are
    small), so a seed gives the same masks, and the same model, on the CPU and on a GPU."""
    keep = 1.0 - rate
    masks = [torch.bernoulli(torch.full((batch, dim), keep, dtype=like.dtype)) / keep for _ in range(count)]
    return masks if like.device.type == "cpu" else [m.to(like.device) for m in masks]


def _per_gate(h: torch.Tensor, weight: torch.Tensor, masks: Sequence[torch.Tensor] | None,
              units: int) -> list[torch.Tensor]:
    """h @ weight split by gate; with dropout masks, each gate sees its own masked copy of h."""
    if masks is None:
        return list(torch.split(h @ weight, units, dim=-1))
    return [(h * m) @ weight[:, g * units:(g + 1) * units] for g, m in enumerate(masks)]


def sequence_output(outputs: torch.Tensor, last: torch.Tensor, mask: torch.Tensor | None,
                    zero_output_for_mask: bool, return_sequences: bool) -> torch.Tensor:
    """What a recurrent layer returns (Keras's backend.rnn): its outputs (zeros at masked steps
    with zero_output_for_mask), or the last one, `last` (Keras carries it over padding), except
    where a row's last step is masked and zeroed."""
    if mask is not None and zero_output_for_mask:
        outputs = outputs * mask[..., None]
    if return_sequences:
        return outputs
    if mask is None or (not zero_output_for_mask and bool(mask.any(dim=1).all())):
        return last
    return outputs[:, -1]  # a row with no valid step outputs zeros, whatever its initial state


class CellWeights:
    """What a recurrent cell's weights and settings are, for a Layer class that mixes it in:
    units, activations, initializers, dropout rates; the weights; one sequence run with Keras's
    dropout. The `*Gates` subclasses give `gates`, `state_count`, `step`, `fused_cell` and
    `torch_weights`."""

    regularizable = ("kernel", "recurrent", "bias")

    gates = 1
    state_count = 1
    fused_cell: str | None = None  # the PyTorch kernel whose math this cell's is (None: none is)

    def __init__(
        self,
        units: int,
        activation: str = "tanh",
        recurrent_activation: str = "sigmoid",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed: int | None = None,
        implementation: int = 2,
        **kwargs: Any,
    ) -> None:
        # implementation chooses how Keras computes, not what; seed seeds Keras's dropout draws
        # (textrnn's follow torch's)
        super().__init__(**kwargs)
        if int(units) <= 0:
            raise ConfigError(f"{type(self).__name__}: units must be a positive integer, got {units}")
        for field, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0.0 <= float(rate) < 1.0:
                raise ConfigError(f"{type(self).__name__}: {field} must be in [0, 1), got {rate}")
        self.units = int(units)
        self.activation = activation
        self.recurrent_activation = recurrent_activation
        self._act = activations.get(activation)
        self._rec_act = activations.get(recurrent_activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.checked(kernel_initializer)
        self.recurrent_initializer = initializers.checked(recurrent_initializer)
        self.bias_initializer = initializers.checked(bias_initializer)
        self.dropout = float(dropout)
        self.recurrent_dropout = float(recurrent_dropout)

    # --- weights --------------------------------------------------------------------------------
    def build(self, input_shape: Shape) -> None:
        width = self.gates * self.units
        self.add_weight("kernel", (int(input_shape[-1]), width), self.kernel_initializer)
        self.add_weight("recurrent_kernel", (self.units, width), self.recurrent_initializer)
        if self.use_bias:
            self.add_weight("bias", self.bias_shape(), self.bias_initializer)
            self.init_bias()
        super().build(input_shape)

    def bias_shape(self) -> tuple[int, ...]:
        return (self.gates * self.units,)

    def init_bias(self) -> None:
        """Hook for bias tweaks after the initializer (LSTM's unit_forget_bias)."""

    def input_bias(self) -> torch.Tensor | None:
        return self.bias if self.use_bias else None

    def recurrent_bias(self) -> torch.Tensor | None:
        """The bias added to h @ recurrent_kernel (the GRU's reset_after bias), if any."""
        return None

    def _zeros(self, n: int) -> torch.Tensor:
        return self.kernel.new_zeros(n)

    def torch_weights(self) -> list[torch.Tensor]:
        raise NotImplementedError

    def step(self, x_t: torch.Tensor, states: list[torch.Tensor],
             rec_masks: Sequence[torch.Tensor] | None) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """One time step from x_t's input projection (x_t @ kernel + input bias)."""
        raise NotImplementedError

    # --- computation ----------------------------------------------------------------------------
    def project_inputs(self, x: torch.Tensor, masks: Sequence[torch.Tensor] | None) -> torch.Tensor:
        """x @ kernel + input bias for the whole sequence; per-gate input masks if given."""
        bias = self.input_bias()
        if masks is None and bias is not None:  # one GEMM with the bias, not a second pass to add it
            flat = torch.addmm(bias, x.reshape(-1, x.shape[-1]), self.kernel)
            return flat.view(*x.shape[:-1], flat.shape[-1])
        if masks is None:
            proj = x @ self.kernel
        else:
            proj = torch.cat(
                [(x * m[:, None, :]) @ self.kernel[:, g * self.units:(g + 1) * self.units]
                 for g, m in enumerate(masks)], dim=-1)
        return proj if bias is None else proj + bias

    def draw_dropout(self, batch: int, features: int, like: torch.Tensor, training: bool):
        """This batch's dropout masks, as Keras draws them (none outside training):
        (per-gate input masks, per-gate state masks, one input mask for all gates). Keras 3: without
        recurrent dropout one input mask serves all gates; with it (implementation 1) each gate
        draws its own input and state masks."""
        if training and self.recurrent_dropout > 0:
            count = 1 if self.gates == 1 else self.gates
            rec_masks = dropout_masks(batch, self.units, self.recurrent_dropout, count, like)
            gate_input_masks = (dropout_masks(batch, features, self.dropout, count, like)
                                if self.dropout > 0 else None)
            return gate_input_masks, rec_masks, None
        if training and self.dropout > 0:
            return None, None, dropout_masks(batch, features, self.dropout, 1, like)[0]
        return None, None, None

    def run_over(self, x: torch.Tensor, states: list[torch.Tensor], mask: torch.Tensor | None, *,
                 own_kernel=None, span_kernel=None, need_states: bool = True):
        """The cell over the sequence x (B, T, in; processing order) from `states`, with this
        batch's dropout masks: (outputs (B, T, u), final states). `sequence.run_sequence` picks the
        kernel; a layer passes its own compiled ones."""
        gate_input_masks, rec_masks, input_mask = self.draw_dropout(x.shape[0], x.shape[2], x, self.training)
        return sequence.run_sequence(
            own_kernel=own_kernel,
            span_kernel=span_kernel,
            fused_cell=self.fused_cell,
            torch_weights=self.torch_weights,
            project=lambda seq: self.project_inputs(seq, gate_input_masks),
            step=self.step,
            x=x,
            states=states,
            mask=mask,
            recurrent_masks=rec_masks,
            need_states=need_states,
            input_mask=input_mask,
        )

    # --- config ---------------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "units": self.units,
            "activation": self.activation,
            "recurrent_activation": self.recurrent_activation,
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
        }


class SimpleRNNGates(CellWeights):
    """h_t = activation(x_t W + h_{t-1} U + b)."""

    def __init__(self, units: int, **kwargs: Any) -> None:
        kwargs.pop("recurrent_activation", None)
        super().__init__(units, **kwargs)

    @property
    def fused_cell(self) -> str | None:  # type: ignore[override]
        return {"tanh": "rnn_tanh", "relu": "rnn_relu"}.get(self.activation)

    def torch_weights(self) -> list[torch.Tensor]:
        n = self.units
        bias = self.bias if self.use_bias else self._zeros(n)
        return [self.kernel.t(), self.recurrent_kernel.t(), bias, self._zeros(n)]

    def step(self, x_t, states, rec_masks):
        h = states[0] if rec_masks is None else states[0] * rec_masks[0]
        out = self._act(x_t + h @ self.recurrent_kernel)
        return out, [out]

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.pop("recurrent_activation")
        return config


class LSTMGates(CellWeights):
    """Gates in Keras's order i, f, c, o (PyTorch's i, f, g, o):
        i = σ(x W_i + h U_i + b_i)      f = σ(x W_f + h U_f + b_f)      o = σ(x W_o + h U_o + b_o)
        c_t = f * c_{t-1} + i * tanh(x W_c + h U_c + b_c)               h_t = o * tanh(c_t)
    One bias (4u), so LSTM(32) on 32 inputs has 8,320 parameters; unit_forget_bias starts b_f at 1.
    """

    gates = 4
    state_count = 2

    def __init__(self, units: int, unit_forget_bias: bool = True, **kwargs: Any) -> None:
        super().__init__(units, **kwargs)
        self.unit_forget_bias = unit_forget_bias

    def init_bias(self) -> None:
        if self.unit_forget_bias:
            with torch.no_grad():
                self.bias[self.units:2 * self.units] = 1.0

    @property
    def fused_cell(self) -> str | None:  # type: ignore[override]
        return "lstm" if (self.activation, self.recurrent_activation) == ("tanh", "sigmoid") else None

    def torch_weights(self) -> list[torch.Tensor]:
        n = 4 * self.units
        bias = self.bias if self.use_bias else self._zeros(n)
        return [self.kernel.t(), self.recurrent_kernel.t(), bias, self._zeros(n)]

    def step(self, x_t, states, rec_masks):
        h, c = states
        rec = _per_gate(h, self.recurrent_kernel, rec_masks, self.units)
        x_i, x_f, x_c, x_o = torch.split(x_t, self.units, dim=-1)
        i = self._rec_act(x_i + rec[0])
        f = self._rec_act(x_f + rec[1])
        c = f * c + i * self._act(x_c + rec[2])
        o = self._rec_act(x_o + rec[3])
        h = o * self._act(c)
        return h, [h, c]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


class GRUGates(CellWeights):
    """Gates in Keras's order z, r, h (PyTorch's r, z, n). With reset_after=True (default, bias (2, 3u)):
        z = σ(x W_z + b_z + h U_z + b'_z)    r = σ(x W_r + b_r + h U_r + b'_r)
        h̃ = tanh(x W_h + b_h + r * (h U_h + b'_h))     h_t = z * h_{t-1} + (1 - z) * h̃
    With reset_after=False (bias (3u,)): h̃ = tanh(x W_h + b_h + (r * h) U_h).
    """

    gates = 3

    def __init__(self, units: int, reset_after: bool = True, **kwargs: Any) -> None:
        super().__init__(units, **kwargs)
        self.reset_after = reset_after

    def bias_shape(self) -> tuple[int, ...]:
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def input_bias(self) -> torch.Tensor | None:
        if not self.use_bias:
            return None
        return self.bias[0] if self.reset_after else self.bias

    @property
    def fused_cell(self) -> str | None:  # type: ignore[override]
        keras_math = (self.activation, self.recurrent_activation) == ("tanh", "sigmoid")
        return "gru" if keras_math and self.reset_after else None

    def recurrent_bias(self) -> torch.Tensor:
        return self.bias[1] if self.use_bias else self._zeros(3 * self.units)

    def _to_torch_order(self, w: torch.Tensor) -> torch.Tensor:
        z, r, h = torch.split(w, self.units, dim=-1)
        return torch.cat([r, z, h], dim=-1)

    def torch_weights(self) -> list[torch.Tensor]:
        n = 3 * self.units
        b_in, b_rec = (self.input_bias(), self.recurrent_bias()) if self.use_bias else (self._zeros(n),) * 2
        return [self._to_torch_order(self.kernel).t(), self._to_torch_order(self.recurrent_kernel).t(),
                self._to_torch_order(b_in), self._to_torch_order(b_rec)]

    def step(self, x_t, states, rec_masks):
        h = states[0]
        u = self.units
        x_z, x_r, x_h = torch.split(x_t, u, dim=-1)
        if self.reset_after:
            rec_z, rec_r, rec_h = _per_gate(h, self.recurrent_kernel, rec_masks, u)
            if self.use_bias:
                b_z, b_r, b_h = torch.split(self.recurrent_bias(), u)
                rec_z, rec_r, rec_h = rec_z + b_z, rec_r + b_r, rec_h + b_h
            z = self._rec_act(x_z + rec_z)
            r = self._rec_act(x_r + rec_r)
            candidate = self._act(x_h + r * rec_h)
        else:
            rec_z, rec_r = _per_gate(h, self.recurrent_kernel[:, :2 * u],
                                     None if rec_masks is None else rec_masks[:2], u)
            z = self._rec_act(x_z + rec_z)
            r = self._rec_act(x_r + rec_r)
            h_h = h if rec_masks is None else h * rec_masks[2]
            candidate = self._act(x_h + (r * h_h) @ self.recurrent_kernel[:, 2 * u:])
        h = z * h + (1 - z) * candidate
        return h, [h]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "reset_after": self.reset_after}


class Cell(Layer):
    """A Keras cell: one time step, `call(inputs, states, training)` -> (output, new states), which
    `keras.layers.RNN` runs over a sequence. A cell's dropout masks hold for a whole sequence: the
    RNN runs its time loop inside `one_dropout_draw()`; a cell called alone draws new ones per call."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._scope_masks: dict[str, Any] | None = None

    @contextlib.contextmanager
    def one_dropout_draw(self) -> Iterator[None]:
        """Within it, the dropout masks drawn at the first step serve every step."""
        self._scope_masks = {}
        try:
            yield
        finally:
            self._scope_masks = None

    @property
    def state_size(self) -> int | list[int]:
        return self.units if self.state_count == 1 else [self.units] * self.state_count

    @property
    def output_size(self) -> int:
        return self.units

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (input_shape[0], self.units)

    def call(self, inputs: torch.Tensor, states: Any, training: bool = False):
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        if not self.built:
            self.build(tuple(inputs.shape))
        masks = self._scope_masks
        if masks is None or "drawn" not in masks:
            drawn = self.draw_dropout(inputs.shape[0], inputs.shape[-1], inputs, bool(training))
            if masks is not None:
                masks["drawn"] = drawn
        else:
            drawn = masks["drawn"]
        gate_input_masks, rec_masks, input_mask = drawn
        x = sequence.apply_input_mask(inputs[:, None], input_mask)
        output, new_states = self.step(self.project_inputs(x, gate_input_masks)[:, 0], states, rec_masks)
        return output, new_states

    def forward(self, inputs: torch.Tensor, states: Any = None, training: bool | None = None):
        """`cell(inputs, states)`, as Keras code calls a cell inside a cell of its own."""
        return self.call(inputs, states, training=self.training if training is None else training)


class SimpleRNNCell(SimpleRNNGates, Cell):
    """keras.layers.SimpleRNNCell: SimpleRNN's one step (its weights and config are SimpleRNN's)."""


class LSTMCell(LSTMGates, Cell):
    """keras.layers.LSTMCell: LSTM's one step; state [h, c]."""


class GRUCell(GRUGates, Cell):
    """keras.layers.GRUCell: GRU's one step."""
