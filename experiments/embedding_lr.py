"""Probe: does a pretrained embedding fine-tuned at a lower learning rate than the
network (discriminative fine-tuning, ULMFiT) give a better recipe network?

    TEXTRNN_DATA=... python experiments/embedding_lr.py --embedding-lr 0.00025 --out DIR RUN...

RUN: finished recipe runs. For each, its first network's settings (run.json, its own word2vec
vectors, its seed) are trained again with only the embedding's learning rate changed, into
DIR/<run's folder name>; the table pairs the new network's test accuracy with the run's own.
"""

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from textrnn.app.runs import TrainSettings, train_run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--embedding-lr", type=float, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    rows = []
    for run in map(Path, args.runs):
        settings = TrainSettings.from_json(json.loads((run / "run.json").read_text()))
        settings = replace(settings, embedding_lr=args.embedding_lr)
        out = Path(args.out) / run.name
        record = train_run(settings, out, resume=(out / "checkpoint").exists(), verbose=2)
        own = json.loads((run / "metrics.json").read_text())  # best_epoch: the first network's
        own_acc = json.loads((run / "recipe.json").read_text())["networks"][0]["test_accuracy"]
        rows.append((run.name, own_acc, record["test"]["accuracy"],
                     own.get("best_epoch"), record.get("best_epoch"), record.get("train_time_s")))
        print(rows[-1], flush=True)
    print(f"\n| run | network test acc % (embedding lr = lr) | embedding lr {args.embedding_lr:g} "
          "| best epoch | train s |\n|---|---|---|---|---|")
    for name, own_acc, new_acc, own_epoch, new_epoch, secs in rows:
        print(f"| {name} | {100 * own_acc:.2f} | {100 * new_acc:.2f} | {own_epoch} -> {new_epoch} | "
              f"{secs if secs is None else round(secs)} |")
    diffs = [100 * (new - own) for _, own, new, *_ in rows]
    spread = np.std(diffs, ddof=1) if len(diffs) > 1 else 0.0
    print(f"mean change {np.mean(diffs):+.2f} points (sd {spread:.2f})")


if __name__ == "__main__":
    main()
