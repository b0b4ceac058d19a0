"""SimpleRNN, LSTM and GRU with Keras 3's weights, masking and dropout semantics.

Weights are stored in Keras's layout (kernel (d, G*u), recurrent_kernel (u, G*u), bias) and mapped
onto PyTorch's fused kernels at call time; the per-step `step` methods are the readable reference
(and the path for recurrent dropout and for masks that are not plain padding).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from textrnn.backend import kernels, sequence
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


class RNN(Layer):
    """Shared machinery of the recurrent layers: weights, dropout masks, direction, masking,
    return_sequences / return_state. Subclasses define `gates`, `state_count`, `step`,
    `fused_cell` and `torch_weights`."""

    regularizable = ("kernel", "recurrent", "bias")

    gates = 1
    state_count = 1

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
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        zero_output_for_mask: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        use_cudnn: bool | str = "auto",
        seed: int | None = None,
        implementation: int = 2,
        **kwargs: Any,
    ) -> None:
        # unroll, use_cudnn and implementation choose how Keras computes, not what: taken, and
        # textrnn picks its own kernels; seed seeds Keras's dropout draws (textrnn's follow torch's)
        super().__init__(**kwargs)
        if stateful:
            raise ConfigError(f"{type(self).__name__}: stateful=True is not supported (each batch starts "
                              "from zero states)")
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
        self.return_sequences = return_sequences
        self.return_state = return_state
        self.go_backwards = go_backwards
        self.zero_output_for_mask = zero_output_for_mask
        self._token_cache: tuple[tuple, torch.Tensor] | None = None  # see token_table

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

    def _zeros(self, n: int) -> torch.Tensor:
        return self.kernel.new_zeros(n)

    # --- shapes ---------------------------------------------------------------------------------
    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if self.return_sequences:
            return (input_shape[0], input_shape[1], self.units)
        return (input_shape[0], self.units)

    def compute_mask(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor | None:
        return mask if self.return_sequences else None

    takes_initial_state = True

    def output_shapes(self, main: Shape | None = None) -> list[Shape]:
        """With return_state the final states follow the output, (batch, units) each."""
        main = main or self.output_shape
        return [main, *[(main[0], self.units)] * (self.state_count if self.return_state else 0)]

    # --- computation ----------------------------------------------------------------------------
    fused_cell: str | None = None

    def torch_weights(self) -> list[torch.Tensor]:
        raise NotImplementedError

    kernel_cell: str | None = None  # the fused_cell textrnn's kernels compute (others: no own kernel)
    _run_own_kernel = None    # (x, states, input_mask=) -> (outputs, states): the sequence kernel
    _run_layer_kernel = None  # the same from the whole-layer kernel (float32, AVX-512 sizes)

    def own_kernel(self):
        """textrnn's compiled kernel for this layer, if it has one and it is built (else None): the
        whole-layer kernel where it fits, else the sequence kernel. With gradients off, the
        whole-layer kernel's forward-only mode (it stores nothing for backward), or None, for
        PyTorch's oneDNN forward, which beats the sequence kernel there."""
        if self.fused_cell != self.kernel_cell or not kernels.runs_on(self.kernel):
            return None
        layer = self._run_layer_kernel if self._run_layer_kernel and self._fits_layer_kernel() else None
        if not torch.is_grad_enabled():
            return layer
        return layer or self._run_own_kernel

    def _fits_layer_kernel(self) -> bool:
        """Whether the whole-layer float32 kernel (AVX-512, sizes multiples of 16) runs here."""
        return self.kernel.dtype == torch.float32 and kernels.fast_layer(self.kernel.shape[0], self.units)

    def span_kernel(self):
        """A compiled kernel (x, states, starts, ends, input_mask=) -> (outputs, states) that runs
        each row on its valid steps only, or None (then padding masks go through `own_kernel` on
        left-aligned rows)."""
        return None

    def step(self, x_t: torch.Tensor, states: list[torch.Tensor],
             rec_masks: Sequence[torch.Tensor] | None) -> tuple[torch.Tensor, list[torch.Tensor]]:
        raise NotImplementedError

    # --- inference from token ids -----------------------------------------------------------------
    def recurrent_bias(self) -> torch.Tensor | None:
        """The bias added to h @ recurrent_kernel (the GRU's reset_after bias), if any."""
        return None

    def token_table(self, embedding) -> torch.Tensor | None:
        """At inference on the whole-layer kernel, the input projection of every row of
        `embedding`'s table (embeddings @ kernel + input bias): the kernel then reads each step's
        projection by token id instead of looking the word up and multiplying (the layer's input
        matmul and the lookup disappear; the same outputs to float rounding). Kept until one of
        those weights changes (in-place updates bump their version). None where this does not
        apply: training, gradients on, dropout active, another kernel, other dtypes."""
        if (self.training or torch.is_grad_enabled() or torch.jit.is_tracing() or not self.built
                or embedding.embeddings.dtype != self.kernel.dtype or self.own_kernel() is None):
            return None
        bias = self.input_bias()
        sources = [embedding.embeddings, self.kernel] + ([] if bias is None else [bias])
        key = tuple((t.data_ptr(), t._version) for t in sources)
        if self._token_cache is None or self._token_cache[0] != key:
            table = (embedding.embeddings @ self.kernel if bias is None
                     else torch.addmm(bias, embedding.embeddings, self.kernel))
            self._token_cache = (key, table.contiguous())
        return self._token_cache[1]

    def _run_tokens(self, ids: torch.Tensor, table: torch.Tensor, states: list[torch.Tensor],
                    mask: torch.Tensor | None) -> tuple[torch.Tensor, list[torch.Tensor]] | None:
        """The layer on token ids through `table` (ids in processing order), or None where the
        mask is not one run of valid steps per row. Under a padding mask the LSTM's token kernel
        runs each row on its run; the GRU's and SimpleRNN's run on ids moved to the front of
        their rows, as their unmasked kernels do (sequence.aligned_masked_sequence)."""
        def run(seq: torch.Tensor, first: list[torch.Tensor], starts=None, ends=None):
            outputs, h, c = kernels.token_layer(self.kernel_cell, seq, table, self.recurrent_kernel,
                                                self.recurrent_bias(), *first, starts, ends)
            return outputs, [h] if c is None else [h, c]

        if mask is None:
            return run(ids, states)
        runs = sequence.padding_runs(mask)
        if runs is None:
            return None
        starts, lengths = runs
        if self.kernel_cell != "lstm":  # ids as (B, T, 1) steps to move
            return sequence.aligned_masked_sequence(lambda seq, first: run(seq[..., 0], first),
                                                       ids[..., None], states, starts, lengths)
        outputs, final = run(ids, states, starts, starts + lengths)
        return sequence.carry_after_runs(outputs, final[0], starts, lengths), final

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

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        initial_state: list[torch.Tensor] | None = None,
        embedding=None,
    ) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """With `embedding` (an Embedding layer), x holds token ids and the result is that of
        forward(embedding(x)); at inference it goes through `token_table` where that applies."""
        if mask is not None:
            mask = mask.bool()
            if bool(mask.all()):  # nothing masked (a length-bucketed batch): the fast unmasked path
                mask = None
        table = None
        if embedding is not None:
            x = embedding.token_ids(x)
            table = self.token_table(embedding)
            if table is None:
                x = embedding(x)
        self.ensure_built(x)
        batch = x.shape[0]
        like = x if table is None else table
        states = (list(initial_state) if initial_state is not None
                  else [like.new_zeros(batch, self.units) for _ in range(self.state_count)])
        if self.go_backwards:
            x = x.flip(1)
            mask = None if mask is None else mask.flip(1)

        # Keras 3: without recurrent dropout one input mask serves all gates (applied to x);
        # with recurrent dropout (implementation 1) each gate draws its own input and state masks.
        gate_input_masks = rec_masks = input_mask = None
        if self.training and self.recurrent_dropout > 0:
            count = 1 if self.gates == 1 else self.gates
            rec_masks = dropout_masks(batch, self.units, self.recurrent_dropout, count, x)
            if self.dropout > 0:
                gate_input_masks = dropout_masks(batch, x.shape[2], self.dropout, count, x)
        elif self.training and self.dropout > 0:
            input_mask = dropout_masks(batch, x.shape[2], self.dropout, 1, x)[0]  # x * mask, in run_sequence

        ran = None if table is None else self._run_tokens(x, table, states, mask)
        if table is not None and ran is None:  # a mask the token kernel cannot take: look the words up
            x = embedding(x)
        outputs, states = ran or sequence.run_sequence(
            own_kernel=self.own_kernel(),
            span_kernel=self.span_kernel() if mask is not None else None,
            fused_cell=self.fused_cell,
            torch_weights=self.torch_weights,
            project=lambda seq: self.project_inputs(seq, gate_input_masks),
            step=self.step,
            x=x,
            states=states,
            mask=mask,
            recurrent_masks=rec_masks,
            need_states=self.return_state,
            input_mask=input_mask,
        )
        if mask is not None and self.zero_output_for_mask:
            outputs = outputs * mask[..., None]
        if self.return_sequences:
            result = outputs
        elif mask is None or (not self.zero_output_for_mask and bool(mask.any(dim=1).all())):
            # The last output is the final state (Keras carries it over padding); taking the state
            # sends no (B, T, u) gradient of zeros back through a slice of the outputs.
            result = states[0]
        else:  # a row with no valid step outputs zeros, whatever its initial state
            result = outputs[:, -1]
        if self.return_state:
            return (result, *states)
        return result

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
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "zero_output_for_mask": self.zero_output_for_mask,
        }


class SimpleRNN(RNN):
    """h_t = activation(x_t W + h_{t-1} U + b)."""

    kernel_cell = "rnn_tanh"

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

    def _run_own_kernel(self, x: torch.Tensor, states: list[torch.Tensor], input_mask=None):
        x = sequence.apply_input_mask(x, input_mask)
        outputs, h = kernels.fused_simple_rnn(self.project_inputs(x, None), self.recurrent_kernel, states[0])
        return outputs, [h]

    def _run_layer_kernel(self, x: torch.Tensor, states: list[torch.Tensor], input_mask=None):
        """The whole layer in one kernel: projection and input dropout in its loop; with gradients
        off it keeps nothing."""
        outputs, h = kernels.simple_rnn_layer(x, self.kernel, self.input_bias(), self.recurrent_kernel,
                                              states[0], input_mask)
        return outputs, [h]

    def step(self, x_t, states, rec_masks):
        h = states[0] if rec_masks is None else states[0] * rec_masks[0]
        out = self._act(x_t + h @ self.recurrent_kernel)
        return out, [out]

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.pop("recurrent_activation")
        return config


class LSTM(RNN):
    """Gates in Keras's order i, f, c, o (PyTorch's i, f, g, o):
        i = σ(x W_i + h U_i + b_i)      f = σ(x W_f + h U_f + b_f)      o = σ(x W_o + h U_o + b_o)
        c_t = f * c_{t-1} + i * tanh(x W_c + h U_c + b_c)               h_t = o * tanh(c_t)
    One bias (4u), so LSTM(32) on 32 inputs has 8,320 parameters; unit_forget_bias starts b_f at 1.
    """

    gates = 4
    state_count = 2
    kernel_cell = "lstm"

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

    def _run_own_kernel(self, x: torch.Tensor, states: list[torch.Tensor], input_mask=None):
        x = sequence.apply_input_mask(x, input_mask)
        outputs, h, c = kernels.fused_lstm(self.project_inputs(x, None), self.recurrent_kernel, *states)
        return outputs, [h, c]

    def _run_layer_kernel(self, x: torch.Tensor, states: list[torch.Tensor],
                          starts: torch.Tensor | None = None, ends: torch.Tensor | None = None,
                          input_mask: torch.Tensor | None = None):
        """The whole layer in one kernel (float32, AVX-512, sizes multiples of 16): training and
        inference; with starts / ends, each row runs only its valid steps (a padding mask); the
        input dropout mask is applied inside the time loop."""
        outputs, h, c = kernels.lstm_layer(x, self.kernel, self.input_bias(), self.recurrent_kernel, *states,
                                           starts, ends, input_mask)
        return outputs, [h, c]

    def span_kernel(self):
        own = self.own_kernel()
        return self._run_layer_kernel if own == self._run_layer_kernel else None

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


class GRU(RNN):
    """Gates in Keras's order z, r, h (PyTorch's r, z, n). With reset_after=True (default, bias (2, 3u)):
        z = σ(x W_z + b_z + h U_z + b'_z)    r = σ(x W_r + b_r + h U_r + b'_r)
        h̃ = tanh(x W_h + b_h + r * (h U_h + b'_h))     h_t = z * h_{t-1} + (1 - z) * h̃
    With reset_after=False (bias (3u,)): h̃ = tanh(x W_h + b_h + (r * h) U_h).
    """

    gates = 3
    kernel_cell = "gru"

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

    def _run_own_kernel(self, x: torch.Tensor, states: list[torch.Tensor], input_mask=None):
        x = sequence.apply_input_mask(x, input_mask)
        b_rec = self.recurrent_bias()
        outputs, h = kernels.fused_gru(self.project_inputs(x, None), self.recurrent_kernel, b_rec, states[0])
        return outputs, [h]

    def _run_layer_kernel(self, x: torch.Tensor, states: list[torch.Tensor], input_mask=None):
        """The whole layer in one kernel: projection and input dropout in its loop; with gradients
        off it keeps nothing."""
        b_rec = self.bias[1] if self.use_bias else None
        outputs, h = kernels.gru_layer(x, self.kernel, self.input_bias(), self.recurrent_kernel, b_rec,
                                       states[0], input_mask)
        return outputs, [h]

    def _to_torch_order(self, w: torch.Tensor) -> torch.Tensor:
        z, r, h = torch.split(w, self.units, dim=-1)
        return torch.cat([r, z, h], dim=-1)

    def torch_weights(self) -> list[torch.Tensor]:
        n = 3 * self.units
        b_in, b_rec = (self.bias[0], self.bias[1]) if self.use_bias else (self._zeros(n),) * 2
        return [self._to_torch_order(self.kernel).t(), self._to_torch_order(self.recurrent_kernel).t(),
                self._to_torch_order(b_in), self._to_torch_order(b_rec)]

    def step(self, x_t, states, rec_masks):
        h = states[0]
        u = self.units
        x_z, x_r, x_h = torch.split(x_t, u, dim=-1)
        if self.reset_after:
            rec_z, rec_r, rec_h = _per_gate(h, self.recurrent_kernel, rec_masks, u)
            if self.use_bias:
                b_z, b_r, b_h = torch.split(self.bias[1], u)
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
