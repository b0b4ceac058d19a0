"""SimpleRNN, LSTM and GRU with Keras 3's weights, masking and dropout semantics: each is its
cell's math (`recurrent_cells.py`) run over a sequence, by textrnn's compiled kernels where they
apply (`backend.kernels`), else by `backend.sequence.run_sequence`.
"""

from __future__ import annotations

from typing import Any

import torch

from textrnn.backend import kernels, sequence
from textrnn.errors import ConfigError
from textrnn.layers.base import Layer, Shape
from textrnn.layers.recurrent_cells import GRUGates, LSTMGates, SimpleRNNGates, sequence_output


class HeldStates:
    """Keras's `stateful=True` for a recurrent layer (a Layer that mixes this in): each call starts
    from the final states of the one before (rows in the same order, batch after batch, detached:
    gradients stop at the batch), until `reset_states()`. The first call starts from zeros."""

    def _hold_states(self, stateful: bool) -> None:
        self.stateful = bool(stateful)
        self._held: list[torch.Tensor] | None = None

    def held_states(self, batch: int) -> list[torch.Tensor] | None:
        """The states this call starts from (None: zeros), checking the batch's rows."""
        if not self.stateful or self._held is None:
            return None
        if self._held[0].shape[0] != batch:
            raise ConfigError(f"{self.name}: a stateful layer holds states for batches of "
                              f"{self._held[0].shape[0]} rows and was given {batch}; give it batches of one "
                              "size (a row count that the batch size divides), or call reset_states()")
        # (copies, where the weights are: the kernels may write their initial states, one held
        # from inference mode could not take part in training, and reset_states(values) or a
        # model moved since may have left them on another device)
        weight = next(self.parameters(), None)
        return [s.to(weight.device, copy=True) if weight is not None else s.clone() for s in self._held]

    def keep_states(self, states: list[torch.Tensor]) -> None:
        if self.stateful:
            self._held = [s.detach().clone() for s in states]

    def reset_states(self, states: Any = None) -> None:
        """Zero the held states (Keras's reset_states / reset_state), or set them to `states`."""
        if states is not None:
            values = states if isinstance(states, (list, tuple)) else [states]
            self._held = [torch.as_tensor(v, dtype=torch.float32) for v in values]
        elif self._held is not None:
            self._held = [torch.zeros_like(s) for s in self._held]

    def reset_state(self) -> None:
        self.reset_states()


class Recurrent(HeldStates, Layer):
    """Shared machinery of the recurrent layers, mixed with their cell's math (`*Gates`):
    direction, masking, return_sequences / return_state, textrnn's kernels and token tables.
    Each layer class gives `kernel_cell` and its kernels (`_run_own_kernel`, `_run_layer_kernel`)."""

    supports_masking = True

    def __init__(
        self,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        zero_output_for_mask: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        use_cudnn: bool | str = "auto",
        **kwargs: Any,
    ) -> None:
        # unroll and use_cudnn choose how Keras computes, not what: taken, and textrnn picks its
        # own kernels
        super().__init__(**kwargs)
        self._hold_states(stateful)
        self.return_sequences = return_sequences
        self.return_state = return_state
        self.go_backwards = go_backwards
        self.zero_output_for_mask = zero_output_for_mask
        self._token_cache: tuple[tuple, torch.Tensor] | None = None  # see token_table

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

    # --- inference from token ids -----------------------------------------------------------------
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
        # (keyed on the weights themselves: an input bias may be computed, e.g. the cuDNN layers'
        # two biases summed, and a tensor made in inference mode has no version to watch)
        sources = [embedding.embeddings, self.kernel] + ([] if bias is None else [self.bias])
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
        states = (list(initial_state) if initial_state is not None else self.held_states(batch)
                  or [like.new_zeros(batch, self.units) for _ in range(self.state_count)])
        if self.go_backwards:
            x = x.flip(1)
            mask = None if mask is None else mask.flip(1)

        ran = None if table is None else self._run_tokens(x, table, states, mask)
        if table is not None and ran is None:  # a mask the token kernel cannot take: look the words up
            x = embedding(x)
        outputs, states = ran or self.run_over(
            x, states, mask, own_kernel=self.own_kernel(),
            span_kernel=self.span_kernel() if mask is not None else None,
            need_states=self.return_state or self.stateful)
        self.keep_states(states)
        # (the final state is the last output: taking it sends no (B, T, u) gradient of zeros back
        # through a slice of the outputs)
        result = sequence_output(outputs, states[0], mask, self.zero_output_for_mask, self.return_sequences)
        if self.return_state:
            return (result, *states)
        return result

    # --- config ---------------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "zero_output_for_mask": self.zero_output_for_mask,
        }


class SimpleRNN(SimpleRNNGates, Recurrent):
    """keras.layers.SimpleRNN: h_t = activation(x_t W + h_{t-1} U + b) over the sequence."""

    kernel_cell = "rnn_tanh"

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


class LSTM(LSTMGates, Recurrent):
    """keras.layers.LSTM: the LSTM cell (`LSTMGates`: Keras's gate order and bias) over the sequence."""

    kernel_cell = "lstm"

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


class GRU(GRUGates, Recurrent):
    """keras.layers.GRU: the GRU cell (`GRUGates`: Keras's gate order, reset_after) over the sequence."""

    kernel_cell = "gru"

    def _run_own_kernel(self, x: torch.Tensor, states: list[torch.Tensor], input_mask=None):
        x = sequence.apply_input_mask(x, input_mask)
        b_rec = self.recurrent_bias()
        outputs, h = kernels.fused_gru(self.project_inputs(x, None), self.recurrent_kernel, b_rec, states[0])
        return outputs, [h]

    def _run_layer_kernel(self, x: torch.Tensor, states: list[torch.Tensor], input_mask=None):
        """The whole layer in one kernel: projection and input dropout in its loop; with gradients
        off it keeps nothing."""
        b_rec = self.recurrent_bias() if self.use_bias else None
        outputs, h = kernels.gru_layer(x, self.kernel, self.input_bias(), self.recurrent_kernel, b_rec,
                                       states[0], input_mask)
        return outputs, [h]


class CuDNNLSTM(LSTM):
    """Keras 2's cuDNN LSTM (`keras.layers.CuDNNLSTM`, in much published GPU code): LSTM's math with
    two biases, the input's and the state's (i, f, c, o each; bias (8u,), as cuDNN and PyTorch
    keep them), which add up to LSTM's one. No activations to choose, no dropout, no mask."""

    def __init__(self, units: int, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 unit_forget_bias: bool = True, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, **kwargs: Any) -> None:
        super().__init__(units, kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
                         unit_forget_bias=unit_forget_bias,
                         return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, **_no_cudnn_arguments(self, kwargs))

    def bias_shape(self) -> tuple[int, ...]:
        return (8 * self.units,)

    def init_bias(self) -> None:
        if self.unit_forget_bias:  # (Keras 2's: the state's forget bias starts at 1)
            with torch.no_grad():
                self.bias[5 * self.units:6 * self.units] = 1.0

    def input_bias(self) -> torch.Tensor | None:
        n = 4 * self.units
        return self.bias[:n] + self.bias[n:] if self.use_bias else None

    def torch_weights(self) -> list[torch.Tensor]:
        n = 4 * self.units
        return [self.kernel.t(), self.recurrent_kernel.t(), self.bias[:n], self.bias[n:]]

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, **kwargs: Any):
        _refuse_mask(self, mask)
        return super().forward(x, None, **kwargs)

    def get_config(self) -> dict[str, Any]:
        return _cudnn_config(super().get_config())


class CuDNNGRU(GRU):
    """Keras 2's cuDNN GRU (`keras.layers.CuDNNGRU`): GRU's math with reset_after (as cuDNN), its two
    biases one (6u,) vector (z, r, h of the input's, then of the state's). No activations to
    choose, no dropout, no mask."""

    def __init__(self, units: int, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 return_sequences: bool = False, return_state: bool = False, go_backwards: bool = False,
                 stateful: bool = False, **kwargs: Any) -> None:
        super().__init__(units, kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
                         reset_after=True, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful,
                         **_no_cudnn_arguments(self, kwargs))

    def bias_shape(self) -> tuple[int, ...]:
        return (6 * self.units,)

    def input_bias(self) -> torch.Tensor | None:
        return self.bias[:3 * self.units] if self.use_bias else None

    def recurrent_bias(self) -> torch.Tensor:
        return self.bias[3 * self.units:] if self.use_bias else self._zeros(3 * self.units)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, **kwargs: Any):
        _refuse_mask(self, mask)
        return super().forward(x, None, **kwargs)

    def get_config(self) -> dict[str, Any]:
        return _cudnn_config(super().get_config())


# LSTM's / GRU's arguments the cuDNN layers do not have (Keras 2 refused them too)
_NOT_CUDNN = ("activation", "recurrent_activation", "use_bias", "dropout", "recurrent_dropout",
              "reset_after", "unroll", "implementation", "use_cudnn", "seed")


def _no_cudnn_arguments(layer: Layer, kwargs: dict[str, Any]) -> dict[str, Any]:
    """kwargs, after refusing in one line what a cuDNN layer has no use for; a config written by
    textrnn itself holds some of them at their only values, which pass."""
    only = {"activation": "tanh", "recurrent_activation": "sigmoid", "use_bias": True, "dropout": 0.0,
            "recurrent_dropout": 0.0}
    for name in _NOT_CUDNN:
        if name in kwargs and not (name in only and kwargs[name] == only[name]):
            raise ConfigError(f"{type(layer).__name__}: unknown argument {name!r} (Keras 2's cuDNN layers "
                              f"have none; {type(layer).__name__.removeprefix('CuDNN')} has it)")
        if name in only:
            kwargs.pop(name, None)
    return kwargs


def _cudnn_config(config: dict[str, Any]) -> dict[str, Any]:
    for name in _NOT_CUDNN:
        config.pop(name, None)
    return config


def _refuse_mask(layer: Layer, mask: torch.Tensor | None) -> None:
    if mask is not None:
        kind = type(layer).__name__
        raise ConfigError(f"{layer.name}: {kind} takes no mask, as in Keras 2 (mask_zero=True or Masking "
                          f"before it); use {kind.removeprefix('CuDNN')}, which does")
