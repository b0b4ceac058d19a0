"""The recipe's ablation on IMDB (issue 10): the recipe as `textrnn recipe` runs it, and variants that
each change one choice. Every run is a recipe run folder under runs/recipe-ablation/VARIANT/seed-S
(finished ones are reused, interrupted ones resume); the table goes to stdout and
docs/recipe/ablation.md.
Each run reports the network alone and the network blended with the NB linear head.

    TEXTRNN_DATA=/path/to/aclImdb_v1.tar.gz python experiments/recipe_ablation.py [VARIANT[:SEEDS] ...]

e.g. `recipe:3 random-embedding last-state` runs the recipe over 3 seeds and two variants on one.
"""

import json
import statistics
import sys
from pathlib import Path

from textrnn.io_utils import atomic_write_text
from textrnn.recipe import RecipeSettings, run_recipe

ROOT = Path("runs/recipe-ablation")
VARIANTS = {
    "recipe": ({}, "the recipe: word2vec 64-d, Bi-LSTM(64) max-pooled, dropout 0.3, NB head 1-3 grams"),
    "random-embedding": ({"pretrain": "none"}, "no word2vec: the embedding starts random"),
    "dim-128-units-128": ({"dim": 128, "units": 128}, "twice the embedding and the state"),
    "maxlen-800": ({"maxlen": 800}, "reviews up to 800 words (length buckets keep the cost down)"),
    "no-dropout": ({"dropout": 0.0}, "no dropout"),
    "last-state": ({"model": "bi-lstm", "dropout": 0.2},
                   "the lecture's Bi-LSTM: last states, not pooling; padded input, no buckets"),
    "big": ({"dim": 128, "units": 128, "maxlen": 800},
            "128-d embedding, Bi-LSTM(128), reviews up to 800 words"),
    "frozen-embedding": ({"freeze_embedding": True}, "word2vec vectors kept fixed, not fine-tuned"),
    "val-last-rows": ({"val_by_movie": False},
                      "validation on the last rows (sharing movies with training), not on whole movies"),
}


def _fmt(values: list[float]) -> str:
    if not values:
        return "—"
    if len(values) == 1:
        return f"{100 * values[0]:.2f}"
    return f"{100 * statistics.mean(values):.2f} ± {100 * statistics.stdev(values):.2f}"


def table() -> str:
    rows = ["| variant | seeds | network test acc % | + NB head test acc % | blend | best val acc % | "
            "epochs | wall s (pretrain + network + head) |", "|---|---|---|---|---|---|---|---|"]
    for name, (_, what) in VARIANTS.items():
        records = [json.loads(p.read_text()) for p in sorted((ROOT / name).glob("seed-*/recipe.json"))]
        if not records:
            continue
        secs = [r["seconds"] for r in records]
        rows.append(
            f"| {name}: {what} | {len(records)} | {_fmt([r['network_test_accuracy'] for r in records])} | "
            f"{_fmt([r['test_accuracy'] for r in records])} | "
            f"{', '.join(format(r['linear_head']['blend'], '.2f') for r in records)} | "
            f"{_fmt([r['best_val_accuracy'] for r in records])} | "
            f"{', '.join(str(r['epochs_run']) for r in records)} | "
            + ", ".join(f"{s['total']:.0f} ({s['pretrain']:.0f} + {s['network']:.0f} + "
                        f"{s['linear_head']:.0f})" for s in secs) + " |")
    return "\n".join(rows)


def main(args: list[str]) -> None:
    todo = [(a.split(":")[0], int(a.split(":")[1]) if ":" in a else 1) for a in args] or \
        [("recipe", 3)] + [(v, 1) for v in VARIANTS if v != "recipe"]
    for name, seeds in todo:
        overrides = VARIANTS[name][0]
        for seed in range(seeds):
            out = ROOT / name / f"seed-{seed}"
            print(f"== {name} seed {seed} -> {out}", flush=True)
            run_recipe(RecipeSettings(**overrides, seed=seed), out, verbose=1)
    text = table()
    print(text)
    atomic_write_text(Path("docs/recipe/ablation.md"), text + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
