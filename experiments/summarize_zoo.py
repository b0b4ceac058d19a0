"""Summarise the IMDB zoo runs (experiments/imdb_zoo.sh) as a markdown table: per model the mean and
spread over seeds of test and best-validation accuracy, epochs and training time.

    python experiments/summarize_zoo.py runs/imdb-zoo           # or runs/lecture/n25000
"""

import json
import statistics
import sys
from pathlib import Path

ORDER = ["simple-rnn", "lstm", "stacked-lstm", "bi-lstm", "gru", "bi-gru"]
KERAS_JAX = {"simple-rnn": (86.6, 87.0), "lstm": (87.3, 88.2), "bi-lstm": (87.4, 88.8),
             "stacked-lstm": (88.1, 88.6)}  # the goal's reference: (test, val) accuracy, one seed


def _fmt(values: list[float]) -> str:
    if len(values) == 1:
        return f"{100 * values[0]:.2f}"
    return f"{100 * statistics.mean(values):.2f} ± {100 * statistics.stdev(values):.2f}"


def main(root: str) -> None:
    runs: dict[str, list[dict]] = {}
    # layouts: imdb_zoo.sh's seed-S/MODEL/ and `textrnn experiment lecture`'s nN/MODEL/seed-S/
    for path in sorted(Path(root).glob("**/metrics.json")):
        run = path.parent
        name = run.parent.name if run.name.startswith("seed-") else run.name
        runs.setdefault(name, []).append(json.loads(path.read_text()))
    print("| model | seeds | test acc % (mean ± sd) | per seed | best val acc % | epochs run | "
          "train time per run | Keras+JAX reference test / val % |")
    print("|---|---|---|---|---|---|---|---|")
    for name in [n for n in ORDER if n in runs] + sorted(set(runs) - set(ORDER)):
        ms = runs[name]
        test = [m["test"]["accuracy"] for m in ms]
        val = [m["best_val_accuracy"] for m in ms]
        ref = KERAS_JAX.get(name)
        print(f"| {name} | {len(ms)} | {_fmt(test)} | {', '.join(f'{100 * t:.2f}' for t in test)} | "
              f"{_fmt(val)} | {', '.join(str(m['epochs_run']) for m in ms)} | "
              f"{statistics.mean(m['train_time_s'] for m in ms):.0f} s | "
              f"{f'{ref[0]} / {ref[1]}' if ref else '-'} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "runs/imdb-zoo")
