"""The ONNX export of a saved model against the model itself, on IMDB's test reviews: largest
difference of the probabilities, test accuracy of each, file size and reviews/s (onnxruntime on
all cores against textrnn's predict, each timed on the first --timed-rows reviews after a warm-up,
alternating).

    TEXTRNN_DATA=... python benchmarks/onnx_export.py RUN_DIR [--rows N] [--rounds 3] [--timed-rows N]

For a `textrnn recipe --networks N` run the graph holds every network and the NB head.
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from textrnn.app.pretrain.vectors import PretrainedEmbedding
from textrnn.app.runs import load_settings, prepare_data
from textrnn.interop.onnx_export import export_onnx
from textrnn.models import load_model


def _rate(predict, x: np.ndarray, batch: int) -> float:
    predict(x[:batch])  # warm-up
    start = time.perf_counter()
    for first in range(0, len(x), batch):
        predict(x[first:first + batch])
    return len(x) / (time.perf_counter() - start)


def main(run_dir: str, rows: int, rounds: int, batch: int, timed_rows: int) -> None:
    settings = load_settings(Path(run_dir))
    model = load_model(Path(run_dir) / "model")
    pretrained = PretrainedEmbedding.load(settings.embedding) if settings.embedding else None
    data = prepare_data(settings, pretrained, quiet=True)  # the test reviews in the run's own ids
    x, y = data.x_test[:rows].astype(np.int64), data.y_test[:rows]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        start = time.perf_counter()
        export_onnx(model, path)
        print(f"export {time.perf_counter() - start:.1f} s, {path.stat().st_size / 2**20:.0f} MB "
              f"({len(model.members) + 1} networks, NB head: {model.linear_head is not None})")
        options = ort.SessionOptions()  # idle onnxruntime threads would spin and slow textrnn's turns
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(str(path), options)
        onnx = lambda ids: session.run(None, {"ids": ids})[0]  # noqa: E731
        got = np.concatenate([onnx(x[i:i + batch]) for i in range(0, len(x), batch)]).ravel()
        want = model.predict(x, batch_size=batch).ravel()
        print(f"{len(x):,} test reviews: largest difference {np.abs(got - want).max():.2e}; test accuracy "
              f"onnxruntime {np.mean((got > .5) == y):.5f}, textrnn {np.mean((want > .5) == y):.5f}; "
              f"decisions that differ: {int(np.sum((got > .5) != (want > .5)))}")
        timed = x[:timed_rows]
        for r in range(rounds):
            a = _rate(onnx, timed, batch)
            b = _rate(lambda ids: model.predict(ids, batch_size=batch), timed, batch)
            print(f"round {r + 1}: batch {batch}: onnxruntime {a:,.0f} reviews/s, textrnn {b:,.0f} reviews/s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir")
    parser.add_argument("--rows", type=int, default=25_000, help="test reviews to compare on")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--timed-rows", type=int, default=5_000, help="test reviews per timed round")
    args = parser.parse_args()
    main(args.run_dir, args.rows, args.rounds, args.batch, args.timed_rows)
