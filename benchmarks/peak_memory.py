"""Peak memory (max resident set size of the process) while training a zoo model on all of IMDB:
the 25,000 training reviews loaded and encoded, `fit` over the first `--reviews` of them (batch 32,
with the last 20 % as validation), so every buffer of a training step has been allocated.

    TEXTRNN_DATA=... python benchmarks/peak_memory.py [--model stacked-lstm] [--reviews 25000]
"""

import argparse
import platform
import resource
from datetime import datetime, timezone


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="stacked-lstm")
    parser.add_argument("--reviews", type=int, default=25000)
    args = parser.parse_args()
    import torch

    from textrnn.app import zoo
    from textrnn.data.datasets import prepare

    after_import = max_rss_mb()
    data = prepare("imdb", quiet=True)
    after_data = max_rss_mb()
    model = zoo.build(args.model)
    model.compile("rmsprop", "binary_crossentropy", ["acc"])
    model.fit(data.x_train[: args.reviews], data.y_train[: args.reviews], batch_size=32, epochs=1,
              validation_split=0.2, verbose=0)
    print(f"date: {datetime.now(timezone.utc):%Y-%m-%d}, machine: {platform.machine()}, "
          f"torch {torch.__version__}")
    print(f"{args.model}: max RSS after import {after_import:.0f} MB, after loading IMDB "
          f"({len(data.x_train):,} + {len(data.x_test):,} reviews) {after_data:.0f} MB, "
          f"after fit on {args.reviews:,} reviews {max_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
