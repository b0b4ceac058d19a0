"""Shared by the speed benchmarks: each contender runs in its own process (the denormal and malloc
settings are per process), the contenders alternate round by round so drift hits all alike; each
keeps its best value, and ratios are also given round by round."""

import importlib.util
import json
import os
import statistics
import subprocess
import sys

KERAS_BACKENDS = {"keras-jax": "jax", "keras-tf": "tensorflow"}  # contender -> the module it needs


def with_keras_if_installed(contenders: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """The contenders, less each Keras backend that is not installed (the `bench` extra has them)."""
    def installed(name: str) -> bool:
        needs = KERAS_BACKENDS.get(name)
        return needs is None or all(importlib.util.find_spec(m) for m in ("keras", needs))
    return {k: v for k, v in contenders.items() if installed(k)}


def keras_contenders(contenders) -> list[str]:
    return [c for c in contenders if c in KERAS_BACKENDS]


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


def ratios_per_round(results: list[dict[str, float]], top: str | list[str], bottom: str | list[str],
                     better=min) -> str:
    """`top / bottom` within each round (they ran minutes apart at most, so the machine's slow
    phases hit both alike), and their median: steadier than the ratio of two bests. A list stands
    for the best of its contenders in that round (`better`: min for times, max for speeds), e.g.
    the fastest Keras backend."""
    def pick(r: dict[str, float], names: str | list[str]) -> float:
        return r[names] if isinstance(names, str) else better(r[n] for n in names)
    ratios = sorted(pick(r, top) / pick(r, bottom) for r in results)
    return ", ".join(f"{x:.2f}" for x in ratios) + f" (median {statistics.median(ratios):.2f})"
