"""One table of finished recipe runs: test accuracy, the networks averaged and each alone
(with its best epoch), the NB head, the blend weight and the wall time, then mean +- sd.

    python experiments/recipe_runs.py RUN...

A run made on copied word2vec vectors (experiments/recipe_on_shared_vectors.sh) has
shared-embedding.txt; the time its vectors took (each card.json's time_s) is added to its wall time.
"""

import json
import sys
from pathlib import Path

from recipe_ablation import fmt_accuracy  # experiments/ is on sys.path when this script runs


def _pretrain_seconds(run: Path, dirs: list[Path], record: dict) -> float:
    if (run / "shared-embedding.txt").is_file():
        cards = [d / "embedding" / "card.json" for d in dirs if (d / "embedding").is_dir()]
        return sum(json.loads(card.read_text())["time_s"] for card in cards)
    return record["seconds"]["pretrain"]


def _best_epoch(network_dir: Path) -> int:
    val_loss = json.loads((network_dir / "history.json").read_text())["val_loss"]
    return val_loss.index(min(val_loss)) + 1


def main(runs: list[str]) -> None:
    print("| run | test acc % (recipe) | networks averaged | each network (best epoch) | NB head alone "
          "| blend | wall s: word2vec + networks + assemble = total |\n|---|---|---|---|---|---|---|")
    accs, averaged, singles = [], [], []
    for run in map(Path, runs):
        r = json.loads((run / "recipe.json").read_text())
        dirs = [run] + sorted((run / "networks").glob("*"), key=lambda d: int(d.name))
        nets = [n["test_accuracy"] for n in r.get("networks", [])] or [r["network_test_accuracy"]]
        pretrain, s = _pretrain_seconds(run, dirs, r), r["seconds"]
        accs.append(r["test_accuracy"])
        averaged.append(r["network_test_accuracy"])
        singles += nets
        each = ", ".join(f"{100 * a:.2f} ({_best_epoch(d)})" for a, d in zip(nets, dirs))
        print(f"| {run} | {100 * r['test_accuracy']:.2f} | {100 * r['network_test_accuracy']:.2f} | {each} "
              f"| {100 * r['linear_head']['linear_test_accuracy']:.2f} | {r['linear_head']['blend']:.2f} "
              f"| {pretrain:,.0f} + {s['network']:,.0f} + {s['assemble']:,.0f} = "
              f"{pretrain + s['network'] + s['assemble']:,.0f} |")

    print(f"| **mean ± sd** | **{fmt_accuracy(accs)}** | {fmt_accuracy(averaged)} | "
          f"{fmt_accuracy(singles)} ({len(singles)} networks) | | | |")


if __name__ == "__main__":
    main(sys.argv[1:])
