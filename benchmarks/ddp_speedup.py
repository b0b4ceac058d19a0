"""Speed-up of 2 processes (torchrun, DistributedDataParallel over gloo, 1 thread each) against one
process (2 threads) for the Bi-LSTM on IMDB, same global batch. Training time of 1 epoch on the first
N training reviews, from each run's metrics.json.

    TEXTRNN_DATA=... python benchmarks/ddp_speedup.py [--train-size 6400]
"""

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
from datetime import datetime, timezone


def _port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train-size", type=int, default=6400)
    parser.add_argument("--model", default="bi-lstm")
    args = parser.parse_args()
    common = [args.model, "--data", "imdb", "--train-size", str(args.train_size), "--epochs", "1",
              "--val-split", "0", "--patience", "0", "-q"]
    times = {}
    with tempfile.TemporaryDirectory() as tmp:
        runs = {
            "1 process, 2 threads": ([sys.executable, "-m", "textrnn", "train"], {}),
            "2 processes, 1 thread each": (
                [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr",
                 "127.0.0.1", "--master-port", _port(), "-m", "textrnn", "train"],
                {"OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo"}),
        }
        for i, (name, (cmd, env)) in enumerate(runs.items()):
            out = os.path.join(tmp, str(i))
            subprocess.run([*cmd, *common, "--out", out], env={**os.environ, **env}, check=True,
                           capture_output=True)
            with open(os.path.join(out, "metrics.json")) as f:
                times[name] = json.load(f)["train_time_s"]
    print(f"date: {datetime.now(timezone.utc):%Y-%m-%d}, machine: {platform.machine()}, {os.cpu_count()} "
          f"cores; {args.model}, 1 epoch on {args.train_size} IMDB reviews, global batch 32")
    base = times["1 process, 2 threads"]
    for name, t in times.items():
        print(f"{name}: {t:.1f} s  (speed-up {base / t:.2f}x)")


if __name__ == "__main__":
    main()
