"""Learning curves of finished recipe runs: every network's training and validation loss
and validation accuracy per epoch, from each run's history.json (the first network in RUN, the
others in RUN/networks/K), drawn into one PNG and printed as a markdown table.

    python experiments/recipe_curves.py --png docs/recipe/curves-embedding-lr.png runs/recipe-elr/seed-{0,1,2}
"""

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def networks(run: Path) -> list[tuple[str, dict]]:
    """(label, history) of each network of a recipe run, the first one first."""
    dirs = [run] + sorted((run / "networks").glob("*"), key=lambda d: int(d.name))
    out = []
    for k, d in enumerate(dirs):
        seed = json.loads((d / "run.json").read_text())["seed"]
        out.append((f"{run.name} net {k} (seed {seed})", json.loads((d / "history.json").read_text())))
    return out


def main(runs: list[str], png: str | None) -> None:
    per_run = [networks(Path(run)) for run in runs]
    curves = [c for run in per_run for c in run]
    most = max(len(h["loss"]) for _, h in curves)
    print("| network | " + " | ".join(f"epoch {e}: loss / val loss / val acc %" for e in range(1, most + 1))
          + " |")
    print("|---|" + "---|" * most)
    for label, h in curves:
        cells = [f"{h['loss'][e]:.3f} / {h['val_loss'][e]:.3f} / {100 * h['val_acc'][e]:.2f}"
                 for e in range(len(h["loss"]))]
        print(f"| {label} | " + " | ".join(cells) + " |")
    if png:
        fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
        for r, run in enumerate(per_run):  # one colour per run, one marker per network
            for k, (label, h) in enumerate(run):
                epochs = range(1, len(h["loss"]) + 1)
                style = dict(color=f"C{r % 10}", marker="osD^v<>"[k % 7])
                ax_loss.plot(epochs, h["loss"], ":", alpha=0.6, **style)
                ax_loss.plot(epochs, h["val_loss"], "-", label=label, **style)
                ax_acc.plot(epochs, [100 * v for v in h["val_acc"]], "-", label=label, **style)
        ax_loss.set(xlabel="epoch", ylabel="binary cross-entropy",
                    title="training (dotted) and validation (solid) loss")
        ax_acc.set(xlabel="epoch", ylabel="validation accuracy %", title="validation accuracy")
        for ax in (ax_loss, ax_acc):
            ax.grid(alpha=0.3)
            ax.xaxis.get_major_locator().set_params(integer=True)
        ax_acc.legend(fontsize=7)
        fig.savefig(png, dpi=110, bbox_inches="tight")
        print(f"-> {png}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", nargs="+", help="finished recipe run folders")
    parser.add_argument("--png", help="write the curves here")
    args = parser.parse_args()
    main(args.runs, args.png)
