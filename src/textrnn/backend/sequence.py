"""The recurrent math in one module: whole-sequence fused kernels and the reference step loop.

Every recurrent layer runs through `run_sequence`. It picks PyTorch's fused kernels (the ones
nn.LSTM / nn.GRU / nn.RNN call, no Python loop over time) whenever the math allows, and otherwise the
step loop, which follows Keras's `backend.rnn` line by line and is the reference in the tests.

Conventions: batch-first tensors; `x` is already in processing order (flipped for go_backwards);
`mask` is a (batch, time) bool tensor or None. Keras's masking semantics: a masked step keeps the
states and repeats the previous output (zeros before the first valid step).
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Callable, Sequence

import torch
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

# A step function: (projected input at t, states, recurrent dropout masks) -> (output, new states).
StepFn = Callable[[torch.Tensor, list[torch.Tensor], Sequence[torch.Tensor] | None],
                  tuple[torch.Tensor, list[torch.Tensor]]]

_VF_KERNELS = {
    "lstm": torch._VF.lstm,
    "gru": torch._VF.gru,
    "rnn_tanh": torch._VF.rnn_tanh,
    "rnn_relu": torch._VF.rnn_relu,
}


def step_loop(
    step: StepFn,
    x_proj: torch.Tensor,
    states: list[torch.Tensor],
    mask: torch.Tensor | None,
    recurrent_masks: Sequence[torch.Tensor] | None,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Reference loop over time (Keras's backend.rnn). Returns (outputs (B, T, u), final states)."""
    outputs = []
    prev_output: torch.Tensor | None = None
    for t in range(x_proj.shape[1]):
        output, new_states = step(x_proj[:, t], states, recurrent_masks)
        if mask is not None:
            keep = mask[:, t, None]
            if prev_output is None:
                prev_output = torch.zeros_like(output)
            output = torch.where(keep, output, prev_output)
            new_states = [torch.where(keep, n, s) for n, s in zip(new_states, states)]
        outputs.append(output)
        prev_output, states = output, new_states
    return torch.stack(outputs, dim=1), states


def _kernel_context(data: torch.Tensor) -> contextlib.AbstractContextManager:
    """What PyTorch's fused kernel runs under. On CUDA: quiet about weight compaction (Keras's
    weights are mapped on at each call, never one flat buffer, so cuDNN copies them, a few KB, and
    PyTorch warns). Under CPU autocast: without oneDNN where oneDNN has no bfloat16 RNN (it needs
    AVX512-BF16 or AMX), and always under float16: CPUs whose oneDNN claims float16 (AVX512-FP16,
    e.g. Sapphire Rapids) still have no float16 LSTM primitive ("could not create a primitive
    descriptor"), so PyTorch's own RNN runs instead of failing."""
    if data.device.type == "cuda":
        return _quiet_weight_compaction()
    if data.device.type != "cpu" or not torch.is_autocast_enabled("cpu"):
        return contextlib.nullcontext()
    dtype = torch.get_autocast_dtype("cpu")
    supported = dtype == torch.bfloat16 and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    return contextlib.nullcontext() if supported else _without_onednn()


@contextlib.contextmanager
def _quiet_weight_compaction():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="RNN module weights are not part of single contiguous")
        yield


# oneDNN's switch is process-wide: the threads inside _without_onednn are counted, and the last
# one out puts back what the first one in found (a server's threads may overlap there; a float32
# model running meanwhile loses only oneDNN's speed, not its results).
_onednn_lock = threading.Lock()
_onednn_off = {"count": 0, "was": True}


@contextlib.contextmanager
def _without_onednn():
    # torch.backends.mkldnn.flags() would do, but warns about Intel GPUs on every call
    with _onednn_lock:
        if _onednn_off["count"] == 0:
            _onednn_off["was"] = torch.backends.mkldnn.enabled
            torch.backends.mkldnn.enabled = False
        _onednn_off["count"] += 1
    try:
        yield
    finally:
        with _onednn_lock:
            _onednn_off["count"] -= 1
            if _onednn_off["count"] == 0:
                torch.backends.mkldnn.enabled = _onednn_off["was"]


def _call_kernel(
    cell: str, data: torch.Tensor, batch_sizes: torch.Tensor | None,
    states: list[torch.Tensor], weights: list[torch.Tensor],
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    hx = [s.unsqueeze(0).contiguous() for s in states]
    hx_arg = tuple(hx) if cell == "lstm" else hx[0]
    train = torch.is_grad_enabled()
    kernel = _VF_KERNELS[cell]
    with _kernel_context(data):
        if batch_sizes is None:
            result = kernel(data, hx_arg, weights, True, 1, 0.0, train, False, True)
        else:
            result = kernel(data, batch_sizes, hx_arg, weights, True, 1, 0.0, train, False)
    output, *final = result
    return output, [f.squeeze(0) for f in final]


def fused_sequence(
    cell: str, x: torch.Tensor, states: list[torch.Tensor], weights: list[torch.Tensor],
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Whole sequence, no mask, through PyTorch's fused kernel. weights: PyTorch's
    [w_ih, w_hh, b_ih, b_hh] layout."""
    return _call_kernel(cell, x, None, states, weights)


def apply_input_mask(x: torch.Tensor, input_mask: torch.Tensor | None) -> torch.Tensor:
    """x (B, T, in) with Keras's input dropout mask (B, in) applied at every step."""
    return x if input_mask is None else x * input_mask[:, None, :]


def padding_runs(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """If every row's valid steps form one contiguous run (pre- or post-padding), return each row's
    (start, length); otherwise None. Empty rows get start = T, length 0."""
    steps = mask.shape[1]
    lengths = mask.sum(dim=1)
    first = torch.where(lengths > 0, mask.int().argmax(dim=1), torch.full_like(lengths, steps))
    t = torch.arange(steps, device=mask.device)
    run = (t[None, :] >= first[:, None]) & (t[None, :] < (first + lengths)[:, None])
    if not torch.equal(run, mask):
        return None
    return first, lengths


def _rows(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """x (B, T, C) at flat step indices `index` (B, T) into its B * T steps; index B * T is a zero
    step. Whole steps of C values are copied (index_select), far cheaper than an element gather."""
    batch, steps, width = x.shape
    flat = torch.cat([x.reshape(batch * steps, width), x.new_zeros(1, width)])
    return flat.index_select(0, index.reshape(-1)).view(batch, steps, width)


class _MoveSteps(torch.autograd.Function):
    """`_rows(x, index)` where `index` moves each step to at most one place and `inverse` moves it
    back: the backward is the reverse move, not a scatter-add."""

    @staticmethod
    def forward(ctx, x, index, inverse):
        ctx.save_for_backward(inverse)
        return _rows(x, index)

    @staticmethod
    def backward(ctx, grad):
        (inverse,) = ctx.saved_tensors
        return _rows(grad.contiguous(), inverse), None, None


def _move_steps(x: torch.Tensor, index: torch.Tensor, inverse: torch.Tensor) -> torch.Tensor:
    if torch.is_grad_enabled() and x.requires_grad:
        return _MoveSteps.apply(x, index, inverse)
    return _rows(x, index)  # inference and tracing: plain tensor ops


def _run_moves(x: torch.Tensor, starts: torch.Tensor, lengths: torch.Tensor):
    """Flat step indices that left-align each row's valid run (zeros after it) and that put it
    back in place (zeros around it); each is the other's inverse on the run."""
    batch, steps = x.shape[:2]
    t = torch.arange(steps, device=x.device)[None, :]
    row = torch.arange(batch, device=x.device)[:, None] * steps
    zero = batch * steps
    aligned = torch.where(t < lengths[:, None], row + starts[:, None] + t, zero)
    rel = t - starts[:, None]
    placed = torch.where((rel >= 0) & (rel < lengths[:, None]), row + rel, zero)
    return aligned, placed


def carry_after_runs(out: torch.Tensor, final: torch.Tensor, starts: torch.Tensor,
                      lengths: torch.Tensor) -> torch.Tensor:
    """Keras's carry: after a row's run (zeros there in `out`), its last output `final` repeats."""
    rel = torch.arange(out.shape[1], device=out.device)[None, :] - starts[:, None]
    after = rel >= lengths[:, None]
    if torch.jit.is_tracing() or bool(after.any()):  # pre-padded rows end at the last step: no carry
        out = out + after.to(out.dtype)[..., None] * final[:, None, :]
    return out


def _place_runs(out: torch.Tensor, final: torch.Tensor, moves, lengths: torch.Tensor,
                starts: torch.Tensor) -> torch.Tensor:
    """Left-aligned outputs (zeros after each run) put back at their time steps with Keras's carry
    semantics: zeros before a row's run, its last output `final` repeated after it."""
    aligned, placed = moves
    return carry_after_runs(_move_steps(out, placed, aligned), final, starts, lengths)


def aligned_masked_sequence(
    run: Callable[[torch.Tensor, list[torch.Tensor]], tuple[torch.Tensor, list[torch.Tensor]]],
    x: torch.Tensor, states: list[torch.Tensor], starts: torch.Tensor, lengths: torch.Tensor,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Padding masks through an unmasked whole-sequence kernel `run`: each row's valid run is
    moved to the front and the kernel runs the whole width; the steps after a run are computed and
    thrown away (they come after it, so they change nothing in it). That waste is small when a
    batch's rows have near-equal lengths (length buckets), and the fast kernels beat packing.
    Returns the outputs and the final output state only (for a single-state cell, the final state)."""
    batch, steps = x.shape[:2]
    moves = _run_moves(x, starts, lengths)
    out, _ = run(_move_steps(x, moves[0], moves[1]), states)
    last = torch.arange(batch, device=x.device) * steps + (lengths - 1).clamp(min=0)
    final = out.reshape(batch * steps, -1).index_select(0, last)
    final = torch.where((lengths == 0)[:, None], states[0], final)
    return _place_runs(out, final, moves, lengths, starts), [final]  # the tails' outputs are never read


def fused_masked_sequence(
    cell: str, x: torch.Tensor, states: list[torch.Tensor], weights: list[torch.Tensor],
    starts: torch.Tensor, lengths: torch.Tensor,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Padding masks through PyTorch's packed kernel: the valid run of each row is moved to the
    front, packed (so padding is never computed), then put back in place. Slower than
    `aligned_masked_sequence`, but it gives every final state (an LSTM's cell state too)."""
    steps = x.shape[1]
    moves = _run_moves(x, starts, lengths)
    run_lengths = lengths.clamp(min=1)  # the packer rejects empty rows; putting back zeroes them
    packed = pack_padded_sequence(_move_steps(x, moves[0], moves[1]), run_lengths.cpu(),
                                  batch_first=True, enforce_sorted=False)
    sorted_states = [s.index_select(0, packed.sorted_indices) for s in states]
    data, final = _call_kernel(cell, packed.data, packed.batch_sizes, sorted_states, weights)
    final = [f.index_select(0, packed.unsorted_indices) for f in final]
    out, _ = pad_packed_sequence(
        PackedSequence(data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices),
        batch_first=True, total_length=steps,
    )
    empty = (lengths == 0)[:, None]
    final = [torch.where(empty, s, f) for s, f in zip(states, final)]
    return _place_runs(out, final[0], moves, lengths, starts), final


def run_sequence(
    *,
    own_kernel: Callable[[torch.Tensor, list[torch.Tensor]], tuple[torch.Tensor, list[torch.Tensor]]]
    | None = None,
    span_kernel: Callable[..., tuple[torch.Tensor, list[torch.Tensor]]] | None = None,
    fused_cell: str | None,
    torch_weights: Callable[[], list[torch.Tensor]],
    project: Callable[[torch.Tensor], torch.Tensor],
    step: StepFn,
    x: torch.Tensor,
    states: list[torch.Tensor],
    mask: torch.Tensor | None,
    recurrent_masks: Sequence[torch.Tensor] | None,
    need_states: bool = True,
    input_mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Run a recurrent layer over `x` (processing order) and return (outputs, final states).

    `own_kernel` is textrnn's compiled kernel for the layer (textrnn.backend.kernels), used for unmasked
    input; `fused_cell` names PyTorch's kernel when the layer's math matches it (None: it does not);
    `project` maps inputs to input projections for the step loop (dropout already applied to x).
    A fused path is taken unless there is recurrent dropout or a mask that is not plain padding.
    Padding goes to `span_kernel` (x, states, starts, ends) when the layer has one (each row run on
    its valid steps only), else through the unmasked kernel on left-aligned rows unless
    `need_states` asks for the final states of a cell with more than one (an LSTM's c), which then
    only packing gives. `input_mask` (B, in) is Keras's input dropout mask (one per row for every
    step): `own_kernel` and `span_kernel` take it as `input_mask=` (the LSTM layer kernel
    applies it inside its time loop); every other path gets x multiplied by it first.
    """
    if fused_cell is None or recurrent_masks is not None:
        return step_loop(step, project(apply_input_mask(x, input_mask)), states, mask, recurrent_masks)
    if mask is None:
        if own_kernel is not None:
            return own_kernel(x, states, input_mask=input_mask)
        return fused_sequence(fused_cell, apply_input_mask(x, input_mask), states, torch_weights())
    runs = padding_runs(mask)
    if runs is None:
        return step_loop(step, project(apply_input_mask(x, input_mask)), states, mask, recurrent_masks)
    starts, lengths = runs
    if span_kernel is not None:
        out, final = span_kernel(x, states, starts, starts + lengths, input_mask=input_mask)
        return carry_after_runs(out, final[0], starts, lengths), final
    x = apply_input_mask(x, input_mask)
    if len(states) == 1 or not need_states:
        unmasked = own_kernel or (lambda seq, s: fused_sequence(fused_cell, seq, s, torch_weights()))
        return aligned_masked_sequence(unmasked, x, states, starts, lengths)
    return fused_masked_sequence(fused_cell, x, states, torch_weights(), starts, lengths)
