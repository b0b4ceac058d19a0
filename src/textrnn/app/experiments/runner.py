"""A grid of training runs, each a run folder under one root: finished runs are reused, interrupted
ones resumed, and a progress line shows runs done and the time left."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

from textrnn.app.runs import TrainSettings, train_run


def run_grid(root: Path, runs: dict[str, TrainSettings], verbose: int = 1,
             train: bool = True) -> dict[str, dict[str, Any]]:
    """Train every named run under root/<name>; return name -> metrics. With train=False only the
    runs already finished are read (a partial report while the grid is still running)."""
    if not train:
        return {name: json.loads((root / name / "metrics.json").read_text()) for name in runs
                if (root / name / "metrics.json").is_file()}
    results: dict[str, dict[str, Any]] = {}
    spent: list[float] = []
    todo = [name for name in runs if not (root / name / "metrics.json").is_file()]
    done_before = len(runs) - len(todo)
    # the time left is estimated per training review, so small runs early do not mislead it
    largest = max((s.train_size or 0 for s in runs.values()), default=0) or 25000
    size = {name: s.train_size or largest for name, s in runs.items()}
    reviews_done = 0
    for name, settings in runs.items():
        run_dir = root / name
        metrics_path = run_dir / "metrics.json"
        if metrics_path.is_file():
            results[name] = json.loads(metrics_path.read_text())
            continue
        if verbose:
            finished = done_before + len(spent)
            remaining = sum(size[n] for n in todo[len(spent):])
            left = (f", about {sum(spent) / reviews_done * remaining / 60:.0f} min left"
                    if spent else "")
            print(f"[{finished}/{len(runs)} runs done{left}] {name}", flush=True)
        start = time.perf_counter()
        resume = (run_dir / "run.json").is_file() and (run_dir / "checkpoint").is_dir()
        results[name] = train_run(settings, run_dir, resume=resume, verbose=0)
        spent.append(time.perf_counter() - start)
        reviews_done += size[name]
    if verbose:
        print(f"[{len(runs)}/{len(runs)} runs done]", flush=True)
    return results


def summary(values: list[float]) -> dict[str, float]:
    return {"mean": statistics.mean(values), "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
            "n": len(values), "values": values}


def compare(a: list[float], b: list[float]) -> tuple[float, float | None]:
    """Difference of means b - a and Welch's t statistic (None with fewer than 2 runs a side)."""
    diff = statistics.mean(b) - statistics.mean(a)
    if len(a) < 2 or len(b) < 2:
        return diff, None
    var = statistics.variance(a) / len(a) + statistics.variance(b) / len(b)
    return diff, (diff / var**0.5 if var > 0 else float("inf") if diff else 0.0)


def verdict(diff: float, t: float | None, better: str, worse: str) -> str:
    """'holds' when `better` beats `worse` beyond the seed-to-seed noise (|t| >= 2), 'does not hold'
    when it loses beyond it, otherwise 'within noise'."""
    if t is None:
        return f"holds on one seed ({better} {100 * diff:+.2f} points)" if diff > 0 else \
            f"does not hold on one seed ({better} {100 * diff:+.2f} points)"
    if diff > 0 and t >= 2:
        return f"holds ({better} {100 * diff:+.2f} points, t = {t:.1f})"
    if diff < 0 and t <= -2:
        return f"does not hold ({worse} is better by {100 * -diff:.2f} points, t = {t:.1f})"
    return f"within noise ({better} {100 * diff:+.2f} points, t = {t:.1f})"
