"""Plots and small markdown tables for runs and comparisons (matplotlib, no display needed)."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from textrnn.io_utils import atomic_write_bytes  # noqa: E402


def _save(fig, path: Path) -> None:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def learning_curves(history: dict[str, list[float]], out_dir: Path, title: str) -> list[Path]:
    """loss.png and accuracy.png: training vs validation per epoch."""
    paths = []
    for metric, fname in (("loss", "loss.png"), ("acc", "accuracy.png")):
        if metric not in history:
            continue
        epochs = range(1, len(history[metric]) + 1)
        fig, ax = plt.subplots(figsize=(5.5, 3.6))
        ax.plot(epochs, history[metric], "o-", label=f"training {metric}")
        if f"val_{metric}" in history:
            ax.plot(epochs, history[f"val_{metric}"], "s--", label=f"validation {metric}")
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy" if metric == "acc" else "binary cross-entropy")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
        paths.append(out_dir / fname)
        _save(fig, paths[-1])
    return paths


def compare_plot(curves: dict[str, list[float]], path: Path, title: str) -> Path:
    """Validation accuracy per epoch, one line per model."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, values in curves.items():
        ax.plot(range(1, len(values) + 1), values, "o-", label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    _save(fig, path)
    return path


def bar_plot(groups: dict[str, list[float]], path: Path, title: str) -> Path:
    """Mean test accuracy per group with the spread over seeds as error bars and every seed as a dot."""
    import statistics

    fig, ax = plt.subplots(figsize=(5, 3.6))
    names = list(groups)
    means = [100 * statistics.mean(v) for v in groups.values()]
    sds = [100 * statistics.stdev(v) if len(v) > 1 else 0 for v in groups.values()]
    ax.bar(names, means, yerr=sds, capsize=6, color=["#9aa5b1", "#2f6fb0"][:len(names)])
    for i, values in enumerate(groups.values()):
        ax.plot([i] * len(values), [100 * v for v in values], "ko", ms=4)
    low = min(100 * min(v) for v in groups.values())
    ax.set_ylim(max(0, low - 3), min(100, max(means) + 2))
    ax.set_ylabel("test accuracy %")
    ax.set_title(title, fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    _save(fig, path)
    return path


def size_plot(sizes: list[int], curves: dict[str, list[list[float]]], path: Path, title: str) -> Path:
    """Test accuracy against the number of training reviews (log x), mean ± sd over seeds."""
    import statistics

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for name, per_size in curves.items():
        points = [(n, v) for n, v in zip(sizes, per_size) if v]  # sizes without runs yet are left out
        if not points:
            continue
        means = [100 * statistics.mean(v) for _, v in points]
        sds = [100 * statistics.stdev(v) if len(v) > 1 else 0 for _, v in points]
        ax.errorbar([n for n, _ in points], means, yerr=sds, marker="o", capsize=4, label=name)
    ax.set_xscale("log")
    ax.set_xlabel("training reviews n")
    ax.set_ylabel("test accuracy %")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend()
    _save(fig, path)
    return path


def markdown_table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
