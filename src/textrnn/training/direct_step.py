"""A training step of the lecture's model shapes straight through textrnn's kernels, no autograd.

For Embedding -> recurrent layers (LSTM, GRU, SimpleRNN, or Bidirectional of one, merge "concat") ->
Dense(1, sigmoid) compiled with binary_crossentropy, the forward and backward of a step are a fixed
chain of the whole-layer kernels (backend/csrc/: lstm.cpp, gru.cpp, simple_rnn.cpp, token.cpp).
Through autograd, ~1 ms of a 5 ms LSTM step went to building and walking its graph and ~100 small
ops around those kernels; here the chain is called directly: the layers' forward kernels in order,
the head's loss and gradient in one pass (kernels.sigmoid_bce), the layers' backward kernels in
reverse, the embedding's gradient; then the model's own optimizer steps on the gradients put in
`.grad` (benchmarks/step_ab.py: 9-12 % faster steps; docs/benchmarks.md, the goal).

The first recurrent block never sees a (batch, steps, dim) array of looked-up words: a review of
500 words has ~130 distinct ones (IMDB, mean; a batch of 32 ~1,800 of 16,000 words), and its
input side is computed per distinct token. Without input dropout (token mode) the projection
x @ W + b is made once per distinct token of the batch, and the backward sums each token's
projection gradients before dW, dx and the table's gradient (small GEMMs). With input dropout
(Keras draws one mask per row, so rows differ: row-token mode) the same per distinct token of
each row, inside the kernels. Same dropout masks (drawn by the layers' function in the same
order), same math summed in another order: the weights and optimizer state match the autograd
step's to float rounding (tests/test_direct_step.py). Anything else (recurrent dropout, other
layers, float64, no AVX-512, distributed training; padding masks but on stacks of plain LSTMs)
takes the autograd step; TEXTRNN_DIRECT_STEP=0 forces it. Under mask_zero, stacks of plain
LSTMs take padded batches too (each row run on its valid steps, as the autograd step's span
kernel runs it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch

from textrnn.backend import kernels, sequence
from textrnn.layers.core import Dense
from textrnn.layers.embedding import Embedding
from textrnn.layers.recurrent import GRU, LSTM, Recurrent, SimpleRNN
from textrnn.layers.recurrent_cells import dropout_masks
from textrnn.layers.wrappers import Bidirectional
from textrnn.training import losses
from textrnn.training.optimizers import step_optimizer

_NONE = torch.empty(0)
_NO_SPANS = torch.empty(0, dtype=torch.long)


@dataclass
class _Tokens:
    """A first layer's input in token mode: the batch's distinct tokens' embedding rows and where
    each (row, step) reads."""

    inv: torch.Tensor  # (B, T) int64: positions in `rows`
    rows: torch.Tensor  # (distinct, in)


@dataclass
class _RowTokens:
    """A first layer's input in row-token mode: the embedding table and each row's distinct tokens
    (kernels' row_tokens); the kernels project a row's few distinct tokens, not its every word."""

    table: torch.Tensor  # (V, in)
    tok: torch.Tensor  # (B, T): row b's distinct ids in tok[b, :counts[b]]
    pos: torch.Tensor  # (B, T): each step's position in its row's list (reversed for go_backwards)
    counts: torch.Tensor  # (B,)

    def arrays(self) -> list[torch.Tensor]:
        return [self.tok, self.pos, self.counts]


@dataclass
class _Saved:
    """What one recurrent layer's forward keeps for its backward."""

    x: torch.Tensor | _Tokens | _RowTokens  # the input as the projection saw it (masked by dropout if any)
    h0: torch.Tensor
    H: torch.Tensor
    xmask: torch.Tensor
    extra: tuple = field(default_factory=tuple)  # LSTM: (c0, C, G, starts, ends); GRU: (G,)


def _layer_fits(layer: Recurrent) -> bool:
    return (type(layer) in (LSTM, GRU, SimpleRNN) and layer.fused_cell == layer.kernel_cell
            and layer._fits_layer_kernel() and layer.recurrent_dropout == 0 and not layer.return_state
            and not layer.stateful)


def _token_forward(layer: Recurrent, tokens: _Tokens, spans: tuple[torch.Tensor, torch.Tensor] | None,
                   ) -> tuple[torch.Tensor, torch.Tensor, _Saved]:
    """_forward in token mode: the input projection x @ W + b made once per distinct token (a small
    GEMM), the kernel reading each step's row of it by position (token_layer_forward)."""
    inv = tokens.inv.flip(1).contiguous() if layer.go_backwards else tokens.inv
    batch = inv.shape[0]
    bias = layer.input_bias()
    table = kernels.ops().token_projection(tokens.rows, layer.kernel, _NONE if bias is None else bias)
    h0 = table.new_zeros(batch, layer.units)
    c0 = table.new_zeros(batch, layer.units) if isinstance(layer, LSTM) else _NONE
    rec_bias = _NONE
    if isinstance(layer, GRU):
        rec_bias = layer.bias[1] if layer.use_bias else table.new_zeros(3 * layer.units)
    starts, ends = spans or (_NO_SPANS, _NO_SPANS)
    U = layer.recurrent_kernel
    H, hT, _, C, G = kernels.ops().token_layer_forward(layer.kernel_cell, inv, table, U, rec_bias, h0, c0,
                                                        starts, ends, True)
    extra = (c0, C, G, starts, ends) if isinstance(layer, LSTM) else (G,) if isinstance(layer, GRU) else ()
    return H, hT, _Saved(_Tokens(inv, tokens.rows), h0, H, _NONE, extra)


def _forward(layer: Recurrent, x: torch.Tensor | _Tokens, training: bool,
             spans: tuple[torch.Tensor, torch.Tensor] | None) -> tuple[torch.Tensor, torch.Tensor, _Saved]:
    """(outputs (B, T, u) in processing order, final output, saved) of one layer on x (B, T, in);
    with `spans` (an LSTM under a padding mask) each row runs its steps [start, end) only."""
    if isinstance(x, _Tokens):
        return _token_forward(layer, x, spans)
    if isinstance(x, _RowTokens):
        if layer.go_backwards:
            x = _RowTokens(x.table, x.tok, x.pos.flip(1).contiguous(), x.counts)
        batch, width, like, tokens = x.tok.shape[0], x.table.shape[1], x.table, x.arrays()
    else:
        x = (x.flip(1) if layer.go_backwards else x).contiguous()
        batch, width, like, tokens = x.shape[0], x.shape[2], x, []
    xmask = (dropout_masks(batch, width, layer.dropout, 1, like)[0]
             if training and layer.dropout > 0 else _NONE)
    x_in = x.table if tokens else x
    h0 = like.new_zeros(batch, layer.units)
    bias = layer.input_bias()
    bias = _NONE if bias is None else bias.contiguous()
    module, W, U = kernels.ops(), layer.kernel, layer.recurrent_kernel
    if isinstance(layer, LSTM):
        c0 = like.new_zeros(batch, layer.units)
        starts, ends = spans or (_NO_SPANS, _NO_SPANS)
        H, hT, _, C, G, XM = module.lstm_layer_forward(x_in, W, bias, U, h0, c0, True, starts, ends, xmask,
                                                       tokens)
        extra = (c0, C, G, starts, ends)
    elif isinstance(layer, GRU):
        rec_bias = layer.bias[1] if layer.use_bias else like.new_zeros(3 * layer.units)
        H, G, XM = module.gru_layer_forward(x_in, W, bias, U, rec_bias, h0, True, xmask, tokens)
        hT, extra = H[:, -1], (G,)
    else:
        H, XM = module.rnn_layer_forward(x_in, W, bias, U, h0, True, xmask, tokens)
        hT, extra = H[:, -1], ()
    return H, hT, _Saved(XM if xmask.numel() and not tokens else x, h0, H, xmask, extra)


def _backward(layer: Recurrent, saved: _Saved, dH: torch.Tensor, dhT: torch.Tensor,
              grads: dict[torch.nn.Parameter, torch.Tensor]) -> torch.Tensor:
    """The gradient into the layer's input x (B, T, in) given its outputs' (dH, or empty) and its
    final output's (dhT); the weights' gradients go to `grads`. In token mode: the gradient into
    the distinct tokens' rows (distinct, in)."""
    module = kernels.ops()
    x, h0, H, xmask = saved.x, saved.h0, saved.H, saved.xmask
    tokens = x if isinstance(x, _Tokens) else None
    row_tokens = x.arrays() if isinstance(x, _RowTokens) else []
    inv = tokens.inv if tokens else kernels.NO_TOKENS
    x = tokens.rows if tokens else x.table if row_tokens else x
    W, U = layer.kernel, layer.recurrent_kernel
    if isinstance(layer, LSTM):
        c0, C, G, starts, ends = saved.extra
        dcT = torch.zeros_like(c0)
        dx, dW, dU, db, _, _ = module.lstm_layer_backward(x, W, U, h0, c0, H, C, G, dH, dhT, dcT, starts,
                                                          ends, xmask, inv, row_tokens)
    elif isinstance(layer, GRU):
        (G,) = saved.extra
        dx, dW, db_in, dU, db_rec, _ = module.gru_layer_backward(x, W, U, h0, H, G, dH, dhT, xmask, inv,
                                                                 row_tokens)
        db = torch.stack([db_in, db_rec]) if layer.use_bias else None
    else:
        dx, dW, db, dU, _ = module.rnn_layer_backward(x, W, U, h0, H, dH, dhT, xmask, inv, row_tokens)
    grads[layer.kernel] = dW
    grads[layer.recurrent_kernel] = dU
    if layer.use_bias:
        grads[layer.bias] = db
    return dx.flip(1) if layer.go_backwards and not (tokens or row_tokens) else dx


def _layers(block: Recurrent | Bidirectional) -> list[Recurrent]:
    return [block.forward_layer, block.backward_layer] if type(block) is Bidirectional else [block]


def _block_forward(block: Recurrent | Bidirectional, x: torch.Tensor, training: bool,
                   spans: tuple[torch.Tensor, torch.Tensor] | None) -> tuple[torch.Tensor, list[_Saved]]:
    """A recurrent block's output on x (its outputs if it returns sequences, else its final
    output; a Bidirectional block's two concatenated, the backward copy's sequence re-reversed)
    and what its layers keep for the backward."""
    outs, kept = [], []
    for k, layer in enumerate(_layers(block)):
        H, last, saved = _forward(layer, x, training, spans)
        outs.append((H.flip(1) if k == 1 else H) if block.return_sequences else last)
        kept.append(saved)
    return (outs[0] if len(outs) == 1 else torch.cat(outs, dim=-1)), kept


def _block_backward(block: Recurrent | Bidirectional, kept: list[_Saved], dout: torch.Tensor,
                    grads: dict[torch.nn.Parameter, torch.Tensor]) -> torch.Tensor | list[torch.Tensor]:
    """The gradient into a recurrent block's input given its output's, `dout` ((B, T, u) for a
    block returning sequences, else (B, u)); its weights' gradients go to `grads`. In row-token
    mode, each layer's (only the first counts[b] slots of a row hold gradients: not summed here)."""
    dxs = []
    for k, (layer, saved) in enumerate(zip(_layers(block), kept)):
        part = dout[..., k * layer.units:(k + 1) * layer.units]
        if block.return_sequences:
            part = (part.flip(1) if k == 1 else part).contiguous()
            dxs.append(_backward(layer, saved, part, part.new_zeros(part.shape[0], layer.units), grads))
        else:
            dxs.append(_backward(layer, saved, part.new_empty(0), part.contiguous(), grads))
    if isinstance(kept[0].x, _RowTokens):
        return dxs
    return dxs[0] if len(dxs) == 1 else dxs[0] + dxs[1]


def _plain_pair(block: Bidirectional) -> bool:
    """Two layers of one kind and width, concatenated, giving no states (what the step runs)."""
    forward, backward = block.forward_layer, block.backward_layer
    return (block.merge_mode == "concat" and not block.return_state
            and type(forward) is type(backward) and forward.units == backward.units)


class DirectStep:
    """The plan of a model's direct step; `DirectStep.plan(model)` is None when it does not apply."""

    def __init__(self, embedding: Embedding, blocks: list[Recurrent | Bidirectional], head: Dense) -> None:
        self.embedding, self.blocks, self.head = embedding, blocks, head
        # Under a padding mask only plain forward LSTMs, whose kernel runs each row on its span
        self.takes_spans = all(type(block) is LSTM and not block.go_backwards for block in blocks)

    @classmethod
    def plan(cls, model) -> DirectStep | None:  # noqa: ANN001 - a Sequential (import cycle)
        if os.environ.get("TEXTRNN_DIRECT_STEP", "1") == "0" or model.subclassed:  # (its call decides)
            return None
        layers = model.layers
        loss = losses.function_name(getattr(model, "loss", None))
        if (len(layers) < 3 or loss != "binary_crossentropy"
                or type(layers[0]) is not Embedding or type(layers[-1]) is not Dense):
            return None
        embedding, blocks, head = layers[0], layers[1:-1], layers[-1]
        if (embedding.embeddings.dtype != torch.float32 or not kernels.runs_on(embedding.embeddings)
                or head.units != 1 or head.activation != "sigmoid"):
            return None
        for k, block in enumerate(blocks):
            if not all(isinstance(layer, Recurrent) and _layer_fits(layer) for layer in _layers(block)):
                return None
            if type(block) is Bidirectional and not _plain_pair(block):
                return None
            if block.return_sequences == (k == len(blocks) - 1):  # all but the last return sequences
                return None
        return cls(embedding, list(blocks), head)

    def token_mode(self, training: bool) -> bool:
        """Whether the first block's layers run in token mode: when they have no input dropout,
        their input side (projection, dW, the table's gradient) is computed once per distinct
        token of the batch (a few thousand for 16,000 words) as small GEMMs, not per word; the
        same math, summed in another order (float rounding)."""
        return not training or all(layer.dropout == 0 for layer in _layers(self.blocks[0]))

    def _spans(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Each row's valid steps [start, end) under mask_zero, or None where the autograd step
        must take the batch: other layers than plain LSTMs, a row whose words are not one run
        (padding inside it), an empty row. Keras's masked LSTM carries its last output over the
        padding after the run; the next layer never reads those steps (it runs the same spans),
        and the last layer's output is its final state, so the carry changes nothing here."""
        if not self.takes_spans:
            return None
        runs = sequence.padding_runs(ids != 0)
        if runs is None or not bool(runs[1].all()):
            return None
        starts, lengths = runs
        return starts.contiguous(), (starts + lengths).contiguous()

    @torch.no_grad()
    def __call__(self, model, ids: torch.Tensor, y: torch.Tensor) -> tuple[float, float] | None:  # noqa: ANN001
        """One step: (loss, accuracy) as the autograd step gives them, the optimizer stepped; None
        (nothing done) for a batch it does not take (see `_spans`), or weights no longer float32."""
        embedding = self.embedding
        if embedding.embeddings.dtype != torch.float32:  # converted since the plan was made
            return None
        ids = embedding.token_ids(ids)
        spans = None
        if embedding.mask_zero and not bool(ids.all()):
            spans = self._spans(ids)
            if spans is None:
                return None
        training = model.training
        table = embedding.embeddings
        tokens = self.token_mode(training)
        if tokens:
            distinct, inv = kernels.distinct_tokens(ids, table.shape[0])
            x = _Tokens(inv, table.index_select(0, distinct))
        else:
            x = _RowTokens(table, *kernels.ops().row_tokens(ids, table.shape[0]))
        first = x
        saved = []
        for block in self.blocks:
            x, kept = _block_forward(block, x, training, spans)
            saved.append(kept)

        head = self.head
        z = x @ head.kernel
        if head.use_bias:
            z = z + head.bias
        loss, acc, dz = kernels.sigmoid_bce(torch.sigmoid(z), y)
        grads: dict[torch.nn.Parameter, torch.Tensor] = {head.kernel: x.t().mm(dz)}
        if head.use_bias:
            grads[head.bias] = dz.sum(0)
        dout = dz.mm(head.kernel.t())

        for block, kept in zip(reversed(self.blocks), reversed(saved)):
            dout = _block_backward(block, kept, dout, grads)
        if table.requires_grad and tokens:
            grads[table] = kernels.embedding_grad(distinct, dout, table.shape[0])  # distinct: a copy
        elif table.requires_grad:
            grads[table] = kernels.ops().row_tokens_grad(first.tok, first.counts, dout, table.shape[0])

        for weight in model.weights:
            weight.grad = grads.get(weight) if weight.requires_grad else None
        step_optimizer(model.optimizer)
        return loss, acc
