"""The recipe's ablation on IMDB: the recipe as `textrnn recipe` runs it, and variants that
each change one choice. Every run is a recipe run folder under runs/recipe-ablation/VARIANT/seed-S
(finished ones are reused, interrupted ones resume); the table goes to stdout and
docs/recipe/ablation.md.
Each run reports the network alone and the network blended with the NB linear head.

    TEXTRNN_DATA=/path/to/aclImdb_v1.tar.gz python experiments/recipe_ablation.py [VARIANT[:SEEDS] ...]

e.g. `recipe:3 random-embedding last-state` runs the recipe over 3 seeds and two variants on one.
"""

import json
import shutil
import statistics
import sys
from pathlib import Path

from textrnn.app.recipe import RecipeSettings, run_recipe
from textrnn.io_utils import atomic_write_text

ROOT = Path("runs/recipe-ablation")
SHARED = "shared-embedding.txt"  # in a run folder: its word2vec vectors were copied from another run
# The variants up to word-dropout change one thing against the recipe of 2026-11-28, whose network
# was the Bi-LSTM (bi-lstm-pool); they keep it, so rerunning them repeats their rows. Since bi-gru's
# rows the recipe's default network is the Bi-GRU (bi-gru-pool): "recipe" here stays the Bi-LSTM one.
# All variants predate --embedding-lr (an earlier run) and pin the embedding at the network's rate, so
# rerunning them still repeats their rows.
LSTM = {"model": "bi-lstm-pool", "embedding_lr": None}
VARIANTS = {
    "recipe": (LSTM, "the recipe: word2vec 64-d, Bi-LSTM(64) max-pooled, dropout 0.3, NB head 1-3 grams"),
    "random-embedding": ({**LSTM, "pretrain": "none"}, "no word2vec: the embedding starts random"),
    "dim-128-units-128": ({**LSTM, "dim": 128, "units": 128}, "twice the embedding and the state"),
    "maxlen-800": ({**LSTM, "maxlen": 800}, "reviews up to 800 words (length buckets keep the cost down)"),
    "no-dropout": ({**LSTM, "dropout": 0.0}, "no dropout"),
    "last-state": ({"model": "bi-lstm", "dropout": 0.2},
                   "the lecture's Bi-LSTM: last states, not pooling; padded input, no buckets"),
    "big": ({**LSTM, "dim": 128, "units": 128, "maxlen": 800},
            "128-d embedding, Bi-LSTM(128), reviews up to 800 words"),
    "big-patience-1": ({**LSTM, "dim": 128, "units": 128, "maxlen": 800, "patience": 1}, "big, patience 1"),
    "frozen-embedding": ({**LSTM, "freeze_embedding": True}, "word2vec vectors kept fixed, not fine-tuned"),
    "val-last-rows": ({**LSTM, "val_by_movie": False},
                      "validation on the last rows (sharing movies with training), not on whole movies"),
    "patience-1": ({**LSTM, "patience": 1}, "early stopping after one epoch without val-loss gain"),
    "word-dropout": ({**LSTM, "word_dropout": True}, "the embedding's dropout drops whole words"),
    "bi-gru": ({"model": "bi-gru-pool", "embedding_lr": None},
               "a Bi-GRU instead of the Bi-LSTM (pooled the same way): the recipe since 2026-11-29"),
    "big-gru": ({"model": "bi-gru-pool", "embedding_lr": None, "dim": 128, "units": 128, "maxlen": 800},
                "big with a Bi-GRU(128) instead of the Bi-LSTM(128)"),
}


def fmt_accuracy(values: list[float]) -> str:
    if not values:
        return "—"
    if len(values) == 1:
        return f"{100 * values[0]:.2f}"
    return f"{100 * statistics.mean(values):.2f} ± {100 * statistics.stdev(values):.2f}"


def table() -> str:
    rows = ["| variant | seeds | patience | network test acc % | + NB head test acc % | blend | "
            "best val acc % | epochs | wall s (pretrain + network + head) |",
            "|---|---|---|---|---|---|---|---|---|"]
    for name, (_, what) in VARIANTS.items():
        runs = [p.parent for p in sorted((ROOT / name).glob("seed-*/recipe.json"))]
        records = [json.loads((run / "recipe.json").read_text()) for run in runs]
        if not records:
            continue
        rows.append(
            f"| {name}: {what} | {len(records)} | "
            f"{', '.join(sorted({str(r['settings']['patience']) for r in records}))} | "
            f"{fmt_accuracy([r['network_test_accuracy'] for r in records])} | "
            f"{fmt_accuracy([r['test_accuracy'] for r in records])} | "
            f"{', '.join(format(r['linear_head']['blend'], '.2f') for r in records)} | "
            f"{fmt_accuracy([r['best_val_accuracy'] for r in records])} | "
            f"{', '.join(str(r['epochs_run']) for r in records)} | "
            + ", ".join(_wall(run, r) for run, r in zip(runs, records)) + " |")
    return "\n".join(rows)


# Settings word2vec's vectors depend on (maxlen too: word2vec reads the training rows cut as the
# network sees them). A variant that keeps them all reuses the vectors of a finished run of the same
# seed (copied in before the run), so its row measures its own change on the same start.
EMBEDDING_FIELDS = ("data", "vocab_size", "maxlen", "dim", "w2v_epochs", "pretrain", "seed")


def _share_embedding(settings: RecipeSettings, out: Path) -> None:
    """Copy in the word2vec vectors of a finished run (the recipe's first) with the same seed and the
    same EMBEDDING_FIELDS, if there is one."""
    if settings.pretrain != "word2vec" or (out / "embedding").exists():
        return
    candidates = [ROOT / "recipe" / out.name / "recipe.json", *sorted(ROOT.glob(f"*/{out.name}/recipe.json"))]
    for record in candidates:
        if not record.is_file() or (record.parent / SHARED).is_file():
            continue
        theirs = json.loads(record.read_text())["settings"]
        if all(theirs.get(f) == getattr(settings, f) for f in EMBEDDING_FIELDS):
            out.mkdir(parents=True, exist_ok=True)
            shutil.copytree(record.parent / "embedding", out / "embedding")
            (out / SHARED).write_text(f"{record.parent / 'embedding'}\n", encoding="utf-8")
            return


def _wall(run: Path, record: dict) -> str:
    """Wall seconds: total (pretrain + network + head); a shared word2vec adds the time it took."""
    s = record["seconds"]
    head = s.get("assemble", s.get("linear_head"))  # runs made before --networks name it linear_head
    if (run / SHARED).is_file():
        card = json.loads((run / "embedding" / "card.json").read_text())
        return f"{s['total'] + card['time_s']:.0f} ({card['time_s']:.0f} shared word2vec + " \
               f"{s['network']:.0f} + {head:.0f})"
    return f"{s['total']:.0f} ({s['pretrain']:.0f} + {s['network']:.0f} + {head:.0f})"


def main(args: list[str]) -> None:
    todo = [(a.split(":")[0], int(a.split(":")[1]) if ":" in a else 1) for a in args] or \
        [("recipe", 3)] + [(v, 1) for v in VARIANTS if v != "recipe"]
    for name, seeds in todo:
        overrides = VARIANTS[name][0]
        for seed in range(seeds):
            out = ROOT / name / f"seed-{seed}"
            print(f"== {name} seed {seed} -> {out}", flush=True)
            settings = RecipeSettings(**overrides, seed=seed)
            if name != "recipe":
                _share_embedding(settings, out)  # the same vectors: the row measures its own change
            run_recipe(settings, out, verbose=1)
    text = table()
    print(text)
    atomic_write_text(Path("docs/recipe/ablation.md"), text + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
