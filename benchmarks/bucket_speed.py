"""What length buckets buy (issues 6 and 10): training speed on the first N IMDB training reviews,
one epoch each way, in the same process, of a zoo model with `mask_zero=True`:

- length buckets: rows of near-equal length per batch, most padding cut off, the rest masked
  (identical results to the next);
- padded + mask: every batch padded to maxlen, the mask skipping padding;
- padded, no mask: padded, the padding computed like words (other results).

It also prints how much work the buckets leave: batches, time steps run in sequence, and row-steps
computed against the reviews' real words.

Models: `bi-lstm-pool`, the recipe's network until 2026-11-29 (vocabulary 30,000, 64-d, 400 words,
Bi-LSTM(64); the recipe now trains `bi-gru-pool`), or a lecture model with the lecture's settings
(10,000 words, 32-d, 500 words, 32 units).

    TEXTRNN_DATA=/path/to/aclImdb_v1.tar.gz python benchmarks/bucket_speed.py [--model lstm] [--reviews 3200]
        [--rounds 3]   (contenders alternate; each one's best epoch counts)
"""

import argparse
import os
import platform
import time
from datetime import datetime, timezone

import numpy as np
import torch

from textrnn.app import zoo
from textrnn.data.buckets import batch_width, length_batches, row_lengths
from textrnn.data.datasets import prepare
from textrnn.training.optimizers import OptimizerSpec

SHAPES = {"bi-lstm-pool": zoo.ZooConfig(vocab_size=30000, embedding_dim=64, maxlen=400, units=64)}


def epoch_seconds(name: str, x, y, buckets: bool, mask_zero: bool) -> float:
    torch.manual_seed(0)
    model = zoo.build(name, SHAPES.get(name, zoo.ZooConfig()))
    model.length_buckets = buckets
    model.layers[0].mask_zero = mask_zero
    model.compile(OptimizerSpec("adam", 0.001), "binary_crossentropy", ["acc"])
    model.fit(x[:64], y[:64], batch_size=32, epochs=1, verbose=0)  # warm-up: kernels loaded
    start = time.perf_counter()
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="bi-lstm-pool", help="a zoo model (default bi-lstm-pool)")
    parser.add_argument("--reviews", type=int, default=25000,
                        help="training reviews (default all: fewer make more, smaller length buckets)")
    parser.add_argument("--masked-reviews", type=int, default=25000,
                        help="reviews for the padded + mask path (default all; its rate is per review)")
    parser.add_argument("--rounds", type=int, default=1, help="alternating rounds; the best epoch counts")
    args = parser.parse_args()
    shape = SHAPES.get(args.model, zoo.ZooConfig())
    data = prepare("imdb", num_words=shape.vocab_size, maxlen=shape.maxlen, quiet=True)
    x, y = data.x_train[:args.reviews], data.y_train[:args.reviews]
    print(f"date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, machine: {platform.machine()}, "
          f"{os.cpu_count()} cores, {torch.get_num_threads()} threads; {args.model}, {len(x):,} reviews, "
          f"batch 32\n")
    lengths = row_lengths(x)
    batches = length_batches(lengths, 32, np.random.default_rng(0))
    widths = [batch_width(lengths[rows], x.shape[1]) for rows in batches]
    computed = sum(w * len(rows) for w, rows in zip(widths, batches))
    print(f"buckets: {len(batches):,} batches (padded: {-(-len(x) // 32):,}), {sum(widths):,} sequential "
          f"steps (padded: {-(-len(x) // 32) * x.shape[1]:,}), {computed:,} row-steps for "
          f"{int(lengths.sum()):,} words ({computed / lengths.sum() - 1:.1%} more; padded: "
          f"{x.size / lengths.sum() - 1:.0%} more)\n")
    contenders = [("length buckets", True, True, len(x)), ("padded, no mask", False, False, len(x)),
                  ("padded + mask", False, True, min(len(x), args.masked_reviews))]
    best = {name: float("inf") for name, *_ in contenders}
    for _ in range(args.rounds):
        for name, buckets, mask, n in contenders:
            best[name] = min(best[name], epoch_seconds(args.model, x[:n], y[:n], buckets, mask))
    print(f"| batches | reviews | epoch s (best of {args.rounds}) | reviews/s | buckets' speed over this |\n"
          "|---|---|---|---|---|")
    rate = {name: n / best[name] for name, _, _, n in contenders}
    for name, _, _, n in contenders:
        print(f"| {name} | {n:,} | {best[name]:.1f} | {rate[name]:.0f} | "
              f"{rate['length buckets'] / rate[name]:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
