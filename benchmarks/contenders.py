"""Shared by the speed benchmarks: each contender runs in its own process (the denormal and malloc
settings are per process), the contenders alternate round by round so drift hits all alike; each
keeps its best value, and ratios are also given round by round."""

import importlib.util
import json
import os
import statistics
import subprocess
import sys


def with_keras_if_installed(contenders: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """The contenders, less keras-jax when keras or jax is not installed (the `bench` extra)."""
    have_keras = all(importlib.util.find_spec(m) for m in ("keras", "jax"))
    return {k: v for k, v in contenders.items() if have_keras or k != "keras-jax"}


def run_rounds(worker: str, model: str, worker_args: list[str], contenders: dict[str, dict[str, str]],
               rounds: int, key: str) -> list[dict[str, float]]:
    """Run `python -c worker CONTENDER MODEL *worker_args` per contender and round; the worker
    prints a JSON line holding `key`. Returns one dict per round: contender -> value (nan if it
    failed)."""
    results = []
    for _ in range(rounds):
        values: dict[str, float] = {}
        for contender, env in contenders.items():
            tag = "textrnn" if contender.startswith("textrnn") else contender
            out = subprocess.run([sys.executable, "-c", worker, tag, model, *worker_args],
                                 env={**os.environ, **env}, capture_output=True, text=True)
            if out.returncode != 0:
                values[contender] = float("nan")
                print(out.stderr[-500:], file=sys.stderr)
                continue
            values[contender] = json.loads(out.stdout.strip().splitlines()[-1])[key]
        results.append(values)
    return results


def best_of(results: list[dict[str, float]], better=min) -> dict[str, float]:
    """Each contender's best value over the rounds."""
    return {c: better(r[c] for r in results) for c in results[0]}


def ratios_per_round(results: list[dict[str, float]], other: str, base: str = "textrnn") -> str:
    """`other / base` within each round (the two ran minutes apart at most, so the machine's slow
    phases hit both alike), and their median: steadier than the ratio of two bests."""
    ratios = sorted(r[other] / r[base] for r in results)
    return ", ".join(f"{x:.2f}" for x in ratios) + f" (median {statistics.median(ratios):.2f})"
