"""Probe: do the pretrained embeddings lose to a random one because of their scale?

The pretraining grid's word2vec and LM vectors have a standard deviation of 0.36 and 0.27; Keras's
Embedding starts at uniform(-0.05, 0.05), std 0.029. With RMSprop's fixed step size a large-scale
embedding barely moves when fine-tuned. This rescales both EMB_DIRs of `textrnn experiment
pretraining` to std 0.029 and trains the grid's Bi-LSTM runs at one n, same settings, 3 seeds;
finished runs are reused. Prints a table to set beside docs/PRETRAINING.md's row for that n.

    TEXTRNN_DATA=... python experiments/embedding_scale_probe.py [--n 1000] [--model bi-lstm]
"""

import argparse
import statistics
from pathlib import Path

import numpy as np

from textrnn.app.experiments.runner import run_grid
from textrnn.app.pretrain.vectors import PretrainedEmbedding
from textrnn.app.runs import TrainSettings

GRID = Path("runs/pretraining")
ROOT = Path("runs/scale-probe")
KERAS_STD = 0.1 / np.sqrt(12)  # uniform(-0.05, 0.05)


def rescaled(method: str) -> str:
    out = ROOT / f"emb-{method}"
    if not (out / "card.json").is_file():
        emb = PretrainedEmbedding.load(GRID / f"emb-{method}")
        matrix = emb.matrix.copy()
        first = emb.vocabulary.index_from + 1  # the reserved ids keep their init
        matrix[first:] *= KERAS_STD / matrix[first:].std()
        PretrainedEmbedding(matrix, emb.vocabulary, {**emb.card, "rescaled_to_std": KERAS_STD}).save(out)
    return str(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--model", default="bi-lstm")
    args = parser.parse_args()
    runs = {}
    for method in ("word2vec", "lm"):
        emb = rescaled(method)
        for freeze in (True, False):
            label = f"{method}-{'frozen' if freeze else 'finetuned'}"
            for seed in range(3):
                runs[f"{args.model}/{label}/n{args.n}/seed-{seed}"] = TrainSettings(
                    model=args.model, data="imdb", epochs=20, train_size=args.n, seed=seed,
                    embedding=emb, freeze_embedding=freeze)  # the grid's other settings are the defaults
    results = run_grid(ROOT, runs)
    print(f"\n| {args.model}, n = {args.n}, embedding rescaled to std {KERAS_STD:.3f} | test acc % "
          "(mean ± sd, 3 seeds) | per seed |\n|---|---|---|")
    for label in ("word2vec-frozen", "word2vec-finetuned", "lm-frozen", "lm-finetuned"):
        accs = [100 * m["test"]["accuracy"] for k, m in sorted(results.items()) if f"/{label}/" in k]
        print(f"| {label} | {statistics.mean(accs):.2f} ± {statistics.stdev(accs):.2f} | "
              f"{', '.join(f'{a:.2f}' for a in accs)} |")


if __name__ == "__main__":
    main()
