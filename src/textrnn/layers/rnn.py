"""keras.layers.RNN, a cell run over a sequence, and StackedRNNCells, cells stacked into one.

A cell is Keras's: a layer (or any object) with `state_size` and `call(inputs, states)` giving
(output, new states) for one time step: textrnn's SimpleRNNCell / LSTMCell / GRUCell, or one's own.
Keras's own cells, alone or stacked, run through the same sequence kernels as the SimpleRNN / LSTM /
GRU layers (`CellWeights.run_over`); any other cell runs step by step, with Keras's masking: at a
masked step the output repeats the last one (or is zeros, zero_output_for_mask) and the states stay.
"""

from __future__ import annotations

import contextlib
from abc import ABCMeta
from typing import Any

import torch

from textrnn.errors import ConfigError
from textrnn.layers.base import Layer, Shape, _call_arguments, layer_from_config, layer_to_config
from textrnn.layers.recurrent import HeldStates, Recurrent
from textrnn.layers.recurrent_cells import Cell, GRUCell, LSTMCell, SimpleRNNCell, sequence_output

# Keras's own cells, whose whole sequence one kernel runs (a class of one's own made from them
# may change `call`, so it runs step by step)
KERNEL_CELLS = (SimpleRNNCell, LSTMCell, GRUCell)


def _check_cell(cell: Any, where: str) -> None:
    for needed in ("call", "state_size"):
        if not hasattr(cell, needed):
            raise ConfigError(f"{where}: a cell needs a `{needed}` (Keras's cell API: state_size and "
                              f"call(inputs, states)), got {type(cell).__name__}")


def _flat_sizes(state_size: Any) -> list[int]:
    if isinstance(state_size, (list, tuple)):
        return [size for part in state_size for size in _flat_sizes(part)]
    return [int(state_size)]


def _flatten(states: Any) -> list[torch.Tensor]:
    if isinstance(states, (list, tuple)):
        return [t for part in states for t in _flatten(part)]
    return [states]


def _pack(flat: list[torch.Tensor], structure: list[Any]) -> list[Any]:
    """The flat states in the nesting of `structure` (a state_size list): an int takes one state,
    a list one list of them."""
    packed, at = [], 0
    for part in structure:
        n = len(_flat_sizes(part))
        packed.append(list(flat[at:at + n]) if isinstance(part, (list, tuple)) else flat[at])
        at += n
    return packed


def _build_cell(cell: Any, input_shape: Shape) -> None:
    """Build a cell for one step's input shape, as Keras's RNN does (its build, then built)."""
    if isinstance(cell, Layer) and not cell.built:
        cell.build(tuple(input_shape))
        cell.built = True
        cell._apply_trainable()


def _call_cell(cell: Any, inputs: torch.Tensor, states: list[Any], training: bool) -> tuple[Any, Any]:
    """One step of `cell`: call(inputs, states[, training])."""
    takes_training = isinstance(cell, Layer) and "training" in _call_arguments(type(cell))
    return cell.call(inputs, states, training=training) if takes_training else cell.call(inputs, states)


def _output_size(cell: Any) -> int:
    size = getattr(cell, "output_size", None)
    return int(size) if size is not None else _flat_sizes(cell.state_size)[0]


class StackedRNNCells(Layer):
    """keras.layers.StackedRNNCells: cells run one after the other at each step, as one cell."""

    def __init__(self, cells: list[Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for cell in cells:
            _check_cell(cell, "StackedRNNCells")
        self._cell_list = list(cells)
        for i, cell in enumerate(self._cell_list):  # (their weights are this layer's, in order)
            if isinstance(cell, torch.nn.Module):
                self.add_module(f"cell_{i}", cell)

    @property
    def cells(self) -> list[Any]:
        return list(self._cell_list)

    @property
    def state_size(self) -> list[Any]:
        return [cell.state_size for cell in self._cell_list]

    @property
    def output_size(self) -> int:
        return _output_size(self._cell_list[-1])

    def build(self, input_shape: Shape) -> None:
        shape = tuple(input_shape)
        for cell in self._cell_list:
            _build_cell(cell, shape)
            shape = (shape[0], _output_size(cell))
        super().build(input_shape)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (input_shape[0], self.output_size)

    def call(self, inputs: torch.Tensor, states: list[Any], training: bool = False):
        new_states = []
        for cell, state in zip(self._cell_list, states):
            nested = isinstance(state, (list, tuple))
            inputs, state = _call_cell(cell, inputs, list(state) if nested else [state], training)
            if isinstance(state, (list, tuple)) and len(state) == 1 and not nested:
                state = state[0]
            new_states.append(state)
        return inputs, new_states

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "cells": [layer_to_config(cell) for cell in self._cell_list]}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> StackedRNNCells:
        config = dict(config)
        return cls([layer_from_config(spec) for spec in config.pop("cells")], **config)


class RNN(HeldStates, Layer, metaclass=ABCMeta):
    """keras.layers.RNN(cell): the cell (or a list of cells, stacked) over the time steps. The
    SimpleRNN / LSTM / GRU layers count as RNNs too (isinstance), as in Keras."""

    takes_initial_state = True

    def __init__(self, cell: Any, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 zero_output_for_mask: bool = False, **kwargs: Any) -> None:
        # unroll chooses how Keras computes, not what
        super().__init__(**kwargs)
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)
        _check_cell(cell, "RNN")
        self._hold_states(stateful)
        sizes = cell.state_size if isinstance(cell.state_size, (list, tuple)) else [cell.state_size]
        if return_state and any(isinstance(s, (list, tuple)) for s in sizes):
            raise ConfigError("RNN: return_state=True with stacked cells of several states each (LSTMCell) "
                              "is not supported; return the sequences, or use one cell per RNN layer")
        self.cell = cell
        self.state_size = list(sizes)
        self.return_sequences = return_sequences
        self.return_state = return_state
        self.go_backwards = go_backwards
        self.zero_output_for_mask = zero_output_for_mask

    # --- shapes ---------------------------------------------------------------------------------
    def build(self, input_shape: Shape) -> None:
        _build_cell(self.cell, (input_shape[0], *input_shape[2:]))
        super().build(input_shape)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        size = _output_size(self.cell)
        return (input_shape[0], input_shape[1], size) if self.return_sequences else (input_shape[0], size)

    def compute_mask(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor | None:
        return mask if self.return_sequences else None

    def output_shapes(self, main: Shape | None = None) -> list[Shape]:
        """With return_state the final states follow the output, (batch, size) each."""
        main = main or self.output_shape
        sizes = _flat_sizes(self.state_size) if self.return_state else []
        return [main, *[(main[0], size) for size in sizes]]

    # --- computation ----------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None,
                initial_state: list[torch.Tensor] | None = None, embedding=None):
        """`embedding`: x holds token ids to look up first (a model at inference hands them over)."""
        if embedding is not None:
            x = embedding(x)
        self.ensure_built(x)
        if mask is not None:
            mask = mask.bool()
            if bool(mask.all()):
                mask = None
        flat = (list(initial_state) if isinstance(initial_state, (list, tuple))
                else [initial_state] if initial_state is not None
                else self.held_states(x.shape[0]) or self._initial_states(x))
        if self.go_backwards:
            x = x.flip(1)
            mask = None if mask is None else mask.flip(1)
        cells = self.cell.cells if isinstance(self.cell, StackedRNNCells) else [self.cell]
        if all(type(cell) in KERNEL_CELLS for cell in cells):
            outputs, flat = self._run_kernel_cells(cells, x, flat, mask, self.return_state or self.stateful)
            last = outputs[:, -1] if mask is not None else flat[-cells[-1].state_count]
        else:
            outputs, flat = self._run_steps(cells, x, flat, mask)
            last = outputs[:, -1]
        self.keep_states(flat)
        result = sequence_output(outputs, last, mask, self.zero_output_for_mask, self.return_sequences)
        return (result, *flat) if self.return_state else result

    def _initial_states(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Each cell's get_initial_state(batch_size=...) where it has one, else zeros."""
        flat = []
        for cell in self.cell.cells if isinstance(self.cell, StackedRNNCells) else [self.cell]:
            make = getattr(cell, "get_initial_state", None)
            flat += (_flatten(make(batch_size=x.shape[0])) if make is not None
                     else [x.new_zeros(x.shape[0], size) for size in _flat_sizes(cell.state_size)])
        return flat

    def _run_kernel_cells(self, cells: list[Cell], x: torch.Tensor, flat: list[torch.Tensor],
                          mask: torch.Tensor | None, need_states: bool):
        """Keras's cells, one whole sequence at a time: each cell's outputs are the next one's
        inputs (at a masked step every cell keeps its states, so the order of work changes nothing)."""
        finals, at = [], 0
        for cell in cells:
            states = flat[at:at + cell.state_count]
            at += cell.state_count
            x, states = cell.run_over(x, states, mask, need_states=need_states)
            finals += states
        return x, finals

    def _run_steps(self, cells: list[Any], x: torch.Tensor, flat: list[torch.Tensor],
                   mask: torch.Tensor | None):
        """Any cell, one step at a time (Keras's backend.rnn); the Keras cells among them keep one
        dropout mask for the whole sequence."""
        outputs: list[torch.Tensor] = []
        prev = None
        with contextlib.ExitStack() as draws:
            for cell in cells:
                if isinstance(cell, Cell):
                    draws.enter_context(cell.one_dropout_draw())
            for t in range(x.shape[1]):
                out, new = _call_cell(self.cell, x[:, t], _pack(flat, self.state_size), self.training)
                new = _flatten(new)
                if mask is not None:
                    keep = mask[:, t, None]
                    prev = torch.zeros_like(out) if prev is None else prev
                    out = torch.where(keep, out, prev)
                    new = [torch.where(keep, n, s) for n, s in zip(new, flat)]
                outputs.append(out)
                prev, flat = out, new
        return torch.stack(outputs, dim=1), flat

    # --- config ---------------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "cell": layer_to_config(self.cell),
                "return_sequences": self.return_sequences, "return_state": self.return_state,
                "go_backwards": self.go_backwards, "stateful": self.stateful,
                "zero_output_for_mask": self.zero_output_for_mask}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> RNN:
        config = dict(config)
        return cls(layer_from_config(config.pop("cell")), **config)


RNN.register(Recurrent)  # isinstance(LSTM(8), RNN), as in Keras
