"""One short GPU check, prepared on the CPU and run where a CUDA device is lent:
1. parity: every zoo model with the same initial weights on the CPU and on `--device`: outputs on
   real IMDB batches, then `--steps` RMSprop steps, the weights compared (atol 1e-4; TF32 off);
2. precision and speed: one epoch of the lecture's stacked LSTM (all 25,000 reviews x 500 words,
   batch 32, through `fit`) under float32, mixed_bfloat16 and mixed_float16, each timed and then
   scored on the 25,000 test reviews; the same float32 epoch for Keras 3 on JAX where it is installed.
Prints one table with the device's name.

    TEXTRNN_DATA=... python benchmarks/gpu_check.py [--device cuda] [--steps 3] [--epoch-rows 25000]

With `--device cpu` it runs the same code against itself (a check of the script on any machine).

The device machine has PyTorch and JAX but neither the IMDB archive nor Keras, and what travels
there is limited (64 MiB). So, here first:

    echo /.gpu/ >> .git/info/exclude
    python benchmarks/gpu_check.py --save-arrays .gpu/imdb.npz    # the prepared arrays, 15 MB
    pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 \
        -d .gpu/wheels keras==3.15.1 namex optree                 # for Keras+JAX and the oracle tests

then there, carrying `.gpu`: `bash benchmarks/gpu_run.sh` (the CUDA tests, then this check).
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

POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")

KERAS_EPOCH = """
import os, sys, time, json
os.environ["KERAS_BACKEND"] = "jax"
import numpy as np
from benchmarks.keras_reference import build
arrays = np.load(sys.argv[1])
x, y = arrays["x_train"].astype("int32"), arrays["y_train"].astype("float32")
model = build("stacked-lstm")
model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["acc"])
model.fit(x[:96], y[:96], batch_size=32, epochs=1, verbose=0)
start = time.perf_counter()
model.fit(x, y, batch_size=32, epochs=1, verbose=0)
seconds = time.perf_counter() - start
acc = model.evaluate(arrays["x_test"].astype("int32"), arrays["y_test"].astype("float32"), verbose=0)[1]
print(json.dumps({"s": seconds, "acc": acc}))
"""


def load_arrays(path: str | None, rows: int) -> dict[str, np.ndarray]:
    """x_train, y_train, x_test, y_test: from a file saved by --save-arrays, else prepared from
    TEXTRNN_DATA's archive (textrnn's IMDB pipeline: 10,000 words, 500 per review)."""
    if path:
        with np.load(path) as saved:
            arrays = {k: saved[k].astype(np.int64 if k.startswith("x") else np.float32) for k in saved}
    else:
        from textrnn.data.datasets import prepare

        data = prepare("imdb", quiet=True)
        arrays = {"x_train": data.x_train, "y_train": data.y_train.astype(np.float32),
                  "x_test": data.x_test, "y_test": data.y_test.astype(np.float32)}
    return {k: v[:rows] if k.endswith("train") else v for k, v in arrays.items()}


def parity(name: str, device: torch.device, x: np.ndarray, y: np.ndarray, steps: int) -> tuple[float, float]:
    """Largest |difference| of the outputs, then of the weights after `steps` training steps. The
    recurrent layers' dropout masks come from the CPU's generator on every device, so each model's
    steps start from the same seed; Dropout layers (the pooled models') draw on the device, so they
    are off for the comparison."""
    models = []
    # float32 products for the comparison: cuDNN's default TF32 keeps 10 bits of mantissa
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
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


def epoch(device: torch.device, policy: str, arrays: dict[str, np.ndarray]) -> tuple[float, float]:
    """(seconds of one training epoch, test accuracy after it) of the stacked LSTM under `policy`,
    with PyTorch's default TF32 setting (cuDNN's on, as Keras on JAX and TensorFlow use it)."""
    torch.backends.cudnn.allow_tf32 = True
    torch.manual_seed(0)
    model = zoo.build("stacked-lstm")
    model.compile("rmsprop", "binary_crossentropy", ["acc"])
    model.dtype_policy = policy
    model.to_device(device)
    x, y = arrays["x_train"], arrays["y_train"]
    model.fit(x[:96], y[:96], batch_size=32, epochs=1, verbose=0)  # warm-up: cuDNN plans, allocations
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return seconds, model.evaluate(arrays["x_test"], arrays["y_test"], batch_size=256, verbose=0)[1]


def keras_jax(arrays_file: str) -> tuple[float, float] | str:
    try:
        import jax  # noqa: F401
        import keras  # noqa: F401
    except ImportError as exc:
        return f"not installed ({exc.name})"
    out = subprocess.run([sys.executable, "-c", KERAS_EPOCH, arrays_file], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join([os.getcwd(), *sys.path])})
    if out.returncode != 0:
        return f"failed: {(out.stderr.strip().splitlines() or ['?'])[-1]}"
    import json

    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["s"], result["acc"]


def save_arrays(path: str) -> None:
    arrays = load_arrays(None, 25000)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    np.savez_compressed(path, **{k: v.astype(np.uint16 if k.startswith("x") else np.uint8)
                                 for k, v in arrays.items()})
    print(f"{path}: {os.path.getsize(path) / 1e6:.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--epoch-rows", type=int, default=25000)
    parser.add_argument("--models", nargs="+", default=list(zoo.ZOO))
    parser.add_argument("--policies", nargs="+", default=list(POLICIES), choices=POLICIES)
    parser.add_argument("--arrays", help="the .npz of --save-arrays, instead of TEXTRNN_DATA's archive")
    parser.add_argument("--save-arrays", metavar="FILE", help="write the prepared IMDB arrays and stop")
    args = parser.parse_args()
    if args.save_arrays:
        save_arrays(args.save_arrays)
        return
    device = resolve(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    arrays = load_arrays(args.arrays, args.epoch_rows)
    x, y = arrays["x_train"], arrays["y_train"]
    print(f"date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; device: {device} ({name}); "
          f"torch {torch.__version__}; cuDNN {torch.backends.cudnn.version()}")
    print("| model | max |output diff| | max |weight diff| after steps | parity (1e-4) |")
    print("|---|---|---|---|")
    for model in args.models:
        rows = 32 * max(args.steps, 2)
        out, weights = parity(model, device, x[:rows], y[:rows], args.steps)
        ok = "yes" if out <= 1e-4 and weights <= 1e-4 else "NO"
        print(f"| {model} | {out:.2e} | {weights:.2e} | {ok} |", flush=True)

    print(f"\nstacked-lstm, one epoch of {len(x):,} reviews x {x.shape[1]} words, batch 32, then "
          f"{len(arrays['x_test']):,} test reviews")
    print("| run | epoch (s) | test accuracy |")
    print("|---|---|---|")
    for policy in args.policies:
        try:
            seconds, acc = epoch(device, policy, arrays)
            print(f"| textrnn {policy} | {seconds:.1f} | {acc:.4f} |", flush=True)
        except Exception as exc:  # one failing policy still leaves the others' rows
            print(f"| textrnn {policy} | failed: {type(exc).__name__}: {str(exc)[:200]} | |", flush=True)
    arrays_file = args.arrays
    if arrays_file is None:
        arrays_file = "/tmp/gpu_check_arrays.npz"
        np.savez(arrays_file, **arrays)
    theirs = keras_jax(arrays_file)
    if isinstance(theirs, str):
        print(f"| Keras 3 + JAX float32 | {theirs} | |")
    else:
        print(f"| Keras 3 + JAX float32 | {theirs[0]:.1f} | {theirs[1]:.4f} |")


if __name__ == "__main__":
    main()
