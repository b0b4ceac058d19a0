"""One short GPU check, prepared on the CPU and run where a CUDA device is lent:
1. parity: every zoo model with the same initial weights on the CPU and on `--device`: outputs on
   real IMDB batches, then `--steps` RMSprop steps, the weights compared (atol 1e-4);
2. speed: one timed epoch of the lecture's stacked LSTM (all 25,000 reviews x 500 words, batch 32,
   through `fit`) on the device, and the same for Keras 3 on JAX when it is installed there.
Prints one table with the device's name.

    TEXTRNN_DATA=... python benchmarks/gpu_check.py [--device cuda] [--steps 3] [--epoch-rows 25000]

With `--device cpu` it runs the same code against itself (a check of the script on any machine).
"""

import argparse
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone

import numpy as np
import torch

from textrnn.app import zoo
from textrnn.backend.device import resolve
from textrnn.data.datasets import prepare

KERAS_EPOCH = """
import os, sys, time, json
os.environ["KERAS_BACKEND"] = "jax"
import numpy as np
from benchmarks.keras_reference import build
from textrnn.data.datasets import prepare
rows = int(sys.argv[1])
data = prepare("imdb", quiet=True)
x, y = data.x_train[:rows], data.y_train[:rows].astype("float32")
model = build("stacked-lstm")
model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["acc"])
model.fit(x[:96], y[:96], batch_size=32, epochs=1, verbose=0)
start = time.perf_counter()
model.fit(x, y, batch_size=32, epochs=1, verbose=0)
print(json.dumps({"s": time.perf_counter() - start}))
"""


def parity(name: str, device: torch.device, x: np.ndarray, y: np.ndarray, steps: int) -> tuple[float, float]:
    """Largest |difference| of the outputs, then of the weights after `steps` training steps. The
    recurrent layers' dropout masks come from the CPU's generator on every device, so each model's
    steps start from the same seed; Dropout layers (the pooled models') draw on the device, so they
    are off for the comparison."""
    models = []
    for where in ("cpu", device):
        torch.manual_seed(0)
        model = zoo.build(name)
        model.build((None, x.shape[1]))
        model.compile("rmsprop", "binary_crossentropy", ["acc"])
        models.append(model.to_device(where))
    cpu, dev = models
    out = float(np.abs(cpu.predict(x, batch_size=32) - dev.predict(x, batch_size=32)).max())
    for model in models:
        torch.manual_seed(1)
        for layer in model.layers:
            if type(layer).__name__ == "Dropout":
                layer.rate = 0.0
        for i in range(steps):
            model.train_on_batch(x[32 * i:32 * (i + 1)], y[32 * i:32 * (i + 1)])
    weights = max(float(np.abs(a - b).max()) for a, b in zip(cpu.get_weights(), dev.get_weights()))
    return out, weights


def epoch_seconds(device: torch.device, x: np.ndarray, y: np.ndarray) -> float:
    model = zoo.build("stacked-lstm")
    model.compile("rmsprop", "binary_crossentropy", ["acc"])
    model.to_device(device)
    model.fit(x[:96], y[:96], batch_size=32, epochs=1, verbose=0)  # warm-up: cuDNN plans, allocations
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def keras_jax_seconds(rows: int) -> float | None:
    try:
        import jax  # noqa: F401
        import keras  # noqa: F401
    except ImportError:
        return None
    out = subprocess.run([sys.executable, "-c", KERAS_EPOCH, str(rows)], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.getcwd()})
    if out.returncode != 0:
        print(f"keras+jax failed: {out.stderr.strip().splitlines()[-1:]}")
        return None
    import json

    return json.loads(out.stdout.strip().splitlines()[-1])["s"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--epoch-rows", type=int, default=25000)
    parser.add_argument("--models", nargs="+", default=list(zoo.ZOO))
    args = parser.parse_args()
    device = resolve(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    data = prepare("imdb", quiet=True)
    x, y = data.x_train, data.y_train.astype(np.float32)
    print(f"date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; device: {device} ({name}); "
          f"torch {torch.__version__}")
    print("| model | max |output diff| | max |weight diff| after steps | parity (1e-4) |")
    print("|---|---|---|---|")
    for model in args.models:
        rows = 32 * max(args.steps, 2)
        out, weights = parity(model, device, x[:rows], y[:rows], args.steps)
        ok = "yes" if out <= 1e-4 and weights <= 1e-4 else "NO"
        print(f"| {model} | {out:.2e} | {weights:.2e} | {ok} |", flush=True)
    rows = min(args.epoch_rows, len(x))
    ours = epoch_seconds(device, x[:rows], y[:rows])
    theirs = keras_jax_seconds(rows)
    print(f"\nstacked-lstm, one epoch of {rows:,} reviews x 500 words, batch 32: textrnn {ours:.1f} s"
          + (f", Keras+JAX {theirs:.1f} s ({theirs / ours:.2f}x)" if theirs else ", Keras+JAX not installed"))


if __name__ == "__main__":
    main()
