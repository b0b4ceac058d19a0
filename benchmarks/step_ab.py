"""Whole training steps of one zoo model, this tree against another (e.g. `git worktree add /tmp/old
HEAD~1`), in alternating processes: each round runs one `fit` epoch of `--steps` real IMDB batches
(batch 32 x 500 words, RMSprop, after a warm-up) with this tree's src, then with the other's (order
flipped every round), each with its own kernel cache. This machine swings by 1.5x within minutes,
so a change is judged by the two sorted columns: better at every rank, not by one pair of times.

    TEXTRNN_DATA=... python benchmarks/step_ab.py --against /tmp/old [--model gru] [--rounds 6]
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

WORKER = """
import json, sys, time
try:
    from textrnn.app import zoo
except ImportError:  # a tree from before the layered packages
    from textrnn import zoo
from textrnn.data.datasets import prepare
name, steps = sys.argv[1], int(sys.argv[2])
data = prepare("imdb", quiet=True)
x, y = data.x_train[: 32 * (steps + 3)], data.y_train[: 32 * (steps + 3)].astype("float32")
model = zoo.build(name)
model.compile("rmsprop", "binary_crossentropy", ["acc"])
model.fit(x[:96], y[:96], batch_size=32, epochs=1, verbose=0)  # warm-up
start = time.perf_counter()
model.fit(x[96:], y[96:], batch_size=32, epochs=1, verbose=0)
print(json.dumps({"ms": 1000 * (time.perf_counter() - start) / steps}))
"""


def one_step_time(tree: Path, model: str, steps: int) -> float:
    cache = Path(tempfile.gettempdir()) / f"textrnn-step-ab-{abs(hash(str(tree.resolve())))}"
    env = {**os.environ, "PYTHONPATH": str(tree / "src"), "TEXTRNN_KERNEL_CACHE": str(cache)}
    out = subprocess.run([sys.executable, "-c", WORKER, model, str(steps)], env=env, capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["ms"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--against", required=True, help="the other tree's root (it has src/textrnn)")
    parser.add_argument("--model", default="gru")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    trees = {"this tree": Path(__file__).resolve().parents[1], "--against": Path(args.against)}
    times: dict[str, list[float]] = {name: [] for name in trees}
    for r in range(args.rounds):
        for name in (list(trees) if r % 2 == 0 else list(trees)[::-1]):
            times[name].append(one_step_time(trees[name], args.model, args.steps))
    print(f"date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, machine: {platform.machine()}, "
          f"{os.cpu_count()} cores; {args.model}, ms per training step (batch 32 x 500 words), "
          f"{args.rounds} alternating rounds, sorted")
    for name, values in times.items():
        print(f"{name}: " + " ".join(f"{v:.2f}" for v in sorted(values)))


if __name__ == "__main__":
    main()
