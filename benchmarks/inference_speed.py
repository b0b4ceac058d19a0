"""Inference speed of the lecture's models: textrnn's forward-only kernel against the same model on
PyTorch's oneDNN kernels (TEXTRNN_KERNEL=0) and, when installed, Keras 3 on JAX and on
TensorFlow (the last column: against the faster of the two in each round). Each contender runs
in its own process on the first `--reviews` real IMDB test reviews (500 words), `predict` at batch
256 after one warm-up pass; the contenders alternate so drift hits all alike.

    TEXTRNN_DATA=... python benchmarks/inference_speed.py [--models stacked-lstm bi-lstm lstm simple-rnn gru]

Prints reviews per second and each contender's speed as a fraction of textrnn's.
"""

import argparse
import os
import platform
import textwrap
from datetime import datetime, timezone

from contenders import best_of, keras_contenders, ratios_per_round, run_rounds, with_keras_if_installed

WORKER = textwrap.dedent('''
    import json, sys, time
    contender, name, reviews = sys.argv[1], sys.argv[2], int(sys.argv[3])
    from textrnn.data.datasets import prepare
    x = prepare("imdb", quiet=True).x_test[:reviews]
    if contender.startswith("keras-"):
        from benchmarks.keras_reference import build  # run from the repository root
        model = build(name)
    else:
        from textrnn.app import zoo
        model = zoo.build(name)
    model.predict(x[:256], batch_size=256, verbose=0)  # warm-up (compilation, first allocations)
    start = time.perf_counter()
    model.predict(x, batch_size=256, verbose=0)
    print(json.dumps({"per_s": len(x) / (time.perf_counter() - start)}))
''')

CONTENDERS = {
    "textrnn": {},
    "textrnn, PyTorch kernels": {"TEXTRNN_KERNEL": "0"},
    "keras-jax": {"KERAS_BACKEND": "jax"},
    "keras-tf": {"KERAS_BACKEND": "tensorflow"},
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", nargs="+",
                        default=["stacked-lstm", "bi-lstm", "lstm", "simple-rnn", "gru"])
    parser.add_argument("--reviews", type=int, default=2560)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    contenders = with_keras_if_installed(CONTENDERS)
    print(f"date: {datetime.now(timezone.utc):%Y-%m-%d}, machine: {platform.machine()}, "
          f"{os.cpu_count()} cores; predict at batch 256 on {args.reviews} IMDB test reviews x 500 words, "
          f"best of {args.rounds} alternating rounds")
    keras = keras_contenders(contenders)
    print("| model | " + " | ".join(contenders) +
          (" | textrnn / fastest Keras per round |" if keras else " |"))
    print("|---|" + "---|" * (len(contenders) + bool(keras)))
    for name in args.models:
        results = run_rounds(WORKER, name, [str(args.reviews)], contenders, args.rounds, "per_s")
        best = best_of(results, max)
        base = best["textrnn"]
        cells = [f"{v:,.0f} reviews/s ({v / base:.2f}x)" for v in best.values()]
        if keras:
            cells.append(ratios_per_round(results, "textrnn", keras, better=max))
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
