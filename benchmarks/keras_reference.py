"""The lecture's Keras code, run by real Keras 3 on textrnn's IMDB arrays (the same tokenization,
vocabulary, shuffle and validation rows), so that textrnn's accuracies can be compared like for like.
Benchmark-only: needs `pip install -e '.[bench]'` (keras + jax).

    KERAS_BACKEND=jax TEXTRNN_DATA=/path/to/aclImdb_v1.tar.gz \
        python benchmarks/keras_reference.py simple-rnn lstm stacked-lstm bi-lstm --seed 0

Settings as in the lecture: vocabulary 10,000, 500 words, embedding 32, state 32, dropout 0.2,
RMSprop, batch 32, the last 20 % of the training set for validation, early stopping on val_loss
(patience 2, best weights restored), at most 10 epochs.
"""

import argparse
import json
import os
import platform
import time
from datetime import datetime, timezone

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
from keras import layers  # noqa: E402

from textrnn.data.datasets import prepare  # noqa: E402


def build(name: str) -> keras.Sequential:
    emb = [keras.Input((500,)), layers.Embedding(10000, 32)]
    head = [layers.Dense(1, activation="sigmoid")]
    body = {
        "simple-rnn": [layers.SimpleRNN(32)],
        "lstm": [layers.LSTM(32, dropout=0.2)],
        "stacked-lstm": [layers.LSTM(32, return_sequences=True, dropout=0.2),
                         layers.LSTM(32, return_sequences=True, dropout=0.2),
                         layers.LSTM(32, dropout=0.2)],
        "bi-lstm": [layers.Bidirectional(layers.LSTM(32, dropout=0.2))],
        "gru": [layers.GRU(32, dropout=0.2)],
        "bi-gru": [layers.Bidirectional(layers.GRU(32, dropout=0.2))],
    }[name]
    return keras.Sequential(emb + body + head)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("models", nargs="+")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    data = prepare("imdb", num_words=10000, maxlen=500, quiet=True)
    for name in args.models:
        keras.utils.set_random_seed(args.seed)
        model = build(name)
        model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["acc"])
        stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
        start = time.perf_counter()
        hist = model.fit(data.x_train, data.y_train, epochs=args.epochs, batch_size=32,
                         validation_split=0.2, callbacks=[stop], verbose=2)
        train_time = time.perf_counter() - start
        _, test_acc = model.evaluate(data.x_test, data.y_test, batch_size=256, verbose=0)
        best = min(range(len(hist.history["val_loss"])), key=hist.history["val_loss"].__getitem__)
        print(json.dumps({
            "model": name, "backend": keras.backend.backend(), "keras": keras.__version__,
            "seed": args.seed, "epochs_run": len(hist.history["loss"]), "best_epoch": best + 1,
            "val_acc": hist.history["val_acc"][best], "test_acc": float(test_acc),
            "train_time_s": round(train_time, 1),
            "date": f"{datetime.now(timezone.utc):%Y-%m-%d}", "machine": platform.machine(),
        }), flush=True)


if __name__ == "__main__":
    main()
