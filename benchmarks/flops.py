"""How far textrnn's training is from this CPU's arithmetic limit: achieved GFLOP/s per zoo model
against a measured float32 GEMM peak (torch.mm on large square matrices, all threads).

FLOPs counted per recurrent layer and training step (batch B, T steps, input size n, state size u,
G gate blocks: 4 for LSTM, 3 for GRU, 1 for SimpleRNN): forward x @ W and h @ U, 2BT(n+u)Gu;
backward dx, dh, dW, dU, twice that: 6G BTu(n+u) in all (24 BTu(n+u) for an LSTM). Gate
arithmetic, embedding, dense and optimizer are not counted, so the figure is an under-estimate
(by more for the small cells, whose steps carry little matrix work).

    python benchmarks/flops.py [--models stacked-lstm bi-lstm lstm simple-rnn gru] [--steps 20]
"""

import argparse
import os
import platform
import time
from datetime import datetime, timezone

import torch

from textrnn.app import zoo
from textrnn.layers import Bidirectional
from textrnn.layers.recurrent import Recurrent


def gemm_peak(size: int = 2048, repeats: int = 10) -> float:
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size**3 * repeats / (time.perf_counter() - start) / 1e9


def step_flops(model, batch: int, steps: int) -> float:
    total = 0.0
    for layer in model.layers:
        cells = [layer.forward_layer, layer.backward_layer] if isinstance(layer, Bidirectional) else [layer]
        for cell in cells:
            if isinstance(cell, Recurrent):
                n, u = cell.kernel.shape[0], cell.units
                total += 6 * cell.gates * batch * steps * u * (n + u)
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", nargs="+",
                        default=["stacked-lstm", "bi-lstm", "lstm", "simple-rnn", "gru"])
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    peak = gemm_peak()
    print(f"date: {datetime.now(timezone.utc):%Y-%m-%d}, machine: {platform.machine()}, "
          f"{os.cpu_count()} cores, {torch.get_num_threads()} threads; "
          f"float32 GEMM peak (torch.mm, 2048^3): {peak:.0f} GFLOP/s")
    print("| model | ms / step (batch 32 x 500) | GFLOP / step | GFLOP/s | % of GEMM peak |")
    print("|---|---|---|---|---|")
    for name in args.models:
        model = zoo.build(name)
        model.compile("rmsprop", "binary_crossentropy", ["acc"])
        x = torch.randint(1, 10000, (32, 500))
        y = torch.randint(0, 2, (32,)).float()
        for _ in range(3):
            model.train_on_batch(x, y)
        start = time.perf_counter()
        for _ in range(args.steps):
            model.train_on_batch(x, y)
        seconds = (time.perf_counter() - start) / args.steps
        flops = step_flops(model, 32, 500) / 1e9
        print(f"| {name} | {1000 * seconds:.1f} | {flops:.2f} | {flops / seconds:.0f} | "
              f"{100 * flops / seconds / peak:.0f} % |", flush=True)


if __name__ == "__main__":
    main()
