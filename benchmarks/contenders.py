"""Shared by the speed benchmarks: each contender runs in its own process (the denormal and malloc
settings are per process), the contenders alternate round by round so drift hits all alike, and
each keeps its best value."""

import importlib.util
import json
import os
import subprocess
import sys


def with_keras_if_installed(contenders: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """The contenders, less keras-jax when keras or jax is not installed (the `bench` extra)."""
    have_keras = all(importlib.util.find_spec(m) for m in ("keras", "jax"))
    return {k: v for k, v in contenders.items() if have_keras or k != "keras-jax"}


def best_of_rounds(worker: str, model: str, worker_args: list[str], contenders: dict[str, dict[str, str]],
                   rounds: int, key: str, better=min) -> dict[str, float]:
    """Run `python -c worker CONTENDER MODEL *worker_args` per contender and round; the worker
    prints a JSON line holding `key`. Returns contender -> best value (nan if it failed)."""
    best: dict[str, float] = {}
    for _ in range(rounds):
        for contender, env in contenders.items():
            tag = "textrnn" if contender.startswith("textrnn") else contender
            out = subprocess.run([sys.executable, "-c", worker, tag, model, *worker_args],
                                 env={**os.environ, **env}, capture_output=True, text=True)
            if out.returncode != 0:
                best[contender] = float("nan")
                print(out.stderr[-500:], file=sys.stderr)
                continue
            value = json.loads(out.stdout.strip().splitlines()[-1])[key]
            best[contender] = better(best.get(contender, value), value)
    return best
