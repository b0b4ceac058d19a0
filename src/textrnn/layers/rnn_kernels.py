"""The recurrent math in one module: whole-sequence fused kernels and the reference step loop.

Every recurrent layer runs through `run_sequence`. It picks PyTorch's fused kernels (the ones
nn.LSTM / nn.GRU / nn.RNN call, no Python loop over time) whenever the math allows, and otherwise the
step loop, which follows Keras's `backend.rnn` line by line and is the reference in the tests.

Conventions: batch-first tensors; `x` is already in processing order (flipped for go_backwards);
`mask` is a (batch, time) bool tensor or None. Keras's masking semantics: a masked step keeps the
states and repeats the previous output (zeros before the first valid step).
"""

from __future__ import annotations

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


def _call_kernel(
    cell: str, data: torch.Tensor, batch_sizes: torch.Tensor | None,
    states: list[torch.Tensor], weights: list[torch.Tensor],
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    hx = [s.unsqueeze(0).contiguous() for s in states]
    hx_arg = tuple(hx) if cell == "lstm" else hx[0]
    train = torch.is_grad_enabled()
    kernel = _VF_KERNELS[cell]
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


def fused_masked_sequence(
    cell: str, x: torch.Tensor, states: list[torch.Tensor], weights: list[torch.Tensor],
    starts: torch.Tensor, lengths: torch.Tensor,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Padding masks through the fused kernel: the valid run of each row is moved to the front,
    packed (so padding is never computed), then outputs are put back in place with Keras's carry
    semantics (zeros before the run, the last valid output repeated after it)."""
    batch, steps = x.shape[:2]
    t = torch.arange(steps, device=x.device)
    # Left-align each row's valid run.
    src = (t[None, :] + starts.clamp(max=steps - 1)[:, None]).clamp(max=steps - 1)
    aligned = x.gather(1, src[..., None].expand(-1, -1, x.shape[2]))
    run_lengths = lengths.clamp(min=1)  # the packer rejects empty rows; they are zeroed below
    packed = pack_padded_sequence(aligned, run_lengths.cpu(), batch_first=True, enforce_sorted=False)
    sorted_states = [s.index_select(0, packed.sorted_indices) for s in states]
    data, final = _call_kernel(cell, packed.data, packed.batch_sizes, sorted_states, weights)
    final = [f.index_select(0, packed.unsorted_indices) for f in final]
    out, _ = pad_packed_sequence(
        PackedSequence(data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices),
        batch_first=True, total_length=steps,
    )
    # Put outputs back at their time steps; after the run, repeat the run's last output.
    rel = t[None, :] - starts[:, None]
    take = rel.clamp(min=0).minimum((lengths - 1).clamp(min=0)[:, None])
    out = out.gather(1, take[..., None].expand(-1, -1, out.shape[2]))
    before = (rel < 0) | (lengths == 0)[:, None]
    out = out.masked_fill(before[..., None], 0.0)
    empty = (lengths == 0)[:, None]
    final = [torch.where(empty, s, f) for s, f in zip(states, final)]
    return out, final


def run_sequence(
    *,
    own_kernel: Callable[[torch.Tensor, list[torch.Tensor]], tuple[torch.Tensor, list[torch.Tensor]]]
    | None = None,
    fused_cell: str | None,
    torch_weights: Callable[[], list[torch.Tensor]],
    project: Callable[[torch.Tensor], torch.Tensor],
    step: StepFn,
    x: torch.Tensor,
    states: list[torch.Tensor],
    mask: torch.Tensor | None,
    recurrent_masks: Sequence[torch.Tensor] | None,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Run a recurrent layer over `x` (processing order) and return (outputs, final states).

    `own_kernel` is textrnn's compiled kernel for the layer (textrnn.kernels), used for unmasked
    input; `fused_cell` names PyTorch's kernel when the layer's math matches it (None: it does not);
    `project` maps inputs to input projections for the step loop (dropout already applied to x).
    A fused path is taken unless there is recurrent dropout or a mask that is not plain padding.
    """
    if fused_cell is not None and recurrent_masks is None:
        if mask is None:
            if own_kernel is not None:
                return own_kernel(x, states)
            return fused_sequence(fused_cell, x, states, torch_weights())
        runs = padding_runs(mask)
        if runs is not None:
            return fused_masked_sequence(fused_cell, x, states, torch_weights(), *runs)
    return step_loop(step, project(x), states, mask, recurrent_masks)
