"""The whole-layer LSTM kernel alone: forward (training, inference) and backward of one layer,
batch 32 x 500 steps, at the lecture's size (32 inputs, 32 units) and the recipe's (64, 128).
Then the per-step operations of train_ops.cpp against the PyTorch ops they replace, on the
lecture's embedding table (10,000 x 32, a batch of 32 x 500 ids): its gradient, and one RMSprop
and Adam update of it.

With `--against DIR` (another tree's src/textrnn/kernels, e.g. from `git worktree add /tmp/old
HEAD~1`), that tree's kernel is built too and both run in this one process, alternating round by
round, so the machine's drift (it swings by 1.5x within minutes) hits both alike; each shows its
best and median time. This is how a kernel change is judged here before whole training steps are
timed; `--threads 1` takes the other core's neighbours out of the picture.

`--cells gru simple-rnn` times those whole-layer kernels too (same sizes, same parts).

    python benchmarks/kernel_speed.py [--against /tmp/old/src/textrnn/kernels] [--rounds 8] [--threads 1]
        [--cells lstm gru simple-rnn]
"""

import argparse
import platform
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

SIZES = [(32, 32), (64, 64), (128, 128)]  # (inputs, units)


def load_other(directory: Path):
    from torch.utils.cpp_extension import load

    sources = [str(p) for p in sorted(directory.glob("*.cpp"))]
    build = Path(tempfile.gettempdir()) / "textrnn-kernel-speed-against"
    build.mkdir(exist_ok=True)
    return load(name="textrnn_lstm_against", sources=sources, build_directory=str(build),
                extra_cflags=["-O3", "-march=native", "-ffast-math", "-fopenmp"],
                extra_ldflags=["-fopenmp"], verbose=False)


def layer_calls(module, inputs: int, units: int, batch: int = 32, steps: int = 500):
    """(forward-train, forward-inference, backward) closures on fixed random data."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, steps, inputs, generator=gen)
    W = torch.randn(inputs, 4 * units, generator=gen) * 0.2
    U = torch.randn(units, 4 * units, generator=gen) * 0.2
    b = torch.zeros(4 * units)
    h0, c0 = torch.zeros(batch, units), torch.zeros(batch, units)
    spans, no_mask = torch.empty(0, dtype=torch.long), torch.empty(0)
    dH = torch.randn(batch, steps, units, generator=gen) * 0.01
    forward_tail, backward_tail = token_args(module)
    mask_arg = [no_mask]
    try:  # trees before the input dropout mask take one argument less
        module.lstm_layer_forward(x, W, b, U, h0, c0, True, spans, spans, no_mask, *forward_tail)
    except TypeError:
        mask_arg = []
    H, hT, cT, C, G, *_ = module.lstm_layer_forward(x, W, b, U, h0, c0, True, spans, spans, *mask_arg,
                                                    *forward_tail)
    zeros_h, zeros_c = torch.zeros_like(hT), torch.zeros_like(cT)
    return {
        "forward (training)": lambda: module.lstm_layer_forward(x, W, b, U, h0, c0, True, spans, spans,
                                                                *mask_arg, *forward_tail),
        "forward (inference)": lambda: module.lstm_layer_forward(x, W, b, U, h0, c0, False, spans, spans,
                                                                 *mask_arg, *forward_tail),
        "backward": lambda: module.lstm_layer_backward(x, W, U, h0, c0, H, C, G, dH, zeros_h, zeros_c,
                                                       spans, spans, *mask_arg, *backward_tail),
    }


def token_args(module) -> tuple[list, list]:
    """The layer kernels' trailing arguments for their plain mode: (forward's, backward's); trees
    before the token modes take none."""
    probe = torch.zeros(1, 1, 16)
    try:
        module.rnn_layer_forward(probe, torch.zeros(16, 16), torch.zeros(16), torch.zeros(16, 16),
                                 torch.zeros(1, 16), False, torch.empty(0), [])
    except TypeError:
        return [], []
    return [[]], [torch.empty(0, dtype=torch.long), []]


def other_layer_calls(module, cell: str, inputs: int, units: int, batch: int = 32, steps: int = 500):
    """The same three closures for the GRU (reset_after) or SimpleRNN whole-layer kernel, with
    Keras's input dropout mask (rate 0.2) as the lecture's models train."""
    gen = torch.Generator().manual_seed(0)
    gates = 3 if cell == "gru" else 1
    x = torch.randn(batch, steps, inputs, generator=gen)
    W = torch.randn(inputs, gates * units, generator=gen) * 0.2
    U = torch.randn(units, gates * units, generator=gen) * 0.2
    b = torch.zeros(gates * units)
    h0, no_mask = torch.zeros(batch, units), torch.empty(0)
    mask = (torch.rand(batch, inputs, generator=gen) > 0.2).float() / 0.8
    dhT, dH = torch.randn(batch, units, generator=gen), torch.empty(0)
    ft, bt = token_args(module)
    if cell == "gru":
        forward = lambda keep, m: module.gru_layer_forward(x, W, b, U, b, h0, keep, m, *ft)  # noqa: E731
        H, G, XM = forward(True, mask)
        backward = lambda: module.gru_layer_backward(XM, W, U, h0, H, G, dH, dhT, mask, *bt)  # noqa: E731
    else:
        forward = lambda keep, m: module.rnn_layer_forward(x, W, b, U, h0, keep, m, *ft)  # noqa: E731
        H, XM = forward(True, mask)
        backward = lambda: module.rnn_layer_backward(XM, W, U, h0, H, dH, dhT, mask, *bt)  # noqa: E731
    return {"forward (training)": lambda: forward(True, mask),
            "forward (inference)": lambda: forward(False, no_mask), "backward": backward}


def calls_for(module, cell: str, inputs: int, units: int):
    if cell == "lstm":
        return layer_calls(module, inputs, units)
    return other_layer_calls(module, cell, inputs, units)


def best_ms(call, repeats: int = 3) -> float:
    call()
    start = time.perf_counter()
    for _ in range(repeats):
        call()
    return (time.perf_counter() - start) / repeats * 1000


def op_calls():
    """(name, textrnn's one-pass op, the PyTorch ops it replaces) on the lecture's table."""
    from textrnn.backend import kernels
    from textrnn.training import optimizers

    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 10000, (32 * 500,), generator=gen)
    grad = torch.randn(32 * 500, 32, generator=gen)
    calls = [("embedding gradient", lambda: kernels.embedding_grad(ids, grad, 10000),
              lambda: torch.zeros(10000, 32).index_add_(0, ids, grad))]
    for name in ("rmsprop", "adam"):
        pair = []
        for fused in (True, False):
            table = torch.nn.Parameter(torch.randn(10000, 32, generator=gen))
            table.grad = torch.randn(10000, 32, generator=gen)
            opt = optimizers.OptimizerSpec(name).create([table])
            if fused:
                pair.append(opt.step)
            else:  # the foreach path: what runs without the kernels
                def foreach_step(opt=opt, name=name):
                    saved = getattr(kernels, f"{name}_step")
                    setattr(kernels, f"{name}_step", lambda *args: False)
                    try:
                        opt.step()
                    finally:
                        setattr(kernels, f"{name}_step", saved)
                pair.append(foreach_step)
        calls.append((f"{name} update", *pair))
    return calls


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--against", type=Path, help="another tree's src/textrnn/kernels directory")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    parser.add_argument("--cells", nargs="+", default=["lstm"], choices=["lstm", "gru", "simple-rnn"])
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from textrnn.backend import kernels

    if not kernels.available():
        raise SystemExit("textrnn's kernels are not built on this machine")
    modules = {"this tree": kernels._module}
    if args.against:
        modules["--against"] = load_other(args.against)
    times: dict[tuple, list[float]] = {}
    for round_ in range(args.rounds):
        for cell in args.cells:
            for inputs, units in SIZES:
                order = list(modules.items())
                for tag, module in order if round_ % 2 == 0 else order[::-1]:  # neither always goes first
                    for part, call in calls_for(module, cell, inputs, units).items():
                        times.setdefault((cell, inputs, units, part, tag), []).append(best_ms(call))
    print(f"date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, machine: {platform.machine()}, "
          f"{torch.get_num_threads()} threads; one layer, batch 32 x 500 steps, "
          f"best / median of {args.rounds} rounds")
    tags = list(modules)
    change_column = " | change (best, median) |" if len(tags) > 1 else " |"
    print("| cell | inputs / units | part | " + " | ".join(tags) + change_column)
    print("|---" * (3 + len(tags) + (len(tags) > 1)) + "|")
    for cell in args.cells:
        for inputs, units in SIZES:
            for part in ("forward (training)", "forward (inference)", "backward"):
                runs = [times[(cell, inputs, units, part, tag)] for tag in tags]
                best = [min(r) for r in runs]
                median = [statistics.median(r) for r in runs]
                cells = " | ".join(f"{b:.2f} / {m:.2f} ms" for b, m in zip(best, median))
                change = (f" | {best[0] / best[1] - 1:+.0%}, {median[0] / median[1] - 1:+.0%} |"
                          if len(runs) > 1 else " |")
                print(f"| {cell} | {inputs} / {units} | {part} | {cells}{change}")

    ops = op_calls()
    op_best: dict[tuple, float] = {}
    for round_ in range(args.rounds):
        for name, ours, theirs in ops:
            pair = [("textrnn", ours), ("PyTorch", theirs)]
            for tag, call in pair if round_ % 2 == 0 else pair[::-1]:
                key = (name, tag)
                op_best[key] = min(op_best.get(key, float("inf")), best_ms(call, repeats=20))
    print("\n| 10,000 x 32 table | textrnn (train_ops.cpp) | PyTorch ops | speed-up |")
    print("|---|---|---|---|")
    for name, _, _ in ops:
        ours, theirs = op_best[(name, "textrnn")], op_best[(name, "PyTorch")]
        print(f"| {name} | {ours:.3f} ms | {theirs:.3f} ms | {theirs / ours:.2f}x |")


if __name__ == "__main__":
    main()
