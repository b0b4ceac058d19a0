"""Training speed of the lecture's models: textrnn against plain PyTorch (stock nn.LSTM / nn.GRU /
nn.RNN, and the same with flush-denormal) and, when installed, Keras 3 on JAX and on
TensorFlow (the last column: against the faster of the two in each round). Each contender runs in
its own process (the denormal and malloc settings are per process), trains on real IMDB batches
(`--batch` 32 or 128 x 500 words, RMSprop): one warm-up pass of 3 batches, then one timed epoch over
`--steps` batches (through `fit` for textrnn and Keras, a plain loop for PyTorch); the contenders alternate so
drift hits all alike.

    TEXTRNN_DATA=... python benchmarks/train_speed.py [--models stacked-lstm gru ...] [--steps 30]
        [--batch 128] [--contenders textrnn keras-jax keras-tf]

Prints ms per training step, seconds per epoch (25,000 reviews) and each contender's time as a
multiple of textrnn's.
"""

import argparse
import os
import platform
import textwrap
from datetime import datetime, timezone

from contenders import best_of, keras_contenders, ratios_per_round, run_rounds, with_keras_if_installed

WORKER = textwrap.dedent('''
    import json, sys, time
    contender, name, steps, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    import numpy as np
    from textrnn.data.datasets import prepare
    data = prepare("imdb", quiet=True)
    x, y = data.x_train[: batch * (steps + 3)], data.y_train[: batch * (steps + 3)].astype("float32")
    epoch = None
    if contender.startswith("textrnn"):
        from textrnn.app import zoo
        model = zoo.build(name)
        model.compile("rmsprop", "binary_crossentropy", ["acc"])
    elif contender.startswith("keras-"):
        from benchmarks.keras_reference import build  # run from the repository root
        model = build(name)
        model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["acc"])
    if contender.startswith(("keras-", "textrnn")):
        # whole epochs through fit: data feeding, shuffling and the optimizer included
        epoch = lambda xs, ys: model.fit(xs, ys, batch_size=batch, epochs=1, verbose=0, shuffle=True)
    else:
        import torch
        if contender == "pytorch-ftz":
            torch.set_flush_denormal(True)
        from torch import nn
        cell = {"lstm": nn.LSTM, "stacked-lstm": nn.LSTM, "bi-lstm": nn.LSTM, "gru": nn.GRU,
                "bi-gru": nn.GRU, "simple-rnn": nn.RNN}[name]
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.emb = nn.Embedding(10000, 32)
                self.rnn = cell(32, 32, num_layers=3 if name == "stacked-lstm" else 1,
                                bidirectional=name.startswith("bi"), batch_first=True)
                self.out = nn.Linear(64 if name.startswith("bi") else 32, 1)
            def forward(self, ids):
                out, _ = self.rnn(self.emb(ids))
                return torch.sigmoid(self.out(out[:, -1]))
        net = Net()
        opt = torch.optim.RMSprop(net.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
        def step(xb, yb):
            opt.zero_grad()
            loss = nn.functional.binary_cross_entropy(net(torch.from_numpy(xb).long())[:, 0],
                                                      torch.from_numpy(yb))
            loss.backward()
            opt.step()
    if epoch is None:
        epoch = lambda xs, ys: [step(xs[i:i + batch], ys[i:i + batch]) for i in range(0, len(xs), batch)]
    epoch(x[:3 * batch], y[:3 * batch])  # warm-up (compilation, first allocations)
    start = time.perf_counter()
    epoch(x[3 * batch:], y[3 * batch:])
    print(json.dumps({"ms": 1000 * (time.perf_counter() - start) / steps}))
''')

CONTENDERS = {
    "textrnn": {},
    "textrnn, PyTorch kernels": {"TEXTRNN_KERNEL": "0"},
    "pytorch-stock": {},
    "pytorch-ftz": {},
    "keras-jax": {"KERAS_BACKEND": "jax"},
    "keras-tf": {"KERAS_BACKEND": "tensorflow"},
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", nargs="+",
                        default=["stacked-lstm", "bi-lstm", "lstm", "simple-rnn", "gru"])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--contenders", nargs="+", choices=list(CONTENDERS), default=list(CONTENDERS),
                        help="a subset (textrnn is always run: the ratios are to it)")
    args = parser.parse_args()
    picked = {"textrnn", *args.contenders}
    contenders = with_keras_if_installed({k: v for k, v in CONTENDERS.items() if k in picked})
    epoch_steps = -(-25000 // args.batch)
    print(f"date: {datetime.now(timezone.utc):%Y-%m-%d}, machine: {platform.machine()}, "
          f"{os.cpu_count()} cores; batch {args.batch} x 500 words, RMSprop, {args.steps} steps after "
          f"warm-up, "
          f"best of {args.rounds} alternating rounds")
    keras = keras_contenders(contenders)
    print("| model | " + " | ".join(contenders) +
          (" | fastest Keras / textrnn per round |" if keras else " |"))
    print("|---|" + "---|" * (len(contenders) + bool(keras)))
    for name in args.models:
        results = run_rounds(WORKER, name, [str(args.steps), str(args.batch)], contenders, args.rounds, "ms")
        best = best_of(results, min)
        base = best["textrnn"]
        cells = [f"{ms:.1f} ms ({ms * epoch_steps / 1000:.0f} s/epoch, {ms / base:.2f}x)"
                 for ms in best.values()]
        if keras:
            cells.append(ratios_per_round(results, keras, "textrnn"))
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
